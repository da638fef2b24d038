//! The engine's memory of recent hours, of the points' settings, and of which windows are known
//! to be inactive in the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use domain::{DataType, Point};
use store::{SeriesQuery, Store};

use crate::EngineError;

/// The recent hours' observations by (point, hour), kept in memory so that evaluating an hour
/// as its data arrive does not re-read the store. An hour the store already had data for when
/// the engine last synchronised with it (late data, the first data after a restart), or one
/// evicted since, is read from the store once; a new hour starts empty and is filled by the
/// commit stream. Eviction keeps the three hours before the newest.
#[derive(Default)]
pub(crate) struct HourCache {
    /// Read once into [`rules::Row`]s (values parsed), sorted by [`rules::Row::sort_key`]:
    /// time, series, code.
    pub(crate) hours: BTreeMap<(String, i64), Vec<rules::Row>>,
    points: BTreeMap<String, (Arc<Point>, rules::Context, std::time::Instant)>,
    /// Windows known to be inactive in the store: re-sending an inactive verdict for them is
    /// skipped, evidence and all (most windows of most rules are inactive).
    pub(crate) inactive: KnownInactive,
    /// (point, hour) whose validity is not settled yet, with when data last touched it
    /// (platform time, Unix s). The keys are also kept in the store
    /// ([`AlarmStore::unsettled_hours`]) and taken up again after a restart.
    pub(crate) unsettled: BTreeMap<(String, i64), i64>,
    /// Hours before this one have been evicted: eviction walks the whole cache, so it runs
    /// only when the newest hour moves on, not for every batch.
    evicted_before: i64,
    /// How far the store's data reached when the engine last synchronised with it (at start,
    /// after subscribing to the commits, and again after missing some). An hour of a point
    /// that had nothing stored then, and was never evicted, has had all its data through the
    /// commit stream: it starts empty instead of being read from the store (a new hour of
    /// every point at once used to cost thousands of reads in one batch).
    reach: Option<store::NewestData>,
    /// The points' hourly records of the hours before those judged, for the rules that compare
    /// an hour with the point's past.
    pub(crate) history: History,
}

/// Inserts a row into a sorted hour, replacing the one with the same key (time first, so
/// live data append at the end).
pub(crate) fn upsert(rows: &mut Vec<rules::Row>, o: rules::Row) {
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
    pub(crate) fn point(
        &mut self,
        series: &dyn Store,
        registries: &dyn store::RegistryStore,
        id: &str,
    ) -> Result<Option<(Arc<Point>, rules::Context)>, EngineError> {
        if let Some((p, c, at)) = self.points.get(id)
            && at.elapsed() < Duration::from_secs(10)
        {
            return Ok(Some((Arc::clone(p), c.clone())));
        }
        let Some(p) = series.point(id).map_err(EngineError::from)? else {
            return Ok(None);
        };
        let c = crate::context::context(registries, &p)?;
        let p = Arc::new(p);
        self.points.insert(
            id.to_owned(),
            (Arc::clone(&p), c.clone(), std::time::Instant::now()),
        );
        Ok(Some((p, c)))
    }

    pub(crate) fn hour(
        &mut self,
        series: &dyn Store,
        point_id: &str,
        h: i64,
    ) -> Result<&mut Vec<rules::Row>, EngineError> {
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
                let stored = series.series(&q).map_err(EngineError::from)?;
                rows.extend(stored.iter().map(rules::Row::new));
            }
            rows.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            self.hours.insert(key.clone(), rows);
        }
        self.hours.get_mut(&key).ok_or(EngineError::Cache)
    }

    /// Reads how far the store's data reach and forgets the cached hours: called when the
    /// engine starts and when it missed commits, so that what it holds and the store agree.
    pub(crate) fn synchronise(&mut self, series: &dyn Store) -> Result<(), EngineError> {
        self.hours.clear();
        self.history.clear();
        self.reach = None;
        self.reach = Some(series.newest_data().map_err(EngineError::from)?);
        Ok(())
    }

    pub(crate) fn evict(&mut self, newest_hour: i64) {
        let oldest_kept = newest_hour - 3 * 3600;
        if oldest_kept <= self.evicted_before {
            return;
        }
        self.evicted_before = oldest_kept;
        self.hours.retain(|(_, h), _| *h >= oldest_kept);
        self.inactive.retain_from(oldest_kept);
        // A point judged in the last two days keeps its history.
        self.history.evict(newest_hour - 48 * 3600);
    }
}

/// Windows recorded inactive, by point, rule and code, then hour: looked up by `&str` without
/// building a key (the lookup runs for every verdict of every evaluation).
#[derive(Default)]
pub(crate) struct KnownInactive(
    std::collections::HashMap<
        String,
        std::collections::HashMap<
            String,
            std::collections::HashMap<String, std::collections::HashSet<i64>>,
        >,
    >,
);

