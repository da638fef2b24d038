//! The server's configuration: one TOML file, every key optional, with defaults that work out
//! of the box. The binary overlays `HUANGHE_*` environment variables and flags on top (flags
//! win), for the handful of deployment knobs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ServeError;

/// Everything `huanghe serve` needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The data directory: the store lives in `huanghe.db` inside it.
    pub data_dir: PathBuf,
    /// A TOML file of monitoring points (`[[points]]` tables) loaded into the registry at start
    /// (created or replaced by id); the API manages them afterwards.
    pub points_file: Option<PathBuf>,
    /// The HJ 212 listener.
    pub hj212: Hj212Config,
    /// The HJ 1239 / GB 17691 truck listener and the truck-data store.
    pub hj1239: Hj1239Config,
    /// The HTTP API.
    pub http: HttpConfig,
    /// Storage housekeeping and retention.
    pub store: StoreConfig,
    /// A TOML rules file replacing the default alarm rules.
    pub rules_file: Option<PathBuf>,
    /// The clock (wall time unless simulated).
    pub clock: ClockConfig,
    /// Load the demo city (a synthetic Jinan: registries with a year of history, 600 monitoring
    /// points) when the registries are empty.
    pub demo_city: bool,
    /// How long each stage of a case may take ([proposal] defaults, see `cases::Deadlines`).
    pub cases: cases::Deadlines,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("huanghe-data"),
            points_file: None,
            hj212: Hj212Config::default(),
            hj1239: Hj1239Config::default(),
            http: HttpConfig::default(),
            store: StoreConfig::default(),
            demo_city: false,
            rules_file: None,
            clock: ClockConfig::default(),
            cases: cases::Deadlines::default(),
        }
    }
}

/// The HJ 212 TCP listener and its defences.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hj212Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Most concurrent device connections.
    pub max_connections: usize,
    /// Most concurrent connections from one source address. Loggers behind one NAT share an
    /// address, so this is generous by default.
    pub max_connections_per_ip: usize,
    /// Seconds without a byte before a connection is closed. Loggers report at least every
    /// few minutes and send heartbeats; the default leaves room for a 10-minute interval.
    pub idle_timeout_s: u64,
    /// Seconds within which a started frame must be complete (defence against slow senders).
    pub frame_timeout_s: u64,
    /// TCP keepalive idle time, seconds.
    pub keepalive_s: u64,
    /// Most frames committed in one transaction.
    pub max_batch: usize,
    /// Seconds a DataTime may lie ahead of the platform clock (logger clocks drift until the
    /// next time calibration); data dated later are refused (9011, QnRtn 2) and quarantined.
    /// A proposal: the standard names no tolerance.
    pub max_clock_ahead_s: u64,
}

impl Default for Hj212Config {
    fn default() -> Self {
        let gw = gateway::GatewayConfig::default();
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9212)),
            max_connections: gw.max_connections,
            max_connections_per_ip: gw.max_connections_per_ip,
            idle_timeout_s: gw.idle_timeout.as_secs(),
            frame_timeout_s: gw.frame_timeout.as_secs(),
            keepalive_s: gw.keepalive.as_secs(),
            max_batch: gw.max_batch,
            max_clock_ahead_s: gw.max_clock_ahead.as_secs(),
        }
    }
}

impl Hj212Config {
    /// The gateway's settings, stamping with `clock`.
    pub fn gateway(&self, clock: domain::Clock) -> gateway::GatewayConfig {
        gateway::GatewayConfig {
            clock,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            idle_timeout: Duration::from_secs(self.idle_timeout_s),
            frame_timeout: Duration::from_secs(self.frame_timeout_s),
            keepalive: Duration::from_secs(self.keepalive_s),
            max_data_len: hj212::frame::MAX_DATA_LEN,
            max_batch: self.max_batch,
            max_clock_ahead: Duration::from_secs(self.max_clock_ahead_s),
        }
    }
}

