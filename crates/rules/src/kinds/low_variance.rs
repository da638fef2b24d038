//! Low-variance band (fraud rule R2): a source's hourly values stay inside a band narrower than
//! 2 % of the analyser's measuring range, day after day, while the source runs. An analyser whose
//! output was clamped or smoothed, or a logger that sends a made-up series around a chosen value,
//! reads like this; a real process moves with load, fuel and abatement by more than that in a
//! day (the enforcement checklist's "量程2%以内波动").
//!
//! The days are the 24-hour blocks ending at the hour judged. A day is judged on its running
//! hours (flagged N and, where a flow is sent, with flow above zero) when it has enough of them,
//! so a stopped day neither proves nor breaks the band; a day is narrow when its band is within
//! 2 % of the range and within a tenth of its own median (a very clean plant's values are small
//! against the range but still move against their level); the hour judged is active when enough
//! days were judged and every one of them stayed in the band. The range is the point's setting
//! for the code, or a multiple of its limit ([proposal]: analysers are ranged to a few times the
//! limit they must show), or the rule's range for the code where the point has no limit (an air
//! station's analysers); a code with none of these, and the flows, are not judged.

use super::prelude::*;

/// Parameters of a `low_variance` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowVariance {
    /// Widest band of a day (highest minus lowest running hourly value), as a share of the
    /// measuring range, that still counts as narrow (R2: 2 %).
    #[serde(default = "two_percent")]
    pub max_band_share: f64,
    /// Widest band of a day as a share of the day's median value that still counts as narrow:
    /// a process's hourly values honestly move by more than this in a day, however small they
    /// are against the range (a plant emitting a tenth of its limit can stay within 2 % of the
    /// range honestly, not within a tenth of its own level). [proposal]
    #[serde(default = "tenth")]
    pub max_band_share_of_level: f64,
    /// Days, ending with the hour judged, the band must hold (R2: 7, a [proposal]).
    #[serde(default = "seven")]
    pub days: u32,
    /// Days among them that must have enough running hours to be judged. [proposal]
    #[serde(default = "five")]
    pub min_judged_days: u32,
    /// Running hours a day needs to be judged. [proposal]
    #[serde(default = "twelve")]
    pub min_day_hours: usize,
    /// The range assumed for a code whose point gives none: this multiple of its limit.
    /// [proposal]
    #[serde(default = "two_and_a_half")]
    pub range_per_limit: f64,
    /// Measuring range per code for a point that gives none, before the limit's multiple: the
    /// range of the kind of analyser such points have (an air station's analysers have no
    /// limit to scale).
    #[serde(default)]
    pub ranges: BTreeMap<String, f64>,
    /// Flow codes: an hour whose flow is zero does not count as running; flows are not judged.
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
}

fn two_percent() -> f64 {
    0.02
}
fn tenth() -> f64 {
    0.1
}
fn seven() -> u32 {
    7
}
fn five() -> u32 {
    5
}
fn twelve() -> usize {
    12
}
fn two_and_a_half() -> f64 {
    2.5
}

#[derive(Serialize)]
struct Day {
    /// The day's last hour.
    to: String,
    running_hours: usize,
    min: f64,
    median: f64,
    max: f64,
    narrow: bool,
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    from: String,
    range: f64,
    /// Where the range comes from: the point's setting, or the limit times `range_per_limit`.
    range_source: &'static str,
    /// The widest band a day may have and still count as narrow, against the range and (as a
    /// share) against the day's median.
    max_band: f64,
    max_band_share_of_level: f64,
    judged_days: u32,
    narrow_days: u32,
    min_judged_days: u32,
    /// Each judged day, the newest first: its running hours and its lowest and highest value.
    days: Vec<Day>,
    standard: &'static str,
}

