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
    /// Fraud: air let into the flue gas; O2 swings up towards `magnitude` (%), the measured
    /// values and the flow follow the air.
    Dilution,
    /// Fraud: concentrations held at `magnitude` times the method detection limit.
    StuckAtDetectionLimit,
    /// Fraud: the analyser's slope changed: concentrations times `magnitude`.
    StepChange,
    /// Fraud: running hours flagged stopped (F).
    StopMark,
    /// Fraud at a waste-water outlet: flow meter at zero 06:00–17:00 while concentrations
    /// move; by night flow with the analyser frozen.
    WaterFlow,
    /// Fraud: every eight hours an hour above the limit (`magnitude` × limit), and the logger
    /// quiet for the two hours after it.
    GapsAroundExceedances,
    /// Fraud at a flue-gas outlet with a wet desulphurisation: the scrubber bypassed or off, the
    /// flue gas leaving at `magnitude` °C, while the reported SO2 stays where it was.
    FgdBypass,
    /// Fraud: a share `magnitude` of the hours' values made up, ending in 0 or 5.
    DigitPreference,
    /// Fraud at an air station: water sprinkled around it or its inlet covered, by night
    /// (20:00–08:00, when nobody looks): particulate matter times `magnitude`.
    Sprinkling,
    /// Fraud at an air station: its analysers re-set: every pollutant times `magnitude`.
    StationStep,
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

/// What a fraud incident of a kind looks like in a generated month: how long it lasts (hours,
/// least and most) and its strength (least and most), drawn per incident.
fn fraud_shape(kind: IncidentKind) -> ((i64, i64), (f64, f64)) {
    match kind {
        IncidentKind::FlatLine => ((8, 48), (1.0, 1.0)),
        IncidentKind::LowVariance => ((6 * 24, 10 * 24), (0.01, 0.08)),
        IncidentKind::Bunching => ((5 * 24, 10 * 24), (1.0, 1.0)),
        IncidentKind::O2Ambient => ((3, 10), (1.0, 1.0)),
        IncidentKind::FaultFlag => ((2, 6), (1.2, 2.0)),
        IncidentKind::Dilution => ((24, 72), (12.0, 17.0)),
        IncidentKind::StuckAtDetectionLimit => ((7 * 24, 12 * 24), (0.8, 1.4)),
        IncidentKind::StepChange => ((2 * 24, 8 * 24), (0.25, 0.65)),
        IncidentKind::StopMark => ((3, 10), (1.0, 1.0)),
        IncidentKind::WaterFlow => ((4 * 24, 8 * 24), (1.0, 1.0)),
        IncidentKind::GapsAroundExceedances => ((2 * 24, 6 * 24), (1.1, 1.8)),
        IncidentKind::Sprinkling => ((2 * 24, 6 * 24), (0.3, 0.55)),
        IncidentKind::DigitPreference => ((10 * 24, 25 * 24), (0.3, 0.7)),
        IncidentKind::FgdBypass => ((6, 72), (95.0, 140.0)),
        IncidentKind::StationStep => ((2 * 24, 7 * 24), (0.45, 0.7)),
        _ => ((1, 1), (1.0, 1.0)),
    }
}

/// The strength of a kind's incident that is no fraud at all (a narrowing that leaves all the
/// variation, an ordinary O2, values well above the detection limit, no step, a high hour that
/// is not an exceedance), towards which [`fraud_incidents`] weakens magnitudes; `None` for the
/// kinds whose strength is their duration.
fn neutral(kind: IncidentKind) -> Option<f64> {
    match kind {
        IncidentKind::LowVariance => Some(0.99),
        IncidentKind::Dilution => Some(9.0),
        IncidentKind::StuckAtDetectionLimit => Some(3.0),
        IncidentKind::StepChange => Some(1.0),
        IncidentKind::FaultFlag => Some(1.0),
        IncidentKind::GapsAroundExceedances => Some(0.9),
        IncidentKind::Sprinkling | IncidentKind::StationStep => Some(1.0),
        IncidentKind::DigitPreference => Some(0.0),
        IncidentKind::FgdBypass => Some(55.0),
        _ => None,
    }
}

