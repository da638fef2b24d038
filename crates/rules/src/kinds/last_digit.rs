//! Last-digit screen (fraud rule R13): the terminal digits of a point's hourly values over a
//! month. A measured value's last digit is noise, every digit as likely as any other; values
//! made up by a person or by a "data modifier" prefer some (0 and 5, or a pattern of their
//! own). The standards summary keeps it a weak signal, aggregated per outlet-month: its family
//! weighs least in the ranking and never makes a suspect alone.
//!
//! Judged once a month, in the last hour of each Beijing calendar month, on the month's running
//! hours: one test per code and month, as the summary says. A test at p < 0.001 repeated every
//! hour over a sliding month would be one of hundreds of looks a month at nearly the same data,
//! and would find an honest outlet's chance fluctuation somewhere. The clue is that hour's alarm;
//! its evidence names the month.
//!
//! For each code: the digit judged is the last one
//! sent, except that a position at which every value has a 0 is dropped (an analyser with a
//! resolution of 0.1 whose logger writes two decimals sends `22.40`, honestly); the spread of the
//! values (their interquartile range) must be at least `min_spread_units` units of that digit,
//! so that the digit is noise and not the level; and at least `min_values` values are needed.
//! The statistic is Pearson's χ² of the ten digits' counts against equal counts, with nine
//! degrees of freedom; the hour judged is active when it exceeds `critical_chi2` (27.88: p <
//! 0.001, the summary's threshold).

use super::prelude::*;

/// Parameters of a `last_digit` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastDigit {
    /// Values the window needs (R13: 300).
    #[serde(default = "three_hundred")]
    pub min_values: usize,
    /// χ² (nine degrees of freedom) above which the digits are not uniform (R13: p < 0.001,
    /// 27.88).
    #[serde(default = "critical")]
    pub critical_chi2: f64,
    /// The values' interquartile range, in units of the digit judged, at least: below it the
    /// last digit follows the level, not noise. [proposal]
    #[serde(default = "twenty")]
    pub min_spread_units: f64,
    /// Flow codes: an hour whose flow is zero does not count as running.
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
    /// Codes not judged.
    #[serde(default = "super::flat_line::conditions")]
    pub ignore: Vec<String>,
}

fn three_hundred() -> usize {
    300
}
fn critical() -> f64 {
    27.88
}
fn twenty() -> f64 {
    20.0
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    /// The month judged.
    from: String,
    to: String,
    /// Decimals of the digit judged (0: units).
    digit_decimals: u32,
    values: usize,
    /// How many values end in 0, 1, … 9.
    counts: [usize; 10],
    chi2: f64,
    critical_chi2: f64,
    standard: &'static str,
}

/// What the screen found in one code's window: the digit judged, the counts and χ²; `None` when
/// the window cannot be judged (too few values, too little spread).
fn screen(
    values: &[Dec],
    min_values: usize,
    min_spread_units: f64,
) -> Option<(u32, [usize; 10], f64)> {
    if values.len() < min_values.max(10) {
        return None;
    }
    let mut p = values.iter().map(|v| v.scale()).max()?;
    while p > 0 && values.iter().all(|v| v.at_scale(p) % 10 == 0) {
        p -= 1;
    }
    let mut sorted: Vec<f64> = values.iter().map(|v| v.to_f64()).collect();
    sorted.sort_by(f64::total_cmp);
    let iqr = sorted[sorted.len() * 3 / 4] - sorted[sorted.len() / 4];
    if iqr < min_spread_units * 10f64.powi(-(p as i32)) {
        return None;
    }
    let mut counts = [0usize; 10];
    for v in values {
        counts[(v.at_scale(p).unsigned_abs() % 10) as usize] += 1;
    }
    let expected = values.len() as f64 / 10.0;
    let chi2 = counts
        .iter()
        .map(|c| (*c as f64 - expected).powi(2) / expected)
        .sum();
    Some((p, counts, chi2))
}

