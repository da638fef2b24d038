//! Air Quality Index: HJ 633-2012 and HJ 633-2026 (standards.md §1).
//!
//! IAQI = IAQI_lo + ⌈(IAQI_hi − IAQI_lo)(C − BP_lo)/(BP_hi − BP_lo)⌉, computed on exact values:
//! breakpoints are integers (µg/m³; CO in 0.1 mg/m³), the concentration an exact decimal, the
//! ceiling an integer division. HJ 633-2026 first rounds concentrations half to even to integers
//! (CO to 0.1). Real-time reports use the 1-h values, PM on the 24-h breakpoints (the 2026 text,
//! and what CNEMC published under 2012); daily reports use each version's indicator set.

use serde::Serialize;

use crate::{Dec, InputError};

/// Which HJ 633.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    /// HJ 633-2012 (data before 2026-03-01).
    #[serde(rename = "HJ 633-2012")]
    Hj633_2012,
    /// HJ 633-2026 (data from 2026-03-01).
    #[serde(rename = "HJ 633-2026")]
    Hj633_2026,
}

impl Version {
    /// The version in force on a (Beijing) date.
    pub fn for_date(year: i32, month: u32, day: u32) -> Self {
        if (year, month, day) >= (2026, 3, 1) {
            Self::Hj633_2026
        } else {
            Self::Hj633_2012
        }
    }

    /// `HJ 633-2012` or `HJ 633-2026`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hj633_2012 => "HJ 633-2012",
            Self::Hj633_2026 => "HJ 633-2026",
        }
    }
}

/// A pollutant of the AQI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pollutant {
    /// Sulphur dioxide, µg/m³.
    So2,
    /// Nitrogen dioxide, µg/m³.
    No2,
    /// Carbon monoxide, mg/m³.
    Co,
    /// Ozone, µg/m³.
    O3,
    /// PM10, µg/m³.
    Pm10,
    /// PM2.5, µg/m³.
    Pm25,
}

impl Pollutant {
    /// All, in table order.
    pub const ALL: [Pollutant; 6] = [
        Self::So2,
        Self::No2,
        Self::Co,
        Self::O3,
        Self::Pm10,
        Self::Pm25,
    ];

    /// Name in inputs (`so2`, `no2`, `co`, `o3`, `pm10`, `pm25`).
    pub fn name(self) -> &'static str {
        match self {
            Self::So2 => "so2",
            Self::No2 => "no2",
            Self::Co => "co",
            Self::O3 => "o3",
            Self::Pm10 => "pm10",
            Self::Pm25 => "pm25",
        }
    }

    /// From a name (also `pm2.5`, `pm2_5`).
    pub fn from_name(name: &str) -> Result<Self, InputError> {
        let n = name.to_ascii_lowercase().replace(['.', '_'], "");
        Self::ALL
            .into_iter()
            .find(|p| p.name() == n)
            .ok_or_else(|| InputError::Unknown {
                what: "pollutant",
                name: name.to_owned(),
                known: "so2, no2, co, o3, pm10, pm25".into(),
            })
    }

    /// The unit concentrations are given and judged in (HJ 633-2012).
    pub fn unit(self) -> &'static str {
        match self {
            Self::Co => "mg/m³",
            _ => "µg/m³",
        }
    }

    /// Decimal places of the unit step: CO is judged in 0.1 mg/m³.
    fn unit_scale(self) -> u32 {
        u32::from(self == Self::Co)
    }
}

/// The averaging period of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Averaging {
    /// 1-hour mean.
    #[serde(rename = "1h")]
    Hour1,
    /// 8-hour moving mean (O3).
    #[serde(rename = "8h")]
    Hour8,
    /// 24-hour (daily) mean.
    #[serde(rename = "24h")]
    Day,
}

const IAQI_STEPS: [i64; 8] = [0, 50, 100, 150, 200, 300, 400, 500];