/// The truck (HJ 1239 / GB 17691) listener, its defences and the truck-data store (its own
/// file, `obd.db`, in the data directory).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hj1239Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Most concurrent terminal connections.
    pub max_connections: usize,
    /// Most concurrent connections from one source address (terminals behind a carrier's NAT
    /// share addresses, so generous).
    pub max_connections_per_ip: usize,
    /// Seconds without a byte before a connection is closed; terminals send every 10 s while
    /// the engine runs. [proposal] 180 s.
    pub idle_timeout_s: u64,
    /// Seconds within which a started frame must be complete.
    pub frame_timeout_s: u64,
    /// TCP keepalive idle time, seconds.
    pub keepalive_s: u64,
    /// Most frames committed in one transaction.
    pub max_batch: usize,
    /// Seconds a collection time may lie ahead of the platform clock (HJ 1239.1 allows a
    /// terminal ±5 s a day; the rest is transmission and drift). [proposal] 300 s.
    pub max_clock_ahead_s: u64,
    /// Days a record may be old and still be stored: the reissue window of HJ 1239.1 (5).
    pub max_age_days: u64,
    /// Signer ID of terminals whose registry entry names none: `default` (GB/T 32918.2's
    /// `1234567812345678`), `chip_id`, or the ID itself (`obd.md` §8 leaves it open).
    pub signer_id: String,
    /// Raw frames kept, days. [proposal] 30.
    pub frames_days: u32,
    /// Records kept, days. [proposal] 400 (a year and the month before).
    pub records_days: u32,
    /// An hour's records move into their chunk this many seconds after the hour ended.
    pub compact_after_s: u64,
}

impl Default for Hj1239Config {
    fn default() -> Self {
        let gw = obd_gateway::ObdConfig::default();
        let store = store::obd::ObdSettings::default();
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9239)),
            max_connections: gw.max_connections,
            max_connections_per_ip: gw.max_connections_per_ip,
            idle_timeout_s: gw.idle_timeout.as_secs(),
            frame_timeout_s: gw.frame_timeout.as_secs(),
            keepalive_s: gw.keepalive.as_secs(),
            max_batch: gw.max_batch,
            max_clock_ahead_s: gw.max_clock_ahead.as_secs(),
            max_age_days: gw.max_age.as_secs() / 86_400,
            signer_id: "default".into(),
            frames_days: store.frames_days as u32,
            records_days: store.records_days as u32,
            compact_after_s: store.compact_after_s as u64,
        }
    }
}

impl Hj1239Config {
    /// The truck gateway's settings, stamping with `clock`.
    pub fn gateway(&self, clock: domain::Clock) -> obd_gateway::ObdConfig {
        obd_gateway::ObdConfig {
            clock,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            idle_timeout: Duration::from_secs(self.idle_timeout_s),
            frame_timeout: Duration::from_secs(self.frame_timeout_s),
            keepalive: Duration::from_secs(self.keepalive_s),
            max_frame_len: obd_gateway::ObdConfig::default().max_frame_len,
            max_batch: self.max_batch,
            max_clock_ahead: Duration::from_secs(self.max_clock_ahead_s),
            max_age: Duration::from_secs(self.max_age_days * 86_400),
            signer_id: match self.signer_id.as_str() {
                "default" => obd_gateway::SignerId::Default,
                "chip_id" => obd_gateway::SignerId::ChipId,
                other => obd_gateway::SignerId::Custom(other.to_owned()),
            },
        }
    }

    /// The truck store's retention and compaction.
    pub fn settings(&self) -> store::obd::ObdSettings {
        store::obd::ObdSettings {
            compact_after_s: self.compact_after_s as i64,
            records_days: i64::from(self.records_days),
            frames_days: i64::from(self.frames_days),
            ..store::obd::ObdSettings::default()
        }
    }
}

/// Simulated time for demos and scenario runs: the server's "now" starts at `start` and runs
/// `speed` times faster than the wall clock. Default: the wall clock.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// RFC 3339 start of simulated time (default: now).
    pub start: Option<String>,
    /// Simulated seconds per second.
    pub speed: f64,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self {
            start: None,
            speed: 1.0,
        }
    }
}

