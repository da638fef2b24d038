//! Running a fleet: each device on its own TCP connection, like a field data logger.
//!
//! A device keeps a queue of packets to deliver. On schedule (simulated time) it adds real-time
//! (2011), interval (2051), hourly (2061) and daily (2031) packets; it sends the oldest, waits for
//! the 9014 (HJ 212 defaults: 10 s, 3 tries), and only then drops it. When the connection fails
//! it keeps the queue, reconnects with a growing back-off and re-sends in order, so an outage
//! loses nothing and the server sees repeats (which it must not store twice). While waiting it
//! answers the platform's commands: 1011 (report the time), 1012 (set the time), 2051/2061/2031
//! history requests (re-generated from the value models, so they match what was sent live), and
//! refuses what it cannot do with QnRtn 2.
//!
//! Time is a [`SimClock`]: a start instant and a speed factor (60 = an hour a minute). Backfill
//! queues the interval data of a past period first and delivers it as fast as it is answered.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hj212::codes::{ExeRtn, QnRtn};
use hj212::{Command, HistoryKind, LocalTime, Message, Packet, ReplyTo};
use tokio::sync::watch;

use crate::fleet::Device;
use crate::scenario::Incident;
use crate::{Link, SimError};

/// The simulator's clock is the platform's [`domain::Clock`].
pub type SimClock = domain::Clock;

/// What a run sends.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The server's HJ 212 address.
    pub target: SocketAddr,
    /// The clock.
    pub clock: SimClock,
    /// Send real-time data (2011).
    pub realtime: bool,
    /// Backfill interval data from the start of the hour of this instant (Unix seconds) up to
    /// the clock's start: a logger's history holds whole hours, so the first hour of the
    /// history is not a part-hour that the validity rule would rightly call invalid.
    pub backfill_from: Option<i64>,
    /// Answer timeout (HJ 212 default 10 s).
    pub ack_timeout: Duration,
    /// Tries per packet before reconnecting (HJ 212 default 3).
    pub tries: u32,
}

/// Counters of a run.
#[derive(Debug, Default)]
pub struct RunStats {
    /// Packets acknowledged.
    pub acknowledged: AtomicU64,
    /// Sends that were repeats (after a timeout or a reconnect).
    pub resent: AtomicU64,
    /// Connections made after the first.
    pub reconnects: AtomicU64,
    /// Commands answered.
    pub commands: AtomicU64,
}

impl RunStats {
    fn add(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A JSON summary.
    pub fn summary(&self) -> serde_json::Value {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "acknowledged": g(&self.acknowledged), "resent": g(&self.resent),
            "reconnects": g(&self.reconnects), "commands": g(&self.commands),
        })
    }
}

fn next_multiple(t: i64, step: i64) -> i64 {
    (t.div_euclid(step) + 1) * step
}

/// Beijing-aligned next multiple (days start at Beijing midnight).
fn next_bj(t: i64, step: i64) -> i64 {
    next_multiple(t + bjtime::OFFSET_S, step) - bjtime::OFFSET_S
}

struct Session {
    device: Device,
    config: Arc<RunConfig>,
    incidents: Arc<Vec<Incident>>,
    stats: Arc<RunStats>,
    queue: VecDeque<(String, Message)>,
    /// Offset added to the clock by 1012 (set time), ms.
    clock_offset_ms: i64,
}

impl Session {
    fn now_ms(&self) -> i64 {
        self.config.clock.now_ms() + self.clock_offset_ms
    }

    fn push(&mut self, m: Option<Message>) {
        if let Some(m) = m
            && let Some(qn) = m.qn().map(str::to_owned)
        {
            self.queue.push_back((qn, m));
        }
    }

    fn intervals(&mut self, cn: &str, from: i64, to: i64, step: i64) {
        let mut t = next_bj(from - 1, step);
        while t + step <= to {
            let qn_ms = self.now_ms();
            let m = self.device.interval(cn, t, step, qn_ms, &self.incidents);
            self.push(m);
            t += step;
        }
    }

    fn silent(&self, t: i64) -> bool {
        self.incidents.iter().any(|i| {
            i.kind == crate::scenario::IncidentKind::Silent && i.applies(&self.device.point_id, t)
        })
    }

