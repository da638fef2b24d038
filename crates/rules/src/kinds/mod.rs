//! One module per kind of rule: its parameters (a type of its own, read from the rules file,
//! refusing parameters of other kinds), the window it needs, and what it judges in that window
//! with the evidence it gives, behind [`Evaluate`]. A new kind of rule is a new module and a
//! variant of [`Params`].

mod above_reference;
mod air_high_value;
mod bunching;
mod detection_limit;
mod dilution;
mod fgd_temperature;
mod flag_duration;
mod flat_line;
mod gaps;
mod implausible_o2;
mod invalid_hour;
mod last_digit;
mod low_variance;
mod manual_entry;
mod mark_exceedance;
mod neighbour_divergence;
mod noise_zone;
mod realtime_exceedance;
mod source_exceedance;
mod step_change;
mod stop_mark;
mod water_flow;
mod water_target_class;

use domain::Point;
use serde::{Deserialize, Serialize};

pub use above_reference::{AirAbovePeers, SuddenChange};
pub use air_high_value::AirHighValue;
pub use bunching::Bunching;
pub use detection_limit::StuckAtDetectionLimit;
pub use dilution::Dilution;
pub use fgd_temperature::FgdTemperature;
pub use flag_duration::FlagDuration;
pub use flat_line::FlatLine;
pub use gaps::GapsAroundExceedances;
pub use implausible_o2::ImplausibleO2;
pub use invalid_hour::InvalidHour;
pub use last_digit::LastDigit;
pub use low_variance::LowVariance;
pub use manual_entry::ManualEntry;
pub use mark_exceedance::MarkExceedance;
pub use neighbour_divergence::NeighbourDivergence;
pub use noise_zone::NoiseZone;
pub use realtime_exceedance::RealtimeExceedance;
pub use source_exceedance::SourceExceedance;
pub use step_change::{Direction, StepChange};
pub use stop_mark::StopMark;
pub use water_flow::WaterFlow;
pub use water_target_class::WaterTargetClass;

use crate::{Context, DeviceSilent, Row, Rule, RuleKind, Verdict};

/// A rule's kind with its parameters, as the rules file gives them (`kind = "..."` and the
/// kind's own keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Params {
    /// Pollution-source hourly mean above the point's limit.
    SourceExceedance(SourceExceedance),
    /// Air-station hourly IAQI above a threshold.
    AirHighValue(AirHighValue),
    /// Fault, calibration or maintenance flags for too long.
    FlagDuration(FlagDuration),
    /// No data for too long (judged on the clock, not on a window).
    DeviceSilent(DeviceSilent),
    /// Real-time values (2011) above the point's limit.
    RealtimeExceedance(RealtimeExceedance),
    /// Hours with data that fail the validity rule.
    InvalidHour(InvalidHour),
    /// A water section's hourly values worse than its target class (GB 3838-2002).
    WaterTargetClass(WaterTargetClass),
    /// A noise point's hourly Leq above its zone's day or night limit (GB 3096-2008).
    NoiseZone(NoiseZone),
    /// An hourly value far above the point's recent baseline.
    SuddenChange(SuddenChange),
    /// An air station's hourly value far above the city's other stations at the same hour.
    AirAbovePeers(AirAbovePeers),
    /// Values set by hand (flag S).
    ManualEntry(ManualEntry),
    /// The same hourly value for too many running hours in a row.
    FlatLine(FlatLine),
    /// Most running hours of days at the method detection limit.
    StuckAtDetectionLimit(StuckAtDetectionLimit),
    /// Near-ambient O2 in a flue gas running at its usual flow.
    ImplausibleO2(ImplausibleO2),
    /// Hours marked stopped (F) while the flow says the source ran.
    StopMark(StopMark),
    /// A source's values in a band narrower than 2 % of its range for days.
    LowVariance(LowVariance),
    /// A source's level fallen far below its month while its flow stayed.
    StepChange(StepChange),
    /// A measured value following (21 − O2) while its converted value holds.
    Dilution(Dilution),
    /// A waste-water outlet's flow and concentrations contradicting each other, day after day.
    WaterFlow(WaterFlow),
    /// A source's hourly values piled up just under its limit.
    Bunching(Bunching),
    /// Hours marked faulty, in maintenance or calibration whose values exceed the limit.
    MarkExceedance(MarkExceedance),
    /// The logger quiet right after high hours, far more often than otherwise.
    GapsAroundExceedances(GapsAroundExceedances),
    /// An air station's level fallen against its neighbours'.
    NeighbourDivergence(NeighbourDivergence),
    /// The terminal digits of a month of hourly values far from uniform.
    LastDigit(LastDigit),
    /// A hot flue gas after a wet desulphurisation.
    FgdTemperature(FgdTemperature),
}

