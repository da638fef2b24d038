//! Invalid hour: an hour with fewer valid minutes than HJ 75 asks, the stopped (F) minutes excluded.

use super::prelude::*;

/// Parameters of an `invalid_hour` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidHour {
    /// Valid minutes an hour needs (HJ 75-2017: 45).
    #[serde(default = "forty_five")]
    pub min_valid_minutes: usize,
}

fn forty_five() -> usize {
    45
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    minutes_reported: usize,
    minutes_stopped: usize,
    valid_minutes: usize,
    minutes_to_come: usize,
    required: usize,
    standard: &'static str,
}

impl Evaluate for InvalidHour {
    /// An hour arriving in pieces (live, a backfill, a re-send) would be invalid after its
    /// first piece and valid after its last.
    fn span(&self) -> Span {
        Span::Hour {
            baseline_hours: 0,
            settled: true,
        }
    }

    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule, rows, wanted, ..
        } = *input;
        let minutes_per_row = input.minutes_per_row();
        let mut out = Vec::new();
        // Per code: minutes reported, minutes the source was stopped (flagged F), valid
        // minutes (flagged N).
        let mut by_code: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
        for o in rows
            .iter()
            .filter(|o| input.in_hour(o))
            .filter(|o| o.data_type == domain::DataType::Min)
        {
            let e = by_code.entry(o.code.as_str()).or_default();
            e.0 += minutes_per_row;
            if o.flag_or_normal() == "F" {
                e.1 += minutes_per_row;
            }
            if o.normal() {
                e.2 += minutes_per_row;
            }
        }
        let to_come = input.minutes_to_come();
        for (code, (minutes, stopped, valid)) in by_code {
            // HJ 75 asks for valid minutes while the source runs: minutes of a stopped
            // source (F) are outside the count; every other minute of the hour, a missing
            // one too, is a running minute. An hour the source ran for only in part needs
            // the same share of its running minutes valid (45 of 60, pro rata: a proposal,
            // the standard speaks of whole hours); an hour it did not run at all is not an
            // invalid hour.
            let running = 60usize.saturating_sub(stopped);
            let active = running > 0 && (valid + to_come) * 60 < self.min_valid_minutes * running;
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                minutes_reported: minutes,
                minutes_stopped: stopped,
                valid_minutes: valid,
                minutes_to_come: to_come,
                required: (self.min_valid_minutes * running).div_ceil(60),
                standard: "HJ 75-2017 hourly validity (minutes of a stopped source, flag F, excluded)",
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
    fn a_stopped_source_is_not_an_invalid_hour() {
        let p = point(); // minute records every 10 minutes
        let h = 1_790_000_000 - 1_790_000_000 % 3600;
        let hour = |flags: [&str; 6]| -> Vec<Observation> {
            (0..6)
                .map(|k| {
                    row(
                        "a21026",
                        h + k * 600,
                        "30",
                        flags[k as usize],
                        DataType::Min,
                    )
                })
                .collect()
        };
        let judge = |rows: &[Observation]| {
            let v = evaluate(&rule("invalid_hour"), &p, h, rows);
            assert_eq!(v.len(), 1, "a verdict, so an earlier window can clear");
            v[0].active
        };
        // Stopped all hour (a gas turbine at night, a planned shutdown): not invalid.
        assert!(!judge(&hour(["F"; 6])));
        // Stopped for the first 30 minutes, then running with valid data: not invalid.
        assert!(!judge(&hour(["F", "F", "F", "N", "N", "N"])));
        // Stopped for 30 minutes, and a fault for 20 of the 30 it ran: invalid.
        assert!(judge(&hour(["F", "F", "F", "D", "D", "N"])));
        // Running all hour with 20 minutes of fault: invalid as before.
        assert!(judge(&hour(["D", "D", "N", "N", "N", "N"])));
        // Stopped for 20 minutes and nothing else reported: the 40 minutes it ran have no
        // valid data, so the hour is invalid (missing minutes are not stopped ones).
        let stopped_then_silent: Vec<Observation> = hour(["F", "F", "N", "N", "N", "N"])
            .into_iter()
            .take(2)
            .collect();
        assert!(judge(&stopped_then_silent));
        // Twenty valid minutes reported, the rest missing: invalid.
        let sparse: Vec<Observation> = hour(["N"; 6]).into_iter().take(2).collect();
        assert!(judge(&sparse));
    }
}
