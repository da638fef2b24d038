//! A station diverging from its neighbours (the standards summary's ambient-station analogues
//! of fraud rule R12): an air station's level falls against the stations around it and stays
//! down. Weather moves a whole city's stations together, so the ratio of a station to its
//! neighbours is steady; water sprinkled around the inlet or a covered sampling head lowers one
//! station's particulate matter only, and a changed slope in one station's analyser lowers its
//! level only. The neighbours play the part that the flow plays for a source's step change:
//! what shows that nothing real changed.
//!
//! Each hour's statistic is the log of the station's valid hourly value over the median of its
//! neighbours' at the same hour (values below `floor` counted as `floor`, so that a clean hour's
//! few µg/m³ do not make ratios of noise), over at least `min_neighbours` stations within
//! `radius_km`. The reference is that statistic's mean and standard deviation over the
//! `reference_hours` before the recent hours; the hour judged is active when the mean of the
//! last `recent_hours` and the hour judged itself are both more than `sigmas` standard
//! deviations below the reference and at most `max_ratio` of it (the material drop: a steady
//! station's deviation can be tiny). A station's neighbours' local episode lifts their median
//! only when most of them have it, and a broken neighbour is outvoted; with too few neighbours
//! reporting the hour is not judged.

use super::prelude::*;

/// Parameters of a `neighbour_divergence` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighbourDivergence {
    /// Codes judged.
    #[serde(default = "air_codes")]
    pub codes: Vec<String>,
    /// Stations within this distance are neighbours, km. [proposal]
    #[serde(default = "twenty")]
    pub radius_km: f64,
    /// Neighbours reporting an hour that the hour needs to be judged. [proposal]
    #[serde(default = "two")]
    pub min_neighbours: usize,
    /// Hours, ending with the hour judged, whose mean ratio is the new level. [proposal]
    #[serde(default = "six")]
    pub recent_hours: u32,
    /// Hours of the reference before the recent hours. [proposal]
    #[serde(default = "week")]
    pub reference_hours: u32,
    /// Hours with a ratio the reference needs. [proposal]
    #[serde(default = "three_days")]
    pub min_reference_hours: usize,
    /// Shift of the log ratio, in standard deviations of the reference, that makes a
    /// divergence (R12: 3).
    #[serde(default = "three")]
    pub sigmas: f64,
    /// The recent ratio as a share of the reference ratio at most. [proposal]
    #[serde(default = "max_ratio")]
    pub max_ratio: f64,
    /// Values below this count as this in a ratio (µg/m³; mg/m³ for CO is scaled by the
    /// same number, a tenth of it is used). [proposal]
    #[serde(default = "five")]
    pub floor: f64,
}

fn air_codes() -> Vec<String> {
    envstd::codes::AIR
        .iter()
        .map(|(c, _)| (*c).to_owned())
        .collect()
}
fn twenty() -> f64 {
    20.0
}
fn two() -> usize {
    2
}
fn six() -> u32 {
    6
}
fn week() -> u32 {
    168
}
fn three_days() -> usize {
    72
}
fn three() -> f64 {
    3.0
}
fn max_ratio() -> f64 {
    0.6
}
fn five() -> f64 {
    5.0
}

/// One hour's comparison: the station's value, its neighbours' median and how many reported,
/// and the log of their ratio.
struct Ratio {
    value: f64,
    median: f64,
    neighbours: usize,
    log: f64,
}

/// One recent hour as the evidence shows it.
#[derive(Serialize)]
struct HourRatio {
    time: String,
    value: f64,
    neighbours_median: f64,
    neighbours: usize,
    ratio: f64,
}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    /// The neighbours within the radius, nearest first: id and distance, km.
    neighbours: Vec<(String, f64)>,
    reference_from: String,
    reference_to: String,
    reference_hours: usize,
    /// The station's usual ratio to its neighbours' median (the exponential of the mean log).
    reference_ratio: f64,
    /// Standard deviation of the log ratio over the reference.
    reference_sd: f64,
    recent_from: String,
    /// The recent hours' ratio (the exponential of their mean log).
    recent_ratio: f64,
    /// Recent ratio over reference ratio, and its threshold.
    change: f64,
    max_ratio: f64,
    /// Shift in standard deviations, and its threshold.
    shift_sigmas: f64,
    sigmas: f64,
    recent: Vec<HourRatio>,
    standard: &'static str,
}

