//! Bunching below the limit (fraud rule R4): a source whose hourly values pile up just under its
//! limit. A plant that steers its readings (a "target value" in the logger, a tuned analyser) to
//! stay legal reads like this; a plant honestly running close to its limit spreads its values
//! around its level, below and above the band just under the limit.
//!
//! Judged on the running hours (flagged N, flow above zero) of the window: the share of them in
//! `[band_from × L, L)`; active at an hour in that band when the share reaches `min_share` and the
//! window has enough running hours. Only codes with a limit are judged.

use super::prelude::*;

/// Parameters of a `bunching` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bunching {
    /// The band's lower edge as a share of the limit (R4: 0.95).
    #[serde(default = "ninety_five")]
    pub band_from: f64,
    /// Share of the running hours in the band that makes a bunch (R4: 30 %).
    #[serde(default = "thirty_percent")]
    pub min_share: f64,
    /// Hours, ending with the hour judged, looked at (R4: a month; a week here). [proposal]
    #[serde(default = "week")]
    pub window_hours: u32,
    /// Running hours the window needs. [proposal]
    #[serde(default = "three_days")]
    pub min_running_hours: usize,
    /// Flow codes: an hour with zero flow is not a running hour.
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
}

fn ninety_five() -> f64 {
    0.95
}
fn thirty_percent() -> f64 {
    0.3
}
fn week() -> u32 {
    168
}
fn three_days() -> usize {
    72
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    from: String,
    value: f64,
    limit: f64,
    band_from: f64,
    running_hours: usize,
    in_band_hours: usize,
    above_limit_hours: usize,
    share_in_band: f64,
    min_share: f64,
    standard: &'static str,
}

impl Evaluate for Bunching {
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
        let mut out = Vec::new();
        for limited in limited_codes(rule, point) {
            let code = limited.code;
            let Some(now) = hourly
                .iter()
                .find(|r| hour_of(r) == hour_start && r.code == code)
            else {
                continue;
            };
            let l = limited.limit;
            let values: Vec<f64> = hourly
                .iter()
                .filter(|r| r.code == code && hours.running(r))
                .filter_map(|r| r.avg.map(|v| v.to_f64()))
                .collect();
            let in_band = |v: f64| v >= l * self.band_from && v < l;
            let n_band = values.iter().filter(|v| in_band(**v)).count();
            let above = values.iter().filter(|v| **v >= l).count();
            let share = n_band as f64 / values.len().max(1) as f64;
            let value = now.avg.map_or(f64::NAN, |v| v.to_f64());
            let active = hours.running(now)
                && in_band(value)
                && values.len() >= self.min_running_hours
                && share >= self.min_share;
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                from: iso(from),
                value,
                limit: l,
                band_from: self.band_from,
                running_hours: values.len(),
                in_band_hours: n_band,
                above_limit_hours: above,
                share_in_band: (share * 1000.0).round() / 1000.0,
                min_share: self.min_share,
                standard: "fraud rule R4 (standards summary §5.4): a share of more than 30 % of the hours in [0.95 L, L); the week instead of a month and the running hours are [proposal]s",
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

    fn series(hours: i64, so2: impl Fn(i64) -> f64) -> Vec<Observation> {
        (0..hours)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                [
                    row("a21026", t, &format!("{:.2}", so2(h)), "N", DataType::Hour),
                    row("a00000", t, "52000", "N", DataType::Hour),
                ]
            })
            .collect()
    }

    fn active(obs: &[Observation]) -> usize {
        let w = evaluate_series(&rule("bunching"), &point(), &Context::default(), rows(obs));
        w.get("a21026")
            .map_or(0, |v| v.iter().filter(|x| x.1).count())
    }

    fn wobble(h: i64) -> f64 {
        (h * 7919 % 113) as f64 / 56.0 - 1.0
    }

    #[test]
    fn values_piled_under_the_limit_are_a_bunch() {
        // Limit 35: a week between 33.3 and 34.9.
        assert!(active(&series(168, |h| 34.1 + 0.8 * wobble(h))) > 0);
    }

    #[test]
    fn a_plant_honestly_close_to_its_limit_is_not() {
        // Level 30 (86 % of the limit) moving by ±6: some hours in the band, some above.
        assert_eq!(active(&series(168, |h| 30.0 + 6.0 * wobble(h))), 0);
        // A clean plant.
        assert_eq!(active(&series(168, |h| 12.0 + 4.0 * wobble(h))), 0);
    }
}
