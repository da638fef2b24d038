//! # server: `huanghe serve` put together
//!
//! This crate is the composition root of the running platform. [`start`] opens the store in the
//! data directory, loads the points file, starts the single store writer (a thread: SQLite is
//! synchronous, and one writer lets many frames share one durable commit), the HJ 212 gateway,
//! the HTTP API and the housekeeping loop, and returns a [`Running`] handle with the bound
//! addresses (port 0 in a config picks a free port, which the tests use).
//!
//! Shutdown is ordered so that nothing acknowledged is lost and nothing half-done is left:
//! 1. stop accepting device connections; open connections finish the frame they are handling
//!    (its commit and its reply) and close;
//! 2. stop the HTTP API (requests in flight complete);
//! 3. stop the alarm engine and housekeeping (work in progress completes);
//! 4. drop the last handle on the writer, which commits what is queued and ends; then the store
//!    is closed.
//!
//! The HTTP layer lives in [`api`]: thin handlers over the store and the gateway, each declared
//! once for both routing and the OpenAPI document (`utoipa-axum`), so the two cannot drift.

pub mod alarms;
pub mod api;
pub mod assess;
pub mod auth;
pub mod casework;
pub mod client;
pub mod config;
pub mod error;
pub mod points;
pub mod registries;
pub mod session;
pub mod state;
pub mod vehicles;
pub mod web;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use gateway::Gateway;
use store::Writer;
use store::{SqliteStore, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// An I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The gateway failed.
    #[error("gateway: {0}")]
    Gateway(#[from] gateway::GatewayError),
    /// A task ended abnormally.
    #[error("task failed: {0}")]
    Task(String),
}

/// A running server. Drop it only through [`Running::shutdown`].
pub struct Running {
    /// Where the HJ 212 listener is bound.
    pub hj212_addr: std::net::SocketAddr,
    /// Where the HJ 1239 truck listener is bound.
    pub hj1239_addr: std::net::SocketAddr,
    /// Where the HTTP API is bound.
    pub http_addr: std::net::SocketAddr,
    stop: watch::Sender<bool>,
    gateway_task: JoinHandle<Result<(), gateway::GatewayError>>,
    obd_task: JoinHandle<Result<(), obd_gateway::ObdGatewayError>>,
    obd_writer_thread: std::thread::JoinHandle<()>,
    http_task: JoinHandle<std::io::Result<()>>,
    maintenance_task: JoinHandle<()>,
    alarm_task: JoinHandle<()>,
    hub: Arc<alarms::AlarmHub>,
    writer_thread: std::thread::JoinHandle<()>,
}

/// Connections the kernel queues for the truck listener before it accepts them: after a
/// restart or a network outage thousands of terminals reconnect within seconds, and a full
/// queue leaves them connected to nobody until their reply timeout (measured with
/// `huanghe bench obd`: 3,411 of 19,936 logins unanswered in 60 s with the default 1,024).
const TRUCK_BACKLOG: u32 = 4096;

fn listen(addr: std::net::SocketAddr, backlog: u32) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let what = what.into();
    move |source| ServeError::Io { what, source }
}

/// Starts the server described by `config` (see the [crate docs](crate)).
pub async fn start(config: Config) -> Result<Running, ServeError> {
    let clock = config.clock.clock()?;
    start_with_clock(config, clock).await
}

