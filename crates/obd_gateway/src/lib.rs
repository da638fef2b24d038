//! # obd_gateway: the truck front door (HJ 1239 / GB 17691 terminals)
//!
//! Truck terminals connect over TCP and keep the connection while the engine runs. For each
//! connection the gateway cuts frames with [`hj1239::Framer`] (resynchronising on `##` after
//! garbage) and judges each frame in the order that rejects cheapest first ([`ObdGateway::
//! judge`], a function of the bytes, the connection's session, the vehicle registry and the
//! clock): the frame itself (start, length, BCC), the VIN (syntax and GB 16735 check digit), the
//! registry (unknown and deregistered VINs), the session (one terminal per connection),
//! encryption, the command unit, and for a report its layout (the vehicle's own, or detected),
//! its SM2 signature when the vehicle's public key is registered, and each record's collection
//! time (not later than the clock allows, not older than the reissue window). Every frame,
//! accepted or not, becomes a raw-log row with what became of it and why.
//!
//! **Durable acknowledgement.** A frame is handed to the [`ObdHandoff`] (the embedded one is
//! the truck store's [`store::obd::ObdWriter`], which commits all waiting frames in one
//! transaction) and answered only after the commit: the acknowledgement repeats the frame's
//! command unit and VIN with its time field as the data unit (the terminal matches replies on
//! command and VIN), and a time-calibration request is answered with the platform's time. A
//! quarantined frame is kept and not acknowledged; a frame whose commit failed is not
//! acknowledged either, and the connection is closed, so the terminal sends it again. The
//! store's identity on (VIN, collection time, type) makes reissues and resends harmless.
//!
//! **Sessions** (HJ 1239.3 §5.4): a session is its TCP connection. A login binds it to the
//! VIN; a logout is acknowledged and ends it; a broken connection ends it; a connection silent
//! for `idle_timeout` is closed. Caps on connections in total and per source address, a
//! deadline for finishing a started frame, and TCP keepalive defend the listener.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use hj1239::frame::{Cut, FrameError};
use hj1239::report::{BitOrder, Layout, Report};
use hj1239::{Command, Frame, Framer, Message, Time};
use serde_json::{Map, Value};
use store::obd::{FrameStatus, NewRecord, ObdFrame, ObdHandoff, ObdIngest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The registry the gateway's vehicles come from.
pub const VEHICLE_REGISTRY: &str = "heavy_duty_vehicles";

/// How a terminal signs: the signer ID of its SM2 signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    /// The terminal's security-chip ID.
    ChipId,
    /// The GB/T 32918.2 default `1234567812345678`.
    Default,
    /// Any other ID.
    Custom(String),
}

/// A vehicle as the front door needs it: whether it may send, how to read it, how to check
/// its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vehicle {
    /// VIN.
    pub vin: String,
    /// `false` once deregistered: its frames are quarantined.
    pub admitted: bool,
    /// Its terminal's real-time layout; `None` detects it per report.
    pub layout: Option<Layout>,
    /// Its OBD monitor maps' bit order.
    pub bit_order: BitOrder,
    /// Its terminal's security-chip ID.
    pub chip_id: Option<String>,
    /// Its terminal's SM2 public key; with one, every report must carry a signature that
    /// verifies.
    pub public_key: Option<[u8; 64]>,
    /// Its signer ID; `None` uses the gateway's default.
    pub signer_id: Option<SignerId>,
}

impl Vehicle {
    /// A vehicle from its registry entry (the `heavy_duty_vehicles` schema's fields).
    pub fn from_entry(data: &Map<String, Value>) -> Result<Vehicle, String> {
        let text = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let vin = text("vin").ok_or("no VIN")?.to_owned();
        let layout = match text("protocol_layout") {
            None | Some("auto") => None,
            Some(l) => Some(l.parse::<Layout>()?),
        };
        let bit_order = match text("monitor_bit_order") {
            None | Some("lsb0") => BitOrder::Lsb0,
            Some("msb0") => BitOrder::Msb0,
            Some(o) => return Err(format!("{vin}: bit order {o:?}")),
        };
        let public_key = match text("terminal_public_key") {
            None => None,
            Some(h) => {
                let b =
                    hj1239::frame::from_hex(h).map_err(|e| format!("{vin}: public key: {e}"))?;
                Some(<[u8; 64]>::try_from(b.as_slice()).map_err(|_| {
                    format!(
                        "{vin}: the public key is {} bytes, 64 expected (X then Y)",
                        b.len()
                    )
                })?)
            }
        };
        let signer_id = text("signer_id").map(|s| match s {
            "chip_id" => SignerId::ChipId,
            "default" => SignerId::Default,
            other => SignerId::Custom(other.to_owned()),
        });
        Ok(Vehicle {
            admitted: text("status") != Some("deregistered"),
            layout,
            bit_order,
            chip_id: text("terminal_chip_id").map(str::to_owned),
            public_key,
            signer_id,
            vin,
        })
    }

