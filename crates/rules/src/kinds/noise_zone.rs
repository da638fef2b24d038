//! Noise zone: an hourly Leq above the limit of the point's GB 3096 zone class.

use super::prelude::*;

/// A `noise_zone` rule has no parameters: its limits come from the point or the standard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseZone {}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    leq: f64,
    limit: f64,
    period: &'static str,
    zone: envstd::noise::Zone,
    standard: &'static str,
}

impl Evaluate for NoiseZone {
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            ctx,
            hour_start,
            rows,
            wanted,
            ..
        } = *input;
        let mut out = Vec::new();
        let Some(zone) = ctx
            .noise_zone
            .as_deref()
            .and_then(|z| envstd::noise::Zone::from_name(z).ok())
        else {
            return out;
        };
        let (day_limit, night_limit) = zone.limits();
        let hour_of_day = bjtime::hour_of_day(hour_start);
        let day = (6..22).contains(&hour_of_day);
        let limit = if day { day_limit } else { night_limit };
        for (o, v) in hourly_values(rows, hour_start) {
            if !matches!(o.code.as_str(), "LA" | "LAeq" | "leq") {
                continue;
            }
            let v = v.to_f64();
            push(&mut out, wanted, &o.code, v > limit, || Evidence {
                rule: &rule.id,
                window: input.window(),
                leq: v,
                limit,
                period: if day { "day" } else { "night" },
                zone,
                standard: "GB 3096-2008 (day 06:00-22:00)",
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use domain::{DataType, Point, PointKind};

    use crate::test_support::{row, rule};
    use crate::*;

    #[test]
    fn the_zone_limit_of_the_day_or_the_night_applies() {
        let mut p: Point = serde_json::from_str(r#"{"id":"s","name":"s","mn":"M","password":"p"}"#)
            .expect("point");
        p.kind = PointKind::Noise;
        let ctx = Context {
            noise_zone: Some("1".into()),
            ..Context::default()
        };
        // Zone 1: 55 dB(A) by day, 45 at night (GB 3096-2008). 09:00 and 01:00 Beijing time.
        let day = 1_790_038_800; // 2026-09-22T09:00+08:00
        let night = day - 8 * 3600;
        let verdict = |h: i64, leq: &str| {
            evaluate_with(
                &rule("noise_zone"),
                &p,
                &ctx,
                h,
                &[row("LAeq", h, leq, "N", DataType::Hour)],
            )
        };
        assert!(!verdict(day, "50")[0].active);
        assert!(verdict(night, "50")[0].active);
        assert_eq!(verdict(night, "50")[0].evidence["period"], "night");
        assert!(verdict(day, "56")[0].active);
        // No zone registered: nothing to judge by.
        let none = evaluate_with(
            &rule("noise_zone"),
            &p,
            &Context::default(),
            day,
            &[row("LAeq", day, "90", "N", DataType::Hour)],
        );
        assert!(none.is_empty());
    }
}
