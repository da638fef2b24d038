//! # rules: alarm rules as configuration, evaluated per window
//!
//! A rule is data (`rules.toml`, compiled in as the defaults; a deployment's file replaces it):
//! an id, a severity, an explanation, the point kinds it applies to, overrides per point and
//! code, and its kind with the kind's own parameters ([`Params`]: one type per kind, so a
//! parameter of another kind is refused when the file is read). Each kind is a module of its
//! own under `kinds`, behind one small trait: the [`Span`] it judges (an hour, with the
//! hours of the point's own past it compares with) and the evaluation of that window into
//! verdicts per code with typed evidence (values, threshold, window, standard); the helpers
//! they share (valid hourly values, the codes with a limit, code keys, [`valid_hourly_means`]) are
//! here. Evaluation is pure: [`evaluate`] judges one hour of a point's observations. The alarm
//! engine re-evaluates an hour whenever data for it are stored (live, late or corrected) and
//! turns the windows into alarms (one per run of consecutive active hours); `huanghe rules
//! test` runs the same evaluation over a CSV series with [`evaluate_series`]. Because the
//! engine evaluates after every packet, rules read an hour as [`Row`]s, each observation
//! parsed once (code as an integer key, flag, exact `avg` and `rtd`), which the engine keeps.
//! Silence is judged on the platform clock with [`silent`].

use std::collections::BTreeMap;

pub mod fraud;
mod kinds;
pub mod score;

pub use kinds::{
    AirAbovePeers, AirHighValue, Bunching, Dilution, Direction, FgdTemperature, FlagDuration,
    FlatLine, ImplausibleO2, InvalidHour, LastDigit, LowVariance, ManualEntry, MarkExceedance,
    NeighbourDivergence, NoiseZone, Params, RealtimeExceedance, SourceExceedance, Span, StepChange,
    StopMark, StuckAtDetectionLimit, SuddenChange, WaterFlow, WaterTargetClass,
};

use domain::{Observation, Point, PointKind};
use envstd::Dec;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The kinds of rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Pollution-source hourly mean above the point's limit.
    SourceExceedance,
    /// Air-station hourly IAQI above a threshold.
    AirHighValue,
    /// Fault, calibration or maintenance flags for too long.
    FlagDuration,
    /// No data for too long.
    DeviceSilent,
    /// Real-time values (2011) above the point's limit.
    RealtimeExceedance,
    /// Hours with data that fail the validity rule (fewer valid minutes than required).
    InvalidHour,
    /// A water section's hourly values worse than its target class (GB 3838-2002).
    WaterTargetClass,
    /// A noise point's hourly Leq above its zone's day or night limit (GB 3096-2008).
    NoiseZone,
    /// An hourly value far above the recent baseline (sudden pollution at a water section, a
    /// radiation dose rate above its background).
    SuddenChange,
    /// An air station's hourly value far above the other stations of the city at the same hour.
    AirAbovePeers,
    /// Values set by hand (flag S): fraud rule R10.
    ManualEntry,
    /// The same hourly value hour after hour while the source runs: fraud rule R1.
    FlatLine,
    /// A source's values at the method detection limit for most of a week: fraud rule R3.
    StuckAtDetectionLimit,
    /// Near-ambient O2 in a flue gas running at its usual flow: fraud rule R5.
    ImplausibleO2,
    /// Hours marked stopped while the flow says the source ran: fraud rule R9 (stop marks).
    StopMark,
    /// A source's values in a narrow band for days: fraud rule R2.
    LowVariance,
    /// A source's level fallen far below its month at the same load: fraud rule R12.
    StepChange,
    /// A measured value following (21 − O2) while its converted value holds: fraud rule R6.
    Dilution,
    /// A waste-water outlet's flow and concentrations contradicting each other: fraud rule R8.
    WaterFlow,
    /// A source's values piled up just under its limit: fraud rule R4.
    Bunching,
    /// Marked hours (D, M, C) above the limit far more often than the others: fraud rule R9.
    MarkExceedance,
    /// The logger quiet right after high hours: fraud rule R15.
    GapsAroundExceedances,
    /// An air station's level fallen against its neighbours' while theirs held: the
    /// ambient-station analogue of fraud rule R12 (sprinkling, a covered inlet, a changed slope).
    NeighbourDivergence,
    /// The terminal digits of a month of hourly values far from uniform: fraud rule R13.
    LastDigit,
    /// A hot flue gas at an outlet after a wet desulphurisation: fraud rule R7.
    FgdTemperature,
}

