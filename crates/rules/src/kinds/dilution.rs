//! O2–pollutant decoupling (fraud rule R6): air let into a stack or its sample line lowers the
//! measured concentration exactly in proportion to (21 − O2), so over a day of swinging O2 the
//! measured value follows (21 − O2) closely while the value converted to the reference O2
//! barely moves. A boiler whose O2 changes with its load does not look like that: its flow
//! falls as its O2 rises (less fuel, less gas), its emissions change with the fuel burnt, not
//! with the air.
//!
//! Judged over the running hours (flagged N, flow above zero) of the last `window_hours`, for
//! every code the point converts to a reference O2: active when O2 swung by at least
//! `min_o2_swing` points, the measured value correlates with (21 − O2) by at least
//! `min_correlation`, the converted value varies less than `max_converted_cv` (coefficient of
//! variation), and the flow does not fall as O2 rises (their correlation is at least
//! `min_flow_o2_correlation`). O2 at 21 % or more is [`super::ImplausibleO2`]'s case and is
//! left out here.

use super::prelude::*;

/// Parameters of a `dilution` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dilution {
    /// Hours, ending with the hour judged, looked at. [proposal]
    #[serde(default = "day")]
    pub window_hours: u32,
    /// Running hours the window needs. [proposal]
    #[serde(default = "twelve")]
    pub min_running_hours: usize,
    /// Smallest swing of O2 (highest minus lowest, percentage points). [proposal]
    #[serde(default = "three")]
    pub min_o2_swing: f64,
    /// Correlation of the measured value with (21 − O2) at or above which it follows the air
    /// (R6: 0.9).
    #[serde(default = "nine_tenths")]
    pub min_correlation: f64,
    /// Largest coefficient of variation of the converted value that counts as stable.
    /// [proposal]
    #[serde(default = "tenth")]
    pub max_converted_cv: f64,
    /// Smallest correlation of the flow with O2: below it, O2 rose as the load fell, which is
    /// a boiler turning down, not air let in. [proposal]
    #[serde(default)]
    pub min_flow_o2_correlation: f64,
    /// The O2 code (HJ 212-2017 a19001).
    #[serde(default = "o2_code")]
    pub o2_code: String,
    /// Flow codes: an hour with zero flow is not a running hour.
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
}

fn day() -> u32 {
    24
}
fn twelve() -> usize {
    12
}
fn three() -> f64 {
    3.0
}
fn nine_tenths() -> f64 {
    0.9
}
fn tenth() -> f64 {
    0.1
}
fn o2_code() -> String {
    "a19001".into()
}

