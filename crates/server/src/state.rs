//! What the handlers share ([`AppState`]) and what every handler asks of it: the user's scope
//! (which points they may see), the stores off the async threads, the platform clock.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use domain::Point;
use gateway::Gateway;
use store::{Store, StoreError};

use crate::error::{ApiError, ApiResult};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    gateway: Arc<Gateway>,
    obd: Arc<obd_gateway::ObdGateway>,
    obd_store: Arc<store::obd::ObdStore>,
    registries: Arc<dyn store::RegistryStore>,
    alarms: Arc<dyn store::AlarmStore>,
    hub: Arc<alarm_engine::AlarmHub>,
    rules: Arc<rules::RuleSet>,
    clock: domain::Clock,
    started: Instant,
    auth: Arc<crate::session::Auth>,
    cases: Arc<dyn store::CaseStore>,
    deadlines: cases::Deadlines,
    target_cache: TargetCache,
}

/// What the handlers are built over.
pub struct Parts {
    /// The HJ 212 front door (device state, the point table) and its store.
    pub gateway: Arc<Gateway>,
    /// The truck front door (terminal state, its vehicle table).
    pub obd: Arc<obd_gateway::ObdGateway>,
    /// The truck-data store.
    pub obd_store: Arc<store::obd::ObdStore>,
    /// The bureau's registries, with their history.
    pub registries: Arc<dyn store::RegistryStore>,
    /// Users, sessions, tokens and the audit log.
    pub auth: Arc<crate::session::Auth>,
    /// Cases and their chained events.
    pub cases: Arc<dyn store::CaseStore>,
    /// Alarms as the engine recorded them.
    pub alarms: Arc<dyn store::AlarmStore>,
    /// The engine's live events.
    pub hub: Arc<alarm_engine::AlarmHub>,
    /// The rules the engine judges by (for each alarm's explanation).
    pub rules: Arc<rules::RuleSet>,
    /// The platform clock.
    pub clock: domain::Clock,
}

/// The registries that place a point in a district or an enterprise: the points registry first
/// (keyed by point id), then the station registries (keyed by code, which is the point id).
const PLACED_POINTS: [&str; 4] = [
    domain::POINTS_REGISTRY,
    "air_stations",
    "water_sections",
    "noise_points",
];

/// Measures of targets at past instants, kept between requests.
pub(crate) type TargetCache = Arc<registry::targets::PastMeasures>;

impl AppState {
    /// The state over its parts.
    pub fn new(parts: Parts) -> Self {
        let Parts {
            gateway,
            obd,
            obd_store,
            registries,
            auth,
            cases,
            alarms,
            hub,
            rules,
            clock,
        } = parts;
        Self {
            gateway,
            obd,
            obd_store,
            registries,
            alarms,
            hub,
            rules,
            clock,
            started: Instant::now(),
            auth,
            cases,
            deadlines: cases::Deadlines::default(),
            target_cache: TargetCache::default(),
        }
    }

    pub(crate) fn target_cache(&self) -> TargetCache {
        Arc::clone(&self.target_cache)
    }

