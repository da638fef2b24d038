//! # store: where accepted data, the raw packet log and the point registry live
//!
//! The [`Store`] trait is the narrow seam between the gateway and storage: the gateway hands over
//! a batch of [`Ingest`]s (each received frame with the observations it carries) and gets back,
//! once the batch is durably committed, what became of each frame. Only then does it acknowledge
//! the data to the device. A PostgreSQL engine is to implement the same trait and pass the same
//! tests (a later issue).
//!
//! [`SqliteStore`] is the embedded engine: one SQLite file in WAL mode with
//! `synchronous=FULL`, so a commit is on disk when [`Store::commit`] returns. Batches are
//! committed in one transaction each (group commit): many frames share one fsync.
//!
//! Idempotence is decided per observation, keyed by (point, series, code, DataTime): a re-sent
//! frame (same MN and QN, or same MN, CN and DataTime) finds its values already stored and stores
//! nothing; a different value for an already stored time replaces it, and the replaced row is
//! kept in `observation_history` with the time of the replacement. The QN is deliberately not a
//! key: devices reuse QNs (HJ 212 research, pitfall P10), and a QN-only check would drop data.
//!
//! Layout: recent observations are rows of `observations` (a `WITHOUT ROWID` table keyed by
//! point, series, time and code, fields as JSON text), which makes ingest and the idempotence
//! check one indexed lookup each. The key puts time before code so that the factors of one
//! packet are neighbours: a commit dirties about one page per logger instead of one per factor
//! (measured: twice the ingest rate, since the WAL writes every dirty page). [`Store::maintain`] moves every row whose chunk window (one
//! Beijing day for real-time and minute data, 32 days for hourly, 366 for daily data) ended
//! more than [`COMPACTION_LAG_S`] ago into `chunks`: one row per (point, series, code, window)
//! holding a column-wise, delta-encoded blob ([`chunk`]), 1–2 bytes per value for realistic
//! minute data. A key lives in exactly one of the two places: data arriving for a window that
//! is already compressed (a logger re-sending last week) is merged into its chunk, with the
//! same duplicate and history rules. Reads merge both places.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use domain::{
    DataType, DeviceState, Disposition, Observation, POINTS_REGISTRY, PacketRecord, Point,
};
use rusqlite::{Connection, OptionalExtension, params};

pub mod alarms;
pub mod cases;
pub mod chunk;
pub mod obd;
pub mod obd_chunk;
pub mod registry;
pub mod users;
pub mod writer;

pub use alarms::{AlarmQuery, AlarmReads, AlarmStore};
pub use domain::{Alarm, AlarmEvent, AlarmState, Effect, Handling, SeriesKey, Window};

pub use cases::{Attachment, CaseQuery, CaseStore};
pub use registry::{Change, Entry, EntryChange, RegistryStore};
pub use users::{AuditEntry, AuditQuery, Token, User, UserStore};
pub use writer::{Handoff, LocalCommits, Writer};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be read back.
    #[error("corrupt stored value in {table}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A lock was poisoned by a panic elsewhere.
    #[error("store lock poisoned")]
    Poisoned,
    /// A point is invalid.
    #[error("invalid point: {0}")]
    InvalidPoint(String),
    /// A change expected another version of what it changes.
    #[error("conflict: {0}")]
    Conflict(String),
    /// What a change names does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}

/// One received frame for the store: its raw-log record and the observations it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingest {
    /// The raw-log record. Its disposition is `Stored` for data to store, `NoData`, or
    /// `Quarantined`; the store turns `Stored` into `Duplicate` when nothing was new.
    pub record: PacketRecord,
    /// The observations to store (empty unless the disposition is `Stored`).
    pub observations: Vec<Observation>,
}

/// What the store did with one [`Ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestResult {
    /// Row id of the raw-log record.
    pub packet_id: i64,
    /// The final disposition.
    pub disposition: Disposition,
    /// Observations newly stored.
    pub inserted: usize,
    /// Observations that replaced a different earlier value (kept as history).
    pub replaced: usize,
}

/// A series query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesQuery {
    /// The point.
    pub point_id: String,
    /// The series.
    pub data_type: DataType,
    /// One code, or all.
    pub code: Option<String>,
    /// From this Unix second (inclusive).
    pub from: i64,
    /// To this Unix second (inclusive).
    pub to: i64,
    /// At most this many rows.
    pub limit: usize,
}

/// A raw-log query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PacketQuery {
    /// Only this MN.
    pub mn: Option<String>,
    /// From this Unix millisecond (inclusive).
    pub from_ms: Option<i64>,
    /// To this Unix millisecond (inclusive).
    pub to_ms: Option<i64>,
    /// Only quarantined frames, and stored frames with fields left out.
    pub quarantined_only: bool,
    /// At most this many rows (newest first).
    pub limit: usize,
}

/// What [`Store::maintain`] does: how long each kind of data is kept (`None` keeps it forever)
/// and when a closed window is compressed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Housekeeping {
    /// A closed window is compressed only when nothing was written to it for this many seconds,
    /// so a logger re-sending a backlog of old data fills the cheap row table, not a chunk
    /// rewritten on every batch.
    pub settle_s: u32,
    /// The raw packet log (every frame, including quarantine), days.
    pub packets_days: Option<u32>,
    /// Real-time data (2011), days.
    pub rtd_days: Option<u32>,
    /// Minute data (2051), days.
    pub min_days: Option<u32>,
    /// Hourly data (2061), days.
    pub hour_days: Option<u32>,
    /// Daily data (2031), days.
    pub day_days: Option<u32>,
}

impl Housekeeping {
    /// The retention of one series.
    pub fn of(&self, data_type: DataType) -> Option<u32> {
        match data_type {
            DataType::Rtd => self.rtd_days,
            DataType::Min => self.min_days,
            DataType::Hour => self.hour_days,
            DataType::Day => self.day_days,
        }
    }
}

/// What one maintenance pass did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Maintenance {
    /// Raw-log frames removed by retention.
    pub packets_pruned: usize,
    /// Observations removed by retention.
    pub observations_pruned: usize,
    /// Observations moved into compressed chunks.
    pub observations_compacted: usize,
}

/// How many observations of one code a point delivered on one day (Beijing time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCount {
    /// The factor code.
    pub code: String,
    /// Unix second of the day's start (00:00 Beijing time).
    pub day_start: i64,
    /// Distinct DataTimes stored that day.
    pub count: u64,
}