impl Params {
    /// The kind.
    pub fn kind(&self) -> RuleKind {
        match self {
            Params::SourceExceedance(_) => RuleKind::SourceExceedance,
            Params::AirHighValue(_) => RuleKind::AirHighValue,
            Params::FlagDuration(_) => RuleKind::FlagDuration,
            Params::DeviceSilent(_) => RuleKind::DeviceSilent,
            Params::RealtimeExceedance(_) => RuleKind::RealtimeExceedance,
            Params::InvalidHour(_) => RuleKind::InvalidHour,
            Params::WaterTargetClass(_) => RuleKind::WaterTargetClass,
            Params::NoiseZone(_) => RuleKind::NoiseZone,
            Params::SuddenChange(_) => RuleKind::SuddenChange,
            Params::AirAbovePeers(_) => RuleKind::AirAbovePeers,
            Params::ManualEntry(_) => RuleKind::ManualEntry,
            Params::FlatLine(_) => RuleKind::FlatLine,
            Params::StuckAtDetectionLimit(_) => RuleKind::StuckAtDetectionLimit,
            Params::ImplausibleO2(_) => RuleKind::ImplausibleO2,
            Params::StopMark(_) => RuleKind::StopMark,
            Params::LowVariance(_) => RuleKind::LowVariance,
            Params::StepChange(_) => RuleKind::StepChange,
            Params::Dilution(_) => RuleKind::Dilution,
            Params::WaterFlow(_) => RuleKind::WaterFlow,
            Params::Bunching(_) => RuleKind::Bunching,
            Params::MarkExceedance(_) => RuleKind::MarkExceedance,
            Params::GapsAroundExceedances(_) => RuleKind::GapsAroundExceedances,
            Params::NeighbourDivergence(_) => RuleKind::NeighbourDivergence,
            Params::LastDigit(_) => RuleKind::LastDigit,
            Params::FgdTemperature(_) => RuleKind::FgdTemperature,
        }
    }

    /// The kind's evaluator; none for silence, which is judged on the clock
    /// ([`crate::silent`]).
    pub(crate) fn evaluator(&self) -> Option<&dyn Evaluate> {
        match self {
            Params::SourceExceedance(p) => Some(p),
            Params::AirHighValue(p) => Some(p),
            Params::FlagDuration(p) => Some(p),
            Params::DeviceSilent(_) => None,
            Params::RealtimeExceedance(p) => Some(p),
            Params::InvalidHour(p) => Some(p),
            Params::WaterTargetClass(p) => Some(p),
            Params::NoiseZone(p) => Some(p),
            Params::SuddenChange(p) => Some(p),
            Params::AirAbovePeers(p) => Some(p),
            Params::ManualEntry(p) => Some(p),
            Params::FlatLine(p) => Some(p),
            Params::StuckAtDetectionLimit(p) => Some(p),
            Params::ImplausibleO2(p) => Some(p),
            Params::StopMark(p) => Some(p),
            Params::LowVariance(p) => Some(p),
            Params::StepChange(p) => Some(p),
            Params::Dilution(p) => Some(p),
            Params::WaterFlow(p) => Some(p),
            Params::Bunching(p) => Some(p),
            Params::MarkExceedance(p) => Some(p),
            Params::GapsAroundExceedances(p) => Some(p),
            Params::NeighbourDivergence(p) => Some(p),
            Params::LastDigit(p) => Some(p),
            Params::FgdTemperature(p) => Some(p),
        }
    }
}