    /// Answers a command from the platform.
    async fn command(&mut self, link: &mut Link, p: &Packet) -> Result<(), SimError> {
        let to = ReplyTo::from_packet(p);
        let send = |m: Message| m.encode();
        let command = Command::from_message(&Message::from_packet(p));
        RunStats::add(&self.stats.commands);
        let Ok(command) = command else {
            link.send(&send(to.request_answer(QnRtn::Refused))?).await?;
            return Ok(());
        };
        let supported = matches!(
            command,
            Command::GetTime { .. } | Command::SetTime { .. } | Command::History { .. }
        );
        if !supported {
            link.send(&send(to.request_answer(QnRtn::Refused))?).await?;
            return Ok(());
        }
        link.send(&send(to.request_answer(QnRtn::Ready))?).await?;
        match command {
            Command::GetTime { .. } => {
                let mut m = Message::new(
                    p.qn(),
                    self.device.kind.st(),
                    "1011",
                    Some(&self.device.password),
                    Some(&self.device.mn),
                    None,
                );
                m.cp = hj212::DataArea::new().param(
                    "SystemTime",
                    LocalTime::from_unix_millis(self.now_ms()).to_protocol(),
                );
                link.send(&send(m)?).await?;
            }
            Command::SetTime { time, .. } => {
                self.clock_offset_ms += time.unix_millis() - self.now_ms();
            }
            Command::History { kind, begin, end } => {
                let (cn, step) = match kind {
                    HistoryKind::Minute => ("2051", self.device.min_interval_min * 60),
                    HistoryKind::Hour => ("2061", 3600),
                    _ => ("2031", 86_400),
                };
                let (from, to) = (begin.unix_seconds(), end.unix_seconds() + 1);
                let mut t = next_bj(from - 1, step);
                while t + step <= to.max(t + step) && t < to {
                    let qn_ms = self.now_ms();
                    if let Some(m) = self.device.interval(cn, t, step, qn_ms, &self.incidents) {
                        let qn = m.qn().unwrap_or_default().to_owned();
                        link.send_data(&m, &qn, self.config.ack_timeout).await?;
                        RunStats::add(&self.stats.acknowledged);
                    }
                    t += step;
                }
            }
            _ => {}
        }
        link.send(&send(to.execution_result(ExeRtn::Success))?)
            .await?;
        Ok(())
    }

