//! Marks that hide exceedances (fraud rule R9, the fault-mark case): hours flagged fault (D),
//! maintenance (M) or calibration (C) whose value is above the limit, far more often than the
//! outlet's unmarked hours are. A marked hour is outside the hourly means and the exceedance
//! count, so marking the hours a plant exceeds hides them (the 2024 slaughterhouse case); an
//! analyser that fails now and then gives marked hours above the limit too, but no more often
//! than its plant exceeds anyway, and not hour after hour.
//!
//! Judged at a marked hour above the limit: active when it ends a run of at least `min_hours`
//! consecutive marked hours above the limit that begins the marks (the hour before the run is not
//! marked: the marks were put on the exceedance, where a maintenance morning begins at the
//! plant's ordinary values and its erratic readings cross the limit now and then), and the share
//! of the window's marked hours above the limit is more than `ratio` times the share of its
//! unmarked running hours above it. Only codes with a limit are judged.

use super::prelude::*;

/// Parameters of a `mark_exceedance` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkExceedance {
    /// The flags that mark an hour out.
    #[serde(default = "marks")]
    pub flags: Vec<String>,
    /// Consecutive marked hours above the limit, at the start of the marks, that make a clue.
    /// [proposal]
    #[serde(default = "two")]
    pub min_hours: usize,
    /// How many times the unmarked hours' exceedance rate the marked hours' must be (R9: 2).
    #[serde(default = "two_f")]
    pub ratio: f64,
    /// Hours, ending with the hour judged, looked at. [proposal]
    #[serde(default = "week")]
    pub window_hours: u32,
    /// Flow codes: an unmarked hour with zero flow is not a running hour.
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
}

fn marks() -> Vec<String> {
    ["D", "M", "C"].map(String::from).to_vec()
}
fn two() -> usize {
    2
}
fn two_f() -> f64 {
    2.0
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
    value: f64,
    flag: String,
    limit: f64,
    marked_hours: usize,
    marked_above_limit: Vec<(String, String, f64)>,
    running_hours: usize,
    running_above_limit: usize,
    ratio: f64,
    standard: &'static str,
}

impl Evaluate for MarkExceedance {
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
        let marked = |r: &crate::Row| {
            r.flag
                .as_deref()
                .is_some_and(|f| self.flags.iter().any(|m| m == f))
        };
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
            let mine = || hourly.iter().filter(|r| r.code == code);
            let above = |r: &crate::Row| r.avg.is_some_and(|v| v.to_f64() > l);
            let marked_hours = mine().filter(|r| marked(r)).count();
            let marked_above: Vec<(String, String, f64)> = mine()
                .filter(|r| marked(r) && above(r))
                .map(|r| {
                    (
                        iso(hour_of(r)),
                        r.flag.clone().unwrap_or_default(),
                        r.avg.map_or(0.0, |v| v.to_f64()),
                    )
                })
                .collect();
            let running = mine().filter(|r| hours.running(r)).count();
            let running_above = mine().filter(|r| hours.running(r) && above(r)).count();
            let marked_rate = marked_above.len() as f64 / marked_hours.max(1) as f64;
            let running_rate = running_above as f64 / running.max(1) as f64;
            // The run of marked hours above the limit ending at the hour judged, and whether the
            // marks begin with it (the hour before it is not marked).
            let state = |h: i64| {
                mine()
                    .find(|r| hour_of(r) == h)
                    .map(|r| (marked(r), above(r)))
            };
            let run = run_back(hour_start, self.window_hours, |h| {
                state(h).filter(|(m, a)| *m && *a)
            })
            .len();
            let marks_begin_with_it =
                !state(hour_start - run as i64 * 3600).is_some_and(|(m, _)| m);
            let active = run >= self.min_hours
                && marks_begin_with_it
                && marked_rate > self.ratio * running_rate;
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                from: iso(from),
                value: now.avg.map_or(f64::NAN, |v| v.to_f64()),
                flag: now.flag.clone().unwrap_or_default(),
                limit: l,
                marked_hours,
                marked_above_limit: marked_above,
                running_hours: running,
                running_above_limit: running_above,
                ratio: self.ratio,
                standard: "fraud rule R9 (standards summary §5.4): marked hours above the limit more than 2 × as often as the outlet's other hours; the week and the two hours are [proposal]s",
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

    fn series(hours: i64, at: impl Fn(i64) -> (f64, &'static str)) -> Vec<Observation> {
        (0..hours)
            .flat_map(|h| {
                let t = H0 + h * 3600;
                let (so2, flag) = at(h);
                [
                    row("a21026", t, &format!("{so2:.2}"), flag, DataType::Hour),
                    row("a00000", t, "52000", flag, DataType::Hour),
                ]
            })
            .collect()
    }

    fn active(obs: &[Observation]) -> Vec<i64> {
        let w = evaluate_series(
            &rule("mark_exceedance"),
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
    fn exceedances_marked_faulty_are_caught() {
        // Limit 35: three hours at 60 flagged D.
        let obs = series(100, |h| {
            if (90..93).contains(&h) {
                (60.0, "D")
            } else {
                (20.0, "N")
            }
        });
        assert_eq!(active(&obs), [91, 92]);
    }

    #[test]
    fn honest_marks_are_not() {
        // A maintenance morning with ordinary values, a fault with one high hour, a maintenance
        // morning of a plant close to its limit whose erratic readings cross it twice.
        let obs = series(100, |h| match h {
            30..34 => (18.0, "M"),
            60 => (80.0, "D"),
            61 => (5.0, "D"),
            70 => (30.0, "M"),
            71 | 72 => (37.0, "M"),
            73 => (31.0, "M"),
            _ => (20.0, "N"),
        });
        assert!(active(&obs).is_empty());
        // A plant that exceeds often anyway: its marked hours above the limit are no more
        // frequent than its other hours'.
        let often = series(100, |h| match h {
            h if h % 2 == 0 && h < 90 => (40.0, "N"),
            90 | 91 => (40.0, "D"),
            92 | 93 => (20.0, "D"),
            _ => (20.0, "N"),
        });
        assert!(active(&often).is_empty());
    }
}