/// The span of data a rule judges at once (not to be confused with an alarm's window, the
/// period a verdict is about).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// One hour of the point; with the valid hourly values of the `baseline_hours` before it
    /// given as the context's baseline when non-zero.
    Hour {
        /// Hours of the point's own past the rule compares with.
        baseline_hours: u32,
        /// Judged only once the hour is complete and its data have stopped coming (settled),
        /// not as each packet arrives: for a verdict that the hour's first packets would
        /// give wrongly (too few valid minutes yet; too few other stations reported yet).
        settled: bool,
    },
    /// Not a window: judged on the platform clock.
    Clock,
}

impl Span {
    /// One hour, judged as its data arrive, on nothing but itself.
    pub const HOUR: Span = Span::Hour {
        baseline_hours: 0,
        settled: false,
    };

    /// Whether the rule waits for the hour to be settled.
    pub fn settled(self) -> bool {
        matches!(self, Span::Hour { settled: true, .. })
    }

    /// Hours of the point's own past the rule compares with.
    pub fn baseline_hours(self) -> u32 {
        match self {
            Span::Hour { baseline_hours, .. } => baseline_hours,
            Span::Clock => 0,
        }
    }
}

/// What a rule kind judges: one hour of one point.
#[derive(Clone, Copy)]
pub(crate) struct Input<'a> {
    pub rule: &'a Rule,
    pub point: &'a Point,
    pub ctx: &'a Context,
    pub hour_start: i64,
    pub rows: &'a [Row],
    /// Whether the caller wants the verdict `(code, active)`; evidence is built only then.
    pub wanted: &'a dyn Fn(&str, bool) -> bool,
}

impl Input<'_> {
    /// The hour judged, as evidence shows it.
    pub fn window(&self) -> HourWindow {
        HourWindow {
            start: crate::iso(self.hour_start),
            end: crate::iso(self.hour_start + 3600),
        }
    }

    /// Whether a row falls in the hour judged.
    pub fn in_hour(&self, row: &Row) -> bool {
        (self.hour_start..self.hour_start + 3600).contains(&row.time)
    }

    /// Minutes of the hour judged still to come, when it is in progress (live evaluation):
    /// they may yet bring valid data. Zero for a complete hour.
    pub fn minutes_to_come(&self) -> usize {
        self.ctx.now_s.map_or(0, |now| {
            ((self.hour_start + 3600 - now).clamp(0, 3600) / 60) as usize
        })
    }

    /// The point's hourly records of the past hours the rule asked for (its span's, even when
    /// the context holds more for a rule that asked for more), then of the hour judged, oldest
    /// first.
    pub fn hourly_records(&self) -> impl Iterator<Item = &'_ Row> + '_ {
        let hours = self.rule.span().baseline_hours();
        self.past_since(self.hour_start - i64::from(hours) * 3600)
            .iter()
            .chain(self.rows.iter().filter(|r| self.in_hour(r)))
            .filter(|r| r.data_type == domain::DataType::Hour)
    }

    /// The context's past records from `from` on (the past is sorted by time: found, not
    /// scanned).
    fn past_since(&self, from: i64) -> &'_ [Row] {
        let past = &*self.ctx.past;
        &past[past.partition_point(|r| r.time < from)..]
    }

    /// The start of the window of `hours` hours ending with the hour judged, and the point's
    /// hourly records in it, oldest first.
    pub fn window_records(&self, hours: u32) -> (i64, Vec<&'_ Row>) {
        let from = self.hour_start - i64::from(hours.saturating_sub(1)) * 3600;
        let records = self
            .past_since(from)
            .iter()
            .chain(self.rows.iter().filter(|r| self.in_hour(r)))
            .filter(|r| r.data_type == domain::DataType::Hour)
            .filter(|r| hour_of(r) >= from)
            .collect();
        (from, records)
    }

    /// The minutes one minute-data record stands for (the point's minute-data interval).
    pub fn minutes_per_row(&self) -> usize {
        self.point.min_interval_min.max(1) as usize
    }
}