/// Size of the stored data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Bytes the engine occupies on disk (pages in use, every table and index).
    pub bytes_on_disk: u64,
    /// Bytes of the series (row table, chunks and their indexes).
    pub series_bytes: u64,
    /// Bytes of the raw packet log and its indexes.
    pub packet_log_bytes: u64,
    /// Observations stored.
    pub observations: u64,
    /// Values stored (fields of all observations).
    pub values: u64,
}

/// How far the stored data reach, read in one go: what a consumer of the commit stream (the
/// alarm engine) needs to know which hours it has seen complete.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewestData {
    /// Per point with data in the row table: its newest DataTime there (Unix s), any series.
    pub rows: BTreeMap<String, i64>,
    /// The end (Unix s) of the newest compressed window of any point and series, or `None`
    /// when nothing is compressed: any DataTime before it may be in a chunk.
    pub chunks_until: Option<i64>,
}

impl NewestData {
    /// True when nothing at or after `from` (Unix s) was stored for `point_id` when this was
    /// read: every observation of that point from `from` on was committed afterwards.
    pub fn nothing_from(&self, point_id: &str, from: i64) -> bool {
        self.chunks_until.is_none_or(|c| from >= c)
            && self.rows.get(point_id).is_none_or(|&t| t < from)
    }
}

/// Storage for the gateway and the API. See the [crate docs](crate).
pub trait Store: Send + Sync + 'static {
    /// Commits a batch in one durable transaction and says what became of each frame.
    fn commit(&self, batch: &[Ingest]) -> Result<Vec<IngestResult>, StoreError>;
    /// Creates or replaces a point (by id) in the points registry (`domain::POINTS_REGISTRY`),
    /// as `actor` at `at_ms`. MNs are unique. A point given without a password keeps the
    /// stored one.
    fn put_point(&self, point: &Point, actor: &str, at_ms: i64) -> Result<(), StoreError> {
        self.put_points(std::slice::from_ref(point), actor, at_ms)
    }
    /// Creates or replaces points in one transaction: all or none.
    fn put_points(&self, points: &[Point], actor: &str, at_ms: i64) -> Result<(), StoreError>;
    /// Creates a point; [`StoreError::Conflict`] if its id is taken (checked in the same
    /// transaction as the write, so two creations of one id cannot both succeed).
    fn create_point(&self, point: &Point, actor: &str, at_ms: i64) -> Result<(), StoreError>;
    /// Deletes a point's registry entry (its data stay); false if there was none.
    fn delete_point(&self, id: &str, actor: &str, at_ms: i64) -> Result<bool, StoreError>;
    /// Every point, by id: the points registry's current entries.
    fn points(&self) -> Result<Vec<Point>, StoreError>;
    /// One point.
    fn point(&self, id: &str) -> Result<Option<Point>, StoreError>;
    /// A series, oldest first.
    fn series(&self, q: &SeriesQuery) -> Result<Vec<Observation>, StoreError>;
    /// The newest observation of each (series, code) of a point.
    fn latest(&self, point_id: &str) -> Result<Vec<Observation>, StoreError>;
    /// The raw packet log, newest first, with row ids.
    fn packets(&self, q: &PacketQuery) -> Result<Vec<(i64, PacketRecord)>, StoreError>;
    /// Saves devices' connection state (by MN, replacing what was saved).
    fn save_devices(&self, devices: &[DeviceState]) -> Result<(), StoreError>;
    /// The saved state of these MNs' devices, brought forward to the newest frame of each in the
    /// raw log (a crash may have come after the last save); all offline. MNs with neither are
    /// left out.
    fn devices(&self, mns: &[String]) -> Result<Vec<DeviceState>, StoreError>;
    /// Earlier values replaced by later ones for a point (newest replacement first).
    fn history(&self, point_id: &str, limit: usize) -> Result<Vec<(i64, Observation)>, StoreError>;
    /// How far the stored data reach (per point in the row table; all chunks together).
    fn newest_data(&self) -> Result<NewestData, StoreError>;
    /// Distinct DataTimes per code and Beijing day of one series in `[from, to)` (Unix seconds).
    fn daily_counts(
        &self,
        point_id: &str,
        data_type: DataType,
        from: i64,
        to: i64,
    ) -> Result<Vec<DailyCount>, StoreError>;
    /// Applies retention (relative to `now_ms`) and any engine housekeeping.
    fn maintain(&self, now_ms: i64, policy: &Housekeeping) -> Result<Maintenance, StoreError>;
    /// Size of what is stored.
    fn stats(&self) -> Result<StoreStats, StoreError>;
}

/// The embedded SQLite engine. See the [crate docs](crate).
pub struct SqliteStore {
    writer: Mutex<Connection>,
    /// Writes that are not ingest (alarms, audit, cases, registries, users, devices): their own
    /// connection, so they never hold the ingest writer's.
    side: Mutex<Connection>,
    /// Whose turn it is to write, taken before either connection writes. SQLite would order
    /// the two by itself, but a writer waiting on SQLite's lock polls with sleeps of up to
    /// 100 ms (an audit row or a case event would wait that long behind continuous ingest); a
    /// mutex hands the turn over as soon as it is free.
    write_turn: Mutex<()>,
    reader: Mutex<Connection>,
    checkpointer: Option<Checkpointer>,
    /// Per series, the latest chunk window start ever written: data for later windows cannot
    /// have a chunk, so the commit skips looking for one (the common case: live data).
    newest_chunk: [std::sync::atomic::AtomicI64; 4],
}

/// Copies the write-ahead log into the database from its own thread and connection, so a
/// commit never waits for a checkpoint (SQLite's automatic checkpoint runs inside the commit
/// that crosses the threshold: measured at 30% of the writer's time under load).
pub(crate) struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// WAL frames (pages) beyond which the checkpointer restarts the log. Passive checkpoints never
/// let the log restart under continuous ingest (new frames always follow the last copied one),
/// so the WAL file grew without end: 330 MB in 35 s at 100k values/s, every write extending the
/// file (the kernel zeroing new pages was 12% of the server's time). A restart waits for the
/// writer's current commit and the readers of the log, then the next commit writes from the
/// start of the file again. 16,384 frames is 64 MB of 4 KB pages.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// How long a WAL restart may wait for the writer and the readers before it gives up.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

