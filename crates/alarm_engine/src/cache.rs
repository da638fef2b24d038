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
