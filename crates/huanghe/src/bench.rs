//! `huanghe bench ingest`: starts a real server (this binary's `serve`, in its own process, on a
//! fresh data directory), connects N simulated data loggers over loopback TCP, each sending
//! minute data (2051) and waiting for the durable acknowledgement (9014) before the next
//! packet, as loggers do, and prints one JSON object with what was measured.
//!
//! The server's CPU time comes from `/proc/<pid>/stat`; bytes per value from the server's own
//! `/api/v1/store` after its housekeeping has compressed the closed day windows (the simulated
//! DataTimes start three days back, so the windows close as they fill).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use serde_json::json;
use simulator::{Link, Logger};

/// The `bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput, acknowledgement latency, storage cost and server CPU.
    Ingest(IngestArgs),
    /// Trucks (HJ 1239): terminals at the real rate, acknowledgement latency, server CPU, and
    /// the storage cost of an hour of records per truck after compression.
    Obd(ObdArgs),
}

/// Arguments of `bench obd`.
#[derive(Debug, Args)]
pub struct ObdArgs {
    /// Simulated trucks (one terminal connection each). Each process may hold as many
    /// connections as its open-file limit allows, less a margin; more are refused up front.
    #[arg(long, default_value_t = 20_000)]
    trucks: usize,
    /// Seconds of load after the last truck has connected and logged in.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Trucks whose hour of one-second records is stored and compacted to measure the
    /// storage cost.
    #[arg(long, default_value_t = 200)]
    storage_trucks: usize,
    /// Data directory for the server (default: a fresh temporary one, removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HJ 212 data loggers sending minute data to the same server at the same time (as
    /// `bench ingest`, 8 factors), to see both front doors under load together.
    #[arg(long, default_value_t = 0)]
    loggers: usize,
    /// Packets per second per logger.
    #[arg(long, default_value_t = 1.6)]
    logger_rate: f64,
}

/// Arguments of `bench ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Simulated data loggers (one TCP connection each).
    #[arg(long, default_value_t = 500)]
    devices: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Factors per packet (4 values each: Min, Avg, Max, Flag).
    #[arg(long, default_value_t = 8)]
    factors: usize,
    /// Data directory for the server (default: a fresh temporary one, removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Packets per second per logger (0: each sends again as soon as it is acknowledged).
    /// With a rate, latency is measured from when the packet was due, so a server that falls
    /// behind shows it (no coordinated omission).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds between the server's housekeeping passes.
    #[arg(long, default_value_t = 5)]
    maintenance_s: u64,
}

/// Runs a bench command.
pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Ingest(args) => ingest(args),
        BenchCommand::Obd(args) => obd(args),
    }
}

struct Server {
    child: Child,
    hj212: SocketAddr,
    hj1239: SocketAddr,
    http: SocketAddr,
    token: String,
}

fn start_server(dir: &Path, devices: usize, maintenance_s: u64) -> Result<Server> {
    let mut points = String::new();
    for i in 0..devices {
        points.push_str(&format!(
            "[[points]]\nid = \"bench-{i}\"\nname = \"bench logger {i}\"\nmn = \"{}\"\npassword = \"123456\"\nst = \"31\"\nkind = \"gas_outlet\"\nmin_interval_min = 1\n[points.codes.a21026]\nlimit = 35.0\nref_o2 = 9.0\n\n",
            mn(i)
        ));
    }
    std::fs::write(dir.join("points.toml"), points).context("writing points file")?;
    let config = format!(
        "data_dir = {:?}\npoints_file = {:?}\n[hj212]\nlisten = \"127.0.0.1:0\"\n[hj1239]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n[store]\nmaintenance_interval_s = {maintenance_s}\ncompaction_settle_s = {maintenance_s}\n",
        dir.join("data"),
        dir.join("points.toml"),
    );
    std::fs::write(dir.join("config.toml"), config).context("writing config")?;
    let token = crate::user_cli::tool_token(&dir.join("data"), "bench")?;
    let log = std::fs::File::create(dir.join("server.log")).context("creating server log")?;
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut child = Command::new(exe)
        .args(["serve", "--config"])
        .arg(dir.join("config.toml"))
        .args(["--log", "warn"])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("starting the server")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading the server's ready line")?;
    let ready: serde_json::Value = serde_json::from_str(&line).with_context(|| {
        format!(
            "the server did not start (see {}): {line:?}",
            dir.join("server.log").display()
        )
    })?;
    let addr = |k: &str| -> Result<SocketAddr> {
        ready[k]
            .as_str()
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("ready line without {k}: {line}"))
    };
    Ok(Server {
        hj212: addr("hj212")?,
        hj1239: addr("hj1239")?,
        http: addr("http")?,
        child,
        token,
    })
}

