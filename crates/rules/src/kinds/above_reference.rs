//! Above a reference: an hourly value above a factor times a reference mean, the point's own previous 24 hours (sudden change) or the city's other stations at the same hour (air above peers).

use super::prelude::*;

/// Parameters of a `sudden_change` rule: the hour against the point's own recent past.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuddenChange {
    /// Active when the hourly value exceeds this multiple of the baseline (a proposal).
    #[serde(default = "two")]
    pub factor: f64,
    /// The baseline: the valid hourly values of this many hours before the hour judged.
    #[serde(default = "twenty_four")]
    pub baseline_hours: u32,
    /// Valid baseline hours needed before the rule judges at all (a proposal).
    #[serde(default = "twelve")]
    pub min_baseline_hours: usize,
}

/// Parameters of an `air_above_peers` rule: the hour against the city's other stations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AirAbovePeers {
    /// Active when the hourly value exceeds this multiple of the others' mean (a proposal).
    #[serde(default = "one_and_a_half")]
    pub factor: f64,
    /// Other stations reporting the code in the hour needed before the rule judges.
    #[serde(default = "three")]
    pub min_peers: usize,
}

fn two() -> f64 {
    2.0
}
fn twenty_four() -> u32 {
    24
}
fn twelve() -> usize {
    12
}
fn one_and_a_half() -> f64 {
    1.5
}
fn three() -> usize {
    3
}

/// What the hour is compared with.
enum Reference {
    Own,
    Peers,
}

/// The reference is the point's own last 24 hours (sudden change) or the other stations.
#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_mean_24h: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_hours: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_stations_mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_stations: Option<usize>,
    factor: f64,
    threshold: f64,
    note: &'static str,
}

impl Evaluate for SuddenChange {
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: self.baseline_hours,
            settled: false,
        }
    }

    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        judge(input, Reference::Own, self.factor, self.min_baseline_hours)
    }
}

impl Evaluate for AirAbovePeers {
    /// The other stations' hourly records arrive around the same time as this one's, in any
    /// order: judged before they are in, a station would be raised and withdrawn.
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: 0,
            settled: true,
        }
    }

    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        judge(input, Reference::Peers, self.factor, self.min_peers)
    }
}

fn judge(
    input: &Input<'_>,
    reference: Reference,
    factor: f64,
    min_reference: usize,
) -> Vec<Verdict> {
    {
        let Input {
            rule,
            ctx,
            hour_start,
            rows,
            wanted,
            ..
        } = *input;
        let mut out = Vec::new();
        // The hour's value against a reference mean: the point's own previous 24 hours, or
        // the city's other stations at the same hour.
        let own = matches!(reference, Reference::Own);
        let (reference, note) = if own {
            (
                &ctx.baseline,
                "baseline and factor are a [proposal]; configure per rule",
            )
        } else {
            (&ctx.peers, "factor is a [proposal]; configure per rule")
        };
        for (o, v) in hourly_values(rows, hour_start) {
            let v = v.to_f64();
            let Some(&(mean, n)) = reference.get(&o.code) else {
                continue;
            };
            if n < min_reference || mean <= 0.0 {
                continue;
            }
            let round = |x: f64| (x * 1000.0).round() / 1000.0;
            push(&mut out, wanted, &o.code, v > mean * factor, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code: &o.code,
                value: v,
                baseline_mean_24h: own.then(|| round(mean)),
                baseline_hours: own.then_some(n),
                other_stations_mean: (!own).then(|| round(mean)),
                other_stations: (!own).then_some(n),
                factor,
                threshold: round(mean * factor),
                note,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use domain::{DataType, Point, PointKind};

    use crate::test_support::{row, rule};
    use crate::*;

    #[test]
    fn a_value_above_factor_times_its_reference_is_active_given_enough_reference_hours() {
        let mut p: Point = serde_json::from_str(r#"{"id":"w","name":"w","mn":"M","password":"p"}"#)
            .expect("point");
        p.kind = PointKind::WaterSection;
        let h = 1_790_038_800;
        let with_baseline = |mean: f64, hours: usize| Context {
            baseline: BTreeMap::from([("w21003".to_owned(), (mean, hours))]),
            ..Context::default()
        };
        let judge = |ctx: &Context, v: &str| {
            evaluate_with(
                &rule("sudden_change"),
                &p,
                ctx,
                h,
                &[row("w21003", h, v, "N", DataType::Hour)],
            )
        };
        // Factor 2 over a 24-hour mean of 0.5 mg/L: 1.2 is sudden, 0.9 is not.
        let v = judge(&with_baseline(0.5, 24), "1.2");
        assert!(v[0].active);
        assert_eq!(v[0].evidence["threshold"], 1.0);
        assert!(!judge(&with_baseline(0.5, 24), "0.9")[0].active);
        // Too few reference hours (fewer than 12): no verdict.
        assert!(judge(&with_baseline(0.5, 5), "9").is_empty());
    }
}
