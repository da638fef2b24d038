//! Cases: their chained events (append-only), a summary row per case for lists, the alarms each
//! case covers, and attachments.
//!
//! The events are the record; the summary (`cases` table) is the fold of them that the caller
//! computed with the `cases` crate, stored so that lists and filters need not replay every case.
//! Appending names the sequence number it follows: if another action was recorded meanwhile the
//! append is refused (`Conflict`) and the caller re-reads and re-checks, so two officers cannot
//! both move a case from the same state.

use cases::{AttachmentRef, Case, CaseEvent};
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, StoreError, json_err};

/// A filter on cases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseQuery {
    /// Only in this state (`open`, `dispatched`, ...).
    pub state: Option<String>,
    /// Only cases not closed.
    pub open_only: bool,
    /// Only this district.
    pub district: Option<String>,
    /// Only this enterprise.
    pub enterprise: Option<String>,
    /// Only this officer.
    pub officer: Option<String>,
    /// Only this point.
    pub point_id: Option<String>,
    /// Only cases covering this alarm.
    pub alarm: Option<i64>,
    /// Only cases opened at or after, Unix ms.
    pub from_ms: Option<i64>,
    /// Only cases opened before, Unix ms.
    pub to_ms: Option<i64>,
    /// At most this many, newest first (0: no limit).
    pub limit: u32,
}

/// An attachment with its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Reference (id, name, size, digest).
    pub meta: AttachmentRef,
    /// The case it belongs to.
    pub case_id: i64,
    /// MIME type as uploaded.
    pub content_type: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When, Unix ms.
    pub uploaded_ms: i64,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Storage of cases. See the [module docs](self).
pub trait CaseStore: Send + Sync + 'static {
    /// Creates a case from its `opened` event and its fold; returns the new id.
    fn create_case(&self, event: &CaseEvent, case: &Case) -> Result<i64, StoreError>;
    /// Appends an event (which must follow the last stored one) and the new fold.
    fn append_case_event(
        &self,
        case_id: i64,
        event: &CaseEvent,
        case: &Case,
    ) -> Result<(), StoreError>;
    /// A case's events, in order.
    fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>, StoreError>;
    /// A case's stored fold.
    fn case(&self, case_id: i64) -> Result<Option<Case>, StoreError>;
    /// Cases matching a filter, newest first.
    fn cases(&self, q: &CaseQuery) -> Result<Vec<Case>, StoreError>;
    /// Stores an attachment of a case.
    fn add_attachment(&self, attachment: &Attachment) -> Result<AttachmentRef, StoreError>;
    /// One attachment.
    fn attachment(&self, id: i64) -> Result<Option<Attachment>, StoreError>;
}

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    district TEXT,
    enterprise TEXT,
    officer TEXT,
    point_id TEXT,
    opened_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_by_state ON cases (state, opened_ms);
