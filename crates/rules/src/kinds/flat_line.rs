//! Flat line (fraud rule R1): a concentration whose hourly value stays the same, hour after
//! hour, while the source runs. A frozen analyser or a value replayed by the logger does that;
//! a real process never holds a number to the last digit for hours.
//!
//! Only hours the source ran count: an hour flagged anything but N (stopped F, maintenance M,
//! calibration C...) or with zero flow ends the run, so a plant shut down for a week, which
//! reports the same zero all along, is not a flat line. A run is counted in hourly records,
//! so an analyser that measures every two hours (its hourly value repeated once) needs
//! twice as many hours to show the same number of identical measurements; `min_hours` says
//! how many hours make a run (standards §5.4 R1: 6, a [proposal]).

use super::prelude::*;

/// Parameters of a `flat_line` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlatLine {
    /// Consecutive running hours with the same value that make the hour judged active.
    #[serde(default = "six")]
    pub min_hours: u32,
    /// Largest change between consecutive hours still counted as "the same" (0: the same
    /// value to the last digit sent).
    #[serde(default)]
    pub tolerance: f64,
    /// Flow codes: an hour whose flow is zero does not count as running, and flows themselves
    /// are not judged (a flow held by a pump's setting is not a frozen analyser).
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
    /// Codes not judged: the rule is about concentrations, not the flue-gas or water conditions
    /// that can honestly hold for hours (temperature, pressure, humidity, velocity, O2, pH).
    #[serde(default = "conditions")]
    pub ignore: Vec<String>,
    /// Values sent with fewer significant digits are not judged: an air station's CO of "0.6"
    /// mg/m³ may honestly read the same for hours, a value of "30.5" may not. [proposal]
    #[serde(default = "two")]
    pub min_significant_digits: usize,
    /// Values smaller than this many units of their last digit are not judged (0: all): an
    /// ambient SO2 of "10" µg/m³ is ten units of its resolution and can honestly hold for
    /// half a day, a PM2.5 of "38" cannot. [proposal]
    #[serde(default)]
    pub min_units: u32,
}

fn two() -> usize {
    2
}

fn six() -> u32 {
    6
}

pub(crate) fn conditions() -> Vec<String> {
    // Flue-gas velocity, temperature, pressure, humidity and O2; water pH and temperature
    // (HJ 212-2017 Appendix B).
    [
        "a01011", "a01012", "a01013", "a01014", "a19001", "w01001", "w01010",
    ]
    .map(String::from)
    .to_vec()
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    /// The value held, as sent in the hour judged.
    value: String,
    /// The run: its first hour and its length in hours, the hour judged included.
    run_start: String,
    run_hours: u32,
    threshold_hours: u32,
    tolerance: f64,
    standard: &'static str,
}