/// Breakpoints in units (µg/m³; CO in 0.1 mg/m³) at each IAQI step; `None` where the table
/// stops (SO2 1-h and O3 8-h above 800).
fn breakpoints(v: Version, p: Pollutant, a: Averaging) -> [Option<i64>; 8] {
    use Averaging::*;
    use Pollutant::*;
    let new = v == Version::Hj633_2026;
    let t: [i64; 8] = match (p, a) {
        (So2, Day) => [0, 50, 150, 475, 800, 1600, 2100, 2620],
        (So2, _) => {
            return [
                Some(0),
                Some(150),
                Some(500),
                Some(650),
                Some(800),
                None,
                None,
                None,
            ];
        }
        (No2, Day) => [0, 40, 80, 180, 280, 565, 750, 940],
        (No2, _) => [0, 100, 200, 700, 1200, 2340, 3090, 3840],
        (Co, Day) => [0, 20, 40, 140, 240, 360, 480, 600],
        (Co, _) => [0, 50, 100, 350, 600, 900, 1200, 1500],
        (O3, Hour8) => {
            return [
                Some(0),
                Some(100),
                Some(160),
                Some(215),
                Some(265),
                Some(800),
                None,
                None,
            ];
        }
        (O3, _) => [0, 160, 200, 300, 400, 800, 1000, 1200],
        // PM: 1-h values are judged on the 24-h breakpoints.
        (Pm10, _) => [0, 50, if new { 120 } else { 150 }, 250, 350, 420, 500, 600],
        (Pm25, _) => [0, 35, if new { 60 } else { 75 }, 115, 150, 250, 350, 500],
    };
    t.map(Some)
}

/// An individual index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Iaqi {
    /// Pollutant.
    pub pollutant: Pollutant,
    /// Averaging period.
    pub averaging: Averaging,
    /// The concentration judged (after the version's rounding).
    pub concentration: Dec,
    /// The IAQI, when the standard defines one.
    pub iaqi: Option<u32>,
    /// Why it is absent or special (`above the table: capped at 500`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn ceil_div(n: i128, d: i128) -> i128 {
    let q = n.div_euclid(d);
    if n.rem_euclid(d) == 0 { q } else { q + 1 }
}

/// The IAQI of one concentration.
pub fn iaqi(v: Version, p: Pollutant, a: Averaging, c: Dec) -> Result<Iaqi, InputError> {
    if c.is_negative() {
        return Err(InputError::Impossible(format!(
            "{} concentration {c} is negative",
            p.name()
        )));
    }
    let us = p.unit_scale();
    let c = match v {
        Version::Hj633_2026 => c.round_half_even(us),
        Version::Hj633_2012 => c,
    };
    let bp = breakpoints(v, p, a);
    // c in units, as the fraction num/den.
    let s = 18u32;
    let num = c.at_scale(s);
    let den = 10i128.pow(s - us);
    let mut out = Iaqi {
        pollutant: p,
        averaging: a,
        concentration: c,
        iaqi: None,
        note: None,
    };
    for i in 0..7 {
        let (Some(lo), Some(hi)) = (bp[i], bp[i + 1]) else {
            break;
        };
        let (lo, hi) = (i128::from(lo), i128::from(hi));
        if num <= hi * den {
            let (ilo, ihi) = (i128::from(IAQI_STEPS[i]), i128::from(IAQI_STEPS[i + 1]));
            let value = ilo + ceil_div((ihi - ilo) * (num - lo * den), (hi - lo) * den);
            out.iaqi = Some(value as u32);
            return Ok(out);
        }
    }
    // Above the table.
    match (p, a, v) {
        (Pollutant::So2, Averaging::Hour1, Version::Hj633_2026) => {
            out.iaqi = Some(200);
            out.note = Some("SO2 1-h above 800: IAQI fixed at 200 (HJ 633-2026)".into());
        }
        (Pollutant::So2, Averaging::Hour1, Version::Hj633_2012) => {
            out.note = Some(
                "SO2 1-h above 800: not computed; the 24-h IAQI is reported (HJ 633-2012)".into(),
            );
        }
        (Pollutant::O3, Averaging::Hour8, Version::Hj633_2026) => {
            out.iaqi = Some(300);
            out.note = Some("O3 8-h above 800: IAQI fixed at 300 (HJ 633-2026)".into());
        }
        (Pollutant::O3, Averaging::Hour8, Version::Hj633_2012) => {
            out.note = Some(
                "O3 8-h above 800: not computed; the 1-h IAQI is reported (HJ 633-2012)".into(),
            );
        }
        _ => {
            out.iaqi = Some(500);
            out.note =
                Some("above the last breakpoint: capped at 500 and flagged [proposal]".into());
        }
    }
    Ok(out)
}

