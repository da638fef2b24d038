//! # alarm_engine: from committed data to alarms
//!
//! The engine subscribes to the write path's commit stream ([`domain::CommitStream`]). For
//! every (point, hour) a batch of commits touched (live, late or corrected data) it evaluates
//! the window rules ([`rules::evaluate_wanted`]) over the hour as stored, and decides what each
//! verdict does to the alarms with the pure [`lifecycle`]; the store only writes those effects
//! down and returns the events, which go to the [`AlarmHub`] (the live stream).
//!
//! **Hours in memory.** The hour cache holds each recent hour as [`rules::Row`]s, filled by the
//! commit stream; an hour the store had before the engine last synchronised with it (at start,
//! and after the engine missed commits) is read once. Windows known to be inactive in the store
//! are not sent again, so quiet series cost nothing.
//!
//! **The past, incrementally.** Rules that compare an hour with the point's past (a day for a
//! sudden change, a week for a narrow band, a month for a step change or the last-digit
//! screen) get it from the history (`cache::History`): each point's hourly records as far back as the
//! longest window asked, kept between hours, so settling the next hour reads that one hour from
//! the store, not the month again; corrections and late records of the hours it holds come
//! from the commit stream. Stations compared with their neighbours read the neighbours' hours.
//!
//! **Some verdicts wait for the settled hour.** Every second, the hours that ended and
//! received no data for [`SETTLE_S`] are judged by the rules whose span says so (validity; the
//! comparison with other stations, whose hourly records arrive in any order), and once more,
//! as complete hours, by every other window rule: while an hour is in progress only the verdicts
//! that a condition holds are recorded (its first minutes cannot say that an exceedance has
//! ended); that it does not hold is recorded once the hour is complete. The hours still to settle
//! are kept in the store so a restart takes them up. Silence is checked on the platform clock
//! every second in [`SILENCE_STEP`] windows, from each device's last packet.
//!
//! Everything derives from stored data: a restart continues open alarms.

mod cache;
mod context;
mod hub;
pub mod lifecycle;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::{
    AlarmEvent, Clock, CommitReceiver, Committed, DeviceState, Effect, Point, Received, SeriesKey,
    Window, WindowUpdate,
};
use rules::{RuleKind, RuleSet};
use store::{AlarmReads, AlarmStore, RegistryStore, Store, StoreError};
use tokio::sync::watch;

use cache::{HourCache, upsert};
pub use hub::AlarmHub;
use lifecycle::{SeriesState, Step};

/// How long an hour must be over, and quiet (no data for it), before its validity is settled:
/// its last minute records arrive after it ends, and a backfill or re-send brings an hour's
/// records over several packets. A proposal, not from a standard.
pub const SETTLE_S: i64 = 300;

/// Length of a silence window, s.
pub const SILENCE_STEP: i64 = 300;

/// Why the engine could not evaluate or record.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A thread panicked while holding the engine's memory.
    #[error("the alarm engine's memory is poisoned by an earlier panic")]
    Poisoned,
    /// An hour loaded into the cache was not there the moment after.
    #[error("the hour cache lost an hour it had just loaded")]
    Cache,
}

/// The connection state of every device (the front doors keep it).
pub type DeviceStates = Arc<dyn Fn() -> Vec<DeviceState> + Send + Sync>;

/// What the engine reads and writes.
pub struct Sources {
    /// Stored series and the points.
    pub series: Arc<dyn Store>,
    /// The registries (water target classes, noise zones).
    pub registries: Arc<dyn RegistryStore>,
    /// Where the windows and alarms are kept.
    pub alarms: Arc<dyn AlarmStore>,
    /// The devices' last packets, for silence.
    pub devices: DeviceStates,
}

/// The alarm engine. See the [crate docs](crate).
pub struct Engine {
    sources: Sources,
    rules: RuleSet,
    clock: Clock,
    hub: Arc<AlarmHub>,
    cache: Mutex<HourCache>,
    /// Platform time the engine started (Unix s): a device never seen is silent from then.
    started_s: i64,
    /// Points silent now, with the last silence window written.
    silent_now: Mutex<BTreeMap<String, i64>>,
    /// The points, re-read every 10 s for the silence check.
    points: Mutex<Option<(Arc<Vec<Point>>, Instant)>>,
}

