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
//! Layout (today): `observations` is a `WITHOUT ROWID` table keyed by (point, series, code, time)
//! holding the fields as JSON text. The compressed chunk layout that issue 3 asks for (at most 4
//! bytes per value) is not built yet.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use domain::{DataType, Disposition, Observation, PacketRecord, Point};
use rusqlite::{Connection, OptionalExtension, params};

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
    /// Only quarantined frames.
    pub quarantined_only: bool,
    /// At most this many rows (newest first).
    pub limit: usize,
}

/// Storage for the gateway and the API. See the [crate docs](crate).
pub trait Store: Send + Sync + 'static {
    /// Commits a batch in one durable transaction and says what became of each frame.
    fn commit(&self, batch: &[Ingest]) -> Result<Vec<IngestResult>, StoreError>;
    /// Creates or replaces a point (by id). MNs are unique.
    fn put_point(&self, point: &Point) -> Result<(), StoreError>;
    /// Deletes a point; false if there was none.
    fn delete_point(&self, id: &str) -> Result<bool, StoreError>;
    /// Every point, by id.
    fn points(&self) -> Result<Vec<Point>, StoreError>;
    /// One point.
    fn point(&self, id: &str) -> Result<Option<Point>, StoreError>;
    /// A series, oldest first.
    fn series(&self, q: &SeriesQuery) -> Result<Vec<Observation>, StoreError>;
    /// The newest observation of each (series, code) of a point.
    fn latest(&self, point_id: &str) -> Result<Vec<Observation>, StoreError>;
    /// The raw packet log, newest first, with row ids.
    fn packets(&self, q: &PacketQuery) -> Result<Vec<(i64, PacketRecord)>, StoreError>;
    /// Earlier values replaced by later ones for a point (newest replacement first).
    fn history(&self, point_id: &str, limit: usize) -> Result<Vec<(i64, Observation)>, StoreError>;
}