/// The fraud incidents a flue-gas outlet with a wet desulphurisation can have: a gas outlet's
/// ([`GAS_FRAUD`]) and the scrubber bypassed, last.
pub const SCRUBBED_GAS_FRAUD: &[IncidentKind] = &[
    IncidentKind::FlatLine,
    IncidentKind::LowVariance,
    IncidentKind::Bunching,
    IncidentKind::O2Ambient,
    IncidentKind::FaultFlag,
    IncidentKind::Dilution,
    IncidentKind::StuckAtDetectionLimit,
    IncidentKind::StepChange,
    IncidentKind::StopMark,
    IncidentKind::GapsAroundExceedances,
    IncidentKind::DigitPreference,
    IncidentKind::FgdBypass,
];

/// The fraud incidents a gas outlet can have in a generated month.
pub const GAS_FRAUD: &[IncidentKind] = match SCRUBBED_GAS_FRAUD.split_last() {
    Some((_, without_bypass)) => without_bypass,
    None => &[],
};

/// The fraud incidents a waste-water outlet can have in a generated month.
pub const WATER_FRAUD: &[IncidentKind] = &[
    IncidentKind::FlatLine,
    IncidentKind::LowVariance,
    IncidentKind::Bunching,
    IncidentKind::FaultFlag,
    IncidentKind::StuckAtDetectionLimit,
    IncidentKind::StepChange,
    IncidentKind::StopMark,
    IncidentKind::WaterFlow,
    IncidentKind::GapsAroundExceedances,
    IncidentKind::DigitPreference,
];

/// The fraud incidents an air station can have in a generated month.
pub const AIR_FRAUD: &[IncidentKind] = &[
    IncidentKind::FlatLine,
    IncidentKind::LowVariance,
    IncidentKind::Sprinkling,
    IncidentKind::StationStep,
];

/// What kind of point cheats, for [`fraud_incidents`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FraudTarget {
    /// A flue-gas outlet: [`GAS_FRAUD`].
    GasOutlet,
    /// A flue-gas outlet with a wet desulphurisation: [`SCRUBBED_GAS_FRAUD`].
    ScrubbedGasOutlet,
    /// A waste-water outlet: [`WATER_FRAUD`].
    WaterOutlet,
    /// An air station: [`AIR_FRAUD`].
    AirStation,
}

impl FraudTarget {
    /// The point's target, if its kind cheats in a generated month.
    pub fn of(point: &domain::Point) -> Option<Self> {
        match point.kind {
            domain::PointKind::GasOutlet if point.abatement.iter().any(|u| u == "wet_fgd") => {
                Some(Self::ScrubbedGasOutlet)
            }
            domain::PointKind::GasOutlet => Some(Self::GasOutlet),
            domain::PointKind::WaterOutlet => Some(Self::WaterOutlet),
            domain::PointKind::AirStation => Some(Self::AirStation),
            _ => None,
        }
    }

    /// The incidents it can have.
    pub fn kinds(self) -> &'static [IncidentKind] {
        match self {
            Self::GasOutlet => GAS_FRAUD,
            Self::ScrubbedGasOutlet => SCRUBBED_GAS_FRAUD,
            Self::WaterOutlet => WATER_FRAUD,
            Self::AirStation => AIR_FRAUD,
        }
    }
}

