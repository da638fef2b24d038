//! # gateway: the HJ 212 TCP front door
//!
//! Data loggers connect and keep a TCP connection open. For each connection the gateway cuts
//! frames with [`hj212::FrameDecoder`], decodes them, authenticates MN and PW against the point
//! registry, and asks [`hj212::exchange::host_decide`] what to do. Accepted data become
//! [`domain::Observation`]s; every frame, accepted or not, becomes a raw-log record.
//!
//! **Durable acknowledgement.** Nothing is answered before it is committed: the connection hands
//! its frame to the [`Handoff`] (the embedded one is the store's [`Writer`]) and waits; the writer
//! commits whatever frames are waiting from all connections in one transaction (group commit, so
//! many frames share one fsync), and only then are the replies (9014, 9013, or 9011 with a QnRtn) written to the sockets. A frame
//! whose commit fails is not answered, so the device sends it again.
//!
//! **Defences.** A cap on connections and on connections per source address, an idle timeout,
//! a deadline for finishing a started frame (against slow senders), TCP keepalive, and the frame
//! decoder's own cap (one unfinished frame of at most 10 KB per connection).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
pub use domain::DeviceState;
use domain::{DataType, Disposition, Observation, PacketRecord, Point};
use hj212::exchange::{self, Authentication, HostDecision, HostPolicy};
use hj212::{
    CrcVariant, FieldKind, FrameConfig, FrameDecoder, FrameError, FrameEvent, Message, Packet,
};
pub use store::{Handoff, Writer};
use store::{Ingest, IngestResult, Store, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::codec::Decoder;

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Most concurrent device connections.
    pub max_connections: usize,
    /// Most concurrent connections from one source address.
    pub max_connections_per_ip: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A started frame must be complete within this time, or the connection is closed.
    pub frame_timeout: Duration,
    /// TCP keepalive idle time.
    pub keepalive: Duration,
    /// Largest data segment accepted (at most 9999).
    pub max_data_len: usize,
    /// Most frames committed in one transaction.
    pub max_batch: usize,
    /// The clock that stamps receive times.
    pub clock: domain::Clock,
    /// How far ahead of the platform clock a DataTime may be (device clocks drift); data
    /// dated later are refused and quarantined.
    pub max_clock_ahead: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            max_connections_per_ip: 20_000,
            idle_timeout: Duration::from_secs(600),
            frame_timeout: Duration::from_secs(60),
            keepalive: Duration::from_secs(120),
            max_data_len: hj212::frame::MAX_DATA_LEN,
            max_batch: 1024,
            clock: domain::Clock::system(),
            max_clock_ahead: Duration::from_secs(3600),
        }
    }
}

/// A gateway failure that stops it (per-connection problems never do).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Accepting connections failed.
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
    /// The store failed while loading the registry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often the devices that changed are saved (their last packet is in the raw log anyway; a
/// crash loses at most this long of their frame counts).
pub const DEVICE_SAVE_INTERVAL: Duration = Duration::from_secs(10);

/// The devices the gateway has seen, and which of them changed since the last save.
#[derive(Debug, Default)]
struct Devices {
    by_mn: HashMap<String, DeviceState>,
    dirty: std::collections::HashSet<String>,
}

/// Counters of what the gateway has done since it started (for `/metrics`).
#[derive(Debug, Default)]
pub struct GatewayStats {
    /// Connections accepted.
    pub connections_accepted: AtomicU64,
    /// Connections refused by the total or per-address cap.
    pub connections_refused: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections closed for idleness or an unfinished frame past its deadline.
    pub connections_timed_out: AtomicU64,
    /// Frames (and rejected byte runs) received.
    pub frames_received: AtomicU64,
    /// Frames whose data were stored.
    pub frames_stored: AtomicU64,
    /// Frames that repeated data already stored.
    pub frames_duplicate: AtomicU64,
    /// Frames kept in quarantine.
    pub frames_quarantined: AtomicU64,
    /// Observations newly stored.
    pub observations_stored: AtomicU64,
    /// Observations that replaced an earlier value.
    pub observations_replaced: AtomicU64,
    /// Replies written to devices.
    pub replies_sent: AtomicU64,
    /// Frames not committed (store failure); not acknowledged.
    pub commit_failures: AtomicU64,
}

