//! Flag duration: the minutes of an hour covered by flagged records (HJ 212-2017 flags) reaching the threshold.

use super::prelude::*;

/// Parameters of a `flag_duration` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagDuration {
    /// The data flags counted (HJ 212-2017: `D` fault, `C` calibration, `M` maintenance...).
    pub flags: Vec<String>,
    /// Flagged minutes in an hour that make it active.
    #[serde(default = "sixty")]
    pub max_flag_minutes: usize,
}

fn sixty() -> usize {
    60
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    flagged_minutes: usize,
    flags: Vec<&'a str>,
    threshold_minutes: usize,
    standard: &'static str,
}

impl Evaluate for FlagDuration {
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            hour_start,
            rows,
            wanted,
            ..
        } = *input;
        let minutes_per_row = input.minutes_per_row();
        let mut out = Vec::new();
        // Per code: the minutes of the hour covered by a flagged record, as a bit per
        // minute, so that a minute is counted once whatever reports it (a real-time value
        // covers its minute, a minute record its interval). An hourly or daily record's
        // flag does not say for how many minutes the device was in that state (a flue-gas
        // hour is D once a quarter of its minutes are), so it counts for none.
        let mut flagged: Vec<(&str, Option<u128>, u64, Vec<&str>)> = Vec::new();
        // Every code with data in the hour gets a verdict: one whose flags were corrected
        // must clear its window.
        for o in rows.iter().filter(|o| input.in_hour(o)) {
            let flag = o
                .flag
                .as_deref()
                .filter(|f| *f != "N" && self.flags.iter().any(|r| r == f));
            let at = match flagged.iter().position(|(c, k, _, _)| o.is(c, *k)) {
                Some(i) => i,
                None => {
                    flagged.push((o.code.as_str(), o.key, 0, Vec::new()));
                    flagged.len() - 1
                }
            };
            if let Some(f) = flag {
                let minute = ((o.time - hour_start) / 60) as u32;
                let covered = match o.data_type {
                    domain::DataType::Hour | domain::DataType::Day => continue,
                    domain::DataType::Min => minutes_per_row.min(60) as u32,
                    domain::DataType::Rtd => 1,
                };
                let mask = (((1u128 << covered) - 1) << minute) as u64 & ((1u64 << 60) - 1);
                let e = &mut flagged[at];
                e.2 |= mask;
                if !e.3.contains(&f) {
                    e.3.push(f);
                }
            }
        }
        flagged.sort_by(|a, b| a.0.cmp(b.0));
        for (code, _, mask, flags) in flagged {
            let minutes = mask.count_ones() as usize;
            push(
                &mut out,
                wanted,
                code,
                minutes >= self.max_flag_minutes,
                || Evidence {
                    rule: &rule.id,
                    window: input.window(),
                    code,
                    flagged_minutes: minutes,
                    flags,
                    threshold_minutes: self.max_flag_minutes,
                    standard: "HJ 212-2017 data flags",
                },
            );
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
    fn flagged_minutes_count_each_minute_once() {
        let p = point(); // minute records every 10 minutes
        let h = 1_790_000_000 - 1_790_000_000 % 3600;
        let rule = rule("flags_too_long");
        // Real-time values every 10 s flagged for maintenance for 30 minutes: 180 records,
        // 30 minutes (counting each record as a 10-minute interval would make it 1,800).
        let mut rows: Vec<Observation> = (0..180)
            .map(|k| row("a21026", h + k * 10, "30", "M", DataType::Rtd))
            .collect();
        let v = evaluate(&rule, &p, h, &rows);
        assert_eq!(
            (v[0].active, v[0].evidence["flagged_minutes"].as_u64()),
            (false, Some(30))
        );
        // Minute records of the same half hour, also flagged: still the same 30 minutes; the
        // other half hour flagged too: 60 minutes, the hour is flagged throughout.
        rows.extend((0..6).map(|k| row("a21026", h + k * 600, "30", "M", DataType::Min)));
        let v = evaluate(&rule, &p, h, &rows);
        assert_eq!(
            (v[0].active, v[0].evidence["flagged_minutes"].as_u64()),
            (true, Some(60))
        );
        // Flags corrected to N: the code still gets a verdict, so its window clears.
        let corrected: Vec<Observation> = (0..6)
            .map(|k| row("a21026", h + k * 600, "30", "N", DataType::Min))
            .collect();
        let v = evaluate(&rule, &p, h, &corrected);
        assert_eq!((v.len(), v[0].active), (1, false));
    }
    #[test]
    fn hourly_flags_do_not_count_as_an_hour_of_flagged_minutes() {
        let p = point();
        let h = 1_790_000_000 - 1_790_000_000 % 3600;
        // A daily calibration hour on an hourly series: the record is flagged C, but how long
        // the calibration took is not in it.
        let v = evaluate(
            &rule("flags_too_long"),
            &p,
            h,
            &[row("a21026", h, "30", "C", DataType::Hour)],
        );
        assert_eq!(
            (v[0].active, v[0].evidence["flagged_minutes"].as_u64()),
            (false, Some(0))
        );
    }
}