fn poisoned<T>(_: T) -> EngineError {
    EngineError::Poisoned
}

impl Engine {
    /// An engine over `sources`, judging by `rules` on the platform `clock`, publishing to `hub`.
    pub fn new(sources: Sources, rules: RuleSet, clock: Clock, hub: Arc<AlarmHub>) -> Arc<Self> {
        Arc::new(Self {
            sources,
            rules,
            started_s: clock.now_ms() / 1000,
            clock,
            hub,
            cache: Mutex::new(HourCache::default()),
            silent_now: Mutex::new(BTreeMap::new()),
            points: Mutex::new(None),
        })
    }

    /// Runs until `shutdown` turns true or the commit stream ends. `commits` must have been
    /// subscribed before the engine reads the store's reach, which it does first: every commit
    /// is then either in what it reads or on the stream.
    pub async fn run(
        self: Arc<Self>,
        mut commits: Box<dyn CommitReceiver>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        self.blocking("starting", |e| e.start()).await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                received = commits.recv() => {
                    let (batch, missed, closed) = match received {
                        Received::Commit(first) => drain(first, commits.as_mut()),
                        Received::Missed(n) => (Vec::new(), n, false),
                        Received::Closed => (Vec::new(), 0, true),
                    };
                    if !batch.is_empty() {
                        self.blocking("evaluating", move |e| e.evaluate(batch)).await;
                    }
                    if missed > 0 {
                        tracing::warn!(missed, "alarm engine fell behind; it re-reads the store for those hours");
                        self.blocking("synchronising", |e| e.synchronise()).await;
                    }
                    if closed {
                        return;
                    }
                }
                _ = tick.tick() => self.blocking("ticking", |e| e.tick()).await,
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn blocking(
        self: &Arc<Self>,
        what: &'static str,
        f: impl FnOnce(&Engine) -> Result<(), EngineError> + Send + 'static,
    ) {
        let e = Arc::clone(self);
        match tokio::task::spawn_blocking(move || f(&e)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "alarm engine: {what} failed"),
            Err(e) => tracing::error!(error = %e, "alarm engine: {what} task failed"),
        }
    }

    /// Reads how far the stored data reach and takes up the hours still to be settled when the
    /// platform stopped: each is judged once quiet for [`SETTLE_S`] from now.
    pub fn start(&self) -> Result<(), EngineError> {
        self.synchronise()?;
        let hours = self.sources.alarms.unsettled_hours()?;
        let now_s = self.clock.now_ms() / 1000;
        let mut cache = self.cache.lock().map_err(poisoned)?;
        for key in hours {
            cache.unsettled.entry(key).or_insert(now_s);
        }
        Ok(())
    }

    /// Forgets the cached hours and re-reads how far the store's data reach (after missing
    /// commits); until it succeeds every hour is read from the store (correct, only slower).
    pub fn synchronise(&self) -> Result<(), EngineError> {
        self.cache
            .lock()
            .map_err(poisoned)?
            .synchronise(&*self.sources.series)
    }

    /// Settles the hours that are due and checks silence: once a second.
    pub fn tick(&self) -> Result<(), EngineError> {
        let settled = self.settle_hours();
        let silence = self.check_silence();
        settled.and(silence)
    }