impl Checkpointer {
    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }

    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = open(path)?;
        // A restart holds new commits back while it waits for the log's readers: never long
        // (a long read, such as an export, makes it give up until the next tick).
        conn.busy_timeout(RESTART_WAIT)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    // PASSIVE: copies what it can without blocking the writer or readers.
                    let log = conn
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
                        .unwrap_or(0);
                    if log > WAL_RESTART_FRAMES {
                        let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt {
                table: "-",
                detail: format!("starting the checkpoint thread: {e}"),
            })?;
        Ok(Self { stop, thread })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(c) = self.checkpointer.take() {
            let _ = c.stop.send(());
            let _ = c.thread.join();
        }
        if let Ok(conn) = self.writer.lock() {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS packets (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    peer TEXT NOT NULL,
    mn TEXT,
    cn TEXT,
    qn TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    crc_given TEXT,
    crc_computed TEXT,
    crc_variant TEXT,
    deviations TEXT NOT NULL,
    raw BLOB NOT NULL,
    quarantined_fields TEXT
);
CREATE INDEX IF NOT EXISTS packets_by_mn_time ON packets (mn, received_ms);
CREATE TABLE IF NOT EXISTS devices (
    mn TEXT PRIMARY KEY,
    peer TEXT NOT NULL,
    last_packet_ms INTEGER NOT NULL,
    packets INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS packets_by_time ON packets (received_ms);
CREATE TABLE IF NOT EXISTS observations (
    point_id TEXT NOT NULL,
    data_type INTEGER NOT NULL,
    code TEXT NOT NULL,
    ts INTEGER NOT NULL,
    fields TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    PRIMARY KEY (point_id, data_type, ts, code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS observation_history (
    replaced_at_ms INTEGER NOT NULL,
    point_id TEXT NOT NULL,
    data_type INTEGER NOT NULL,
    code TEXT NOT NULL,
    ts INTEGER NOT NULL,
    fields TEXT NOT NULL,
    packet_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_point ON observation_history (point_id, replaced_at_ms);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    point_id TEXT NOT NULL,
    data_type INTEGER NOT NULL,
    code TEXT NOT NULL,
    start INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    n_values INTEGER NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (point_id, data_type, code, start)
);
"#;

pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Pages are read through a memory map and kept in a 64 MB cache: without them the writer
    // spends most of its time in read() system calls on index pages (measured with perf).
    conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn data_type_of(code: i64) -> Result<DataType, StoreError> {
    DataType::ALL
        .into_iter()
        .find(|t| t.code() == code)
        .ok_or_else(|| StoreError::Corrupt {
            table: "observations",
            detail: format!("data type {code}"),
        })
}

/// A point from its registry entry's stored JSON.
fn point_of(id: &str, body: &str) -> Result<Point, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        table: "registry_entries",
        detail: format!("{POINTS_REGISTRY}/{id} is not a point: {e}"),
    })
}

pub(crate) fn json_err(table: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        table,
        detail: e.to_string(),
    }
}

fn status_name(d: &Disposition) -> &'static str {
    match d {
        Disposition::Stored => "stored",
        Disposition::Duplicate => "duplicate",
        Disposition::NoData => "no_data",
        Disposition::Quarantined { .. } => "quarantined",
    }
}

/// Brings a table of a data directory made by an earlier version up to the current schema
/// (`CREATE TABLE IF NOT EXISTS` leaves an existing table as it was).
fn add_missing_column(
    conn: &Connection,
    table: &str,
    column: &str,
    decl: &str,
) -> Result<(), StoreError> {
    let present: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        params![table, column],
        |r| r.get(0),
    )?;
    if !present {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
    }
    Ok(())
}

impl SqliteStore {
    /// Puts points into the points registry in one transaction, each expecting `expect`
    /// (`Some(0)`: must not exist yet).
    fn write_points(
        &self,
        points: &[Point],
        expect: Option<i64>,
        actor: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let mut changes = Vec::with_capacity(points.len());
        for point in points {
            if point.id.trim().is_empty() || point.mn.trim().is_empty() {
                return Err(StoreError::InvalidPoint(
                    "id and mn must not be empty".into(),
                ));
            }
            changes.push((
                at_ms,
                registry::Change::Put {
                    id: point.id.clone(),
                    data: point.to_record(),
                    expect_version: expect,
                },
            ));
        }
        let dated: Vec<(i64, &registry::Change)> = changes.iter().map(|(t, c)| (*t, c)).collect();
        self.apply_in_one(POINTS_REGISTRY, &dated, actor)?;
        Ok(())
    }

    /// Opens (creating if needed) the store file `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = open(path)?;
        // The writer's transactions take the write lock when they begin (waiting for it like
        // any lock). A deferred one that has read first cannot wait for it later: when the
        // checkpointer's WAL restart held the lock meanwhile, its upgrade failed at once with
        // "database is locked" (seen in the demo).
        writer.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        writer.execute_batch(SCHEMA)?;
        add_missing_column(&writer, "packets", "quarantined_fields", "TEXT")?;
        writer.execute_batch(registry::SCHEMA)?;
        registry::points_from_their_own_table(&mut writer)?;
        writer.execute_batch(alarms::SCHEMA)?;
        writer.execute_batch(users::SCHEMA)?;
        writer.execute_batch(cases::SCHEMA)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let mut side = open(path)?;
        side.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let reader = open(path)?;
        let newest_chunk = [0i64, 1, 2, 3].map(|t| {
            std::sync::atomic::AtomicI64::new(
                reader
                    .query_row(
                        "SELECT MAX(start) FROM chunks WHERE data_type = ?1",
                        [t],
                        |r| r.get::<_, Option<i64>>(0),
                    )
                    .ok()
                    .flatten()
                    .unwrap_or(i64::MIN),
            )
        });
        Ok(Self {
            writer: Mutex::new(writer),
            side: Mutex::new(side),
            write_turn: Mutex::new(()),
            reader: Mutex::new(reader),
            checkpointer: Some(Checkpointer::start(path)?),
            newest_chunk,
        })
    }

    pub(crate) fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _turn = self.write_turn.lock().map_err(|_| StoreError::Poisoned)?;
        let mut conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut conn)
    }

    pub(crate) fn with_side_writer<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _turn = self.write_turn.lock().map_err(|_| StoreError::Poisoned)?;
        let mut conn = self.side.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut conn)
    }

    pub(crate) fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        f(&conn)
    }
}

fn row_observation(
    point_id: String,
    data_type: i64,
    code: String,
    ts: i64,
    fields: String,
) -> Result<Observation, StoreError> {
    Ok(Observation {
        point_id,
        data_type: data_type_of(data_type)?,
        code,
        time: ts,
        fields: serde_json::from_str::<BTreeMap<String, String>>(&fields)
            .map_err(json_err("observations"))?,
    })
}