    fn signer(&self, default: &SignerId) -> String {
        match self.signer_id.as_ref().unwrap_or(default) {
            SignerId::ChipId => self.chip_id.clone().unwrap_or_default(),
            SignerId::Default => hj1239::sign::DEFAULT_SIGNER_ID.to_owned(),
            SignerId::Custom(s) => s.clone(),
        }
    }
}

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct ObdConfig {
    /// Most concurrent terminal connections.
    pub max_connections: usize,
    /// Most concurrent connections from one source address.
    pub max_connections_per_ip: usize,
    /// A connection that sends nothing for this long is closed (terminals send every 10 s
    /// while the engine runs).
    pub idle_timeout: Duration,
    /// A started frame must be complete within this time.
    pub frame_timeout: Duration,
    /// TCP keepalive idle time.
    pub keepalive: Duration,
    /// Largest frame accepted, bytes (a frame declaring more is refused and the connection
    /// closed).
    pub max_frame_len: usize,
    /// Most frames committed in one transaction.
    pub max_batch: usize,
    /// The clock that stamps receive times and judges collection times.
    pub clock: domain::Clock,
    /// How far ahead of the platform clock a collection time may be.
    pub max_clock_ahead: Duration,
    /// How old a record may be: the reissue window (HJ 1239.1: five days).
    pub max_age: Duration,
    /// The signer ID of vehicles whose entry names none.
    pub signer_id: SignerId,
}

impl Default for ObdConfig {
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            max_connections_per_ip: 20_000,
            idle_timeout: Duration::from_secs(180),
            frame_timeout: Duration::from_secs(30),
            keepalive: Duration::from_secs(120),
            max_frame_len: 16 * 1024,
            max_batch: 1024,
            clock: domain::Clock::system(),
            max_clock_ahead: Duration::from_secs(300),
            max_age: Duration::from_secs(5 * 86_400),
            signer_id: SignerId::Default,
        }
    }
}

/// A gateway failure that stops it.
#[derive(Debug, thiserror::Error)]
pub enum ObdGatewayError {
    /// Accepting connections failed.
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
}

/// Counters since start (for `/metrics` and the bench).
#[derive(Debug, Default)]
pub struct ObdStats {
    /// Connections accepted.
    pub connections_accepted: AtomicU64,
    /// Connections refused by a cap.
    pub connections_refused: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections closed for idleness or an unfinished frame.
    pub connections_timed_out: AtomicU64,
    /// Frames and rejected byte runs received.
    pub frames_received: AtomicU64,
    /// Frames with new records.
    pub frames_stored: AtomicU64,
    /// Frames whose every record was stored already.
    pub frames_duplicate: AtomicU64,
    /// Frames quarantined.
    pub frames_quarantined: AtomicU64,
    /// Records newly stored.
    pub records_stored: AtomicU64,
    /// Acknowledgements and time replies written.
    pub replies_sent: AtomicU64,
    /// Frames not committed (not acknowledged).
    pub commit_failures: AtomicU64,
}