impl GatewayStats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter with its Prometheus name, help text and type.
    pub fn samples(&self) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            (
                "huanghe_hj212_connections_accepted_total",
                "HJ 212 connections accepted",
                "counter",
                get(&self.connections_accepted),
            ),
            (
                "huanghe_hj212_connections_refused_total",
                "HJ 212 connections refused by a connection cap",
                "counter",
                get(&self.connections_refused),
            ),
            (
                "huanghe_hj212_connections_open",
                "HJ 212 connections open now",
                "gauge",
                get(&self.connections_open),
            ),
            (
                "huanghe_hj212_connections_timed_out_total",
                "HJ 212 connections closed by the idle or frame deadline",
                "counter",
                get(&self.connections_timed_out),
            ),
            (
                "huanghe_hj212_frames_received_total",
                "HJ 212 frames and rejected byte runs received",
                "counter",
                get(&self.frames_received),
            ),
            (
                "huanghe_hj212_frames_stored_total",
                "HJ 212 frames whose data were stored",
                "counter",
                get(&self.frames_stored),
            ),
            (
                "huanghe_hj212_frames_duplicate_total",
                "HJ 212 frames repeating stored data",
                "counter",
                get(&self.frames_duplicate),
            ),
            (
                "huanghe_hj212_frames_quarantined_total",
                "HJ 212 frames kept in quarantine",
                "counter",
                get(&self.frames_quarantined),
            ),
            (
                "huanghe_observations_stored_total",
                "observations newly stored",
                "counter",
                get(&self.observations_stored),
            ),
            (
                "huanghe_observations_replaced_total",
                "observations that replaced an earlier value",
                "counter",
                get(&self.observations_replaced),
            ),
            (
                "huanghe_hj212_replies_sent_total",
                "HJ 212 replies written to devices",
                "counter",
                get(&self.replies_sent),
            ),
            (
                "huanghe_commit_failures_total",
                "frames not committed and therefore not acknowledged",
                "counter",
                get(&self.commit_failures),
            ),
        ]
    }
}

/// What the gateway shares between connections.
pub struct Gateway {
    config: GatewayConfig,
    store: Arc<dyn Store>,
    handoff: Box<dyn Handoff>,
    points: RwLock<HashMap<String, Point>>,
    devices: Mutex<Devices>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    connections: tokio::sync::Semaphore,
    stats: GatewayStats,
}

fn hex4(v: u16) -> String {
    format!("{v:04X}")
}

impl Gateway {
    /// A gateway over `store` (its point registry and the API's reads), making frames durable
    /// through `handoff`; loads the point registry.
    pub fn new(
        config: GatewayConfig,
        store: Arc<dyn Store>,
        handoff: impl Handoff,
    ) -> Result<Arc<Self>, GatewayError> {
        let g = Arc::new(Self {
            connections: tokio::sync::Semaphore::new(config.max_connections),
            config,
            store,
            handoff: Box::new(handoff),
            points: RwLock::new(HashMap::new()),
            devices: Mutex::new(Devices::default()),
            per_ip: Mutex::new(HashMap::new()),
            stats: GatewayStats::default(),
        });
        g.reload_points()?;
        // Devices as they were when the platform last ran: offline, with their last packet.
        let mns: Vec<String> = g.points().into_iter().map(|p| p.mn).collect();
        let known = g.store.devices(&mns)?;
        if let Ok(mut devices) = g.devices.lock() {
            devices.by_mn = known.into_iter().map(|d| (d.mn.clone(), d)).collect();
        }
        Ok(g)
    }

