//! Truck data (HJ 1239 / GB 17691 terminals): its own SQLite file beside the main store, so
//! its volume (one record per second per driving truck) has its own write lock, log and
//! checkpoints and never queues behind HJ 212 ingest or the API's writes.
//!
//! The store does not know the protocol: a frame is a raw-log row (the bytes exactly, with
//! what became of it and why), and a record is (vehicle, collection time, information type,
//! body bytes as received) from the frame that carried it. (vehicle, time, type) is the
//! identity: a reissue or a resend of a stored record stores nothing and says so. Records land
//! in a row table; once their window (an hour by default) is older than the compaction delay
//! they move into one column chunk per (vehicle, window) ([`crate::obd_chunk`]); a late record
//! for a compacted window is merged into its chunk in the same transaction, with the same
//! identity check. Reads merge both places. The newest stream record of each vehicle is kept
//! in memory, read by the vehicle list and the map, and saved to `obd_latest` every
//! [`LATEST_SAVE_INTERVAL`] (a crash loses at most that long of "latest", never a record).
//!
//! Write cost is what bounds the volume: every page a commit dirties is written to the log
//! and copied into the database. So a data frame touches the frames table where it appends
//! (its time index is append-only too) and its vehicle's page of records, and nothing else: a
//! vehicle's frames are found through its records' frame ids, and the frames that carry no
//! records (logins, logouts, alarms, quarantined frames) through the small `obd_events` table
//! by VIN (resends too). A per-VIN index on frames, or a per-frame update
//! of the latest row each cost one scattered page per frame.
//!
//! [`ObdWriter`] is the group-commit thread: every frame waiting from every connection goes
//! into one transaction and one fsync, and each sender learns the outcome only after the
//! commit (the front door acknowledges the terminal then, never before).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use domain::BoxFuture;
use rusqlite::{Connection, OptionalExtension, params};

use crate::obd_chunk::{self, Record};
use crate::{Checkpointer, StoreError};

/// What became of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStatus {
    /// It carried records, and at least one was new.
    Stored,
    /// Every record it carried was stored already.
    Duplicate,
    /// A session or control message (login, logout, time calibration, alarm): kept, no records.
    Control,
    /// Refused: kept with the reason, nothing stored from it, not acknowledged.
    Quarantined,
}

impl FrameStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameStatus::Stored => "stored",
            FrameStatus::Duplicate => "duplicate",
            FrameStatus::Control => "control",
            FrameStatus::Quarantined => "quarantined",
        }
    }

    fn parse(s: &str) -> Option<FrameStatus> {
        [
            FrameStatus::Stored,
            FrameStatus::Duplicate,
            FrameStatus::Control,
            FrameStatus::Quarantined,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// A received frame's raw-log row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObdFrame {
    /// When it was received, Unix ms.
    pub received_ms: i64,
    /// The sender's address.
    pub peer: String,
    /// The header's VIN (none for bytes that are not a frame).
    pub vin: Option<String>,
    /// The command unit.
    pub command: Option<u8>,
    /// What became of it ([`FrameStatus::Stored`] for a frame with records: the store turns
    /// it into `Duplicate` when none was new).
    pub status: FrameStatus,
    /// Why it was quarantined, or a remark (records dropped as too old, a signature state).
    pub reason: Option<String>,
    /// The bytes exactly as received.
    pub raw: Vec<u8>,
}

/// A record to store from a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// Collection time, Unix seconds.
    pub ts: i64,
    /// Information type.
    pub kind: u8,
    /// Body bytes as received.
    pub body: Vec<u8>,
}

/// One frame for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObdIngest {
    /// Its raw-log row.
    pub frame: ObdFrame,
    /// Its records (none unless the frame is `Stored`).
    pub records: Vec<NewRecord>,
}

/// What the store did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObdIngestResult {
    /// Its raw-log id.
    pub frame_id: i64,
    /// Records newly stored.
    pub inserted: usize,
    /// Records that were stored already.
    pub duplicates: usize,
}

/// A stored frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFrame {
    /// Raw-log id.
    pub id: i64,
    /// The row.
    pub frame: ObdFrame,
}