/// Starts the server with a given clock (a demo shares one with its simulator).
pub async fn start_with_clock(config: Config, clock: domain::Clock) -> Result<Running, ServeError> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir).map_err(io(format!(
        "creating data directory {}",
        config.data_dir.display()
    )))?;
    let engine = Arc::new(SqliteStore::open(&config.data_dir.join("huanghe.db"))?);
    let store: Arc<dyn Store> = engine.clone();
    let registries: Arc<dyn store::RegistryStore> = engine.clone();
    let registries_for_alarms = Arc::clone(&registries);
    let users: Arc<dyn store::UserStore> = engine.clone();
    let engine_users = Arc::clone(&users);
    let case_store: Arc<dyn store::CaseStore> = engine.clone();
    let alarm_store: Arc<dyn store::AlarmStore> = engine;
    let rule_set = match &config.rules_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(io(format!("reading rules file {}", path.display())))?;
            rules::RuleSet::from_toml(&text)
                .map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))?
        }
        None => rules::RuleSet::defaults(),
    };
    if config.demo_city {
        let empty = registry::schemas()
            .iter()
            .map(|s| registries.entries(&s.name).map(|e| e.is_empty()))
            .collect::<Result<Vec<bool>, _>>()?
            .into_iter()
            .all(|e| e);
        if empty {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let applied = registries::load_demo_city(registries.as_ref(), 2026, now_ms)?;
            tracing::info!(changes = applied, "demo city loaded");
        }
    }
    if let Some(path) = &config.points_file {
        let mut points = config::read_points_file(path)?;
        // The file says what it gives; where it leaves a point's place or owner out, the
        // registry's (the same record, maybe placed since through the registry) stays.
        for p in &mut points {
            if let Some(stored) = store.point(&p.id)? {
                p.district = p.district.take().or(stored.district);
                p.enterprise = p.enterprise.take().or(stored.enterprise);
                p.location = p.location.or(stored.location);
            }
        }
        store.put_points(&points, "points-file", clock.now_ms())?;
        tracing::info!(file = %path.display(), points = points.len(), "points loaded");
    }
    if store::UserStore::users(engine_users.as_ref())?.is_empty() {
        tracing::warn!(
            "no users yet: create the first admin with `huanghe user add NAME --role admin`"
        );
    }
    let gw_config = config.hj212.gateway(clock);
    let commits: Arc<dyn domain::CommitStream> = Arc::new(store::LocalCommits::default());
    // Subscribed before anything is written: the engine sees every commit from here on.
    let engine_commits = commits.subscribe();
    let (writer, writer_thread) = Writer::start(
        Arc::clone(&store),
        gw_config.max_batch,
        Arc::clone(&commits),
    )
    .map_err(io("starting the store writer"))?;
    let gw = Gateway::new(gw_config, Arc::clone(&store), writer)?;

    let obd_store = Arc::new(store::obd::ObdStore::open(
        &config.data_dir.join("obd.db"),
        store::obd::ObdSettings::default().window_s,
    )?);
    let obd_config = config.hj1239.gateway(clock);
    let (obd_writer, obd_writer_thread) =
        store::obd::ObdWriter::start(Arc::clone(&obd_store), obd_config.max_batch)
            .map_err(io("starting the truck-data writer"))?;
    let obd = obd_gateway::ObdGateway::new(obd_config, obd_writer);
    let vehicles = state::load_vehicles(registries.as_ref(), &obd)?;
    tracing::info!(vehicles, "truck front door loaded its vehicles");
    let hj1239_listener = listen(config.hj1239.listen, TRUCK_BACKLOG).map_err(io(format!(
        "binding HJ 1239 listener {}",
        config.hj1239.listen
    )))?;
    let hj1239_addr = hj1239_listener
        .local_addr()
        .map_err(io("HJ 1239 address"))?;

    let hj212_listener = tokio::net::TcpListener::bind(config.hj212.listen)
        .await
        .map_err(io(format!(
            "binding HJ 212 listener {}",
            config.hj212.listen
        )))?;
    let http_listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(io(format!("binding HTTP listener {}", config.http.listen)))?;
    let hj212_addr = hj212_listener.local_addr().map_err(io("HJ 212 address"))?;
    let http_addr = http_listener.local_addr().map_err(io("HTTP address"))?;

    let (stop, stopped) = watch::channel(false);
    let gateway_task = tokio::spawn(Arc::clone(&gw).run(hj212_listener, stopped.clone()));
    let obd_task = tokio::spawn(Arc::clone(&obd).run(hj1239_listener, stopped.clone()));

    let hub = Arc::new(alarms::AlarmHub::default());
    let auth = Arc::new(auth::Auth::new(
        users,
        config.http.session_hours * 3_600_000,
        config.http.https,
    ));
    let auth_for_shutdown = Arc::clone(&auth);
    let mut layers = Vec::new();
    for layer in &config.http.map_layers {
        let what = || format!("map layer {}", layer.path.display());
        let geojson = std::fs::read(&layer.path).map_err(|source| ServeError::Io {
            what: what(),
            source,
        })?;
        match serde_json::from_slice::<serde_json::Value>(&geojson) {
            Ok(v) if v.get("type").is_some() => {}
            _ => return Err(ServeError::Config(format!("{}: not GeoJSON", what()))),
        }
        layers.push(web::MapLayer {
            title: layer.title.clone(),
            geojson,
        });
    }
    let ui = web::UiConfig {
        tile_url: config.http.tile_url.clone(),
        tile_attribution: config.http.tile_attribution.clone(),
        layers,
    };
    let app = api::router(
        state::AppState::new(state::Parts {
            gateway: Arc::clone(&gw),
            obd: Arc::clone(&obd),
            obd_store: Arc::clone(&obd_store),
            registries,
            auth,
            cases: Arc::clone(&case_store),
            alarms: Arc::clone(&alarm_store),
            hub: Arc::clone(&hub),
            rules: Arc::new(rule_set.clone()),
            clock,
        })
        .with_deadlines(config.cases),
    )
    .merge(web::router(&ui));
    let app = web::with_security_headers(app, config.http.https);
    let mut http_stop = stopped.clone();
    let http_task = tokio::spawn(async move {
        let served = axum::serve(
            http_listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_stop.wait_for(|s| *s).await;
        })
        .await;
        auth_for_shutdown.release_router();
        served
    });

    let devices_gw = Arc::clone(&gw);
    let engine = alarm_engine::Engine::new(
        alarm_engine::Sources {
            series: Arc::clone(&store),
            registries: Arc::clone(&registries_for_alarms),
            alarms: alarm_store,
            devices: Arc::new(move || devices_gw.devices()),
        },
        rule_set,
        clock,
        Arc::clone(&hub),
    );
    let alarm_task = tokio::spawn(engine.run(engine_commits, stopped.clone()));
    let maintenance_task = tokio::spawn(maintenance_loop(
        store,
        obd_store,
        config.hj1239.settings(),
        case_store,
        config.cases,
        clock,
        config.store.retention(),
        Duration::from_secs(config.store.maintenance_interval_s),
        stopped,
    ));
    drop(gw);
    drop(obd);
    tracing::info!(%hj212_addr, %hj1239_addr, %http_addr, data_dir = %config.data_dir.display(), "huanghe serving");
    Ok(Running {
        hj212_addr,
        hj1239_addr,
        http_addr,
        stop,
        gateway_task,
        obd_task,
        obd_writer_thread,
        http_task,
        maintenance_task,
        alarm_task,
        hub,
        writer_thread,
    })
}

