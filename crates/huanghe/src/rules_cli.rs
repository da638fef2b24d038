//! `huanghe rules test RULES.toml SERIES.csv`: run rules on a sample series before deploying
//! them, and print the alarms they would raise (one JSON object per line).
//!
//! The series CSV has a header `time,type,code,avg,rtd,flag` (`type` is `rtd`, `min` or `hour`;
//! times RFC 3339; empty cells allowed). The point (kind, intervals, limits, reference O2) comes
//! from a points file; with one point in it, `--point` can be left out. An optional `point`
//! column carries other stations' hourly records in the same file: they are the point's
//! neighbours for the rules that compare a station with the stations around it (their
//! locations come from the points file).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use domain::{DataType, Observation};
use rules::{RuleKind, RuleSet};

/// The `rules` subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Evaluate rules on a CSV series and print the alarms.
    Test(TestArgs),
}

/// Arguments of `rules test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Rules file (TOML); `default` for the shipped rules.
    rules: PathBuf,
    /// Series (CSV: time,type,code,avg,rtd,flag).
    series: PathBuf,
    /// Points file with the point.
    #[arg(long)]
    points: PathBuf,
    /// The point's id (when the file has several).
    #[arg(long)]
    point: Option<String>,
}

/// Runs a rules command.
pub fn run(cmd: RulesCommand) -> Result<ExitCode> {
    let RulesCommand::Test(a) = cmd;
    let rules = if a.rules.as_os_str() == "default" {
        RuleSet::defaults()
    } else {
        let text = std::fs::read_to_string(&a.rules)
            .with_context(|| format!("reading {}", a.rules.display()))?;
        RuleSet::from_toml(&text)?
    };
    let points = server::config::read_points_file(&a.points)?;
    let point = match (&a.point, points.as_slice()) {
        (Some(id), _) => points
            .iter()
            .find(|p| p.id == *id)
            .with_context(|| format!("no point {id} in {}", a.points.display()))?,
        (None, [one]) => one,
        (None, _) => bail!(
            "{} has {} points: name one with --point",
            a.points.display(),
            points.len()
        ),
    };
    let mut reader = csv::Reader::from_path(&a.series)
        .with_context(|| format!("reading {}", a.series.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(ti), Some(ty), Some(co)) = (col("time"), col("type"), col("code")) else {
        bail!(
            "{}: the header must name time, type and code (and avg, rtd, flag)",
            a.series.display()
        );
    };
    let point_col = col("point");
    let mut rows = Vec::new();
    let mut others: BTreeMap<String, Vec<rules::Row>> = BTreeMap::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.with_context(|| format!("row {}", i + 2))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let time = bjtime::parse_rfc3339(get(Some(ti)).unwrap_or(""))
            .map_err(|e| anyhow::anyhow!("row {}: time: {e}", i + 2))?
            / 1000;
        let data_type = DataType::from_name(get(Some(ty)).unwrap_or(""))
            .with_context(|| format!("row {}: type must be rtd, min or hour", i + 2))?;
        let mut fields = BTreeMap::new();
        for f in ["avg", "rtd", "flag"] {
            if let Some(v) = get(col(f)) {
                fields.insert(f.to_owned(), v.to_owned());
            }
        }
        let row_point = get(point_col).unwrap_or(&point.id);
        let row = rules::Row::new(&Observation {
            point_id: row_point.to_owned(),
            data_type,
            code: get(Some(co)).unwrap_or("").to_owned(),
            time,
            fields,
        });
        if row_point == point.id {
            rows.push(row);
        } else {
            others.entry(row_point.to_owned()).or_default().push(row);
        }
    }
    let mut ctx = rules::Context::default();
    for (id, their_rows) in others {
        let other = points.iter().find(|p| p.id == id).with_context(|| {
            format!("point {id} of the series is not in {}", a.points.display())
        })?;
        let neighbour = rules::Neighbour::of(point, other, their_rows)
            .with_context(|| format!("{id} or {} has no location in the points file", point.id))?;
        ctx.neighbours.push(neighbour);
    }
    ctx.neighbours
        .sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
    for rule in rules
        .rules
        .iter()
        .filter(|r| r.kind() != RuleKind::DeviceSilent)
    {
        let windows = rules::evaluate_series(rule, point, &ctx, rows.clone());
        for (code, ws) in windows {
            for run in rules::runs(&ws, 3600) {
                println!(
                    "{}",
                    serde_json::json!({
                        "rule": rule.id, "severity": rule.severity, "point": point.id, "code": code,
                        "start": bjtime::rfc3339(run.start),
                        "end": bjtime::rfc3339(run.end),
                        "ongoing": run.ongoing, "evidence": run.evidence,
                    })
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
