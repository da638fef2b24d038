//! What a simulated device measures: value models per point kind, and the packets it sends.
//!
//! Every value is a pure function of (seed, MN, code, time): the same instant always gives the
//! same value, so live data, backfilled history and answers to history requests agree, and a
//! re-sent packet is byte-for-byte the data of the first send. Models:
//!
//! - plants (gas and water outlets): a production cycle (on most of the day, off for a few
//!   hours at night) with noise around a level below the limit; O2 rises to ambient (20.9%) when
//!   the process is off, flow drops;
//! - air stations: a diurnal cycle (PM2.5 and NO2 high at night and in the morning rush, O3
//!   high in the afternoon) with slow day-to-day weather swings;
//! - water sections: slowly varying river quality around the section's class;
//! - noise points: traffic noise, louder by day; radiation: background dose rate.
//!
//! [`crate::scenario`] transforms these values during incidents.

use hj212::packet::Version;
use hj212::{DataArea, FieldKind, Flag, LocalTime, Message};

use crate::scenario::{Incident, IncidentKind};

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// Flue-gas outlet (ST 31).
    GasOutlet,
    /// Wastewater outlet (ST 32).
    WaterOutlet,
    /// Ambient air station (ST 22).
    AirStation,
    /// Surface-water station (ST 21).
    WaterSection,
    /// Noise station (ST 23).
    Noise,
    /// Radiation station.
    Radiation,
}

impl DeviceKind {
    /// From the domain's point kind.
    pub fn from_point(kind: domain::PointKind) -> Self {
        match kind {
            domain::PointKind::GasOutlet => Self::GasOutlet,
            domain::PointKind::WaterOutlet | domain::PointKind::Other => Self::WaterOutlet,
            domain::PointKind::AirStation => Self::AirStation,
            domain::PointKind::WaterSection => Self::WaterSection,
            domain::PointKind::Noise => Self::Noise,
            domain::PointKind::Radiation => Self::Radiation,
        }
    }

    /// The factors: (code, level, spread, decimals, limit if any).
    pub fn factors(self) -> &'static [(&'static str, f64, f64, usize, Option<f64>)] {
        match self {
            Self::GasOutlet => &[
                ("a21026", 22.0, 6.0, 2, Some(35.0)), // SO2 mg/m3 (ultra-low limit 35)
                ("a21002", 32.0, 8.0, 2, Some(50.0)), // NOx
                ("a34013", 3.0, 1.0, 2, Some(10.0)),  // particulate matter
                ("a19001", 9.0, 0.8, 2, None),        // O2 %
                ("a01012", 55.0, 3.0, 1, None),       // temperature
                ("a00000", 52_000.0, 4_000.0, 1, None), // flow m3/h
            ],
            Self::WaterOutlet => &[
                ("w01018", 28.0, 6.0, 2, Some(50.0)), // COD mg/L
                ("w21003", 1.6, 0.6, 3, Some(5.0)),   // ammonia nitrogen
                ("w21011", 0.2, 0.06, 3, Some(0.5)),  // total phosphorus
                ("w01001", 7.4, 0.3, 2, None),        // pH
                ("w00000", 120.0, 30.0, 2, None),     // flow L/s
            ],
            Self::AirStation => &[
                ("a34004", 38.0, 18.0, 0, None), // PM2.5 ug/m3
                ("a34002", 70.0, 30.0, 0, None), // PM10
                ("a21004", 30.0, 14.0, 0, None), // NO2
                ("a05024", 80.0, 40.0, 0, None), // O3
                ("a21026", 8.0, 3.0, 0, None),   // SO2
                ("a21005", 0.7, 0.3, 2, None),   // CO mg/m3
            ],
            Self::WaterSection => &[
                ("w01018", 16.0, 3.0, 1, Some(20.0)), // COD (class III: 20)
                ("w21003", 0.6, 0.2, 3, Some(1.0)),   // ammonia nitrogen
                ("w21011", 0.12, 0.04, 3, Some(0.2)), // total phosphorus
                ("w01009", 7.0, 1.0, 2, None),        // dissolved oxygen
                ("w01001", 7.8, 0.2, 2, None),        // pH
            ],
            Self::Noise => &[("LA", 58.0, 6.0, 1, None)],
            Self::Radiation => &[("g02101", 85.0, 6.0, 1, None)], // gamma dose rate nGy/h
        }
    }

    /// The ST it reports under.
    pub fn st(self) -> &'static str {
        match self {
            Self::GasOutlet => "31",
            Self::WaterOutlet => "32",
            Self::AirStation => "22",
            Self::WaterSection => "21",
            Self::Noise => "23",
            Self::Radiation => "91",
        }
    }
}

/// One simulated device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Point id (for incidents and labels).
    pub point_id: String,
    /// MN.
    pub mn: String,
    /// PW.
    pub password: String,
    /// What it is.
    pub kind: DeviceKind,
    /// Real-time interval, seconds.
    pub rtd_interval_s: i64,
    /// Minute-data interval, minutes.
    pub min_interval_min: i64,
    /// Seed of its values.
    pub seed: u64,
}

