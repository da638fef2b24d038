//! Alarm storage: the verdict of every rule window, the alarms derived from them, and every
//! alarm event.
//!
//! The alarm engine decides (see `domain::alarm`); this module writes its [`Effect`]s down in
//! one transaction and reads back what the engine needs to decide the next ones: a series'
//! windows and its alarms around a window. Every alarm change is an [`AlarmEvent`] kept forever.

use domain::{Alarm, AlarmEvent, AlarmState, Effect, Handling, SeriesKey, Window};
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, StoreError, json_err};

fn parse_state(s: &str) -> Result<AlarmState, StoreError> {
    AlarmState::from_name(s).ok_or_else(|| StoreError::Corrupt {
        table: "alarms",
        detail: format!("state {s}"),
    })
}

/// Alarm filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmQuery {
    /// Only this point.
    pub point_id: Option<String>,
    /// Only this rule.
    pub rule_id: Option<String>,
    /// Only this state.
    pub state: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Overlapping from this Unix s.
    pub from: Option<i64>,
    /// Overlapping to this Unix s.
    pub to: Option<i64>,
    /// Most rows (newest first).
    pub limit: usize,
}

/// Alarm storage. See the [module docs](self).
pub trait AlarmStore: Send + Sync + 'static {
    /// Runs the engine's `decide` in one transaction: it reads what it needs through
    /// [`AlarmReads`] and returns the effects, which are written before the transaction
    /// commits. Returns the events written. A new alarm (negative id) gets its id here; a later
    /// effect with that negative id refers to it.
    fn decide(&self, decide: &mut Decide<'_>) -> Result<Vec<AlarmEvent>, StoreError>;
    /// Writes effects decided already (see [`AlarmStore::decide`]).
    fn record(&self, effects: &[Effect]) -> Result<Vec<AlarmEvent>, StoreError> {
        self.decide(&mut |_| Ok(effects.to_vec()))
    }
    /// Alarms, newest first.
    fn alarms(&self, q: &AlarmQuery) -> Result<Vec<Alarm>, StoreError>;
    /// One alarm.
    fn alarm(&self, id: i64) -> Result<Option<Alarm>, StoreError>;
    /// An alarm's events, oldest first.
    fn alarm_events(&self, id: i64) -> Result<Vec<AlarmEvent>, StoreError>;
    /// Acknowledges or dismisses an alarm.
    fn handle_alarm(&self, id: i64, handling: Handling) -> Result<AlarmEvent, StoreError>;
    /// The (point, hour start) pairs whose validity the engine has still to judge: its list,
    /// kept here so that hours touched just before a restart are judged after it.
    fn unsettled_hours(&self) -> Result<Vec<(String, i64)>, StoreError>;
    /// Adds hours to that list and removes others, in one transaction.
    fn set_unsettled(
        &self,
        add: &[(String, i64)],
        remove: &[(String, i64)],
    ) -> Result<(), StoreError>;
}

/// The engine's decision over what it reads: the effects to write.
pub type Decide<'a> = dyn FnMut(&dyn AlarmReads) -> Result<Vec<Effect>, StoreError> + 'a;

/// A series' stored verdicts and its alarms (not withdrawn) over a range.
pub type History = (Vec<Window>, Vec<Alarm>);

