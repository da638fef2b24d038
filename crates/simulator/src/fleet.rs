//! What a simulated device measures: value models per point kind, and the packets it sends.
//!
//! Every value is a pure function of (seed, MN, code, time): the same instant always gives the
//! same value, so live data, backfilled history and answers to history requests agree, and a
//! re-sent packet is byte-for-byte the data of the first send. Models:
//!
//! - plants (gas and water outlets): a production cycle (on most of the day, off for a few
//!   hours at night, and one plant in ten shut down for a week a month) with noise around a
//!   level below the limit (one plant in ten close to it); a load that moves over hours (flow
//!   with it, O2 against it); start-ups with high O2, low flow and high values; O2 rises to
//!   ambient (20.9%) when the process is off, flow drops; the logger flags its daily ten-minute
//!   calibration C and a monthly maintenance morning M; three waste-water plants in ten do not
//!   discharge at night (zero flow, the analyser reading its standing sample) and half the
//!   waste-water analysers measure every two hours; one source's analysers in five have a
//!   resolution a decimal coarser than their logger writes (the last decimal always 0);
//! - air stations: a diurnal cycle (PM2.5 and NO2 high at night and in the morning rush, O3
//!   high in the afternoon) with slow day-to-day weather swings, mostly the city's (every
//!   station moves with them) and a little the station's own;
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
    /// The chance that its link loses a whole hour of data (an honest, random gap).
    pub link_loss: f64,
    /// A flue gas leaving a wet desulphurisation (saturated, about 55 °C); otherwise it
    /// leaves a dry or semi-dry one hot (about 135 °C).
    pub wet_scrubbed: bool,
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