CREATE TABLE IF NOT EXISTS case_events (
    case_id INTEGER NOT NULL REFERENCES cases (id),
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS case_alarms (
    alarm_id INTEGER NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    PRIMARY KEY (alarm_id, case_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS case_attachments (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_ms INTEGER NOT NULL,
    content BLOB NOT NULL
);
"#;

fn body(case: &Case) -> Result<String, StoreError> {
    serde_json::to_string(case).map_err(json_err("cases"))
}

fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    case_id: i64,
    e: &CaseEvent,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO case_events (case_id, seq, at_ms, actor, action, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![case_id, e.seq, e.at_ms, e.actor, e.action_json, e.prev_hash, e.hash],
    )?;
    Ok(())
}

fn update_summary(
    tx: &rusqlite::Transaction<'_>,
    case_id: i64,
    seq: u32,
    case: &Case,
) -> Result<(), StoreError> {
    let mut case = case.clone();
    case.id = case_id;
    tx.execute(
        "UPDATE cases SET state = ?2, district = ?3, enterprise = ?4, officer = ?5, point_id = ?6, last_seq = ?7, body = ?8 WHERE id = ?1",
        params![case_id, case.state.as_str(), case.district, case.enterprise, case.officer, case.point_id, seq, body(&case)?],
    )?;
    for a in &case.alarms {
        tx.execute(
            "INSERT OR IGNORE INTO case_alarms (alarm_id, case_id) VALUES (?1, ?2)",
            params![a, case_id],
        )?;
    }
    Ok(())
}

impl CaseStore for SqliteStore {
    fn create_case(&self, event: &CaseEvent, case: &Case) -> Result<i64, StoreError> {
        if event.seq != 1 {
            return Err(StoreError::Conflict(
                "a case is created by its first event".into(),
            ));
        }
        self.with_side_writer(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO cases (state, opened_ms, last_seq, body) VALUES ('open', ?1, 0, '{}')",
                [case.opened_ms],
            )?;
            let id = tx.last_insert_rowid();
            insert_event(&tx, id, event)?;
            update_summary(&tx, id, event.seq, case)?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn append_case_event(
        &self,
        case_id: i64,
        event: &CaseEvent,
        case: &Case,
    ) -> Result<(), StoreError> {
        self.with_side_writer(|c| {
            let tx = c.transaction()?;
            let last: Option<u32> = tx
                .query_row("SELECT last_seq FROM cases WHERE id = ?1", [case_id], |r| {
                    r.get(0)
                })
                .optional()?;
            match last {
                None => return Err(StoreError::NotFound(format!("no case {case_id}"))),
                Some(l) if l + 1 != event.seq => {
                    return Err(StoreError::Conflict(format!(
                        "case {case_id} changed meanwhile (now at event {l}); read it again"
                    )));
                }
                Some(_) => {}
            }
            insert_event(&tx, case_id, event)?;
            update_summary(&tx, case_id, event.seq, case)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>, StoreError> {
        self.with_reader(|c| {
            let mut st = c.prepare(
                "SELECT seq, at_ms, actor, action, prev_hash, hash FROM case_events WHERE case_id = ?1 ORDER BY seq",
            )?;
            let rows = st.query_map([case_id], |r| {
                Ok(CaseEvent {
                    seq: r.get(0)?,
                    at_ms: r.get(1)?,
                    actor: r.get(2)?,
                    action_json: r.get(3)?,
                    prev_hash: r.get(4)?,
                    hash: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn case(&self, case_id: i64) -> Result<Option<Case>, StoreError> {
        let text: Option<String> = self.with_reader(|c| {
            Ok(
                c.query_row("SELECT body FROM cases WHERE id = ?1", [case_id], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })?;
        text.map(|t| serde_json::from_str(&t).map_err(json_err("cases")))
            .transpose()
    }

    fn cases(&self, q: &CaseQuery) -> Result<Vec<Case>, StoreError> {
        let texts: Vec<String> = self.with_reader(|c| {
            let mut st = c.prepare(
                "SELECT body FROM cases c WHERE (?1 IS NULL OR state = ?1) AND (?2 = 0 OR state != 'closed') \
                 AND (?3 IS NULL OR district = ?3) AND (?4 IS NULL OR enterprise = ?4) \
                 AND (?5 IS NULL OR officer = ?5) AND (?6 IS NULL OR point_id = ?6) \
                 AND (?7 IS NULL OR EXISTS (SELECT 1 FROM case_alarms a WHERE a.case_id = c.id AND a.alarm_id = ?7)) \
                 AND (?8 IS NULL OR opened_ms >= ?8) AND (?9 IS NULL OR opened_ms < ?9) \
                 ORDER BY id DESC LIMIT ?10",
            )?;
            let limit = if q.limit == 0 { -1 } else { i64::from(q.limit) };
            let rows = st.query_map(
                params![
                    q.state,
                    q.open_only as i64,
                    q.district,
                    q.enterprise,
                    q.officer,
                    q.point_id,
                    q.alarm,
                    q.from_ms,
                    q.to_ms,
                    limit
                ],
                |r| r.get(0),
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        texts
            .iter()
            .map(|t| serde_json::from_str(t).map_err(json_err("cases")))
            .collect()
    }

    fn add_attachment(&self, a: &Attachment) -> Result<AttachmentRef, StoreError> {
        self.with_side_writer(|c| {
            c.execute(
                "INSERT INTO case_attachments (case_id, name, content_type, size, sha256, uploaded_by, uploaded_ms, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.case_id, a.meta.name, a.content_type, a.content.len() as i64, a.meta.sha256, a.uploaded_by, a.uploaded_ms, a.content],
            )?;
            Ok(AttachmentRef {
                id: c.last_insert_rowid(),
                name: a.meta.name.clone(),
                size: a.content.len() as u64,
                sha256: a.meta.sha256.clone(),
            })
        })
    }

    fn attachment(&self, id: i64) -> Result<Option<Attachment>, StoreError> {
        self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT id, name, size, sha256, case_id, content_type, uploaded_by, uploaded_ms, content FROM case_attachments WHERE id = ?1",
                [id],
                |r| {
                    Ok(Attachment {
                        meta: AttachmentRef {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            size: r.get::<_, i64>(2)? as u64,
                            sha256: r.get(3)?,
                        },
                        case_id: r.get(4)?,
                        content_type: r.get(5)?,
                        uploaded_by: r.get(6)?,
                        uploaded_ms: r.get(7)?,
                        content: r.get(8)?,
                    })
                },
            )
            .optional()?)
        })
    }
}