/// What the engine reads while it decides, inside [`AlarmStore::decide`]'s transaction.
pub trait AlarmReads {
    /// The stored verdicts of each series over `[from, to]` (window starts), in start order.
    /// Inactive windows that neither end nor replace an active one are not stored.
    fn windows(&self, ranges: &[(SeriesKey, i64, i64)]) -> Result<Vec<Vec<Window>>, StoreError>;
    /// For each series, its stored verdicts over `[from, to]` and its alarms (not withdrawn)
    /// overlapping it, in start order: what a change of activity needs.
    fn history(&self, ranges: &[(SeriesKey, i64, i64)]) -> Result<Vec<History>, StoreError>;
}

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS rule_windows (
    point_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    code TEXT NOT NULL,
    start INTEGER NOT NULL,
    active INTEGER NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (point_id, rule_id, code, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY,
    point_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    start INTEGER NOT NULL,
    end_ts INTEGER NOT NULL,
    state TEXT NOT NULL,
    evidence TEXT NOT NULL,
    handling TEXT,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alarms_by_series ON alarms (point_id, rule_id, code, start);
CREATE TABLE IF NOT EXISTS alarm_events (
    id INTEGER PRIMARY KEY,
    alarm_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    alarm TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_events_by_alarm ON alarm_events (alarm_id, id);
CREATE TABLE IF NOT EXISTS alarm_unsettled (
    point_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    PRIMARY KEY (point_id, hour)
) WITHOUT ROWID;
"#;

fn row_alarm(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Alarm, String, String, Option<String>)> {
    Ok((
        Alarm {
            id: r.get(0)?,
            point_id: r.get(1)?,
            rule_id: r.get(2)?,
            code: r.get(3)?,
            severity: r.get(4)?,
            start: r.get(5)?,
            end: r.get(6)?,
            state: AlarmState::Raised,
            evidence: serde_json::Value::Null,
            handling: None,
            updated_ms: r.get(10)?,
        },
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn finish(raw: (Alarm, String, String, Option<String>)) -> Result<Alarm, StoreError> {
    let (mut a, state, evidence, handling) = raw;
    a.state = parse_state(&state)?;
    a.evidence = serde_json::from_str(&evidence).map_err(json_err("alarms"))?;
    a.handling = handling
        .map(|h| serde_json::from_str(&h).map_err(json_err("alarms")))
        .transpose()?;
    Ok(a)
}

const ALARM_COLUMNS: &str =
    "id, point_id, rule_id, code, severity, start, end_ts, state, evidence, handling, updated_ms";

fn write_event(
    tx: &rusqlite::Transaction<'_>,
    alarm: &Alarm,
    kind: &str,
    at_ms: i64,
) -> Result<AlarmEvent, StoreError> {
    let body = serde_json::to_string(alarm).map_err(json_err("alarm_events"))?;
    tx.prepare_cached(
        "INSERT INTO alarm_events (alarm_id, at_ms, kind, alarm) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![alarm.id, at_ms, kind, body])?;
    Ok(AlarmEvent {
        id: tx.last_insert_rowid(),
        alarm_id: alarm.id,
        at_ms,
        kind: kind.to_owned(),
        alarm: alarm.clone(),
    })
}

fn save_alarm(tx: &rusqlite::Transaction<'_>, a: &Alarm) -> Result<(), StoreError> {
    let evidence = serde_json::to_string(&a.evidence).map_err(json_err("alarms"))?;
    let handling = a
        .handling
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(json_err("alarms"))?;
    tx.prepare_cached(
        "UPDATE alarms SET start = ?2, end_ts = ?3, state = ?4, evidence = ?5, handling = ?6, updated_ms = ?7 WHERE id = ?1",
    )?
    .execute(params![a.id, a.start, a.end, a.state.name(), evidence, handling, a.updated_ms])?;
    Ok(())
}

/// The engine's reads inside its transaction.
struct TxReads<'a>(&'a rusqlite::Transaction<'a>);

impl AlarmReads for TxReads<'_> {
    fn windows(&self, ranges: &[(SeriesKey, i64, i64)]) -> Result<Vec<Vec<Window>>, StoreError> {
        ranges.iter().map(|r| windows_of(self.0, r)).collect()
    }

    fn history(&self, ranges: &[(SeriesKey, i64, i64)]) -> Result<Vec<History>, StoreError> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {ALARM_COLUMNS} FROM alarms WHERE point_id = ?1 AND rule_id = ?2 AND code = ?3
             AND end_ts >= ?4 AND start <= ?5 AND state <> 'withdrawn' ORDER BY start"
        ))?;
        let mut out = Vec::with_capacity(ranges.len());
        for r in ranges {
            let (key, from, to) = r;
            let rows = stmt.query_map(
                params![key.point_id, key.rule_id, key.code, from, to],
                row_alarm,
            )?;
            let alarms = rows.map(|a| finish(a?)).collect::<Result<Vec<_>, _>>()?;
            out.push((windows_of(self.0, r)?, alarms));
        }
        Ok(out)
    }
}

/// The stored verdicts of one series over a range of window starts.
fn windows_of(
    conn: &rusqlite::Connection,
    (key, from, to): &(SeriesKey, i64, i64),
) -> Result<Vec<Window>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT start, active, evidence FROM rule_windows WHERE point_id = ?1 AND rule_id = ?2 AND code = ?3
         AND start BETWEEN ?4 AND ?5 ORDER BY start",
    )?;
    let mut rows = stmt.query(params![key.point_id, key.rule_id, key.code, from, to])?;
    let mut windows = Vec::new();
    while let Some(r) = rows.next()? {
        let evidence: String = r.get(2)?;
        windows.push(Window {
            start: r.get(0)?,
            active: r.get::<_, i64>(1)? != 0,
            evidence: serde_json::from_str(&evidence).map_err(json_err("rule_windows"))?,
        });
    }
    Ok(windows)
}

/// Inserts a new alarm (its negative id mapped to the one assigned) or updates an alarm's span,
/// state and evidence, keeping its stored handling; returns it as stored.
fn put_alarm(
    tx: &rusqlite::Transaction<'_>,
    alarm: &Alarm,
    assigned: &mut std::collections::HashMap<i64, i64>,
) -> Result<Alarm, StoreError> {
    let mut a = alarm.clone();
    let evidence = serde_json::to_string(&a.evidence).map_err(json_err("alarms"))?;
    if let Some(id) = assigned.get(&a.id) {
        a.id = *id;
    }
    if a.id < 0 {
        tx.prepare_cached(
            "INSERT INTO alarms (point_id, rule_id, code, severity, start, end_ts, state, evidence, handling, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
        )?
        .execute(params![a.point_id, a.rule_id, a.code, a.severity, a.start, a.end, a.state.name(), evidence, a.updated_ms])?;
        let id = tx.last_insert_rowid();
        assigned.insert(a.id, id);
        a.id = id;
        a.handling = None;
        return Ok(a);
    }
    let handling: Option<String> = tx
        .prepare_cached(
            "UPDATE alarms SET start = ?2, end_ts = ?3, state = ?4, evidence = ?5, updated_ms = ?6 WHERE id = ?1
             RETURNING handling",
        )?
        .query_row(
            params![a.id, a.start, a.end, a.state.name(), evidence, a.updated_ms],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("alarm {}", a.id)))?;
    a.handling = handling
        .map(|h| serde_json::from_str(&h).map_err(json_err("alarms")))
        .transpose()?;
    Ok(a)
}

