//! The plan's targets, computed from the registries.
//!
//! A target (`targets.toml`, compiled in) counts the entries of one registry that match `done`
//! among those that match `population`, as a count or as a share, against a goal due at the end
//! of its year (Beijing time). Progress over time comes from the registry's history: the value as
//! of the end of each month of the year so far. The forecast extends the pace since the start of
//! the year in a straight line to the deadline; a target is on track when the forecast reaches
//! the goal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a target is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// A number of entries.
    Count,
    /// A share of the population (0..1).
    Share,
}

/// A target of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Identifier.
    pub id: String,
    /// English title.
    pub title: String,
    /// Chinese title.
    pub title_zh: String,
    /// The registry it is computed from.
    pub registry: String,
    /// Count or share.
    pub measure: Measure,
    /// Entries that count at all: field → accepted values (all entries when empty).
    #[serde(default)]
    pub population: BTreeMap<String, Vec<String>>,
    /// Entries that are done: field → accepted values.
    pub done: BTreeMap<String, Vec<String>>,
    /// The goal (a count, or a share 0..1).
    pub goal: f64,
    /// The year whose end is the deadline.
    pub year: i32,
}

/// The shipped targets file.
pub const TARGETS_TOML: &str = include_str!("../targets.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    targets: Vec<Target>,
}

/// The shipped targets (checked by a test).
pub fn targets() -> Result<Vec<Target>, toml::de::Error> {
    Ok(toml::from_str::<TargetsFile>(TARGETS_TOML)?.targets)
}

/// Measures (done, population, value) of targets at past instants, by (target id, Unix ms).
/// A past instant's measure does not change (a registry records each change at the time it is
/// made), so it is computed once; the present is always read.
#[derive(Debug, Default)]
pub struct PastMeasures(std::sync::Mutex<std::collections::HashMap<(String, i64), Measure3>>);

/// (done, population, value).
type Measure3 = (u64, u64, f64);

impl PastMeasures {
    fn get(&self, target: &str, at_ms: i64) -> Option<(u64, u64, f64)> {
        let cache = self.0.lock().ok()?;
        cache.get(&(target.to_owned(), at_ms)).copied()
    }

    fn keep(&self, target: &str, at_ms: i64, measure: (u64, u64, f64)) {
        if let Ok(mut cache) = self.0.lock() {
            cache.insert((target.to_owned(), at_ms), measure);
        }
    }
}

/// The progress of every target at `now_ms`. `entries_at(registry, at_ms)` gives a registry's
/// entries as they were at an instant (`None`: no such registry); the measures of past instants
/// are taken from and kept in `past`.
pub fn progress<E>(
    targets: &[Target],
    now_ms: i64,
    past: &PastMeasures,
    mut entries_at: impl FnMut(&str, i64) -> Result<Option<Vec<Map<String, Value>>>, E>,
) -> Result<Vec<Progress>, E> {
    targets
        .iter()
        .map(|t| {
            t.evaluate_measured(now_ms, |at| {
                let is_past = at < now_ms;
                if is_past && let Some(m) = past.get(&t.id, at) {
                    return Ok(Some(m));
                }
                let measure = entries_at(&t.registry, at)?.map(|e| t.measure_entries(&e));
                if is_past && let Some(m) = measure {
                    past.keep(&t.id, at, m);
                }
                Ok(measure)
            })
        })
        .collect()
}

/// One point of a target's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressPoint {
    /// The date (Beijing), `YYYY-MM-DD`, as of its end (or now, for today).
    pub date: String,
    /// The value then.
    pub value: f64,
}

/// A target's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The target.
    #[serde(flatten)]
    pub target: Target,
    /// Deadline, `YYYY-12-31`.
    pub deadline: String,
    /// Entries done now.
    pub done: Option<u64>,
    /// Entries in the population now.
    pub population: Option<u64>,
    /// The measure now (count, or share 0..1).
    pub value: Option<f64>,
    /// value / goal, capped at 1.
    pub completion: Option<f64>,
    /// Month ends of the year so far, and now.
    pub series: Vec<ProgressPoint>,
    /// The value at the deadline at the pace since the start of the year.
    pub forecast: Option<f64>,
    /// Whether the forecast reaches the goal.
    pub on_track: Option<bool>,
    /// Why something could not be computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn matches(entry: &Map<String, Value>, filter: &BTreeMap<String, Vec<String>>) -> bool {
    filter.iter().all(|(field, values)| {
        entry
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|v| values.iter().any(|x| x == v))
    })
}

