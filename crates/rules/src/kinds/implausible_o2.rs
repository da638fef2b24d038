//! Implausible O2 (fraud rule R5): a flue gas reporting near-ambient oxygen while the source
//! runs at its usual flow. Air let into the stack or the sample line (dilution), or an analyser
//! sampling room air, reads like this; a boiler burning fuel cannot.
//!
//! "Running at its usual flow" is judged from the point's own data: the hour is flagged N and its
//! flue-gas flow is at least a share of the median flow of its running hours in the day before.
//! A stopped plant (flag F, or low flow) and a start-up hour (flow still low) are not judged, and
//! the condition must hold for consecutive hours, so a single odd hour is not a clue.

use super::prelude::*;

/// Parameters of an `implausible_o2` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImplausibleO2 {
    /// O2 (%) at or above which the flue gas is near ambient air (standards §5.4 R5: 19 %, a
    /// [proposal] for coal and gas boilers).
    #[serde(default = "nineteen")]
    pub o2_at_least: f64,
    /// The O2 code (HJ 212-2017 a19001).
    #[serde(default = "o2_code")]
    pub o2_code: String,
    /// The flue-gas flow code (a00000).
    #[serde(default = "flow_code")]
    pub flow_code: String,
    /// An hour counts as running at its usual flow when its flow is at least this share of
    /// the median flow of the running hours before it. [proposal]
    #[serde(default = "half")]
    pub min_flow_share: f64,
    /// Consecutive such hours, the hour judged included, that make it active. [proposal]
    #[serde(default = "two")]
    pub min_hours: u32,
    /// Hours before the one judged from which the usual flow is taken.
    #[serde(default = "day")]
    pub reference_hours: u32,
}

fn nineteen() -> f64 {
    19.0
}
fn o2_code() -> String {
    "a19001".into()
}
fn flow_code() -> String {
    "a00000".into()
}
fn half() -> f64 {
    0.5
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
    /// Per hour of the run, oldest first: start, O2 (%) and flow.
    hours: Vec<(String, f64, f64)>,
    o2_at_least: f64,
    usual_flow: Option<f64>,
    min_flow_share: f64,
    min_hours: u32,
    standard: &'static str,
}

impl Evaluate for ImplausibleO2 {
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
        let hourly = |code: &str| -> BTreeMap<i64, (f64, bool)> {
            input
                .hourly_records()
                .filter(|r| r.code == code)
                .filter_map(|r| Some((hour_of(r), (r.avg?.to_f64(), r.normal()))))
                .collect()
        };
        let o2 = hourly(&self.o2_code);
        let Some(&(o2_now, _)) = o2.get(&hour_start) else {
            return Vec::new();
        };
        let flow = hourly(&self.flow_code);
        let usual = usual_flow(
            &flow,
            hour_start - i64::from(self.reference_hours) * 3600,
            hour_start,
        );
        let suspicious = |h: i64| -> Option<(String, f64, f64)> {
            let &(o, o_normal) = o2.get(&h)?;
            let &(f, f_normal) = flow.get(&h)?;
            let running =
                o_normal && f_normal && usual.is_some_and(|u| f >= u * self.min_flow_share);
            (running && o >= self.o2_at_least).then(|| (iso(h), o, f))
        };
        let run = run_back(hour_start, self.min_hours.max(1), suspicious);
        let active = run.len() >= self.min_hours.max(1) as usize;
        let mut out = Vec::new();
        let code = self.o2_code.as_str();
        push(&mut out, wanted, code, active, || Evidence {
            rule: &rule.id,
            window: input.window(),
            code,
            hours: if run.is_empty() {
                vec![(
                    iso(hour_start),
                    o2_now,
                    flow.get(&hour_start).map_or(0.0, |x| x.0),
                )]
            } else {
                run.clone()
            },
            o2_at_least: self.o2_at_least,
            usual_flow: usual,
            min_flow_share: self.min_flow_share,
            min_hours: self.min_hours.max(1),
            standard: "fraud rule R5 (standards summary §5.4): O2 ≥ 19 % while running, a [proposal]; the flow share and the two hours are [proposal]s",
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use domain::DataType;

    use crate::test_support::{point, row, rule};
    use crate::*;

    const H0: i64 = 1_790_000_000 - 1_790_000_000 % 3600;

    /// Hourly O2 and flow, one `(o2, flow, flag)` per hour from H0.
    fn hours(v: &[(&str, &str, &str)]) -> Vec<Observation> {
        v.iter()
            .enumerate()
            .flat_map(|(i, (o2, flow, flag))| {
                let t = H0 + i as i64 * 3600;
                [
                    row("a19001", t, o2, flag, DataType::Hour),
                    row("a00000", t, flow, flag, DataType::Hour),
                ]
            })
            .collect()
    }

    fn active(obs: &[Observation]) -> Vec<i64> {
        let w = evaluate_series(
            &rule("implausible_o2"),
            &point(),
            &Context::default(),
            rows(obs),
        );
        w.get("a19001")
            .map(|v| {
                v.iter()
                    .filter(|(_, a, _)| *a)
                    .map(|(h, _, _)| (h - H0) / 3600)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn ambient_oxygen_at_full_flow_is_caught() {
        let mut v = vec![("9.1", "52000", "N"); 12];
        v.extend([
            ("20.7", "51000", "N"),
            ("20.8", "52500", "N"),
            ("20.8", "50500", "N"),
        ]);
        assert_eq!(active(&hours(&v)), [13, 14], "from the second such hour");
        let w = evaluate_series(
            &rule("implausible_o2"),
            &point(),
            &Context::default(),
            rows(&hours(&v)),
        );
        let e = &w["a19001"].iter().find(|(_, a, _)| *a).expect("active").2;
        assert_eq!(e["hours"].as_array().map(Vec::len), Some(2));
        assert_eq!(e["usual_flow"], 52000.0);
    }

    #[test]
    fn honest_look_alikes_are_not_implausible() {
        let mut v = vec![("9.1", "52000", "N"); 12];
        // Stopped at night (flag F, ambient O2, a trickle of flow), then a start-up hour with
        // high O2 at low flow, then normal again.
        v.extend(vec![("20.9", "1000", "F"); 4]);
        v.push(("19.5", "15000", "N"));
        v.push(("17.0", "30000", "N"));
        v.extend(vec![("9.0", "52000", "N"); 3]);
        assert!(active(&hours(&v)).is_empty(), "stop and start-up");
        // One odd hour at full flow is not a run.
        let mut one = vec![("9.1", "52000", "N"); 12];
        one.push(("19.4", "52000", "N"));
        one.push(("9.3", "52000", "N"));
        assert!(active(&hours(&one)).is_empty(), "a single hour");
        // Stand-by: the fan runs at a fraction of the flow, the burner is off, nothing flagged.
        let mut standby = vec![("9.1", "52000", "N"); 12];
        standby.extend(vec![("20.8", "8000", "N"); 3]);
        assert!(active(&hours(&standby)).is_empty(), "low flow");
    }
}