impl ObdStats {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter with its Prometheus name, help text and type.
    pub fn samples(&self) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            (
                "huanghe_hj1239_connections_accepted_total",
                "HJ 1239 connections accepted",
                "counter",
                get(&self.connections_accepted),
            ),
            (
                "huanghe_hj1239_connections_refused_total",
                "HJ 1239 connections refused by a cap",
                "counter",
                get(&self.connections_refused),
            ),
            (
                "huanghe_hj1239_connections_open",
                "HJ 1239 connections open now",
                "gauge",
                get(&self.connections_open),
            ),
            (
                "huanghe_hj1239_connections_timed_out_total",
                "HJ 1239 connections closed by the idle or frame deadline",
                "counter",
                get(&self.connections_timed_out),
            ),
            (
                "huanghe_hj1239_frames_received_total",
                "HJ 1239 frames and rejected byte runs received",
                "counter",
                get(&self.frames_received),
            ),
            (
                "huanghe_hj1239_frames_stored_total",
                "HJ 1239 frames with new records",
                "counter",
                get(&self.frames_stored),
            ),
            (
                "huanghe_hj1239_frames_duplicate_total",
                "HJ 1239 frames whose records were stored already",
                "counter",
                get(&self.frames_duplicate),
            ),
            (
                "huanghe_hj1239_frames_quarantined_total",
                "HJ 1239 frames quarantined",
                "counter",
                get(&self.frames_quarantined),
            ),
            (
                "huanghe_hj1239_records_stored_total",
                "truck records newly stored",
                "counter",
                get(&self.records_stored),
            ),
            (
                "huanghe_hj1239_replies_sent_total",
                "HJ 1239 acknowledgements and time replies written",
                "counter",
                get(&self.replies_sent),
            ),
            (
                "huanghe_hj1239_commit_failures_total",
                "HJ 1239 frames not committed and therefore not acknowledged",
                "counter",
                get(&self.commit_failures),
            ),
        ]
    }
}

/// A terminal's connection state, as the vehicle list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalState {
    /// VIN.
    pub vin: String,
    /// Connected now.
    pub online: bool,
    /// Its address.
    pub peer: String,
    /// Its last frame, Unix ms.
    pub last_frame_ms: i64,
    /// Its last login, Unix ms.
    pub last_login_ms: Option<i64>,
    /// Frames received since start.
    pub frames: u64,
}

/// One connection's session.
#[derive(Debug, Default, Clone)]
pub struct Session {
    /// The VIN the connection is bound to (by its first frame that passed the registry).
    pub vin: Option<String>,
    /// Whether it logged in.
    pub logged_in: bool,
}

/// What to do with one frame: what to commit, the reply owed once it is committed, and
/// whether the session ends after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The raw-log row and records.
    pub ingest: ObdIngest,
    /// The reply (acknowledgement or platform time), sent only after the commit.
    pub reply: Option<Vec<u8>>,
    /// Close the connection after the reply (a logout, or a flood).
    pub close: bool,
}

/// What the gateway shares between connections.
pub struct ObdGateway {
    config: ObdConfig,
    handoff: Box<dyn ObdHandoff>,
    vehicles: RwLock<HashMap<String, Vehicle>>,
    terminals: Mutex<HashMap<String, TerminalState>>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    connections: tokio::sync::Semaphore,
    stats: ObdStats,
}

fn reason_of(e: &FrameError) -> String {
    match e {
        FrameError::Bcc { .. } => format!("bcc: {e}"),
        FrameError::Length { .. } | FrameError::Short(_) | FrameError::TooLong(_) => {
            format!("length: {e}")
        }
        _ => format!("frame: {e}"),
    }
}

impl ObdGateway {
    /// A gateway making frames durable through `handoff`; it admits no vehicle until
    /// [`ObdGateway::set_vehicles`] gives it the registry.
    pub fn new(config: ObdConfig, handoff: impl ObdHandoff) -> Arc<Self> {
        Arc::new(Self {
            connections: tokio::sync::Semaphore::new(config.max_connections),
            config,
            handoff: Box::new(handoff),
            vehicles: RwLock::new(HashMap::new()),
            terminals: Mutex::new(HashMap::new()),
            per_ip: Mutex::new(HashMap::new()),
            stats: ObdStats::default(),
        })
    }

    /// Replaces the vehicle table (at start and after every change to the registry).
    pub fn set_vehicles(&self, vehicles: Vec<Vehicle>) {
        let map = vehicles.into_iter().map(|v| (v.vin.clone(), v)).collect();
        if let Ok(mut v) = self.vehicles.write() {
            *v = map;
        }
    }

    /// What the gateway has done since it started.
    pub fn stats(&self) -> &ObdStats {
        &self.stats
    }

    /// The terminals seen since start.
    pub fn terminals(&self) -> Vec<TerminalState> {
        let mut list: Vec<TerminalState> = self
            .terminals
            .lock()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        list.sort_by(|a, b| a.vin.cmp(&b.vin));
        list
    }