impl Target {
    /// (done, population, value) over a set of entries.
    pub fn measure_entries(&self, entries: &[Map<String, Value>]) -> (u64, u64, f64) {
        let population: Vec<&Map<String, Value>> = entries
            .iter()
            .filter(|e| matches(e, &self.population))
            .collect();
        let done = population.iter().filter(|e| matches(e, &self.done)).count() as u64;
        let total = population.len() as u64;
        let value = match self.measure {
            Measure::Count => done as f64,
            Measure::Share if total == 0 => 0.0,
            Measure::Share => done as f64 / total as f64,
        };
        (done, total, value)
    }

    fn bj_ms(year: i32, month: u32, day: u32) -> Option<i64> {
        bjtime::Date::new(year, month, day).map(|d| d.start() * 1000)
    }

    /// Evaluates the target at `now_ms`; `as_of(ms)` gives the registry's entries as they were
    /// at that instant, or `None` when the registry does not exist (yet).
    pub fn evaluate<E>(
        &self,
        now_ms: i64,
        mut as_of: impl FnMut(i64) -> Result<Option<Vec<Map<String, Value>>>, E>,
    ) -> Result<Progress, E> {
        self.evaluate_measured(now_ms, |at| {
            Ok(as_of(at)?.map(|entries| self.measure_entries(&entries)))
        })
    }

