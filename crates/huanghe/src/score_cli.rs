//! `huanghe score`: how well the fraud rules find cheating, on generated months of the demo
//! city's pollution sources and air stations with labelled incidents.
//!
//! For each seed: the demo city's gas and waste-water outlets, each with its honest habits
//! (production cycles, night rests, week-long shutdowns, start-ups, load swings, daily
//! calibrations, a monthly maintenance morning, plants close to their limits, waste-water plants
//! that do not discharge at night, analysers that measure every two hours, links that lose an
//! hour now and then) drawn from the seed, and its air stations, moving with the city's weather;
//! a share of them cheating once, by a kind, a time, a duration and a strength drawn from the
//! seed; their hourly records for the warm-up and the scored period, made exactly as the
//! devices send them; every fraud rule of the rules file judged on each point's series as
//! `huanghe rules test` judges it; the alarms (runs of active hours) that start in the scored
//! period scored against the labels by [`rules::score`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use rules::RuleSet;
use rules::score::{Label, Score, ScoredClue};
use simulator::scenario::{self, Incident};

/// Arguments of `score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Seeds, comma-separated: each generates its own month (honest habits and incidents).
    #[arg(long, default_value = "1,2,3")]
    seeds: String,
    /// Days scored (31: October 2026, whose last hour the monthly screens judge).
    #[arg(long, default_value_t = 31)]
    days: i64,
    /// Days of honest history before them (the rules' references: a month for a step change).
    #[arg(long, default_value_t = 10)]
    warm_up_days: i64,
    /// Share of the outlets that cheat once in the period.
    #[arg(long, default_value_t = 0.05)]
    share: f64,
    /// Share of the air stations that cheat once in the period (a city has few stations: at
    /// the outlets' share hardly any would).
    #[arg(long, default_value_t = 0.2)]
    station_share: f64,
    /// Strength of the incidents: 1 as drawn, less to weaken them towards no fraud (magnitudes
    /// nearer to an honest plant's, durations shorter).
    #[arg(long, default_value_t = 1.0)]
    strength: f64,
    /// Rules file (TOML); the shipped rules by default.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Also write the labels of every seed (JSON Lines, with a `seed` key) here.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Judge only the first this many points (a quicker look).
    #[arg(long)]
    outlets: Option<usize>,
    /// Print the scores as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Print every clue (rule, point, window, whether true) to stderr.
    #[arg(long)]
    verbose: bool,
}

/// The first day scored: a fixed Beijing midnight, so that runs are reproducible.
const PERIOD_START: &str = "2026-10-01T00:00:00+08:00";