/// AQI level, category and colour (HJ 633 Table 2 / Table 1 and Annex A).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Level {
    /// 1 to 6.
    pub level: u8,
    /// 一级 … 六级.
    pub level_zh: &'static str,
    /// 优, 良, 轻度污染, 中度污染, 重度污染, 严重污染.
    pub category_zh: &'static str,
    /// Excellent, Good, Lightly polluted, Moderately polluted, Heavily polluted, Severely polluted.
    pub category_en: &'static str,
    /// 绿色 … 褐红色.
    pub colour_zh: &'static str,
    /// `#00E400` …
    pub colour: &'static str,
}

/// The level of an AQI.
pub fn level(aqi: u32) -> Level {
    let (level, level_zh, category_zh, category_en, colour_zh, colour) = match aqi {
        0..=50 => (1, "一级", "优", "Excellent", "绿色", "#00E400"),
        51..=100 => (2, "二级", "良", "Good", "黄色", "#FFFF00"),
        101..=150 => (3, "三级", "轻度污染", "Lightly polluted", "橙色", "#FF7E00"),
        151..=200 => (
            4,
            "四级",
            "中度污染",
            "Moderately polluted",
            "红色",
            "#FF0000",
        ),
        201..=300 => (5, "五级", "重度污染", "Heavily polluted", "紫色", "#99004C"),
        _ => (
            6,
            "六级",
            "严重污染",
            "Severely polluted",
            "褐红色",
            "#7E0023",
        ),
    };
    Level {
        level,
        level_zh,
        category_zh,
        category_en,
        colour_zh,
        colour,
    }
}

/// Inputs of a report: concentrations by indicator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// 1-h (real-time) or 24-h (daily) means by pollutant; for O3 in a daily report this is the
    /// daily maximum 1-h value (HJ 633-2012 only).
    pub values: Vec<(Pollutant, Dec)>,
    /// O3 8-h: in a daily report the daily maximum 8-h moving mean.
    pub o3_8h: Option<Dec>,
    /// SO2 24-h mean, for HJ 633-2012's rule when SO2 1-h exceeds 800.
    pub so2_24h: Option<Dec>,
}

/// Real-time (hourly) or daily.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 实时报.
    Hourly,
    /// 日报.
    Daily,
}

/// An AQI report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The standard applied.
    pub standard: Version,
    /// Hourly or daily.
    pub kind: Kind,
    /// Each indicator's IAQI.
    pub iaqi: Vec<Iaqi>,
    /// The AQI as published (`None` = `NA`: HJ 633-2026 §5.3 when an indicator is missing and
    /// the AQI of the others is at most 100; and under either version when a missing input
    /// would decide it, see [`Report::undetermined`]).
    pub aqi: Option<u32>,
    /// Why no AQI can be given although other indicators have an IAQI: an input missing whose
    /// IAQI is known to be high (SO2 1-h above 800 without the 24-h mean HJ 633-2012 reports
    /// in its place), so the others' maximum would understate it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undetermined: Option<String>,
    /// The AQI of the indicators available.
    pub aqi_of_available: Option<u32>,
    /// Primary pollutants (AQI > 50; every indicator at the maximum).
    pub primary: Vec<String>,
    /// Level, category, colour.
    pub level: Option<Level>,
    /// Indicators of the version's set that were missing.
    pub missing: Vec<String>,
}