/// Length of a chunk's window for each series (seconds), aligned on Beijing midnight.
///
/// A chunk holds one (point, series, code) for one window. Real-time and minute data get a
/// day (2,880 and 1,440 rows at the usual intervals); hourly data a 32-day window (768 rows);
/// daily data a 366-day window. Housekeeping removes whole chunks.
pub fn chunk_span(data_type: DataType) -> i64 {
    match data_type {
        DataType::Rtd | DataType::Min => 86_400,
        DataType::Hour => 32 * 86_400,
        DataType::Day => 366 * 86_400,
    }
}

/// Start (Unix seconds) of the chunk window holding `ts`.
pub fn chunk_start(data_type: DataType, ts: i64) -> i64 {
    let span = chunk_span(data_type);
    (ts + BEIJING_OFFSET).div_euclid(span) * span - BEIJING_OFFSET
}

/// Chunk windows start at Beijing midnight.
const BEIJING_OFFSET: i64 = bjtime::OFFSET_S;

/// Rows stay uncompressed in `observations` until their chunk window ended this long ago, so
/// ordinary late reports land in the cheap row table.
pub const COMPACTION_LAG_S: i64 = 2 * 3600;

/// About how many hot rows are moved into chunks per transaction (keeps the writer lock short).
const COMPACTION_BATCH: usize = 20_000;

/// Points whose old data are removed per retention transaction (keeps the writer lock short).
const RETENTION_POINTS_PER_TX: usize = 32;

/// The tables whose keys (or an index) start with the point id.
#[derive(Clone, Copy)]
enum LeadingIds {
    Observations,
    Chunks,
    History,
}

/// The distinct point ids of a table, found by seeking from each to the next through the index
/// that starts with them (a skip scan: one lookup per point, whatever its number of rows).
fn leading_ids(conn: &Connection, table: LeadingIds) -> Result<Vec<String>, StoreError> {
    let (first, next) = match table {
        LeadingIds::Observations => (
            "SELECT MIN(point_id) FROM observations",
            "SELECT MIN(point_id) FROM observations WHERE point_id > ?1",
        ),
        LeadingIds::Chunks => (
            "SELECT MIN(point_id) FROM chunks",
            "SELECT MIN(point_id) FROM chunks WHERE point_id > ?1",
        ),
        LeadingIds::History => (
            "SELECT MIN(point_id) FROM observation_history",
            "SELECT MIN(point_id) FROM observation_history WHERE point_id > ?1",
        ),
    };
    let mut ids = Vec::new();
    let mut at: Option<String> = conn.prepare_cached(first)?.query_row([], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(next)?;
    while let Some(id) = at {
        at = stmt.query_row([&id], |r| r.get(0))?;
        ids.push(id);
    }
    Ok(ids)
}

type ChunkKey = (String, i64, String, i64);

struct OpenChunk {
    rows: Vec<chunk::Row>,
    dirty: bool,
}

fn chunk_err(e: chunk::ChunkError) -> StoreError {
    StoreError::Corrupt {
        table: "chunks",
        detail: e.to_string(),
    }
}

fn load_chunk(
    tx: &rusqlite::Transaction<'_>,
    key: &ChunkKey,
) -> Result<Option<OpenChunk>, StoreError> {
    let blob: Option<Vec<u8>> = tx
        .prepare_cached(
            "SELECT body FROM chunks WHERE point_id = ?1 AND data_type = ?2 AND code = ?3 AND start = ?4",
        )?
        .query_row(params![key.0, key.1, key.2, key.3], |r| r.get(0))
        .optional()?;
    blob.map(|b| {
        Ok(OpenChunk {
            rows: chunk::decode(&b).map_err(chunk_err)?,
            dirty: false,
        })
    })
    .transpose()
}

fn save_chunk(
    tx: &rusqlite::Transaction<'_>,
    key: &ChunkKey,
    rows: &[chunk::Row],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        tx.prepare_cached(
            "DELETE FROM chunks WHERE point_id = ?1 AND data_type = ?2 AND code = ?3 AND start = ?4",
        )?
        .execute(params![key.0, key.1, key.2, key.3])?;
        return Ok(());
    }
    let body = chunk::encode(rows);
    let values: usize = rows.iter().map(|r| r.fields.len()).sum();
    let last = rows.last().map_or(key.3, |r| r.ts);
    tx.prepare_cached(
        "INSERT INTO chunks (point_id, data_type, code, start, last_ts, rows, n_values, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (point_id, data_type, code, start) DO UPDATE SET
           last_ts = excluded.last_ts, rows = excluded.rows, n_values = excluded.n_values,
           body = excluded.body",
    )?
    .execute(params![
        key.0,
        key.1,
        key.2,
        key.3,
        last,
        rows.len() as i64,
        values as i64,
        body
    ])?;
    Ok(())
}

/// What storing one observation did.
enum Outcome {
    Inserted,
    Replaced,
    Same,
}

fn record_history(
    tx: &rusqlite::Transaction<'_>,
    replaced_at: i64,
    o: &Observation,
    old_fields: &str,
    old_packet: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO observation_history
         (replaced_at_ms, point_id, data_type, code, ts, fields, packet_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        replaced_at,
        o.point_id,
        o.data_type.code(),
        o.code,
        o.time,
        old_fields,
        old_packet
    ])?;
    Ok(())
}