fn apply_effect(
    tx: &rusqlite::Transaction<'_>,
    effect: &Effect,
    assigned: &mut std::collections::HashMap<i64, i64>,
    events: &mut Vec<AlarmEvent>,
) -> Result<(), StoreError> {
    match effect {
        Effect::PutWindow { key, window } => {
            let evidence =
                serde_json::to_string(&window.evidence).map_err(json_err("rule_windows"))?;
            tx.prepare_cached(
                "INSERT INTO rule_windows (point_id, rule_id, code, start, active, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (point_id, rule_id, code, start) DO UPDATE SET active = excluded.active, evidence = excluded.evidence",
            )?
            .execute(params![key.point_id, key.rule_id, key.code, window.start, i64::from(window.active), evidence])?;
        }
        Effect::RefreshEvidence {
            key,
            end,
            evidence,
            at_ms,
        } => {
            let evidence = serde_json::to_string(evidence).map_err(json_err("alarms"))?;
            tx.prepare_cached(
                "UPDATE alarms SET evidence = ?5, updated_ms = ?6
                 WHERE point_id = ?1 AND rule_id = ?2 AND code = ?3 AND end_ts = ?4 AND state <> 'withdrawn'",
            )?
            .execute(params![key.point_id, key.rule_id, key.code, end, evidence, at_ms])?;
        }
        Effect::PutAlarm { alarm, event } => {
            let stored = put_alarm(tx, alarm, assigned)?;
            if let Some(kind) = event {
                events.push(write_event(tx, &stored, kind, stored.updated_ms)?);
            }
        }
    }
    Ok(())
}

