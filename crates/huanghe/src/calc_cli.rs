//! `huanghe calc`: the standards' judgements on the command line, JSON out.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use envstd::aqi::{self, Kind, Pollutant, Version};
use envstd::{Dec, emission, noise, water};

/// The `calc` subcommands.
#[derive(Debug, Subcommand)]
pub enum CalcCommand {
    /// AQI per HJ 633 (the version in force at --time): `--hourly pm25=35 pm10=50 ...` or
    /// `--daily so2=.. no2=.. co=.. pm10=.. pm25=.. o3_8h=.. [o3=<max 1-h>]`.
    Aqi(AqiArgs),
    /// Surface-water class per GB 3838-2002: `ph=7.2 do=6.1 codmn=4.5 nh3n=0.8 tp=0.15 ...`.
    Water(WaterArgs),
    /// Noise per GB 3096-2008 from 24 hourly Leq values.
    Noise(NoiseArgs),
    /// O2-converted concentration.
    Convert(ConvertArgs),
}

/// Arguments of `calc aqi`.
#[derive(Debug, Args)]
pub struct AqiArgs {
    /// The data's time (RFC 3339; seconds optional): selects HJ 633-2012 or -2026.
    #[arg(long)]
    time: String,
    /// Real-time report from 1-h values.
    #[arg(long, conflicts_with = "daily")]
    hourly: bool,
    /// Daily report from daily values.
    #[arg(long)]
    daily: bool,
    /// SO2 24-h mean (HJ 633-2012 uses it when SO2 1-h is above 800).
    #[arg(long)]
    so2_24h: Option<String>,
    /// `pollutant=value` (µg/m³; CO mg/m³).
    #[arg(required = true)]
    values: Vec<String>,
}

/// Arguments of `calc water`.
#[derive(Debug, Args)]
pub struct WaterArgs {
    /// `river` or `lake` (lake and reservoir TP limits).
    #[arg(long, default_value = "river")]
    waterbody: String,
    /// The section's target class (I–V): adds the verdict.
    #[arg(long)]
    target: Option<String>,
    /// `item=value` (mg/L; pH without unit).
    #[arg(required = true)]
    values: Vec<String>,
}

/// Arguments of `calc noise`.
#[derive(Debug, Args)]
pub struct NoiseArgs {
    /// Zone: 0, 1, 2, 3, 4a, 4b.
    #[arg(long)]
    zone: String,
    /// 24 hourly Leq values from 00:00, comma-separated, `-` for a missing hour.
    #[arg(long)]
    leq_hourly: String,
    /// First day hour.
    #[arg(long, default_value_t = 6)]
    day_start: u32,
    /// First night hour.
    #[arg(long, default_value_t = 22)]
    day_end: u32,
}

/// Arguments of `calc convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Measured concentration.
    #[arg(long)]
    measured: String,
    /// Measured O2, %.
    #[arg(long)]
    o2: String,
    /// Reference O2, % (or give --source).
    #[arg(long, required_unless_present = "source")]
    ref_o2: Option<String>,
    /// Source type for the reference O2 (coal_power_boiler, coal_industrial_boiler, ...).
    #[arg(long, conflicts_with = "ref_o2")]
    source: Option<String>,
}

fn pairs(values: &[String]) -> Result<Vec<(String, Dec)>> {
    values
        .iter()
        .map(|v| {
            let (k, x) = v
                .split_once('=')
                .with_context(|| format!("{v:?}: expected name=value"))?;
            let x = Dec::parse(x).with_context(|| k.to_string())?;
            Ok((k.trim().to_ascii_lowercase(), x))
        })
        .collect()
}

fn dec(name: &str, text: &str) -> Result<Dec> {
    Dec::parse(text).with_context(|| format!("--{name}"))
}

fn print(value: impl serde::Serialize) -> Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs a calc command.
pub fn run(cmd: CalcCommand) -> Result<ExitCode> {
    match cmd {
        CalcCommand::Aqi(a) => {
            // Seconds are optional on the command line.
            let ms = bjtime::parse_rfc3339(&a.time).map_err(|e| anyhow::anyhow!("--time: {e}"))?;
            let day = bjtime::Date::of(ms.div_euclid(1000));
            let version = Version::for_date(day.year(), day.month(), day.day());
            let kind = match (a.hourly, a.daily) {
                (true, _) => Kind::Hourly,
                (_, true) => Kind::Daily,
                _ => bail!("give --hourly or --daily"),
            };
            let mut inputs = aqi::Inputs::default();
            for (k, v) in pairs(&a.values)? {
                match k.as_str() {
                    "o3_8h" | "o3-8h" => inputs.o3_8h = Some(v),
                    "o3_1h" => inputs.values.push((Pollutant::O3, v)),
                    _ => inputs.values.push((Pollutant::from_name(&k)?, v)),
                }
            }
            inputs.so2_24h = a
                .so2_24h
                .as_deref()
                .map(|s| dec("so2-24h", s))
                .transpose()?;
            print(aqi::report(version, kind, &inputs)?)
        }
        CalcCommand::Water(w) => {
            let body = match w.waterbody.as_str() {
                "river" => water::Waterbody::River,
                "lake" | "reservoir" => water::Waterbody::Lake,
                other => bail!("--waterbody {other:?}: river or lake"),
            };
            let target = w
                .target
                .as_deref()
                .map(water::Class::from_name)
                .transpose()?;
            print(water::assess(&pairs(&w.values)?, body, target)?)
        }
        CalcCommand::Noise(n) => {
            let zone = noise::Zone::from_name(&n.zone)?;
            let parts: Vec<&str> = n.leq_hourly.split(',').map(str::trim).collect();
            if parts.len() != 24 {
                bail!(
                    "--leq-hourly needs 24 values (from 00:00), got {}",
                    parts.len()
                );
            }
            let mut hourly = [None; 24];
            for (h, p) in parts.iter().enumerate() {
                if *p != "-" && !p.is_empty() {
                    hourly[h] = Some(
                        p.parse::<f64>()
                            .with_context(|| format!("hour {h}: {p:?} is not a level"))?,
                    );
                }
            }
            print(noise::assess(
                zone,
                &hourly,
                noise::DayHours {
                    start: n.day_start,
                    end: n.day_end,
                },
            )?)
        }
        CalcCommand::Convert(c) => {
            let ref_o2 = match (&c.ref_o2, &c.source) {
                (Some(r), _) => dec("ref-o2", r)?,
                (None, Some(s)) => emission::reference_o2(s)?,
                (None, None) => bail!("give --ref-o2 or --source"),
            };
            print(emission::convert(
                dec("measured", &c.measured)?,
                dec("o2", &c.o2)?,
                ref_o2,
            )?)
        }
    }
}
