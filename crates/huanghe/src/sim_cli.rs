//! `huanghe simulate` (a fleet of data loggers against any server) and `huanghe demo` (the
//! whole platform in one command: server, demo city, backfilled history, live simulation).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use simulator::run::{RunConfig, SimClock};
use simulator::scenario;

fn now_ms() -> i64 {
    domain::Clock::system().now_ms()
}

fn duration(text: &str) -> Result<i64> {
    scenario::parse_duration(text).with_context(|| format!("{text:?}: use 30s, 45m, 2h or 1d"))
}

/// The demo city's points (the same the server loads with `--demo-city`).
fn demo_points() -> Vec<domain::Point> {
    let now = now_ms();
    registry::demo::city(2026, now, now).points
}

/// Arguments of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The server's HJ 212 address.
    #[arg(long)]
    target: SocketAddr,
    /// Points file (`[[points]]` with MN and password) of the devices to simulate.
    #[arg(long, conflicts_with = "demo_city")]
    points: Option<PathBuf>,
    /// Simulate the demo city's devices.
    #[arg(long)]
    demo_city: bool,
    /// Scenario file of incidents (TOML); the demo scenario with `--demo-scenario`.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Play the built-in demo scenario.
    #[arg(long, conflicts_with = "scenario")]
    demo_scenario: bool,
    /// Where to write the incident labels (JSON Lines).
    #[arg(long, default_value = "labels.jsonl")]
    labels: PathBuf,
    /// Simulated seconds per second (60: an hour a minute).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Simulated start, RFC 3339 (default now).
    #[arg(long)]
    start: Option<String>,
    /// First send this much history (interval data), e.g. `2d`.
    #[arg(long)]
    backfill: Option<String>,
    /// Stop after this much wall time (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<String>,
    /// No real-time (2011) data.
    #[arg(long)]
    no_realtime: bool,
}

async fn stop_after(limit: Option<Duration>) {
    match limit {
        Some(d) => tokio::time::sleep(d).await,
        None => server::Running::wait_for_signal().await,
    }
}

/// Runs `simulate`.
pub fn simulate(args: SimulateArgs) -> Result<ExitCode> {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        bail!("--speed must be a positive number");
    }
    let points = match (&args.points, args.demo_city) {
        (Some(path), _) => server::config::read_points_file(path)
            .with_context(|| format!("points file {}", path.display()))?,
        (None, true) => demo_points(),
        (None, false) => bail!("give --points FILE or --demo-city"),
    };
    let start_ms = match &args.start {
        Some(t) => bjtime::parse_rfc3339(t).map_err(|e| anyhow::anyhow!("--start: {e}"))?,
        None => now_ms(),
    };
    let scenario_text = match (&args.scenario, args.demo_scenario) {
        (Some(path), _) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, true) => scenario::DEFAULT_SCENARIO.to_owned(),
        (None, false) => String::new(),
    };
    let incidents = scenario::parse(&scenario_text, start_ms / 1000)?;
    simulator::run::write_labels(&args.labels, &incidents)
        .with_context(|| format!("writing {}", args.labels.display()))?;
    let backfill_from = args
        .backfill
        .as_deref()
        .map(duration)
        .transpose()?
        .map(|d| start_ms / 1000 - d);
    let limit = args
        .duration
        .as_deref()
        .map(duration)
        .transpose()?
        .map(|s| Duration::from_secs(s as u64));
    let config = RunConfig {
        target: args.target,
        clock: SimClock::simulated(start_ms, args.speed),
        realtime: !args.no_realtime,
        backfill_from,
        ack_timeout: Duration::from_secs(10),
        tries: 3,
    };
    let devices = simulator::run::devices_for(&points);
    eprintln!(
        "huanghe simulate: {} devices -> {}, speed {}, {} incidents (labels in {})",
        devices.len(),
        args.target,
        args.speed,
        incidents.len(),
        args.labels.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stats = runtime.block_on(async {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let fleet = tokio::spawn(simulator::run::run_fleet(
            devices, config, incidents, stopped,
        ));
        stop_after(limit).await;
        let _ = stop.send(true);
        fleet.await
    })?;
    println!("{}", stats.summary());
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory (default: a fresh temporary one, kept so you can look at it).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HJ 212 listen address.
    #[arg(long, default_value = "127.0.0.1:9212")]
    hj212_listen: SocketAddr,
    /// HJ 1239 truck listen address.
    #[arg(long, default_value = "127.0.0.1:9239")]
    hj1239_listen: SocketAddr,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8212")]
    http_listen: SocketAddr,
    /// History to backfill before going live.
    #[arg(long, default_value = "1d")]
    backfill: String,
    /// Simulated seconds per second for the live part.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Stop after this much wall time (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<String>,
}

