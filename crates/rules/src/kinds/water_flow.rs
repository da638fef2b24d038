//! Flow and concentration that contradict each other at a waste-water outlet (fraud rule R8),
//! the two halves of the Shanghai 2023 case: hours with no flow whose concentrations keep
//! changing (the flow meter stopped while the plant discharged), and hours with flow whose
//! concentrations do not change at all (the analyser frozen while the plant discharged).
//!
//! A day (24-hour block ending with the hour judged) shows the pattern when it has at least
//! `min_hours_per_day` such hours; the hour judged is active when it is such an hour itself and
//! at least `min_days` of the last `days` show it (so the clue covers the contradicting hours,
//! not the week after them). A "change" is a move of at least `min_change_share` of the code's limit from
//! the hour before, so an analyser reading the standing sample of a plant that does not discharge
//! at night (its values drift by little) is not a change; "unchanged" is the same value as sent
//! for `min_unchanged_hours` hours in a row, so an analyser that measures every two hours (its
//! value repeated once, and now and then the same value measured twice) is not frozen. Only codes with a limit are judged; hours flagged other
//! than N are not judged.

use super::prelude::*;

/// Parameters of a `water_flow` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterFlow {
    /// Hours of a day showing the pattern that make the day count. [proposal]
    #[serde(default = "three")]
    pub min_hours_per_day: usize,
    /// Days showing the pattern that make the hour judged active (R8: 3).
    #[serde(default = "three_u32")]
    pub min_days: u32,
    /// Days looked at. [proposal]
    #[serde(default = "seven")]
    pub days: u32,
    /// Smallest change from the hour before, as a share of the limit, that counts as a change
    /// at zero flow. [proposal]
    #[serde(default = "tenth")]
    pub min_change_share: f64,
    /// Hours in a row with the same value (the hour judged included) that make "unchanged" at
    /// flow: three measurements of an analyser that measures every two hours. [proposal]
    #[serde(default = "six")]
    pub min_unchanged_hours: usize,
    /// Values with fewer significant digits (their padding zeros dropped) are not judged
    /// unchanged: a total phosphorus of "0.21" can honestly hold for hours, "0.213" cannot.
    /// [proposal]
    #[serde(default = "three")]
    pub min_significant_digits: usize,
    /// The waste-water flow code (HJ 212-2017 w00000).
    #[serde(default = "flow_code")]
    pub flow_code: String,
}

fn three() -> usize {
    3
}
fn six() -> usize {
    6
}
fn three_u32() -> u32 {
    3
}
fn seven() -> u32 {
    7
}
fn tenth() -> f64 {
    0.1
}
fn flow_code() -> String {
    "w00000".into()
}

#[derive(Serialize)]
struct Day {
    to: String,
    /// Hours with no flow whose value changed.
    changing_without_flow: Vec<String>,
    /// Hours with flow whose value did not change.
    unchanged_with_flow: Vec<String>,
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    from: String,
    limit: f64,
    min_change: f64,
    days_showing: u32,
    min_days: u32,
    days_looked_at: u32,
    /// The days that show the pattern, newest first, with their hours.
    days: Vec<Day>,
    standard: &'static str,
}

