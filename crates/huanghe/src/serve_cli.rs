//! `huanghe serve` and `huanghe openapi`.
//!
//! Configuration is layered: built-in defaults, then the TOML file (`--config`), then
//! `HUANGHE_*` environment variables, then flags (clap gives each flag its variable). When the
//! server is ready it prints one JSON line on stdout with the bound addresses (useful with port
//! 0, and what `huanghe bench` and the tests read); logs go to stderr.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use server::Config;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file (every key optional; see README "Configuration").
    #[arg(long, env = "HUANGHE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (the store is `huanghe.db` inside it).
    #[arg(long, env = "HUANGHE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HJ 212 listen address (default 0.0.0.0:9212).
    #[arg(long, env = "HUANGHE_HJ212_LISTEN")]
    hj212_listen: Option<SocketAddr>,
    /// HJ 1239 / GB 17691 truck listen address (default 0.0.0.0:9239).
    #[arg(long, env = "HUANGHE_HJ1239_LISTEN")]
    hj1239_listen: Option<SocketAddr>,
    /// HTTP API listen address (default 127.0.0.1:8212).
    #[arg(long, env = "HUANGHE_HTTP_LISTEN")]
    http_listen: Option<SocketAddr>,
    /// Points file loaded at start (`[[points]]` tables).
    #[arg(long, env = "HUANGHE_POINTS")]
    points: Option<PathBuf>,
    /// Load the demo city (synthetic Jinan) into empty registries at start.
    #[arg(long, env = "HUANGHE_DEMO_CITY")]
    demo_city: bool,
    /// Log filter (`info`, `debug`, `gateway=debug,info`, ...).
    #[arg(long, env = "HUANGHE_LOG", default_value = "info")]
    log: String,
}

impl ServeArgs {
    /// The configuration these arguments describe.
    pub fn config(&self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(d) = &self.data_dir {
            config.data_dir = d.clone();
        }
        if let Some(a) = self.hj212_listen {
            config.hj212.listen = a;
        }
        if let Some(a) = self.hj1239_listen {
            config.hj1239.listen = a;
        }
        if let Some(a) = self.http_listen {
            config.http.listen = a;
        }
        if self.demo_city {
            config.demo_city = true;
        }
        if let Some(p) = &self.points {
            config.points_file = Some(p.clone());
        }
        config.validate()?;
        Ok(config)
    }
}

fn init_logs(filter: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("log filter {filter:?}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .map_err(|e| anyhow::anyhow!("starting logs: {e}"))
}

/// Runs the server until Ctrl-C or SIGTERM, then shuts it down in order.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let config = args.config()?;
    init_logs(&args.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let running = server::start(config.clone()).await?;
        println!(
            "{}",
            serde_json::json!({
                "hj212": running.hj212_addr.to_string(),
                "hj1239": running.hj1239_addr.to_string(),
                "http": running.http_addr.to_string(),
                "data_dir": config.data_dir.display().to_string(),
            })
        );
        server::Running::wait_for_signal().await;
        tracing::info!("shutting down");
        running.shutdown().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints the OpenAPI document.
pub fn openapi() -> Result<ExitCode> {
    let doc = server::api::openapi()
        .to_pretty_json()
        .context("rendering the OpenAPI document")?;
    println!("{doc}");
    Ok(ExitCode::SUCCESS)
}