/// What the registries and the recent past say about a point, for rules that need it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// A water section's target class (`I` … `V`).
    pub water_target: Option<String>,
    /// A noise point's zone class (`0` … `4b`).
    pub noise_zone: Option<String>,
    /// Baseline per code: the mean of the valid hourly values of the previous 24 hours, and
    /// how many there were.
    pub baseline: BTreeMap<String, (f64, usize)>,
    /// The point's hourly records of the hours before the one judged, oldest first, as far
    /// back as the rule's span asks (`baseline_hours`): for rules about runs of hours.
    pub past: Past,
    /// The other stations of the city at the same hour: mean valid hourly value per code, and
    /// how many stations reported it.
    pub peers: BTreeMap<String, (f64, usize)>,
    /// Stations of the point's kind near it, nearest first, each with its hourly records over
    /// the hours of `past` and the hour judged (more is fine: rules pick their hours by time),
    /// for rules that compare a station with its neighbours; only when such a rule is judged.
    pub neighbours: Vec<Neighbour>,
    /// Now (Unix s), when the hour judged may still be in progress (live evaluation); `None`
    /// judges every hour as complete (a sample series, history). An hour in progress is invalid
    /// only once it can no longer reach the required valid minutes.
    pub now_s: Option<i64>,
}

/// A nearby station and its hourly records, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Neighbour {
    /// Its point id.
    pub point_id: String,
    /// How far it is from the point judged, km.
    pub distance_km: f64,
    /// Its hourly records, oldest first.
    pub hourly: Past,
}

impl Neighbour {
    /// The station `other` as a neighbour of `point`, with its hourly records (any order);
    /// `None` when either has no location.
    pub fn of(point: &Point, other: &Point, mut hourly: Vec<Row>) -> Option<Neighbour> {
        let km = domain::distance_m(point.location?, other.location?) / 1000.0;
        hourly.retain(|r| r.data_type == domain::DataType::Hour);
        hourly.sort_by_key(|r| r.time);
        Some(Neighbour {
            point_id: other.id.clone(),
            distance_km: km,
            hourly: Past::new(hourly),
        })
    }

    /// Its records from `from` to `to` (Unix s, `to` excluded).
    pub fn between(&self, from: i64, to: i64) -> &[Row] {
        let a = self.hourly.partition_point(|r| r.time < from);
        let b = self.hourly.partition_point(|r| r.time < to);
        &self.hourly[a..b.max(a)]
    }
}

/// A point's hourly records before the hour judged: a window on records shared between the
/// hours of a series, so that judging a month hour by hour with a month of past does not copy
/// the month every hour.
#[derive(Debug, Clone, Default)]
pub struct Past {
    rows: std::sync::Arc<Vec<Row>>,
    range: std::ops::Range<usize>,
}

impl Past {
    /// All of `rows` (oldest first).
    pub fn new(rows: Vec<Row>) -> Self {
        let range = 0..rows.len();
        Past {
            rows: std::sync::Arc::new(rows),
            range,
        }
    }

    /// The records `range` of rows kept by the caller (oldest first), without copying them: the
    /// alarm engine keeps each point's recent hourly records and lends a window on them.
    pub fn shared(rows: &std::sync::Arc<Vec<Row>>, range: std::ops::Range<usize>) -> Self {
        Past {
            rows: std::sync::Arc::clone(rows),
            range,
        }
    }

    /// The records `range` of the same shared rows.
    fn window(&self, range: std::ops::Range<usize>) -> Self {
        Past {
            rows: self.rows.clone(),
            range,
        }
    }
}

impl std::ops::Deref for Past {
    type Target = [Row];

    fn deref(&self) -> &[Row] {
        self.rows.get(self.range.clone()).unwrap_or_default()
    }
}

impl PartialEq for Past {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// A per-point override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// The point id.
    pub point: String,
    /// One code, or all.
    #[serde(default)]
    pub code: Option<String>,
    /// Turn the rule off there.
    #[serde(default)]
    pub disabled: bool,
    /// A limit replacing the point's.
    #[serde(default)]
    pub limit: Option<f64>,
    /// Another IAQI threshold.
    #[serde(default)]
    pub iaqi_above: Option<u32>,
}