impl AlarmStore for SqliteStore {
    fn unsettled_hours(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT point_id, hour FROM alarm_unsettled ORDER BY 1, 2")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn set_unsettled(
        &self,
        add: &[(String, i64)],
        remove: &[(String, i64)],
    ) -> Result<(), StoreError> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            for (point, hour) in add {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO alarm_unsettled (point_id, hour) VALUES (?1, ?2)",
                )?
                .execute(rusqlite::params![point, hour])?;
            }
            for (point, hour) in remove {
                tx.prepare_cached("DELETE FROM alarm_unsettled WHERE point_id = ?1 AND hour = ?2")?
                    .execute(rusqlite::params![point, hour])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn decide(&self, decide: &mut Decide<'_>) -> Result<Vec<AlarmEvent>, StoreError> {
        // On the ingest connection, between its batches, in one taking of it: the engine
        // decides after nearly every batch; on a connection of its own each of its writes made
        // the ingest connection drop its page cache (and the other way round), and each
        // separate taking waited for an ingest commit. Measured with `bench ingest` (README):
        // alarm latency p99 0.7-1.7 s on a connection of its own, 0.19-0.92 s here, against
        // 0.29-1.16 s before the engine had its own crate.
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let effects = decide(&TxReads(&tx))?;
            if effects.is_empty() {
                return Ok(Vec::new());
            }
            let mut assigned = std::collections::HashMap::new();
            let mut events = Vec::new();
            for e in &effects {
                apply_effect(&tx, e, &mut assigned, &mut events)?;
            }
            tx.commit()?;
            Ok(events)
        })
    }

    fn alarms(&self, q: &AlarmQuery) -> Result<Vec<Alarm>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ALARM_COLUMNS} FROM alarms
                 WHERE (?1 IS NULL OR point_id = ?1) AND (?2 IS NULL OR rule_id = ?2) AND (?3 IS NULL OR state = ?3)
                   AND (?4 IS NULL OR severity = ?4) AND (?5 IS NULL OR end_ts >= ?5) AND (?6 IS NULL OR start <= ?6)
                 ORDER BY updated_ms DESC, id DESC LIMIT ?7"
            ))?;
            let rows = stmt.query_map(
                params![q.point_id, q.rule_id, q.state, q.severity, q.from, q.to, q.limit as i64],
                row_alarm,
            )?;
            rows.map(|r| finish(r?)).collect()
        })
    }

    fn alarm(&self, id: i64) -> Result<Option<Alarm>, StoreError> {
        self.with_reader(|conn| {
            conn.prepare_cached(&format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE id = ?1"))?
                .query_row([id], row_alarm)
                .optional()?
                .map(finish)
                .transpose()
        })
    }

    fn alarm_events(&self, id: i64) -> Result<Vec<AlarmEvent>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, at_ms, kind, alarm FROM alarm_events WHERE alarm_id = ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([id])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let body: String = r.get(3)?;
                out.push(AlarmEvent {
                    id: r.get(0)?,
                    alarm_id: id,
                    at_ms: r.get(1)?,
                    kind: r.get(2)?,
                    alarm: serde_json::from_str(&body).map_err(json_err("alarm_events"))?,
                });
            }
            Ok(out)
        })
    }

    fn handle_alarm(&self, id: i64, handling: Handling) -> Result<AlarmEvent, StoreError> {
        self.with_side_writer(|conn| {
            let tx = conn.transaction()?;
            let mut a = tx
                .prepare_cached(&format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE id = ?1"))?
                .query_row([id], row_alarm)
                .optional()?
                .map(finish)
                .transpose()?
                .ok_or_else(|| StoreError::NotFound(format!("alarm {id}")))?;
            let at = handling.at_ms;
            let kind = handling.action.clone();
            a.handling = Some(handling);
            a.updated_ms = at;
            save_alarm(&tx, &a)?;
            let e = write_event(&tx, &a, &kind, at)?;
            tx.commit()?;
            Ok(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SeriesKey {
        SeriesKey {
            point_id: "p".into(),
            rule_id: "exceedance".into(),
            code: "a21026".into(),
        }
    }

    fn alarm(id: i64, end: i64, state: AlarmState, at_ms: i64) -> Alarm {
        Alarm {
            id,
            point_id: "p".into(),
            rule_id: "exceedance".into(),
            code: "a21026".into(),
            severity: "critical".into(),
            start: 3600,
            end,
            state,
            evidence: json!({"end": end}),
            handling: None,
            updated_ms: at_ms,
        }
    }

    #[test]
    fn effects_are_written_in_order_and_new_alarms_get_their_ids() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = SqliteStore::open(&dir.path().join("huanghe.db")).expect("opens");
        let window = |start, active| Effect::PutWindow {
            key: key(),
            window: Window {
                start,
                active,
                evidence: json!({"start": start}),
            },
        };
        // A window, an alarm opened in the same batch and updated again later in it.
        let events = s
            .record(&[
                window(3600, true),
                Effect::PutAlarm {
                    alarm: alarm(-1, 7200, AlarmState::Raised, 1),
                    event: Some("raised"),
                },
                window(7200, true),
                Effect::PutAlarm {
                    alarm: alarm(-1, 10_800, AlarmState::Raised, 2),
                    event: Some("updated"),
                },
            ])
            .expect("record");
        assert_eq!(events.len(), 2);
        let id = events[0].alarm_id;
        assert!(id > 0);
        assert_eq!(
            events[1].alarm_id, id,
            "the second effect refers to the first"
        );
        let mut seen = Vec::new();
        s.decide(&mut |reads| {
            seen = reads.history(&[(key(), 0, 20_000)])?;
            Ok(Vec::new())
        })
        .expect("read");
        let (windows, stored) = seen.remove(0);
        assert_eq!((stored.len(), stored[0].end), (1, 10_800));
        assert_eq!(windows.len(), 2);
        // A user acknowledges it meanwhile; the engine's next change keeps the handling.
        s.handle_alarm(
            id,
            Handling {
                action: "acknowledged".into(),
                by: "officer".into(),
                reason: "seen".into(),
                at_ms: 3,
            },
        )
        .expect("ack");
        let events = s
            .record(&[
                Effect::PutAlarm {
                    alarm: alarm(id, 10_800, AlarmState::Cleared, 4),
                    event: Some("cleared"),
                },
                Effect::RefreshEvidence {
                    key: key(),
                    end: 10_800,
                    evidence: json!({"more": "data"}),
                    at_ms: 5,
                },
            ])
            .expect("record");
        assert_eq!(
            events[0].alarm.handling.as_ref().map(|h| h.by.as_str()),
            Some("officer")
        );
        let a = s.alarm(id).expect("read").expect("exists");
        assert_eq!(a.state, AlarmState::Cleared);
        assert_eq!(a.evidence, json!({"more": "data"}));
        assert!(a.handling.is_some());
        let kinds: Vec<String> = s
            .alarm_events(id)
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["raised", "updated", "acknowledged", "cleared"]);
        // Updating an alarm that does not exist is an error, and nothing of the batch is kept.
        let err = s.record(&[
            window(14_400, true),
            Effect::PutAlarm {
                alarm: alarm(9_999, 18_000, AlarmState::Raised, 6),
                event: Some("updated"),
            },
        ]);
        assert!(matches!(err, Err(StoreError::NotFound(_))), "{err:?}");
        let mut kept = Vec::new();
        s.decide(&mut |reads| {
            kept = reads.windows(&[(key(), 14_400, 14_400)])?;
            Ok(Vec::new())
        })
        .expect("read");
        assert!(kept[0].is_empty(), "nothing of the failed batch is kept");
    }
}
