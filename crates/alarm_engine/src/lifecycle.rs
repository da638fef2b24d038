//! The alarm lifecycle as a pure fold: a series' windows and alarms in, a new window verdict
//! applied, the [`Effect`]s to write out.
//!
//! Alarms are the maximal runs of consecutive active windows of one series. A verdict that
//! changes a window's activity rebuilds the runs within [`HORIZON_S`] of it and maps them to
//! the alarms there by overlap: a run overlapping an alarm continues it (updated, cleared,
//! reopened), a run overlapping none opens one (raised, or raised and cleared when it is already
//! over), an alarm overlapping no run is withdrawn (late or corrected data removed its
//! condition; it stays in the history). A verdict that keeps the activity only refreshes the
//! evidence. Inactive windows are recorded only where they end or remove a run, so quiet series
//! cost nothing.
//!
//! [`SeriesState`] holds what the store had for the series plus what this batch decided; when a
//! verdict needs more of the stored history than is held, [`SeriesState::apply`] says which
//! range ([`Step::Need`]) and changes nothing, and the engine loads it and applies again.

use std::collections::BTreeMap;

use domain::{Alarm, AlarmState, Effect, SeriesKey, Window};

/// How far around a changed window runs are rebuilt (a run longer than this keeps its far end).
pub const HORIZON_S: i64 = 7 * 86_400;

/// The outcome of applying one verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The verdict is applied; these are the changes to write.
    Done(Vec<Effect>),
    /// The stored windows and alarms over `[from, to]` are needed first.
    Need {
        /// Window start, Unix s.
        from: i64,
        /// Window start, Unix s.
        to: i64,
    },
}

/// One series as known while a batch is decided.
#[derive(Debug, Clone, Default)]
pub struct SeriesState {
    windows: BTreeMap<i64, Window>,
    /// Window starts whose stored verdicts are all in `windows`.
    windows_known: Option<(i64, i64)>,
    /// Alarms (every state) overlapping `alarms_known`, with this batch's changes.
    alarms: Vec<Alarm>,
    alarms_known: Option<(i64, i64)>,
}

fn covers(known: Option<(i64, i64)>, from: i64, to: i64) -> bool {
    known.is_some_and(|(lo, hi)| lo <= from && to <= hi)
}

fn hull(known: Option<(i64, i64)>, from: i64, to: i64) -> (i64, i64) {
    known.map_or((from, to), |(lo, hi)| (lo.min(from), hi.max(to)))
}

impl SeriesState {
    /// A series of which nothing is known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the stored windows over `[from, to]` (verdicts decided in this batch are newer and
    /// stay).
    pub fn add_windows(&mut self, stored: Vec<Window>, from: i64, to: i64) {
        for w in stored {
            self.windows.entry(w.start).or_insert(w);
        }
        self.windows_known = Some(hull(self.windows_known, from, to));
    }

    /// Adds the stored windows and the stored alarms (not withdrawn) over `[from, to]`, as asked
    /// for by [`Step::Need`].
    pub fn add_history(&mut self, windows: Vec<Window>, alarms: Vec<Alarm>, from: i64, to: i64) {
        self.add_windows(windows, from, to);
        for a in alarms {
            if !self.alarms.iter().any(|known| known.id == a.id) {
                self.alarms.push(a);
            }
        }
        self.alarms.sort_by_key(|a| a.start);
        self.alarms_known = Some(hull(self.alarms_known, from, to));
    }

