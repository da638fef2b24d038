//! # domain: the vocabulary shared by the front doors, the store, the engine and the API
//!
//! Plain data, no I/O: what a monitoring point is, what an observation is once a packet has
//! been accepted, what the raw packet log keeps of every frame, a device's connection state,
//! the platform clock, and the commit stream ([`commits`]) on which the write path tells the
//! rest of the platform what it made durable. Times are Unix seconds or milliseconds in UTC;
//! conversion from and to Beijing time (the protocol's) happens at the edges (`bjtime`).

use std::collections::BTreeMap;

pub mod alarm;
pub mod commits;
pub mod vehicle;

pub use alarm::{Alarm, AlarmEvent, AlarmState, Effect, Handling, SeriesKey, Window, WindowUpdate};
pub use commits::{BoxFuture, CommitReceiver, CommitStream, Committed, Received};
pub use vehicle::{VehicleState, vehicle_state};

use serde::{Deserialize, Serialize};

/// What a monitoring point measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    /// Flue-gas outlet of a pollution source (CEMS).
    GasOutlet,
    /// Wastewater outlet of a pollution source.
    WaterOutlet,
    /// Ambient air-quality station.
    AirStation,
    /// Surface-water section (automatic water station).
    WaterSection,
    /// Noise monitoring point.
    Noise,
    /// Radiation monitoring point.
    Radiation,
    /// Anything else.
    #[default]
    Other,
}

/// Settings of one monitored code at one point.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CodeSetting {
    /// Emission or quality limit, in `unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Reference O2 (%) for converted concentrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_o2: Option<f64>,
    /// Unit of the values this point sends for the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The analyser's measuring range (full scale), in `unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<f64>,
    /// The method detection limit of the analyser, in `unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_limit: Option<f64>,
}

/// The registry whose entries are the monitoring points.
pub const POINTS_REGISTRY: &str = "monitoring_points";

/// A monitoring point: one data logger (MN) at one place. Its record is its entry in the
/// `monitoring_points` registry, field for field (the JSON form of a `Point` is the entry);
/// the HJ 212 front door's table and `/api/v1/points` are views of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// Stable identifier used in the API.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The name in English, for the English UI (the registry's `name_en`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    /// The logger's MN, as it sends it.
    pub mn: String,
    /// The logger's access password (PW); empty: no device is admitted. Write-only in the API.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// The enterprise (unified social credit code) the point belongs to, if any: its users see
    /// the point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<String>,
    /// The district it is in (a value of the registries' district list): its officers see
    /// the point. A point without one is seen by city-wide roles only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// The system code (ST) it reports under.
    #[serde(default)]
    pub st: String,
    /// What it measures.
    #[serde(default)]
    pub kind: PointKind,
    /// Longitude and latitude (WGS 84), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<[f64; 2]>,
    /// Expected real-time report interval, seconds.
    #[serde(default = "default_rtd_interval")]
    pub rtd_interval_s: u32,
    /// Expected minute-data interval, minutes.
    #[serde(default = "default_min_interval")]
    pub min_interval_min: u32,
    /// CRC variants accepted from this logger (`hj212`, `modbus`, `modbus_swapped`).
    #[serde(default = "default_crc")]
    pub accepted_crc: Vec<String>,
    /// Per-code settings.
    #[serde(default)]
    pub codes: BTreeMap<String, CodeSetting>,
    /// The abatement units the outlet's gas or water passes (`wet_fgd`, `semi_dry_fgd`,
    /// `dry_fgd`, `scr`, `sncr`, `bag_filter`, `esp`, `wet_esp`): what the process's own
    /// signals must agree with (a flue gas leaving a wet desulphurisation is saturated and
    /// cool).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abatement: Vec<String>,
}

impl Point {
    /// The point as its registry entry (a JSON object with the same fields).
    pub fn to_record(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    /// The point of a registry entry.
    pub fn from_record(
        record: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::Value::Object(record.clone()))
    }
}

fn default_rtd_interval() -> u32 {
    30
}

fn default_min_interval() -> u32 {
    10
}

fn default_crc() -> Vec<String> {
    vec!["hj212".to_owned()]
}

/// Which series an upload belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    /// 2011 real-time data.
    Rtd,
    /// 2051 minute data.
    Min,
    /// 2061 hourly data.
    Hour,
    /// 2031 daily data.
    Day,
}

impl DataType {
    /// Every series, in the order of their storage codes.
    pub const ALL: [DataType; 4] = [Self::Rtd, Self::Min, Self::Hour, Self::Day];

    /// The series a data upload's CN belongs to.
    pub fn from_cn(cn: &str) -> Option<Self> {
        Some(match cn {
            "2011" => Self::Rtd,
            "2051" => Self::Min,
            "2061" => Self::Hour,
            "2031" => Self::Day,
            _ => return None,
        })
    }

    /// A stable name (`rtd`, `min`, `hour`, `day`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rtd => "rtd",
            Self::Min => "min",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// The type for a name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Small integer used as a storage key.
    pub fn code(self) -> i64 {
        match self {
            Self::Rtd => 0,
            Self::Min => 1,
            Self::Hour => 2,
            Self::Day => 3,
        }
    }
}