/// Fraud incidents for a generated period `[from, to)`: a `share` of the `points` (point id and
/// what it is) cheat once each, by a kind drawn in turn from the kinds their kind of point can
/// have, starting at a random time that leaves the incident inside the period and lasting and
/// weighing what [`fraud_shape`] allows, all drawn from `seed`. `strength` scales them towards
/// no fraud (1: as drawn; 0.5: magnitudes halfway to [`neutral`], durations of the kinds whose
/// strength is their duration halved).
pub fn fraud_incidents(
    points: &[(String, FraudTarget)],
    from: i64,
    to: i64,
    share: f64,
    seed: u64,
    strength: f64,
) -> Vec<Incident> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut order: Vec<usize> = (0..points.len()).collect();
    rng.shuffle(&mut order);
    let n = ((points.len() as f64 * share).round() as usize).min(points.len());
    let mut turns = [
        rng.usize(..GAS_FRAUD.len()),
        rng.usize(..SCRUBBED_GAS_FRAUD.len()),
        rng.usize(..WATER_FRAUD.len()),
        rng.usize(..AIR_FRAUD.len()),
    ];
    let mut out = Vec::new();
    for &k in order.iter().take(n) {
        let (point, target) = &points[k];
        let kinds = target.kinds();
        let turn = &mut turns[*target as usize];
        *turn += 1;
        let kind = kinds[*turn % kinds.len()];
        let ((h_min, h_max), (m_min, m_max)) = fraud_shape(kind);
        let mut hours = rng.i64(h_min..=h_max);
        let mut magnitude = m_min + (m_max - m_min) * rng.f64();
        match neutral(kind) {
            Some(n) => magnitude = n + (magnitude - n) * strength,
            None => hours = ((hours as f64 * strength).round() as i64).max(1),
        }
        let latest = ((to - from) / 3600 - hours).max(0);
        let start = from + rng.i64(0..=latest) * 3600 + rng.i64(0..3600);
        out.push(Incident {
            kind,
            point: point.clone(),
            code: None,
            start,
            end: (start + hours * 3600).min(to),
            magnitude,
        });
    }
    out
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
    fn generated_fraud_is_reproducible_inside_the_period_and_varied() {
        let targets = [
            FraudTarget::GasOutlet,
            FraudTarget::ScrubbedGasOutlet,
            FraudTarget::WaterOutlet,
            FraudTarget::AirStation,
        ];
        let outlets: Vec<(String, FraudTarget)> = (0..200)
            .map(|k| (format!("E{k:03}-1"), targets[k % 4]))
            .collect();
        let (from, to) = (1_790_000_000, 1_790_000_000 + 30 * 86_400);
        let a = fraud_incidents(&outlets, from, to, 0.1, 7, 1.0);
        assert_eq!(a, fraud_incidents(&outlets, from, to, 0.1, 7, 1.0));
        assert_ne!(a, fraud_incidents(&outlets, from, to, 0.1, 8, 1.0));
        // Weaker: the same incidents, shorter or nearer to no fraud.
        let weak = fraud_incidents(&outlets, from, to, 0.1, 7, 0.5);
        for (i, w) in a.iter().zip(&weak) {
            assert_eq!((&i.point, i.kind), (&w.point, w.kind));
            assert!(w.end - w.start <= i.end - i.start);
            if let Some(n) = neutral(i.kind) {
                assert!((w.magnitude - n).abs() <= (i.magnitude - n).abs() + 1e-9);
            }
        }
        assert_eq!(a.len(), 20);
        let mut points: Vec<&str> = a.iter().map(|i| i.point.as_str()).collect();
        points.sort_unstable();
        points.dedup();
        assert_eq!(points.len(), 20, "one incident per cheating outlet");
        for i in &a {
            assert!(from <= i.start && i.start < i.end && i.end <= to, "{i:?}");
            let target = outlets.iter().find(|o| o.0 == i.point).map(|o| o.1);
            assert!(target.is_some_and(|t| t.kinds().contains(&i.kind)), "{i:?}");
        }
        let mut kinds: Vec<IncidentKind> = a.iter().map(|i| i.kind).collect();
        kinds.sort_by_key(|k| format!("{k:?}"));
        kinds.dedup();
        assert!(kinds.len() >= 8, "{kinds:?}");
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
