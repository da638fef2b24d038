//! Transmission gaps around exceedances (fraud rule R15): a logger that goes quiet right after
//! the hours its plant exceeds, far more often than it goes quiet otherwise. Pulling the cable or
//! stopping the logger when the values run high keeps the worst hours out of the record; an
//! honest link drops hours at random, after high and ordinary hours alike.
//!
//! An hour with no hourly record (or one flagged B, a communication fault) is a gap. Over the
//! window, the rate of gaps right after a high hour (above `high_share` of the limit) is compared
//! with the rate of gaps after any hour. The verdict is given at the first hour with data after a
//! gap that followed a high hour (an hour without data is never judged: nothing arrives for it):
//! active when the window has at least `min_gaps` gaps after high hours, their rate is at least
//! `ratio` times the rate after any hour, and so many would be unlikely by chance: the
//! probability of at least as many gaps after the high hours, were gaps to follow them at the
//! rate they follow any hour (a binomial tail), is at most `max_p_value`. A plant honestly near
//! its limit on a link that drops an hour in a hundred has dozens of high hours a week, and
//! two of them followed by a lost hour is then no sign. Only codes with a limit are judged.

use super::prelude::*;

/// Parameters of a `gaps_around_exceedances` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapsAroundExceedances {
    /// A high hour is above this share of the limit (R15: 0.9).
    #[serde(default = "nine_tenths")]
    pub high_share: f64,
    /// How many times the overall gap rate the rate after high hours must be (R15: 3).
    #[serde(default = "three")]
    pub ratio: f64,
    /// Gaps after high hours the window needs. [proposal]
    #[serde(default = "two")]
    pub min_gaps: usize,
    /// Hours, ending with the hour judged, looked at. [proposal]
    #[serde(default = "week")]
    pub window_hours: u32,
    /// Largest chance of so many gaps after high hours at the overall gap rate. [proposal]
    #[serde(default = "one_percent")]
    pub max_p_value: f64,
}

fn one_percent() -> f64 {
    0.01
}

/// The chance of at least `k` successes in `n` trials of probability `p`.
fn binomial_tail(n: usize, k: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let mut pmf = (1.0 - p).powi(n as i32);
    let mut tail = 0.0;
    for i in 0..=n {
        if i >= k {
            tail += pmf;
        }
        pmf *= (n - i) as f64 / (i + 1) as f64 * p / (1.0 - p);
    }
    tail.min(1.0)
}

fn nine_tenths() -> f64 {
    0.9
}
fn three() -> f64 {
    3.0
}
fn two() -> usize {
    2
}
fn week() -> u32 {
    168
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    from: String,
    limit: f64,
    high_share: f64,
    /// Hours with a record, high hours among them, gaps after any hour and after high hours.
    hours_with_data: usize,
    high_hours: usize,
    gaps: usize,
    gaps_after_high: Vec<(String, f64)>,
    rate_after_high: f64,
    rate: f64,
    ratio: f64,
    /// The chance of so many gaps after the high hours at the overall rate, and its threshold.
    p_value: f64,
    max_p_value: f64,
    standard: &'static str,
}