/// Which frames to list.
#[derive(Debug, Clone, Default)]
pub struct FrameQuery {
    /// One vehicle's.
    pub vin: Option<String>,
    /// Received at or after, Unix ms.
    pub from_ms: Option<i64>,
    /// Received before, Unix ms.
    pub to_ms: Option<i64>,
    /// Only quarantined ones.
    pub quarantined_only: bool,
    /// At most this many, newest first.
    pub limit: usize,
}

/// A vehicle's newest stream record and its last frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    /// VIN.
    pub vin: String,
    /// Its last frame of any kind, Unix ms.
    pub received_ms: i64,
    /// Its newest stream record (collection time, type, body), if any.
    pub record: Option<Record>,
}

/// Retention and compaction settings.
#[derive(Debug, Clone, Copy)]
pub struct ObdSettings {
    /// A chunk's window, seconds (an hour by default).
    pub window_s: i64,
    /// A window is compacted once it ended this long ago (late data after that is merged into
    /// the chunk, which costs a chunk rewrite).
    pub compact_after_s: i64,
    /// Records kept, days.
    pub records_days: i64,
    /// Raw frames kept, days.
    pub frames_days: i64,
    /// At most this many windows compacted per pass (each its own short transaction).
    pub max_windows_per_pass: usize,
}

impl Default for ObdSettings {
    fn default() -> Self {
        Self {
            window_s: 3600,
            compact_after_s: 3600,
            records_days: 400,
            frames_days: 30,
            max_windows_per_pass: 2000,
        }
    }
}

/// What a maintenance pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObdMaintenance {
    /// Windows compacted into chunks.
    pub windows_compacted: usize,
    /// Records moved into chunks.
    pub records_compacted: usize,
    /// Raw frames removed by retention.
    pub frames_pruned: usize,
    /// Chunks removed by retention.
    pub chunks_pruned: usize,
}

