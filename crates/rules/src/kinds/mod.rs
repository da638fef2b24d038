//! One module per kind of window rule, each behind [`Evaluate`]: what it judges in one hour of
//! one point, and the evidence it gives. A new kind of rule is a new module and a line in
//! [`evaluator`].

mod above_reference;
mod air_high_value;
mod flag_duration;
mod invalid_hour;
mod noise_zone;
mod realtime_exceedance;
mod source_exceedance;
mod water_target_class;

use domain::Point;

use crate::{Context, Row, Rule, RuleKind, Verdict};

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

    /// The minutes one minute-data record stands for (the point's minute-data interval).
    pub fn minutes_per_row(&self) -> usize {
        self.point.min_interval_min.max(1) as usize
    }
}

/// The hour a verdict is about, in Beijing time.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct HourWindow {
    pub start: String,
    pub end: String,
}

/// A kind of window rule.
pub(crate) trait Evaluate {
    /// The verdicts, per code, for the hour.
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict>;
}

/// The evaluator of a kind; none for silence, which is judged on the clock ([`crate::silent`]).
pub(crate) fn evaluator(kind: RuleKind) -> Option<&'static dyn Evaluate> {
    match kind {
        RuleKind::SourceExceedance => Some(&source_exceedance::Eval),
        RuleKind::AirHighValue => Some(&air_high_value::Eval),
        RuleKind::FlagDuration => Some(&flag_duration::Eval),
        RuleKind::RealtimeExceedance => Some(&realtime_exceedance::Eval),
        RuleKind::InvalidHour => Some(&invalid_hour::Eval),
        RuleKind::WaterTargetClass => Some(&water_target_class::Eval),
        RuleKind::NoiseZone => Some(&noise_zone::Eval),
        RuleKind::SuddenChange | RuleKind::AirAbovePeers => Some(&above_reference::Eval),
        RuleKind::DeviceSilent => None,
    }
}

/// What every kind's module uses.
mod prelude {
    pub(crate) use std::collections::BTreeMap;

    pub(crate) use envstd::Dec;
    pub(crate) use serde::Serialize;

    pub(crate) use super::{Evaluate, HourWindow, Input};
    pub(crate) use crate::{
        Limited, RuleKind, Verdict, code_key, hourly_values, iso, limited_codes, push,
    };
}