impl Evaluate for FlatLine {
    fn span(&self) -> Span {
        // The hours before the one judged that could belong to its run; judged on complete
        // hours only, since an hourly record is only final then.
        Span::Hour {
            baseline_hours: self.min_hours.saturating_sub(1).max(1),
            settled: true,
        }
    }

    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            hour_start,
            ctx,
            wanted,
            ..
        } = *input;
        let now: Vec<&crate::Row> = input
            .hourly_records()
            .filter(|r| hour_of(r) == hour_start)
            .collect();
        let hours = RunningHours::new(input.hourly_records(), &self.flow_codes);
        let mut out = Vec::new();
        for o in &now {
            let code = o.code.as_str();
            if self
                .flow_codes
                .iter()
                .chain(&self.ignore)
                .any(|c| c == code)
            {
                continue;
            }
            let Some(value) = o.avg else { continue };
            if significant_digits(value) < self.min_significant_digits
                || value.at_scale(value.scale()).unsigned_abs() < u128::from(self.min_units)
            {
                continue;
            }
            let running = |r: &crate::Row| hours.running(r);
            // The run ending at the hour judged, walking back one hour at a time.
            let mut run = 0u32;
            let mut start = hour_start;
            if running(o) {
                run = 1;
                let mut prev = value;
                for h in 1..self.min_hours.max(1) {
                    let at = hour_start - i64::from(h) * 3600;
                    let Some(r) = ctx
                        .past
                        .iter()
                        .rev()
                        .find(|r| r.code == code && hour_of(r) == at)
                    else {
                        break;
                    };
                    let Some(v) = r.avg.filter(|_| running(r)) else {
                        break;
                    };
                    if (v.to_f64() - prev.to_f64()).abs() > self.tolerance {
                        break;
                    }
                    prev = v;
                    run += 1;
                    start = at;
                }
            }
            let threshold = self.min_hours.max(2);
            push(&mut out, wanted, code, run >= threshold, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                value: value.to_string(),
                run_start: iso(start),
                run_hours: run,
                threshold_hours: threshold,
                tolerance: self.tolerance,
                standard: "fraud rule R1 (standards summary §5.4); 6 hours is a [proposal]",
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

    /// Hourly SO2 (and flow) records from `values`, one per hour from H0, flagged as given.
    fn hours(values: &[(&str, &str, &str)]) -> Vec<Observation> {
        values
            .iter()
            .enumerate()
            .flat_map(|(i, (so2, flow, flag))| {
                let t = H0 + i as i64 * 3600;
                [
                    row("a21026", t, so2, flag, DataType::Hour),
                    row("a00000", t, flow, flag, DataType::Hour),
                ]
            })
            .collect()
    }

    /// The active hours (from H0) of the flat-line rule over a series.
    fn active(obs: &[Observation]) -> Vec<i64> {
        let w = evaluate_series(&rule("flat_line"), &point(), &Context::default(), rows(obs));
        w.get("a21026")
            .map(|v| {
                v.iter()
                    .filter(|(_, a, _)| *a)
                    .map(|(h, _, _)| (h - H0) / 3600)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn six_running_hours_of_one_value_are_a_flat_line() {
        let mut v: Vec<(&str, &str, &str)> = vec![("31.2", "50000", "N"), ("30.8", "50100", "N")];
        v.extend(std::iter::repeat_n(("30.5", "50200", "N"), 7));
        v.push(("29.9", "50000", "N"));
        // Hours 2..=8 hold 30.5: the sixth of them (hour 7) and the seventh are active.
        assert_eq!(active(&hours(&v)), [7, 8]);
        let w = evaluate_series(
            &rule("flat_line"),
            &point(),
            &Context::default(),
            rows(&hours(&v)),
        );
        let evidence = &w["a21026"].iter().find(|(_, a, _)| *a).expect("active").2;
        assert_eq!(evidence["run_hours"], 6);
        assert_eq!(evidence["value"], "30.5");
        assert!(!w.contains_key("a00000"), "the flow is not judged");
    }

    #[test]
    fn honest_look_alikes_are_not_flat_lines() {
        // A plant shut down for a week: the same zero, flagged F.
        let stopped = vec![("0", "0", "F"); 7 * 24];
        assert!(active(&hours(&stopped)).is_empty(), "stopped, flagged F");
        // Shut down without the flag, but the flow says so.
        let zero_flow = vec![("0.0", "0", "N"); 24];
        assert!(active(&hours(&zero_flow)).is_empty(), "zero flow");
        // Daily calibration in the middle of an otherwise steady value: the run restarts.
        let mut calibrated = vec![("12.0", "50000", "N"); 5];
        calibrated.push(("12.0", "50000", "C"));
        calibrated.extend(vec![("12.0", "50000", "N"); 5]);
        assert!(
            active(&hours(&calibrated)).is_empty(),
            "runs of 5 around a C hour"
        );
        // An analyser measuring every two hours: each value twice, never six times.
        let cycling: Vec<(&str, &str, &str)> = [
            "20.1", "20.1", "19.7", "19.7", "20.4", "20.4", "20.0", "20.0",
        ]
        .iter()
        .map(|v| (*v, "300", "N"))
        .collect();
        assert!(active(&hours(&cycling)).is_empty(), "two-hour cycles");
        // A steady plant close to its limit: values differ in the last digit.
        let steady: Vec<(&str, &str, &str)> =
            ["34.8", "34.9", "34.8", "34.7", "34.8", "34.9", "34.8"]
                .iter()
                .map(|v| (*v, "50000", "N"))
                .collect();
        assert!(active(&hours(&steady)).is_empty(), "steady, not frozen");
        // A gap in the hourly records ends the run.
        let mut gap = hours(&vec![("30.5", "50000", "N"); 7]);
        gap.retain(|o| o.time != H0 + 3 * 3600);
        assert!(active(&gap).is_empty(), "a missing hour");
        // Flue-gas temperature may honestly hold its tenth of a degree for hours.
        let mut warm = hours(&[("30.1", "50000", "N"); 3]);
        for (i, o) in warm
            .iter_mut()
            .enumerate()
            .filter(|(_, o)| o.code == "a21026")
        {
            o.fields.insert("avg".into(), format!("3{i}.4"));
        }
        warm.extend((0..8).map(|h| row("a01012", H0 + h * 3600, "54.9", "N", DataType::Hour)));
        let w = evaluate_series(
            &rule("flat_line"),
            &point(),
            &Context::default(),
            rows(&warm),
        );
        assert!(!w.contains_key("a01012"), "temperature is not judged");
        // A coarse value (one significant digit) may honestly hold for hours.
        let coarse = vec![("0.6", "50000", "N"); 12];
        assert!(active(&hours(&coarse)).is_empty(), "CO of 0.6 for 12 hours");
    }

    #[test]
    fn significant_digits_without_a_coarse_analysers_padding() {
        use super::super::significant_digits;
        let d = |t: &str| significant_digits(Dec::parse(t).expect("decimal"));
        assert_eq!(
            [
                "30.5", "0.06", "12.0", "-4", "0", "1200", "8.60", "0.213", "0.200"
            ]
            .map(d),
            [3, 1, 2, 1, 0, 4, 2, 3, 1]
        );
    }
}