/// Pearson's correlation of two equally long series; 0 when either does not vary.
pub(crate) fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    let (mx, my) = (
        x[..n].iter().sum::<f64>() / n as f64,
        y[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

fn cv(v: &[f64]) -> f64 {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    if mean > 0.0 { sd / mean } else { 0.0 }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    from: String,
    running_hours: usize,
    o2_min: f64,
    o2_max: f64,
    min_o2_swing: f64,
    /// Correlation of the measured value with (21 − O2).
    correlation: f64,
    min_correlation: f64,
    measured_cv: f64,
    converted_cv: f64,
    max_converted_cv: f64,
    flow_o2_correlation: Option<f64>,
    min_flow_o2_correlation: f64,
    ref_o2: f64,
    /// Per running hour, oldest first: start, O2 (%), measured and converted value.
    hours: Vec<(String, f64, f64, f64)>,
    standard: &'static str,
}

impl Evaluate for Dilution {
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: self.window_hours.saturating_sub(1).max(1),
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
        let (from, hourly) = input.window_records(self.window_hours);
        let hours = RunningHours::new(hourly.iter().copied(), &self.flow_codes);
        let by_hour = |code: &str| -> BTreeMap<i64, f64> {
            hourly
                .iter()
                .filter(|r| r.code == code && hours.running(r))
                .filter_map(|r| Some((hour_of(r), r.avg?.to_f64())))
                .collect()
        };
        let o2 = by_hour(&self.o2_code);
        let flow = self
            .flow_codes
            .iter()
            .map(|c| by_hour(c))
            .find(|m| !m.is_empty())
            .unwrap_or_default();
        let mut out = Vec::new();
        for now in hourly.iter().filter(|r| hour_of(r) == hour_start) {
            let code = now.code.as_str();
            let Some(ref_o2) = point.codes.get(code).and_then(|s| s.ref_o2) else {
                continue;
            };
            if code == self.o2_code
                || rule
                    .override_for(&point.id, code)
                    .is_some_and(|o| o.disabled)
            {
                continue;
            }
            // The running hours with a value, an O2 below ambient and (where sent) a flow.
            let mut rows: Vec<(i64, f64, f64, f64)> = Vec::new();
            for (h, v) in by_hour(code) {
                if let Some(x) = o2.get(&h).filter(|x| **x < 21.0 && **x >= 0.0) {
                    let converted = v * (21.0 - ref_o2) / (21.0 - x);
                    rows.push((h, *x, v, converted));
                }
            }
            let o2s: Vec<f64> = rows.iter().map(|r| r.1).collect();
            let air: Vec<f64> = o2s.iter().map(|x| 21.0 - x).collect();
            let measured: Vec<f64> = rows.iter().map(|r| r.2).collect();
            let converted: Vec<f64> = rows.iter().map(|r| r.3).collect();
            let o2_min = o2s.iter().copied().fold(f64::INFINITY, f64::min);
            let o2_max = o2s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let r = correlation(&air, &measured);
            let (measured_cv, converted_cv) = (cv(&measured), cv(&converted));
            let flows: Vec<(f64, f64)> = rows
                .iter()
                .filter_map(|row| Some((*flow.get(&row.0)?, row.1)))
                .collect();
            let flow_o2 = (flows.len() == rows.len() && !flows.is_empty()).then(|| {
                let (f, x): (Vec<f64>, Vec<f64>) = flows.into_iter().unzip();
                correlation(&f, &x)
            });
            let active = hours.running(now)
                && rows.len() >= self.min_running_hours
                && o2_max - o2_min >= self.min_o2_swing
                && r >= self.min_correlation
                && converted_cv <= self.max_converted_cv
                && flow_o2.is_none_or(|c| c >= self.min_flow_o2_correlation);
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                from: iso(from),
                running_hours: rows.len(),
                o2_min: if rows.is_empty() { 0.0 } else { o2_min },
                o2_max: if rows.is_empty() { 0.0 } else { o2_max },
                min_o2_swing: self.min_o2_swing,
                correlation: round3(r),
                min_correlation: self.min_correlation,
                measured_cv: round3(measured_cv),
                converted_cv: round3(converted_cv),
                max_converted_cv: self.max_converted_cv,
                flow_o2_correlation: flow_o2.map(round3),
                min_flow_o2_correlation: self.min_flow_o2_correlation,
                ref_o2,
                hours: rows
                    .iter()
                    .map(|(h, x, v, c)| (iso(*h), *x, *v, round3(*c)))
                    .collect(),
                standard: "fraud rule R6 (standards summary §5.4): correlation with (21 − O2) above 0.9 with a stable converted value; the day, the O2 swing, the stability and the flow condition are [proposal]s",
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

    /// Hourly SO2, O2 and flow from `at(h) = (so2, o2, flow)`.
    fn series(hours: i64, at: impl Fn(i64) -> (f64, f64, f64)) -> Vec<Observation> {
        (0..hours)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                let (so2, o2, flow) = at(h);
                [
                    row("a21026", t, &format!("{so2:.2}"), "N", DataType::Hour),
                    row("a19001", t, &format!("{o2:.2}"), "N", DataType::Hour),
                    row("a00000", t, &format!("{flow:.0}"), "N", DataType::Hour),
                ]
            })
            .collect()
    }

    fn active(obs: &[Observation]) -> Vec<i64> {
        let w = evaluate_series(&rule("dilution"), &point(), &Context::default(), rows(obs));
        w.get("a21026")
            .map(|v| {
                v.iter()
                    .filter(|x| x.1)
                    .map(|x| (x.0 - H0) / 3600)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn wobble(h: i64, k: i64) -> f64 {
        ((h * 7919 + k * 104_729) % 113) as f64 / 56.0 - 1.0
    }

    #[test]
    fn air_let_in_is_dilution() {
        // A plant at 40 mg/m³ (O2 7 %) that lets air in: O2 between 10 and 15 %, measured
        // value and flow scaled by the air, converted value ≈ 40 × (15/14) throughout.
        let obs = series(48, |h| {
            let o2 = if h < 24 {
                7.0 + 0.5 * wobble(h, 1)
            } else {
                12.5 + 2.5 * wobble(h, 2)
            };
            let true_so2 = 40.0 + 1.5 * wobble(h, 3);
            let dilution = (21.0 - o2) / 14.0;
            (true_so2 * dilution, o2, 52_000.0 / dilution)
        });
        let a = active(&obs);
        assert!(a.contains(&47), "{a:?}");
        // The first day, at a steady O2, is not; the first hour of air already is (the day's
        // window holds the jump in O2 and the measured value's fall with it).
        assert_eq!(a.first(), Some(&24), "{a:?}");
    }

    #[test]
    fn honest_look_alikes_are_not_dilution() {
        // A boiler turning down at night: O2 rises from 6 to 11 % as the flow halves, and the
        // measured SO2 falls with the air (the converted value is steady): the flow says load.
        let turndown = series(48, |h| {
            let night = ((h % 24) as f64 / 24.0 * std::f64::consts::TAU)
                .cos()
                .max(0.0);
            let o2 = 6.0 + 5.0 * night + 0.3 * wobble(h, 1);
            let so2 = 30.0 * (21.0 - o2) / 15.0;
            (so2, o2, 52_000.0 * (1.0 - 0.5 * night))
        });
        assert!(active(&turndown).is_empty());
        // O2 steady, emissions moving with the fuel.
        let steady = series(48, |h| {
            (
                25.0 + 8.0 * wobble(h, 4),
                8.0 + 0.4 * wobble(h, 5),
                52_000.0,
            )
        });
        assert!(active(&steady).is_empty());
        // O2 swinging but the emission moving on its own (not following the air).
        let own = series(48, |h| {
            (
                25.0 + 8.0 * wobble(h, 4),
                9.0 + 2.5 * wobble(h, 5),
                52_000.0,
            )
        });
        assert!(active(&own).is_empty());
    }

    #[test]
    fn correlation_of_lines() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((super::correlation(&x, &[2.0, 4.0, 6.0, 8.0]) - 1.0).abs() < 1e-12);
        assert!((super::correlation(&x, &[8.0, 6.0, 4.0, 2.0]) + 1.0).abs() < 1e-12);
        assert_eq!(super::correlation(&x, &[5.0; 4]), 0.0);
    }
}
