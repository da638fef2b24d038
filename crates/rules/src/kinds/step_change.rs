//! Step change without a process change (fraud rule R12): a source's level of the last day sits
//! far below its level of the month before, while its flow (the load) stayed where it was. A
//! changed slope, intercept or range in the analyser or the logger does that; a real drop in
//! emissions comes with less load, another fuel or a new abatement unit, which the bureau can
//! check against the clue.
//!
//! The level is the mean of the running hours (flagged N and, where a flow is sent, with flow
//! above zero) of the last `recent_hours`; the reference is the mean and standard deviation of
//! the running hours of the month before them. The hour judged is active when the level moved
//! by more than `sigmas` standard deviations in the direction the rule watches (down by default:
//! cheating lowers readings; a rise is an exceedance the other rules see) and the mean flow moved
//! by less than `max_flow_change`. Flows and the flue-gas conditions are not judged.

use super::prelude::*;

/// Parameters of a `step_change` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepChange {
    /// Hours of the reference before the recent hours (R12: 30 days).
    #[serde(default = "month")]
    pub reference_hours: u32,
    /// Hours, ending with the hour judged, whose mean is the new level. [proposal]
    #[serde(default = "day")]
    pub recent_hours: u32,
    /// Running hours the reference needs. [proposal]
    #[serde(default = "week")]
    pub min_reference_hours: usize,
    /// Running hours the recent level needs. [proposal]
    #[serde(default = "twelve")]
    pub min_recent_hours: usize,
    /// Shift, in standard deviations of the reference, that makes a step (R12: 3).
    #[serde(default = "three")]
    pub sigmas: f64,
    /// `down`, `up` or `both`. [proposal]
    #[serde(default)]
    pub direction: Direction,
    /// Largest relative change of the mean flow that still counts as an unchanged process.
    /// [proposal]
    #[serde(default = "fifth")]
    pub max_flow_change: f64,
    /// Flow codes: the load the step is checked against; not judged themselves.
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
    /// Codes not judged: the flue-gas and water conditions.
    #[serde(default = "super::flat_line::conditions")]
    pub ignore: Vec<String>,
}

/// Which steps a `step_change` rule watches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Levels that fell.
    #[default]
    Down,
    /// Levels that rose.
    Up,
    /// Both.
    Both,
}

