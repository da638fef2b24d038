//! Stuck at the detection limit (fraud rule R3): a source's hourly values sit at or just above
//! the method detection limit for most of the hours it ran over days. An analyser whose zero or
//! span was tampered with, or a sample line diluted to nothing, reads like this; honest outlets
//! with good abatement read low but vary above the limit.
//!
//! The detection limit is the point's own (`detection_limit` of the code) or the default of the
//! national reference method ([`envstd::codes::source_detection_limit`], a [proposal]); a code
//! with neither is not judged. Only running hours count (flagged N and, where a flow is sent,
//! with flow above zero), and the window needs enough of them, so a plant shut down for most of
//! the week is not judged on its few running hours.

use super::prelude::*;

/// Parameters of a `stuck_at_detection_limit` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StuckAtDetectionLimit {
    /// The window, in hours ending with the hour judged (standards §5.4 R3: 7 days).
    #[serde(default = "week")]
    pub window_hours: u32,
    /// A value counts as "at the limit" up to this multiple of the detection limit (R3: 1.2).
    #[serde(default = "one_point_two")]
    pub factor: f64,
    /// Share of the running hours at the limit that makes the hour judged active (R3: 0.8).
    #[serde(default = "eighty_percent")]
    pub min_share: f64,
    /// Running hours the window needs before it is judged at all. [proposal]
    #[serde(default = "three_days")]
    pub min_running_hours: usize,
    /// Flow codes: an hour with zero flow is not a running hour.
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
}

fn week() -> u32 {
    168
}
fn one_point_two() -> f64 {
    1.2
}
fn eighty_percent() -> f64 {
    0.8
}
fn three_days() -> usize {
    72
}
#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    /// The hours looked at: from, and how many of them the source ran.
    from: String,
    running_hours: usize,
    at_limit_hours: usize,
    share: f64,
    min_share: f64,
    detection_limit: f64,
    /// Where the detection limit comes from: the point's setting or a reference method.
    detection_limit_source: &'a str,
    factor: f64,
    /// Lowest, median and highest running hourly value of the window.
    min: f64,
    median: f64,
    max: f64,
    standard: &'static str,
}

impl Evaluate for StuckAtDetectionLimit {
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
        let mut by_code: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut judged_now: Vec<&str> = Vec::new();
        for r in &hourly {
            if hour_of(r) == hour_start && !judged_now.contains(&r.code.as_str()) {
                judged_now.push(r.code.as_str());
            }
            if let (true, Some(v)) = (hours.running(r), r.avg) {
                by_code.entry(r.code.as_str()).or_default().push(v.to_f64());
            }
        }
        let mut out = Vec::new();
        // A verdict for every code of the hour judged that has a detection limit.
        for code in judged_now {
            let own = point.codes.get(code).and_then(|s| s.detection_limit);
            let (dl, source) = match (own, envstd::codes::source_detection_limit(code)) {
                (Some(dl), _) => (dl, "the point's setting"),
                (None, Some((dl, method))) => (dl, method),
                (None, None) => continue,
            };
            let mut values = by_code.remove(code).unwrap_or_default();
            let at_limit = values.iter().filter(|v| **v <= dl * self.factor).count();
            let n = values.len();
            let share = if n == 0 {
                0.0
            } else {
                at_limit as f64 / n as f64
            };
            let active = n >= self.min_running_hours && share >= self.min_share;
            values.sort_by(f64::total_cmp);
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                from: iso(from),
                running_hours: n,
                at_limit_hours: at_limit,
                share: (share * 1000.0).round() / 1000.0,
                min_share: self.min_share,
                detection_limit: dl,
                detection_limit_source: source,
                factor: self.factor,
                min: values.first().copied().unwrap_or(0.0),
                median: values.get(n / 2).copied().unwrap_or(0.0),
                max: values.last().copied().unwrap_or(0.0),
                standard: "fraud rule R3 (standards summary §5.4): 1.2 × DL, 80 % of 7 days; the running-hours minimum is a [proposal]",
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

    /// Hourly SO2 and flow for `hours` hours from H0: `so2(h)` and `flag(h)` give each hour.
    fn week(
        hours: i64,
        so2: impl Fn(i64) -> String,
        flag: impl Fn(i64) -> &'static str,
    ) -> Vec<Observation> {
        (0..hours)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                let f = flag(h);
                let flow = if f == "F" { "0" } else { "52000" };
                [
                    row("a21026", t, &so2(h), f, DataType::Hour),
                    row("a00000", t, flow, f, DataType::Hour),
                ]
            })
            .collect()
    }

    fn last_verdict(obs: &[Observation]) -> (bool, serde_json::Value) {
        let w = evaluate_series(
            &rule("stuck_at_detection_limit"),
            &point(),
            &Context::default(),
            rows(obs),
        );
        let (_, active, evidence) = w["a21026"].last().cloned().expect("a verdict");
        (active, evidence)
    }

    #[test]
    fn a_week_at_the_detection_limit_is_caught() {
        // SO2 between 2.7 and 3.5 mg/m³ (HJ 57 DL 3, 1.2 × DL = 3.6) for a week.
        let obs = week(
            168,
            |h| format!("{:.1}", 2.7 + (h % 9) as f64 * 0.1),
            |_| "N",
        );
        let (active, e) = last_verdict(&obs);
        assert!(active, "{e}");
        assert_eq!(e["running_hours"], 168);
        assert_eq!(e["detection_limit_source"], "HJ 57-2017");
    }

    #[test]
    fn honest_look_alikes_are_not_stuck() {
        // A clean plant: low but well above the limit and moving.
        let clean = week(
            168,
            |h| format!("{:.1}", 6.0 + (h % 24) as f64 * 0.5),
            |_| "N",
        );
        assert!(!last_verdict(&clean).0, "clean but varying");
        // Shut down for most of the week (F, zero): two running days are too few to judge.
        let stopped = week(
            168,
            |h| if h < 120 { "0".into() } else { "3.0".into() },
            |h| if h < 120 { "F" } else { "N" },
        );
        let (active, e) = last_verdict(&stopped);
        assert!(!active, "{e}");
        assert_eq!(e["running_hours"], 48);
        // At the limit a third of the time (night-time low load): below 80 %.
        let nights = week(
            168,
            |h| {
                if h % 24 < 8 {
                    "3.0".into()
                } else {
                    "18.0".into()
                }
            },
            |_| "N",
        );
        assert!(!last_verdict(&nights).0, "a third of the hours");
        // The point's own, lower detection limit (a more sensitive analyser) changes the verdict.
        let mut p = point();
        p.codes.entry("a21026".into()).or_default().detection_limit = Some(1.0);
        let at_three = week(168, |_| "3.0".into(), |_| "N");
        let w = evaluate_series(
            &rule("stuck_at_detection_limit"),
            &p,
            &Context::default(),
            rows(&at_three),
        );
        assert!(
            !w["a21026"].last().expect("verdict").1,
            "3 is three times a DL of 1"
        );
    }
}