impl ClockConfig {
    /// The clock this describes.
    pub fn clock(&self) -> Result<domain::Clock, ServeError> {
        match &self.start {
            None if self.speed == 1.0 => Ok(domain::Clock::system()),
            None => Ok(domain::Clock::simulated(
                domain::Clock::system().now_ms(),
                self.speed,
            )),
            Some(t) => {
                let ms = bjtime::parse_rfc3339(t)
                    .map_err(|e| ServeError::Config(format!("clock.start: {e}")))?;
                Ok(domain::Clock::simulated(ms, self.speed))
            }
        }
    }
}

/// The HTTP API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// A browser session ends after this many hours without use.
    pub session_hours: i64,
    /// A map tile URL template for the web UI (an intranet tile server); none: no tiles.
    pub tile_url: Option<String>,
    /// The tiles' attribution.
    pub tile_attribution: String,
    /// Browsers reach the server through HTTPS (a TLS-terminating proxy in front of it): the
    /// session cookie is then `Secure` and responses carry `Strict-Transport-Security`.
    pub https: bool,
    /// Vector layers added to the map (GeoJSON files in WGS 84: the district boundaries of the
    /// bureau's surveying department, protected areas, ...), read at start.
    pub map_layers: Vec<MapLayerConfig>,
}

/// A GeoJSON file shown as a layer of the map.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapLayerConfig {
    /// The layer's name in the map's layer control.
    pub title: String,
    /// The GeoJSON file.
    pub path: std::path::PathBuf,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8212)),
            session_hours: 12,
            tile_url: None,
            tile_attribution: String::new(),
            https: false,
            map_layers: Vec::new(),
        }
    }
}

/// Housekeeping (days; 0 keeps forever) and housekeeping.
///
/// The defaults are a [proposal], not a rule of the standards: HJ 212 does not say how long a
/// platform keeps data. Minute, hourly and daily data are kept forever (they are the legal
/// record of emissions); real-time data for 3 years; the raw packet log for 180 days.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Raw packet log (every frame, quarantine included), days.
    pub packets_days: u32,
    /// Real-time data (2011), days.
    pub rtd_days: u32,
    /// Minute data (2051), days.
    pub min_days: u32,
    /// Hourly data (2061), days.
    pub hour_days: u32,
    /// Daily data (2031), days.
    pub day_days: u32,
    /// Seconds between housekeeping passes (retention, compression of closed windows).
    pub maintenance_interval_s: u64,
    /// A closed day window is compressed once nothing was written to it for this many seconds
    /// (a logger re-sending a backlog keeps its window in the row table until it is done).
    /// [proposal] 600 s.
    pub compaction_settle_s: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            packets_days: 180,
            rtd_days: 3 * 366,
            min_days: 0,
            hour_days: 0,
            day_days: 0,
            maintenance_interval_s: 300,
            compaction_settle_s: 600,
        }
    }
}

impl StoreConfig {
    /// The store's retention.
    pub fn retention(&self) -> store::Housekeeping {
        let days = |d: u32| (d > 0).then_some(d);
        store::Housekeeping {
            settle_s: self.compaction_settle_s,
            packets_days: days(self.packets_days),
            rtd_days: days(self.rtd_days),
            min_days: days(self.min_days),
            hour_days: days(self.hour_days),
            day_days: days(self.day_days),
        }
    }
}