impl KnownInactive {
    pub(crate) fn contains(&self, point: &str, rule: &str, code: &str, h: i64) -> bool {
        self.0
            .get(point)
            .and_then(|r| r.get(rule))
            .and_then(|c| c.get(code))
            .is_some_and(|hours| hours.contains(&h))
    }

    pub(crate) fn set(&mut self, point: &str, rule: &str, code: &str, h: i64, inactive: bool) {
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

    pub(crate) fn retain_from(&mut self, oldest_hour: i64) {
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

/// Each point's hourly records of the hours before the ones judged, as far back as the longest
/// window a rule asks for (a month for a step change): kept between settled hours, so that
/// judging the next hour reads the one new hour from the store instead of the month again.
/// Corrections and late records of hours it holds come from the commit stream, as for the
/// hour cache; after missed commits it is forgotten with the rest.
#[derive(Default)]
pub(crate) struct History {
    points: BTreeMap<String, PointHistory>,
}

/// One point's hourly records covering the hours `[from, to)`, sorted by
/// [`rules::Row::sort_key`] (time first), and the longest window asked of it (a packet's
/// evaluation asks for a day, the settled hour's for a month: the month is kept).
struct PointHistory {
    rows: Arc<Vec<rules::Row>>,
    from: i64,
    to: i64,
    longest: i64,
}

impl History {
    /// The point's hourly records of the `hours` before hour `h`, read from the store only for
    /// the hours not held yet.
    pub(crate) fn past(
        &mut self,
        series: &dyn Store,
        point_id: &str,
        h: i64,
        hours: u32,
    ) -> Result<rules::Past, EngineError> {
        let span = i64::from(hours) * 3600;
        let from = h - span;
        if self
            .points
            .get(point_id)
            .is_some_and(|p| from < p.from && h <= p.to)
        {
            // An hour older than those held, judged again (late data): read, not kept.
            return Ok(rules::Past::new(read_hourly(series, point_id, from, h)?));
        }
        let held = self
            .points
            .get(point_id)
            .is_some_and(|p| p.from <= from && from <= p.to);
        if !held {
            // Nothing held, or a gap since: read the whole window.
            self.points.insert(
                point_id.to_owned(),
                PointHistory {
                    rows: Arc::new(read_hourly(series, point_id, from, h)?),
                    from,
                    to: h,
                    longest: span,
                },
            );
        }
        let p = self.points.get_mut(point_id).ok_or(EngineError::Cache)?;
        p.longest = p.longest.max(span);
        if p.to < h {
            let new = read_hourly(series, point_id, p.to, h)?;
            Arc::make_mut(&mut p.rows).extend(new);
            p.to = h;
        }
        // Hours before the window are dropped when the window moves on (an older hour judged
        // again, by late data, borrows a window from what is held).
        let keep_from = h - p.longest;
        if p.from < keep_from && p.to == h {
            let old = p.rows.partition_point(|r| r.time < keep_from);
            Arc::make_mut(&mut p.rows).drain(..old);
            p.from = keep_from;
        }
        let a = p.rows.partition_point(|r| r.time < from);
        let b = p.rows.partition_point(|r| r.time < h);
        Ok(rules::Past::shared(&p.rows, a..b.max(a)))
    }

    /// A committed hourly record: kept if it falls in the hours held for its point.
    pub(crate) fn upsert(&mut self, point_id: &str, row: &rules::Row) {
        if row.data_type != DataType::Hour {
            return;
        }
        if let Some(p) = self.points.get_mut(point_id)
            && (p.from..p.to).contains(&row.time)
        {
            upsert(Arc::make_mut(&mut p.rows), row.clone());
        }
    }

    /// Forgets every point's records.
    pub(crate) fn clear(&mut self) {
        self.points.clear();
    }

    /// Forgets the points whose window has not moved since `before` (no longer judged).
    pub(crate) fn evict(&mut self, before: i64) {
        self.points.retain(|_, p| p.to >= before);
    }
}

/// A point's hourly records of `[from, to)`, sorted by [`rules::Row::sort_key`].
fn read_hourly(
    series: &dyn Store,
    point_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<rules::Row>, EngineError> {
    if to <= from {
        return Ok(Vec::new());
    }
    let q = SeriesQuery {
        point_id: point_id.to_owned(),
        data_type: DataType::Hour,
        code: None,
        from,
        to: to - 1,
        limit: 100_000,
    };
    let mut rows = rules::rows(&series.series(&q).map_err(EngineError::from)?);
    rows.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Ok(rows)
}