/// A rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Identifier.
    pub id: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What the rule means, for the person who receives the alarm.
    pub explanation: String,
    /// Point kinds it applies to (all when empty).
    #[serde(default)]
    pub points: Vec<PointKind>,
    /// Overrides.
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// The kind and its parameters (any key but the ones above belongs to the kind, and a key
    /// the kind does not know is refused).
    #[serde(flatten)]
    pub params: Params,
}

/// Parameters of a `device_silent` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSilent {
    /// Silence longer than this many real-time intervals.
    #[serde(default = "default_silent_factor")]
    pub silent_factor: f64,
    /// And at least this many seconds.
    #[serde(default = "default_min_silent")]
    pub min_silent_s: i64,
}

fn default_silent_factor() -> f64 {
    3.0
}
fn default_min_silent() -> i64 {
    600
}

/// A rules file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// The rules.
    pub rules: Vec<Rule>,
}

/// A rules file that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rules: {0}")]
pub struct RulesError(pub String);

/// The default rules.
pub const DEFAULT_RULES: &str = include_str!("../rules.toml");

impl RuleSet {
    /// Parses and checks a rules file.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let set: Self = toml::from_str(text).map_err(|e| RulesError(e.to_string()))?;
        let mut ids = std::collections::BTreeSet::new();
        for r in &set.rules {
            if !ids.insert(r.id.as_str()) {
                return Err(RulesError(format!("rule id {} is used twice", r.id)));
            }
            if !matches!(r.severity.as_str(), "info" | "warning" | "critical") {
                return Err(RulesError(format!(
                    "rule {}: severity must be info, warning or critical",
                    r.id
                )));
            }
        }
        Ok(set)
    }

    /// The defaults.
    pub fn defaults() -> Self {
        Self::from_toml(DEFAULT_RULES).unwrap_or(Self { rules: Vec::new() })
    }
}

impl Rule {
    /// The kind.
    pub fn kind(&self) -> RuleKind {
        self.params.kind()
    }

    /// The data it judges.
    pub fn span(&self) -> Span {
        self.params.evaluator().map_or(Span::Clock, |e| e.span())
    }

    /// How far away the stations it compares a point with may be, km, for a rule that needs
    /// the point's neighbours ([`Context::neighbours`]).
    pub fn neighbour_radius_km(&self) -> Option<f64> {
        match &self.params {
            Params::NeighbourDivergence(p) => Some(p.radius_km),
            _ => None,
        }
    }

    /// Whether it applies to a point.
    pub fn applies(&self, point: &Point) -> bool {
        self.points.is_empty() || self.points.contains(&point.kind)
    }

    fn override_for(&self, point: &str, code: &str) -> Option<&Override> {
        self.overrides
            .iter()
            .find(|o| o.point == point && o.code.as_deref().is_none_or(|c| c == code))
    }
}

/// One hour's verdict for one code.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The code (`""` for device-level rules).
    pub code: String,
    /// Whether the condition holds.
    pub active: bool,
    /// Why.
    pub evidence: serde_json::Value,
}

/// One stored observation as the rules read it, parsed once: its code (with an integer key for
/// fast matching), data flag, and the `avg` and `rtd` values as exact decimals. The alarm engine
/// keeps the hours it re-evaluates as rows, so that the evaluation after every packet does not
/// parse values or look fields up by name again.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// DataTime, Unix seconds.
    pub time: i64,
    /// The series.
    pub data_type: domain::DataType,
    /// The pollutant code.
    pub code: String,
    key: Option<u128>,
    /// The data flag as sent, if any.
    pub flag: Option<String>,
    /// The `avg` field, when it is a number.
    pub avg: Option<Dec>,
    /// The `rtd` field, when it is a number.
    pub rtd: Option<Dec>,
    /// The interval's least and greatest value (`min`, `max` fields), when numbers.
    pub min: Option<Dec>,
    /// See `min`.
    pub max: Option<Dec>,
}