    fn quarantine(
        received_ms: i64,
        peer: &str,
        frame: Option<&Frame<'_>>,
        raw: &[u8],
        reason: String,
    ) -> Decision {
        Decision {
            ingest: ObdIngest {
                frame: ObdFrame {
                    received_ms,
                    peer: peer.to_owned(),
                    vin: frame.map(|f| f.vin.clone()),
                    command: frame.map(|f| f.command),
                    status: FrameStatus::Quarantined,
                    reason: Some(reason),
                    raw: raw.to_vec(),
                },
                records: Vec::new(),
            },
            reply: None,
            close: false,
        }
    }

    /// Judges one frame (or run of bytes that is not a frame) received at `received_ms` on a
    /// connection with `session`.
    pub fn judge(
        &self,
        cut: &Cut,
        peer: &str,
        session: &mut Session,
        received_ms: i64,
    ) -> Decision {
        let raw = match cut {
            Cut::Skipped { bytes, reason } => {
                let mut d = Self::quarantine(received_ms, peer, None, bytes, reason_of(reason));
                d.close = matches!(reason, FrameError::TooLong(_));
                return d;
            }
            Cut::Frame(raw) => raw,
        };
        let q = |frame: Option<&Frame<'_>>, reason: String| {
            Self::quarantine(received_ms, peer, frame, raw, reason)
        };
        let f = match Frame::parse(raw) {
            Ok(f) => f,
            Err(e) => return q(None, reason_of(&e)),
        };
        if let Err(e) = hj1239::vin::check(&f.vin) {
            return q(Some(&f), format!("vin_check: {e}"));
        }
        let Some(vehicle) = self
            .vehicles
            .read()
            .ok()
            .and_then(|v| v.get(&f.vin).cloned())
        else {
            return q(
                Some(&f),
                "unknown_vin: not in the heavy-duty vehicle registry".into(),
            );
        };
        if !vehicle.admitted {
            return q(Some(&f), "deregistered: the vehicle is deregistered".into());
        }
        match &session.vin {
            Some(v) if *v != f.vin => {
                return q(
                    Some(&f),
                    format!("vin_mismatch: this connection belongs to {v}"),
                );
            }
            _ => session.vin = Some(f.vin.clone()),
        }
        if f.encryption != 0x01 {
            return q(
                Some(&f),
                format!(
                    "encrypted: encryption {:02X}, no key to read it",
                    f.encryption
                ),
            );
        }
        let m = match Message::decode(&f) {
            Ok(m) => m,
            Err(e) => return q(Some(&f), format!("data_unit: {e}")),
        };
        let ack = |data: &[u8]| {
            Frame {
                command: f.command,
                vin: f.vin.clone(),
                software_version: f.software_version,
                encryption: 0x01,
                data,
            }
            .encode()
            .ok()
        };
        let time_field = f.data.get(..6).unwrap_or_default();
        let control = |reply: Option<Vec<u8>>, close: bool| Decision {
            ingest: ObdIngest {
                frame: ObdFrame {
                    received_ms,
                    peer: peer.to_owned(),
                    vin: Some(f.vin.clone()),
                    command: Some(f.command),
                    status: FrameStatus::Control,
                    reason: None,
                    raw: raw.clone(),
                },
                records: Vec::new(),
            },
            reply,
            close,
        };
        let (time, body) = match &m {
            Message::Login { .. } => {
                session.logged_in = true;
                return control(ack(time_field), false);
            }
            Message::Logout { .. } => return control(ack(time_field), true),
            Message::TimeCalibration(None) => {
                let now = Time::from_unix(received_ms.div_euclid(1000));
                return control(ack(&now.encode()), false);
            }
            Message::AntiRemoval { .. } => return control(ack(time_field), false),
            Message::Activation(a) => {
                // Filing is the national platform's; the frame is kept with what it proves.
                let signer = vehicle.signer(&self.config.signer_id);
                let mut d = control(None, false);
                d.ingest.frame.reason = Some(match a.verify(&signer) {
                    Ok(()) => format!("activation of chip {}: signature verified", a.chip_id),
                    Err(e) => format!("activation of chip {}: {e}", a.chip_id),
                });
                return d;
            }
            Message::RealTime { time, body } | Message::Reissue { time, body } => (*time, body),
            _ => return control(None, false),
        };
        let read = match vehicle.layout {
            Some(l) => Report::read_with_spans(time, body, l),
            None => Report::detect_with_spans(time, body),
        };
        let (report, spans) = match read {
            Ok(r) => r,
            Err(e) => return q(Some(&f), format!("report: {e}")),
        };
        let mut remarks = Vec::new();
        if let Some(key) = &vehicle.public_key {
            if report.layout != Layout::Hj1239 || report.signature.is_none() {
                return q(
                    Some(&f),
                    "unsigned: the vehicle's key is registered and the report carries no packet signature".into(),
                );
            }
            let signer = vehicle.signer(&self.config.signer_id);
            if let Err(e) = hj1239::sign::verify_packet(f.data, key, &signer) {
                return q(Some(&f), format!("signature: {e}"));
            }
            remarks.push("signature verified".to_owned());
        }
        if let Some((kind, rest)) = &report.unread {
            remarks.push(format!(
                "type {kind:02X} and {} bytes after it not read",
                rest.len()
            ));
        }
        let now_s = received_ms.div_euclid(1000);
        let latest = now_s + self.config.max_clock_ahead.as_secs() as i64;
        let earliest = now_s - self.config.max_age.as_secs() as i64;
        let (mut future, mut old) = (0, 0);
        let mut records = Vec::with_capacity(report.items.len());
        for (item, span) in report.items.iter().zip(spans) {
            let ts = report.item_time(item).to_unix();
            if ts > latest {
                future += 1;
            } else if ts < earliest {
                old += 1;
            } else {
                records.push(NewRecord {
                    ts,
                    kind: item.info.kind(),
                    body: body[span].to_vec(),
                });
            }
        }
        if future > 0 {
            remarks.push(format!(
                "{future} records dated after the platform clock allows"
            ));
        }
        if old > 0 {
            remarks.push(format!("{old} records older than the reissue window"));
        }
        if records.is_empty() {
            return q(
                Some(&f),
                format!(
                    "time: no record within the accepted window ({})",
                    remarks.join("; ")
                ),
            );
        }
        if !session.logged_in {
            remarks.push("before login".to_owned());
        }
        Decision {
            ingest: ObdIngest {
                frame: ObdFrame {
                    received_ms,
                    peer: peer.to_owned(),
                    vin: Some(f.vin.clone()),
                    command: Some(f.command),
                    status: FrameStatus::Stored,
                    reason: (!remarks.is_empty()).then(|| remarks.join("; ")),
                    raw: raw.clone(),
                },
                records,
            },
            reply: ack(time_field),
            close: false,
        }
    }

    /// Accepts connections until `shutdown` turns true, then waits for open connections to
    /// finish the frame they are handling.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ObdGatewayError> {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let Some(guard) = self.admit(peer) else {
                        drop(stream);
                        continue;
                    };
                    let gw = Arc::clone(&self);
                    let stop = shutdown.clone();
                    tasks.spawn(async move {
                        let _guard = guard;
                        gw.connection(stream, peer, stop).await;
                    });
                }
                _ = shutdown.changed() => break,
            }
            while tasks.try_join_next().is_some() {}
        }
        drop(listener);
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    fn admit(self: &Arc<Self>, peer: SocketAddr) -> Option<Admission> {
        let Ok(slot) = self.connections.try_acquire() else {
            ObdStats::add(&self.stats.connections_refused, 1);
            return None;
        };
        slot.forget();
        let ip = peer.ip();
        let mut per_ip = self
            .per_ip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= self.config.max_connections_per_ip {
            self.connections.add_permits(1);
            ObdStats::add(&self.stats.connections_refused, 1);
            return None;
        }
        *n += 1;
        ObdStats::add(&self.stats.connections_accepted, 1);
        ObdStats::add(&self.stats.connections_open, 1);
        Some(Admission {
            gateway: Arc::clone(self),
            ip,
        })
    }

    async fn connection(
        &self,
        mut stream: TcpStream,
        peer: SocketAddr,
        mut stop: watch::Receiver<bool>,
    ) {
        let _ = stream.set_nodelay(true);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(
            &socket2::TcpKeepalive::new()
                .with_time(self.config.keepalive)
                .with_interval(Duration::from_secs(30)),
        );
        let peer_text = peer.to_string();
        let mut framer = Framer::default();
        let mut session = Session::default();
        let mut buf = vec![0u8; 4096];
        let mut partial_since: Option<Instant> = None;
        'conn: loop {
            let deadline = match partial_since {
                Some(t) => {
                    (t + self.config.frame_timeout).min(Instant::now() + self.config.idle_timeout)
                }
                None => Instant::now() + self.config.idle_timeout,
            };
            let read = tokio::select! {
                r = tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)) => r,
                _ = stop.changed() => break 'conn,
            };
            let n = match read {
                Err(_) => {
                    ObdStats::add(&self.stats.connections_timed_out, 1);
                    break 'conn;
                }
                Ok(Err(_)) | Ok(Ok(0)) => break 'conn,
                Ok(Ok(n)) => n,
            };
            framer.push(&buf[..n]);
            while let Some(cut) = framer.next_cut() {
                let received_ms = self.config.clock.now_ms();
                ObdStats::add(&self.stats.frames_received, 1);
                let decision = self.judge(&cut, &peer_text, &mut session, received_ms);
                if let Some(vin) = &decision.ingest.frame.vin
                    && decision.ingest.frame.status != FrameStatus::Quarantined
                {
                    self.seen(vin, &peer_text, received_ms, decision.ingest.frame.command);
                }
                let status = decision.ingest.frame.status;
                match self.handoff.submit(decision.ingest).await {
                    Ok(r) => {
                        match status {
                            FrameStatus::Quarantined => {
                                ObdStats::add(&self.stats.frames_quarantined, 1)
                            }
                            FrameStatus::Stored if r.inserted == 0 => {
                                ObdStats::add(&self.stats.frames_duplicate, 1)
                            }
                            FrameStatus::Stored => ObdStats::add(&self.stats.frames_stored, 1),
                            _ => {}
                        }
                        ObdStats::add(&self.stats.records_stored, r.inserted as u64);
                    }
                    Err(e) => {
                        ObdStats::add(&self.stats.commit_failures, 1);
                        tracing::warn!(peer = %peer_text, error = %e, "truck frame not committed; not acknowledged");
                        break 'conn;
                    }
                }
                if let Some(reply) = decision.reply {
                    if stream.write_all(&reply).await.is_err() {
                        break 'conn;
                    }
                    ObdStats::add(&self.stats.replies_sent, 1);
                }
                if decision.close {
                    break 'conn;
                }
            }
            partial_since = if framer.pending() == 0 {
                None
            } else {
                partial_since.or(Some(Instant::now()))
            };
            if framer.pending() > self.config.max_frame_len {
                // A header announcing more than any terminal sends: keep what came, and close
                // rather than read a flood.
                let mut rest = Framer::default();
                std::mem::swap(&mut rest, &mut framer);
                let d = Self::quarantine(
                    self.config.clock.now_ms(),
                    &peer_text,
                    None,
                    &rest.take(),
                    format!(
                        "length: more than {} bytes without a whole frame",
                        self.config.max_frame_len
                    ),
                );
                let _ = self.handoff.submit(d.ingest).await;
                ObdStats::add(&self.stats.frames_quarantined, 1);
                break 'conn;
            }
        }
        if let (Some(vin), Ok(mut t)) = (session.vin, self.terminals.lock())
            && let Some(state) = t.get_mut(&vin)
            && state.peer == peer_text
        {
            state.online = false;
        }
    }

    fn seen(&self, vin: &str, peer: &str, ms: i64, command: Option<u8>) {
        if let Ok(mut t) = self.terminals.lock() {
            let state = t.entry(vin.to_owned()).or_insert_with(|| TerminalState {
                vin: vin.to_owned(),
                online: true,
                peer: peer.to_owned(),
                last_frame_ms: ms,
                last_login_ms: None,
                frames: 0,
            });
            state.online = command != Some(Command::Logout.code());
            state.peer = peer.to_owned();
            state.last_frame_ms = ms;
            state.frames += 1;
            if command == Some(Command::Login.code()) {
                state.last_login_ms = Some(ms);
            }
        }
    }
}

struct Admission {
    gateway: Arc<ObdGateway>,
    ip: IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.gateway.connections.add_permits(1);
        self.gateway
            .stats
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut per_ip) = self.gateway.per_ip.lock()
            && let Some(n) = per_ip.get_mut(&self.ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests;