/// A number in 0..1 fixed by (seed, hour of `t`, code).
fn unit_hash(seed: u64, t: i64, code: &str) -> f64 {
    unit(&[seed, t.div_euclid(3600) as u64, text_hash(code)])
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

/// A plant's day index since the epoch, and its 30-day period.
fn day_index(t: i64) -> u64 {
    ((t + bjtime::OFFSET_S).div_euclid(bjtime::DAY_S)) as u64
}

/// Codes that are conditions of the flue gas or the water, not concentrations.
fn condition(code: &str) -> bool {
    matches!(
        code,
        "a19001" | "a01012" | "a01011" | "a01013" | "a01014" | "a00000" | "w00000" | "w01001"
    )
}

impl Device {
    /// Whether a plant is producing at `t`: off 01:00–05:00 on some nights, and for a week in
    /// some 30-day periods (a plant shut down for repairs or for lack of orders).
    pub fn producing(&self, t: i64) -> bool {
        let h = hour_of_day(t);
        let day = day_index(t);
        let rests = unit(&[self.seed, day, 7]) < 0.4;
        let resting = rests && (1.0..5.0).contains(&h);
        !(resting || self.shut_down(t))
    }

    /// Whether `t` falls in the plant's week-long shutdown (one plant in ten, once in each
    /// 30-day period).
    fn shut_down(&self, t: i64) -> bool {
        let day = day_index(t);
        let period = day / 30;
        unit(&[self.seed, period, 11]) < 0.1 && {
            let first = (unit(&[self.seed, period, 12]) * 23.0) as u64;
            (first..first + 7).contains(&(day % 30))
        }
    }

    /// The load of a producing plant at `t`, 0.7–1.0: it moves over hours with demand.
    fn load(&self, t: i64) -> f64 {
        0.85 + 0.15 * smooth(self.seed ^ 0x10AD, t, 6 * 3600)
    }

    /// Whether the plant is in its start-up: the 40 minutes after a rest, with high O2, low
    /// flow and high concentrations while the burners come up.
    fn starting_up(&self, t: i64) -> bool {
        self.producing(t) && !self.producing(t - 2400)
    }

    /// The flag an honest device sends at `t` besides N and F: its daily zero/span
    /// calibration (C, ten minutes at 03:00) and a monthly maintenance morning (M, 09:00–13:00
    /// on one day of each 30-day period).
    fn honest_flag(&self, t: i64) -> Option<char> {
        if !matches!(self.kind, DeviceKind::GasOutlet | DeviceKind::WaterOutlet) {
            return None;
        }
        let h = hour_of_day(t);
        let day = day_index(t);
        if (3.0..3.0 + 10.0 / 60.0).contains(&h) {
            return Some('C');
        }
        let maintenance_day = (unit(&[self.seed, day / 30, 13]) * 30.0) as u64;
        (day % 30 == maintenance_day && (9.0..13.0).contains(&h)).then_some('M')
    }

    /// A waste-water plant that does not discharge at night (22:00–06:00): three in ten.
    fn discharges_by_day_only(&self) -> bool {
        self.kind == DeviceKind::WaterOutlet && unit(&[self.seed, 15]) < 0.3
    }

    /// A waste-water analyser that measures every two hours (its value held in between): half
    /// of them.
    fn measures_every_two_hours(&self) -> bool {
        self.kind == DeviceKind::WaterOutlet && unit(&[self.seed, 16]) < 0.5
    }

    /// A plant running close to its limits (its level at 85 % of the limit): one in ten.
    fn close_to_limit(&self) -> bool {
        unit(&[self.seed, 14]) < 0.1
    }

    /// The model value of `code` at `t` (Unix seconds), before incidents.
    pub fn base_value(&self, code: &str, t: i64) -> f64 {
        self.model_value(code, t, self.producing(t))
    }

    /// The model value of `code` at `t` with the plant producing or not (its schedule aside).
    fn model_value(&self, code: &str, t: i64, producing: bool) -> f64 {
        let Some(&(_, level, spread, _, limit)) = self.kind.factors().iter().find(|f| f.0 == code)
        else {
            return 0.0;
        };
        let s = self.seed ^ text_hash(code);
        // An analyser that measures every two hours holds its value in between.
        let t_measured = if self.measures_every_two_hours() && !condition(code) {
            t - t.rem_euclid(7200)
        } else {
            t
        };
        let jitter = (unit(&[s, t_measured as u64]) - 0.5) * spread * 0.3;
        let slow = smooth(s, t_measured, 3 * 3600) * spread * 0.5;
        let h = hour_of_day(t);
        let v = match self.kind {
            DeviceKind::GasOutlet | DeviceKind::WaterOutlet => {
                let level = match limit {
                    Some(l) if self.close_to_limit() => l * 0.85,
                    _ if code == "a01012" && !self.wet_scrubbed => level + 80.0,
                    _ => level,
                };
                let night = !(6.0..22.0).contains(&h);
                if producing && self.discharges_by_day_only() && night {
                    // No discharge: the analyser reads the sample standing in its vessel.
                    match code {
                        "w00000" => 0.0,
                        _ => {
                            // Its value at 21:59, when discharge stopped, drifting a little.
                            let since_close = ((h - 22.0).rem_euclid(24.0) * 3600.0) as i64 + 60;
                            self.model_value(code, t - since_close, true) + jitter * 0.05
                        }
                    }
                } else if producing {
                    let load = self.load(t);
                    let start = self.starting_up(t);
                    match code {
                        "a19001" if start => 15.0 + jitter,
                        "a19001" => level + (1.0 - load) * 8.0 + slow * 0.5 + jitter,
                        "a00000" | "w00000" if start => level * 0.45 + jitter,
                        "a00000" | "w00000" => level * load + slow + jitter,
                        _ if condition(code) => level + slow + jitter,
                        _ if start => (level + slow) * 1.3 + jitter,
                        _ => level * (0.8 + 0.2 * load) + slow + jitter,
                    }
                } else {
                    match code {
                        "a19001" => 20.9 - unit(&[s, t as u64]) * 0.1,
                        "a00000" | "w00000" => level * 0.02,
                        _ => level * 0.1 + jitter.abs() * 0.2,
                    }
                }
            }
            DeviceKind::AirStation => {
                // The city's weather moves every station together; each station has a little
                // of its own (its street, its neighbourhood's sources).
                let city = smooth(text_hash(code) ^ 0xC17E, t, 2 * 86_400);
                let local = smooth(s ^ 0xA1, t, 36 * 3600);
                let weather = (0.85 * city + 0.35 * local) * spread;
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

/// An interval's record from its samples, as a logger makes it: the flag most of the samples
/// have (a flag other than N on a tie: a half-hour fault is not hidden), and the least, mean
/// and greatest value of the samples with that flag (a ten-minute calibration's span gas is not
/// in an hour's mean). `samples` must not be empty.
pub fn aggregate(samples: &[Sample]) -> (char, f64, f64, f64) {
    let mut counts: Vec<(char, usize)> = Vec::new();
    for s in samples {
        match counts.iter_mut().find(|c| c.0 == s.flag) {
            Some(c) => c.1 += 1,
            None => counts.push((s.flag, 1)),
        }
    }
    let flag = counts
        .iter()
        .max_by_key(|(f, n)| (*n, *f != 'N'))
        .map_or('N', |c| c.0);
    let values: Vec<f64> = samples
        .iter()
        .filter(|s| s.flag == flag)
        .map(|s| s.value)
        .collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = values.iter().sum::<f64>() / values.len().max(1) as f64;
    (flag, min, avg, max)
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
        if self.link_loss > 0.0
            && unit(&[self.seed, t.div_euclid(3600) as u64, 19]) < self.link_loss
        {
            return None;
        }
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
        if !stopped && let Some(flag) = self.honest_flag(t) {
            s.flag = flag;
            if !condition(code) {
                // Span gas during a calibration; whatever the analyser shows while serviced.
                s.value = match flag {
                    'C' => limit.unwrap_or(s.value) * 2.0,
                    _ => s.value * (0.5 + unit(&[self.seed, t as u64, 17])),
                };
            }
        }
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
                    // `magnitude` below 1 is how much of the honest variation is left.
                    let shrink = if i.magnitude < 1.0 { i.magnitude } else { 0.02 };
                    let centre = self.base_value(code, i.start);
                    s.value = centre + (s.value - centre) * shrink;
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
                IncidentKind::Dilution => {
                    if !stopped {
                        let o2 = self.model_value("a19001", t, true);
                        let swing = (smooth(self.seed ^ 0xD1, t, 3 * 3600) + 1.0) / 2.0;
                        let diluted = (o2 + (i.magnitude - o2) * (0.3 + 0.7 * swing)).min(20.5);
                        let factor = (21.0 - diluted) / (21.0 - o2);
                        match code {
                            "a19001" => s.value = diluted,
                            "a00000" => s.value /= factor,
                            c if condition(c) => {}
                            _ => s.value *= factor,
                        }
                    }
                }
                IncidentKind::StuckAtDetectionLimit => {
                    if let Some((dl, _)) = envstd::codes::source_detection_limit(code) {
                        s.value = dl * i.magnitude * (0.8 + 0.4 * unit(&[self.seed, t as u64, 5]));
                    }
                }
                IncidentKind::StepChange => {
                    if !condition(code) {
                        s.value *= i.magnitude;
                    }
                }
                IncidentKind::StopMark => {
                    if !stopped {
                        s.flag = 'F';
                    }
                }
                IncidentKind::GapsAroundExceedances => {
                    let k = (t - i.start).div_euclid(3600);
                    let phase = (unit(&[self.seed, 18]) * 8.0) as i64;
                    match (k - phase).rem_euclid(8) {
                        0 => {
                            if let (false, Some(l)) = (condition(code), limit) {
                                s.value = l * i.magnitude;
                            }
                        }
                        1 | 2 => return None,
                        _ => {}
                    }
                }
                IncidentKind::FgdBypass => {
                    if code == "a01012" && !stopped {
                        s.value = i.magnitude + (unit(&[self.seed, t as u64, 7]) - 0.5) * 4.0;
                    }
                }
                // Made-up digits are written by the logger: see `format`.
                IncidentKind::DigitPreference => {}
                IncidentKind::Sprinkling => {
                    let h = hour_of_day(t);
                    if matches!(code, "a34004" | "a34002") && !(8.0..20.0).contains(&h) {
                        s.value *= i.magnitude;
                    }
                }
                IncidentKind::StationStep => {
                    if envstd::codes::air_pollutant(code).is_some() {
                        s.value *= i.magnitude;
                    }
                }
                IncidentKind::WaterFlow => {
                    let h = hour_of_day(t);
                    if (6.0..17.0).contains(&h) {
                        match code {
                            "w00000" => s.value = 0.0,
                            c if condition(c) => {}
                            _ => {
                                let spread = self
                                    .kind
                                    .factors()
                                    .iter()
                                    .find(|f| f.0 == code)
                                    .map_or(0.0, |f| f.2);
                                s.value = (s.value
                                    + (unit(&[self.seed, t as u64, 6]) - 0.5) * spread * 3.0)
                                    .max(0.0);
                            }
                        }
                    } else if !condition(code) {
                        s.value = self.base_value(code, i.start);
                    }
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

    /// An analyser whose resolution is a decimal coarser than its logger writes (one source's
    /// concentrations in five): its last decimal is always 0, honestly.
    fn coarse(&self, code: &str) -> bool {
        matches!(self.kind, DeviceKind::GasOutlet | DeviceKind::WaterOutlet)
            && !condition(code)
            && self.decimals(code) > 0
            && self.seed % 5 == 4
    }

    /// `value` of `code` for the interval or instant at `t` as the logger writes it: with the
    /// code's decimals, a coarse analyser's last one 0, and during a digit-preference incident
    /// a share of the hours made up, ending in 0 or 5.
    fn format(&self, code: &str, value: f64, t: i64, incidents: &[Incident]) -> String {
        let d = self.decimals(code);
        let unit = 10f64.powi(-(d as i32));
        let made_up = incidents.iter().any(|i| {
            i.kind == IncidentKind::DigitPreference
                && i.applies(&self.point_id, t)
                && i.code.as_deref().is_none_or(|c| c == code)
                && !condition(code)
                && unit_hash(self.seed, t, code) < i.magnitude
        });
        let v = if made_up {
            (value / (5.0 * unit)).round() * 5.0 * unit
        } else if self.coarse(code) {
            (value / (10.0 * unit)).round() * 10.0 * unit
        } else {
            value
        };
        format!("{v:.d$}")
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
            cp = cp.pollutant(
                code,
                &[
                    (FieldKind::Rtd, self.format(code, s.value, t, incidents)),
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
            let (flag, min, avg, max) = aggregate(&samples);
            let f = |v: f64| self.format(code, v, start, incidents);
            cp = cp.pollutant(
                code,
                &[
                    (FieldKind::Min, f(min)),
                    (FieldKind::Avg, f(avg)),
                    (FieldKind::Max, f(max)),
                    (FieldKind::Flag, flag.to_string()),
                ],
            );
        }
        Some(self.message(cn, qn_ms, cp))
    }
}

impl Device {
    /// The hourly records (HJ 212 2061) of `hours` hours from `from` (an hour start), as the
    /// platform stores them, with the incidents applied: the data of a month without the
    /// network, for scoring detectors. The same values as the hourly packets the device sends.
    pub fn hourly_observations(
        &self,
        from: i64,
        hours: i64,
        incidents: &[Incident],
    ) -> Vec<domain::Observation> {
        let mine: Vec<Incident> = incidents
            .iter()
            .filter(|i| i.point == self.point_id)
            .cloned()
            .collect();
        let mut out = Vec::new();
        for k in 0..hours {
            let start = from + k * 3600;
            for &(code, ..) in self.kind.factors() {
                let samples: Vec<Sample> = (0..6)
                    .filter_map(|j| self.sample(code, start + 600 * j, &mine))
                    .collect();
                if samples.is_empty() {
                    continue;
                }
                let (flag, min, avg, max) = aggregate(&samples);
                let f = |v: f64| self.format(code, v, start, &mine);
                out.push(domain::Observation {
                    point_id: self.point_id.clone(),
                    data_type: domain::DataType::Hour,
                    code: code.to_owned(),
                    time: start,
                    fields: [
                        ("min".to_owned(), f(min)),
                        ("avg".to_owned(), f(avg)),
                        ("max".to_owned(), f(max)),
                        ("flag".to_owned(), flag.to_string()),
                    ]
                    .into(),
                });
            }
        }
        out
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
            link_loss: 0.0,
            wet_scrubbed: true,
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
                // Up to 15 % or so in a start-up, below 13 % otherwise.
                assert!(o2 < if d.starting_up(t) { 16.0 } else { 13.0 }, "{o2}");
            } else {
                assert!(o2 > 20.0);
            }
        }
        let m1 = d.interval("2051", t, 600, 0, &[]).expect("data");
        // A ten-minute calibration is flagged C and its span gas is not in the hour's mean.
        let mut calibrations = 0;
        for day in 0..10 {
            let three = bjtime::day_start(t) + day * 86_400 + 3 * 3600;
            let c = d.sample("a21026", three, &[]).expect("sample");
            if d.producing(three) {
                calibrations += 1;
                assert_eq!(c.flag, 'C');
                assert!(c.value > 60.0, "span gas {}", c.value);
                let (flag, _, avg, _) = aggregate(
                    &(0..6)
                        .filter_map(|j| d.sample("a21026", three + 600 * j, &[]))
                        .collect::<Vec<_>>(),
                );
                assert_eq!(flag, 'N');
                assert!(avg < 60.0, "{avg}");
            }
        }
        assert!(calibrations > 0);
        assert_eq!(
            m1,
            d.interval("2051", t, 600, 0, &[]).expect("data"),
            "reproducible"
        );
    }
}