    /// What the series holds now: its windows in start order.
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        self.windows.values()
    }

    /// What the series holds now: its alarms (withdrawn ones included) in start order.
    pub fn alarms(&self) -> &[Alarm] {
        &self.alarms
    }

    /// Applies a window's verdict. `next_id` numbers alarms opened before the store has given
    /// them an id (negative, counting down; shared by the series of one batch).
    pub fn apply(
        &mut self,
        key: &SeriesKey,
        severity: &str,
        step: i64,
        w: &Window,
        at_ms: i64,
        next_id: &mut i64,
    ) -> Step {
        if !covers(self.windows_known, w.start - step, w.start) {
            let (from, to) = hull(self.windows_known, w.start - step, w.start);
            return Step::Need { from, to };
        }
        let before = self.windows.get(&w.start);
        if before == Some(w) {
            return Step::Done(Vec::new());
        }
        if !w.active {
            let replaces_active = before.is_some_and(|b| b.active);
            let follows_active = before.is_none()
                && self
                    .windows
                    .get(&(w.start - step))
                    .is_some_and(|p| p.active);
            if !replaces_active && !follows_active {
                return Step::Done(Vec::new());
            }
        }
        let same_activity = before.map(|b| b.active) == Some(w.active);
        let (lo, hi) = (w.start - HORIZON_S, w.start + HORIZON_S);
        let history_known = covers(self.windows_known, lo, hi) && covers(self.alarms_known, lo, hi);
        if !same_activity && !history_known {
            // Everything held stays covered: the range asked for spans it and the horizon.
            let (from, to) = hull(self.windows_known, lo, hi);
            let (from, to) = hull(self.alarms_known, from, to);
            return Step::Need { from, to };
        }
        self.windows.insert(w.start, w.clone());
        let mut effects = vec![Effect::PutWindow {
            key: key.clone(),
            window: w.clone(),
        }];
        if same_activity {
            // Only the evidence changed (more data for the hour): the runs are unchanged. The
            // alarm whose last window this is keeps up to date, without an event.
            if w.active {
                let end = w.start + step;
                for a in self
                    .alarms
                    .iter_mut()
                    .filter(|a| a.end == end && a.state != AlarmState::Withdrawn)
                {
                    a.evidence = w.evidence.clone();
                    a.updated_ms = at_ms;
                }
                effects.push(Effect::RefreshEvidence {
                    key: key.clone(),
                    end,
                    evidence: w.evidence.clone(),
                    at_ms,
                });
            }
            return Step::Done(effects);
        }
        effects.extend(self.rebuild(key, severity, step, lo, hi, at_ms, next_id));
        Step::Done(effects)
    }

    /// Maps the runs of active windows within `[lo, hi]` to the alarms there.
    #[allow(clippy::too_many_arguments)]
    fn rebuild(
        &mut self,
        key: &SeriesKey,
        severity: &str,
        step: i64,
        lo: i64,
        hi: i64,
        at_ms: i64,
        next_id: &mut i64,
    ) -> Vec<Effect> {
        let in_range = self.windows.range(lo..=hi);
        let latest = self.windows.range(lo..=hi).next_back().map(|(s, _)| *s);
        // Runs: (first start, last start, evidence of the last window).
        let mut runs: Vec<(i64, i64, &serde_json::Value)> = Vec::new();
        for (start, w) in in_range.filter(|(_, w)| w.active) {
            match runs.last_mut() {
                Some(run) if run.1 + step == *start => {
                    run.1 = *start;
                    run.2 = &w.evidence;
                }
                _ => runs.push((*start, *start, &w.evidence)),
            }
        }
        let runs: Vec<(i64, i64, serde_json::Value)> = runs
            .into_iter()
            .map(|(s, e, ev)| (s, e, ev.clone()))
            .collect();
        // The alarms there, by index into `self.alarms`, in start order.
        let existing: Vec<usize> = (0..self.alarms.len())
            .filter(|i| {
                let a = &self.alarms[*i];
                a.state != AlarmState::Withdrawn && a.end >= lo && a.start <= hi
            })
            .collect();
        let mut used = vec![false; existing.len()];
        let mut effects = Vec::new();
        for (first, last, evidence) in runs {
            let (start, end) = (first, last + step);
            let ongoing = Some(last) == latest;
            let state = if ongoing {
                AlarmState::Raised
            } else {
                AlarmState::Cleared
            };
            let overlapping = existing.iter().position(|i| {
                let a = &self.alarms[*i];
                a.start < end && a.end > start
            });
            match overlapping {
                Some(j) if !used[j] => {
                    used[j] = true;
                    let a = &mut self.alarms[existing[j]];
                    let kind = match (a.state, state) {
                        (AlarmState::Raised, AlarmState::Cleared) => "cleared",
                        (AlarmState::Cleared, AlarmState::Raised) => "reopened",
                        _ => "updated",
                    };
                    // A run reaching the horizon keeps the alarm's earlier start.
                    let start = if a.start < lo { a.start } else { start };
                    if a.start == start && a.end == end && a.state == state {
                        // Same span and state: keep the latest evidence without an event (an
                        // event per packet would flood the stream and the history).
                        if a.evidence != evidence {
                            a.evidence = evidence;
                            a.updated_ms = at_ms;
                            effects.push(Effect::PutAlarm {
                                alarm: a.clone(),
                                event: None,
                            });
                        }
                        continue;
                    }
                    a.start = start;
                    a.end = end;
                    a.state = state;
                    a.evidence = evidence;
                    a.updated_ms = at_ms;
                    effects.push(Effect::PutAlarm {
                        alarm: a.clone(),
                        event: Some(kind),
                    });
                }
                _ => {
                    let a = Alarm {
                        id: *next_id,
                        point_id: key.point_id.clone(),
                        rule_id: key.rule_id.clone(),
                        code: key.code.clone(),
                        severity: severity.to_owned(),
                        start,
                        end,
                        state,
                        evidence,
                        handling: None,
                        updated_ms: at_ms,
                    };
                    *next_id -= 1;
                    self.alarms.push(a.clone());
                    effects.push(Effect::PutAlarm {
                        alarm: a,
                        event: Some(if ongoing {
                            "raised"
                        } else {
                            "raised_and_cleared"
                        }),
                    });
                }
            }
        }
        for (j, i) in existing.iter().enumerate() {
            if !used[j] {
                let a = &mut self.alarms[*i];
                a.state = AlarmState::Withdrawn;
                a.updated_ms = at_ms;
                effects.push(Effect::PutAlarm {
                    alarm: a.clone(),
                    event: Some("withdrawn"),
                });
            }
        }
        self.alarms.sort_by_key(|a| a.start);
        effects
    }
}

#[cfg(test)]
mod tests;