/// Sizes, for the bench and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObdSize {
    /// Records in chunks.
    pub chunk_records: i64,
    /// Their chunks' bytes.
    pub chunk_bytes: i64,
    /// Records in the row table.
    pub row_records: i64,
    /// Raw frames kept.
    pub frames: i64,
    /// The database file's pages in use, bytes.
    pub file_bytes: i64,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS obd_frames (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    peer TEXT NOT NULL,
    vin TEXT,
    command INTEGER,
    status TEXT NOT NULL,
    reason TEXT,
    raw BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS obd_frames_by_time ON obd_frames (received_ms);
CREATE INDEX IF NOT EXISTS obd_frames_quarantined ON obd_frames (received_ms)
    WHERE status = 'quarantined';
CREATE TABLE IF NOT EXISTS obd_events (
    vin TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    frame_id INTEGER NOT NULL,
    PRIMARY KEY (vin, received_ms, frame_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS obd_vehicles (
    id INTEGER PRIMARY KEY,
    vin TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS obd_records (
    vehicle INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    frame_id INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (vehicle, ts, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS obd_chunks (
    id INTEGER PRIMARY KEY,
    vehicle INTEGER NOT NULL,
    start INTEGER NOT NULL,
    records INTEGER NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (vehicle, start)
);
CREATE INDEX IF NOT EXISTS obd_chunks_by_start ON obd_chunks (start);
CREATE TABLE IF NOT EXISTS obd_latest (
    vehicle INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    ts INTEGER,
    kind INTEGER,
    body BLOB
);
"#;

/// How often the latest state of the vehicles that sent something is saved.
pub const LATEST_SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// A vehicle's latest state in memory.
#[derive(Debug, Clone, Default)]
struct LatestRow {
    received_ms: i64,
    record: Option<Record>,
}

#[derive(Debug, Default)]
struct LatestState {
    rows: HashMap<i64, LatestRow>,
    dirty: HashSet<i64>,
    saved: Option<std::time::Instant>,
}

fn stored_frame(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredFrame> {
    let status: String = r.get(5)?;
    Ok(StoredFrame {
        id: r.get(0)?,
        frame: ObdFrame {
            received_ms: r.get(1)?,
            peer: r.get(2)?,
            vin: r.get(3)?,
            command: r.get(4)?,
            status: FrameStatus::parse(&status).unwrap_or(FrameStatus::Quarantined),
            reason: r.get(6)?,
            raw: r.get(7)?,
        },
    })
}

/// Information types whose records are the vehicle's state (the data streams).
const STREAM_KINDS: [u8; 3] = [0x02, 0x03, 0x05];

/// The truck-data store.
pub struct ObdStore {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    checkpointer: Option<Checkpointer>,
    /// VIN → vehicle id (ids are never reused).
    vehicles: Mutex<HashMap<String, i64>>,
    /// Per vehicle, the latest chunk window ever written: newer records cannot have a chunk.
    newest_chunk: Mutex<HashMap<i64, i64>>,
    latest: Mutex<LatestState>,
    window_s: i64,
}

impl Drop for ObdStore {
    fn drop(&mut self) {
        if let Some(c) = self.checkpointer.take() {
            c.stop();
        }
        let _ = self.save_latest(true);
        if let Ok(conn) = self.writer.lock() {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

fn corrupt(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table: "obd_chunks",
        detail: detail.to_string(),
    }
}

impl ObdStore {
    /// Opens (creating if needed) the truck-data file `path`, with chunk windows of
    /// `window_s` seconds (it must stay the same for a file: chunks are keyed by it).
    pub fn open(path: &Path, window_s: i64) -> Result<Self, StoreError> {
        let mut writer = crate::open(path)?;
        writer.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        writer.execute_batch(SCHEMA)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let reader = crate::open(path)?;
        let vehicles = {
            let mut st = reader.prepare("SELECT vin, id FROM obd_vehicles")?;
            st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<HashMap<_, _>, _>>()?
        };
        let newest = {
            let mut st =
                reader.prepare("SELECT vehicle, MAX(start) FROM obd_chunks GROUP BY vehicle")?;
            st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<HashMap<_, _>, _>>()?
        };
        let rows = {
            let mut st =
                reader.prepare("SELECT vehicle, received_ms, ts, kind, body FROM obd_latest")?;
            st.query_map([], |r| {
                let (ts, kind, body): (Option<i64>, Option<u8>, Option<Vec<u8>>) =
                    (r.get(2)?, r.get(3)?, r.get(4)?);
                Ok((
                    r.get::<_, i64>(0)?,
                    LatestRow {
                        received_ms: r.get(1)?,
                        record: match (ts, kind, body) {
                            (Some(ts), Some(kind), Some(body)) => Some(Record {
                                ts,
                                kind,
                                frame_id: 0,
                                body,
                            }),
                            _ => None,
                        },
                    },
                ))
            })?
            .collect::<Result<HashMap<_, _>, _>>()?
        };
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            checkpointer: Some(Checkpointer::start(path)?),
            vehicles: Mutex::new(vehicles),
            newest_chunk: Mutex::new(newest),
            latest: Mutex::new(LatestState {
                rows,
                ..LatestState::default()
            }),
            window_s: window_s.max(60),
        })
    }

    fn window(&self, ts: i64) -> i64 {
        ts - ts.rem_euclid(self.window_s)
    }

    fn vehicle_id(&self, tx: &rusqlite::Transaction<'_>, vin: &str) -> Result<i64, StoreError> {
        if let Some(id) = self
            .vehicles
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .get(vin)
        {
            return Ok(*id);
        }
        tx.execute(
            "INSERT OR IGNORE INTO obd_vehicles (vin) VALUES (?1)",
            [vin],
        )?;
        let id: i64 = tx.query_row("SELECT id FROM obd_vehicles WHERE vin = ?1", [vin], |r| {
            r.get(0)
        })?;
        Ok(id)
    }

    /// Commits frames and their records in one transaction.
    pub fn commit(&self, batch: &[ObdIngest]) -> Result<Vec<ObdIngestResult>, StoreError> {
        let mut conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction()?;
        let mut results = Vec::with_capacity(batch.len());
        let mut new_vehicles = Vec::new();
        let newest = self
            .newest_chunk
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .clone();
        // The vehicles' latest state, applied once the commit succeeded.
        let mut updates: Vec<(i64, i64, Option<Record>)> = Vec::new();
        // Chunks touched by late records, decoded once per batch.
        let mut chunks: HashMap<(i64, i64), (Vec<Record>, bool)> = HashMap::new();
        {
            let mut frame_st = tx.prepare_cached(
                "INSERT INTO obd_frames (received_ms, peer, vin, command, status, reason, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut record_st = tx.prepare_cached(
                "INSERT OR IGNORE INTO obd_records (vehicle, ts, kind, frame_id, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut status_st =
                tx.prepare_cached("UPDATE obd_frames SET status = 'duplicate' WHERE id = ?1")?;
            let mut event_st = tx.prepare_cached(
                "INSERT OR IGNORE INTO obd_events (vin, received_ms, frame_id) VALUES (?1, ?2, ?3)",
            )?;
            for ingest in batch {
                let f = &ingest.frame;
                frame_st.execute(params![
                    f.received_ms,
                    f.peer,
                    f.vin,
                    f.command,
                    f.status.as_str(),
                    f.reason,
                    f.raw
                ])?;
                let frame_id = tx.last_insert_rowid();
                let (mut inserted, mut duplicates) = (0, 0);
                if let (Some(vin), true) = (&f.vin, ingest.records.is_empty()) {
                    // No records to find it by (a control or quarantined frame).
                    event_st.execute(params![vin, f.received_ms, frame_id])?;
                }
                let vin = match (&f.vin, f.status) {
                    (Some(v), FrameStatus::Stored | FrameStatus::Control) => v,
                    _ => {
                        results.push(ObdIngestResult {
                            frame_id,
                            inserted,
                            duplicates,
                        });
                        continue;
                    }
                };
                let vehicle = self.vehicle_id(&tx, vin)?;
                new_vehicles.push((vin.clone(), vehicle));
                let mut newest_stream: Option<&NewRecord> = None;
                for rec in &ingest.records {
                    let window = self.window(rec.ts);
                    let late = newest.get(&vehicle).is_some_and(|n| window <= *n);
                    let chunk = if late {
                        match chunks.entry((vehicle, window)) {
                            std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
                            std::collections::hash_map::Entry::Vacant(e) => {
                                let blob: Option<Vec<u8>> = tx
                                    .query_row(
                                        "SELECT body FROM obd_chunks WHERE vehicle = ?1 AND start = ?2",
                                        params![vehicle, window],
                                        |r| r.get(0),
                                    )
                                    .optional()?;
                                match blob {
                                    Some(b) => Some(
                                        e.insert((obd_chunk::decode(&b).map_err(corrupt)?, false)),
                                    ),
                                    None => None,
                                }
                            }
                        }
                    } else {
                        None
                    };
                    let new = match chunk {
                        Some((records, dirty)) => {
                            let known =
                                records.iter().any(|r| r.ts == rec.ts && r.kind == rec.kind);
                            if !known {
                                records.push(Record {
                                    ts: rec.ts,
                                    kind: rec.kind,
                                    frame_id,
                                    body: rec.body.clone(),
                                });
                                *dirty = true;
                            }
                            !known
                        }
                        None => {
                            record_st
                                .execute(params![vehicle, rec.ts, rec.kind, frame_id, rec.body])?
                                == 1
                        }
                    };
                    if new {
                        inserted += 1;
                    } else {
                        duplicates += 1;
                    }
                    if STREAM_KINDS.contains(&rec.kind)
                        && newest_stream.is_none_or(|n| rec.ts >= n.ts)
                    {
                        newest_stream = Some(rec);
                    }
                }
                if f.status == FrameStatus::Stored && inserted == 0 {
                    // A resend: no record points at it either.
                    status_st.execute([frame_id])?;
                    event_st.execute(params![vin, f.received_ms, frame_id])?;
                }
                updates.push((
                    vehicle,
                    f.received_ms,
                    newest_stream.map(|n| Record {
                        ts: n.ts,
                        kind: n.kind,
                        frame_id,
                        body: n.body.clone(),
                    }),
                ));
                results.push(ObdIngestResult {
                    frame_id,
                    inserted,
                    duplicates,
                });
            }
            let mut chunk_st = tx.prepare_cached(
                "UPDATE obd_chunks SET body = ?3, records = ?4 WHERE vehicle = ?1 AND start = ?2",
            )?;
            for ((vehicle, start), (records, dirty)) in &chunks {
                if *dirty {
                    chunk_st.execute(params![
                        vehicle,
                        start,
                        obd_chunk::encode(records),
                        records.len() as i64
                    ])?;
                }
            }
        }
        tx.commit()?;
        drop(conn);
        if let Ok(mut v) = self.vehicles.lock() {
            v.extend(new_vehicles);
        }
        if let Ok(mut latest) = self.latest.lock() {
            for (vehicle, received_ms, record) in updates {
                let row = latest.rows.entry(vehicle).or_default();
                row.received_ms = row.received_ms.max(received_ms);
                if let Some(n) = record
                    && row.record.as_ref().is_none_or(|r| n.ts >= r.ts)
                {
                    row.record = Some(n);
                }
                latest.dirty.insert(vehicle);
            }
        }
        self.save_latest(false)?;
        Ok(results)
    }

    /// Saves the latest state of the vehicles that sent something since the last save, when
    /// [`LATEST_SAVE_INTERVAL`] has passed (or now, with `force`).
    pub fn save_latest(&self, force: bool) -> Result<usize, StoreError> {
        let rows: Vec<(i64, LatestRow)> = {
            let mut latest = self.latest.lock().map_err(|_| StoreError::Poisoned)?;
            let due = latest
                .saved
                .is_none_or(|t| t.elapsed() >= LATEST_SAVE_INTERVAL);
            if !(force || due) || latest.dirty.is_empty() {
                return Ok(0);
            }
            latest.saved = Some(std::time::Instant::now());
            let dirty = std::mem::take(&mut latest.dirty);
            dirty
                .into_iter()
                .filter_map(|v| latest.rows.get(&v).map(|r| (v, r.clone())))
                .collect()
        };
        let mut conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO obd_latest (vehicle, received_ms, ts, kind, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (vehicle) DO UPDATE SET received_ms = excluded.received_ms,
                   ts = excluded.ts, kind = excluded.kind, body = excluded.body",
            )?;
            for (vehicle, row) in &rows {
                st.execute(params![
                    vehicle,
                    row.received_ms,
                    row.record.as_ref().map(|r| r.ts),
                    row.record.as_ref().map(|r| r.kind),
                    row.record.as_ref().map(|r| r.body.as_slice()),
                ])?;
            }
        }
        tx.commit()?;
        Ok(rows.len())
    }

    fn vehicle(&self, vin: &str) -> Option<i64> {
        self.vehicles.lock().ok()?.get(vin).copied()
    }

    /// A vehicle's records with collection times in `[from_s, to_s)`, sorted by (time, type).
    pub fn records(&self, vin: &str, from_s: i64, to_s: i64) -> Result<Vec<Record>, StoreError> {
        let Some(vehicle) = self.vehicle(vin) else {
            return Ok(Vec::new());
        };
        let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let mut out = Vec::new();
        let mut st = conn.prepare_cached(
            "SELECT body FROM obd_chunks WHERE vehicle = ?1 AND start > ?2 AND start < ?3",
        )?;
        let blobs = st
            .query_map(params![vehicle, from_s - self.window_s, to_s], |r| {
                r.get::<_, Vec<u8>>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for b in blobs {
            out.extend(
                obd_chunk::decode(&b)
                    .map_err(corrupt)?
                    .into_iter()
                    .filter(|r| (from_s..to_s).contains(&r.ts)),
            );
        }
        let mut st = conn.prepare_cached(
            "SELECT ts, kind, frame_id, body FROM obd_records
             WHERE vehicle = ?1 AND ts >= ?2 AND ts < ?3",
        )?;
        let rows = st.query_map(params![vehicle, from_s, to_s], |r| {
            Ok(Record {
                ts: r.get(0)?,
                kind: r.get(1)?,
                frame_id: r.get(2)?,
                body: r.get(3)?,
            })
        })?;
        for r in rows {
            out.push(r?);
        }
        out.sort_by_key(|r| (r.ts, r.kind));
        Ok(out)
    }

    /// Every vehicle's newest stream record and last frame, by VIN.
    pub fn latest(&self) -> Result<Vec<Latest>, StoreError> {
        let vins: HashMap<i64, String> = self
            .vehicles
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .iter()
            .map(|(vin, id)| (*id, vin.clone()))
            .collect();
        let latest = self.latest.lock().map_err(|_| StoreError::Poisoned)?;
        let mut out: Vec<Latest> = latest
            .rows
            .iter()
            .filter_map(|(id, row)| {
                Some(Latest {
                    vin: vins.get(id)?.clone(),
                    received_ms: row.received_ms,
                    record: row.record.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.vin.cmp(&b.vin));
        Ok(out)
    }

    /// Raw frames, newest first. For one VIN: the frames that carried its records with
    /// collection times in the range, and its frames without records (logins, logouts,
    /// alarms, quarantined ones) received in it.
    pub fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>, StoreError> {
        let from = q.from_ms.unwrap_or(i64::MIN);
        let to = q.to_ms.unwrap_or(i64::MAX);
        if let Some(vin) = &q.vin {
            let mut ids: HashSet<i64> = self
                .records(
                    vin,
                    from.div_euclid(1000),
                    to.div_euclid(1000).saturating_add(1),
                )?
                .into_iter()
                .map(|r| r.frame_id)
                .collect();
            {
                let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
                let mut st = conn.prepare_cached(
                    "SELECT frame_id FROM obd_events WHERE vin = ?1 AND received_ms >= ?2 AND received_ms < ?3",
                )?;
                for id in st.query_map(params![vin, from, to], |r| r.get::<_, i64>(0))? {
                    ids.insert(id?);
                }
            }
            let ids: Vec<i64> = ids.into_iter().collect();
            let mut out: Vec<StoredFrame> = self
                .frames_by_id(&ids)?
                .into_iter()
                .filter(|f| !q.quarantined_only || f.frame.status == FrameStatus::Quarantined)
                .collect();
            out.sort_by_key(|f| std::cmp::Reverse((f.frame.received_ms, f.id)));
            out.truncate(q.limit);
            return Ok(out);
        }
        let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let sql = if q.quarantined_only {
            "SELECT id, received_ms, peer, vin, command, status, reason, raw FROM obd_frames
             WHERE status = 'quarantined' AND received_ms >= ?1 AND received_ms < ?2
             ORDER BY received_ms DESC, id DESC LIMIT ?3"
        } else {
            "SELECT id, received_ms, peer, vin, command, status, reason, raw FROM obd_frames
             WHERE received_ms >= ?1 AND received_ms < ?2
             ORDER BY received_ms DESC, id DESC LIMIT ?3"
        };
        let mut st = conn.prepare_cached(sql)?;
        let rows = st.query_map(params![from, to, q.limit as i64], stored_frame)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Raw frames by id (the evidence of a finding).
    pub fn frames_by_id(&self, ids: &[i64]) -> Result<Vec<StoredFrame>, StoreError> {
        let wanted: HashSet<i64> = ids.iter().copied().collect();
        let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let mut st = conn.prepare_cached(
            "SELECT id, received_ms, peer, vin, command, status, reason, raw FROM obd_frames WHERE id = ?1",
        )?;
        let mut out = Vec::new();
        for id in wanted {
            let row = st.query_row([id], stored_frame).optional()?;
            out.extend(row);
        }
        out.sort_by_key(|f| f.id);
        Ok(out)
    }

    /// Compacts windows that ended `compact_after_s` before `now_ms` (all of them with
    /// `everything`) and applies retention.
    pub fn maintain(
        &self,
        now_ms: i64,
        settings: &ObdSettings,
        everything: bool,
    ) -> Result<ObdMaintenance, StoreError> {
        self.save_latest(true)?;
        let now_s = now_ms.div_euclid(1000);
        let cutoff = if everything {
            i64::MAX
        } else {
            self.window(now_s - settings.compact_after_s)
        };
        let mut done = ObdMaintenance::default();
        let vehicles: Vec<i64> = self
            .vehicles
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .values()
            .copied()
            .collect();
        'vehicles: for vehicle in vehicles {
            loop {
                if done.windows_compacted >= settings.max_windows_per_pass {
                    break 'vehicles;
                }
                let min: Option<i64> = {
                    let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
                    conn.query_row(
                        "SELECT MIN(ts) FROM obd_records WHERE vehicle = ?1",
                        [vehicle],
                        |r| r.get(0),
                    )?
                };
                let Some(min) = min else { break };
                let start = self.window(min);
                if start.saturating_add(self.window_s) > cutoff {
                    break;
                }
                done.records_compacted += self.compact_window(vehicle, start)?;
                done.windows_compacted += 1;
            }
        }
        let mut conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction()?;
        let frames_before = now_ms - settings.frames_days * 86_400_000;
        done.frames_pruned = tx.execute(
            "DELETE FROM obd_frames WHERE received_ms < ?1",
            [frames_before],
        )?;
        tx.execute(
            "DELETE FROM obd_events WHERE received_ms < ?1",
            [frames_before],
        )?;
        done.chunks_pruned = tx.execute(
            "DELETE FROM obd_chunks WHERE start < ?1",
            [now_s - settings.records_days * 86_400],
        )?;
        tx.commit()?;
        Ok(done)
    }

    /// Moves one window's rows into its chunk (merging with the chunk if one exists).
    fn compact_window(&self, vehicle: i64, start: i64) -> Result<usize, StoreError> {
        let end = start + self.window_s;
        let mut conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction()?;
        let mut records: Vec<Record> = {
            let mut st = tx.prepare_cached(
                "SELECT ts, kind, frame_id, body FROM obd_records
                 WHERE vehicle = ?1 AND ts >= ?2 AND ts < ?3",
            )?;
            st.query_map(params![vehicle, start, end], |r| {
                Ok(Record {
                    ts: r.get(0)?,
                    kind: r.get(1)?,
                    frame_id: r.get(2)?,
                    body: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?
        };
        let moved = records.len();
        let old: Option<Vec<u8>> = tx
            .query_row(
                "SELECT body FROM obd_chunks WHERE vehicle = ?1 AND start = ?2",
                params![vehicle, start],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(b) = old {
            let have: HashSet<(i64, u8)> = records.iter().map(|r| (r.ts, r.kind)).collect();
            records.extend(
                obd_chunk::decode(&b)
                    .map_err(corrupt)?
                    .into_iter()
                    .filter(|r| !have.contains(&(r.ts, r.kind))),
            );
        }
        tx.execute(
            "INSERT INTO obd_chunks (vehicle, start, records, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (vehicle, start) DO UPDATE SET records = excluded.records, body = excluded.body",
            params![vehicle, start, records.len() as i64, obd_chunk::encode(&records)],
        )?;
        tx.execute(
            "DELETE FROM obd_records WHERE vehicle = ?1 AND ts >= ?2 AND ts < ?3",
            params![vehicle, start, end],
        )?;
        tx.commit()?;
        if let Ok(mut n) = self.newest_chunk.lock() {
            let e = n.entry(vehicle).or_insert(start);
            *e = (*e).max(start);
        }
        Ok(moved)
    }

    /// Sizes of what is stored.
    pub fn size(&self) -> Result<ObdSize, StoreError> {
        let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let (chunk_records, chunk_bytes) = conn.query_row(
            "SELECT COALESCE(SUM(records), 0), COALESCE(SUM(LENGTH(body)), 0) FROM obd_chunks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let row_records = conn.query_row("SELECT COUNT(*) FROM obd_records", [], |r| r.get(0))?;
        let frames = conn.query_row("SELECT COUNT(*) FROM obd_frames", [], |r| r.get(0))?;
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        Ok(ObdSize {
            chunk_records,
            chunk_bytes,
            row_records,
            frames,
            file_bytes: (pages - free) * page_size,
        })
    }
}

/// The hand-off between the truck front door and durable storage: the future resolves once
/// the frame is committed, with what became of it.
pub trait ObdHandoff: Send + Sync + 'static {
    /// Makes `ingest` durable.
    fn submit(&self, ingest: ObdIngest) -> BoxFuture<'_, Result<ObdIngestResult, String>>;
}

/// The truck-data writer thread: commits frames from all connections in batches.
#[derive(Clone)]
pub struct ObdWriter {
    inner: crate::writer::GroupCommit<ObdIngest, ObdIngestResult>,
}

impl ObdHandoff for ObdWriter {
    fn submit(&self, ingest: ObdIngest) -> BoxFuture<'_, Result<ObdIngestResult, String>> {
        Box::pin(self.inner.submit(ingest))
    }
}

impl ObdWriter {
    /// Starts the writer thread over `store`; it ends when every clone is dropped, after
    /// committing what was queued.
    pub fn start(
        store: Arc<ObdStore>,
        max_batch: usize,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (inner, handle) = crate::writer::GroupCommit::start(
            "obd-writer",
            max_batch,
            move |batch: Vec<ObdIngest>| store.commit(&batch).map_err(|e| e.to_string()),
        )?;
        Ok((Self { inner }, handle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(vin: &str, ms: i64, status: FrameStatus) -> ObdFrame {
        ObdFrame {
            received_ms: ms,
            peer: "10.0.0.1:5000".into(),
            vin: Some(vin.into()),
            command: Some(2),
            status,
            reason: None,
            raw: vec![0x23, 0x23, 2],
        }
    }

    fn packet(vin: &str, t0: i64, n: i64) -> ObdIngest {
        ObdIngest {
            frame: frame(vin, t0 * 1000 + 10_500, FrameStatus::Stored),
            records: (0..n)
                .map(|i| NewRecord {
                    ts: t0 + i,
                    kind: 2,
                    body: vec![(i % 7) as u8; 37],
                })
                .collect(),
        }
    }

    #[test]
    fn records_are_kept_once_compacted_and_read_back_from_both_places() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ObdStore::open(&dir.path().join("obd.sqlite"), 3600).expect("open");
        let t0 = 1_800_000_000; // a whole hour
        let vin = "LGDCHA1G8MA127733";
        let r = store
            .commit(&[packet(vin, t0, 10), packet(vin, t0 + 10, 10)])
            .expect("commit");
        assert_eq!((r[0].inserted, r[1].inserted), (10, 10));
        let again = store.commit(&[packet(vin, t0 + 15, 10)]).expect("resend");
        assert_eq!((again[0].inserted, again[0].duplicates), (5, 5));
        let dup = store.commit(&[packet(vin, t0, 10)]).expect("resend");
        assert_eq!((dup[0].inserted, dup[0].duplicates), (0, 10));
        let frames = store
            .frames(&FrameQuery {
                vin: Some(vin.into()),
                limit: 10,
                ..FrameQuery::default()
            })
            .expect("frames");
        let last = frames.iter().max_by_key(|f| f.id).expect("frames");
        assert_eq!(last.frame.status, FrameStatus::Duplicate);
        assert_eq!(frames.len(), 4);

        // The hour is compacted an hour after it ended; a late record merges into the chunk.
        let m = store
            .maintain((t0 + 7300) * 1000, &ObdSettings::default(), false)
            .expect("maintain");
        assert_eq!((m.windows_compacted, m.records_compacted), (1, 25));
        let late = store
            .commit(&[packet(vin, t0 + 20, 10), packet(vin, t0 + 3700, 5)])
            .expect("late");
        assert_eq!((late[0].inserted, late[0].duplicates), (5, 5));
        assert_eq!(late[1].inserted, 5);
        let all = store.records(vin, t0, t0 + 7200).expect("read");
        assert_eq!(all.len(), 35);
        assert!(all.windows(2).all(|w| w[0].ts < w[1].ts));
        assert_eq!(all[3].body, vec![3u8; 37]);
        let size = store.size().expect("size");
        assert_eq!((size.chunk_records, size.row_records), (30, 5));

        let latest = store.latest().expect("latest");
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].record.as_ref().map(|r| r.ts), Some(t0 + 3704));
    }

    #[test]
    fn quarantined_frames_store_no_records_and_retention_prunes() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ObdStore::open(&dir.path().join("obd.sqlite"), 3600).expect("open");
        let mut q = packet("LWHTEST1234567895", 1_800_000_000, 3);
        q.frame.status = FrameStatus::Quarantined;
        q.frame.reason = Some("vin_check".into());
        let r = store.commit(&[q]).expect("commit");
        assert_eq!(r[0].inserted, 0);
        let listed = store
            .frames(&FrameQuery {
                quarantined_only: true,
                limit: 5,
                ..FrameQuery::default()
            })
            .expect("list");
        assert_eq!(listed[0].frame.reason.as_deref(), Some("vin_check"));
        assert!(store.latest().expect("latest").is_empty());
        let m = store
            .maintain(
                1_800_000_000_000 + 31 * 86_400_000,
                &ObdSettings::default(),
                false,
            )
            .expect("maintain");
        assert_eq!(m.frames_pruned, 1);
    }
}