fn label(p: Pollutant, a: Averaging) -> String {
    let name = match p {
        Pollutant::So2 => "SO2",
        Pollutant::No2 => "NO2",
        Pollutant::Co => "CO",
        Pollutant::O3 => "O3",
        Pollutant::Pm10 => "PM10",
        Pollutant::Pm25 => "PM2.5",
    };
    match (p, a) {
        (Pollutant::O3, Averaging::Hour8) => "O3_8h".into(),
        (Pollutant::O3, Averaging::Hour1) => "O3_1h".into(),
        _ => name.into(),
    }
}

/// Computes a report. The version's indicator set: hourly = 1-h SO2, NO2, CO, O3, PM10, PM2.5
/// (PM on the 24-h breakpoints); daily = 24-h SO2, NO2, CO, PM10, PM2.5 and O3 daily max 8-h,
/// plus O3 daily max 1-h under HJ 633-2012.
pub fn report(v: Version, kind: Kind, inputs: &Inputs) -> Result<Report, InputError> {
    let get = |p: Pollutant| inputs.values.iter().find(|(q, _)| *q == p).map(|(_, c)| *c);
    let mut set: Vec<(Pollutant, Averaging, Option<Dec>)> = Vec::new();
    for p in Pollutant::ALL {
        let a = match (kind, p) {
            (Kind::Hourly, Pollutant::Pm10 | Pollutant::Pm25) => Averaging::Day,
            (Kind::Hourly, _) => Averaging::Hour1,
            (Kind::Daily, Pollutant::O3) => Averaging::Hour1,
            (Kind::Daily, _) => Averaging::Day,
        };
        if kind == Kind::Daily && p == Pollutant::O3 {
            set.push((Pollutant::O3, Averaging::Hour8, inputs.o3_8h));
            if v == Version::Hj633_2012 {
                set.push((Pollutant::O3, Averaging::Hour1, get(p)));
            }
            continue;
        }
        set.push((p, a, get(p)));
    }
    let mut out = Report {
        standard: v,
        kind,
        iaqi: Vec::new(),
        aqi: None,
        aqi_of_available: None,
        primary: Vec::new(),
        level: None,
        missing: Vec::new(),
        undetermined: None,
    };
    for (p, a, c) in set {
        let Some(c) = c else {
            out.missing.push(label(p, a));
            continue;
        };
        let mut i = iaqi(v, p, a, c)?;
        // HJ 633-2012: SO2 1-h above 800 is reported with its 24-h IAQI.
        if i.iaqi.is_none() && p == Pollutant::So2 {
            if let Some(day) = inputs.so2_24h {
                i.iaqi = iaqi(v, p, Averaging::Day, day)?.iaqi;
            } else {
                out.missing
                    .push("SO2 24-h (needed: SO2 1-h above 800)".into());
                // SO2 1-h above 800 is beyond the 1-h table's last breakpoint (IAQI 200 or
                // more), so the SO2 IAQI may well be the largest: the AQI is not known.
                out.undetermined = Some(
                    "SO2 1-h is above 800 and the SO2 24-h mean that HJ 633-2012 reports in its \
                     place is missing: the AQI cannot be determined"
                        .into(),
                );
            }
        }
        out.iaqi.push(i);
    }
    // HJ 633-2012 daily: O3 8-h above 800 is reported with the 1-h IAQI (already in the set).
    let max = out.iaqi.iter().filter_map(|i| i.iaqi).max();
    out.aqi_of_available = max;
    out.aqi = match (max, out.missing.is_empty(), v) {
        _ if out.undetermined.is_some() => None,
        (Some(m), true, _) => Some(m),
        (Some(m), false, Version::Hj633_2026) => (m > 100).then_some(m),
        (Some(m), false, Version::Hj633_2012) => Some(m),
        (None, _, _) => None,
    };
    if let Some(aqi) = out.aqi {
        out.level = Some(level(aqi));
        if aqi > 50 {
            out.primary = out
                .iaqi
                .iter()
                .filter(|i| i.iaqi == Some(aqi))
                .map(|i| label(i.pollutant, i.averaging))
                .collect();
        }
    }
    Ok(out)
}