    /// Delivers the queue's head: send, wait for its 9014 (answering commands meanwhile).
    async fn deliver(&mut self, link: &mut Link) -> Result<(), SimError> {
        let Some((qn, m)) = self.queue.front().cloned() else {
            return Ok(());
        };
        let bytes = m.encode()?;
        for attempt in 0..self.config.tries.max(1) {
            if attempt > 0 {
                RunStats::add(&self.stats.resent);
            }
            link.send(&bytes).await?;
            let deadline = Instant::now() + self.config.ack_timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match link.read_packet(left).await {
                    Ok(p) if p.cn() == "9014" && p.exchange_qn() == Some(qn.as_str()) => {
                        self.queue.pop_front();
                        RunStats::add(&self.stats.acknowledged);
                        return Ok(());
                    }
                    Ok(p) if p.cn() == "9011" && p.exchange_qn() == Some(qn.as_str()) => {
                        // Refused (unknown MN, bad password...): a real logger drops it too.
                        self.queue.pop_front();
                        return Ok(());
                    }
                    Ok(p)
                        if hj212::codes::command(p.cn())
                            .is_some_and(|(k, _)| k != hj212::codes::CommandKind::Reply) =>
                    {
                        self.command(link, &p).await?;
                    }
                    Ok(_) => {}
                    Err(SimError::Timeout(_)) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Err(SimError::Timeout(self.config.ack_timeout))
    }
}

/// Runs one device until `stop` turns true.
pub async fn run_device(
    device: Device,
    config: Arc<RunConfig>,
    incidents: Arc<Vec<Incident>>,
    stats: Arc<RunStats>,
    mut stop: watch::Receiver<bool>,
) {
    let start_s = config.clock.now_ms() / 1000;
    let mut s = Session {
        device,
        config: Arc::clone(&config),
        incidents,
        stats,
        queue: VecDeque::new(),
        clock_offset_ms: 0,
    };
    if let Some(from) = config.backfill_from.map(bjtime::hour_start) {
        let min_step = s.device.min_interval_min.max(1) * 60;
        s.intervals("2051", from, start_s, min_step);
        s.intervals("2061", from, start_s, 3600);
        s.intervals("2031", from, start_s, 86_400);
    }
    let rtd_step = s.device.rtd_interval_s.max(1);
    let min_step = s.device.min_interval_min.max(1) * 60;
    let mut next = [
        next_multiple(start_s, rtd_step),
        next_bj(start_s, min_step),
        next_bj(start_s, 3600),
        next_bj(start_s, 86_400),
    ];
    let mut link: Option<Link> = None;
    let mut backoff = Duration::from_millis(200);
    let mut connected_once = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let now_s = s.now_ms() / 1000;
        // Due data: queue it.
        if config.realtime && now_s >= next[0] {
            let m = s.device.realtime(next[0], s.now_ms(), &s.incidents);
            s.push(m);
            next[0] = next_multiple(now_s, rtd_step);
        }
        for (i, (cn, step)) in [
            (1, ("2051", min_step)),
            (2, ("2061", 3600)),
            (3, ("2031", 86_400)),
        ] {
            if now_s >= next[i] {
                s.intervals(cn, next[i] - step, now_s, step);
                next[i] = next_bj(now_s, step);
            }
        }
        if s.silent(now_s) {
            link = None;
        } else if link.is_none() {
            match Link::connect(config.target).await {
                Ok(l) => {
                    if connected_once {
                        RunStats::add(&s.stats.reconnects);
                    }
                    connected_once = true;
                    link = Some(l);
                    backoff = Duration::from_millis(200);
                }
                Err(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        }
        if let Some(l) = link.as_mut() {
            while !s.queue.is_empty() && !*stop.borrow() {
                if s.deliver(l).await.is_err() {
                    link = None;
                    break;
                }
            }
        }
        if link.is_none() && !s.silent(now_s) {
            continue;
        }
        // Wait for the next due time, answering commands meanwhile.
        let due = next
            .iter()
            .copied()
            .skip(usize::from(!config.realtime))
            .min()
            .unwrap_or(now_s + 60);
        let wait = config
            .clock
            .wall_until(due * 1000 - s.clock_offset_ms)
            .max(Duration::from_millis(5));
        match link.as_mut() {
            Some(l) => {
                tokio::select! {
                    r = l.read_packet(wait) => match r {
                        Ok(p) if hj212::codes::command(p.cn()).is_some_and(|(k, _)| k != hj212::codes::CommandKind::Reply) => {
                            if s.command(l, &p).await.is_err() {
                                link = None;
                            }
                        }
                        Ok(_) | Err(SimError::Timeout(_)) => {}
                        Err(_) => link = None,
                    },
                    _ = stop.changed() => return,
                }
            }
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(Duration::from_secs(1))) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// Runs devices until `stop` turns true; returns the counters.
pub async fn run_fleet(
    devices: Vec<Device>,
    config: RunConfig,
    incidents: Vec<Incident>,
    stop: watch::Receiver<bool>,
) -> Arc<RunStats> {
    let config = Arc::new(config);
    let incidents = Arc::new(incidents);
    let stats = Arc::new(RunStats::default());
    let mut set = tokio::task::JoinSet::new();
    for d in devices {
        set.spawn(run_device(
            d,
            Arc::clone(&config),
            Arc::clone(&incidents),
            Arc::clone(&stats),
            stop.clone(),
        ));
    }
    while set.join_next().await.is_some() {}
    stats
}

/// Devices for points (seeded by their MN).
pub fn devices_for(points: &[domain::Point]) -> Vec<Device> {
    points
        .iter()
        .map(|p| Device {
            point_id: p.id.clone(),
            mn: p.mn.clone(),
            password: p.password.clone(),
            kind: crate::fleet::DeviceKind::from_point(p.kind),
            rtd_interval_s: i64::from(p.rtd_interval_s.max(1)),
            min_interval_min: i64::from(p.min_interval_min.max(1)),
            seed: p
                .mn
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
            link_loss: 0.0,
            // A registry that does not list the units: the usual wet scrubber.
            wet_scrubbed: p.abatement.is_empty() || p.abatement.iter().any(|u| u == "wet_fgd"),
        })
        .collect()
}

/// Writes the label file: one JSON line per incident.
pub fn write_labels(path: &std::path::Path, incidents: &[Incident]) -> std::io::Result<()> {
    let mut out = String::new();
    for i in incidents {
        out.push_str(&i.label().to_string());
        out.push('\n');
    }
    std::fs::write(path, out)
}
