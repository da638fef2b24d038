//! Alarm storage: the state of every rule window, the alarms derived from them, and every
//! alarm event.
//!
//! A rule is evaluated per window (an hour of one point's code). [`AlarmStore::set_window`]
//! records whether the window's condition holds, with its evidence. Alarms are the maximal runs
//! of consecutive active windows of one (point, rule, code): one alarm per ongoing condition.
//! Re-evaluating a window (late or corrected data) and reconciling the runs around it updates,
//! clears, or withdraws alarms; every change is an [`AlarmEvent`] kept forever.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::{SqliteStore, StoreError, json_err};

/// The state of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    /// The condition holds now.
    Raised,
    /// The condition ended.
    Cleared,
    /// Late or corrected data removed the condition altogether.
    Withdrawn,
}

impl AlarmState {
    fn name(self) -> &'static str {
        match self {
            Self::Raised => "raised",
            Self::Cleared => "cleared",
            Self::Withdrawn => "withdrawn",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "raised" => Self::Raised,
            "cleared" => Self::Cleared,
            "withdrawn" => Self::Withdrawn,
            other => {
                return Err(StoreError::Corrupt {
                    table: "alarms",
                    detail: format!("state {other}"),
                });
            }
        })
    }
}

/// What a user did with an alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handling {
    /// `acknowledged` or `dismissed`.
    pub action: String,
    /// Who.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// An alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// Identifier.
    pub id: i64,
    /// The point.
    pub point_id: String,
    /// The rule.
    pub rule_id: String,
    /// The factor code (`""` for device-level rules).
    pub code: String,
    /// Severity (`info`, `warning`, `critical`).
    pub severity: String,
    /// First window's start (Unix s).
    pub start: i64,
    /// Last active window's end (Unix s).
    pub end: i64,
    /// Raised, cleared or withdrawn.
    pub state: AlarmState,
    /// Evidence of the latest active window (rule, threshold, values, window, standard).
    pub evidence: serde_json::Value,
    /// Acknowledgement or dismissal.
    pub handling: Option<Handling>,
    /// Last change, Unix ms.
    pub updated_ms: i64,
}

/// One change of an alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmEvent {
    /// Event id (increasing).
    pub id: i64,
    /// The alarm.
    pub alarm_id: i64,
    /// When, Unix ms.
    pub at_ms: i64,
    /// `raised`, `updated`, `cleared`, `withdrawn`, `reopened`, `acknowledged`, `dismissed`.
    pub kind: String,
    /// The alarm after the change.
    pub alarm: Alarm,
}

/// One window's condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start, Unix s.
    pub start: i64,
    /// Whether the condition holds.
    pub active: bool,
    /// Why (values, threshold, standard).
    pub evidence: serde_json::Value,
}

/// One window to record, with its series.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowUpdate {
    /// The point.
    pub point_id: String,
    /// The rule.
    pub rule_id: String,
    /// The code.
    pub code: String,
    /// The rule's severity.
    pub severity: String,
    /// Window length, s.
    pub step: i64,
    /// The window.
    pub window: Window,
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
    /// Records a window's condition and reconciles the alarms of (point, rule, code) around it.
    /// `step` is the window length (s), `horizon` how far around to reconcile (s). Returns the
    /// events written.
    #[allow(clippy::too_many_arguments)]
    fn set_window(
        &self,
        point_id: &str,
        rule_id: &str,
        code: &str,
        severity: &str,
        step: i64,
        window: &Window,
        at_ms: i64,
    ) -> Result<Vec<AlarmEvent>, StoreError>;
    /// Records many windows in one transaction (the engine's batches); see [`AlarmStore::set_window`].
    fn set_windows(
        &self,
        windows: &[WindowUpdate],
        at_ms: i64,
    ) -> Result<Vec<AlarmEvent>, StoreError>;
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

/// How far around a changed window runs are rebuilt (a run longer than this keeps its far end).
const HORIZON_S: i64 = 7 * 86_400;

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
    a.state = AlarmState::parse(&state)?;
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