/// Not enough valid values for a mean.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{what}: {valid} valid values, at least {needed} needed")]
pub struct Insufficient {
    /// Which mean.
    pub what: &'static str,
    /// Valid values present.
    pub valid: usize,
    /// Valid values required.
    pub needed: usize,
}

/// Decimals kept in computed means before the AQI's own rounding [proposal]: 0.1 µg/m³, CO 0.01.
fn mean_digits(p: Pollutant) -> u32 {
    if p == Pollutant::Co { 2 } else { 1 }
}

/// Daily mean from 24 hourly values (GB 3095 Table 4: at least 20 valid hours). Missing or
/// invalid hours are `None`, never zero.
pub fn daily_mean(p: Pollutant, hourly: &[Option<Dec>]) -> Result<Dec, Insufficient> {
    let valid: Vec<Dec> = hourly.iter().flatten().copied().collect();
    if valid.len() < 20 {
        return Err(Insufficient {
            what: "daily mean",
            valid: valid.len(),
            needed: 20,
        });
    }
    Dec::mean(&valid, mean_digits(p)).ok_or(Insufficient {
        what: "daily mean",
        valid: 0,
        needed: 20,
    })
}

/// 8-hour moving mean of O3 over the 8 hours given (at least 6 valid).
pub fn o3_8h_mean(hours: &[Option<Dec>]) -> Result<Dec, Insufficient> {
    let valid: Vec<Dec> = hours.iter().rev().take(8).flatten().copied().collect();
    if valid.len() < 6 {
        return Err(Insufficient {
            what: "O3 8-h mean",
            valid: valid.len(),
            needed: 6,
        });
    }
    Dec::mean(&valid, 1).ok_or(Insufficient {
        what: "O3 8-h mean",
        valid: 0,
        needed: 6,
    })
}