impl Row {
    /// Reads an observation.
    pub fn new(o: &Observation) -> Self {
        let mut row = Row {
            time: o.time,
            data_type: o.data_type,
            code: o.code.clone(),
            key: code_key(&o.code),
            flag: None,
            avg: None,
            rtd: None,
            min: None,
            max: None,
        };
        for (name, value) in &o.fields {
            match name.as_str() {
                "avg" => row.avg = Dec::parse(value).ok(),
                "min" => row.min = Dec::parse(value).ok(),
                "max" => row.max = Dec::parse(value).ok(),
                "rtd" => row.rtd = Dec::parse(value).ok(),
                "flag" => row.flag = Some(value.clone()),
                _ => {}
            }
        }
        row
    }

    /// The order the engine keeps an hour in: time, series, code.
    pub fn sort_key(&self) -> (i64, i64, &str) {
        (self.time, self.data_type.code(), self.code.as_str())
    }

    /// The data flag, `N` (normal) when the row has none.
    fn flag_or_normal(&self) -> &str {
        self.flag.as_deref().unwrap_or("N")
    }

    /// Whether the flag is absent or `N`.
    pub fn normal(&self) -> bool {
        self.flag_or_normal() == "N"
    }

    /// Whether the row is of `code` (with its [`code_key`]).
    fn is(&self, code: &str, key: Option<u128>) -> bool {
        same_code(code, key, &self.code, self.key)
    }
}

/// A code as an integer (its bytes, then its length), so that matching rows to codes is one
/// integer comparison; a code longer than 15 bytes (HJ 212 has none) gets `None` and is
/// compared as text.
fn code_key(code: &str) -> Option<u128> {
    let b = code.as_bytes();
    if b.len() > 15 {
        return None;
    }
    let mut w = [0u8; 16];
    w[..b.len()].copy_from_slice(b);
    w[15] = b.len() as u8;
    Some(u128::from_le_bytes(w))
}

/// Whether `a` (with its [`code_key`]) and `b` are the same code.
fn same_code(a: &str, a_key: Option<u128>, b: &str, b_key: Option<u128>) -> bool {
    match (a_key, b_key) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The hour's valid hourly values: hourly records of the hour flagged normal, with an `avg`.
fn hourly_values(rows: &[Row], hour_start: i64) -> impl Iterator<Item = (&Row, Dec)> {
    rows.iter()
        .filter(move |o| {
            o.time == hour_start && o.data_type == domain::DataType::Hour && o.normal()
        })
        .filter_map(|o| Some((o, o.avg?)))
}

/// A code of a point that a rule judges against a limit.
struct Limited<'p> {
    code: &'p str,
    /// The code's [`code_key`], for matching rows.
    key: Option<u128>,
    setting: &'p domain::CodeSetting,
    limit: f64,
}

/// The point's codes a rule judges against a limit (the rule's override for the point and
/// code, else the point's own), without those the rule is disabled for.
fn limited_codes<'p>(rule: &Rule, point: &'p Point) -> Vec<Limited<'p>> {
    point
        .codes
        .iter()
        .filter_map(|(code, setting)| {
            let o = rule.override_for(&point.id, code);
            if o.is_some_and(|o| o.disabled) {
                return None;
            }
            Some(Limited {
                code,
                key: code_key(code),
                setting,
                limit: o.and_then(|o| o.limit).or(setting.limit)?,
            })
        })
        .collect()
}

fn iso(s: i64) -> String {
    bjtime::rfc3339(s)
}

/// Evaluates a window rule for one hour of a point's observations (minute data for sources,
/// hourly data for air stations; both types may be passed, each rule picks its own).
pub fn evaluate(rule: &Rule, point: &Point, hour_start: i64, rows: &[Observation]) -> Vec<Verdict> {
    evaluate_with(rule, point, &Context::default(), hour_start, rows)
}

/// Reads observations as [`Row`]s.
pub fn rows(observations: &[Observation]) -> Vec<Row> {
    observations.iter().map(Row::new).collect()
}

/// [`evaluate`] with what the registries say about the point.
pub fn evaluate_with(
    rule: &Rule,
    point: &Point,
    ctx: &Context,
    hour_start: i64,
    rows: &[Observation],
) -> Vec<Verdict> {
    evaluate_wanted(rule, point, ctx, hour_start, &self::rows(rows), &|_, _| {
        true
    })
}

