//! Alarms as data: the state of a rule's window, the alarm derived from a run of active windows,
//! its events, and the changes the alarm engine decides and the store persists ([`Effect`]).
//!
//! A rule is evaluated per window (an hour, or five minutes for silence) of one series: a
//! (point, rule, code) triple, the [`SeriesKey`]. Alarms are the maximal runs of consecutive
//! active windows of one series: one alarm per ongoing condition. The engine decides how a new
//! window changes the runs (raise, update, clear, reopen, withdraw); the store only writes the
//! effects down.

use serde::{Deserialize, Serialize};

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
    /// The stored and serialised name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raised => "raised",
            Self::Cleared => "cleared",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The state named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Raised, Self::Cleared, Self::Withdrawn]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// What a user did with an alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handling {
    /// `acknowledged` or `dismissed`.
    pub action: String,
    /// Who, by user name.
    pub by: String,
    /// The user's reason, required.
    pub reason: String,
    /// Unix ms.
    pub at_ms: i64,
}

/// An alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// Assigned by the store; negative while only the engine knows the alarm (an alarm opened
    /// in a batch not yet written).
    pub id: i64,
    /// The monitoring point's id (its key in the points registry).
    pub point_id: String,
    /// The rule's id in the rules file.
    pub rule_id: String,
    /// The factor code (`""` for device-level rules).
    pub code: String,
    /// `info`, `warning` or `critical`.
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

impl Alarm {
    /// The series the alarm belongs to.
    pub fn key(&self) -> SeriesKey {
        SeriesKey {
            point_id: self.point_id.clone(),
            rule_id: self.rule_id.clone(),
            code: self.code.clone(),
        }
    }
}

/// One change of an alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmEvent {
    /// Increasing with time: the order events happened in.
    pub id: i64,
    /// The alarm it changed.
    pub alarm_id: i64,
    /// Unix ms.
    pub at_ms: i64,
    /// `raised`, `raised_and_cleared`, `updated`, `cleared`, `withdrawn`, `reopened`,
    /// `acknowledged`, `dismissed`.
    pub kind: String,
    /// The alarm after the change.
    pub alarm: Alarm,
}

/// The series of windows one rule judges for one code of one point.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    /// The monitoring point's id (its key in the points registry).
    pub point_id: String,
    /// The rule's id in the rules file.
    pub rule_id: String,
    /// The factor code (`""` for device-level rules).
    pub code: String,
}

/// One window's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start, Unix s.
    pub start: i64,
    /// Whether the condition holds.
    pub active: bool,
    /// Why (values, threshold, standard).
    pub evidence: serde_json::Value,
}

/// A window verdict to record, with its series.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowUpdate {
    /// The (point, rule, code) whose window it is.
    pub key: SeriesKey,
    /// The rule's severity (given to an alarm it opens).
    pub severity: String,
    /// Window length, s (an hour, or five minutes for silence).
    pub step: i64,
    /// The window's start, activity and evidence.
    pub window: Window,
}

/// A change decided by the alarm engine, for the store to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Insert or replace a window's verdict.
    PutWindow {
        /// The (point, rule, code) whose window it is.
        key: SeriesKey,
        /// The window's start, activity and evidence.
        window: Window,
    },
    /// The alarm of `key` whose last active window ends at `end` (and is not withdrawn) takes
    /// this evidence, without an event: the same condition, with more data.
    RefreshEvidence {
        /// The (point, rule, code) of the alarm.
        key: SeriesKey,
        /// The alarm's end, Unix s.
        end: i64,
        /// The new evidence.
        evidence: serde_json::Value,
        /// Unix ms.
        at_ms: i64,
    },
    /// Insert (negative id) or update an alarm's span, state and evidence, with an event of
    /// this kind if any. The store keeps the alarm's handling as it is stored.
    PutAlarm {
        /// The alarm after the change.
        alarm: Alarm,
        /// The event's kind, if the change is one users are told about.
        event: Option<&'static str>,
    },
}