/// Stores one observation in the row table (its chunk does not exist yet).
fn store_hot(
    tx: &rusqlite::Transaction<'_>,
    o: &Observation,
    packet_id: i64,
    replaced_at: i64,
) -> Result<Outcome, StoreError> {
    let fields = serde_json::to_string(&o.fields).map_err(json_err("observations"))?;
    let existing: Option<(String, i64)> = tx
        .prepare_cached(
            "SELECT fields, packet_id FROM observations
             WHERE point_id = ?1 AND data_type = ?2 AND code = ?3 AND ts = ?4",
        )?
        .query_row(
            params![o.point_id, o.data_type.code(), o.code, o.time],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let outcome = match &existing {
        None => Outcome::Inserted,
        Some((old, _)) if *old == fields => return Ok(Outcome::Same),
        Some((old, old_packet)) => {
            record_history(tx, replaced_at, o, old, *old_packet)?;
            Outcome::Replaced
        }
    };
    tx.prepare_cached(
        "INSERT INTO observations (point_id, data_type, code, ts, fields, packet_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (point_id, data_type, ts, code)
         DO UPDATE SET fields = excluded.fields, packet_id = excluded.packet_id",
    )?
    .execute(params![
        o.point_id,
        o.data_type.code(),
        o.code,
        o.time,
        fields,
        packet_id
    ])?;
    Ok(outcome)
}

/// Stores one observation into an already compressed chunk (late data).
fn store_in_chunk(
    tx: &rusqlite::Transaction<'_>,
    open: &mut OpenChunk,
    o: &Observation,
    packet_id: i64,
    replaced_at: i64,
) -> Result<Outcome, StoreError> {
    match open.rows.binary_search_by_key(&o.time, |r| r.ts) {
        Ok(i) if open.rows[i].fields == o.fields => Ok(Outcome::Same),
        Ok(i) => {
            let old = serde_json::to_string(&open.rows[i].fields).map_err(json_err("chunks"))?;
            record_history(tx, replaced_at, o, &old, open.rows[i].packet_id)?;
            open.rows[i].fields = o.fields.clone();
            open.rows[i].packet_id = packet_id;
            open.dirty = true;
            Ok(Outcome::Replaced)
        }
        Err(i) => {
            open.rows.insert(
                i,
                chunk::Row {
                    ts: o.time,
                    packet_id,
                    fields: o.fields.clone(),
                },
            );
            open.dirty = true;
            Ok(Outcome::Inserted)
        }
    }
}

fn chunk_key(o: &Observation) -> ChunkKey {
    (
        o.point_id.clone(),
        o.data_type.code(),
        o.code.clone(),
        chunk_start(o.data_type, o.time),
    )
}

fn observation_of(point_id: &str, data_type: DataType, code: &str, row: chunk::Row) -> Observation {
    Observation {
        point_id: point_id.to_owned(),
        data_type,
        code: code.to_owned(),
        time: row.ts,
        fields: row.fields,
    }
}

impl SqliteStore {
    /// Moves rows of chunk windows that ended more than [`COMPACTION_LAG_S`] before `now_ms`,
    /// and received nothing in the last `settle_ms`, into compressed chunks, in bounded
    /// transactions. Returns the rows moved.
    pub fn compact(&self, now_ms: i64, settle_ms: i64) -> Result<usize, StoreError> {
        let now_s = now_ms.div_euclid(1000);
        let mut moved = 0;
        let point_ids = self.with_reader(|conn| leading_ids(conn, LeadingIds::Observations))?;
        for data_type in DataType::ALL {
            // Every row before the start of the window holding (now - lag) is in a closed window.
            let cutoff = chunk_start(data_type, now_s - COMPACTION_LAG_S);
            let settled_before = now_ms - settle_ms;
            let windows = self.settled_windows(&point_ids, data_type, cutoff, settled_before)?;
            let mut group = Vec::new();
            let mut rows = 0;
            for w in windows {
                rows += w.1;
                group.push(w.0);
                if rows >= COMPACTION_BATCH {
                    moved += self.compact_windows(data_type, &std::mem::take(&mut group))?;
                    rows = 0;
                }
            }
            moved += self.compact_windows(data_type, &group)?;
        }
        Ok(moved)
    }

    /// Closed windows with rows in the row table whose newest write is older than
    /// `settled_before` (Unix ms), with their row counts. One query per point, each reading only
    /// that point's rows before `cutoff` through the key (a single query over the table would
    /// read every row, today's included, while holding the reader).
    fn settled_windows(
        &self,
        point_ids: &[String],
        data_type: DataType,
        cutoff: i64,
        settled_before: i64,
    ) -> Result<Vec<(ChunkKey, usize)>, StoreError> {
        let span = chunk_span(data_type);
        let mut out = Vec::new();
        for point_id in point_ids {
            self.with_reader(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT o.code, o.w, o.n, p.received_ms FROM
                       (SELECT code, (ts + ?3) / ?4 AS w, COUNT(*) AS n,
                               MAX(packet_id) AS newest
                        FROM observations
                        WHERE point_id = ?5 AND data_type = ?1 AND ts < ?2 AND ts >= -?3
                        GROUP BY code, w) o
                     LEFT JOIN packets p ON p.id = o.newest",
                )?;
                let mut rows = stmt.query(params![
                    data_type.code(),
                    cutoff,
                    BEIJING_OFFSET,
                    span,
                    point_id
                ])?;
                while let Some(r) = rows.next()? {
                    let (code, w, n): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                    let received: Option<i64> = r.get(3)?;
                    // A newest packet pruned from the raw log is old: settled.
                    if received.is_none_or(|t| t < settled_before) {
                        let key = (
                            point_id.clone(),
                            data_type.code(),
                            code,
                            w * span - BEIJING_OFFSET,
                        );
                        out.push((key, n as usize));
                    }
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    fn compact_windows(
        &self,
        data_type: DataType,
        windows: &[ChunkKey],
    ) -> Result<usize, StoreError> {
        if windows.is_empty() {
            return Ok(0);
        }
        let span = chunk_span(data_type);
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let mut moved = 0;
            for key in windows {
                let mut rows = Vec::new();
                {
                    let mut stmt = tx.prepare_cached(
                        "SELECT ts, fields, packet_id FROM observations
                         WHERE point_id = ?1 AND data_type = ?2 AND code = ?3 AND ts >= ?4 AND ts < ?5
                         ORDER BY ts",
                    )?;
                    let mut q = stmt.query(params![key.0, key.1, key.2, key.3, key.3 + span])?;
                    while let Some(r) = q.next()? {
                        let fields: String = r.get(1)?;
                        rows.push(chunk::Row {
                            ts: r.get(0)?,
                            packet_id: r.get(2)?,
                            fields: serde_json::from_str(&fields).map_err(json_err("observations"))?,
                        });
                    }
                }
                if rows.is_empty() {
                    continue;
                }
                moved += rows.len();
                let merged = match load_chunk(&tx, key)? {
                    None => rows,
                    Some(open) => {
                        // Hot rows are newer than anything in the chunk for the same time.
                        let mut by_ts: BTreeMap<i64, chunk::Row> =
                            open.rows.into_iter().map(|r| (r.ts, r)).collect();
                        by_ts.extend(rows.into_iter().map(|r| (r.ts, r)));
                        by_ts.into_values().collect()
                    }
                };
                save_chunk(&tx, key, &merged)?;
                self.chunk_written(key);
                tx.prepare_cached(
                    "DELETE FROM observations
                     WHERE point_id = ?1 AND data_type = ?2 AND code = ?3 AND ts >= ?4 AND ts < ?5",
                )?
                .execute(params![key.0, key.1, key.2, key.3, key.3 + span])?;
            }
            tx.commit()?;
            Ok(moved)
        })
    }

    fn chunk_written(&self, key: &ChunkKey) {
        if let Some(newest) = self.newest_chunk.get(key.1 as usize) {
            newest.fetch_max(key.3, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn may_have_chunk(&self, key: &ChunkKey) -> bool {
        self.newest_chunk
            .get(key.1 as usize)
            .is_none_or(|n| key.3 <= n.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn chunk_rows(
        conn: &Connection,
        point_id: &str,
        data_type: DataType,
        code: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<Observation>, StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT code, body FROM chunks
             WHERE point_id = ?1 AND data_type = ?2 AND (?3 IS NULL OR code = ?3)
               AND start <= ?5 AND start > ?4 - ?6",
        )?;
        let mut rows = stmt.query(params![
            point_id,
            data_type.code(),
            code,
            from,
            to,
            chunk_span(data_type)
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let code: String = r.get(0)?;
            let body: Vec<u8> = r.get(1)?;
            for row in chunk::decode(&body).map_err(chunk_err)? {
                if (from..=to).contains(&row.ts) {
                    out.push(observation_of(point_id, data_type, &code, row));
                }
            }
        }
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn commit(&self, batch: &[Ingest]) -> Result<Vec<IngestResult>, StoreError> {
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let mut results = Vec::with_capacity(batch.len());
            let mut open_chunks: BTreeMap<ChunkKey, OpenChunk> = BTreeMap::new();
            for ingest in batch {
                // A replacement happens when the frame that carries it was received.
                let replaced_at = ingest.record.received_ms;
                let mut record = ingest.record.clone();
                let reason = match &record.disposition {
                    Disposition::Quarantined { reason } => Some(reason.as_str()),
                    _ => None,
                };
                tx.prepare_cached(
                    "INSERT INTO packets (received_ms, peer, mn, cn, qn, status, reason, crc_given,
                                          crc_computed, crc_variant, deviations, raw,
                                          quarantined_fields)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?
                .execute(params![
                    record.received_ms,
                    record.peer,
                    record.mn,
                    record.cn,
                    record.qn,
                    status_name(&record.disposition),
                    reason,
                    record.crc_given,
                    record.crc_computed,
                    record.crc_variant,
                    record.deviations.join(","),
                    record.raw,
                    (!record.quarantined_fields.is_empty())
                        .then(|| record.quarantined_fields.join(",")),
                ])?;
                let packet_id = tx.last_insert_rowid();
                let (mut inserted, mut replaced) = (0, 0);
                if record.disposition == Disposition::Stored {
                    for o in &ingest.observations {
                        let key = chunk_key(o);
                        if !open_chunks.contains_key(&key)
                            && self.may_have_chunk(&key)
                            && let Some(open) = load_chunk(&tx, &key)?
                        {
                            open_chunks.insert(key.clone(), open);
                        }
                        let outcome = match open_chunks.get_mut(&key) {
                            Some(open) => store_in_chunk(&tx, open, o, packet_id, replaced_at)?,
                            None => store_hot(&tx, o, packet_id, replaced_at)?,
                        };
                        match outcome {
                            Outcome::Inserted => inserted += 1,
                            Outcome::Replaced => replaced += 1,
                            Outcome::Same => {}
                        }
                    }
                    if inserted + replaced == 0 {
                        record.disposition = Disposition::Duplicate;
                        tx.prepare_cached("UPDATE packets SET status = ?2 WHERE id = ?1")?
                            .execute(params![packet_id, status_name(&record.disposition)])?;
                    }
                }
                results.push(IngestResult {
                    packet_id,
                    disposition: record.disposition,
                    inserted,
                    replaced,
                });
            }
            for (key, open) in &open_chunks {
                if open.dirty {
                    save_chunk(&tx, key, &open.rows)?;
                }
            }
            tx.commit()?;
            Ok(results)
        })
    }

    fn put_points(&self, points: &[Point], actor: &str, at_ms: i64) -> Result<(), StoreError> {
        self.write_points(points, None, actor, at_ms)
    }

    fn create_point(&self, point: &Point, actor: &str, at_ms: i64) -> Result<(), StoreError> {
        self.write_points(std::slice::from_ref(point), Some(0), actor, at_ms)
    }

    fn delete_point(&self, id: &str, actor: &str, at_ms: i64) -> Result<bool, StoreError> {
        let change = registry::Change::Delete {
            id: id.to_owned(),
            expect_version: None,
        };
        match self.apply_in_one(POINTS_REGISTRY, &[(at_ms, &change)], actor) {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn points(&self) -> Result<Vec<Point>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, body FROM registry_entries WHERE registry = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([POINTS_REGISTRY], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, body) = row?;
                out.push(point_of(&id, &body)?);
            }
            Ok(out)
        })
    }

    fn point(&self, id: &str) -> Result<Option<Point>, StoreError> {
        self.with_reader(|conn| {
            let body: Option<String> = conn
                .prepare_cached(
                    "SELECT body FROM registry_entries WHERE registry = ?1 AND id = ?2",
                )?
                .query_row(params![POINTS_REGISTRY, id], |r| r.get(0))
                .optional()?;
            body.map(|b| point_of(id, &b)).transpose()
        })
    }

    fn series(&self, q: &SeriesQuery) -> Result<Vec<Observation>, StoreError> {
        self.with_reader(|conn| {
            let mut out = Self::chunk_rows(
                conn,
                &q.point_id,
                q.data_type,
                q.code.as_deref(),
                q.from,
                q.to,
            )?;
            let mut stmt = conn.prepare_cached(
                "SELECT point_id, data_type, code, ts, fields FROM observations
                 WHERE point_id = ?1 AND data_type = ?2 AND (?3 IS NULL OR code = ?3)
                   AND ts BETWEEN ?4 AND ?5
                 ORDER BY ts, code LIMIT ?6",
            )?;
            let rows = stmt.query_map(
                params![
                    q.point_id,
                    q.data_type.code(),
                    q.code,
                    q.from,
                    q.to,
                    q.limit as i64
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
            for row in rows {
                let (p, t, c, ts, f) = row?;
                out.push(row_observation(p, t, c, ts, f)?);
            }
            out.sort_by(|a, b| (a.time, &a.code).cmp(&(b.time, &b.code)));
            out.truncate(q.limit);
            Ok(out)
        })
    }

    fn latest(&self, point_id: &str) -> Result<Vec<Observation>, StoreError> {
        self.with_reader(|conn| {
            let mut newest: BTreeMap<(i64, String), Observation> = BTreeMap::new();
            let mut stmt = conn.prepare_cached(
                "SELECT data_type, code, MAX(last_ts) FROM chunks WHERE point_id = ?1
                 GROUP BY data_type, code",
            )?;
            let tops: Vec<(i64, String, i64)> = stmt
                .query_map([point_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            for (t, code, last) in tops {
                let data_type = data_type_of(t)?;
                let rows = Self::chunk_rows(conn, point_id, data_type, Some(&code), last, last)?;
                if let Some(o) = rows.into_iter().next() {
                    newest.insert((t, code), o);
                }
            }
            let mut stmt = conn.prepare_cached(
                "SELECT o.point_id, o.data_type, o.code, o.ts, o.fields FROM observations o
                 JOIN (SELECT data_type, code, MAX(ts) AS ts FROM observations WHERE point_id = ?1
                       GROUP BY data_type, code) m
                   ON o.data_type = m.data_type AND o.code = m.code AND o.ts = m.ts
                 WHERE o.point_id = ?1",
            )?;
            let rows = stmt.query_map([point_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            for row in rows {
                let (p, t, c, ts, f): (String, i64, String, i64, String) = row?;
                let key = (t, c.clone());
                if newest.get(&key).is_none_or(|o| o.time < ts) {
                    newest.insert(key, row_observation(p, t, c, ts, f)?);
                }
            }
            Ok(newest.into_values().collect())
        })
    }

    fn save_devices(&self, devices: &[DeviceState]) -> Result<(), StoreError> {
        if devices.is_empty() {
            return Ok(());
        }
        self.with_side_writer(|conn| {
            let tx = conn.transaction()?;
            for d in devices {
                tx.prepare_cached(
                    "INSERT INTO devices (mn, peer, last_packet_ms, packets) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (mn) DO UPDATE SET peer = ?2, last_packet_ms = ?3, packets = ?4",
                )?
                .execute(params![d.mn, d.peer, d.last_packet_ms, d.packets as i64])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn devices(&self, mns: &[String]) -> Result<Vec<DeviceState>, StoreError> {
        self.with_reader(|conn| {
            let mut out = Vec::new();
            for mn in mns {
                let saved: Option<(String, i64, i64)> = conn
                    .prepare_cached(
                        "SELECT peer, last_packet_ms, packets FROM devices WHERE mn = ?1",
                    )?
                    .query_row([mn], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let logged: Option<(i64, String)> = conn
                    .prepare_cached(
                        "SELECT received_ms, peer FROM packets WHERE mn = ?1
                         ORDER BY received_ms DESC LIMIT 1",
                    )?
                    .query_row([mn], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let state = match (saved, logged) {
                    (None, None) => continue,
                    (Some((_, last, packets)), Some((at, p))) if at > last => (p, at, packets),
                    (Some(s), _) => s,
                    (None, Some((at, p))) => (p, at, 0),
                };
                out.push(DeviceState {
                    mn: mn.clone(),
                    online: false,
                    peer: state.0,
                    last_packet_ms: state.1,
                    packets: u64::try_from(state.2).unwrap_or(0),
                });
            }
            Ok(out)
        })
    }

    fn packets(&self, q: &PacketQuery) -> Result<Vec<(i64, PacketRecord)>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, received_ms, peer, mn, cn, qn, status, reason, crc_given, crc_computed,
                        crc_variant, deviations, raw, quarantined_fields FROM packets
                 WHERE (?1 IS NULL OR mn = ?1) AND (?2 IS NULL OR received_ms >= ?2)
                   AND (?3 IS NULL OR received_ms <= ?3)
                   AND (?4 = 0 OR status = 'quarantined' OR quarantined_fields IS NOT NULL)
                 ORDER BY id DESC LIMIT ?5",
            )?;
            let mut rows = stmt.query(params![
                q.mn,
                q.from_ms,
                q.to_ms,
                i64::from(q.quarantined_only),
                q.limit as i64
            ])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let status: String = r.get(6)?;
                let disposition = match status.as_str() {
                    "stored" => Disposition::Stored,
                    "duplicate" => Disposition::Duplicate,
                    "no_data" => Disposition::NoData,
                    "quarantined" => Disposition::Quarantined {
                        reason: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                    },
                    other => {
                        return Err(StoreError::Corrupt {
                            table: "packets",
                            detail: format!("status {other:?}"),
                        });
                    }
                };
                let deviations: String = r.get(11)?;
                let quarantined_fields: Option<String> = r.get(13)?;
                // Rows written before the log kept bytes hold the frame as text.
                let raw = match r.get_ref(12)? {
                    rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                        b.to_vec()
                    }
                    other => {
                        return Err(StoreError::Corrupt {
                            table: "packets",
                            detail: format!("raw of type {:?}", other.data_type()),
                        });
                    }
                };
                out.push((
                    r.get(0)?,
                    PacketRecord {
                        received_ms: r.get(1)?,
                        peer: r.get(2)?,
                        mn: r.get(3)?,
                        cn: r.get(4)?,
                        qn: r.get(5)?,
                        crc_given: r.get(8)?,
                        crc_computed: r.get(9)?,
                        crc_variant: r.get(10)?,
                        deviations: deviations
                            .split(',')
                            .filter(|d| !d.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        disposition,
                        quarantined_fields: quarantined_fields
                            .iter()
                            .flat_map(|f| f.split(','))
                            .map(str::to_owned)
                            .collect(),
                        raw,
                    },
                ));
            }
            Ok(out)
        })
    }

    fn history(&self, point_id: &str, limit: usize) -> Result<Vec<(i64, Observation)>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT replaced_at_ms, point_id, data_type, code, ts, fields FROM observation_history
                 WHERE point_id = ?1 ORDER BY replaced_at_ms DESC, rowid DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![point_id, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (at, p, t, c, ts, f) = row?;
                out.push((at, row_observation(p, t, c, ts, f)?));
            }
            Ok(out)
        })
    }

    fn newest_data(&self) -> Result<NewestData, StoreError> {
        let rows = self.with_reader(|conn| {
            // One index seek per point and series (the key starts with both), not a scan.
            let ids = leading_ids(conn, LeadingIds::Observations)?;
            let mut stmt = conn.prepare_cached(
                "SELECT MAX(ts) FROM observations WHERE point_id = ?1 AND data_type = ?2",
            )?;
            let mut rows = BTreeMap::new();
            for id in ids {
                for t in DataType::ALL {
                    let newest: Option<i64> =
                        stmt.query_row(params![id, t.code()], |r| r.get(0))?;
                    if let Some(n) = newest {
                        let e = rows.entry(id.clone()).or_insert(n);
                        *e = (*e).max(n);
                    }
                }
            }
            Ok(rows)
        })?;
        // Read after the rows: a window compacted meanwhile has already raised its bound.
        let chunks_until = DataType::ALL
            .into_iter()
            .filter_map(|t| {
                let start =
                    self.newest_chunk[t.code() as usize].load(std::sync::atomic::Ordering::Relaxed);
                (start > i64::MIN).then(|| start + chunk_span(t))
            })
            .max();
        Ok(NewestData { rows, chunks_until })
    }

    fn daily_counts(
        &self,
        point_id: &str,
        data_type: DataType,
        from: i64,
        to: i64,
    ) -> Result<Vec<DailyCount>, StoreError> {
        if to <= from {
            return Ok(Vec::new());
        }
        let mut counts: BTreeMap<(String, i64), u64> = BTreeMap::new();
        let day = bjtime::day_start;
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT code, body FROM chunks
                 WHERE point_id = ?1 AND data_type = ?2 AND start < ?4 AND start > ?3 - ?5",
            )?;
            let mut rows = stmt.query(params![
                point_id,
                data_type.code(),
                from,
                to,
                chunk_span(data_type)
            ])?;
            while let Some(r) = rows.next()? {
                let code: String = r.get(0)?;
                let body: Vec<u8> = r.get(1)?;
                for ts in chunk::decode_times(&body).map_err(chunk_err)? {
                    if (from..to).contains(&ts) {
                        *counts.entry((code.clone(), day(ts))).or_default() += 1;
                    }
                }
            }
            let mut stmt = conn.prepare_cached(
                "SELECT code, ts FROM observations
                 WHERE point_id = ?1 AND data_type = ?2 AND ts >= ?3 AND ts < ?4",
            )?;
            let mut rows = stmt.query(params![point_id, data_type.code(), from, to])?;
            while let Some(r) = rows.next()? {
                let (code, ts): (String, i64) = (r.get(0)?, r.get(1)?);
                *counts.entry((code, day(ts))).or_default() += 1;
            }
            Ok(())
        })?;
        Ok(counts
            .into_iter()
            .map(|((code, day_start), count)| DailyCount {
                code,
                day_start,
                count,
            })
            .collect())
    }

    fn maintain(&self, now_ms: i64, policy: &Housekeeping) -> Result<Maintenance, StoreError> {
        let mut report = Maintenance::default();
        let now_s = now_ms.div_euclid(1000);
        if let Some(days) = policy.packets_days {
            let cutoff = now_ms - i64::from(days) * 86_400_000;
            report.packets_pruned = self.with_writer(|conn| {
                Ok(conn.execute("DELETE FROM packets WHERE received_ms < ?1", [cutoff])?)
            })?;
        }
        let kept: Vec<(DataType, i64)> = DataType::ALL
            .into_iter()
            .filter_map(|t| {
                policy
                    .of(t)
                    .map(|days| (t, now_s - i64::from(days) * 86_400))
            })
            .collect();
        if !kept.is_empty() {
            // Point by point through the keys, which all start with the point: a delete by
            // time alone would read every row of the tables while holding the writer, stalling
            // the loggers' acknowledgements. A few points per transaction keep each hold short.
            let ids: std::collections::BTreeSet<String> = self.with_reader(|conn| {
                let mut ids = std::collections::BTreeSet::new();
                for table in [
                    LeadingIds::Observations,
                    LeadingIds::Chunks,
                    LeadingIds::History,
                ] {
                    ids.extend(leading_ids(conn, table)?);
                }
                Ok(ids)
            })?;
            let ids: Vec<String> = ids.into_iter().collect();
            for group in ids.chunks(RETENTION_POINTS_PER_TX) {
                report.observations_pruned += self.with_writer(|conn| {
                    let tx = conn.transaction()?;
                    let mut pruned = 0;
                    for point_id in group {
                        for &(data_type, cutoff) in &kept {
                            let t = data_type.code();
                            pruned += tx
                                .prepare_cached(
                                    "DELETE FROM observations
                                     WHERE point_id = ?1 AND data_type = ?2 AND ts < ?3",
                                )?
                                .execute(params![point_id, t, cutoff])?;
                            let span = chunk_span(data_type);
                            let rows: i64 = tx
                                .prepare_cached(
                                    "SELECT COALESCE(SUM(rows), 0) FROM chunks
                                     WHERE point_id = ?1 AND data_type = ?2 AND start + ?4 <= ?3",
                                )?
                                .query_row(params![point_id, t, cutoff, span], |r| r.get(0))?;
                            tx.prepare_cached(
                                "DELETE FROM chunks
                                 WHERE point_id = ?1 AND data_type = ?2 AND start + ?4 <= ?3",
                            )?
                            .execute(params![point_id, t, cutoff, span])?;
                            pruned += rows as usize;
                            tx.prepare_cached(
                                "DELETE FROM observation_history
                                 WHERE point_id = ?1 AND data_type = ?2 AND ts < ?3",
                            )?
                            .execute(params![point_id, t, cutoff])?;
                        }
                    }
                    tx.commit()?;
                    Ok(pruned)
                })?;
            }
        }
        report.observations_compacted = self.compact(now_ms, i64::from(policy.settle_s) * 1000)?;
        Ok(report)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_reader(|conn| {
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            let (hot_rows, hot_values): (i64, i64) = conn.query_row(
                "SELECT COUNT(*), COALESCE(SUM((SELECT COUNT(*) FROM json_each(fields))), 0)
                 FROM observations",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (chunk_rows, chunk_values): (i64, i64) = conn.query_row(
                "SELECT COALESCE(SUM(rows), 0), COALESCE(SUM(n_values), 0) FROM chunks",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut series_bytes = 0i64;
            let mut packet_log_bytes = 0i64;
            let mut stmt = conn.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (name, bytes): (String, i64) = (r.get(0)?, r.get(1)?);
                if name == "observations" || name.contains("chunks") {
                    series_bytes += bytes;
                } else if name.starts_with("packets") {
                    packet_log_bytes += bytes;
                }
            }
            Ok(StoreStats {
                bytes_on_disk: ((pages - free) * page_size) as u64,
                series_bytes: series_bytes as u64,
                packet_log_bytes: packet_log_bytes as u64,
                observations: (hot_rows + chunk_rows) as u64,
                values: (hot_values + chunk_values) as u64,
            })
        })
    }
}

#[cfg(test)]
mod tests;
