//! The alarm engine and the alarms API.
//!
//! The engine subscribes to the gateway's commits. For every hour that received data (live,
//! late or corrected) it re-reads that hour from the store, evaluates the window rules
//! ([`rules::evaluate`]) and records each window's condition; the store turns windows into
//! alarms (one per ongoing condition) and returns the events, which go to the live stream
//! (`/api/v1/alarms/stream`, Server-Sent Events). Silence is checked on the platform clock every
//! second in 5-minute windows. Everything is derived from stored data, so a restart loses
//! nothing: open alarms stay open and the next evaluation continues them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use domain::{DataType, Point};
use gateway::Gateway;
use rules::{RuleKind, RuleSet};
use serde::{Deserialize, Serialize};
use store::{
    AlarmEvent, AlarmQuery, AlarmStore, Handling, SeriesQuery, Store, Window, WindowUpdate,
};
use tokio::sync::{broadcast, watch};
use utoipa::{IntoParams, ToSchema};

use crate::api::{ApiError, ApiResult, AppState, ErrorBody};

/// Live alarm events and the engine's latency figures.
pub struct AlarmHub {
    events: broadcast::Sender<AlarmEvent>,
    /// Turns true at shutdown: live streams end so the HTTP server can stop.
    closing: watch::Sender<bool>,
    /// Packet receive → alarm event published, ms (most recent 100,000).
    latencies_ms: Mutex<Vec<u32>>,
}

impl Default for AlarmHub {
    fn default() -> Self {
        Self {
            events: broadcast::channel(16_384).0,
            closing: watch::channel(false).0,
            latencies_ms: Mutex::new(Vec::new()),
        }
    }
}

impl AlarmHub {
    /// Ends every live stream (shutdown).
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }

    fn publish(&self, e: AlarmEvent, received_ms: Option<i64>, now_ms: i64) {
        if let Some(r) = received_ms
            && let Ok(mut l) = self.latencies_ms.lock()
        {
            if l.len() >= 100_000 {
                l.clear();
            }
            l.push((now_ms - r).clamp(0, i64::from(u32::MAX)) as u32);
        }
        let _ = self.events.send(e);
    }

    /// p50 and p99 of packet → alarm latency, ms.
    pub fn latency_percentiles(&self) -> Option<(u32, u32)> {
        let mut l = self.latencies_ms.lock().ok()?.clone();
        if l.is_empty() {
            return None;
        }
        l.sort_unstable();
        let at = |p: f64| l[((l.len() - 1) as f64 * p).round() as usize];
        Some((at(0.5), at(0.99)))
    }
}

const SILENCE_STEP: i64 = 300;