/// The embedded SQLite engine. See the [crate docs](crate).
pub struct SqliteStore {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS points (
    id TEXT PRIMARY KEY,
    mn TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS packets (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    mn TEXT,
    cn TEXT,
    qn TEXT,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS packets_by_mn_time ON packets (mn, received_ms);
CREATE INDEX IF NOT EXISTS packets_by_time ON packets (received_ms);
CREATE TABLE IF NOT EXISTS observations (
    point_id TEXT NOT NULL,
    data_type INTEGER NOT NULL,
    code TEXT NOT NULL,
    ts INTEGER NOT NULL,
    fields TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    PRIMARY KEY (point_id, data_type, code, ts)
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
"#;

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn data_type_of(code: i64) -> Result<DataType, StoreError> {
    [DataType::Rtd, DataType::Min, DataType::Hour, DataType::Day]
        .into_iter()
        .find(|t| t.code() == code)
        .ok_or_else(|| StoreError::Corrupt {
            table: "observations",
            detail: format!("data type {code}"),
        })
}

fn json_err(table: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl SqliteStore {
    /// Opens (creating if needed) the store file `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = open(path)?;
        writer.execute_batch(SCHEMA)?;
        let reader = open(path)?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut conn)
    }

    fn with_reader<T>(
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

impl Store for SqliteStore {
    fn commit(&self, batch: &[Ingest]) -> Result<Vec<IngestResult>, StoreError> {
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let mut results = Vec::with_capacity(batch.len());
            let replaced_at = now_ms();
            for ingest in batch {
                let rec = &ingest.record;
                let mut disposition = rec.disposition.clone();
                let mut inserted = 0;
                let mut replaced = 0;
                let mut record = rec.clone();
                record.disposition = disposition.clone();
                let body = serde_json::to_string(&record).map_err(json_err("packets"))?;
                tx.execute(
                    "INSERT INTO packets (received_ms, mn, cn, qn, status, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![rec.received_ms, rec.mn, rec.cn, rec.qn, status_name(&disposition), body],
                )?;
                let packet_id = tx.last_insert_rowid();
                if disposition == Disposition::Stored {
                    for o in &ingest.observations {
                        let fields =
                            serde_json::to_string(&o.fields).map_err(json_err("observations"))?;
                        let key = params![o.point_id, o.data_type.code(), o.code, o.time];
                        let existing: Option<(String, i64)> = tx
                            .prepare_cached(
                                "SELECT fields, packet_id FROM observations
                                 WHERE point_id = ?1 AND data_type = ?2 AND code = ?3 AND ts = ?4",
                            )?
                            .query_row(key, |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()?;
                        match &existing {
                            None => inserted += 1,
                            Some((old, _)) if *old == fields => continue,
                            Some((old, old_packet)) => {
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
                                    old,
                                    old_packet
                                ])?;
                                replaced += 1;
                            }
                        }
                        tx.prepare_cached(
                            "INSERT INTO observations (point_id, data_type, code, ts, fields, packet_id)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT (point_id, data_type, code, ts)
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
                    }
                    if inserted + replaced == 0 {
                        disposition = Disposition::Duplicate;
                        record.disposition = disposition.clone();
                        let body = serde_json::to_string(&record).map_err(json_err("packets"))?;
                        tx.execute(
                            "UPDATE packets SET status = ?2, body = ?3 WHERE id = ?1",
                            params![packet_id, status_name(&disposition), body],
                        )?;
                    }
                }
                results.push(IngestResult {
                    packet_id,
                    disposition,
                    inserted,
                    replaced,
                });
            }
            tx.commit()?;
            Ok(results)
        })
    }

    fn put_point(&self, point: &Point) -> Result<(), StoreError> {
        if point.id.trim().is_empty() || point.mn.trim().is_empty() {
            return Err(StoreError::InvalidPoint(
                "id and mn must not be empty".into(),
            ));
        }
        let body = serde_json::to_string(point).map_err(json_err("points"))?;
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let other: Option<String> = tx
                .query_row(
                    "SELECT id FROM points WHERE mn = ?1 AND id <> ?2",
                    params![point.mn, point.id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = other {
                return Err(StoreError::InvalidPoint(format!(
                    "MN {} already belongs to point {other}",
                    point.mn
                )));
            }
            tx.execute(
                "INSERT INTO points (id, mn, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET mn = excluded.mn, body = excluded.body",
                params![point.id, point.mn, body],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn delete_point(&self, id: &str) -> Result<bool, StoreError> {
        self.with_writer(|conn| Ok(conn.execute("DELETE FROM points WHERE id = ?1", [id])? > 0))
    }

    fn points(&self) -> Result<Vec<Point>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare("SELECT body FROM points ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for body in rows {
                out.push(serde_json::from_str(&body?).map_err(json_err("points"))?);
            }
            Ok(out)
        })
    }

    fn point(&self, id: &str) -> Result<Option<Point>, StoreError> {
        self.with_reader(|conn| {
            let body: Option<String> = conn
                .query_row("SELECT body FROM points WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            body.map(|b| serde_json::from_str(&b).map_err(json_err("points")))
                .transpose()
        })
    }

    fn series(&self, q: &SeriesQuery) -> Result<Vec<Observation>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(
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
            let mut out = Vec::new();
            for row in rows {
                let (p, t, c, ts, f) = row?;
                out.push(row_observation(p, t, c, ts, f)?);
            }
            Ok(out)
        })
    }

    fn latest(&self, point_id: &str) -> Result<Vec<Observation>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(
                "SELECT o.point_id, o.data_type, o.code, o.ts, o.fields FROM observations o
                 JOIN (SELECT data_type, code, MAX(ts) AS ts FROM observations WHERE point_id = ?1
                       GROUP BY data_type, code) m
                   ON o.data_type = m.data_type AND o.code = m.code AND o.ts = m.ts
                 WHERE o.point_id = ?1 ORDER BY o.data_type, o.code",
            )?;
            let rows = stmt.query_map([point_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (p, t, c, ts, f) = row?;
                out.push(row_observation(p, t, c, ts, f)?);
            }
            Ok(out)
        })
    }

    fn packets(&self, q: &PacketQuery) -> Result<Vec<(i64, PacketRecord)>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, body FROM packets
                 WHERE (?1 IS NULL OR mn = ?1) AND (?2 IS NULL OR received_ms >= ?2)
                   AND (?3 IS NULL OR received_ms <= ?3) AND (?4 = 0 OR status = 'quarantined')
                 ORDER BY id DESC LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    q.mn,
                    q.from_ms,
                    q.to_ms,
                    i64::from(q.quarantined_only),
                    q.limit as i64
                ],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (id, body) = row?;
                out.push((
                    id,
                    serde_json::from_str(&body).map_err(json_err("packets"))?,
                ));
            }
            Ok(out)
        })
    }

    fn history(&self, point_id: &str, limit: usize) -> Result<Vec<(i64, Observation)>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(
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
}

#[cfg(test)]
mod tests;