fn month() -> u32 {
    720
}
fn day() -> u32 {
    24
}
fn week() -> usize {
    168
}
fn twelve() -> usize {
    12
}
fn three() -> f64 {
    3.0
}
fn fifth() -> f64 {
    0.2
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    reference_from: String,
    recent_from: String,
    reference_mean: f64,
    reference_sd: f64,
    reference_hours: usize,
    recent_mean: f64,
    recent_hours: usize,
    /// The shift of the level, in standard deviations of the reference.
    shift_sigmas: f64,
    threshold_sigmas: f64,
    /// Mean flow of the reference and of the recent hours, and the relative change.
    reference_flow: Option<f64>,
    recent_flow: Option<f64>,
    flow_change: Option<f64>,
    max_flow_change: f64,
    standard: &'static str,
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

impl Evaluate for StepChange {
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: (self.reference_hours + self.recent_hours).saturating_sub(1),
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
        let recent_from = hour_start - i64::from(self.recent_hours.max(1) - 1) * 3600;
        let reference_from = recent_from - i64::from(self.reference_hours) * 3600;
        let hourly: Vec<&crate::Row> = input
            .hourly_records()
            .filter(|r| hour_of(r) >= reference_from)
            .collect();
        let hours = RunningHours::new(hourly.iter().copied(), &self.flow_codes);
        // Running values per code, split at the start of the recent hours.
        let mut split: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for r in hourly.iter().filter(|r| hours.running(r)) {
            if let Some(v) = r.avg {
                let (reference, recent) = split.entry(r.code.as_str()).or_default();
                if hour_of(r) >= recent_from {
                    recent.push(v.to_f64());
                } else {
                    reference.push(v.to_f64());
                }
            }
        }
        let flow = self
            .flow_codes
            .iter()
            .find_map(|c| split.get(c.as_str()))
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
            .map(|(a, b)| (mean_sd(a).0, mean_sd(b).0));
        let flow_change = flow.map(|(a, b)| if a > 0.0 { (b - a) / a } else { 0.0 });
        let mut out = Vec::new();
        for now in hourly.iter().filter(|r| hour_of(r) == hour_start) {
            let code = now.code.as_str();
            if self
                .flow_codes
                .iter()
                .chain(&self.ignore)
                .any(|c| c == code)
                || rule
                    .override_for(&point.id, code)
                    .is_some_and(|o| o.disabled)
            {
                continue;
            }
            let Some((reference, recent)) = split.get(code) else {
                continue;
            };
            let (ref_mean, ref_sd) = mean_sd(reference);
            let (recent_mean, _) = mean_sd(recent);
            let shift = if ref_sd > 0.0 {
                (recent_mean - ref_mean) / ref_sd
            } else {
                0.0
            };
            let stepped = match self.direction {
                Direction::Down => shift < -self.sigmas,
                Direction::Up => shift > self.sigmas,
                Direction::Both => shift.abs() > self.sigmas,
            };
            let active = hours.running(now)
                && reference.len() >= self.min_reference_hours
                && recent.len() >= self.min_recent_hours
                && stepped
                && flow_change.is_none_or(|c| c.abs() <= self.max_flow_change);
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                reference_from: iso(reference_from),
                recent_from: iso(recent_from),
                reference_mean: round(ref_mean, 3),
                reference_sd: round(ref_sd, 3),
                reference_hours: reference.len(),
                recent_mean: round(recent_mean, 3),
                recent_hours: recent.len(),
                shift_sigmas: round(shift, 2),
                threshold_sigmas: self.sigmas,
                reference_flow: flow.map(|f| round(f.0, 1)),
                recent_flow: flow.map(|f| round(f.1, 1)),
                flow_change: flow_change.map(|c| round(c, 3)),
                max_flow_change: self.max_flow_change,
                standard: "fraud rule R12 (standards summary §5.4): a shift of more than 3 σ of the previous 30 days; the day of recent hours, the minimum hours, the direction and the flow tolerance are [proposal]s",
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use domain::DataType;

    use crate::test_support::{point, row, rule};
    use crate::*;

    const H0: i64 = 1_790_000_000 - 1_790_000_000 % 3600;

    fn series(
        hours: i64,
        so2: impl Fn(i64) -> f64,
        flow: impl Fn(i64) -> f64,
        flag: impl Fn(i64) -> &'static str,
    ) -> Vec<Observation> {
        (0..hours)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                [
                    row(
                        "a21026",
                        t,
                        &format!("{:.2}", so2(h)),
                        flag(h),
                        DataType::Hour,
                    ),
                    row(
                        "a00000",
                        t,
                        &format!("{:.0}", flow(h)),
                        flag(h),
                        DataType::Hour,
                    ),
                ]
            })
            .collect()
    }

    fn active_hours(obs: &[Observation]) -> Vec<i64> {
        let w = evaluate_series(
            &rule("step_change"),
            &point(),
            &Context::default(),
            rows(obs),
        );
        w.get("a21026")
            .map(|v| {
                v.iter()
                    .filter(|x| x.1)
                    .map(|x| (x.0 - H0) / 3600)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Daily cycle plus an hourly wobble: 22 ± about 5.
    fn honest(h: i64) -> f64 {
        22.0 + 4.0 * ((h % 24) as f64 / 24.0 * std::f64::consts::TAU).sin()
            + ((h * 7919 % 113) as f64 / 56.0 - 1.0) * 2.0
    }

    #[test]
    fn a_level_that_falls_at_the_same_load_is_a_step() {
        // A month at 22 ± 5, then the analyser's slope halved at hour 800.
        let obs = series(
            900,
            |h| if h < 800 { honest(h) } else { honest(h) * 0.4 },
            |_| 52_000.0,
            |_| "N",
        );
        let active = active_hours(&obs);
        assert!(!active.is_empty(), "no step found");
        assert!(active.iter().all(|h| *h >= 800), "{active:?}");
        // Found within the day after the change.
        assert!(active[0] < 824, "{active:?}");
    }

    #[test]
    fn honest_look_alikes_are_not_steps() {
        // The same month without the change.
        assert!(active_hours(&series(900, honest, |_| 52_000.0, |_| "N")).is_empty());
        // Load halved (flow and emissions fall together): a process change.
        let low_load = series(
            900,
            |h| if h < 800 { honest(h) } else { honest(h) * 0.4 },
            |h| if h < 800 { 52_000.0 } else { 26_000.0 },
            |_| "N",
        );
        assert!(active_hours(&low_load).is_empty());
        // A rainy day: storm water doubles the flow and dilutes the concentration to 0.4 for a
        // day (a waste-water outlet's look-alike; the rule reads any flow code the same way).
        let rain = series(
            900,
            |h| {
                if (800..824).contains(&h) {
                    honest(h) * 0.4
                } else {
                    honest(h)
                }
            },
            |h| {
                if (800..824).contains(&h) {
                    104_000.0
                } else {
                    52_000.0
                }
            },
            |_| "N",
        );
        assert!(active_hours(&rain).is_empty());
        // A week's shutdown (F, zero flow) and the restart at the usual level.
        let shutdown = series(
            900,
            |h| {
                if (700..868).contains(&h) {
                    0.0
                } else {
                    honest(h)
                }
            },
            |h| {
                if (700..868).contains(&h) {
                    0.0
                } else {
                    52_000.0
                }
            },
            |h| if (700..868).contains(&h) { "F" } else { "N" },
        );
        assert!(active_hours(&shutdown).is_empty());
        // Less than a week of history: not judged.
        let short = series(
            150,
            |h| if h < 120 { honest(h) } else { honest(h) * 0.4 },
            |_| 52_000.0,
            |_| "N",
        );
        assert!(active_hours(&short).is_empty());
    }
}