fn blocking_err(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Runs the engine until `stop`.
#[allow(clippy::too_many_arguments)]
pub async fn engine(
    gw: Arc<Gateway>,
    series: Arc<dyn Store>,
    registries: Arc<dyn store::RegistryStore>,
    alarms: Arc<dyn AlarmStore>,
    rules: RuleSet,
    clock: domain::Clock,
    hub: Arc<AlarmHub>,
    mut stop: watch::Receiver<bool>,
) {
    let mut rx = gw.subscribe();
    let rules = Arc::new(rules);
    let started_s = clock.now_ms() / 1000;
    let mut silent_now: BTreeMap<String, i64> = BTreeMap::new();
    let cache = Arc::new(Mutex::new(HourCache::default()));
    // After subscribing: a commit is then either in what `synchronise` reads or on the way.
    synchronise(&cache, &series).await;
    {
        let (c, a) = (Arc::clone(&cache), Arc::clone(&alarms));
        let resumed = tokio::task::spawn_blocking(move || resume_unsettled(&c, &*a, clock)).await;
        if let Ok(Err(e)) | Err(e) = resumed.map_err(|e| e.to_string()) {
            tracing::error!(error = %e, "could not read the hours still to be settled");
        }
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(first) => {
                    // Take everything already waiting: one evaluation per (point, hour), one
                    // transaction for all windows.
                    let mut batch: Vec<gateway::Committed> = Vec::new();
                    let mut add = |c: gateway::Committed| batch.push(c);
                    add(first);
                    for _ in 0..20_000 {
                        match rx.try_recv() {
                            Ok(c) => add(c),
                            Err(_) => break,
                        }
                    }
                    let (s, a, r, h, c, g) = (Arc::clone(&series), Arc::clone(&alarms), Arc::clone(&rules), Arc::clone(&hub), Arc::clone(&cache), Arc::clone(&registries));
                    let result = tokio::task::spawn_blocking(move || evaluate_batch(&*s, &*g, &*a, &r, &h, &c, batch, clock)).await;
                    if let Ok(Err(e)) | Err(e) = result.map_err(|e| e.to_string()) {
                        tracing::error!(error = %e, "alarm evaluation failed");
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "alarm engine fell behind; the next data for those hours re-evaluates them");
                    synchronise(&cache, &series).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let (s, a, r, h, c, g) = (Arc::clone(&series), Arc::clone(&alarms), Arc::clone(&rules), Arc::clone(&hub), Arc::clone(&cache), Arc::clone(&registries));
                match tokio::task::spawn_blocking(move || settle_hours(&*s, &*g, &*a, &r, &h, &c, clock)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "settling hours failed"),
                    Err(e) => tracing::error!(error = %e, "settling hours task failed"),
                }
                let devices: BTreeMap<String, i64> = gw.devices().into_iter().map(|d| (d.mn, d.last_packet_ms / 1000)).collect();
                let points = gw.points();
                let (a, r, h) = (Arc::clone(&alarms), Arc::clone(&rules), Arc::clone(&hub));
                let before = silent_now.clone();
                match tokio::task::spawn_blocking(move || check_silence(&*a, &r, &h, &points, &devices, started_s, clock, before)).await {
                    Ok(Ok(now)) => silent_now = now,
                    Ok(Err(e)) => tracing::error!(error = %e, "silence check failed"),
                    Err(e) => tracing::error!(error = %e, "silence check task failed"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// [`HourCache::synchronise`] off the async threads; on failure the cache reads every hour
/// from the store (correct, only slower).
async fn synchronise(cache: &Arc<Mutex<HourCache>>, series: &Arc<dyn Store>) {
    let (c, s) = (Arc::clone(cache), Arc::clone(series));
    let result = tokio::task::spawn_blocking(move || {
        c.lock()
            .map_err(|_| "cache lock poisoned".to_owned())?
            .synchronise(&*s)
    })
    .await;
    if let Ok(Err(e)) | Err(e) = result.map_err(|e| e.to_string()) {
        tracing::error!(error = %e, "alarm engine could not read how far the stored data reach");
    }
}

/// The recent hours' observations by (point, hour), kept in memory so that evaluating an hour
/// as its data arrive does not re-read the store. An hour the store already had data for when
/// the engine last synchronised with it (late data, the first data after a restart), or one
/// evicted since, is read from the store once; a new hour starts empty and is filled by the
/// commit stream. Eviction keeps the three hours before the newest.
#[derive(Default)]
pub struct HourCache {
    /// Read once into [`rules::Row`]s (values parsed), sorted by [`rules::Row::sort_key`]:
    /// time, series, code.
    hours: BTreeMap<(String, i64), Vec<rules::Row>>,
    points: BTreeMap<String, (Arc<Point>, rules::Context, std::time::Instant)>,
    /// Windows known to be inactive in the store: re-sending an inactive verdict for them is
    /// skipped, evidence and all (most windows of most rules are inactive).
    inactive: KnownInactive,
    /// (point, hour) whose validity is not settled yet, with when data last touched it
    /// (platform time, Unix s). The keys are also kept in the store
    /// ([`AlarmStore::unsettled_hours`]) and taken up again after a restart.
    unsettled: BTreeMap<(String, i64), i64>,
    /// Hours before this one have been evicted: eviction walks the whole cache, so it runs
    /// only when the newest hour moves on, not for every batch.
    evicted_before: i64,
    /// How far the store's data reached when the engine last synchronised with it (at start,
    /// after subscribing to the commits, and again after missing some). An hour of a point
    /// that had nothing stored then, and was never evicted, has had all its data through the
    /// commit stream: it starts empty instead of being read from the store (a new hour of
    /// every point at once used to cost thousands of reads in one batch).
    reach: Option<store::NewestData>,
}

/// What the registries say about a point (matched by MN, or by the point id as the entry's code).
fn context(registries: &dyn store::RegistryStore, p: &Point) -> Result<rules::Context, String> {
    let find = |registry: &str, field: &str| -> Result<Option<String>, String> {
        Ok(registries
            .entries(registry)
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|e| {
                e.data.get("mn").and_then(|m| m.as_str()) == Some(p.mn.as_str())
                    || e.data.get("code").and_then(|c| c.as_str()) == Some(p.id.as_str())
            })
            .and_then(|e| {
                e.data
                    .get(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            }))
    };
    Ok(rules::Context {
        water_target: if p.kind == domain::PointKind::WaterSection {
            find("water_sections", "target_class")?
        } else {
            None
        },
        noise_zone: if p.kind == domain::PointKind::Noise {
            find("noise_points", "zone_class")?
        } else {
            None
        },
        baseline: BTreeMap::new(),
        peers: BTreeMap::new(),
        now_s: None,
    })
}

/// Inserts a row into a sorted hour, replacing the one with the same key (time first, so
/// live data append at the end).
fn upsert(rows: &mut Vec<rules::Row>, o: rules::Row) {
    if rows
        .last()
        .is_none_or(|last| last.sort_key() < o.sort_key())
    {
        rows.push(o);
        return;
    }
    match rows.binary_search_by(|r| r.sort_key().cmp(&o.sort_key())) {
        Ok(i) => rows[i] = o,
        Err(i) => rows.insert(i, o),
    }
}

impl HourCache {
    /// A point and what the registries say about it, re-read every 10 s (shared, not copied:
    /// this runs for every evaluation).
    fn point(
        &mut self,
        series: &dyn Store,
        registries: &dyn store::RegistryStore,
        id: &str,
    ) -> Result<Option<(Arc<Point>, rules::Context)>, String> {
        if let Some((p, c, at)) = self.points.get(id)
            && at.elapsed() < Duration::from_secs(10)
        {
            return Ok(Some((Arc::clone(p), c.clone())));
        }
        let Some(p) = series.point(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let c = context(registries, &p)?;
        let p = Arc::new(p);
        self.points.insert(
            id.to_owned(),
            (Arc::clone(&p), c.clone(), std::time::Instant::now()),
        );
        Ok(Some((p, c)))
    }

    fn hour(
        &mut self,
        series: &dyn Store,
        point_id: &str,
        h: i64,
    ) -> Result<&mut Vec<rules::Row>, String> {
        let key = (point_id.to_owned(), h);
        let unseen_by_store = h >= self.evicted_before
            && self
                .reach
                .as_ref()
                .is_some_and(|r| r.nothing_from(point_id, h));
        if unseen_by_store {
            return Ok(self.hours.entry(key).or_default());
        }
        if !self.hours.contains_key(&key) {
            let mut rows = Vec::new();
            for data_type in [DataType::Rtd, DataType::Min, DataType::Hour] {
                let q = SeriesQuery {
                    point_id: point_id.to_owned(),
                    data_type,
                    code: None,
                    from: h,
                    to: h + 3599,
                    limit: 100_000,
                };
                let stored = series.series(&q).map_err(|e| e.to_string())?;
                rows.extend(stored.iter().map(rules::Row::new));
            }
            rows.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            self.hours.insert(key.clone(), rows);
        }
        self.hours.get_mut(&key).ok_or_else(|| "cache".to_owned())
    }

    /// Reads how far the store's data reach and forgets the cached hours: called when the
    /// engine starts and when it missed commits, so that what it holds and the store agree.
    fn synchronise(&mut self, series: &dyn Store) -> Result<(), String> {
        self.hours.clear();
        self.reach = None;
        self.reach = Some(series.newest_data().map_err(|e| e.to_string())?);
        Ok(())
    }

    fn evict(&mut self, newest_hour: i64) {
        let oldest_kept = newest_hour - 3 * 3600;
        if oldest_kept <= self.evicted_before {
            return;
        }
        self.evicted_before = oldest_kept;
        self.hours.retain(|(_, h), _| *h >= oldest_kept);
        self.inactive.retain_from(oldest_kept);
    }
}

/// Windows recorded inactive, by point, rule and code, then hour: looked up by `&str` without
/// building a key (the lookup runs for every verdict of every evaluation).
#[derive(Default)]
struct KnownInactive(
    std::collections::HashMap<
        String,
        std::collections::HashMap<
            String,
            std::collections::HashMap<String, std::collections::HashSet<i64>>,
        >,
    >,
);

impl KnownInactive {
    fn contains(&self, point: &str, rule: &str, code: &str, h: i64) -> bool {
        self.0
            .get(point)
            .and_then(|r| r.get(rule))
            .and_then(|c| c.get(code))
            .is_some_and(|hours| hours.contains(&h))
    }

    fn set(&mut self, point: &str, rule: &str, code: &str, h: i64, inactive: bool) {
        if inactive {
            self.0
                .entry(point.to_owned())
                .or_default()
                .entry(rule.to_owned())
                .or_default()
                .entry(code.to_owned())
                .or_default()
                .insert(h);
        } else if let Some(hours) = self
            .0
            .get_mut(point)
            .and_then(|r| r.get_mut(rule))
            .and_then(|c| c.get_mut(code))
        {
            hours.remove(&h);
        }
    }

    fn retain_from(&mut self, oldest_hour: i64) {
        for rules in self.0.values_mut() {
            for codes in rules.values_mut() {
                for hours in codes.values_mut() {
                    hours.retain(|h| *h >= oldest_hour);
                }
                codes.retain(|_, hours| !hours.is_empty());
            }
            rules.retain(|_, codes| !codes.is_empty());
        }
        self.0.retain(|_, rules| !rules.is_empty());
    }
}

/// Mean and count of the valid (`N`-flagged) hourly `avg` values per code of one point over
/// `[from, to]`, added into `sums`.
fn add_hourly_means(
    series: &dyn Store,
    point_id: &str,
    from: i64,
    to: i64,
    sums: &mut BTreeMap<String, (f64, usize)>,
) -> Result<(), String> {
    let q = SeriesQuery {
        point_id: point_id.to_owned(),
        data_type: DataType::Hour,
        code: None,
        from,
        to,
        limit: 100_000,
    };
    for o in series.series(&q).map_err(|e| e.to_string())? {
        if o.fields.get("flag").is_some_and(|f| f != "N") {
            continue;
        }
        if let Some(v) = o.fields.get("avg").and_then(|v| v.parse::<f64>().ok()) {
            let e = sums.entry(o.code).or_default();
            e.0 += v;
            e.1 += 1;
        }
    }
    Ok(())
}

fn means(sums: BTreeMap<String, (f64, usize)>) -> BTreeMap<String, (f64, usize)> {
    sums.into_iter()
        .map(|(k, (sum, n))| (k, (sum / n as f64, n)))
        .collect()
}

/// The other air stations' valid hourly values at hour `h`: mean and count per code.
fn peers(
    series: &dyn Store,
    all_points: &[Point],
    point: &Point,
    h: i64,
) -> Result<BTreeMap<String, (f64, usize)>, String> {
    let mut sums = BTreeMap::new();
    for other in all_points
        .iter()
        .filter(|o| o.kind == domain::PointKind::AirStation && o.id != point.id)
    {
        add_hourly_means(series, &other.id, h, h, &mut sums)?;
    }
    Ok(means(sums))
}

/// Mean and count of the valid hourly values of the 24 hours before `h`, per code.
fn baseline(
    series: &dyn Store,
    point_id: &str,
    h: i64,
) -> Result<BTreeMap<String, (f64, usize)>, String> {
    let mut sums = BTreeMap::new();
    add_hourly_means(series, point_id, h - 24 * 3600, h - 1, &mut sums)?;
    Ok(means(sums))
}

/// Evaluates the window rules for every (point, hour) touched by a batch of commits and
/// records all windows in one transaction.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_batch(
    series: &dyn Store,
    registries: &dyn store::RegistryStore,
    alarms: &dyn AlarmStore,
    rules: &RuleSet,
    hub: &AlarmHub,
    cache: &Mutex<HourCache>,
    batch: Vec<gateway::Committed>,
    clock: domain::Clock,
) -> Result<(), String> {
    let mut cache = cache.lock().map_err(|_| "cache lock poisoned".to_owned())?;
    let mut touched: BTreeMap<(String, i64), Option<i64>> = BTreeMap::new();
    let mut newest = i64::MIN;
    for c in batch {
        // A packet's observations nearly always share one hour: look it up once per hour.
        let mut by_hour: BTreeMap<i64, Vec<domain::Observation>> = BTreeMap::new();
        for o in c.observations {
            by_hour
                .entry(o.time - o.time.rem_euclid(3600))
                .or_default()
                .push(o);
        }
        for (h, observations) in by_hour {
            newest = newest.max(h);
            let first = touched
                .entry((c.point_id.clone(), h))
                .or_insert(Some(c.received_ms));
            *first = first.map(|f| f.min(c.received_ms));
            // Loading the hour from the store already includes these (committed) observations.
            let rows = cache.hour(series, &c.point_id, h)?;
            for o in observations {
                upsert(rows, rules::Row::new(&o));
            }
        }
    }
    let now_s = clock.now_ms() / 1000;
    let mut new_hours = Vec::new();
    for key in touched.keys() {
        if cache.unsettled.insert(key.clone(), now_s).is_none() {
            new_hours.push(key.clone());
        }
    }
    // Kept in the store too (once per hour, not per packet): a restart must not forget them.
    alarms
        .set_unsettled(&new_hours, &[])
        .map_err(|e| e.to_string())?;
    evaluate_touched(
        series, registries, alarms, rules, hub, cache, touched, newest, clock, false,
    )
}

/// How long an hour must be over, and quiet (no data for it), before its validity is settled:
/// its last minute records arrive after it ends, and a backfill or re-send brings an hour's
/// records over several packets. A proposal, not from a standard.
pub const SETTLE_S: i64 = 300;

/// Settles the validity (`invalid_hour`) of every hour that ended at least [`SETTLE_S`] ago and
/// received no data for [`SETTLE_S`]. Validity is judged only then: judged packet by packet, an
/// hour arriving in pieces (live, or a backfill of history) would raise an alarm with its first
/// packet and withdraw it with a later one.
pub fn settle_hours(
    series: &dyn Store,
    registries: &dyn store::RegistryStore,
    alarms: &dyn AlarmStore,
    rules: &RuleSet,
    hub: &AlarmHub,
    cache: &Mutex<HourCache>,
    clock: domain::Clock,
) -> Result<(), String> {
    let mut cache = cache.lock().map_err(|_| "cache lock poisoned".to_owned())?;
    let now_s = clock.now_ms() / 1000;
    let due: Vec<(String, i64)> = cache
        .unsettled
        .iter()
        .filter(|((_, h), touched)| *h + 3600 + SETTLE_S <= now_s && **touched + SETTLE_S <= now_s)
        .map(|(k, _)| k.clone())
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    for k in &due {
        cache.unsettled.remove(k);
    }
    let newest = due.iter().map(|(_, h)| *h).max().unwrap_or(i64::MIN);
    let touched = due.iter().map(|k| (k.clone(), None)).collect();
    evaluate_touched(
        series, registries, alarms, rules, hub, cache, touched, newest, clock, true,
    )?;
    alarms.set_unsettled(&[], &due).map_err(|e| e.to_string())
}

/// Takes up the hours whose validity was still to be judged when the server stopped: each is
/// judged once it has been quiet for [`SETTLE_S`] from now (data may still be on the way).
fn resume_unsettled(
    cache: &Mutex<HourCache>,
    alarms: &dyn AlarmStore,
    clock: domain::Clock,
) -> Result<(), String> {
    let hours = alarms.unsettled_hours().map_err(|e| e.to_string())?;
    let now_s = clock.now_ms() / 1000;
    let mut cache = cache.lock().map_err(|_| "cache lock poisoned".to_owned())?;
    for key in hours {
        cache.unsettled.entry(key).or_insert(now_s);
    }
    Ok(())
}

/// Evaluates the window rules of the given (point, hour)s (with the first receive time of the
/// data that touched them, for the latency figures) and records all windows in one transaction:
/// the validity rule only when `settle`, every other rule otherwise.
#[allow(clippy::too_many_arguments)]
fn evaluate_touched(
    series: &dyn Store,
    registries: &dyn store::RegistryStore,
    alarms: &dyn AlarmStore,
    rules: &RuleSet,
    hub: &AlarmHub,
    mut cache: std::sync::MutexGuard<'_, HourCache>,
    touched: BTreeMap<(String, i64), Option<i64>>,
    newest: i64,
    clock: domain::Clock,
    settle: bool,
) -> Result<(), String> {
    let now_s = clock.now_ms() / 1000;
    let mut updates = Vec::new();
    let mut received: BTreeMap<String, i64> = BTreeMap::new();
    let mut known = std::mem::take(&mut cache.inactive);
    // Loaded once per batch, only when a rule compares stations.
    let mut all_points: Option<Vec<Point>> = None;
    for ((point_id, h), received_ms) in &touched {
        let Some((point, mut ctx)) = cache.point(series, registries, point_id)? else {
            continue;
        };
        ctx.now_s = Some(now_s);
        if rules
            .rules
            .iter()
            .any(|r| r.kind == RuleKind::SuddenChange && r.applies(&point))
        {
            ctx.baseline = baseline(series, point_id, *h)?;
        }
        if rules
            .rules
            .iter()
            .any(|r| r.kind == RuleKind::AirAbovePeers && r.applies(&point))
        {
            if all_points.is_none() {
                all_points = Some(series.points().map_err(|e| e.to_string())?);
            }
            ctx.peers = peers(
                series,
                all_points.as_deref().unwrap_or_default(),
                &point,
                *h,
            )?;
        }
        if let Some(r) = received_ms {
            let e = received.entry(point_id.clone()).or_insert(*r);
            *e = (*e).min(*r);
        }
        let rows: &[rules::Row] = cache.hour(series, point_id, *h)?;
        for rule in rules
            .rules
            .iter()
            .filter(|r| r.kind != RuleKind::DeviceSilent)
            .filter(|r| (r.kind == RuleKind::InvalidHour) == settle)
        {
            let wanted =
                |code: &str, active: bool| active || !known.contains(point_id, &rule.id, code, *h);
            for v in rules::evaluate_wanted(rule, &point, &ctx, *h, rows, &wanted) {
                updates.push(WindowUpdate {
                    point_id: point_id.clone(),
                    rule_id: rule.id.clone(),
                    code: v.code,
                    severity: rule.severity.clone(),
                    step: 3600,
                    window: Window {
                        start: *h,
                        active: v.active,
                        evidence: v.evidence,
                    },
                });
            }
        }
    }
    // The cache stays locked through the write: `known` must describe the store.
    let written = if updates.is_empty() {
        Ok(Vec::new())
    } else {
        alarms
            .set_windows(&updates, clock.now_ms())
            .map_err(|e| e.to_string())
    };
    if written.is_ok() {
        for u in &updates {
            known.set(
                &u.point_id,
                &u.rule_id,
                &u.code,
                u.window.start,
                !u.window.active,
            );
        }
    }
    cache.inactive = known;
    cache.evict(newest);
    drop(cache);
    let events = written?;
    let now = clock.now_ms();
    for e in events {
        let r = received.get(&e.alarm.point_id).copied();
        hub.publish(e, r, now);
    }
    Ok(())
}

/// Checks every point for silence; returns the points silent now, with the last window written.
#[allow(clippy::too_many_arguments)]
fn check_silence(
    alarms: &dyn AlarmStore,
    rules: &RuleSet,
    hub: &AlarmHub,
    points: &[Point],
    last_seen: &BTreeMap<String, i64>,
    started_s: i64,
    clock: domain::Clock,
    before: BTreeMap<String, i64>,
) -> Result<BTreeMap<String, i64>, String> {
    let Some(rule) = rules
        .rules
        .iter()
        .find(|r| r.kind == RuleKind::DeviceSilent)
    else {
        return Ok(BTreeMap::new());
    };
    let now_s = clock.now_ms() / 1000;
    let window = now_s - now_s.rem_euclid(SILENCE_STEP);
    let mut silent = BTreeMap::new();
    for p in points.iter().filter(|p| rule.applies(p)) {
        // A device not seen since the server started is measured from the start.
        let last = last_seen.get(&p.mn).copied().unwrap_or(started_s);
        let v = rules::silent(rule, p, last, now_s);
        // Only write when the state is or was active: quiet devices cost nothing.
        if !v.active && !before.contains_key(&p.id) {
            continue;
        }
        // Every window since the last one written is silent too (a fast simulated clock, or a
        // slow check, must not leave gaps that would split one silence into several alarms).
        let first = match before.get(&p.id) {
            Some(prev) if v.active => (prev + SILENCE_STEP).min(window),
            _ => window,
        };
        let mut w_start = first;
        while w_start <= window {
            let w = Window {
                start: w_start,
                active: v.active,
                evidence: v.evidence.clone(),
            };
            for e in alarms
                .set_window(
                    &p.id,
                    &rule.id,
                    "",
                    &rule.severity,
                    SILENCE_STEP,
                    &w,
                    clock.now_ms(),
                )
                .map_err(|e| e.to_string())?
            {
                hub.publish(e, None, clock.now_ms());
            }
            w_start += SILENCE_STEP;
        }
        if v.active {
            silent.insert(p.id.clone(), window);
        }
    }
    Ok(silent)
}

/// Alarm filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlarmParams {
    /// `raised`, `cleared` or `withdrawn`.
    pub state: Option<String>,
    /// Rule id (the kind of alarm).
    pub rule: Option<String>,
    /// `info`, `warning`, `critical`.
    pub severity: Option<String>,
    /// Point id.
    pub point: Option<String>,
    /// Enterprise (unified social credit code): its monitoring points.
    pub enterprise: Option<String>,
    /// District: points registered in it.
    pub district: Option<String>,
    /// Overlapping from (RFC 3339).
    pub from: Option<String>,
    /// Overlapping to (RFC 3339).
    pub to: Option<String>,
    /// At most (default 100, at most 10,000).
    pub limit: Option<usize>,
}

/// An alarm with its events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmView {
    /// The alarm.
    #[schema(value_type = Object)]
    pub alarm: store::Alarm,
    /// Its rule's explanation.
    pub explanation: Option<String>,
    /// Every change, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<AlarmEvent>,
}

fn time_s(name: &str, t: &Option<String>) -> ApiResult<Option<i64>> {
    t.as_deref()
        .map(|t| {
            bjtime::parse_rfc3339(t)
                .map(|ms| ms / 1000)
                .map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
        })
        .transpose()
}

/// Lists alarms, newest change first.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "alarms", params(AlarmParams),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Query(q): Query<AlarmParams>,
) -> ApiResult<Json<Vec<store::Alarm>>> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::BadRequest("limit must be 1 to 10000".into()));
    }
    if let Some(s) = &q.state
        && !matches!(s.as_str(), "raised" | "cleared" | "withdrawn")
    {
        return Err(ApiError::BadRequest(format!(
            "state {s:?}: raised, cleared or withdrawn"
        )));
    }
    // Enterprise and district filters, and the user's scope, go through the registries to
    // point ids.
    let mut allowed: Option<BTreeSet<String>> = state.visible_points(&principal).await?;
    if q.enterprise.is_some() || q.district.is_some() {
        let ids = state
            .points_in(q.enterprise.as_deref(), q.district.as_deref())
            .await?;
        allowed = Some(match allowed {
            Some(a) => a.intersection(&ids).cloned().collect(),
            None => ids,
        });
    }
    let query = AlarmQuery {
        point_id: q.point.clone(),
        rule_id: q.rule.clone(),
        state: q.state.clone(),
        severity: q.severity.clone(),
        from: time_s("from", &q.from)?,
        to: time_s("to", &q.to)?,
        limit: if allowed.is_some() { 10_000 } else { limit },
    };
    let store = state.alarm_store();
    let mut rows = tokio::task::spawn_blocking(move || store.alarms(&query))
        .await
        .map_err(blocking_err)?
        .map_err(ApiError::from)?;
    if let Some(a) = allowed {
        rows.retain(|r| a.contains(&r.point_id));
        rows.truncate(limit);
    }
    Ok(Json(rows))
}