impl Evaluate for NeighbourDivergence {
    fn span(&self) -> Span {
        // Judged when the hour has settled: the neighbours' hourly records arrive in any order.
        Span::Hour {
            baseline_hours: self.reference_hours + self.recent_hours.max(1) - 1,
            settled: true,
        }
    }

    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            hour_start,
            ctx,
            wanted,
            ..
        } = *input;
        let recent_n = i64::from(self.recent_hours.max(1));
        let recent_from = hour_start - (recent_n - 1) * 3600;
        let reference_from = recent_from - i64::from(self.reference_hours) * 3600;
        let neighbours: Vec<&crate::Neighbour> = ctx
            .neighbours
            .iter()
            .filter(|n| n.distance_km <= self.radius_km)
            .collect();
        let mut out = Vec::new();
        for code in &self.codes {
            let code = code.as_str();
            let now = input.hourly_records().find(|r| {
                r.code == code && hour_of(r) == hour_start && r.normal() && r.avg.is_some()
            });
            if now.is_none() || neighbours.len() < self.min_neighbours {
                continue;
            }
            let floor = if code == "a21005" {
                self.floor / 10.0
            } else {
                self.floor
            };
            let valid = |r: &crate::Row| {
                (r.code == code && r.normal())
                    .then_some(r.avg)
                    .flatten()
                    .map(|v| (hour_of(r), v.to_f64()))
            };
            let own: BTreeMap<i64, f64> = input
                .hourly_records()
                .filter(|r| hour_of(r) >= reference_from)
                .filter_map(valid)
                .collect();
            let mut theirs: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
            for n in &neighbours {
                for (h, v) in n
                    .between(reference_from, hour_start + 3600)
                    .iter()
                    .filter_map(valid)
                {
                    theirs.entry(h).or_default().push(v);
                }
            }
            let ratios: BTreeMap<i64, Ratio> = own
                .iter()
                .filter_map(|(h, v)| {
                    let mut vs = theirs.get(h)?.clone();
                    if vs.len() < self.min_neighbours {
                        return None;
                    }
                    vs.sort_by(f64::total_cmp);
                    let m = if vs.len() % 2 == 1 {
                        vs[vs.len() / 2]
                    } else {
                        (vs[vs.len() / 2 - 1] + vs[vs.len() / 2]) / 2.0
                    };
                    let log = (v.max(floor) / m.max(floor)).ln();
                    Some((
                        *h,
                        Ratio {
                            value: *v,
                            median: m,
                            neighbours: vs.len(),
                            log,
                        },
                    ))
                })
                .collect();
            let reference: Vec<f64> = ratios
                .range(reference_from..recent_from)
                .map(|(_, r)| r.log)
                .collect();
            let recent: Vec<(&i64, &Ratio)> = ratios.range(recent_from..).collect();
            let Some(x_now) = ratios.get(&hour_start).map(|r| r.log) else {
                continue;
            };
            if reference.len() < self.min_reference_hours.max(2)
                || (recent.len() as i64) * 2 <= recent_n
            {
                continue;
            }
            let n = reference.len() as f64;
            let mean = reference.iter().sum::<f64>() / n;
            let sd = (reference.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let recent_mean = recent.iter().map(|(_, r)| r.log).sum::<f64>() / recent.len() as f64;
            let low = |x: f64| x < mean - self.sigmas * sd && (x - mean).exp() <= self.max_ratio;
            let active = low(recent_mean) && low(x_now);
            push(&mut out, wanted, code, active, || Evidence {
                rule: &rule.id,
                window: input.window(),
                code,
                neighbours: neighbours
                    .iter()
                    .map(|n| (n.point_id.clone(), (n.distance_km * 10.0).round() / 10.0))
                    .collect(),
                reference_from: iso(reference_from),
                reference_to: iso(recent_from),
                reference_hours: reference.len(),
                reference_ratio: round3(mean.exp()),
                reference_sd: round3(sd),
                recent_from: iso(recent_from),
                recent_ratio: round3(recent_mean.exp()),
                change: round3((recent_mean - mean).exp()),
                max_ratio: self.max_ratio,
                shift_sigmas: if sd > 0.0 {
                    round3((mean - recent_mean) / sd)
                } else {
                    0.0
                },
                sigmas: self.sigmas,
                recent: recent
                    .iter()
                    .map(|(h, r)| HourRatio {
                        time: iso(**h),
                        value: r.value,
                        neighbours_median: r.median,
                        neighbours: r.neighbours,
                        ratio: round3(r.log.exp()),
                    })
                    .collect(),
                standard: "standards summary §5.4, ambient-station analogues: a station diverging from its neighbours (sprinkling or covering: a drop at one station only) and R12 (a step its neighbours do not show); the radius, the hours, the ratio and the floor are [proposal]s",
            });
        }
        out
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use crate::{Context, Neighbour, Row, evaluate_series};
    use domain::{DataType, Observation, Point, PointKind};

    const T0: i64 = 1_790_000_000 - 1_790_000_000 % 3600;

    fn station(id: &str, lon: f64) -> Point {
        let mut p = crate::test_support::point();
        p.id = id.into();
        p.kind = PointKind::AirStation;
        p.codes.clear();
        p.location = Some([lon, 36.65]);
        p
    }

    /// Hourly PM2.5 of `hours` hours: a city-wide weather swing times the station's own level.
    fn series(id: &str, level: f64, hours: i64, f: impl Fn(i64) -> f64) -> Vec<Row> {
        (0..hours)
            .map(|k| {
                let weather =
                    60.0 + 25.0 * ((k as f64) / 19.0).sin() + 10.0 * ((k as f64) / 5.0).cos();
                let phase = f64::from(id.as_bytes()[0]);
                let local = 1.0 + 0.08 * ((k as f64 * 0.7 + phase).sin());
                let v = (weather * level * local * f(k)).round();
                Row::new(&Observation {
                    point_id: id.into(),
                    data_type: DataType::Hour,
                    code: "a34004".into(),
                    time: T0 + k * 3600,
                    fields: [
                        ("avg".to_owned(), format!("{v}")),
                        ("flag".into(), "N".into()),
                    ]
                    .into_iter()
                    .collect(),
                })
            })
            .collect()
    }

    fn rule() -> crate::Rule {
        crate::test_support::rule("air_neighbour_divergence")
    }

    fn active_hours(own: Vec<Row>, neighbours: &[(Point, Vec<Row>)]) -> Vec<i64> {
        let p = station("A", 117.00);
        let ctx = Context {
            neighbours: neighbours
                .iter()
                .filter_map(|(q, rows)| Neighbour::of(&p, q, rows.clone()))
                .collect(),
            ..Context::default()
        };
        let windows = evaluate_series(&rule(), &p, &ctx, own);
        windows
            .get("a34004")
            .map(|ws| {
                ws.iter()
                    .filter(|w| w.1)
                    .map(|w| (w.0 - T0) / 3600)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn neighbours(hours: i64) -> Vec<(Point, Vec<Row>)> {
        vec![
            (station("B", 117.05), series("B", 1.2, hours, |_| 1.0)),
            (station("C", 117.10), series("C", 0.9, hours, |_| 1.0)),
            (station("D", 116.95), series("D", 1.0, hours, |_| 1.0)),
        ]
    }

    #[test]
    fn a_drop_at_one_station_only_fires_and_ends_with_it() {
        let hours = 10 * 24;
        // Sprinkled from hour 200 to 212: values at 40 %.
        let own = series("A", 1.0, hours, |k| {
            if (200..212).contains(&k) { 0.4 } else { 1.0 }
        });
        let active = active_hours(own, &neighbours(hours));
        assert!(!active.is_empty(), "the drop is seen");
        assert!(active.iter().all(|h| (200..212).contains(h)), "{active:?}");
    }

    #[test]
    fn weather_that_moves_every_station_does_not_fire() {
        let hours = 10 * 24;
        let rain = |k: i64| if (200..230).contains(&k) { 0.3 } else { 1.0 };
        let own = series("A", 1.0, hours, rain);
        let ns: Vec<(Point, Vec<Row>)> =
            [("B", 117.05, 1.2), ("C", 117.10, 0.9), ("D", 116.95, 1.0)]
                .iter()
                .map(|(id, lon, l)| (station(id, *lon), series(id, *l, hours, rain)))
                .collect();
        assert_eq!(active_hours(own, &ns), Vec::<i64>::new());
    }

    #[test]
    fn one_neighbours_local_episode_or_too_few_neighbours_do_not_fire() {
        let hours = 10 * 24;
        let own = series("A", 1.0, hours, |_| 1.0);
        let mut ns = neighbours(hours);
        // A fire next to B: its values triple for a day.
        ns[0].1 = series("B", 1.2, hours, |k| {
            if (200..224).contains(&k) { 3.0 } else { 1.0 }
        });
        assert_eq!(active_hours(own.clone(), &ns), Vec::<i64>::new());
        // One neighbour only (the others too far): not judged, even for a real drop.
        let dropped = series("A", 1.0, hours, |k| if k >= 200 { 0.4 } else { 1.0 });
        let far = vec![
            ns[2].clone(),
            (station("E", 118.0), series("E", 1.0, hours, |_| 1.0)),
        ];
        assert_eq!(active_hours(dropped, &far), Vec::<i64>::new());
    }
}