impl Evaluate for GapsAroundExceedances {
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
        let from = hour_start - i64::from(self.window_hours.saturating_sub(1)) * 3600;
        let mut out = Vec::new();
        for limited in limited_codes(rule, point) {
            let code = limited.code;
            // Hour -> value (None: flagged B, a gap) of the code's records in the window.
            let values: BTreeMap<i64, Option<f64>> = input
                .hourly_records()
                .filter(|r| r.code == code && hour_of(r) >= from)
                .map(|r| {
                    let gap = r.flag.as_deref() == Some("B");
                    (
                        hour_of(r),
                        (!gap).then(|| r.avg.map_or(0.0, |v| v.to_f64())),
                    )
                })
                .collect();
            if !values.get(&hour_start).is_some_and(Option::is_some) {
                continue;
            }
            let has_data = |h: i64| values.get(&h).is_some_and(Option::is_some);
            let high_level = limited.limit * self.high_share;
            let high = |h: i64| {
                values
                    .get(&h)
                    .copied()
                    .flatten()
                    .is_some_and(|v| v > high_level)
            };
            // Hours followed by a judged hour inside the window (the last one's next is the
            // hour judged): the first hour with data onwards.
            let first = values
                .iter()
                .find(|(_, v)| v.is_some())
                .map_or(hour_start, |(h, _)| *h);
            let (mut with_data, mut highs, mut gaps) = (0usize, 0usize, 0usize);
            let mut after_high: Vec<(String, f64)> = Vec::new();
            let mut h = first;
            while h < hour_start {
                if has_data(h) {
                    with_data += 1;
                    let gap_next = !has_data(h + 3600);
                    if gap_next {
                        gaps += 1;
                    }
                    if high(h) {
                        highs += 1;
                        if gap_next {
                            let v = values.get(&h).copied().flatten().unwrap_or(0.0);
                            after_high.push((iso(h), v));
                        }
                    }
                }
                h += 3600;
            }
            let rate = gaps as f64 / with_data.max(1) as f64;
            let rate_after_high = after_high.len() as f64 / highs.max(1) as f64;
            // Judged at the first hour with data after a gap that followed a high hour.
            let resumes_after_high_gap = !has_data(hour_start - 3600) && {
                let mut k = hour_start - 3600;
                while k >= first && !has_data(k) {
                    k -= 3600;
                }
                k >= first && high(k)
            };
            let p_value = binomial_tail(highs, after_high.len(), rate);
            let active = resumes_after_high_gap
                && after_high.len() >= self.min_gaps
                && rate_after_high >= self.ratio * rate
                && p_value <= self.max_p_value;
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                from: iso(from),
                limit: limited.limit,
                high_share: self.high_share,
                hours_with_data: with_data,
                high_hours: highs,
                gaps,
                gaps_after_high: after_high,
                rate_after_high: (rate_after_high * 1000.0).round() / 1000.0,
                rate: (rate * 1000.0).round() / 1000.0,
                ratio: self.ratio,
                p_value: (p_value * 1e6).round() / 1e6,
                max_p_value: self.max_p_value,
                standard: "fraud rule R15 (standards summary §5.4): gaps after hours above 0.9 L at least 3 × as often as after any hour; the week, the two gaps and the chance are [proposal]s",
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

    /// Hourly SO2 from `at(h)`: `None` is an hour without data.
    fn series(hours: i64, at: impl Fn(i64) -> Option<f64>) -> Vec<Observation> {
        (0..hours)
            .filter_map(|h| {
                let v = at(h)?;
                Some(row(
                    "a21026",
                    H0 + h * 3600,
                    &format!("{v:.2}"),
                    "N",
                    DataType::Hour,
                ))
            })
            .collect()
    }

    fn active(obs: &[Observation]) -> Vec<i64> {
        let w = evaluate_series(
            &rule("gaps_around_exceedances"),
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

    #[test]
    fn quiet_after_every_exceedance_is_caught() {
        // Limit 35: every 12 hours an hour at 45, then two hours without data.
        let obs = series(120, |h| match h % 12 {
            5 => Some(45.0),
            6 | 7 => None,
            _ => Some(20.0),
        });
        let a = active(&obs);
        // From the third such gap on (two in 16 hours could be chance), at the hours the data
        // resume.
        assert_eq!(a.first(), Some(&32), "{a:?}");
        assert!(a.iter().all(|h| h % 12 == 8), "{a:?}");
    }

    #[test]
    fn a_link_that_drops_hours_at_random_is_not() {
        // Gaps every 7 hours whatever the value; high hours every 12.
        let obs = series(168, |h| {
            if h % 7 == 3 {
                None
            } else if h % 12 == 5 {
                Some(45.0)
            } else {
                Some(20.0)
            }
        });
        assert!(active(&obs).is_empty());
    }

    #[test]
    fn a_plant_near_its_limit_on_a_lossy_link_is_not() {
        // A week at 30–34 (above 0.9 × 35 a quarter of the time) on a link that lost two hours,
        // both after high hours: three times the overall rate, which the ratio alone would call
        // a pattern; by chance about one week in eleven.
        let obs = series(168, |h| match h {
            41 | 121 => None,
            _ if h % 4 == 0 => Some(33.5),
            _ => Some(30.0),
        });
        assert!(active(&obs).is_empty());
        let mut r = rule("gaps_around_exceedances");
        if let Params::GapsAroundExceedances(p) = &mut r.params {
            p.max_p_value = 1.0;
        }
        let w = evaluate_series(&r, &point(), &Context::default(), rows(&obs));
        assert!(
            w["a21026"].iter().any(|x| x.1),
            "without the chance test it fires"
        );
    }

    #[test]
    fn the_binomial_tail() {
        use super::binomial_tail;
        assert!((binomial_tail(2, 2, 0.125) - 0.015_625).abs() < 1e-12);
        assert!((binomial_tail(100, 2, 0.01) - 0.264).abs() < 1e-3);
        assert_eq!(binomial_tail(5, 0, 0.3), 1.0);
        assert_eq!(binomial_tail(5, 6, 0.3), 0.0);
    }
}