/// One alarm with its evidence and events.
#[utoipa::path(get, path = "/api/v1/alarms/{id}", tag = "alarms",
    params(("id" = i64, Path, description = "alarm id")),
    responses((status = 200, body = AlarmView), (status = 404, body = ErrorBody)))]
async fn one(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<AlarmView>> {
    let store = state.alarm_store();
    let (alarm, events) = tokio::task::spawn_blocking(move || {
        Ok::<_, store::StoreError>((store.alarm(id)?, store.alarm_events(id)?))
    })
    .await
    .map_err(blocking_err)?
    .map_err(ApiError::from)?;
    let alarm = alarm.ok_or_else(|| ApiError::NotFound(format!("no alarm {id}")))?;
    check_visible(&state, &principal, &alarm).await?;
    let explanation = state
        .rules()
        .rules
        .iter()
        .find(|r| r.id == alarm.rule_id)
        .map(|r| r.explanation.clone());
    Ok(Json(AlarmView {
        alarm,
        explanation,
        events,
    }))
}

/// Refuses an alarm on a point outside the user's scope.
async fn check_visible(
    state: &AppState,
    principal: &access::Principal,
    alarm: &store::Alarm,
) -> ApiResult<()> {
    if state.point_visible(principal, &alarm.point_id).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "alarm {} is outside what {} may see",
            alarm.id, principal.username
        )))
    }
}