/// Runs `score`.
pub fn run(args: ScoreArgs) -> Result<ExitCode> {
    let seeds: Vec<u64> = args
        .seeds
        .split(',')
        .map(|s| s.trim().parse().with_context(|| format!("seed {s:?}")))
        .collect::<Result<_>>()?;
    if args.days < 1
        || args.warm_up_days < 0
        || !(0.0..=1.0).contains(&args.share)
        || !(0.0..=1.0).contains(&args.station_share)
        || !(0.0..=1.0).contains(&args.strength)
    {
        bail!(
            "days must be at least 1, warm-up days not negative, shares and strength between 0 and 1"
        );
    }
    let rules = match &args.rules {
        Some(p) => RuleSet::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
        )
        .with_context(|| format!("{}", p.display()))?,
        None => RuleSet::defaults(),
    };
    let fraud_rules: Vec<&rules::Rule> = rules
        .rules
        .iter()
        .filter(|r| rules::fraud::family(r.kind()).is_some())
        .collect();
    let start = bjtime::parse_rfc3339(PERIOD_START).map_err(anyhow::Error::msg)? / 1000;
    let from = start - args.warm_up_days * 86_400;
    let to = start + args.days * 86_400;
    let now_ms = to * 1000;
    let points: Vec<domain::Point> = registry::demo::city(2026, now_ms, now_ms)
        .points
        .into_iter()
        .filter(|p| scenario::FraudTarget::of(p).is_some())
        .take(args.outlets.unwrap_or(usize::MAX))
        .collect();
    let outlets: Vec<(String, scenario::FraudTarget)> = points
        .iter()
        .filter_map(|p| Some((p.id.clone(), scenario::FraudTarget::of(p)?)))
        .collect();
    let mut all = Vec::new();
    let mut label_lines = String::new();
    for &seed in &seeds {
        let (stations, sources): (Vec<_>, Vec<_>) = outlets
            .iter()
            .cloned()
            .partition(|(_, t)| *t == scenario::FraudTarget::AirStation);
        let mut incidents =
            scenario::fraud_incidents(&sources, start, to, args.share, seed, args.strength);
        incidents.extend(scenario::fraud_incidents(
            &stations,
            start,
            to,
            args.station_share,
            seed ^ 0x5747,
            args.strength,
        ));
        for i in &incidents {
            let mut l = i.label();
            l["seed"] = seed.into();
            l["magnitude"] = serde_json::json!((i.magnitude * 1000.0).round() / 1000.0);
            label_lines.push_str(&format!("{l}\n"));
        }
        let (clues, evidence): (Vec<ScoredClue>, Vec<serde_json::Value>) =
            clues_of_month(&points, &fraud_rules, &incidents, seed, from, to, start)
                .into_iter()
                .unzip();
        let labels: Vec<Label> = incidents
            .iter()
            .map(|i| Label {
                point: i.point.clone(),
                kind: serde_json::to_value(i.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                start: i.start,
                end: i.end,
            })
            .collect();
        let ids: Vec<String> = outlets.iter().map(|o| o.0.clone()).collect();
        let s = rules::score::score(&labels, &clues, &ids, 86_400);
        if args.verbose {
            for (c, e) in clues.iter().zip(&evidence) {
                let true_clue = labels
                    .iter()
                    .any(|l| l.point == c.point && c.start < l.end + 86_400 && l.start < c.end);
                eprintln!(
                    "seed {seed} {} {} {} {}..{} {} {e}",
                    c.rule,
                    c.point,
                    c.code,
                    bjtime::rfc3339(c.start),
                    bjtime::rfc3339(c.end),
                    if true_clue { "true" } else { "FALSE" }
                );
            }
        }
        all.push((seed, s));
    }
    if let Some(p) = &args.labels {
        std::fs::write(p, label_lines).with_context(|| format!("{}", p.display()))?;
    }
    if args.json {
        let out: Vec<serde_json::Value> = all
            .iter()
            .map(|(seed, s)| serde_json::json!({"seed": seed, "score": s}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_tables(&all, &args, points.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The clues the fraud rules raise on every point over `[from, to)`, keeping those that start
/// at or after `scored_from`, with the evidence of their last hour; points judged on two
/// threads.
fn clues_of_month(
    points: &[domain::Point],
    fraud_rules: &[&rules::Rule],
    incidents: &[Incident],
    seed: u64,
    from: i64,
    to: i64,
    scored_from: i64,
) -> Vec<(ScoredClue, serde_json::Value)> {
    let mut devices = simulator::run::devices_for(points);
    for d in &mut devices {
        d.seed ^= seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // Three links in ten lose an hour now and then (one in a hundred).
        d.link_loss = if d.seed % 10 < 3 { 0.01 } else { 0.0 };
    }
    let hours = (to - from) / 3600;
    let rows_of = |k: usize| rules::rows(&devices[k].hourly_observations(from, hours, incidents));
    // The air stations' records, made once: each is every other's possible neighbour.
    let stations: Vec<(usize, Vec<rules::Row>)> = (0..points.len())
        .filter(|k| points[*k].kind == domain::PointKind::AirStation)
        .map(|k| (k, rows_of(k)))
        .collect();
    let judge = |k: usize| -> Vec<(ScoredClue, serde_json::Value)> {
        let point = &points[k];
        let rows = match stations.iter().find(|s| s.0 == k) {
            Some((_, rows)) => rows.clone(),
            None => rows_of(k),
        };
        let mut ctx = rules::Context::default();
        if fraud_rules
            .iter()
            .any(|r| r.applies(point) && r.neighbour_radius_km().is_some())
        {
            ctx.neighbours = stations
                .iter()
                .filter(|(j, _)| *j != k)
                .filter_map(|(j, rows)| rules::Neighbour::of(point, &points[*j], rows.clone()))
                .collect();
            ctx.neighbours
                .sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
        }
        let mut out = Vec::new();
        for rule in fraud_rules.iter().filter(|r| r.applies(point)) {
            let windows = rules::evaluate_series(rule, point, &ctx, rows.clone());
            for (code, ws) in &windows {
                for run in rules::runs(ws, 3600) {
                    if run.start >= scored_from {
                        // A monthly screen's clue is about its month, not the hour it is
                        // judged in.
                        let start = match rule.kind() {
                            rules::RuleKind::LastDigit => run.evidence["from"]
                                .as_str()
                                .and_then(|f| bjtime::parse_rfc3339(f).ok())
                                .map_or(run.start, |ms| ms / 1000),
                            _ => run.start,
                        };
                        let clue = ScoredClue {
                            rule: rule.id.clone(),
                            point: point.id.clone(),
                            code: code.clone(),
                            start,
                            end: run.end,
                        };
                        out.push((clue, run.evidence));
                    }
                }
            }
        }
        out
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut clues: Vec<(ScoredClue, serde_json::Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let judge = &judge;
                scope.spawn(move || {
                    (t..points.len())
                        .step_by(threads)
                        .flat_map(judge)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    clues.sort_by(|(a, _), (b, _)| (&a.point, a.start, &a.rule).cmp(&(&b.point, b.start, &b.rule)));
    clues
}

fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{:.2}", x))
}

fn print_tables(all: &[(u64, Score)], args: &ScoreArgs, outlets: usize) {
    println!(
        "{} outlets and stations of the demo city, {} days scored after {} of warm-up, {:.0} % of the outlets and {:.0} % of the stations cheating once at strength {}; seeds {}",
        outlets,
        args.days,
        args.warm_up_days,
        args.share * 100.0,
        args.station_share * 100.0,
        args.strength,
        args.seeds
    );
    println!();
    println!("Per rule (clues, true, precision; incidents found):");
    let mut rule_ids: Vec<&String> = all.iter().flat_map(|(_, s)| s.rules.keys()).collect();
    rule_ids.sort();
    rule_ids.dedup();
    for r in rule_ids {
        let cells: Vec<String> = all
            .iter()
            .map(|(seed, s)| match s.rules.get(r) {
                Some(x) => format!(
                    "seed {seed}: {} / {} = {}, found {}",
                    x.true_clues,
                    x.clues,
                    pct(x.precision),
                    x.found
                ),
                None => format!("seed {seed}: no clue"),
            })
            .collect();
        println!("  {r:<26} {}", cells.join(" | "));
    }
    println!();
    println!("Per kind of incident (found / labelled = recall):");
    let mut kinds: Vec<&String> = all.iter().flat_map(|(_, s)| s.kinds.keys()).collect();
    kinds.sort();
    kinds.dedup();
    for k in kinds {
        let cells: Vec<String> = all
            .iter()
            .map(|(seed, s)| match s.kinds.get(k) {
                Some(x) => format!(
                    "seed {seed}: {} / {} = {}",
                    x.found,
                    x.incidents,
                    pct(x.recall)
                ),
                None => format!("seed {seed}: none"),
            })
            .collect();
        println!("  {k:<26} {}", cells.join(" | "));
    }
    println!();
    println!("Overall:");
    for (seed, s) in all {
        println!(
            "  seed {seed}: precision {} ({} / {} clues), recall {} ({} / {} incidents), false clues on {} honest outlets: {} (at most {} on one)",
            pct(s.precision),
            s.true_clues,
            s.clues,
            pct(s.recall),
            s.found,
            s.incidents,
            s.honest_outlets,
            s.false_clues_on_honest,
            s.most_false_clues_on_one_honest
        );
    }
    let sum = |f: &dyn Fn(&Score) -> usize| all.iter().map(|(_, s)| f(s)).sum::<usize>();
    let (t, c, f, i) = (
        sum(&|s| s.true_clues),
        sum(&|s| s.clues),
        sum(&|s| s.found),
        sum(&|s| s.incidents),
    );
    println!(
        "  all seeds: precision {} ({t} / {c}), recall {} ({f} / {i})",
        pct((c > 0).then(|| t as f64 / c as f64)),
        pct((i > 0).then(|| f as f64 / i as f64)),
    );
}
