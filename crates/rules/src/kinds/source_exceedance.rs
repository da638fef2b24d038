//! Source exceedance: an outlet's valid hourly mean (converted to its reference O2) above its limit (HJ 75-2017 validity, GB 13223 and the like for the limit).

use super::prelude::*;

/// Parameters of a `source_exceedance` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceExceedance {
    /// Valid minutes an hour needs (HJ 75-2017: 45).
    #[serde(default = "forty_five")]
    pub min_valid_minutes: usize,
}

fn forty_five() -> usize {
    45
}

/// Values as exact decimals in text, as the device sent them or as computed.
#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    hourly_mean: Option<String>,
    converted: Option<String>,
    o2: Option<String>,
    ref_o2: Option<f64>,
    limit: f64,
    valid_minutes: usize,
    valid_hour: bool,
    standard: &'static str,
}

impl Evaluate for SourceExceedance {
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            point,
            rows,
            wanted,
            ..
        } = *input;
        let minutes_per_row = input.minutes_per_row();
        let mut out = Vec::new();
        // The codes with a limit (not disabled), then O2 for the conversion: their
        // minute values are gathered in one pass over the hour (this runs for every packet).
        let limited = limited_codes(rule, point);
        if limited.is_empty() {
            return out;
        }
        let o2_key = code_key("a19001");
        let o2_slot = limited.len();
        let mut minutes: Vec<Vec<(Dec, &str)>> = vec![Vec::new(); limited.len() + 1];
        for o in rows
            .iter()
            .filter(|o| o.data_type == domain::DataType::Min)
            .filter(|o| input.in_hour(o))
        {
            let slot = limited.iter().position(|l| o.is(l.code, l.key));
            let is_o2 = o.is("a19001", o2_key);
            if slot.is_none() && !is_o2 {
                continue;
            }
            let Some(v) = o.avg else {
                continue;
            };
            let flag = o.flag_or_normal();
            for at in slot.into_iter().chain(is_o2.then_some(o2_slot)) {
                minutes[at].extend(std::iter::repeat_n((v, flag), minutes_per_row));
            }
        }
        let o2 = envstd::emission::hourly(&minutes[o2_slot], None, self.min_valid_minutes).mean;
        for (i, l) in limited.iter().enumerate() {
            let (code, setting, limit) = (l.code, l.setting, l.limit);
            let refs = &minutes[i];
            if refs.is_empty() {
                continue;
            }
            let hour = envstd::emission::hourly(refs, None, self.min_valid_minutes);
            let converted = match (hour.mean, setting.ref_o2, o2) {
                (Some(m), Some(r), Some(o2)) => Dec::parse(&r.to_string())
                    .ok()
                    .and_then(|r| envstd::emission::convert(m, o2, r).ok())
                    .map(|c| c.converted),
                _ => None,
            };
            let judged = converted.or(hour.mean);
            let limit_dec = Dec::parse(&limit.to_string()).ok();
            let active = matches!((judged, limit_dec), (Some(j), Some(l)) if hour.valid && j > l);
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                hourly_mean: hour.mean.map(|m| m.to_string()),
                converted: converted.map(|c| c.to_string()),
                o2: o2.map(|c| c.to_string()),
                ref_o2: setting.ref_o2,
                limit,
                valid_minutes: hour.valid_minutes,
                valid_hour: hour.valid,
                standard: "HJ 75-2017 hourly validity; O2 conversion per the point's reference O2",
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
    fn exceedance_uses_the_converted_valid_hourly_mean() {
        let p = point();
        let h = 1_790_000_000 - 1_790_000_000 % 3600;
        // 30 at 9 % O2 is 37.5 at 6 %: above 35.
        let rows: Vec<Observation> = (0..6)
            .flat_map(|k| {
                [
                    row("a21026", h + k * 600, "30", "N", DataType::Min),
                    row("a19001", h + k * 600, "9", "N", DataType::Min),
                ]
            })
            .collect();
        let v = evaluate(&rule("source_exceedance"), &p, h, &rows);
        assert_eq!(v.len(), 1);
        assert!(v[0].active);
        assert_eq!(v[0].evidence["converted"], "37.500");
        // Only 40 valid minutes: not judged.
        let mut short = rows.clone();
        short.retain(|o| o.code != "a21026" || o.time < h + 4 * 600);
        assert!(!evaluate(&rule("source_exceedance"), &p, h, &short)[0].active);
        // An override disables it for this point.
        let mut r = rule("source_exceedance");
        r.overrides.push(Override {
            point: "s".into(),
            code: None,
            disabled: true,
            limit: None,
            iaqi_above: None,
        });
        assert!(evaluate(&r, &p, h, &rows).is_empty());
    }
}