/// A user's reason.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Reason {
    /// Why.
    pub reason: String,
}

async fn handle(
    state: AppState,
    id: i64,
    action: &str,
    principal: &access::Principal,
    reason: Reason,
) -> ApiResult<Json<AlarmEvent>> {
    if reason.reason.trim().is_empty() {
        return Err(ApiError::BadRequest("reason: required".into()));
    }
    let by = principal.username.clone();
    let store = state.alarm_store();
    let alarm = tokio::task::spawn_blocking(move || store.alarm(id))
        .await
        .map_err(blocking_err)??
        .ok_or_else(|| ApiError::NotFound(format!("no alarm {id}")))?;
    check_visible(&state, principal, &alarm).await?;
    let handling = Handling {
        action: action.to_owned(),
        by,
        reason: reason.reason,
        at_ms: state.now_ms(),
    };
    let store = state.alarm_store();
    let e = tokio::task::spawn_blocking(move || store.handle_alarm(id, handling))
        .await
        .map_err(blocking_err)?
        .map_err(ApiError::from)?;
    state.alarm_hub().publish(e.clone(), None, state.now_ms());
    Ok(Json(e))
}

/// Acknowledges an alarm (someone is on it).
#[utoipa::path(post, path = "/api/v1/alarms/{id}/acknowledge", tag = "alarms", request_body = Reason,
    params(("id" = i64, Path, description = "alarm id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Json(r): Json<Reason>,
) -> ApiResult<Json<AlarmEvent>> {
    handle(state, id, "acknowledged", &principal, r).await
}

/// Dismisses an alarm (not a real problem), with the reason.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/dismiss", tag = "alarms", request_body = Reason,
    params(("id" = i64, Path, description = "alarm id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn dismiss(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Json(r): Json<Reason>,
) -> ApiResult<Json<AlarmEvent>> {
    handle(state, id, "dismissed", &principal, r).await
}

/// Live alarm events (Server-Sent Events, event name = the change: raised, updated, cleared, ...).
#[utoipa::path(get, path = "/api/v1/alarms/stream", tag = "alarms",
    responses((status = 200, content_type = "text/event-stream", body = String)))]