fn hash(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn unit(parts: &[u64]) -> f64 {
    let h = parts.iter().fold(0u64, |acc, p| hash(acc ^ p));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn text_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Smooth noise in -1..1 varying over `period_s`.
fn smooth(seed: u64, t: i64, period_s: i64) -> f64 {
    let k = t.div_euclid(period_s);
    let f = t.rem_euclid(period_s) as f64 / period_s as f64;
    let a = unit(&[seed, k as u64]) * 2.0 - 1.0;
    let b = unit(&[seed, (k + 1) as u64]) * 2.0 - 1.0;
    let w = (1.0 - (f * std::f64::consts::PI).cos()) / 2.0;
    a * (1.0 - w) + b * w
}

/// Beijing hour of day, fractional.
fn hour_of_day(t: i64) -> f64 {
    (t + bjtime::OFFSET_S).rem_euclid(bjtime::DAY_S) as f64 / 3600.0
}

impl Device {
    /// Whether a plant is producing at `t` (off 01:00–05:00 on some nights).
    pub fn producing(&self, t: i64) -> bool {
        let h = hour_of_day(t);
        let day = (bjtime::day_start(t) / bjtime::DAY_S) as u64;
        let rests = unit(&[self.seed, day, 7]) < 0.4;
        !(rests && (1.0..5.0).contains(&h))
    }

    /// The model value of `code` at `t` (Unix seconds), before incidents.
    pub fn base_value(&self, code: &str, t: i64) -> f64 {
        self.model_value(code, t, self.producing(t))
    }

    /// The model value of `code` at `t` with the plant producing or not (its schedule aside).
    fn model_value(&self, code: &str, t: i64, producing: bool) -> f64 {
        let Some(&(_, level, spread, _, _)) = self.kind.factors().iter().find(|f| f.0 == code)
        else {
            return 0.0;
        };
        let s = self.seed ^ text_hash(code);
        let jitter = (unit(&[s, t as u64]) - 0.5) * spread * 0.3;
        let slow = smooth(s, t, 3 * 3600) * spread * 0.5;
        let h = hour_of_day(t);
        let v = match self.kind {
            DeviceKind::GasOutlet | DeviceKind::WaterOutlet => {
                if producing {
                    level + slow + jitter
                } else {
                    match code {
                        "a19001" => 20.9 - unit(&[s, t as u64]) * 0.1,
                        "a00000" | "w00000" => level * 0.02,
                        _ => level * 0.1 + jitter.abs() * 0.2,
                    }
                }
            }
            DeviceKind::AirStation => {
                let weather = smooth(s ^ 0xA1, t, 2 * 86_400) * spread;
                let diurnal = if code == "a05024" {
                    ((h - 15.0) / 24.0 * std::f64::consts::TAU).cos()
                } else {
                    0.6 * ((h - 8.0) / 24.0 * std::f64::consts::TAU).cos()
                        + 0.4 * ((h - 22.0) / 12.0 * std::f64::consts::TAU).cos()
                };
                level + weather + diurnal * spread * 0.5 + jitter
            }
            DeviceKind::WaterSection => {
                level + smooth(s, t, 12 * 3600) * spread * 0.6 + jitter * 0.3
            }
            DeviceKind::Noise => {
                let day = (6.0..22.0).contains(&h);
                level + if day { 4.0 } else { -6.0 } + jitter
            }
            DeviceKind::Radiation => level + slow * 0.3 + jitter * 0.5,
        };
        v.max(0.0)
    }
}

/// One sample: a value and its data flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Value.
    pub value: f64,
    /// HJ 212 flag (`N`, `D` fault, `M` maintenance, ...).
    pub flag: char,
}

impl Device {
    /// The value of `code` at `t` with the incidents active then applied; `None` when the device
    /// is silent.
    pub fn sample(&self, code: &str, t: i64, incidents: &[Incident]) -> Option<Sample> {
        // A source's logger flags the minutes its plant is stopped F (HJ 212-2017 Table 8), so
        // they are outside the hourly mean and its O2 conversion.
        // A plant diluting its flue gas (O2 at ambient) reports production whatever its
        // schedule: that is the fraud.
        let reports_production = incidents
            .iter()
            .any(|i| i.kind == IncidentKind::O2Ambient && i.applies(&self.point_id, t));
        let stopped = matches!(self.kind, DeviceKind::GasOutlet | DeviceKind::WaterOutlet)
            && !self.producing(t)
            && !reports_production;
        let mut s = Sample {
            value: self.model_value(code, t, !stopped),
            flag: if stopped { 'F' } else { 'N' },
        };
        let limit = self
            .kind
            .factors()
            .iter()
            .find(|f| f.0 == code)
            .and_then(|f| f.4);
        for i in incidents.iter().filter(|i| i.applies(&self.point_id, t)) {
            let on_code = i.code.as_deref().is_none_or(|c| c == code);
            match i.kind {
                IncidentKind::Silent => return None,
                _ if !on_code => {}
                IncidentKind::Exceedance => {
                    s.value = limit.unwrap_or(s.value) * i.magnitude.max(1.01) + s.value * 0.05
                }
                IncidentKind::Sudden => s.value *= i.magnitude.max(2.0),
                IncidentKind::HighValue => s.value *= i.magnitude.max(2.0),
                IncidentKind::FlatLine => s.value = self.base_value(code, i.start),
                IncidentKind::LowVariance => {
                    let centre = self.base_value(code, i.start);
                    s.value = centre + (s.value - centre) * 0.02;
                }
                IncidentKind::Bunching => {
                    if let Some(l) = limit {
                        s.value = l * (0.95 + 0.04 * unit(&[self.seed, t as u64, 3]));
                    }
                }
                IncidentKind::O2Ambient => {
                    if code == "a19001" {
                        s.value = 20.8 + 0.1 * unit(&[self.seed, t as u64]);
                    }
                }
                IncidentKind::FaultFlag => {
                    s.value = limit.unwrap_or(s.value) * i.magnitude.max(1.2);
                    s.flag = 'D';
                }
            }
        }
        Some(s)
    }

    fn decimals(&self, code: &str) -> usize {
        self.kind
            .factors()
            .iter()
            .find(|f| f.0 == code)
            .map_or(2, |f| f.3)
    }

    fn message(&self, cn: &str, qn_ms: i64, cp: DataArea) -> Message {
        Message::new(
            Some(&LocalTime::from_unix_millis(qn_ms).to_qn()),
            self.kind.st(),
            cn,
            Some(&self.password),
            Some(&self.mn),
            Some(Flag::new(Version::V2017, false, true)),
        )
        .with_cp(cp)
    }

    /// A real-time packet (2011) at `t`, or `None` when silent.
    pub fn realtime(&self, t: i64, qn_ms: i64, incidents: &[Incident]) -> Option<Message> {
        let mut cp = DataArea::new().data_time(LocalTime::from_unix_millis(t * 1000));
        for &(code, ..) in self.kind.factors() {
            let s = self.sample(code, t, incidents)?;
            let d = self.decimals(code);
            cp = cp.pollutant(
                code,
                &[
                    (FieldKind::Rtd, format!("{:.d$}", s.value)),
                    (FieldKind::Flag, s.flag.to_string()),
                ],
            );
        }
        Some(self.message("2011", qn_ms, cp))
    }

    /// An interval packet (2051 minute, 2061 hour, 2031 day) for the interval starting at
    /// `start` of `len_s` seconds, or `None` when silent for the whole interval.
    pub fn interval(
        &self,
        cn: &str,
        start: i64,
        len_s: i64,
        qn_ms: i64,
        incidents: &[Incident],
    ) -> Option<Message> {
        let mut cp = DataArea::new().data_time(LocalTime::from_unix_millis(start * 1000));
        let steps = 6;
        for &(code, ..) in self.kind.factors() {
            let samples: Vec<Sample> = (0..steps)
                .filter_map(|k| self.sample(code, start + len_s * k / steps, incidents))
                .collect();
            if samples.is_empty() {
                return None;
            }
            let values = samples.iter().map(|s| s.value);
            let min = values.clone().fold(f64::INFINITY, f64::min);
            let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
            let avg = values.sum::<f64>() / samples.len() as f64;
            let flag = samples
                .iter()
                .map(|s| s.flag)
                .find(|f| *f != 'N')
                .unwrap_or('N');
            let d = self.decimals(code);
            cp = cp.pollutant(
                code,
                &[
                    (FieldKind::Min, format!("{min:.d$}")),
                    (FieldKind::Avg, format!("{avg:.d$}")),
                    (FieldKind::Max, format!("{max:.d$}")),
                    (FieldKind::Flag, flag.to_string()),
                ],
            );
        }
        Some(self.message(cn, qn_ms, cp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plant() -> Device {
        Device {
            point_id: "p".into(),
            mn: "MN1".into(),
            password: "123456".into(),
            kind: DeviceKind::GasOutlet,
            rtd_interval_s: 30,
            min_interval_min: 10,
            seed: 9,
        }
    }

    #[test]
    fn values_are_a_function_of_time_and_plausible() {
        let d = plant();
        let t = 1_790_000_000;
        assert_eq!(d.base_value("a21026", t), d.base_value("a21026", t));
        for k in 0..2000 {
            let t = t + k * 600;
            let so2 = d.base_value("a21026", t);
            assert!((0.0..60.0).contains(&so2), "{so2}");
            let o2 = d.base_value("a19001", t);
            if d.producing(t) {
                assert!(o2 < 15.0);
            } else {
                assert!(o2 > 20.0);
            }
        }
        let m1 = d.interval("2051", t, 600, 0, &[]).expect("data");
        assert_eq!(
            m1,
            d.interval("2051", t, 600, 0, &[]).expect("data"),
            "reproducible"
        );
    }
}
