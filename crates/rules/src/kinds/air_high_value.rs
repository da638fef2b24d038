//! Air high value: an air station's hourly (or, for PM, daily-averaging) IAQI above the threshold (HJ 633).

use super::prelude::*;

/// Parameters of an `air_high_value` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AirHighValue {
    /// The IAQI above which an hour is high (150: moderately polluted or worse).
    #[serde(default = "iaqi_150")]
    pub iaqi_above: u32,
}

fn iaqi_150() -> u32 {
    150
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    concentration: String,
    iaqi: u32,
    threshold: u32,
    standard: &'static str,
}

impl Evaluate for AirHighValue {
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            point,
            hour_start,
            rows,
            wanted,
            ..
        } = *input;
        let mut out = Vec::new();
        let day = bjtime::Date::of(hour_start);
        let version = envstd::aqi::Version::for_date(day.year(), day.month(), day.day());
        for (o, c) in hourly_values(rows, hour_start) {
            let Some(p) = envstd::codes::air_pollutant(&o.code) else {
                continue;
            };
            let threshold = rule
                .override_for(&point.id, &o.code)
                .and_then(|o| o.iaqi_above)
                .unwrap_or(self.iaqi_above);
            let avg = if matches!(
                p,
                envstd::aqi::Pollutant::Pm10 | envstd::aqi::Pollutant::Pm25
            ) {
                envstd::aqi::Averaging::Day
            } else {
                envstd::aqi::Averaging::Hour1
            };
            let Ok(i) = envstd::aqi::iaqi(version, p, avg, c) else {
                continue;
            };
            let Some(value) = i.iaqi else { continue };
            push(&mut out, wanted, &o.code, value > threshold, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code: &o.code,
                concentration: c.to_string(),
                iaqi: value,
                threshold,
                standard: version.name(),
            });
        }
        out
    }
}