async fn stream(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    // A scoped user's stream carries the events of the points visible when it opened.
    let visible = Arc::new(state.visible_points(&principal).await?);
    let hub = state.alarm_hub();
    let rx = hub.events.subscribe();
    let closing = hub.closing.subscribe();
    let s = futures_util::stream::unfold((rx, closing), move |(mut rx, mut closing)| {
        let visible = Arc::clone(&visible);
        async move {
            if *closing.borrow() {
                return None;
            }
            let next = loop {
                let r = tokio::select! {
                    r = rx.recv() => r,
                    _ = closing.changed() => return None,
                };
                match (&r, visible.as_ref()) {
                    (Ok(e), Some(v)) if !v.contains(&e.alarm.point_id) => continue,
                    _ => break r,
                }
            };
            let event = match next {
                Ok(e) => Event::default()
                    .event(e.kind.clone())
                    .id(e.id.to_string())
                    .data(serde_json::to_string(&e).unwrap_or_default()),
                Err(broadcast::error::RecvError::Lagged(n)) => Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{n}}}")),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok(event), (rx, closing)))
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}

/// The alarm routes.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(stream))
        .routes(routes!(one))
        .routes(routes!(acknowledge))
        .routes(routes!(dismiss))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Disposition, Observation, PacketRecord};
    use store::{Ingest, SqliteStore};

    const H: i64 = 1_790_002_800; // an hour start

    fn minute(code: &str, t: i64) -> Observation {
        Observation {
            point_id: "p1".into(),
            data_type: DataType::Min,
            code: code.into(),
            time: t,
            fields: BTreeMap::from([("avg".to_owned(), "1.0".to_owned())]),
        }
    }

    fn commit(s: &dyn Store, qn: &str, observations: Vec<Observation>) {
        let record = PacketRecord {
            received_ms: 0,
            peer: "test".into(),
            mn: Some("MN1".into()),
            cn: Some("2051".into()),
            qn: Some(qn.into()),
            crc_given: None,
            crc_computed: None,
            crc_variant: None,
            deviations: vec![],
            disposition: Disposition::Stored,
            quarantined_fields: vec![],
            raw: vec![],
        };
        s.commit(&[Ingest {
            record,
            observations,
        }])
        .expect("commit");
    }

    #[test]
    fn hours_the_store_had_are_read_and_new_hours_come_from_the_stream() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = SqliteStore::open(&dir.path().join("h.db")).expect("store");
        let p: Point = serde_json::from_str(r#"{"id":"p1","name":"n","mn":"MN1","password":"pw"}"#)
            .expect("point");
        s.put_point(&p).expect("point");
        commit(&s, "a", vec![minute("a21026", H + 60)]);
        let mut cache = HourCache::default();
        cache.synchronise(&s).expect("sync");
        // The hour the store already had is read from it.
        assert_eq!(cache.hour(&s, "p1", H).expect("hour").len(), 1);
        // A later hour had nothing stored at the synchronisation: its data are whatever the
        // commit stream brings, so the cache does not read the store for it (a commit made
        // behind the stream's back is not seen, which shows the store was not read).
        commit(&s, "b", vec![minute("a21026", H + 3660)]);
        assert!(cache.hour(&s, "p1", H + 3600).expect("hour").is_empty());
        // After synchronising again (as after missing commits) it is read.
        cache.synchronise(&s).expect("sync");
        assert_eq!(cache.hour(&s, "p1", H + 3600).expect("hour").len(), 1);
        // An evicted hour is read from the store again when data come for it.
        cache.synchronise(&s).expect("sync");
        commit(&s, "c", vec![minute("a21026", H + 5 * 3600)]);
        cache.hour(&s, "p1", H + 2 * 3600).expect("hour");
        cache.evict(H + 6 * 3600);
        assert!(!cache.hours.contains_key(&("p1".to_owned(), H + 2 * 3600)));
        commit(&s, "d", vec![minute("a21026", H + 2 * 3600 + 60)]);
        assert_eq!(cache.hour(&s, "p1", H + 2 * 3600).expect("hour").len(), 1);
    }

    #[test]
    fn hours_still_to_be_judged_are_judged_after_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = SqliteStore::open(&dir.path().join("h.db")).expect("store");
        let p: Point = serde_json::from_str(
            r#"{"id":"p1","name":"n","mn":"MN1","password":"pw","kind":"gas_outlet","min_interval_min":1}"#,
        )
        .expect("point");
        s.put_point(&p).expect("point");
        // 20 valid minutes of hour H arrive while it is in progress: not judged yet.
        let minutes: Vec<Observation> = (0..20)
            .map(|m| Observation {
                fields: BTreeMap::from([
                    ("avg".to_owned(), "1.0".to_owned()),
                    ("flag".to_owned(), "N".to_owned()),
                ]),
                ..minute("a21026", H + m * 60)
            })
            .collect();
        commit(&s, "a", minutes.clone());
        let (rules, hub) = (RuleSet::defaults(), AlarmHub::default());
        let cache = Mutex::new(HourCache::default());
        let at = |s: i64| domain::Clock::simulated(s * 1000, 1.0);
        let batch = vec![gateway::Committed {
            point_id: "p1".into(),
            observations: minutes,
            received_ms: (H + 1200) * 1000,
        }];
        evaluate_batch(&s, &s, &s, &rules, &hub, &cache, batch, at(H + 1200)).expect("evaluate");
        assert_eq!(s.unsettled_hours().expect("list"), [("p1".to_owned(), H)]);
        // The server stops before the hour is settled, and starts again two hours later.
        drop(cache);
        let cache = Mutex::new(HourCache::default());
        cache.lock().expect("lock").synchronise(&s).expect("sync");
        let restarted = H + 2 * 3600;
        resume_unsettled(&cache, &s, at(restarted)).expect("resume");
        // Data may still be on the way: nothing is judged at once...
        settle_hours(&s, &s, &s, &rules, &hub, &cache, at(restarted)).expect("settle");
        let invalid = || {
            s.alarms(&store::AlarmQuery {
                point_id: Some("p1".into()),
                rule_id: Some("invalid_hour".into()),
                state: None,
                severity: None,
                from: None,
                to: None,
                limit: 10,
            })
            .expect("alarms")
        };
        assert!(invalid().is_empty());
        // ...but once quiet for the settling time, the hour is judged: 20 of 45 minutes.
        settle_hours(&s, &s, &s, &rules, &hub, &cache, at(restarted + SETTLE_S)).expect("settle");
        let raised = invalid();
        assert_eq!((raised.len(), raised[0].start), (1, H));
        assert!(s.unsettled_hours().expect("list").is_empty());
    }
}
