//! Flue-gas temperature against a wet desulphurisation (fraud rule R7): a flue gas that leaves
//! a wet scrubber is saturated with water and cool (about 45–60 °C); one that is hot while the
//! outlet's registry says it passes a wet scrubber has bypassed it, or the scrubber is off,
//! whatever SO2 the analyser reports. The evidence shows the reported SO2 beside the
//! temperatures: a low SO2 with a hot gas is the contradiction a duty officer acts on.
//!
//! Judged only at outlets whose registry entry lists one of `units`; a plant with a reheater
//! after its scrubber (a GGH or MGGH heating the gas to 70–80 °C and above) sets its own
//! threshold as the rule's per-point `limit` override. The hour judged is active when it and
//! the running hours before it (flagged N, with flow) make a run of at least `min_hours` above
//! the threshold. The other half of R7 (a source reported stopped while its gas is hot and
//! flowing) is the stop-mark rule's, on the flow.

use super::prelude::*;

/// Parameters of a `fgd_temperature` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FgdTemperature {
    /// Abatement units (the point's `abatement`) after which the gas must be cool.
    #[serde(default = "wet")]
    pub units: Vec<String>,
    /// The flue-gas temperature code (HJ 212-2017: a01012).
    #[serde(default = "temperature")]
    pub temperature_code: String,
    /// Highest temperature of a gas leaving the units, °C (R7: about 80, a [proposal]).
    #[serde(default = "eighty")]
    pub max_temperature: f64,
    /// Consecutive running hours above it that make the hour judged active. [proposal]
    #[serde(default = "three")]
    pub min_hours: u32,
    /// Codes shown beside the temperatures in the evidence (SO2).
    #[serde(default = "so2")]
    pub shown: Vec<String>,
    /// Flow codes: an hour whose flow is zero does not count as running.
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
}

fn wet() -> Vec<String> {
    vec!["wet_fgd".into()]
}
fn temperature() -> String {
    "a01012".into()
}
fn eighty() -> f64 {
    80.0
}
fn three() -> u32 {
    3
}
fn so2() -> Vec<String> {
    vec!["a21026".into()]
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    /// The units of the point's registry entry that the rule checks.
    units: Vec<String>,
    max_temperature: f64,
    /// Where the threshold comes from: the rule, or its override for the point.
    threshold_source: &'static str,
    run_start: String,
    run_hours: u32,
    min_hours: u32,
    /// The run's hourly temperatures, oldest first.
    temperatures: Vec<f64>,
    /// The codes shown, each with its hourly values over the run and its limit.
    reported: Vec<Reported>,
    standard: &'static str,
}

#[derive(Serialize)]
struct Reported {
    code: String,
    values: Vec<Option<f64>>,
    limit: Option<f64>,
}

