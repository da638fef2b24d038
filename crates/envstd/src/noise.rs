//! Environmental noise: GB 3096-2008 (standards.md §3).
//!
//! Ld and Ln are energy means of the hourly Leq over the day and the night hours (day 06:00–22:00
//! by default; local governments may move them, so the hours are parameters); Ldn adds 10 dB to
//! the night. Levels are compared unrounded with the zone limits and reported to 0.1 dB.

use serde::Serialize;

use crate::InputError;

/// A GB 3096 zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Zone {
    /// 0类.
    #[serde(rename = "0")]
    Z0,
    /// 1类.
    #[serde(rename = "1")]
    Z1,
    /// 2类.
    #[serde(rename = "2")]
    Z2,
    /// 3类.
    #[serde(rename = "3")]
    Z3,
    /// 4a类.
    #[serde(rename = "4a")]
    Z4a,
    /// 4b类.
    #[serde(rename = "4b")]
    Z4b,
}

impl Zone {
    /// From `0`, `1`, `2`, `3`, `4a`, `4b`.
    pub fn from_name(name: &str) -> Result<Self, InputError> {
        Ok(
            match name
                .trim()
                .trim_end_matches('类')
                .to_ascii_lowercase()
                .as_str()
            {
                "0" => Self::Z0,
                "1" => Self::Z1,
                "2" => Self::Z2,
                "3" => Self::Z3,
                "4a" => Self::Z4a,
                "4b" => Self::Z4b,
                other => {
                    return Err(InputError::Unknown {
                        what: "noise zone",
                        name: other.into(),
                        known: "0, 1, 2, 3, 4a, 4b".into(),
                    });
                }
            },
        )
    }

    /// (day, night) limits, dB(A).
    pub fn limits(self) -> (f64, f64) {
        match self {
            Self::Z0 => (50.0, 40.0),
            Self::Z1 => (55.0, 45.0),
            Self::Z2 => (60.0, 50.0),
            Self::Z3 => (65.0, 55.0),
            Self::Z4a => (70.0, 55.0),
            Self::Z4b => (70.0, 60.0),
        }
    }
}

/// Day hours: hour-starting `start` (inclusive) to `end` (exclusive), Beijing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayHours {
    /// First day hour (default 6).
    pub start: u32,
    /// First night hour (default 22).
    pub end: u32,
}

impl Default for DayHours {
    fn default() -> Self {
        Self { start: 6, end: 22 }
    }
}

/// A day's noise verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `GB 3096-2008`.
    pub standard: &'static str,
    /// The zone.
    pub zone: Zone,
    /// Day level, dB(A), 0.1 dB.
    pub ld: Option<f64>,
    /// Night level.
    pub ln: Option<f64>,
    /// Day-night level (night +10 dB).
    pub ldn: Option<f64>,
    /// Day limit.
    pub day_limit: f64,
    /// Night limit.
    pub night_limit: f64,
    /// Day within the limit.
    pub day_ok: Option<bool>,
    /// Night within the limit.
    pub night_ok: Option<bool>,
    /// Hours without a value.
    pub missing_hours: Vec<u32>,
}

fn energy_mean(levels: &[f64]) -> Option<f64> {
    if levels.is_empty() {
        return None;
    }
    let sum: f64 = levels.iter().map(|l| 10f64.powf(0.1 * l)).sum();
    Some(10.0 * (sum / levels.len() as f64).log10())
}

fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Judges 24 hourly Leq values (index = hour of day; `None` = missing).
pub fn assess(
    zone: Zone,
    hourly: &[Option<f64>; 24],
    hours: DayHours,
) -> Result<Verdict, InputError> {
    if hours.start >= hours.end || hours.end > 24 {
        return Err(InputError::Impossible(format!(
            "day hours {}–{} are not a span within a day",
            hours.start, hours.end
        )));
    }
    if let Some(bad) = hourly
        .iter()
        .flatten()
        .find(|l| !(0.0..=200.0).contains(*l))
    {
        return Err(InputError::Impossible(format!(
            "{bad} dB(A) is not a sound level"
        )));
    }
    let is_day = |h: u32| (hours.start..hours.end).contains(&h);
    let day: Vec<f64> = (0..24u32)
        .filter(|h| is_day(*h))
        .filter_map(|h| hourly[h as usize])
        .collect();
    let night: Vec<f64> = (0..24u32)
        .filter(|h| !is_day(*h))
        .filter_map(|h| hourly[h as usize])
        .collect();
    let (ld, ln) = (energy_mean(&day), energy_mean(&night));
    let n_day = f64::from(hours.end - hours.start);
    let ldn = match (ld, ln) {
        (Some(d), Some(n)) => Some(
            10.0 * ((n_day * 10f64.powf(0.1 * d) + (24.0 - n_day) * 10f64.powf(0.1 * (n + 10.0)))
                / 24.0)
                .log10(),
        ),
        _ => None,
    };
    let (dl, nl) = zone.limits();
    Ok(Verdict {
        standard: "GB 3096-2008",
        zone,
        ld: ld.map(tenth),
        ln: ln.map(tenth),
        ldn: ldn.map(tenth),
        day_limit: dl,
        night_limit: nl,
        day_ok: ld.map(|l| l <= dl),
        night_ok: ln.map(|l| l <= nl),
        missing_hours: (0..24u32)
            .filter(|h| hourly[*h as usize].is_none())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_means_and_zone_limits() {
        let mut h = [Some(55.0); 24];
        for (i, v) in h.iter_mut().enumerate() {
            if !(6..22).contains(&i) {
                *v = Some(45.0);
            }
        }
        let v = assess(Zone::Z1, &h, DayHours::default()).expect("ok");
        assert_eq!((v.ld, v.ln), (Some(55.0), Some(45.0)));
        assert_eq!((v.day_ok, v.night_ok), (Some(true), Some(true)));
        // Ldn of 55 day / 45 night (+10) = 55.
        assert_eq!(v.ldn, Some(55.0));
        // Energy, not arithmetic: 50 and 60 average to 57.4, not 55.
        let mut h2 = [None; 24];
        h2[10] = Some(50.0);
        h2[11] = Some(60.0);
        let v = assess(Zone::Z2, &h2, DayHours::default()).expect("ok");
        assert_eq!(v.ld, Some(57.4));
        assert_eq!(v.ln, None);
        assert_eq!(v.missing_hours.len(), 22);
        for (z, d, n) in [("0", 50.0, 40.0), ("4a", 70.0, 55.0), ("4b", 70.0, 60.0)] {
            assert_eq!(Zone::from_name(z).expect("zone").limits(), (d, n));
        }
        assert!(Zone::from_name("5").is_err());
        assert!(assess(Zone::Z1, &[Some(-3.0); 24], DayHours::default()).is_err());
    }
}