/// The flow codes the fraud rules read by default: flue-gas flow (HJ 212-2017 a00000) and
/// waste-water flow (w00000).
pub(crate) fn flow_codes() -> Vec<String> {
    vec!["a00000".into(), "w00000".into()]
}

/// The significant digits of a value as its analyser resolves it: as sent, less the zeros that
/// end its decimals (`30.5`: 3, `0.06`: 1, `12.0` and `8.60`: 2, `1200`: 4). A logger writing
/// two decimals for an analyser that resolves one pads every value with a 0; the value's own
/// precision is what says whether it can honestly hold for hours.
pub(crate) fn significant_digits(value: envstd::Dec) -> usize {
    let text = value.to_string();
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    text.trim_start_matches(['-', '+'])
        .chars()
        .filter(char::is_ascii_digit)
        .skip_while(|c| *c == '0')
        .count()
}

/// The start of the hour a record is in.
pub(crate) fn hour_of(r: &Row) -> i64 {
    r.time - r.time.rem_euclid(3600)
}

/// The hours a source ran, as the rules about fraud judge it: a record flagged N in an hour
/// whose flow (any of `flow_codes`) is not zero.
pub(crate) struct RunningHours {
    idle: Vec<i64>,
}

impl RunningHours {
    /// The hours with zero flow among `records`.
    pub fn new<'a>(records: impl Iterator<Item = &'a Row>, flow_codes: &[String]) -> Self {
        let mut idle: Vec<i64> = records
            .filter(|r| flow_codes.contains(&r.code))
            .filter(|r| r.avg.is_some_and(|v| v.to_f64() <= 0.0))
            .map(hour_of)
            .collect();
        idle.sort_unstable();
        idle.dedup();
        Self { idle }
    }

    /// Whether the record is of a running hour.
    pub fn running(&self, r: &Row) -> bool {
        r.normal() && self.idle.binary_search(&hour_of(r)).is_err()
    }
}

/// A source's usual flow: the median of the flows above zero of its running hours (flagged N)
/// among `flows` (hour -> flow and whether flagged N) in `[from, to)`.
pub(crate) fn usual_flow(
    flows: &std::collections::BTreeMap<i64, (f64, bool)>,
    from: i64,
    to: i64,
) -> Option<f64> {
    let mut running: Vec<f64> = flows
        .range(from..to)
        .filter(|(_, (f, normal))| *normal && *f > 0.0)
        .map(|(_, (f, _))| *f)
        .collect();
    running.sort_by(f64::total_cmp);
    running.get(running.len() / 2).copied()
}

/// The run of consecutive hours, at most `max`, ending at `hour_start` for which `at` gives
/// something, oldest first.
pub(crate) fn run_back<T>(hour_start: i64, max: u32, at: impl Fn(i64) -> Option<T>) -> Vec<T> {
    let mut run: Vec<T> = (0..i64::from(max))
        .map_while(|k| at(hour_start - k * 3600))
        .collect();
    run.reverse();
    run
}

/// The hour a verdict is about, in Beijing time.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct HourWindow {
    pub start: String,
    pub end: String,
}

/// A kind of window rule, evaluated with its parameters.
pub(crate) trait Evaluate {
    /// The data it judges; one hour unless the kind says otherwise.
    fn span(&self) -> Span {
        Span::HOUR
    }

    /// The verdicts, per code, for the window.
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict>;
}

/// What every kind's module uses.
mod prelude {
    pub(crate) use std::collections::BTreeMap;

    pub(crate) use envstd::Dec;
    pub(crate) use serde::Serialize;

    pub(crate) use serde::Deserialize;

    pub(crate) use super::{
        Evaluate, HourWindow, Input, RunningHours, Span, hour_of, run_back, significant_digits,
        usual_flow,
    };
    pub(crate) use crate::{Limited, Verdict, code_key, hourly_values, iso, limited_codes, push};
}