impl Evaluate for FgdTemperature {
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: self.min_hours.saturating_sub(1).max(1),
            settled: true,
        }
    }

    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            point,
            hour_start,
            wanted,
            ..
        } = *input;
        let units: Vec<String> = point
            .abatement
            .iter()
            .filter(|u| self.units.contains(u))
            .cloned()
            .collect();
        let code = self.temperature_code.as_str();
        let o = rule.override_for(&point.id, code);
        if units.is_empty() || o.is_some_and(|o| o.disabled) {
            return Vec::new();
        }
        let (threshold, threshold_source) = match o.and_then(|o| o.limit) {
            Some(l) => (l, "the rule's override for the point"),
            None => (self.max_temperature, "the rule"),
        };
        let (_, hourly) = input.window_records(self.min_hours.max(1));
        let hours = RunningHours::new(hourly.iter().copied(), &self.flow_codes);
        let value_at = |c: &str, h: i64| {
            hourly
                .iter()
                .find(|r| r.code == c && hour_of(r) == h)
                .copied()
        };
        if value_at(code, hour_start).is_none() {
            return Vec::new();
        }
        let run: Vec<(i64, f64)> = run_back(hour_start, self.min_hours.max(1), |h| {
            value_at(code, h)
                .filter(|r| hours.running(r))
                .and_then(|r| r.avg)
                .map(|v| (h, v.to_f64()))
                .filter(|(_, v)| *v > threshold)
        });
        let run_hours = run.len() as u32;
        let mut out = Vec::new();
        push(
            &mut out,
            wanted,
            code,
            run_hours >= self.min_hours.max(1),
            || {
                let run_start = run.first().map_or(hour_start, |r| r.0);
                Evidence {
                    rule: &rule.id,
                    window: input.window(),
                    code,
                    units,
                    max_temperature: threshold,
                    threshold_source,
                    run_start: iso(run_start),
                    run_hours,
                    min_hours: self.min_hours,
                    temperatures: run.iter().map(|r| r.1).collect(),
                    reported: self
                        .shown
                        .iter()
                        .map(|c| Reported {
                            code: c.clone(),
                            values: run
                                .iter()
                                .map(|(h, _)| {
                                    value_at(c, *h).and_then(|r| r.avg).map(|v| v.to_f64())
                                })
                                .collect(),
                            limit: point.codes.get(c).and_then(|s| s.limit),
                        })
                        .collect(),
                    standard: "fraud rule R7 (standards summary §5.4): a flue gas above about 80 °C after a wet desulphurisation reported running; the 80 °C and the hours are [proposal]s",
                }
            },
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use domain::DataType;

    use crate::test_support::{point, row, rule};
    use crate::*;

    const H0: i64 = 1_790_000_000 - 1_790_000_000 % 3600;

    fn day(temp: impl Fn(i64) -> f64, flag: impl Fn(i64) -> &'static str) -> Vec<Observation> {
        (0..24)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                [
                    row(
                        "a01012",
                        t,
                        &format!("{:.1}", temp(h)),
                        flag(h),
                        DataType::Hour,
                    ),
                    row("a21026", t, "21.50", flag(h), DataType::Hour),
                    row("a00000", t, "52000", flag(h), DataType::Hour),
                ]
            })
            .collect()
    }

    fn active(p: &Point, r: &Rule, obs: &[Observation]) -> Vec<i64> {
        evaluate_series(r, p, &Context::default(), rows(obs))
            .get("a01012")
            .map(|ws| {
                ws.iter()
                    .filter(|w| w.1)
                    .map(|w| (w.0 - H0) / 3600)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn scrubbed() -> Point {
        let mut p = point();
        p.abatement = vec!["scr".into(), "wet_fgd".into()];
        p
    }

    #[test]
    fn a_hot_gas_after_a_wet_scrubber_fires_after_three_hours() {
        let bypass = |h: i64| if (10..16).contains(&h) { 125.0 } else { 52.0 };
        let hours = active(&scrubbed(), &rule("fgd_temperature"), &day(bypass, |_| "N"));
        assert_eq!(hours, [12, 13, 14, 15]);
    }

    #[test]
    fn hot_dry_plants_stopped_hours_and_reheaters_do_not() {
        let hot = |_| 135.0;
        // A semi-dry scrubber leaves hot: not judged.
        let mut dry = point();
        dry.abatement = vec!["semi_dry_fgd".into(), "bag_filter".into()];
        assert!(active(&dry, &rule("fgd_temperature"), &day(hot, |_| "N")).is_empty());
        // Hours flagged stopped do not count.
        let bypass = |h: i64| if (10..16).contains(&h) { 125.0 } else { 52.0 };
        let stopped = |h: i64| if (10..16).contains(&h) { "F" } else { "N" };
        assert!(active(&scrubbed(), &rule("fgd_temperature"), &day(bypass, stopped)).is_empty());
        // A plant with a reheater at 85 °C and its own threshold of 95 °C.
        let mut r = rule("fgd_temperature");
        r.overrides.push(Override {
            point: "s".into(),
            code: Some("a01012".into()),
            disabled: false,
            limit: Some(95.0),
            iaqi_above: None,
        });
        assert!(active(&scrubbed(), &r, &day(|_| 85.0, |_| "N")).is_empty());
        assert!(
            !active(
                &scrubbed(),
                &rule("fgd_temperature"),
                &day(|_| 85.0, |_| "N")
            )
            .is_empty()
        );
    }
}