/// Daily maximum 8-hour O3: `hours` are the 31 hourly values from 17:00 the day before to 23:00
/// (hour-ending 18:00 … 24:00); the moving means ending 08:00 … 24:00 are formed (each needs 6
/// valid hours) and at least `min_windows` of the 17 must be valid (HJ 663-2013: 14
/// [recalled]).
pub fn o3_daily_max_8h(hours: &[Option<Dec>; 31], min_windows: usize) -> Result<Dec, Insufficient> {
    // Window k (k = 0..17) covers hours[k+7 .. k+15): ends at hour-ending 08:00 + k of the day.
    let means: Vec<Dec> = (0..17)
        .filter_map(|k| o3_8h_mean(&hours[k + 7..k + 15]).ok())
        .collect();
    if means.len() < min_windows {
        return Err(Insufficient {
            what: "O3 daily max 8-h",
            valid: means.len(),
            needed: min_windows,
        });
    }
    means.into_iter().max().ok_or(Insufficient {
        what: "O3 daily max 8-h",
        valid: 0,
        needed: min_windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Averaging::*;
    use Pollutant::*;
    use Version::*;

    fn d(t: &str) -> Dec {
        Dec::parse(t).expect("number")
    }

    fn i(v: Version, p: Pollutant, a: Averaging, c: &str) -> Option<u32> {
        iaqi(v, p, a, d(c)).expect("valid").iaqi
    }

    #[test]
    fn every_breakpoint_and_its_neighbours() {
        for v in [Hj633_2012, Hj633_2026] {
            for p in Pollutant::ALL {
                for a in [Hour1, Hour8, Day] {
                    if a == Hour8 && p != O3 {
                        continue;
                    }
                    let bp = breakpoints(v, p, a);
                    let step = if p == Co { "0.1" } else { "1" };
                    for k in 1..8 {
                        let Some(b) = bp[k] else { continue };
                        let text = if p == Co {
                            format!("{}.{}", b / 10, b % 10)
                        } else {
                            b.to_string()
                        };
                        // On the breakpoint: exactly the step's IAQI.
                        assert_eq!(
                            i(v, p, a, &text),
                            Some(IAQI_STEPS[k] as u32),
                            "{v:?} {p:?} {a:?} {text}"
                        );
                        // One unit below: below the step (rounded up, at most the step).
                        let below = d(&text).to_f64() - d(step).to_f64();
                        let below = if p == Co {
                            format!("{below:.1}")
                        } else {
                            format!("{below:.0}")
                        };
                        let got = i(v, p, a, &below).expect("defined below a breakpoint");
                        assert!(
                            got <= IAQI_STEPS[k] as u32 && got + 1 > IAQI_STEPS[k - 1] as u32,
                            "{p:?} {a:?} {below} -> {got}"
                        );
                        // One unit above: above the step, unless the table stops there.
                        let above = d(&text).to_f64() + d(step).to_f64();
                        let above = if p == Co {
                            format!("{above:.1}")
                        } else {
                            format!("{above:.0}")
                        };
                        if k < 7 && bp[k + 1].is_some() {
                            let got = i(v, p, a, &above).expect("defined above a breakpoint");
                            assert!(got > IAQI_STEPS[k] as u32, "{p:?} {a:?} {above} -> {got}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_documented_cases() {
        // Float ceil gives 56 here; the exact answer is 55.
        assert_eq!(i(Hj633_2026, Co, Day, "2.2"), Some(55));
        assert_eq!(i(Hj633_2012, Co, Day, "2.2"), Some(55));
        // The same PM2.5 daily mean under both versions.
        assert_eq!(i(Hj633_2012, Pm25, Day, "75"), Some(100));
        assert_eq!(i(Hj633_2026, Pm25, Day, "75"), Some(114));
        // aqi-hub's wrong SO2 24-h table gives 34 here.
        assert_eq!(i(Hj633_2026, So2, Day, "100"), Some(75));
        // GB/T 8170 input rounding under 2026 only: 35.5 -> 36, 60.5 -> 60.
        assert_eq!(
            i(Hj633_2026, Pm25, Day, "35.5"),
            i(Hj633_2026, Pm25, Day, "36")
        );
        assert_eq!(i(Hj633_2026, Pm25, Day, "60.5"), Some(100));
        assert_eq!(i(Hj633_2012, Pm25, Day, "35.5"), Some(51));
        assert!(iaqi(Hj633_2026, Pm25, Day, d("-1")).is_err());
    }

    #[test]
    fn over_800_rules() {
        assert_eq!(i(Hj633_2026, So2, Hour1, "801"), Some(200));
        assert_eq!(i(Hj633_2012, So2, Hour1, "801"), None);
        assert_eq!(i(Hj633_2026, O3, Hour8, "801"), Some(300));
        assert_eq!(i(Hj633_2012, O3, Hour8, "801"), None);
        assert_eq!(i(Hj633_2026, Pm25, Day, "900"), Some(500));
        let inputs = Inputs {
            values: vec![
                (So2, d("900")),
                (No2, d("20")),
                (Co, d("0.5")),
                (O3, d("50")),
                (Pm10, d("40")),
                (Pm25, d("20")),
            ],
            so2_24h: Some(d("300")),
            ..Inputs::default()
        };
        let r = report(Hj633_2012, Kind::Hourly, &inputs).expect("report");
        assert_eq!(
            r.aqi,
            i(Hj633_2012, So2, Day, "300"),
            "2012: the 24-h IAQI stands in"
        );
        let r = report(Hj633_2026, Kind::Hourly, &inputs).expect("report");
        assert_eq!(r.aqi, Some(200));
        assert_eq!(r.primary, ["SO2"]);
        // Without the 24-h mean, 2012 cannot give an AQI: the others' 30 would understate it.
        let without = Inputs {
            so2_24h: None,
            ..inputs
        };
        let r = report(Hj633_2012, Kind::Hourly, &without).expect("report");
        assert_eq!(r.aqi, None);
        assert_eq!(r.level, None);
        assert!(r.undetermined.is_some());
        assert!(r.aqi_of_available.is_some());
    }

    #[test]
    fn reports_levels_primary_and_missing() {
        let inputs = Inputs {
            values: vec![
                (So2, d("5")),
                (No2, d("20")),
                (Co, d("0.6")),
                (O3, d("120")),
                (Pm10, d("50")),
                (Pm25, d("35")),
            ],
            ..Inputs::default()
        };
        let r = report(Hj633_2026, Kind::Hourly, &inputs).expect("report");
        // PM10 50 and PM2.5 35 are both exactly IAQI 50; O3 1-h 120 -> 38.
        assert_eq!(r.aqi, Some(50));
        assert!(r.primary.is_empty(), "no primary pollutant at AQI 50");
        assert_eq!(r.level.as_ref().map(|l| l.category_zh), Some("优"));
        // Missing PM2.5 under 2026: AQI <= 100 of the others is NA; above 100 it is published.
        let mut partial = inputs.clone();
        partial.values.retain(|(p, _)| *p != Pm25);
        let r = report(Hj633_2026, Kind::Hourly, &partial).expect("report");
        assert_eq!((r.aqi, r.aqi_of_available), (None, Some(50)));
        partial.values.push((Pm10, d("300")));
        partial.values.retain(|(p, c)| *p != Pm10 || *c == d("300"));
        let r = report(Hj633_2026, Kind::Hourly, &partial).expect("report");
        assert_eq!(r.aqi, Some(175));
        assert_eq!(r.primary, ["PM10"]);
        assert_eq!(r.level.map(|l| l.colour), Some("#FF0000"));
        // Daily: 2012 counts O3 1-h max, 2026 does not.
        let daily = Inputs {
            values: vec![
                (So2, d("10")),
                (No2, d("30")),
                (Co, d("0.8")),
                (O3, d("250")),
                (Pm10, d("60")),
                (Pm25, d("30")),
            ],
            o3_8h: Some(d("150")),
            ..Inputs::default()
        };
        assert_eq!(
            report(Hj633_2012, Kind::Daily, &daily).expect("r").aqi,
            Some(125)
        );
        assert_eq!(
            report(Hj633_2026, Kind::Daily, &daily).expect("r").aqi,
            Some(92)
        );
    }

    #[test]
    fn means_need_their_valid_hours() {
        let mut hours: Vec<Option<Dec>> = (0..24).map(|h| Some(Dec::int(h))).collect();
        assert_eq!(
            daily_mean(Pm25, &hours).map(|m| m.to_string()),
            Ok("11.5".into())
        );
        for h in hours.iter_mut().take(5) {
            *h = None;
        }
        assert_eq!(
            daily_mean(Pm25, &hours),
            Err(Insufficient {
                what: "daily mean",
                valid: 19,
                needed: 20
            })
        );
        let mut o3 = [Some(Dec::int(100)); 31];
        o3[20] = Some(Dec::int(300));
        let max = o3_daily_max_8h(&o3, 14).expect("valid");
        assert_eq!(max.to_string(), "125.0");
        for h in o3.iter_mut().skip(10) {
            *h = None;
        }
        assert!(o3_daily_max_8h(&o3, 14).is_err());
    }

    #[test]
    fn version_by_date() {
        assert_eq!(Version::for_date(2026, 2, 28), Hj633_2012);
        assert_eq!(Version::for_date(2026, 3, 1), Hj633_2026);
    }

    proptest::proptest! {
        #[test]
        fn raising_a_concentration_never_lowers_its_iaqi(a in 0u32..30_000, b in 0u32..30_000, p in 0usize..6, new: bool) {
            let v = if new { Hj633_2026 } else { Hj633_2012 };
            let p = Pollutant::ALL[p];
            let (lo, hi) = (a.min(b), a.max(b));
            let c = |x: u32| Dec::new(i128::from(x), 1);
            let avg = if p == O3 { Hour1 } else { Day };
            let (x, y) = (iaqi(v, p, avg, c(lo)).expect("ok").iaqi, iaqi(v, p, avg, c(hi)).expect("ok").iaqi);
            proptest::prop_assert!(x <= y, "{p:?} {lo} -> {x:?}, {hi} -> {y:?}");
        }
    }
}