    /// Evaluates the window rules for every (point, hour) a batch of commits touched and
    /// records all windows in one transaction.
    pub fn evaluate(&self, batch: Vec<Committed>) -> Result<(), EngineError> {
        let series = &*self.sources.series;
        let mut cache = self.cache.lock().map_err(poisoned)?;
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
                // Loading the hour from the store already includes these (committed) rows.
                let rows = cache.hour(series, &c.point_id, h)?;
                let rows_new: Vec<rules::Row> = observations.iter().map(rules::Row::new).collect();
                for r in &rows_new {
                    upsert(rows, r.clone());
                }
                for r in &rows_new {
                    cache.history.upsert(&c.point_id, r);
                }
            }
        }
        let now_s = self.clock.now_ms() / 1000;
        let mut new_hours = Vec::new();
        for key in touched.keys() {
            if cache.unsettled.insert(key.clone(), now_s).is_none() {
                new_hours.push(key.clone());
            }
        }
        // Kept in the store too (once per hour, not per packet): a restart must not forget them.
        self.sources.alarms.set_unsettled(&new_hours, &[])?;
        self.evaluate_touched(cache, touched, newest, false)
    }

    /// Settles every hour that ended at least [`SETTLE_S`] ago and received no data for
    /// [`SETTLE_S`], by every window rule: those whose span waits for the settled hour (judged
    /// packet by packet, an hour arriving in pieces, live or a backfill of history, would raise
    /// an alarm with its first packet and withdraw it with a later one) and the others on the
    /// complete hour.
    pub fn settle_hours(&self) -> Result<(), EngineError> {
        let mut cache = self.cache.lock().map_err(poisoned)?;
        let now_s = self.clock.now_ms() / 1000;
        let due: Vec<(String, i64)> = cache
            .unsettled
            .iter()
            .filter(|((_, h), touched)| {
                *h + 3600 + SETTLE_S <= now_s && **touched + SETTLE_S <= now_s
            })
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
        self.evaluate_touched(cache, touched, newest, true)?;
        Ok(self.sources.alarms.set_unsettled(&[], &due)?)
    }

    /// Evaluates the window rules of the given (point, hour)s (with the first receive time of
    /// the data that touched them, for the latency figures) and records all windows in one
    /// transaction: every window rule when `settle`, otherwise those that do not wait for it.
    fn evaluate_touched(
        &self,
        mut cache: std::sync::MutexGuard<'_, HourCache>,
        touched: BTreeMap<(String, i64), Option<i64>>,
        newest: i64,
        settle: bool,
    ) -> Result<(), EngineError> {
        let (series, registries) = (&*self.sources.series, &*self.sources.registries);
        let now_s = self.clock.now_ms() / 1000;
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
            // The window rules judged now: those that wait for the settled hour only then.
            let judged: Vec<&rules::Rule> = self
                .rules
                .rules
                .iter()
                .filter(|r| r.kind() != RuleKind::DeviceSilent && r.applies(&point))
                .filter(|r| settle || !r.span().settled())
                .collect();
            // The point's own past, as far back as a rule judged declares (the context carries
            // one baseline: the longest asked for); the other stations, if a rule compares.
            let baseline_hours = judged.iter().map(|r| r.span().baseline_hours()).max();
            if let Some(hours) = baseline_hours.filter(|h| *h > 0) {
                ctx.past = cache.history.past(series, point_id, *h, hours)?;
                ctx.baseline = rules::valid_hourly_means(&ctx.past);
            }
            let compares_peers = judged.iter().any(|r| r.kind() == RuleKind::AirAbovePeers);
            let radius = judged
                .iter()
                .filter_map(|r| r.neighbour_radius_km())
                .max_by(f64::total_cmp);
            if (compares_peers || radius.is_some()) && all_points.is_none() {
                all_points = Some(series.points()?);
            }
            let others = all_points.as_deref().unwrap_or_default();
            if compares_peers {
                ctx.peers = context::peers(series, others, &point, *h)?;
            }
            if let Some(km) = radius {
                ctx.neighbours = context::neighbours(
                    series,
                    others,
                    &point,
                    *h,
                    baseline_hours.unwrap_or(0),
                    km,
                )?;
            }
            if let Some(r) = received_ms {
                let e = received.entry(point_id.clone()).or_insert(*r);
                *e = (*e).min(*r);
            }
            let rows: &[rules::Row] = cache.hour(series, point_id, *h)?;
            for rule in judged {
                // An hour still in progress can show a condition but not its end: a verdict
                // that it does not hold waits for the complete hour (settled), so a running
                // exceedance is not ended by the first minutes of the next hour.
                let in_progress = !settle && *h + 3600 > now_s;
                let wanted = |code: &str, active: bool| {
                    active || (!in_progress && !known.contains(point_id, &rule.id, code, *h))
                };
                for v in rules::evaluate_wanted(rule, &point, &ctx, *h, rows, &wanted) {
                    updates.push(WindowUpdate {
                        key: SeriesKey {
                            point_id: point_id.clone(),
                            rule_id: rule.id.clone(),
                            code: v.code,
                        },
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
        let written = self.record(&updates);
        if written.is_ok() {
            for u in &updates {
                known.set(
                    &u.key.point_id,
                    &u.key.rule_id,
                    &u.key.code,
                    u.window.start,
                    !u.window.active,
                );
            }
        }
        cache.inactive = known;
        cache.evict(newest);
        drop(cache);
        let now = self.clock.now_ms();
        for e in written? {
            let r = received.get(&e.alarm.point_id).copied();
            self.hub.publish(e, r, now);
        }
        Ok(())
    }

    /// Decides what the verdicts do to the alarms and has the store write it, in one
    /// transaction; returns the events written.
    pub fn record(&self, updates: &[WindowUpdate]) -> Result<Vec<AlarmEvent>, EngineError> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let at_ms = self.clock.now_ms();
        Ok(self
            .sources
            .alarms
            .decide(&mut |reads| decide(reads, updates, at_ms))?)
    }

    /// The points, re-read from the store every 10 s.
    fn points(&self) -> Result<Arc<Vec<Point>>, EngineError> {
        let mut held = self.points.lock().map_err(poisoned)?;
        if let Some((points, at)) = held.as_ref()
            && at.elapsed() < Duration::from_secs(10)
        {
            return Ok(Arc::clone(points));
        }
        let points = Arc::new(self.sources.series.points()?);
        *held = Some((Arc::clone(&points), Instant::now()));
        Ok(points)
    }

    /// Checks every point for silence, writing only for devices that are or were silent.
    pub fn check_silence(&self) -> Result<(), EngineError> {
        let Some(rule) = self
            .rules
            .rules
            .iter()
            .find(|r| r.kind() == RuleKind::DeviceSilent)
        else {
            return Ok(());
        };
        let last_seen: BTreeMap<String, i64> = (self.sources.devices)()
            .into_iter()
            .map(|d| (d.mn, d.last_packet_ms / 1000))
            .collect();
        let points = self.points()?;
        let mut silent_now = self.silent_now.lock().map_err(poisoned)?;
        let now_s = self.clock.now_ms() / 1000;
        let window = now_s - now_s.rem_euclid(SILENCE_STEP);
        let mut updates = Vec::new();
        let mut silent = BTreeMap::new();
        for p in points.iter().filter(|p| rule.applies(p)) {
            // A device not seen since the platform first ran is measured from the start.
            let last = last_seen.get(&p.mn).copied().unwrap_or(self.started_s);
            let Some(v) = rules::silent(rule, p, last, now_s) else {
                continue;
            };
            if !v.active && !silent_now.contains_key(&p.id) {
                continue;
            }
            // Every window since the last one written is silent too (a fast simulated clock,
            // or a slow check, must not leave gaps that would split one silence in several).
            let first = match silent_now.get(&p.id) {
                Some(prev) if v.active => (prev + SILENCE_STEP).min(window),
                _ => window,
            };
            let key = SeriesKey {
                point_id: p.id.clone(),
                rule_id: rule.id.clone(),
                code: String::new(),
            };
            for start in (first..=window).step_by(SILENCE_STEP as usize) {
                updates.push(WindowUpdate {
                    key: key.clone(),
                    severity: rule.severity.clone(),
                    step: SILENCE_STEP,
                    window: Window {
                        start,
                        active: v.active,
                        evidence: v.evidence.clone(),
                    },
                });
            }
            if v.active {
                silent.insert(p.id.clone(), window);
            }
        }
        let events = self.record(&updates)?;
        *silent_now = silent;
        drop(silent_now);
        let now = self.clock.now_ms();
        for e in events {
            self.hub.publish(e, None, now);
        }
        Ok(())
    }
}

/// Takes the commits already waiting behind `first` (one evaluation per (point, hour), one
/// transaction for all windows); returns them, how many the stream dropped, and whether it
/// ended.
fn drain(first: Committed, commits: &mut dyn CommitReceiver) -> (Vec<Committed>, u64, bool) {
    let mut batch = vec![first];
    while batch.len() < 20_000 {
        match commits.try_recv() {
            Some(Received::Commit(c)) => batch.push(c),
            Some(Received::Missed(n)) => return (batch, n, false),
            Some(Received::Closed) => return (batch, 0, true),
            None => break,
        }
    }
    (batch, 0, false)
}

/// What a batch of verdicts does to the alarms: the pure lifecycle over each series, with the
/// stored windows it needs (every series' first, then the histories the changes of activity
/// ask for, all at once: each read is a round trip to the store).
fn decide(
    reads: &dyn AlarmReads,
    updates: &[WindowUpdate],
    at_ms: i64,
) -> Result<Vec<Effect>, StoreError> {
    let mut by_key: BTreeMap<&SeriesKey, Vec<&WindowUpdate>> = BTreeMap::new();
    for u in updates {
        by_key.entry(&u.key).or_default().push(u);
    }
    // Each series' windows at and just before its verdicts.
    let ranges: Vec<(SeriesKey, i64, i64)> = by_key
        .iter()
        .map(|(key, us)| {
            let from = us.iter().map(|u| u.window.start - u.step).min();
            let to = us.iter().map(|u| u.window.start).max();
            ((*key).clone(), from.unwrap_or(0), to.unwrap_or(0))
        })
        .collect();
    let stored = reads.windows(&ranges)?;
    let mut series: Vec<Series<'_>> = by_key
        .into_iter()
        .zip(stored.into_iter().zip(&ranges))
        .map(|((key, updates), (windows, (_, from, to)))| {
            let mut state = SeriesState::new();
            state.add_windows(windows, *from, *to);
            Series {
                key,
                updates,
                state,
                next: 0,
                effects: Vec::new(),
                asked: None,
            }
        })
        .collect();
    let mut next_id = -1;
    loop {
        let mut needs: Vec<(usize, (SeriesKey, i64, i64))> = Vec::new();
        for (i, s) in series.iter_mut().enumerate() {
            while let Some(u) = s.updates.get(s.next) {
                match s
                    .state
                    .apply(s.key, &u.severity, u.step, &u.window, at_ms, &mut next_id)
                {
                    Step::Done(effects) => {
                        s.effects.extend(effects);
                        s.next += 1;
                    }
                    Step::Need { from, to } => {
                        if s.asked == Some((s.next, from, to)) {
                            // A defect in the lifecycle, reported rather than looped on.
                            return Err(StoreError::Corrupt {
                                table: "rule_windows",
                                detail: format!(
                                    "the alarm lifecycle asked twice for the same history of {:?}",
                                    s.key
                                ),
                            });
                        }
                        s.asked = Some((s.next, from, to));
                        needs.push((i, (s.key.clone(), from, to)));
                        break;
                    }
                }
            }
        }
        if needs.is_empty() {
            break;
        }
        let ranges: Vec<(SeriesKey, i64, i64)> = needs.iter().map(|(_, r)| r.clone()).collect();
        for ((i, (_, from, to)), (windows, existing)) in
            needs.into_iter().zip(reads.history(&ranges)?)
        {
            series[i].state.add_history(windows, existing, from, to);
        }
    }
    Ok(series.into_iter().flat_map(|s| s.effects).collect())
}

/// One series while a batch is decided.
struct Series<'a> {
    key: &'a SeriesKey,
    updates: Vec<&'a WindowUpdate>,
    state: SeriesState,
    /// The next verdict to apply.
    next: usize,
    effects: Vec<Effect>,
    /// The last history asked for, with the verdict that asked.
    asked: Option<(usize, i64, i64)>,
}

#[cfg(test)]
mod tests;
