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
    }
}

struct Server {
    child: Child,
    hj212: SocketAddr,
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
    let temp;
    let dir = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => {
            temp = TempDir::new()?;
            temp.0.clone()
        }
    };
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