fn mn(i: usize) -> String {
    format!("BENCH{i:08}")
}

/// User plus system CPU seconds of a process.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let tck = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    Some((utime + stime) / tck)
}

fn stop_server(mut server: Server) -> Result<()> {
    let _ = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = server.child.try_wait()? {
            if !status.success() {
                bail!("the server exited with {status}");
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    server.child.kill()?;
    bail!("the server did not stop within 60 s of SIGTERM")
}

struct DeviceResult {
    acked: u64,
    /// Acknowledgement latencies, microseconds.
    latencies_us: Histogram<u64>,
    error: Option<String>,
}

/// Latencies from 1 µs to an hour, to 3 significant digits.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds are valid")
}

impl Default for DeviceResult {
    fn default() -> Self {
        Self {
            acked: 0,
            latencies_us: latency_histogram(),
            error: None,
        }
    }
}

async fn device(
    addr: SocketAddr,
    index: usize,
    factors: usize,
    start: i64,
    until: Instant,
    rate: f64,
) -> DeviceResult {
    let mut result = DeviceResult::default();
    let mut logger = Logger::gas(&mn(index), "123456", factors, start, index as u64 + 1);
    let mut link = match Link::connect(addr).await {
        Ok(l) => l,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    let period = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
    // Spread the loggers' first packets over one period.
    let mut due = Instant::now()
        + period.map_or(Duration::ZERO, |p| {
            p.mul_f64((index % 1000) as f64 / 1000.0)
        });
    while Instant::now() < until {
        if period.is_some() {
            tokio::time::sleep_until(due.into()).await;
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let (qn, _, message) = logger.next_message(now_ms);
        match link.send_data(&message, &qn, Duration::from_secs(30)).await {
            Ok(t) => {
                result.acked += 1;
                // Paced: from when the packet was due (it may have been sent late).
                let t = match period {
                    Some(p) => {
                        let since_due = due.elapsed();
                        due += p;
                        since_due.max(t)
                    }
                    None => t,
                };
                result
                    .latencies_us
                    .saturating_record(t.as_micros().min(u128::from(u64::MAX)) as u64);
            }
            Err(e) => {
                result.error = Some(e.to_string());
                break;
            }
        }
    }
    result
}

/// A quantile of latencies recorded in microseconds, in milliseconds.
fn percentile(latencies: &Histogram<u64>, q: f64) -> f64 {
    latencies.value_at_quantile(q) as f64 / 1000.0
}

fn ingest(args: IngestArgs) -> Result<ExitCode> {
    if args.devices == 0 || args.seconds == 0 || args.factors == 0 {
        bail!("--devices, --seconds and --factors must be at least 1");
    }
    let (dir, _temp) = work_dir(args.data_dir.as_deref())?;
    let server = start_server(&dir, args.devices, args.maintenance_s)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let cpu_before = cpu_seconds(server.child.id()).unwrap_or(0.0);
    let client_cpu_before = cpu_seconds(std::process::id()).unwrap_or(0.0);
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // DataTimes start at Beijing midnight three days back: realistic minute data whose day
    // windows close (and get compressed) as they fill.
    let start = bjtime::day_start(now_s) - 3 * bjtime::DAY_S;
    let began = Instant::now();
    let until = began + Duration::from_secs(args.seconds);
    let results = runtime.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..args.devices {
            set.spawn(device(
                server.hj212,
                i,
                args.factors,
                start,
                until,
                args.rate,
            ));
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.push(r.unwrap_or_else(|e| DeviceResult {
                error: Some(e.to_string()),
                ..DeviceResult::default()
            }));
        }
        all
    });
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.child.id()).unwrap_or(0.0) - cpu_before;
    let client_cpu = cpu_seconds(std::process::id()).unwrap_or(0.0) - client_cpu_before;
    let packets: u64 = results.iter().map(|r| r.acked).sum();
    let values = packets * (args.factors as u64 * 4);
    let mut latencies = latency_histogram();
    for r in &results {
        latencies
            .add(&r.latencies_us)
            .context("merging latency histograms")?;
    }
    let errors: Vec<&str> = results.iter().filter_map(|r| r.error.as_deref()).collect();
    // Let housekeeping compress the closed windows, then read the store's size.
    std::thread::sleep(Duration::from_secs(args.maintenance_s * 3 + 1));
    let auth = format!("Bearer {}", server.token);
    let auth_header = [("Authorization", auth.as_str())];
    let store = runtime.block_on(server::client::request_with(
        server.http,
        "GET",
        "/api/v1/store",
        &auth_header,
        None,
        Duration::from_secs(300),
    ))?;
    let store = store.json().context("store statistics")?;
    let metrics = runtime
        .block_on(server::client::request_with(
            server.http,
            "GET",
            "/metrics",
            &auth_header,
            None,
            Duration::from_secs(60),
        ))?
        .text();
    let quantile = |q: &str| -> Option<f64> {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("huanghe_alarm_latency_ms{{quantile=\"{q}\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    stop_server(server)?;
    let report = json!({
        "devices": args.devices,
        "factors": args.factors,
        "rate_per_device": args.rate,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "packets": packets,
        "packets_per_s": (packets as f64 / elapsed).round(),
        "values": values,
        "values_per_s": (values as f64 / elapsed).round(),
        "ack_latency_ms": {
            "p50": percentile(&latencies, 0.50),
            "p99": percentile(&latencies, 0.99),
            "max": latencies.max() as f64 / 1000.0,
        },
        "alarm_latency_ms": { "p50": quantile("0.5"), "p99": quantile("0.99") },
        "server_cpu_s": (cpu * 100.0).round() / 100.0,
        "client_cpu_s": (client_cpu * 100.0).round() / 100.0,
        "store": store,
        "errors": errors.len(),
        "first_error": errors.first(),
    });
    println!("{report}");
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The soft limit on open files of this process.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Descriptors a process needs besides its connections (database files, listeners, pipes).
const FD_MARGIN: usize = 64;

/// The `i`-th bench truck's VIN (valid check digit).
fn bench_vin(i: usize) -> Result<String> {
    Ok(hj1239::vin::with_check_digit(&format!("LBENCH000T{i:07}"))?)
}

struct TruckResult {
    acked: u64,
    login_retries: u64,
    records: u64,
    latencies_us: Histogram<u64>,
    /// Of the reports due once every truck had connected.
    steady_us: Histogram<u64>,
    error: Option<String>,
}

/// One terminal: connects at `start`, logs in, then every 10 s from `start` sends the last ten
/// seconds as one report and waits for the acknowledgement; latency counts from when the
/// report was due (the schedule does not wait for the login, so a slow login shows as late
/// reports, and the trucks' reports stay spread over the period).
async fn truck(
    addr: SocketAddr,
    i: usize,
    vin: String,
    start: Instant,
    steady: Instant,
    until: Instant,
) -> TruckResult {
    let mut r = TruckResult {
        acked: 0,
        login_retries: 0,
        records: 0,
        latencies_us: latency_histogram(),
        steady_us: latency_histogram(),
        error: None,
    };
    let origin = (
        116.7 + (i % 97) as f64 * 0.006,
        36.4 + (i % 89) as f64 * 0.005,
    );
    let mut model = simulator::truck::Truck::new(&vin, i as u64 + 1, origin);
    tokio::time::sleep_until(start.into()).await;
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let result: Result<(), String> = async {
        // As terminals do: a login unanswered within 10 s is tried again on a new connection.
        let mut attempt = 0;
        let mut link = loop {
            attempt += 1;
            let tried = async {
                let mut link = simulator::truck::TruckLink::connect(addr)
                    .await
                    .map_err(|e| e.to_string())?;
                let login = hj1239::Message::Login {
                    time: hj1239::Time::from_unix(unix()),
                    serial: attempt,
                    iccid: format!("8986{i:016}"),
                }
                .encode(&vin, 1)
                .map_err(|e| e.to_string())?;
                link.exchange(&login, Duration::from_secs(10))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(link)
            }
            .await;
            match tried {
                Ok(link) => break link,
                Err(e) if attempt >= 6 => return Err(format!("login: {e}")),
                Err(_) => r.login_retries += 1,
            }
        };
        let period = Duration::from_secs(10);
        let mut due = start + period;
        let mut serial = 0u16;
        let mut t = unix();
        while due < until {
            tokio::time::sleep_until(due.into()).await;
            let now = unix();
            let records: Vec<_> = (t..now).map(|s| (s, model.step(s))).collect();
            if records.is_empty() {
                // Logged in within the second the report fell due: nothing to send yet.
                due += period;
                continue;
            }
            t = now;
            serial = serial.wrapping_add(1);
            let frame = simulator::truck::packet(&vin, 0x02, now, serial, &records, None)
                .map_err(|e| e.to_string())?;
            link.exchange(&frame, Duration::from_secs(60))
                .await
                .map_err(|e| e.to_string())?;
            r.acked += 1;
            r.records += records.len() as u64;
            let us = due.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
            r.latencies_us.saturating_record(us);
            if due >= steady {
                r.steady_us.saturating_record(us);
            }
            due += period;
        }
        Ok(())
    }
    .await;
    r.error = result.err();
    r
}

/// Values per diesel record: the 19 fields of the stream less the positioning-status flags.
const VALUES_PER_RECORD: u64 = 18;

/// Stores an hour of one-second records for `trucks` trucks in a fresh truck store as the
/// front door would (ten records per frame), compacts them, and measures the cost.
fn storage_cost(dir: &Path, trucks: usize) -> Result<serde_json::Value> {
    use store::obd::{FrameStatus, NewRecord, ObdFrame, ObdIngest, ObdSettings, ObdStore};
    let path = dir.join("storage.db");
    let store = ObdStore::open(&path, ObdSettings::default().window_s)?;
    let t0 = 1_800_000_000; // a whole hour (2027-01-15 16:00 Beijing)
    let mut batch = Vec::new();
    for i in 0..trucks {
        let vin = bench_vin(i)?;
        let mut model = simulator::truck::Truck::new(&vin, i as u64 + 1, (117.0, 36.65));
        for start in (t0..t0 + 3600).step_by(10) {
            batch.push(ObdIngest {
                frame: ObdFrame {
                    received_ms: (start + 10) * 1000,
                    peer: "bench".into(),
                    vin: Some(vin.clone()),
                    command: Some(2),
                    status: FrameStatus::Stored,
                    reason: None,
                    raw: Vec::new(),
                },
                records: (start..start + 10)
                    .map(|t| NewRecord {
                        ts: t,
                        kind: 2,
                        body: model.step(t).encode().to_vec(),
                    })
                    .collect(),
            });
            if batch.len() == 1000 {
                store.commit(&batch)?;
                batch.clear();
            }
        }
    }
    store.commit(&batch)?;
    let before = store.size()?;
    store.maintain((t0 + 7200) * 1000, &ObdSettings::default(), true)?;
    let after = store.size()?;
    let values = after.chunk_records as u64 * VALUES_PER_RECORD;
    Ok(json!({
        "trucks": trucks,
        "records": after.chunk_records,
        "values": values,
        "row_table_bytes_per_value": (before.file_bytes as f64 / values as f64 * 100.0).round() / 100.0,
        "chunk_bytes_per_value": (after.chunk_bytes as f64 / values as f64 * 100.0).round() / 100.0,
        "database_bytes_per_value": (after.file_bytes as f64 / values as f64 * 100.0).round() / 100.0,
    }))
}

fn obd(args: ObdArgs) -> Result<ExitCode> {
    if args.trucks == 0 || args.seconds == 0 {
        bail!("--trucks and --seconds must be at least 1");
    }
    let limit = open_file_limit().unwrap_or(1024);
    if args.trucks + FD_MARGIN > limit {
        bail!(
            "{} trucks need {} open files in this process and in the server; the limit here is {limit} \
             (`ulimit -n`): run with --trucks {} or raise the limit",
            args.trucks,
            args.trucks + FD_MARGIN,
            limit.saturating_sub(FD_MARGIN)
        );
    }
    let (dir, _temp) = work_dir(args.data_dir.as_deref())?;
    if args.trucks + args.loggers + FD_MARGIN > limit {
        bail!(
            "{} trucks and {} loggers need more open files than the limit here ({limit})",
            args.trucks,
            args.loggers
        );
    }
    let server = start_server(&dir, args.loggers, 5)?;
    let vins: Vec<String> = (0..args.trucks).map(bench_vin).collect::<Result<_>>()?;
    let mut csv = String::from("vin,plate,district,fuel,emission_stage,status\n");
    for (i, v) in vins.iter().enumerate() {
        csv.push_str(&format!("{v},鲁A{i:05},lixia,diesel,china_6a,active\n"));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let auth = format!("Bearer {}", server.token);
    let auth_header = [("Authorization", auth.as_str())];
    let imported = runtime.block_on(server::client::request_with(
        server.http,
        "POST",
        "/api/v1/registries/heavy_duty_vehicles/import?format=csv",
        &auth_header,
        Some(("text/csv", csv.as_bytes())),
        Duration::from_secs(300),
    ))?;
    if imported.status != 200 {
        bail!(
            "importing the bench trucks: {} {}",
            imported.status,
            imported.text()
        );
    }
    let hj1239 = server.hj1239;
    let cpu_before = cpu_seconds(server.child.id()).unwrap_or(0.0);
    let client_cpu_before = cpu_seconds(std::process::id()).unwrap_or(0.0);
    // Connections are spread over thirty seconds, as after a restart of the platform.
    let began = Instant::now();
    let ramp = Duration::from_secs(30);
    let until = began + ramp + Duration::from_secs(args.seconds);
    // The load generator gets both cores' worth of threads: on one, twenty thousand
    // terminals' reports queue behind each other and the queue shows as server latency.
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the load runtime")?;
    let data_start = {
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        bjtime::day_start(now_s) - 3 * bjtime::DAY_S
    };
    let hj212 = server.hj212;
    let (loggers, logger_rate) = (args.loggers, args.logger_rate);
    let logger_task = load.spawn(async move {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..loggers {
            set.spawn(device(hj212, i, 8, data_start, until, logger_rate));
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.push(r.unwrap_or_else(|e| DeviceResult {
                error: Some(e.to_string()),
                ..DeviceResult::default()
            }));
        }
        all
    });
    let results = load.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, vin) in vins.into_iter().enumerate() {
            let start = began + ramp.mul_f64(i as f64 / args.trucks as f64);
            set.spawn(truck(hj1239, i, vin, start, began + ramp, until));
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.push(r.unwrap_or_else(|e| TruckResult {
                acked: 0,
                login_retries: 0,
                records: 0,
                latencies_us: latency_histogram(),
                steady_us: latency_histogram(),
                error: Some(e.to_string()),
            }));
        }
        all
    });
    let logger_results = load.block_on(logger_task).unwrap_or_default();
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.child.id()).unwrap_or(0.0) - cpu_before;
    let client_cpu = cpu_seconds(std::process::id()).unwrap_or(0.0) - client_cpu_before;
    let mut logger_latencies = latency_histogram();
    for r in &logger_results {
        logger_latencies
            .add(&r.latencies_us)
            .context("merging latency histograms")?;
    }
    let logger_packets: u64 = logger_results.iter().map(|r| r.acked).sum();
    let logger_errors = logger_results.iter().filter(|r| r.error.is_some()).count();
    let (mut latencies, mut steady) = (latency_histogram(), latency_histogram());
    for r in &results {
        latencies
            .add(&r.latencies_us)
            .context("merging latency histograms")?;
        steady
            .add(&r.steady_us)
            .context("merging latency histograms")?;
    }
    let packets: u64 = results.iter().map(|r| r.acked).sum();
    let records: u64 = results.iter().map(|r| r.records).sum();
    let login_retries: u64 = results.iter().map(|r| r.login_retries).sum();
    let errors: Vec<&str> = results.iter().filter_map(|r| r.error.as_deref()).collect();
    let obd_db = std::fs::metadata(dir.join("data").join("obd.db")).map_or(0, |m| m.len());
    let metrics = runtime
        .block_on(server::client::request_with(
            server.http,
            "GET",
            "/metrics",
            &auth_header,
            None,
            Duration::from_secs(60),
        ))?
        .text();
    let counters: serde_json::Map<String, serde_json::Value> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("huanghe_hj1239_"))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), json!(value.parse::<f64>().ok()?)))
        })
        .collect();
    stop_server(server)?;
    let storage = storage_cost(&dir, args.storage_trucks)?;
    let report = json!({
        "trucks": args.trucks,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "packets": packets,
        "packets_per_s": (packets as f64 / elapsed).round(),
        "records": records,
        "records_per_s": (records as f64 / elapsed).round(),
        "ack_latency_ms": {
            "p50": percentile(&latencies, 0.50),
            "p99": percentile(&latencies, 0.99),
            "max": latencies.max() as f64 / 1000.0,
        },
        "ack_latency_all_connected_ms": {
            "reports": steady.len(),
            "p50": percentile(&steady, 0.50),
            "p99": percentile(&steady, 0.99),
            "max": steady.max() as f64 / 1000.0,
        },
        "login_retries": login_retries,
        "hj212_at_the_same_time": (loggers > 0).then(|| json!({
            "loggers": loggers,
            "packets": logger_packets,
            "values_per_s": ((logger_packets * 32) as f64 / elapsed).round(),
            "ack_latency_ms": {
                "p50": percentile(&logger_latencies, 0.50),
                "p99": percentile(&logger_latencies, 0.99),
                "max": logger_latencies.max() as f64 / 1000.0,
            },
            "errors": logger_errors,
        })),
        "server_cpu_s": (cpu * 100.0).round() / 100.0,
        "client_cpu_s": (client_cpu * 100.0).round() / 100.0,
        "obd_db_bytes": obd_db,
        "server_counters": counters,
        "storage_hour_per_truck": storage,
        "errors": errors.len(),
        "first_error": errors.first(),
    });
    println!("{report}");
    Ok(if errors.is_empty() && logger_errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The bench's directory: the one given, or a fresh temporary one removed when the returned
/// guard drops.
fn work_dir(given: Option<&Path>) -> Result<(PathBuf, Option<TempDir>)> {
    match given {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            Ok((d.to_path_buf(), None))
        }
        None => {
            let temp = TempDir::new()?;
            Ok((temp.0.clone(), Some(temp)))
        }
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "huanghe-bench-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