impl Evaluate for LowVariance {
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: (self.days.max(1) * 24).saturating_sub(1),
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
        let days = i64::from(self.days.max(1));
        let from = hour_start - (days * 24 - 1) * 3600;
        let hourly: Vec<&crate::Row> = input
            .hourly_records()
            .filter(|r| hour_of(r) >= from)
            .collect();
        let hours = RunningHours::new(hourly.iter().copied(), &self.flow_codes);
        let mut out = Vec::new();
        for now in hourly.iter().filter(|r| hour_of(r) == hour_start) {
            let code = now.code.as_str();
            if self.flow_codes.iter().any(|c| c == code) {
                continue;
            }
            let o = rule.override_for(&point.id, code);
            if o.is_some_and(|o| o.disabled) {
                continue;
            }
            let setting = point.codes.get(code);
            let (range, range_source) = match (
                setting.and_then(|s| s.range),
                o.and_then(|o| o.limit).or(setting.and_then(|s| s.limit)),
            ) {
                (Some(r), _) if r > 0.0 => (r, "the point's setting"),
                _ if let Some(&r) = self.ranges.get(code).filter(|r| **r > 0.0) => {
                    (r, "the rule's range for the code")
                }
                (_, Some(l)) if l > 0.0 => (
                    l * self.range_per_limit,
                    "the limit times range_per_limit [proposal]",
                ),
                _ => continue,
            };
            let max_band = range * self.max_band_share;
            // Each day's running values: day 0 ends with the hour judged.
            let mut per_day: Vec<Vec<f64>> = vec![Vec::new(); days as usize];
            for r in hourly.iter().filter(|r| r.code == code && hours.running(r)) {
                if let Some(v) = r.avg {
                    let day = ((hour_start - hour_of(r)) / 86_400) as usize;
                    if let Some(d) = per_day.get_mut(day) {
                        d.push(v.to_f64());
                    }
                }
            }
            let judged: Vec<Day> = per_day
                .iter_mut()
                .enumerate()
                .filter(|(_, v)| v.len() >= self.min_day_hours)
                .map(|(k, v)| {
                    v.sort_by(f64::total_cmp);
                    let (min, max) = (v[0], v[v.len() - 1]);
                    let median = v[v.len() / 2];
                    Day {
                        to: iso(hour_start - k as i64 * 86_400),
                        running_hours: v.len(),
                        min,
                        median,
                        max,
                        narrow: max - min <= max_band
                            && max - min <= median.abs() * self.max_band_share_of_level,
                    }
                })
                .collect();
            let narrow = judged.iter().filter(|d| d.narrow).count() as u32;
            let judged_days = judged.len() as u32;
            let active =
                hours.running(now) && judged_days >= self.min_judged_days && narrow == judged_days;
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                from: iso(from),
                range,
                range_source,
                max_band,
                max_band_share_of_level: self.max_band_share_of_level,
                judged_days,
                narrow_days: narrow,
                min_judged_days: self.min_judged_days,
                days: judged,
                standard: "fraud rule R2 (standards summary §5.4): a band within 2 % of the range; the tenth of the level, the 7 days, the days judged and the default range are [proposal]s",
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

    /// Hourly SO2 and flow for `hours` hours from H0.
    fn series(
        hours: i64,
        so2: impl Fn(i64) -> f64,
        flag: impl Fn(i64) -> &'static str,
    ) -> Vec<Observation> {
        (0..hours)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                let f = flag(h);
                let flow = if f == "F" { "0" } else { "52000" };
                [
                    row("a21026", t, &format!("{:.2}", so2(h)), f, DataType::Hour),
                    row("a00000", t, flow, f, DataType::Hour),
                ]
            })
            .collect()
    }

    fn verdicts(obs: &[Observation], p: &Point) -> Vec<(i64, bool, serde_json::Value)> {
        let mut w = evaluate_series(&rule("low_variance"), p, &Context::default(), rows(obs));
        w.remove("a21026").unwrap_or_default()
    }

    /// A pseudo-random wobble in [-1, 1], different every hour.
    fn wobble(h: i64) -> f64 {
        ((h * 7919 % 113) as f64 / 56.0) - 1.0
    }

    #[test]
    fn a_week_in_a_narrow_band_is_caught() {
        // Limit 35, range 87.5 by default: the band is 1.75 mg/m³. Values 20 ± 0.5.
        let obs = series(168, |h| 20.0 + 0.5 * wobble(h), |_| "N");
        let v = verdicts(&obs, &point());
        let (_, active, e) = v.last().expect("a verdict");
        assert!(active, "{e}");
        assert_eq!(e["judged_days"], 7);
        assert_eq!(e["max_band"], 1.75);
        // Not before five days were judged.
        assert!(!v[24 * 4].1, "{}", v[24 * 4].2);
    }

    #[test]
    fn honest_look_alikes_are_not_a_band() {
        // A plant following its load over the day: 20 ± 5.
        let honest = series(
            168,
            |h| 20.0 + 5.0 * ((h % 24) as f64 / 24.0 * std::f64::consts::TAU).sin(),
            |_| "N",
        );
        assert!(verdicts(&honest, &point()).iter().all(|v| !v.1));
        // Shut down for a week (F, zero): nothing is judged.
        let stopped = series(168, |_| 0.0, |_| "F");
        assert!(verdicts(&stopped, &point()).iter().all(|v| !v.1));
        // One honest day in the week breaks the band.
        let one_day = series(
            168,
            |h| {
                if (48..72).contains(&h) {
                    20.0 + 6.0 * wobble(h)
                } else {
                    20.0 + 0.5 * wobble(h)
                }
            },
            |_| "N",
        );
        let v = verdicts(&one_day, &point());
        assert!(!v.last().expect("verdict").1);
        // A very clean plant: 3 ± 0.5 mg/m³ is within 2 % of the range but moves by a third of
        // its level.
        let clean = series(168, |h| 3.0 + 0.5 * wobble(h), |_| "N");
        assert!(verdicts(&clean, &point()).iter().all(|v| !v.1));
        // A wider range set on the point (a 0–500 analyser) makes ±0.9 mg/m³ narrow; a
        // narrower one (0–50) does not.
        let mut p = point();
        p.codes.entry("a21026".into()).or_default().range = Some(500.0);
        let wider = series(168, |h| 20.0 + 0.9 * wobble(h), |_| "N");
        assert!(verdicts(&wider, &p).last().expect("verdict").1);
        p.codes.entry("a21026".into()).or_default().range = Some(50.0);
        assert!(!verdicts(&wider, &p).last().expect("verdict").1);
    }
}