#[allow(clippy::too_many_arguments)]
fn set_window_tx(
    tx: &rusqlite::Transaction<'_>,
    point_id: &str,
    rule_id: &str,
    code: &str,
    severity: &str,
    step: i64,
    window: &Window,
    at_ms: i64,
) -> Result<Vec<AlarmEvent>, StoreError> {
    let evidence = serde_json::to_string(&window.evidence).map_err(json_err("rule_windows"))?;
    let before: Option<(i64, String)> = tx
        .prepare_cached("SELECT active, evidence FROM rule_windows WHERE point_id = ?1 AND rule_id = ?2 AND code = ?3 AND start = ?4")?
        .query_row(params![point_id, rule_id, code, window.start], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if before.as_ref() == Some(&(i64::from(window.active), evidence.clone())) {
        return Ok(Vec::new());
    }
    if !window.active {
        // An inactive window matters only where it ends or removes a run: when it replaces an
        // active one, or follows an active one. Everywhere else nothing is written (most
        // windows of most rules are inactive most of the time).
        let replaces_active = before.as_ref().is_some_and(|b| b.0 != 0);
        let follows_active = before.is_none()
            && tx
                .prepare_cached(
                    "SELECT 1 FROM rule_windows WHERE point_id = ?1 AND rule_id = ?2 AND code = ?3 AND start = ?4 AND active = 1",
                )?
                .query_row(params![point_id, rule_id, code, window.start - step], |_| Ok(()))
                .optional()?
                .is_some();
        if !replaces_active && !follows_active {
            return Ok(Vec::new());
        }
    }
    let same_activity = before.as_ref().map(|b| b.0) == Some(i64::from(window.active));
    tx.prepare_cached(
        "INSERT INTO rule_windows (point_id, rule_id, code, start, active, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (point_id, rule_id, code, start) DO UPDATE SET active = excluded.active, evidence = excluded.evidence",
    )?
    .execute(params![point_id, rule_id, code, window.start, i64::from(window.active), evidence])?;
    if same_activity {
        // Only the evidence changed (more data for the hour): runs are unchanged. Keep the
        // evidence of an alarm whose last window this is up to date, without an event.
        if window.active {
            tx.prepare_cached(
                "UPDATE alarms SET evidence = ?6, updated_ms = ?7
                 WHERE point_id = ?1 AND rule_id = ?2 AND code = ?3 AND end_ts = ?4 + ?5 AND state <> 'withdrawn'",
            )?
            .execute(params![point_id, rule_id, code, window.start, step, evidence, at_ms])?;
        }
        return Ok(Vec::new());
    }

    // Rebuild the runs around the window.
    let (lo, hi) = (window.start - HORIZON_S, window.start + HORIZON_S);
    let mut windows: Vec<(i64, bool, String)> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT start, active, evidence FROM rule_windows WHERE point_id = ?1 AND rule_id = ?2 AND code = ?3
             AND start BETWEEN ?4 AND ?5 ORDER BY start",
        )?;
        let mut rows = stmt.query(params![point_id, rule_id, code, lo, hi])?;
        while let Some(r) = rows.next()? {
            windows.push((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?));
        }
    }
    let latest = windows.last().map(|w| w.0);
    // Runs: (start, last start, evidence of the last window).
    let mut runs: Vec<(i64, i64, String)> = Vec::new();
    for (start, active, ev) in &windows {
        if !active {
            continue;
        }
        match runs.last_mut() {
            Some(run) if run.1 + step == *start => {
                run.1 = *start;
                run.2 = ev.clone();
            }
            _ => runs.push((*start, *start, ev.clone())),
        }
    }
    let mut existing: Vec<Alarm> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {ALARM_COLUMNS} FROM alarms WHERE point_id = ?1 AND rule_id = ?2 AND code = ?3
             AND end_ts >= ?4 AND start <= ?5 AND state <> 'withdrawn' ORDER BY start"
        ))?;
        let rows = stmt.query_map(params![point_id, rule_id, code, lo, hi], row_alarm)?;
        for r in rows {
            existing.push(finish(r?)?);
        }
    }
    let mut events = Vec::new();
    let mut used = vec![false; existing.len()];
    for (rs, re, ev) in runs {
        let (start, end) = (rs, re + step);
        let ongoing = Some(re) == latest;
        let state = if ongoing {
            AlarmState::Raised
        } else {
            AlarmState::Cleared
        };
        let evidence: serde_json::Value =
            serde_json::from_str(&ev).map_err(json_err("rule_windows"))?;
        match existing.iter().position(|a| a.start < end && a.end > start) {
            Some(i) if !used[i] => {
                used[i] = true;
                let mut a = existing[i].clone();
                let kind = match (a.state, state) {
                    (AlarmState::Raised, AlarmState::Cleared) => "cleared",
                    (AlarmState::Cleared, AlarmState::Raised) => "reopened",
                    _ => "updated",
                };
                // A run reaching the horizon keeps the alarm's earlier start.
                let start = if a.start < lo { a.start } else { start };
                if a.start == start && a.end == end && a.state == state {
                    // Same span and state: keep the latest evidence without an event (a new
                    // event per packet would flood the stream and the history).
                    if a.evidence != evidence {
                        a.evidence = evidence;
                        a.updated_ms = at_ms;
                        save_alarm(tx, &a)?;
                    }
                    continue;
                }
                a.start = start;
                a.end = end;
                a.state = state;
                a.evidence = evidence;
                a.updated_ms = at_ms;
                save_alarm(tx, &a)?;
                events.push(write_event(tx, &a, kind, at_ms)?);
            }
            _ => {
                let body = serde_json::to_string(&evidence).map_err(json_err("alarms"))?;
                tx.prepare_cached(
                    "INSERT INTO alarms (point_id, rule_id, code, severity, start, end_ts, state, evidence, handling, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
                )?
                .execute(params![point_id, rule_id, code, severity, start, end, state.name(), body, at_ms])?;
                let a = Alarm {
                    id: tx.last_insert_rowid(),
                    point_id: point_id.to_owned(),
                    rule_id: rule_id.to_owned(),
                    code: code.to_owned(),
                    severity: severity.to_owned(),
                    start,
                    end,
                    state,
                    evidence,
                    handling: None,
                    updated_ms: at_ms,
                };
                existing.push(a.clone());
                used.push(true);
                events.push(write_event(
                    tx,
                    &a,
                    if ongoing {
                        "raised"
                    } else {
                        "raised_and_cleared"
                    },
                    at_ms,
                )?);
            }
        }
    }
    for (i, a) in existing.iter().enumerate() {
        if !used[i] {
            let mut a = a.clone();
            a.state = AlarmState::Withdrawn;
            a.updated_ms = at_ms;
            save_alarm(tx, &a)?;
            events.push(write_event(tx, &a, "withdrawn", at_ms)?);
        }
    }
    Ok(events)
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

    fn set_window(
        &self,
        point_id: &str,
        rule_id: &str,
        code: &str,
        severity: &str,
        step: i64,
        window: &Window,
        at_ms: i64,
    ) -> Result<Vec<AlarmEvent>, StoreError> {
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let events =
                set_window_tx(&tx, point_id, rule_id, code, severity, step, window, at_ms)?;
            tx.commit()?;
            Ok(events)
        })
    }

    fn set_windows(
        &self,
        windows: &[WindowUpdate],
        at_ms: i64,
    ) -> Result<Vec<AlarmEvent>, StoreError> {
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let mut events = Vec::new();
            for w in windows {
                events.extend(set_window_tx(
                    &tx,
                    &w.point_id,
                    &w.rule_id,
                    &w.code,
                    &w.severity,
                    w.step,
                    &w.window,
                    at_ms,
                )?);
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
        self.with_writer(|conn| {
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

    fn store() -> (tempfile::TempDir, Box<dyn AlarmStore>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = SqliteStore::open(&dir.path().join("huanghe.db")).expect("opens");
        (dir, Box::new(s))
    }

    fn set(s: &dyn AlarmStore, hour: i64, active: bool) -> Vec<String> {
        let w = Window {
            start: hour * 3600,
            active,
            evidence: json!({"value": hour}),
        };
        s.set_window(
            "p",
            "exceedance",
            "a21026",
            "critical",
            3600,
            &w,
            hour * 1000,
        )
        .expect("set")
        .into_iter()
        .map(|e| e.kind)
        .collect()
    }

    #[test]
    fn one_alarm_per_ongoing_condition_cleared_reopened_and_withdrawn() {
        let (_d, s) = store();
        assert!(set(s.as_ref(), 1, false).is_empty());
        assert_eq!(set(s.as_ref(), 2, true), ["raised"]);
        assert_eq!(
            set(s.as_ref(), 3, true),
            ["updated"],
            "the same condition goes on"
        );
        assert_eq!(set(s.as_ref(), 4, false), ["cleared"]);
        let all = s
            .alarms(&AlarmQuery {
                limit: 10,
                ..AlarmQuery::default()
            })
            .expect("alarms");
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].start, all[0].end, all[0].state),
            (7200, 14_400, AlarmState::Cleared)
        );
        // Late data: hour 4 was in fact exceeding too -> the same alarm, ongoing again.
        assert_eq!(set(s.as_ref(), 4, true), ["reopened"]);
        // A correction removes hours 2-4: the alarm is withdrawn, its history kept.
        set(s.as_ref(), 2, false);
        set(s.as_ref(), 3, false);
        assert_eq!(set(s.as_ref(), 4, false), ["withdrawn"]);
        let a = s.alarm(all[0].id).expect("read").expect("exists");
        assert_eq!(a.state, AlarmState::Withdrawn);
        let kinds: Vec<String> = s
            .alarm_events(a.id)
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds.first().map(String::as_str), Some("raised"));
        assert_eq!(kinds.last().map(String::as_str), Some("withdrawn"));
        // Handling is recorded.
        let e = s
            .handle_alarm(
                a.id,
                Handling {
                    action: "acknowledged".into(),
                    by: "officer".into(),
                    reason: "seen".into(),
                    at_ms: 9,
                },
            )
            .expect("ack");
        assert_eq!(e.alarm.handling.map(|h| h.by), Some("officer".into()));
    }
}