    /// As [`Target::evaluate`], with `measure_at(ms)` giving (done, population, value) at that
    /// instant directly, so that a caller can keep the measures of past instants (they do not
    /// change unless the registry's past is rewritten) instead of re-reading the entries.
    pub fn evaluate_measured<E>(
        &self,
        now_ms: i64,
        mut as_of: impl FnMut(i64) -> Result<Option<(u64, u64, f64)>, E>,
    ) -> Result<Progress, E> {
        let deadline = format!("{:04}-12-31", self.year);
        let mut progress = Progress {
            target: self.clone(),
            deadline,
            done: None,
            population: None,
            value: None,
            completion: None,
            series: Vec::new(),
            forecast: None,
            on_track: None,
            note: None,
        };
        let (Some(year_start), Some(year_end)) = (
            Self::bj_ms(self.year, 1, 1),
            Self::bj_ms(self.year + 1, 1, 1),
        ) else {
            progress.note = Some("year out of range".into());
            return Ok(progress);
        };
        let Some((done, total, value)) = as_of(now_ms)? else {
            progress.note = Some(format!(
                "the {} registry does not exist yet; the target is measured once it does",
                self.registry
            ));
            return Ok(progress);
        };
        progress.done = Some(done);
        progress.population = Some(total);
        progress.value = Some(value);
        progress.completion = Some(if self.goal > 0.0 {
            (value / self.goal).min(1.0)
        } else {
            1.0
        });
        // Month ends of the target year that have passed, then now.
        for month in 1..=12u32 {
            let (y, m) = if month == 12 {
                (self.year + 1, 1)
            } else {
                (self.year, month + 1)
            };
            let Some(end) = Self::bj_ms(y, m, 1) else {
                continue;
            };
            if end > now_ms {
                break;
            }
            if let Some((_, _, month_value)) = as_of(end - 1)? {
                progress.series.push(ProgressPoint {
                    date: bjtime::Date::of((end - 1).div_euclid(1000)).to_string(),
                    value: month_value,
                });
            }
        }
        progress.series.push(ProgressPoint {
            date: bjtime::Date::of(now_ms.div_euclid(1000)).to_string(),
            value,
        });
        if (year_start..year_end).contains(&now_ms) {
            let start_value = as_of(year_start)?.map_or(0.0, |m| m.2);
            let elapsed = (now_ms - year_start) as f64;
            let remaining = (year_end - now_ms) as f64;
            let mut forecast = value + (value - start_value) / elapsed * remaining;
            if self.measure == Measure::Share {
                forecast = forecast.clamp(0.0, 1.0);
            }
            progress.forecast = Some(forecast);
            progress.on_track = Some(forecast >= self.goal);
        } else if now_ms >= year_end {
            progress.forecast = Some(value);
            progress.on_track = Some(value >= self.goal);
        }
        Ok(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outlet(status: &str, basin: &str) -> Map<String, Value> {
        json!({"status": status, "basin": basin})
            .as_object()
            .cloned()
            .expect("object")
    }

    #[test]
    fn the_shipped_targets_parse_and_name_shipped_registries() {
        let names: Vec<String> = crate::schemas().into_iter().map(|s| s.name).collect();
        for t in targets().expect("targets.toml parses") {
            assert!(
                t.registry == "cases" || names.contains(&t.registry),
                "{}",
                t.registry
            );
        }
    }

    #[test]
    fn share_progress_and_forecast_at_the_current_pace() {
        let target = targets()
            .expect("parses")
            .into_iter()
            .find(|t| t.id == "sewage_outlets_remediated")
            .expect("shipped");
        let july_1 = Target::bj_ms(2026, 7, 1).expect("date");
        // 100 outlets in the basin (and 50 elsewhere that do not count). On Jan 1, 10 were
        // remediated; on Jul 1, 40 are: 30 in half a year, so about 70 by year end.
        let as_of = |ms: i64| -> Result<Option<Vec<Map<String, Value>>>, ()> {
            let done = if ms < Target::bj_ms(2026, 4, 1).expect("date") {
                10
            } else {
                40
            };
            let mut e: Vec<_> = (0..100)
                .map(|i| outlet(if i < done { "verified" } else { "traced" }, "yellow_river"))
                .collect();
            e.extend((0..50).map(|_| outlet("closed", "huai_river")));
            Ok(Some(e))
        };
        let p = target.evaluate(july_1, as_of).expect("evaluates");
        assert_eq!((p.done, p.population), (Some(40), Some(100)));
        assert_eq!(p.value, Some(0.4));
        let months: Vec<(&str, f64)> = p
            .series
            .iter()
            .map(|s| (s.date.as_str(), s.value))
            .collect();
        assert_eq!(
            months,
            [
                ("2026-01-31", 0.1),
                ("2026-02-28", 0.1),
                ("2026-03-31", 0.1),
                ("2026-04-30", 0.4),
                ("2026-05-31", 0.4),
                ("2026-06-30", 0.4),
                ("2026-07-01", 0.4)
            ]
        );
        let f = p.forecast.expect("forecast");
        assert!((0.69..0.71).contains(&f), "{f}");
        assert_eq!(p.on_track, Some(f >= 0.70));
    }

    #[test]
    fn past_measures_are_read_once_and_the_present_every_time() {
        let all = targets().expect("parses");
        let target = all
            .iter()
            .find(|t| t.id == "sewage_outlets_remediated")
            .expect("shipped");
        let now = Target::bj_ms(target.year, 7, 15).expect("date");
        let past = PastMeasures::default();
        let mut reads = Vec::new();
        for _ in 0..2 {
            let p = progress(std::slice::from_ref(target), now, &past, |_, at| {
                reads.push(at);
                Ok::<_, ()>(Some(Vec::new()))
            })
            .expect("evaluates");
            assert_eq!(p[0].series.len(), 7, "six month ends and now");
        }
        // The year's start and six month ends once, now twice.
        assert_eq!(reads.len(), 1 + 6 + 2, "{reads:?}");
        assert_eq!(reads.iter().filter(|&&at| at == now).count(), 2);
    }

    #[test]
    fn a_registry_that_does_not_exist_yet_is_reported_not_invented() {
        let target = targets()
            .expect("parses")
            .into_iter()
            .find(|t| t.registry == "cases")
            .expect("shipped");
        let p = target
            .evaluate(0, |_| Ok::<_, ()>(None))
            .expect("evaluates");
        assert_eq!(p.value, None);
        assert!(p.note.is_some());
    }
}