impl Evaluate for WaterFlow {
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: self.days.max(1) * 24 + self.min_unchanged_hours as u32,
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
        let normal_by_hour = |code: &str| -> BTreeMap<i64, crate::Row> {
            input
                .hourly_records()
                .filter(|r| r.code == code && r.normal() && r.avg.is_some())
                .map(|r| (hour_of(r), r.clone()))
                .collect()
        };
        let flow = normal_by_hour(&self.flow_code);
        let mut out = Vec::new();
        let now_codes: Vec<&crate::Row> = input
            .hourly_records()
            .filter(|r| hour_of(r) == hour_start)
            .collect();
        for limited in limited_codes(rule, point) {
            let code = limited.code;
            if code == self.flow_code || !now_codes.iter().any(|r| r.code == code) {
                continue;
            }
            let values = normal_by_hour(code);
            let value = |h: i64| values.get(&h).and_then(|r| r.avg);
            let min_change = limited.limit * self.min_change_share;
            let mut per_day: Vec<Day> = (0..days)
                .map(|k| Day {
                    to: iso(hour_start - k * 86_400),
                    changing_without_flow: Vec::new(),
                    unchanged_with_flow: Vec::new(),
                })
                .collect();
            let mut h = from;
            while h <= hour_start {
                let (Some(v), Some(f)) = (value(h), flow.get(&h).and_then(|r| r.avg)) else {
                    h += 3600;
                    continue;
                };
                let day = ((hour_start - h) / 86_400) as usize;
                let Some(d) = per_day.get_mut(day) else { break };
                if f.to_f64() <= 0.0 {
                    // Moved from the hour before, or within the hour (its least and greatest
                    // value, where the record gives them).
                    let within = values
                        .get(&h)
                        .and_then(|r| Some(r.max?.to_f64() - r.min?.to_f64()))
                        .unwrap_or(0.0);
                    let between = value(h - 3600).map_or(0.0, |p| (v.to_f64() - p.to_f64()).abs());
                    if within.max(between) >= min_change {
                        d.changing_without_flow.push(iso(h));
                    }
                } else {
                    let same = significant_digits(v) >= self.min_significant_digits
                        && (1..self.min_unchanged_hours as i64)
                            .all(|k| value(h - k * 3600) == Some(v));
                    if same && self.min_unchanged_hours > 1 {
                        d.unchanged_with_flow.push(iso(h));
                    }
                }
                h += 3600;
            }
            let now = iso(hour_start);
            let shows_now = per_day.first().is_some_and(|d| {
                d.changing_without_flow.last() == Some(&now)
                    || d.unchanged_with_flow.last() == Some(&now)
            });
            per_day.retain(|d| {
                d.changing_without_flow.len() >= self.min_hours_per_day
                    || d.unchanged_with_flow.len() >= self.min_hours_per_day
            });
            let showing = per_day.len() as u32;
            let active = shows_now && showing >= self.min_days;
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                from: iso(from),
                limit: limited.limit,
                min_change,
                days_showing: showing,
                min_days: self.min_days,
                days_looked_at: self.days,
                days: per_day,
                standard: "fraud rule R8 (standards summary §5.4): the pattern on at least 3 days; the hours per day, the 7 days, the size of a change and the hours of an unchanged value are [proposal]s",
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use domain::{CodeSetting, DataType};

    use crate::test_support::{row, rule};
    use crate::*;

    const H0: i64 = 1_790_000_000 - 1_790_000_000 % 86_400;

    fn outlet() -> Point {
        let mut p: Point = serde_json::from_str(
            r#"{"id":"w","name":"w","mn":"W","password":"p","kind":"water_outlet","min_interval_min":10}"#,
        )
        .expect("point");
        p.codes.insert(
            "w01018".into(),
            CodeSetting {
                limit: Some(50.0),
                ..Default::default()
            },
        );
        p
    }

    /// Hourly COD and flow: `at(h) = (cod, flow)`.
    fn series(hours: i64, at: impl Fn(i64) -> (f64, f64)) -> Vec<Observation> {
        (0..hours)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                let (cod, flow) = at(h);
                [
                    row("w01018", t, &format!("{cod:.1}"), "N", DataType::Hour),
                    row("w00000", t, &format!("{flow:.1}"), "N", DataType::Hour),
                ]
            })
            .collect()
    }

    fn last_active(obs: &[Observation]) -> (bool, serde_json::Value) {
        let w = evaluate_series(
            &rule("water_flow"),
            &outlet(),
            &Context::default(),
            rows(obs),
        );
        let (_, a, e) = w["w01018"].last().cloned().expect("verdict");
        (a, e)
    }

    fn wobble(h: i64) -> f64 {
        (h * 7919 % 113) as f64 / 56.0 - 1.0
    }

    #[test]
    fn the_shanghai_pattern_is_caught() {
        // Flow 0 from 06:00 to 17:00 (hours 6..17 of each day) while COD moves by ±8; at night
        // flow with COD held at 31.4.
        let obs = series(24 * 4, |h| {
            let hod = h % 24;
            if (6..17).contains(&hod) {
                (30.0 + 8.0 * wobble(h), 0.0)
            } else {
                (31.4, 120.0)
            }
        });
        let (active, e) = last_active(&obs);
        assert!(active, "{e}");
        assert!(e["days_showing"].as_u64().expect("days") >= 3);
    }

    #[test]
    fn values_moving_within_the_hours_at_zero_flow_count() {
        // Values that move within the hours at zero flow (min/max of the record) while the
        // hourly means barely move: the contradiction all the same.
        let within = (0..24 * 4)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                let day = (6..17).contains(&(h % 24));
                let (cod, flow) = if day { (30.0, 0.0) } else { (31.0, 120.0) };
                [
                    Observation {
                        point_id: "w".into(),
                        data_type: DataType::Hour,
                        code: "w01018".into(),
                        time: t,
                        fields: [
                            ("avg".to_owned(), format!("{:.1}", cod + 0.5 * wobble(h))),
                            (
                                "min".to_owned(),
                                format!("{:.1}", if day { cod - 6.0 } else { cod }),
                            ),
                            (
                                "max".to_owned(),
                                format!("{:.1}", if day { cod + 6.0 } else { cod }),
                            ),
                            ("flag".to_owned(), "N".to_owned()),
                        ]
                        .into(),
                    },
                    row("w00000", t, &format!("{flow:.1}"), "N", DataType::Hour),
                ]
            })
            .collect::<Vec<_>>();
        let (active, e) = last_active(&within);
        assert!(!active, "night values move by 0.5: not frozen, {e}");
        let w = evaluate_series(
            &rule("water_flow"),
            &outlet(),
            &Context::default(),
            rows(&within),
        );
        assert!(
            w["w01018"].iter().any(|v| v.1),
            "moving within the hours at zero flow"
        );
    }

    #[test]
    fn honest_look_alikes_do_not_contradict() {
        // No discharge at night: zero flow, the analyser reading its standing sample (drifting
        // by 1 mg/L); by day flow with moving values.
        let nights = series(24 * 7, |h| {
            let hod = h % 24;
            if !(6..22).contains(&hod) {
                (20.0 + 0.5 * wobble(h), 0.0)
            } else {
                (28.0 + 6.0 * wobble(h), 120.0)
            }
        });
        let (active, e) = last_active(&nights);
        assert!(!active, "{e}");
        // An analyser that measures every two hours: each value sent twice.
        let cycling = series(24 * 7, |h| (28.0 + 6.0 * wobble(h / 2), 120.0));
        let (active, e) = last_active(&cycling);
        assert!(!active, "{e}");
    }
}