    /// With case deadlines other than the defaults.
    pub fn with_deadlines(mut self, deadlines: cases::Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    pub(crate) fn auth(&self) -> &crate::session::Auth {
        &self.auth
    }

    pub(crate) fn case_store(&self) -> Arc<dyn store::CaseStore> {
        Arc::clone(&self.cases)
    }

    pub(crate) fn deadlines(&self) -> cases::Deadlines {
        self.deadlines
    }

    /// Now by the wall clock (sessions, tokens and the audit log live in real time even when the
    /// platform runs on a simulated clock).
    pub(crate) fn wall_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    /// The points a user may see: `None` for the whole city, else their ids (and station codes).
    /// A district officer sees the points, stations, sections and noise points registered in
    /// the district; an enterprise user the monitoring points registered to the enterprise.
    pub(crate) async fn visible_points(
        &self,
        p: &access::Principal,
    ) -> ApiResult<Option<BTreeSet<String>>> {
        match p.scope() {
            access::Scope::City => Ok(None),
            access::Scope::District(d) => self.points_in(None, Some(&d)).await.map(Some),
            access::Scope::Enterprise(e) => self.points_in(Some(&e), None).await.map(Some),
        }
    }

    /// Point ids (and station codes) registered to an enterprise and/or in a district.
    pub(crate) async fn points_in(
        &self,
        enterprise: Option<&str>,
        district: Option<&str>,
    ) -> ApiResult<BTreeSet<String>> {
        let mut ids = BTreeSet::new();
        // Stations and sections belong to no enterprise.
        let registries: &[&str] = if enterprise.is_some() {
            &PLACED_POINTS[..1]
        } else {
            &PLACED_POINTS
        };
        for reg in registries {
            for e in self.registry_entries(reg).await? {
                let field = |k: &str| e.get(k).and_then(|v| v.as_str());
                if enterprise.is_some_and(|x| field("enterprise") != Some(x))
                    || district.is_some_and(|x| field("district") != Some(x))
                {
                    continue;
                }
                for k in ["id", "code"] {
                    if let Some(id) = field(k) {
                        ids.insert(id.to_owned());
                    }
                }
            }
        }
        Ok(ids)
    }

    /// Whether a user may see a point.
    pub(crate) async fn point_visible(&self, p: &access::Principal, id: &str) -> ApiResult<bool> {
        let scope = p.scope();
        if scope.is_city() {
            return Ok(true);
        }
        let (district, enterprise) = self.point_place(id).await?;
        Ok(scope.sees(district.as_deref(), enterprise.as_deref()))
    }

    /// Where a point is registered, (district, enterprise): its entry in `monitoring_points`
    /// (keyed by point id) or in a station registry (keyed by code, which is the point id).
    pub(crate) async fn point_place(
        &self,
        point_id: &str,
    ) -> ApiResult<(Option<String>, Option<String>)> {
        let store = self.registries();
        let id = point_id.to_owned();
        tokio::task::spawn_blocking(move || {
            for reg in PLACED_POINTS {
                if let Some(e) = store.entry(reg, &id)? {
                    let f = |k: &str| {
                        e.data
                            .get(k)
                            .and_then(|v| v.as_str())
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                    };
                    return Ok((f("district"), f("enterprise")));
                }
            }
            Ok::<_, StoreError>((None, None))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("store task: {e}")))?
        .map_err(ApiError::from)
    }

    pub(crate) fn alarm_store(&self) -> Arc<dyn store::AlarmStore> {
        Arc::clone(&self.alarms)
    }

    /// The HJ 212 front door (device state, counters).
    pub(crate) fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    pub(crate) fn obd(&self) -> &Arc<obd_gateway::ObdGateway> {
        &self.obd
    }

    pub(crate) fn obd_store(&self) -> Arc<store::obd::ObdStore> {
        Arc::clone(&self.obd_store)
    }

    /// How long the API has been up.
    pub(crate) fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub(crate) fn alarm_hub(&self) -> Arc<alarm_engine::AlarmHub> {
        Arc::clone(&self.hub)
    }

    pub(crate) fn rules(&self) -> Arc<rules::RuleSet> {
        Arc::clone(&self.rules)
    }

    /// Now, by the platform's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The series store.
    pub(crate) fn series_store(&self) -> Arc<dyn Store> {
        Arc::clone(self.gateway.store())
    }

    /// A point, or 404.
    pub(crate) async fn point_or_404(&self, id: &str) -> ApiResult<Point> {
        let key = id.to_owned();
        blocking(self, move |s| s.point(&key))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no point with id {id:?}")))
    }

    /// Every point.
    pub(crate) async fn all_points(&self) -> ApiResult<Vec<Point>> {
        blocking(self, |s| s.points()).await
    }

    /// The current entries of a registry, as JSON objects.
    pub(crate) async fn registry_entries(
        &self,
        name: &str,
    ) -> ApiResult<Vec<serde_json::Map<String, serde_json::Value>>> {
        let store = self.registries();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || store.entries(&name))
            .await
            .map_err(|e| ApiError::Internal(format!("store task: {e}")))?
            .map(|es| es.into_iter().map(|e| e.data).collect())
            .map_err(ApiError::from)
    }

    pub(crate) fn registries(&self) -> Arc<dyn store::RegistryStore> {
        Arc::clone(&self.registries)
    }
}

/// Runs a store call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> ApiResult<T> {
    let store = state.series_store();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(format!("store task: {e}")))?
        .map_err(ApiError::from)
}

/// Gives the truck front door the heavy-duty vehicle registry as it is now; an entry that
/// cannot be read (a malformed public key) is left out and logged, so its frames are
/// quarantined as unknown rather than half-checked.
pub fn load_vehicles(
    registries: &dyn store::RegistryStore,
    obd: &obd_gateway::ObdGateway,
) -> Result<usize, StoreError> {
    let entries = registries.entries(obd_gateway::VEHICLE_REGISTRY)?;
    let vehicles: Vec<obd_gateway::Vehicle> = entries
        .iter()
        .filter_map(|e| match obd_gateway::Vehicle::from_entry(&e.data) {
            Ok(v) => Some(v),
            Err(err) => {
                tracing::warn!(entry = %e.id, error = %err, "vehicle entry not usable by the truck front door");
                None
            }
        })
        .collect();
    let n = vehicles.len();
    obd.set_vehicles(vehicles);
    Ok(n)
}

/// Has the HJ 212 front door re-read the points (after their registry changed).
pub(crate) fn reload(state: &AppState) -> ApiResult<()> {
    state
        .gateway
        .reload_points()
        .map_err(|e| ApiError::Internal(format!("reloading points: {e}")))
}