/// Adds a verdict if `wanted(code, active)`; the evidence is built only then.
fn push<E: Serialize>(
    out: &mut Vec<Verdict>,
    wanted: &dyn Fn(&str, bool) -> bool,
    code: &str,
    active: bool,
    evidence: impl FnOnce() -> E,
) {
    if wanted(code, active) {
        out.push(Verdict {
            code: code.to_owned(),
            active,
            // The evidence types are plain structs of strings and numbers: serialising them
            // cannot fail.
            evidence: serde_json::to_value(evidence()).unwrap_or_default(),
        });
    }
}

/// As [`evaluate_with`], returning only the verdicts `wanted(code, active)` accepts: the
/// caller skips, without building their evidence, verdicts it already knows (an inactive window
/// already recorded inactive is the common case).
pub fn evaluate_wanted(
    rule: &Rule,
    point: &Point,
    ctx: &Context,
    hour_start: i64,
    rows: &[Row],
    wanted: &dyn Fn(&str, bool) -> bool,
) -> Vec<Verdict> {
    if !rule.applies(point) {
        return Vec::new();
    }
    match rule.params.evaluator() {
        Some(e) => e.evaluate(&kinds::Input {
            rule,
            point,
            ctx,
            hour_start,
            rows,
            wanted,
        }),
        None => Vec::new(),
    }
}

/// Evaluates a window rule over a whole series of one point, as `huanghe rules test` does:
/// the series is read once (rows sorted by time) and each hour with data is judged on its own
/// rows, so a month of minute data costs one pass, not one pass per hour. Returns each code's
/// windows in time order, ready for [`runs`]. The context is the same for every hour (a test
/// series has no registries; its hours are complete), except the baseline of a rule whose
/// window asks for one, which comes from the series itself as the engine takes it from the
/// store.
pub fn evaluate_series(
    rule: &Rule,
    point: &Point,
    ctx: &Context,
    mut rows: Vec<Row>,
) -> BTreeMap<String, Vec<(i64, bool, serde_json::Value)>> {
    rows.sort_by_key(|r| r.time);
    let baseline_hours = rule.span().baseline_hours();
    let hourly = Past::new(
        rows.iter()
            .filter(|r| r.data_type == domain::DataType::Hour)
            .cloned()
            .collect(),
    );
    let mut ctx = ctx.clone();
    let mut windows: BTreeMap<String, Vec<(i64, bool, serde_json::Value)>> = BTreeMap::new();
    let mut rest = rows.as_slice();
    while let Some(first) = rest.first() {
        let hour = first.time - first.time.rem_euclid(3600);
        let n = rest.partition_point(|r| r.time < hour + 3600);
        let (in_hour, after) = rest.split_at(n);
        if baseline_hours > 0 {
            let from = hourly.partition_point(|r| r.time < hour - i64::from(baseline_hours) * 3600);
            let to = hourly.partition_point(|r| r.time < hour);
            ctx.baseline = valid_hourly_means(&hourly[from..to]);
            ctx.past = hourly.window(from..to);
        }
        for v in evaluate_wanted(rule, point, &ctx, hour, in_hour, &|_, _| true) {
            windows
                .entry(v.code)
                .or_default()
                .push((hour, v.active, v.evidence));
        }
        rest = after;
    }
    windows
}

/// The mean and count of the valid hourly values (hourly records flagged normal, with an `avg`)
/// among `rows`, per code: a point's baseline over the hours its rule's window asks for, or the
/// other stations' values at one hour.
pub fn valid_hourly_means(rows: &[Row]) -> BTreeMap<String, (f64, usize)> {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in rows {
        if r.data_type != domain::DataType::Hour || !r.normal() {
            continue;
        }
        if let Some(v) = r.avg {
            let e = sums.entry(r.code.clone()).or_default();
            e.0 += v.to_f64();
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(code, (sum, n))| (code, (sum / n as f64, n)))
        .collect()
}

/// A run of consecutive active windows: one alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// First window's start.
    pub start: i64,
    /// Last window's end.
    pub end: i64,
    /// The last window evaluated is active (the condition still holds).
    pub ongoing: bool,
    /// Evidence of the last active window.
    pub evidence: serde_json::Value,
}

