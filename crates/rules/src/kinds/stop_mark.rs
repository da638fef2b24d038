//! A stop marked while running (the "停产" case of fraud rule R9): hours flagged F (source
//! stopped, HJ 212-2017) whose flue-gas or waste-water flow says the plant ran. A stopped hour
//! is outside every mean and every validity count, so marking running hours stopped hides
//! their exceedances.
//!
//! The flow is compared with the usual flow: the median flow of the running hours (flagged N)
//! of the day before. A plant stopping or starting inside an hour can show a partial flow in an
//! hour it marks stopped, so the condition must hold for consecutive hours.

use super::prelude::*;

/// Parameters of a `stop_mark` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopMark {
    /// An F hour counts when its flow is at least this share of the usual flow (standards
    /// §5.4 R9: 20 % of normal).
    #[serde(default = "fifth")]
    pub min_flow_share: f64,
    /// Consecutive such hours, the hour judged included, that make it active. [proposal]
    #[serde(default = "two")]
    pub min_hours: u32,
    /// Flow codes (flue gas a00000, waste water w00000).
    #[serde(default = "super::flow_codes")]
    pub flow_codes: Vec<String>,
    /// Hours before the one judged from which the usual flow is taken.
    #[serde(default = "day")]
    pub reference_hours: u32,
}

fn fifth() -> f64 {
    0.2
}
fn two() -> u32 {
    2
}
fn day() -> u32 {
    24
}
#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    /// Per hour marked stopped, oldest first: start and flow.
    hours: Vec<(String, f64)>,
    usual_flow: Option<f64>,
    min_flow_share: f64,
    min_hours: u32,
    standard: &'static str,
}

impl Evaluate for StopMark {
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: self.reference_hours.max(self.min_hours),
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
        let mut out = Vec::new();
        for code in &self.flow_codes {
            let records: Vec<&crate::Row> =
                input.hourly_records().filter(|r| r.code == *code).collect();
            // Hour -> (flow, flagged N); and the hours flagged F (stopped).
            let flow: BTreeMap<i64, (f64, bool)> = records
                .iter()
                .filter_map(|r| Some((hour_of(r), (r.avg?.to_f64(), r.normal()))))
                .collect();
            let stopped: Vec<i64> = records
                .iter()
                .filter(|r| r.flag.as_deref() == Some("F"))
                .map(|r| hour_of(r))
                .collect();
            if !flow.contains_key(&hour_start) {
                continue;
            }
            let usual = usual_flow(
                &flow,
                hour_start - i64::from(self.reference_hours) * 3600,
                hour_start,
            );
            let marked = |h: i64| -> Option<(String, f64)> {
                let &(f, _) = flow.get(&h)?;
                (stopped.contains(&h) && usual.is_some_and(|u| f >= u * self.min_flow_share))
                    .then(|| (iso(h), f))
            };
            let run = run_back(hour_start, self.min_hours.max(1), marked);
            let active = run.len() >= self.min_hours.max(1) as usize;
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                hours: run.clone(),
                usual_flow: usual,
                min_flow_share: self.min_flow_share,
                min_hours: self.min_hours.max(1),
                standard: "fraud rule R9 (standards summary §5.4): a stop mark with flow above 20 % of normal; the two hours are a [proposal]",
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

    fn active(v: &[(&str, &str)]) -> Vec<i64> {
        let obs: Vec<Observation> = v
            .iter()
            .enumerate()
            .map(|(i, (flow, flag))| {
                row("a00000", H0 + i as i64 * 3600, flow, flag, DataType::Hour)
            })
            .collect();
        let w = evaluate_series(
            &rule("stop_mark"),
            &point(),
            &Context::default(),
            rows(&obs),
        );
        w.get("a00000")
            .map(|v| {
                v.iter()
                    .filter(|(_, a, _)| *a)
                    .map(|(h, _, _)| (h - H0) / 3600)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn hours_marked_stopped_at_full_flow_are_caught() {
        let mut v = vec![("52000", "N"); 12];
        v.extend([
            ("51000", "F"),
            ("50500", "F"),
            ("52500", "F"),
            ("52000", "N"),
        ]);
        assert_eq!(active(&v), [13, 14]);
    }

    #[test]
    fn honest_stops_are_not_marking_abuse() {
        // A night stop: flow falls in the first stopped hour, a trickle after, back at start-up.
        let mut v = vec![("52000", "N"); 12];
        v.extend([
            ("20000", "F"),
            ("1000", "F"),
            ("1000", "F"),
            ("1000", "F"),
            ("30000", "N"),
        ]);
        assert!(active(&v).is_empty(), "one partial hour, then a trickle");
        // A week's shutdown: no running hours in the day before to compare with.
        assert!(active(&vec![("800", "F"); 48]).is_empty(), "long shutdown");
    }
}
