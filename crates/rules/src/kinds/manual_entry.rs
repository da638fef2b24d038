//! Manual-entry values (R10 of the fraud rules): an automatic monitor's series carries values
//! flagged S (HJ 212-2017: 手工输入, set by hand), which an analyser never sends on its own.

use super::prelude::*;

/// Parameters of a `manual_entry` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualEntry {
    /// Records flagged S in an hour that make it active (standards §5.4 R10: any).
    #[serde(default = "one")]
    pub min_flagged: usize,
}

fn one() -> usize {
    1
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    /// Records flagged S: DataTime, series and the value as sent (the first 20).
    manual_values: Vec<(String, domain::DataType, String)>,
    manual_count: usize,
    threshold_count: usize,
    standard: &'static str,
}

impl Evaluate for ManualEntry {
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule, rows, wanted, ..
        } = *input;
        // Every code with data in the hour gets a verdict, so that a corrected flag clears.
        let mut manual: BTreeMap<&str, Vec<(String, domain::DataType, String)>> = BTreeMap::new();
        for o in rows.iter().filter(|o| input.in_hour(o)) {
            let entry = manual.entry(o.code.as_str()).or_default();
            if o.flag.as_deref() == Some("S") {
                let value = o.avg.or(o.rtd).map_or_else(String::new, |v| v.to_string());
                entry.push((iso(o.time), o.data_type, value));
            }
        }
        let threshold = self.min_flagged.max(1);
        let mut out = Vec::new();
        for (code, flagged) in manual {
            push(&mut out, wanted, code, flagged.len() >= threshold, || {
                Evidence {
                    rule: &rule.id,
                    window: input.window(),
                    code,
                    manual_count: flagged.len(),
                    manual_values: flagged.iter().take(20).cloned().collect(),
                    threshold_count: threshold,
                    standard: "HJ 212-2017 data flag S (manual input); fraud rule R10",
                }
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

    #[test]
    fn a_value_typed_in_by_hand_is_caught_and_a_corrected_flag_clears() {
        let p = point();
        let h = 1_790_000_000 - 1_790_000_000 % 3600;
        let rule = rule("manual_entry");
        let mut rows: Vec<Observation> = (0..6)
            .map(|k| {
                row(
                    "a21026",
                    h + k * 600,
                    &format!("3{k}.1"),
                    "N",
                    DataType::Min,
                )
            })
            .collect();
        let v = evaluate(&rule, &p, h, &rows);
        assert_eq!((v.len(), v[0].active), (1, false), "an honest hour");
        // Maintenance and calibration flags are other rules' business.
        rows[2] = row("a21026", h + 1200, "32.1", "M", DataType::Min);
        assert!(!evaluate(&rule, &p, h, &rows)[0].active);
        rows[3] = row("a21026", h + 1800, "31.0", "S", DataType::Min);
        let v = evaluate(&rule, &p, h, &rows);
        assert!(v[0].active);
        assert_eq!(v[0].evidence["manual_count"], 1);
        assert_eq!(v[0].evidence["manual_values"][0][2], "31.0");
        rows[3] = row("a21026", h + 1800, "31.0", "N", DataType::Min);
        assert!(!evaluate(&rule, &p, h, &rows)[0].active, "corrected");
    }
}
