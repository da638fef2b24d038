//! Real-time exceedance: valid real-time values above a point's limit.

use super::prelude::*;

/// A `realtime_exceedance` rule has no parameters: its limits come from the point or the standard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeExceedance {}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    limit: f64,
    /// The first 20 values over the limit.
    values_over_limit: Vec<Over>,
    count_over: usize,
    count: usize,
    note: &'static str,
}

#[derive(Serialize)]
struct Over {
    time: String,
    rtd: String,
}

impl Evaluate for RealtimeExceedance {
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            point,
            rows,
            wanted,
            ..
        } = *input;
        let mut out = Vec::new();
        // The codes with a limit, then their valid real-time values in one pass.
        let limited: Vec<(Limited, Dec)> = limited_codes(rule, point)
            .into_iter()
            .filter_map(|l| {
                let exact = Dec::parse(&l.limit.to_string()).ok()?;
                Some((l, exact))
            })
            .collect();
        if limited.is_empty() {
            return out;
        }
        // Per code: values seen, and those over the limit (time, value).
        let mut seen: Vec<(usize, Vec<(i64, Dec)>)> = vec![(0, Vec::new()); limited.len()];
        for o in rows
            .iter()
            .filter(|o| o.data_type == domain::DataType::Rtd)
            .filter(|o| input.in_hour(o))
        {
            let Some(i) = limited.iter().position(|(l, _)| o.is(l.code, l.key)) else {
                continue;
            };
            if !o.normal() {
                continue;
            }
            let Some(v) = o.rtd else {
                continue;
            };
            seen[i].0 += 1;
            if v > limited[i].1 {
                seen[i].1.push((o.time, v));
            }
        }
        for ((l, _), (count, over)) in limited.iter().zip(seen) {
            let (code, limit) = (l.code, l.limit);
            if count == 0 {
                continue;
            }
            push(&mut out, wanted, code, !over.is_empty(), || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                limit,
                values_over_limit: over
                    .iter()
                    .take(20)
                    .map(|(t, v)| Over {
                        time: iso(*t),
                        rtd: v.to_string(),
                    })
                    .collect(),
                count_over: over.len(),
                count,
                note: "real-time values are not averaged; the legal judgement is on hourly means",
            });
        }
        out
    }
}