impl Config {
    /// Reads a config file.
    pub fn from_file(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::Io {
            what: format!("reading config file {}", path.display()),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ServeError::Config(m) => ServeError::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses config text.
    pub fn from_toml(text: &str) -> Result<Self, ServeError> {
        let config: Self = toml::from_str(text).map_err(|e| ServeError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ServeError> {
        let h = &self.hj212;
        let problems = [
            (
                h.max_connections == 0,
                "hj212.max_connections must be at least 1",
            ),
            (
                h.max_connections_per_ip == 0,
                "hj212.max_connections_per_ip must be at least 1",
            ),
            (
                h.idle_timeout_s == 0,
                "hj212.idle_timeout_s must be at least 1",
            ),
            (
                h.frame_timeout_s == 0,
                "hj212.frame_timeout_s must be at least 1",
            ),
            (h.keepalive_s == 0, "hj212.keepalive_s must be at least 1"),
            (h.max_batch == 0, "hj212.max_batch must be at least 1"),
            (
                self.hj1239.max_connections == 0 || self.hj1239.max_connections_per_ip == 0,
                "hj1239.max_connections and max_connections_per_ip must be at least 1",
            ),
            (
                self.hj1239.idle_timeout_s == 0
                    || self.hj1239.frame_timeout_s == 0
                    || self.hj1239.keepalive_s == 0,
                "hj1239.idle_timeout_s, frame_timeout_s and keepalive_s must be at least 1",
            ),
            (
                self.hj1239.max_batch == 0,
                "hj1239.max_batch must be at least 1",
            ),
            (
                self.hj1239.signer_id.trim().is_empty(),
                "hj1239.signer_id must be default, chip_id or an ID",
            ),
            (
                !(self.clock.speed > 0.0 && self.clock.speed.is_finite()),
                "clock.speed must be a positive number",
            ),
            (
                self.store.maintenance_interval_s == 0,
                "store.maintenance_interval_s must be at least 1",
            ),
        ];
        match problems.iter().find(|(bad, _)| *bad) {
            Some((_, msg)) => Err(ServeError::Config((*msg).to_owned())),
            None => Ok(()),
        }
    }
}

/// The points file: `[[points]]` tables, each a [`domain::Point`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointsFile {
    #[serde(default)]
    points: Vec<domain::Point>,
}

/// Reads a points file.
pub fn read_points_file(path: &Path) -> Result<Vec<domain::Point>, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServeError::Io {
        what: format!("reading points file {}", path.display()),
        source,
    })?;
    let file: PointsFile = toml::from_str(&text)
        .map_err(|e| ServeError::Config(format!("points file {}: {e}", path.display())))?;
    for p in &file.points {
        crate::points::validate_point(p).map_err(|m| {
            ServeError::Config(format!(
                "points file {}: point {}: {m}",
                path.display(),
                p.id
            ))
        })?;
    }
    Ok(file.points)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's annotated config file is a valid config (every key it shows exists).
    #[test]
    fn the_readme_config_example_parses() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("```toml\ndata_dir")
            .expect("the README shows a config file");
        let body = &readme[start + "```toml\n".len()..];
        let end = body.find("```").expect("block ends");
        let config = Config::from_toml(&body[..end]).expect("the README's example parses");
        assert_eq!(config.http.session_hours, 12);
        assert_eq!(config.cases.verify_clean_hours, 72);
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        assert_eq!(Config::from_toml("").ok(), Some(Config::default()));
    }

    #[test]
    fn unknown_keys_and_impossible_values_are_named() {
        let e = Config::from_toml("[hj212]\nlisten = \"0.0.0.0:1\"\nidle = 3\n")
            .expect_err("unknown key");
        assert!(e.to_string().contains("idle"), "{e}");
        let e = Config::from_toml("[hj212]\nmax_batch = 0\n").expect_err("zero batch");
        assert!(e.to_string().contains("hj212.max_batch"), "{e}");
        let e = Config::from_toml("[http]\nlisten = \"nowhere\"\n").expect_err("bad address");
        assert!(e.to_string().contains("listen"), "{e}");
    }

    #[test]
    fn a_simulated_clock_runs_from_its_start_at_its_speed() {
        let c = Config::from_toml("[clock]\nstart = \"2026-01-01T00:00:00+08:00\"\nspeed = 3600\n")
            .expect("valid");
        let clock = c.clock.clock().expect("clock");
        let t0 = 1_767_196_800_000;
        let now = clock.now_ms();
        assert!((t0..t0 + 3_600_000).contains(&now), "{now}");
        assert!(Config::from_toml("[clock]\nspeed = 0\n").is_err());
    }

    #[test]
    fn retention_zero_means_forever() {
        let r = StoreConfig::default().retention();
        assert_eq!(r.min_days, None);
        assert_eq!(r.packets_days, Some(180));
    }
}