impl Evaluate for LastDigit {
    fn span(&self) -> Span {
        // The longest month's hours before its last.
        Span::Hour {
            baseline_hours: 31 * 24 - 1,
            settled: true,
        }
    }

    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            hour_start,
            wanted,
            ..
        } = *input;
        let next = hour_start + 3600;
        if bjtime::Date::of(next).day() != 1 || bjtime::hour_of_day(next) != 0 {
            return Vec::new();
        }
        let from = bjtime::Date::of(hour_start).first_of_month().start();
        let (_, hourly) = input.window_records(((next - from) / 3600) as u32);
        let hours = RunningHours::new(hourly.iter().copied(), &self.flow_codes);
        let mut out = Vec::new();
        for now in hourly.iter().filter(|r| hour_of(r) == hour_start) {
            let code = now.code.as_str();
            if self
                .flow_codes
                .iter()
                .chain(&self.ignore)
                .any(|c| c == code)
            {
                continue;
            }
            let values: Vec<Dec> = hourly
                .iter()
                .filter(|r| r.code == code && hours.running(r))
                .filter_map(|r| r.avg)
                .collect();
            let Some((p, counts, chi2)) = screen(&values, self.min_values, self.min_spread_units)
            else {
                continue;
            };
            let active = hours.running(now) && chi2 > self.critical_chi2;
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                from: iso(from),
                to: iso(next),
                digit_decimals: p,
                values: values.len(),
                counts,
                chi2: (chi2 * 100.0).round() / 100.0,
                critical_chi2: self.critical_chi2,
                standard: "fraud rule R13 (standards summary §5.4): χ² of the terminal digits against uniform per outlet-month, p < 0.001 and at least 300 values; a weak signal, aggregated; the spread the digit needs is a [proposal]",
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use domain::DataType;

    use super::screen;
    use crate::test_support::{point, row, rule};
    use crate::*;

    /// 2026-10-01 00:00 Beijing time.
    const H0: i64 = 1_790_784_000;

    /// A noisy level: 20 ± 5.
    fn noisy(h: i64) -> f64 {
        20.0 + 5.0 * (((h * 7919 + 13) % 1009) as f64 / 504.5 - 1.0)
    }

    fn month(text: impl Fn(i64) -> String) -> Vec<Observation> {
        (0..31 * 24)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                [
                    row("a21026", t, &text(h), "N", DataType::Hour),
                    row("a00000", t, "52000", "N", DataType::Hour),
                ]
            })
            .collect()
    }

    fn active(obs: &[Observation]) -> usize {
        let w = evaluate_series(
            &rule("last_digit"),
            &point(),
            &Context::default(),
            rows(obs),
        );
        w.get("a21026")
            .map_or(0, |v| v.iter().filter(|x| x.1).count())
    }

    #[test]
    fn measured_values_pass_and_made_up_ones_do_not() {
        assert_eq!(active(&month(|h| format!("{:.2}", noisy(h)))), 0);
        // A third of the hours typed in, ending in 0 or 5.
        let typed = |h: i64| {
            let v = noisy(h);
            if h % 3 == 0 {
                format!("{:.2}", (v * 20.0).round() / 20.0)
            } else {
                format!("{v:.2}")
            }
        };
        assert!(active(&month(typed)) > 0);
    }

    #[test]
    fn a_coarse_analyser_padded_with_zeros_is_judged_on_its_real_digit() {
        // Resolution 0.1, sent with two decimals: every value ends in 0 and that is honest.
        assert_eq!(active(&month(|h| format!("{:.1}0", noisy(h)))), 0);
        let values: Vec<Dec> = (0..720)
            .map(|h| Dec::parse(&format!("{:.1}0", noisy(h))).expect("decimal"))
            .collect();
        let (p, _, chi2) = screen(&values, 300, 20.0).expect("judged");
        assert_eq!(p, 1);
        assert!(chi2 < 27.88, "{chi2}");
    }

    #[test]
    fn values_too_steady_for_their_last_digit_or_too_few_are_not_judged() {
        // 3 ± 1 sent as whole numbers: the last digit is the level.
        let values: Vec<Dec> = (0..720).map(|h| Dec::int(3 + h % 3 - 1)).collect();
        assert!(screen(&values, 300, 20.0).is_none());
        let few: Vec<Dec> = (0..100)
            .map(|h| Dec::parse(&format!("{:.2}", noisy(h))).expect("decimal"))
            .collect();
        assert!(screen(&few, 300, 20.0).is_none());
    }
}