/// One pollutant's values at one time in one series, as accepted from a packet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Observation {
    /// The point.
    pub point_id: String,
    /// The series.
    pub data_type: DataType,
    /// The factor code as sent (`w01018`).
    pub code: String,
    /// DataTime as Unix seconds (UTC), converted from Beijing time.
    pub time: i64,
    /// The fields as sent, by their JSON names (`rtd`, `avg`, `flag`, `zs_avg`, ...): exact text.
    pub fields: BTreeMap<String, String>,
}

/// What became of a received frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Disposition {
    /// Its data were stored.
    Stored,
    /// A repeat of data already stored: nothing stored twice.
    Duplicate,
    /// Accepted, but it carries no series data (replies, commands' answers, heartbeats).
    NoData,
    /// Not stored as data; kept here with the reason.
    Quarantined {
        /// Why (`unknown_mn`, `wrong_password`, `crc`, `length`, `command`, `undecodable`, ...).
        reason: String,
    },
}

/// One frame of the raw packet log: every frame as received, with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PacketRecord {
    /// Receive time, Unix milliseconds.
    pub received_ms: i64,
    /// Peer address.
    pub peer: String,
    /// MN, if it could be read.
    pub mn: Option<String>,
    /// CN, if it could be read.
    pub cn: Option<String>,
    /// QN, if any.
    pub qn: Option<String>,
    /// The CRC the frame carried (hex), if readable.
    pub crc_given: Option<String>,
    /// The HJ 212 CRC of its data segment (hex).
    pub crc_computed: Option<String>,
    /// The CRC variant that matched, if any.
    pub crc_variant: Option<String>,
    /// Deviations from the standard (their kinds).
    pub deviations: Vec<String>,
    /// What became of it.
    pub disposition: Disposition,
    /// Pollutant groups of a stored frame that were not stored because a value in them is
    /// outside its type's syntax, as `code-Field` names (`a21026-Avg`); they stay in this record
    /// (and so in the quarantine listing) as evidence. Empty for every other frame.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined_fields: Vec<String>,
    /// The frame exactly as received, byte for byte (GBK or invalid UTF-8 included), so that
    /// its CRC can be checked again by anyone.
    pub raw: Vec<u8>,
}

/// Connection state of one device (by MN). Kept by the HJ 212 front door and saved by the
/// store, so that after a restart a device's last packet (and so its silence) is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    /// The MN.
    pub mn: String,
    /// Connected now.
    pub online: bool,
    /// Peer address of the last connection.
    pub peer: String,
    /// Last frame received, Unix milliseconds.
    pub last_packet_ms: i64,
    /// Frames received.
    pub packets: u64,
}

/// The platform's clock: the wall clock, simulated time running from a start instant at a
/// speed factor (demos and scenario runs: an hour a minute), or a manual clock that moves only
/// when told to (tests). Everything that asks "what time is it" (receive times, housekeeping,
/// "now" in the API, the alarm engine) asks one `Clock`, so a server and its simulator share
/// one notion of time and a test can drive it.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: std::time::Instant,
    start_ms: i64,
    speed: f64,
    /// A manual clock's time, Unix ms. Leaked on purpose: a manual clock lives as long as the
    /// test that made it, and keeping it here keeps `Clock` a plain `Copy` value.
    manual: Option<&'static std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self::simulated(wall_ms(), 1.0)
    }

    /// Simulated time: `start_ms` now, running `speed` times faster than the wall clock.
    pub fn simulated(start_ms: i64, speed: f64) -> Self {
        Self {
            wall: std::time::Instant::now(),
            start_ms,
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
            manual: None,
        }
    }

    /// A clock standing at `start_ms` until [`Clock::advance`] moves it (tests). Every copy
    /// shares its time.
    pub fn manual(start_ms: i64) -> Self {
        Self {
            manual: Some(Box::leak(Box::new(std::sync::atomic::AtomicI64::new(
                start_ms,
            )))),
            ..Self::simulated(start_ms, 1.0)
        }
    }

    /// Moves a manual clock (and its copies) forward by `ms`; other clocks ignore it.
    pub fn advance(&self, ms: i64) {
        if let Some(m) = self.manual {
            m.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Unix milliseconds now.
    pub fn now_ms(&self) -> i64 {
        match self.manual {
            Some(m) => m.load(std::sync::atomic::Ordering::SeqCst),
            None => {
                self.start_ms + (self.wall.elapsed().as_secs_f64() * 1000.0 * self.speed) as i64
            }
        }
    }

    /// Simulated seconds per wall second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Wall time until the instant `ms` (at most an hour; zero if it has passed). A manual
    /// clock moves only when advanced, so the wait is a short poll.
    pub fn wall_until(&self, ms: i64) -> std::time::Duration {
        let left = (ms - self.now_ms()).max(0);
        if self.manual.is_some() {
            return std::time::Duration::from_millis(if left > 0 { 10 } else { 0 });
        }
        let secs = left as f64 / 1000.0 / self.speed;
        std::time::Duration::from_secs_f64(secs.min(3600.0))
    }
}

/// The system clock's Unix milliseconds.
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Great-circle distance in metres between two WGS 84 positions (longitude, latitude), by the
/// haversine formula on the mean Earth radius: the distances the registries and the rules that
/// compare neighbouring stations measure.
pub fn distance_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    let r = 6_371_008.8;
    let (la1, la2) = (a[1].to_radians(), b[1].to_radians());
    let dla = la2 - la1;
    let dlo = (b[0] - a[0]).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().min(1.0).asin()
}