#[allow(clippy::too_many_arguments)]
async fn maintenance_loop(
    store: Arc<dyn Store>,
    obd_store: Arc<store::obd::ObdStore>,
    obd_settings: store::obd::ObdSettings,
    case_store: Arc<dyn store::CaseStore>,
    deadlines: cases::Deadlines,
    clock: domain::Clock,
    retention: store::Housekeeping,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Overdue cases are escalated on the same beat as housekeeping.
        let cs = Arc::clone(&case_store);
        let now_ms = clock.now_ms();
        match tokio::task::spawn_blocking(move || {
            casework::escalate_overdue(cs.as_ref(), &deadlines, now_ms)
        })
        .await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(cases = n, "overdue cases escalated"),
            Ok(Err(e)) => tracing::error!(error = %e, "deadline watch failed"),
            Err(e) => tracing::error!(error = %e, "deadline watch task failed"),
        }
        let store = Arc::clone(&store);
        let retention = retention.clone();
        let now_ms = clock.now_ms();
        let pass = tokio::task::spawn_blocking(move || store.maintain(now_ms, &retention)).await;
        match pass {
            Ok(Ok(report)) => tracing::info!(?report, "housekeeping done"),
            Ok(Err(e)) => tracing::error!(error = %e, "housekeeping failed"),
            Err(e) => tracing::error!(error = %e, "housekeeping task failed"),
        }
        let obd = Arc::clone(&obd_store);
        let now_ms = clock.now_ms();
        match tokio::task::spawn_blocking(move || obd.maintain(now_ms, &obd_settings, false)).await
        {
            Ok(Ok(report)) => tracing::info!(?report, "truck-data housekeeping done"),
            Ok(Err(e)) => tracing::error!(error = %e, "truck-data housekeeping failed"),
            Err(e) => tracing::error!(error = %e, "truck-data housekeeping task failed"),
        }
    }
}

impl Running {
    /// Waits for Ctrl-C or SIGTERM.
    pub async fn wait_for_signal() {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }

    /// Ordered shutdown (see the [crate docs](crate)).
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        let join = |e: tokio::task::JoinError| ServeError::Task(e.to_string());
        self.gateway_task.await.map_err(join)??;
        self.obd_task
            .await
            .map_err(join)?
            .map_err(|e| ServeError::Task(format!("truck gateway: {e}")))?;
        // Live streams end so that the HTTP server can finish.
        self.hub.close();
        self.http_task
            .await
            .map_err(join)?
            .map_err(io("HTTP server"))?;
        self.alarm_task.await.map_err(join)?;
        self.maintenance_task.await.map_err(join)?;
        // Every Writer handle is gone with the gateway and the API; the thread drains and ends.
        let writer = self.writer_thread;
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(join)?
            .map_err(|_| ServeError::Task("store writer panicked".into()))?;
        let obd_writer = self.obd_writer_thread;
        tokio::task::spawn_blocking(move || obd_writer.join())
            .await
            .map_err(join)?
            .map_err(|_| ServeError::Task("truck-data writer panicked".into()))?;
        tracing::info!("huanghe stopped");
        Ok(())
    }
}