/// The alarms a sequence of windows (in time order) gives: one per run of consecutive active
/// windows. (The store applies the same rule incrementally, keeping alarm identities.)
pub fn runs(windows: &[(i64, bool, serde_json::Value)], step: i64) -> Vec<Run> {
    let last = windows.last().map(|w| w.0);
    let mut out: Vec<Run> = Vec::new();
    let mut prev_active: Option<i64> = None;
    for (start, active, evidence) in windows {
        if !active {
            prev_active = None;
            continue;
        }
        match (out.last_mut(), prev_active) {
            (Some(run), Some(p)) if p + step == *start => {
                run.end = start + step;
                run.evidence = evidence.clone();
            }
            _ => out.push(Run {
                start: *start,
                end: start + step,
                ongoing: false,
                evidence: evidence.clone(),
            }),
        }
        prev_active = Some(*start);
    }
    if let (Some(run), Some(l)) = (out.last_mut(), last) {
        run.ongoing = run.end == l + step;
    }
    out
}

/// Whether a device is silent at `now_s`, having last sent at `last_s`; `None` for a rule of
/// another kind.
pub fn silent(rule: &Rule, point: &Point, last_s: i64, now_s: i64) -> Option<Verdict> {
    let Params::DeviceSilent(p) = &rule.params else {
        return None;
    };
    let allowed =
        ((f64::from(point.rtd_interval_s.max(1)) * p.silent_factor) as i64).max(p.min_silent_s);
    let quiet = now_s - last_s;
    Some(Verdict {
        code: String::new(),
        active: quiet > allowed,
        evidence: json!({
            "rule": rule.id, "last_packet": iso(last_s), "silent_s": quiet, "allowed_s": allowed,
            "checked_at": iso(now_s),
        }),
    })
}

/// What the rule tests share: a gas outlet with an SO2 limit, observations, the default rules.
#[cfg(test)]
pub(crate) mod test_support {
    use domain::{CodeSetting, DataType, Observation, Point};

    use crate::{Rule, RuleSet};

