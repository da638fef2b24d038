//! Scripted incidents, from a TOML scenario file, and the label file that records them.
//!
//! ```toml
//! [[incidents]]
//! kind = "exceedance"        # see IncidentKind
//! point = "E001-1"           # a point id
//! code = "a21026"            # optional: all codes when absent
//! start = "+2h"              # offset from the run's start, or RFC 3339
//! duration = "45m"           # s, m, h or d
//! magnitude = 1.4            # kind-specific strength (optional)
//! ```
//!
//! Every incident that a run plays is written to the label file as one JSON line
//! `{point, code, kind, start, end}` (RFC 3339), so that detectors can be scored against it.

use serde::{Deserialize, Serialize};

/// What happens. The fraud patterns follow `standards.md` §5.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Emissions above the limit at a plant (`magnitude` × limit).
    Exceedance,
    /// Sudden pollution at a water section (values × `magnitude`).
    Sudden,
    /// An air high-value episode (values × `magnitude`).
    HighValue,
    /// The device stops sending (and disconnects).
    Silent,
    /// Fraud: the same value over and over.
    FlatLine,
    /// Fraud: values in an implausibly narrow band.
    LowVariance,
    /// Fraud: values bunched just below the limit.
    Bunching,
    /// Fraud: O2 at ambient air (≈20.9%) while the plant reports production.
    O2Ambient,
    /// Fraud: exceedances hidden behind fault flags (`D`).
    FaultFlag,
}

/// An incident with absolute times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Kind.
    pub kind: IncidentKind,
    /// Point id.
    pub point: String,
    /// Factor code; all codes when absent.
    pub code: Option<String>,
    /// Start, Unix seconds (inclusive).
    pub start: i64,
    /// End, Unix seconds (exclusive).
    pub end: i64,
    /// Strength.
    pub magnitude: f64,
}

impl Incident {
    /// Whether it is active for `point` at `t`.
    pub fn applies(&self, point: &str, t: i64) -> bool {
        self.point == point && (self.start..self.end).contains(&t)
    }

    /// The label line.
    pub fn label(&self) -> serde_json::Value {
        let iso = bjtime::rfc3339;
        serde_json::json!({
            "point": self.point, "code": self.code, "kind": self.kind,
            "start": iso(self.start), "end": iso(self.end),
        })
    }
}

/// A scenario file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario: incident {index}: {reason}")]
pub struct ScenarioError {
    /// 1-based incident number (0: the file).
    pub index: usize,
    /// Why.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncident {
    kind: IncidentKind,
    point: String,
    code: Option<String>,
    start: String,
    duration: String,
    magnitude: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    incidents: Vec<RawIncident>,
}

/// Seconds of `30s`, `45m`, `2h`, `1d`.
pub fn parse_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.len().checked_sub(1)?);
    let n: i64 = num.parse().ok().filter(|n| *n >= 0)?;
    Some(
        n * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return None,
        },
    )
}

/// Parses a scenario; offsets (`+2h`) count from `run_start` (Unix seconds).
pub fn parse(text: &str, run_start: i64) -> Result<Vec<Incident>, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError {
        index: 0,
        reason: e.to_string(),
    })?;
    raw.incidents
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let err = |reason: String| ScenarioError {
                index: i + 1,
                reason,
            };
            let start = match r.start.strip_prefix('+') {
                Some(offset) => {
                    run_start
                        + parse_duration(offset).ok_or_else(|| {
                            err(format!(
                                "start {:?}: use +30m, +2h, +1d or RFC 3339",
                                r.start
                            ))
                        })?
                }
                None => {
                    bjtime::parse_rfc3339(&r.start).map_err(|e| err(format!("start: {e}")))? / 1000
                }
            };
            let duration = parse_duration(&r.duration)
                .filter(|d| *d > 0)
                .ok_or_else(|| err(format!("duration {:?}: use 30s, 45m, 2h or 1d", r.duration)))?;
            Ok(Incident {
                kind: r.kind,
                point: r.point,
                code: r.code,
                start,
                end: start + duration,
                magnitude: r.magnitude.unwrap_or(1.5),
            })
        })
        .collect()
}

/// The scenario `huanghe demo` plays on the demo city: one incident of every kind within its
/// first hours.
pub const DEFAULT_SCENARIO: &str = r#"
[[incidents]]
kind = "exceedance"
point = "E000-1"
code = "a21026"
start = "+10m"
duration = "2h"
magnitude = 1.6

[[incidents]]
kind = "silent"
point = "E001-1"
start = "+15m"
duration = "30m"

[[incidents]]
kind = "flat_line"
point = "E002-1"
start = "+20m"
duration = "8h"

[[incidents]]
kind = "low_variance"
point = "E003-1"
start = "+20m"
duration = "2h"

[[incidents]]
kind = "bunching"
point = "E004-1"
start = "+30m"
duration = "3h"

[[incidents]]
kind = "o2_ambient"
point = "E007-1"
start = "+30m"
duration = "4h"

[[incidents]]
kind = "fault_flag"
point = "E006-1"
start = "+40m"
duration = "1h"
magnitude = 1.5

[[incidents]]
kind = "sudden"
point = "3701W001"
code = "w21003"
start = "+25m"
duration = "1h"
magnitude = 4.0

[[incidents]]
kind = "high_value"
point = "3701A003"
code = "a34004"
start = "+35m"
duration = "2h"
magnitude = 3.0
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_absolute_times() {
        let s = parse(DEFAULT_SCENARIO, 1_000_000).expect("the default scenario parses");
        assert_eq!(s.len(), 9);
        assert_eq!((s[0].start, s[0].end), (1_000_600, 1_007_800));
        let abs = parse(
            "[[incidents]]\nkind = \"silent\"\npoint = \"p\"\nstart = \"2026-11-28T08:00:00+08:00\"\nduration = \"1h\"\n",
            0,
        )
        .expect("parses");
        assert_eq!(abs[0].start, 1_795_824_000);
    }

    #[test]
    fn bad_incidents_are_named() {
        let e = parse("[[incidents]]\nkind = \"silent\"\npoint = \"p\"\nstart = \"soon\"\nduration = \"1h\"\n", 0)
            .expect_err("bad start");
        assert_eq!(e.index, 1);
        assert!(e.reason.contains("start"));
        assert!(parse("[[incidents]]\nkind = \"meteor\"\npoint = \"p\"\nstart = \"+1h\"\nduration = \"1h\"\n", 0).is_err());
        assert_eq!(parse_duration("90m"), Some(5400));
        assert_eq!(parse_duration("1w"), None);
    }
}