    /// Saves the state of the devices that changed since the last save (the gateway does so
    /// every [`DEVICE_SAVE_INTERVAL`] and when it stops); returns how many were saved.
    pub fn save_devices(&self) -> Result<usize, GatewayError> {
        let changed: Vec<DeviceState> = match self.devices.lock() {
            Ok(mut devices) => {
                let dirty = std::mem::take(&mut devices.dirty);
                dirty
                    .iter()
                    .filter_map(|mn| devices.by_mn.get(mn).cloned())
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        self.store.save_devices(&changed)?;
        Ok(changed.len())
    }

    /// Re-reads the point registry (after the API changed it).
    pub fn reload_points(&self) -> Result<(), GatewayError> {
        let map = self
            .store
            .points()?
            .into_iter()
            .map(|p| (p.mn.clone(), p))
            .collect();
        if let Ok(mut points) = self.points.write() {
            *points = map;
        }
        Ok(())
    }

    /// What the gateway has done since it started.
    pub fn stats(&self) -> &GatewayStats {
        &self.stats
    }

    /// The store the gateway commits to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The point registry as the gateway holds it (no store read).
    pub fn points(&self) -> Vec<Point> {
        self.points
            .read()
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Connection state of every device seen since start.
    pub fn devices(&self) -> Vec<DeviceState> {
        let mut list: Vec<DeviceState> = self
            .devices
            .lock()
            .map(|d| d.by_mn.values().cloned().collect())
            .unwrap_or_default();
        list.sort_by(|a, b| a.mn.cmp(&b.mn));
        list
    }

    /// Accepts connections until `shutdown` turns true, then waits for open connections to
    /// finish the frame they are handling and close.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), GatewayError> {
        let mut tasks = tokio::task::JoinSet::new();
        let mut save = tokio::time::interval(DEVICE_SAVE_INTERVAL);
        loop {
            tokio::select! {
                _ = save.tick() => self.save_devices_in_background().await,
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors and the like: wait a little, keep serving.
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
        self.save_devices_in_background().await;
        Ok(())
    }

    async fn save_devices_in_background(self: &Arc<Self>) {
        let gw = Arc::clone(self);
        match tokio::task::spawn_blocking(move || gw.save_devices()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "device state not saved"),
            Err(e) => tracing::warn!(error = %e, "device state task failed"),
        }
    }

    fn admit(self: &Arc<Self>, peer: SocketAddr) -> Option<Admission> {
        let Ok(slot) = self.connections.try_acquire() else {
            GatewayStats::add(&self.stats.connections_refused, 1);
            tracing::warn!(%peer, "connection refused: too many connections");
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
            GatewayStats::add(&self.stats.connections_refused, 1);
            tracing::warn!(%peer, "connection refused: too many connections from this address");
            return None;
        }
        *n += 1;
        GatewayStats::add(&self.stats.connections_accepted, 1);
        GatewayStats::add(&self.stats.connections_open, 1);
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
        let sock = socket2::SockRef::from(&stream);
        let _ = sock.set_tcp_keepalive(
            &socket2::TcpKeepalive::new()
                .with_time(self.config.keepalive)
                .with_interval(Duration::from_secs(30)),
        );
        let peer_text = peer.to_string();
        let mut decoder = FrameDecoder::new(FrameConfig {
            max_data_len: self.config.max_data_len,
        });
        let mut buf = BytesMut::with_capacity(4096);
        let mut partial_since: Option<Instant> = None;
        let mut seen_mns: Vec<String> = Vec::new();
        'conn: loop {
            let deadline = match partial_since {
                Some(t) => {
                    (t + self.config.frame_timeout).min(Instant::now() + self.config.idle_timeout)
                }
                None => Instant::now() + self.config.idle_timeout,
            };
            buf.reserve(4096);
            let read = tokio::select! {
                r = tokio::time::timeout_at(deadline.into(), stream.read_buf(&mut buf)) => r,
                _ = stop.changed() => break 'conn,
            };
            let eof = match read {
                Err(_) => {
                    // idle, or a frame started too long ago
                    GatewayStats::add(&self.stats.connections_timed_out, 1);
                    break 'conn;
                }
                Ok(Err(_)) => break 'conn,
                Ok(Ok(0)) => true,
                Ok(Ok(_)) => false,
            };
            loop {
                let event = if eof {
                    decoder.decode_eof(&mut buf)
                } else {
                    decoder.decode(&mut buf)
                };
                let event = match event {
                    Ok(Some(e)) => e,
                    Ok(None) => break,
                    Err(_) => break 'conn,
                };
                let reply = self.handle(event, &peer_text, &mut seen_mns).await;
                match reply {
                    Ok(Some(bytes)) => {
                        if stream.write_all(&bytes).await.is_err() {
                            break 'conn;
                        }
                        GatewayStats::add(&self.stats.replies_sent, 1);
                    }
                    Ok(None) => {}
                    // Not committed (the device will resend), or an oversized frame: close.
                    Err(()) => break 'conn,
                }
            }
            if eof {
                break;
            }
            partial_since = if buf.is_empty() {
                None
            } else {
                partial_since.or(Some(Instant::now()))
            };
        }
        if let Ok(mut devices) = self.devices.lock() {
            for mn in seen_mns {
                if let Some(d) = devices.by_mn.get_mut(&mn)
                    && d.peer == peer_text
                {
                    d.online = false;
                }
            }
        }
    }

    /// Handles one decoder event: commits its record, then returns the reply to send.
    async fn handle(
        &self,
        event: FrameEvent,
        peer: &str,
        seen_mns: &mut Vec<String>,
    ) -> Result<Option<Vec<u8>>, ()> {
        let received_ms = self.config.clock.now_ms();
        GatewayStats::add(&self.stats.frames_received, 1);
        let frame = match event {
            FrameEvent::Frame(f) => f,
            FrameEvent::Rejected(r) => {
                let record = PacketRecord {
                    received_ms,
                    peer: peer.to_owned(),
                    mn: None,
                    cn: None,
                    qn: None,
                    crc_given: None,
                    crc_computed: None,
                    crc_variant: None,
                    deviations: vec![],
                    disposition: Disposition::Quarantined {
                        reason: format!("frame: {}", r.error),
                    },
                    quarantined_fields: vec![],
                    raw: r.raw.to_vec(),
                };
                self.commit(record, vec![]).await?;
                // A frame past the size cap is not a logger's mistake: close the connection
                // rather than keep reading a flood.
                if matches!(
                    r.error,
                    FrameError::LengthOverLimit { .. } | FrameError::Unterminated { .. }
                ) {
                    return Err(());
                }
                return Ok(None);
            }
        };
        let packet = match Packet::decode(&frame) {
            Ok(p) => p,
            Err(e) => {
                let crc = frame.verify_crc();
                let record = PacketRecord {
                    received_ms,
                    peer: peer.to_owned(),
                    mn: None,
                    cn: None,
                    qn: None,
                    crc_given: crc.given.map(hex4),
                    crc_computed: Some(hex4(crc.computed)),
                    crc_variant: crc.variant.map(|v| v.name().to_owned()),
                    deviations: vec![],
                    disposition: Disposition::Quarantined {
                        reason: format!("undecodable: {e}"),
                    },
                    quarantined_fields: vec![],
                    raw: frame.raw().to_vec(),
                };
                self.commit(record, vec![]).await?;
                return Ok(None);
            }
        };
        let point = packet
            .mn()
            .and_then(|mn| self.points.read().ok().and_then(|p| p.get(mn).cloned()));
        let auth = match &point {
            None => Authentication::UnknownMn,
            // A point registered without a password admits no device (not one sending none).
            Some(p) if p.password.is_empty() || packet.pw() != Some(p.password.as_str()) => {
                Authentication::WrongPassword
            }
            Some(_) => Authentication::Ok,
        };
        let policy = HostPolicy {
            accepted_crc: point
                .as_ref()
                .map(|p| {
                    p.accepted_crc
                        .iter()
                        .filter_map(|v| v.parse::<CrcVariant>().ok())
                        .collect()
                })
                .unwrap_or_else(|| vec![CrcVariant::Hj212]),
            latest_data_time: Some(hj212::LocalTime::from_unix_millis(
                received_ms.saturating_add(self.config.max_clock_ahead.as_millis() as i64),
            )),
            ..HostPolicy::default()
        };
        let decision = exchange::host_decide(&packet, auth, &policy);
        let crc = packet.crc();
        let mut record = PacketRecord {
            received_ms,
            peer: peer.to_owned(),
            mn: packet.mn().map(str::to_owned),
            cn: Some(packet.cn().to_owned()),
            qn: packet.exchange_qn().map(str::to_owned),
            crc_given: crc.given.map(hex4),
            crc_computed: Some(hex4(crc.computed)),
            crc_variant: crc.variant.map(|v| v.name().to_owned()),
            deviations: packet
                .deviations()
                .iter()
                .map(|d| d.kind().to_owned())
                .collect(),
            disposition: Disposition::NoData,
            quarantined_fields: vec![],
            raw: frame.raw().to_vec(),
        };
        if let (Some(mn), Some(_)) = (packet.mn(), &point) {
            self.touch(mn, peer, received_ms, seen_mns);
        }
        let (reply, variant, observations) = match decision {
            HostDecision::Reject { reason, reply, crc } => {
                record.disposition = Disposition::Quarantined {
                    reason: reason.name().to_owned(),
                };
                (reply, crc, vec![])
            }
            HostDecision::Accept { reply, crc } => {
                let observations = match (&point, DataType::from_cn(packet.cn())) {
                    // host_decide refuses a data upload without a DataTime.
                    (Some(p), Some(data_type)) => match packet.data_time() {
                        Some(t) => {
                            record.disposition = Disposition::Stored;
                            let (stored, left_out) =
                                observations(&packet, &p.id, data_type, t.unix_seconds());
                            record.quarantined_fields = left_out;
                            stored
                        }
                        None => vec![],
                    },
                    _ => vec![],
                };
                (reply, crc, observations)
            }
        };
        self.commit(record, observations).await?;
        Ok(reply.and_then(|m: Message| m.encode_with(variant).ok()))
    }

    async fn commit(
        &self,
        record: PacketRecord,
        observations: Vec<Observation>,
    ) -> Result<IngestResult, ()> {
        self.handoff
            .submit(Ingest {
                record,
                observations,
            })
            .await
            .map(|r| {
                let s = &self.stats;
                let counter = match r.disposition {
                    Disposition::Stored => Some(&s.frames_stored),
                    Disposition::Duplicate => Some(&s.frames_duplicate),
                    Disposition::Quarantined { .. } => Some(&s.frames_quarantined),
                    Disposition::NoData => None,
                };
                if let Some(c) = counter {
                    GatewayStats::add(c, 1);
                }
                GatewayStats::add(&s.observations_stored, r.inserted as u64);
                GatewayStats::add(&s.observations_replaced, r.replaced as u64);
                r
            })
            .map_err(|e| {
                GatewayStats::add(&self.stats.commit_failures, 1);
                tracing::warn!(error = %e, "frame not committed; not acknowledged");
            })
    }

    fn touch(&self, mn: &str, peer: &str, at: i64, seen: &mut Vec<String>) {
        if !seen.iter().any(|m| m == mn) {
            seen.push(mn.to_owned());
        }
        if let Ok(mut devices) = self.devices.lock() {
            let d = devices
                .by_mn
                .entry(mn.to_owned())
                .or_insert_with(|| DeviceState {
                    mn: mn.to_owned(),
                    online: true,
                    peer: peer.to_owned(),
                    last_packet_ms: at,
                    packets: 0,
                });
            d.online = true;
            d.peer = peer.to_owned();
            d.last_packet_ms = at;
            d.packets += 1;
            if !devices.dirty.contains(mn) {
                devices.dirty.insert(mn.to_owned());
            }
        }
    }
}

/// Turns a packet's pollutant groups into observations of one series. A group with a value
/// outside its type's syntax ([`hj212::Pollutant::malformed_fields`]) is not a measurement: it
/// is left out, and its malformed fields are returned as `code-Field` names.
pub fn observations(
    packet: &Packet,
    point_id: &str,
    data_type: DataType,
    time: i64,
) -> (Vec<Observation>, Vec<String>) {
    let mut stored = Vec::with_capacity(packet.pollutants().len());
    let mut left_out = Vec::new();
    for g in packet.pollutants() {
        let mut malformed = g.malformed_fields().peekable();
        if malformed.peek().is_some() {
            let code = g.code();
            left_out.extend(malformed.map(|f| format!("{code}-{f}")));
            continue;
        }
        stored.push(Observation {
            point_id: point_id.to_owned(),
            data_type,
            code: g.code().to_owned(),
            time,
            fields: g
                .fields()
                .map(|(name, kind, value)| {
                    let key = match kind {
                        FieldKind::Other => name.to_owned(),
                        k => k.json_name().to_owned(),
                    };
                    (key, value.text.to_owned())
                })
                .collect(),
        });
    }
    (stored, left_out)
}

/// Holds a connection slot; gives it back when the connection ends.
struct Admission {
    gateway: Arc<Gateway>,
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