    pub(crate) fn point() -> Point {
        let mut p: Point = serde_json::from_str(r#"{"id":"s","name":"s","mn":"M","password":"p","kind":"gas_outlet","min_interval_min":10}"#)
            .expect("point");
        p.codes.insert(
            "a21026".into(),
            CodeSetting {
                limit: Some(35.0),
                ref_o2: Some(6.0),
                ..Default::default()
            },
        );
        p
    }

    pub(crate) fn row(code: &str, t: i64, avg: &str, flag: &str, dt: DataType) -> Observation {
        Observation {
            point_id: "s".into(),
            data_type: dt,
            code: code.into(),
            time: t,
            fields: [
                ("avg".to_owned(), avg.to_owned()),
                ("flag".to_owned(), flag.to_owned()),
            ]
            .into(),
        }
    }

    pub(crate) fn rule(id: &str) -> Rule {
        RuleSet::defaults()
            .rules
            .into_iter()
            .find(|r| r.id == id)
            .expect("default rule")
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{point, row, rule};
    use super::*;
    use domain::DataType;

    #[test]
    fn runs_merge_consecutive_windows() {
        let w = |s: i64, a: bool| (s * 3600, a, json!(s));
        let r = runs(
            &[w(1, true), w(2, true), w(3, false), w(4, true), w(6, true)],
            3600,
        );
        let spans: Vec<(i64, i64, bool)> = r
            .iter()
            .map(|r| (r.start / 3600, r.end / 3600, r.ongoing))
            .collect();
        assert_eq!(spans, [(1, 3, false), (4, 5, false), (6, 7, true)]);
    }

    #[test]
    fn each_kind_takes_its_own_parameters_only() {
        let rule = |kind: &str, extra: &str| {
            RuleSet::from_toml(&format!(
                "[[rules]]\nid=\"a\"\nkind=\"{kind}\"\nseverity=\"info\"\nexplanation=\"x\"\n{extra}"
            ))
        };
        let ok = rule("air_above_peers", "factor = 2\nmin_peers = 4").expect("valid");
        assert_eq!(
            ok.rules[0].params,
            Params::AirAbovePeers(AirAbovePeers {
                factor: 2.0,
                min_peers: 4
            })
        );
        // A key of another kind, and a key of no kind, are named.
        let e = rule("source_exceedance", "iaqi_above = 100").expect_err("refused");
        assert!(e.0.contains("iaqi_above"), "{e}");
        let e = rule("air_high_value", "iaqi_abvoe = 100").expect_err("refused");
        assert!(e.0.contains("iaqi_abvoe"), "{e}");
        let e = rule("no_such_kind", "").expect_err("refused");
        assert!(e.0.contains("no_such_kind"), "{e}");
        // The declared span: the sudden-change baseline, the clock for silence.
        let defaults = RuleSet::defaults();
        let span = |id: &str| {
            defaults
                .rules
                .iter()
                .find(|r| r.id == id)
                .map(Rule::span)
                .expect("default rule")
        };
        assert_eq!(span("sudden_change").baseline_hours(), 24);
        assert_eq!(span("source_exceedance"), Span::HOUR);
        assert_eq!(span("device_silent"), Span::Clock);
        // Validity and the comparison with other stations wait for the settled hour.
        assert!(span("invalid_hour").settled() && span("air_above_peers").settled());
        assert!(!span("sudden_change").settled());
    }

    #[test]
    fn a_series_gives_its_own_baseline_to_the_rules_that_ask_for_one() {
        let mut p = point();
        p.kind = PointKind::WaterSection;
        let h0 = 1_790_038_800;
        // A day of 0.5 mg/L, then 1.2 and 0.9.
        let mut obs: Vec<Observation> = (0..24)
            .map(|i| row("w21003", h0 + i * 3600, "0.5", "N", DataType::Hour))
            .collect();
        obs.push(row("w21003", h0 + 24 * 3600, "1.2", "N", DataType::Hour));
        obs.push(row("w21003", h0 + 25 * 3600, "0.9", "N", DataType::Hour));
        let w = evaluate_series(&rule("sudden_change"), &p, &Context::default(), rows(&obs));
        let active: Vec<i64> = w["w21003"]
            .iter()
            .filter(|(_, a, _)| *a)
            .map(|(h, _, _)| (h - h0) / 3600)
            .collect();
        assert_eq!(active, [24], "the first 12 hours have too short a baseline");
        assert_eq!(w["w21003"].len(), 26 - 12);
    }

    #[test]
    fn the_default_rules_parse() {
        assert_eq!(RuleSet::defaults().rules.len(), 28);
        assert!(RuleSet::from_toml("[[rules]]\nid=\"a\"\nkind=\"air_high_value\"\nseverity=\"loud\"\nexplanation=\"x\"\n").is_err());
    }

    /// A month of an honest plant's minute data: (minute of the month) -> flag.
    fn month_of_minutes(flag_at: impl Fn(i64) -> &'static str) -> Vec<Row> {
        let mut p = point();
        p.min_interval_min = 1;
        let start = bjtime::day_start(1_790_000_000);
        (0..30 * 1440)
            .flat_map(|m| {
                let f = flag_at(m);
                ["a21026", "a21002", "a19001"]
                    .map(|c| Row::new(&row(c, start + m * 60, "20", f, DataType::Min)))
            })
            .collect()
    }

    /// Active windows of a rule over a series.
    fn alarms(rule_id: &str, rows: Vec<Row>) -> usize {
        let mut p = point();
        p.min_interval_min = 1;
        evaluate_series(&rule(rule_id), &p, &Context::default(), rows)
            .values()
            .map(|ws| runs(ws, 3600).len())
            .sum()
    }

    #[test]
    fn honest_plants_raise_no_validity_alarms_in_a_month() {
        let minute_of_day = |m: i64| m % 1440;
        // A two-shift gas turbine: runs 06:00-22:00, stopped (F) at night, a 10-minute daily
        // calibration (C) at 12:00.
        let turbine = month_of_minutes(|m| match minute_of_day(m) {
            0..360 | 1320.. => "F",
            720..730 => "C",
            _ => "N",
        });
        // A coal unit running all month with a planned week-long shutdown (days 10-16).
        let coal = month_of_minutes(|m| {
            if (10 * 1440..17 * 1440).contains(&m) {
                "F"
            } else {
                "N"
            }
        });
        for (name, rows) in [("turbine", turbine), ("coal", coal)] {
            assert_eq!(alarms("invalid_hour", rows.clone()), 0, "{name}");
            assert_eq!(alarms("flags_too_long", rows), 0, "{name}");
        }
        // The same turbine with an analyser fault of 30 minutes each morning while running:
        // an invalid hour a day (the detectors are not blind).
        let faulty = month_of_minutes(|m| match minute_of_day(m) {
            0..360 | 1320.. => "F",
            480..510 => "D",
            _ => "N",
        });
        assert_eq!(
            alarms("invalid_hour", faulty),
            30 * 3,
            "3 codes, one hour a day"
        );
    }

    #[test]
    fn flags_air_and_silence() {
        let p = point();
        let h = 1_790_000_000 - 1_790_000_000 % 3600;
        let rows: Vec<Observation> = (0..6)
            .map(|k| row("a21026", h + k * 600, "30", "D", DataType::Min))
            .collect();
        assert!(evaluate(&rule("flags_too_long"), &p, h, &rows)[0].active);
        let mut air = p.clone();
        air.kind = PointKind::AirStation;
        let v = evaluate(
            &rule("air_high_value"),
            &air,
            h,
            &[row("a34004", h, "150", "N", DataType::Hour)],
        );
        assert_eq!(
            (v[0].active, v[0].evidence["iaqi"].as_u64()),
            (true, Some(200))
        );
        assert!(!silent(&rule("device_silent"), &p, 1000, 1000 + 600).is_some_and(|v| v.active));
        // 40 valid minutes of 60: an invalid hour; one real-time value over the limit.
        let mut mixed: Vec<Observation> = (0..6)
            .map(|k| {
                row(
                    "a21026",
                    h + k * 600,
                    "30",
                    if k < 2 { "D" } else { "N" },
                    DataType::Min,
                )
            })
            .collect();
        let v = evaluate(&rule("invalid_hour"), &p, h, &mixed);
        assert_eq!(
            (v[0].active, v[0].evidence["valid_minutes"].as_u64()),
            (true, Some(40))
        );
        // The same data while the hour is still in progress: it can still reach 45 valid
        // minutes, so it is not invalid yet; near its end it can no longer.
        let live = |now_s| Context {
            now_s: Some(now_s),
            ..Context::default()
        };
        let early = evaluate_with(&rule("invalid_hour"), &p, &live(h + 3000), h, &mixed);
        assert!(!early[0].active, "10 minutes to come: 40 + 10 >= 45");
        let late = evaluate_with(&rule("invalid_hour"), &p, &live(h + 3360), h, &mixed);
        assert!(late[0].active, "4 minutes to come: 40 + 4 < 45");
        let after = evaluate_with(&rule("invalid_hour"), &p, &live(h + 7200), h, &mixed);
        assert!(after[0].active, "a closed hour is judged on what it has");
        let mut rtd = row("a21026", h + 30, "0", "N", DataType::Rtd);
        rtd.fields.insert("rtd".into(), "36".into());
        mixed.push(rtd);
        assert!(evaluate(&rule("realtime_exceedance"), &p, h, &mixed)[0].active);
        assert!(silent(&rule("device_silent"), &p, 1000, 1000 + 601).is_some_and(|v| v.active));
        assert_eq!(iso(1_795_824_000), "2026-11-28T08:00:00+08:00");
        // Water worse than its target; noise above the zone's night limit.
        let mut section = p.clone();
        section.kind = PointKind::WaterSection;
        let ctx = Context {
            water_target: Some("III".into()),
            noise_zone: Some("2".into()),
            ..Context::default()
        };
        let v = evaluate_with(
            &rule("water_target_class"),
            &section,
            &ctx,
            h,
            &[row("w21003", h, "1.2", "N", DataType::Hour)],
        );
        assert_eq!(
            (v[0].active, v[0].evidence["class"].as_str()),
            (true, Some("IV"))
        );
        let mut noise = p.clone();
        noise.kind = PointKind::Noise;
        let night = bjtime::day_start(h);
        let v = evaluate_with(
            &rule("noise_zone"),
            &noise,
            &ctx,
            night,
            &[row("LA", night, "52", "N", DataType::Hour)],
        );
        assert_eq!(
            (v[0].active, v[0].evidence["period"].as_str()),
            (true, Some("night"))
        );
    }
}