/// Runs `demo`.
pub fn demo(args: DemoArgs) -> Result<ExitCode> {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        bail!("--speed must be a positive number");
    }
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("huanghe-demo-{}", now_ms())),
    };
    let backfill = duration(&args.backfill)?;
    let limit = args
        .duration
        .as_deref()
        .map(duration)
        .transpose()?
        .map(|s| Duration::from_secs(s as u64));
    let mut config = server::Config {
        data_dir: data_dir.clone(),
        demo_city: true,
        ..server::Config::default()
    };
    config.hj212.listen = args.hj212_listen;
    config.hj1239.listen = args.hj1239_listen;
    config.http.listen = args.http_listen;
    let filter = tracing_subscriber::EnvFilter::try_new("warn").context("log filter")?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        eprintln!(
            "huanghe demo: loading the demo city into {} ...",
            data_dir.display()
        );
        let start_ms = now_ms();
        // One clock for the server and its simulated devices.
        let clock = SimClock::simulated(start_ms, args.speed);
        let running = server::start_with_clock(config, clock).await?;
        let accounts = demo_accounts(&data_dir)?;
        let incidents = scenario::parse(scenario::DEFAULT_SCENARIO, start_ms / 1000)?;
        let labels = data_dir.join("labels.jsonl");
        simulator::run::write_labels(&labels, &incidents)?;
        let devices = simulator::run::devices_for(&demo_points());
        println!("huanghe demo is running.");
        println!("  web UI:     http://{}/", running.http_addr);
        println!(
            "  API:        http://{}/api/v1/registries",
            running.http_addr
        );
        println!(
            "  OpenAPI:    http://{}/api/v1/openapi.json",
            running.http_addr
        );
        println!("  HJ 212:     {}", running.hj212_addr);
        let trucks = demo_trucks(&data_dir)?;
        println!(
            "  HJ 1239:    {} ({} trucks on two-hour shifts, 06:00-22:00)",
            running.hj1239_addr,
            trucks.len()
        );
        println!(
            "  accounts (passwords generated for this run; log in at POST /api/v1/auth/login):"
        );
        for (name, role, scope, password) in &accounts {
            println!("    {name:<10} {role:<17} {scope:<20} {password}");
        }
        println!("  data:       {}", data_dir.display());
        println!(
            "  simulating: {} devices, {} of history first, then live at speed {}; incidents in {}",
            devices.len(),
            args.backfill,
            args.speed,
            labels.display()
        );
        println!("  Ctrl-C stops everything.");
        let run = RunConfig {
            target: running.hj212_addr,
            clock,
            realtime: true,
            backfill_from: Some(start_ms / 1000 - backfill),
            ack_timeout: Duration::from_secs(10),
            tries: 3,
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut drivers = tokio::task::JoinSet::new();
        for (seed, truck) in trucks.into_iter().enumerate() {
            drivers.spawn(simulator::truck::drive(
                running.hj1239_addr,
                truck,
                seed as u64 * 7919 + 1,
                clock,
                stopped.clone(),
            ));
        }
        let fleet = tokio::spawn(simulator::run::run_fleet(devices, run, incidents, stopped));
        stop_after(limit).await;
        eprintln!("huanghe demo: stopping");
        let _ = stop.send(true);
        let stats = fleet.await?;
        let mut reports = 0;
        while let Some(d) = drivers.join_next().await {
            reports += d.map_or(0, |d| d.reports);
        }
        println!("trucks: {reports} reports acknowledged");
        running.shutdown().await?;
        println!("{}", stats.summary());
        Ok(ExitCode::SUCCESS)
    })
}

/// The demo city's active heavy-duty trucks, each starting at its owner's site.
fn demo_trucks(data_dir: &std::path::Path) -> Result<Vec<simulator::truck::Truck>> {
    use store::RegistryStore;
    let store = store::SqliteStore::open(&data_dir.join("huanghe.db"))?;
    let sites: std::collections::HashMap<String, (f64, f64)> = store
        .entries("enterprises")?
        .into_iter()
        .filter_map(|e| {
            let loc = e.data.get("location")?.as_array()?;
            Some((e.id, (loc.first()?.as_f64()?, loc.get(1)?.as_f64()?)))
        })
        .collect();
    Ok(store
        .entries(obd_gateway::VEHICLE_REGISTRY)?
        .into_iter()
        .filter(|e| e.data.get("status").and_then(|v| v.as_str()) == Some("active"))
        .enumerate()
        .map(|(i, e)| {
            let site = e
                .data
                .get("enterprise")
                .and_then(|v| v.as_str())
                .and_then(|c| sites.get(c).copied())
                .unwrap_or((117.0, 36.65));
            simulator::truck::Truck::new(&e.id, i as u64 + 1, site)
        })
        .collect())
}

/// One account per role for the demo, each with a fresh random password (printed once; there
/// is no default password). Returns (name, role, scope, password).
fn demo_accounts(data_dir: &std::path::Path) -> Result<Vec<(String, String, String, String)>> {
    use access::Role;
    use store::RegistryStore;
    let store = store::SqliteStore::open(&data_dir.join("huanghe.db"))?;
    // The enterprise of the first registered outlet point, for the enterprise account.
    let enterprise = store
        .entries(domain::POINTS_REGISTRY)?
        .into_iter()
        .find_map(|e| {
            e.data
                .get("enterprise")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        });
    let mut plan: Vec<(&str, Role, Option<&str>, Option<&str>)> = vec![
        ("admin", Role::Admin, None, None),
        ("duty", Role::DutyOfficer, None, None),
        ("li", Role::DistrictOfficer, Some("lixia"), None),
        ("analyst", Role::Analyst, None, None),
        ("clerk", Role::RegistryClerk, None, None),
        ("operator", Role::DeviceOperator, None, None),
    ];
    if let Some(e) = enterprise.as_deref() {
        plan.push(("ent", Role::Enterprise, None, Some(e)));
    }
    plan.into_iter()
        .map(|(name, role, district, ent)| {
            let password = crate::user_cli::provision(&store, name, role, district, ent)?;
            let scope = district.or(ent).unwrap_or("city").to_owned();
            Ok((name.to_owned(), role.to_string(), scope, password))
        })
        .collect()
}
