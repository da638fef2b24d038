//! Assessments computed from the stored series (envstd): hourly and daily AQI per air station
//! and for the city, water-section class and compliance per month.
//!
//! Results are computed when asked, from what is stored at that moment, so late or corrected
//! data change them at once; each result names the standard version it applied. Hourly data are
//! the 2061 series (`avg` field; DataTime = the hour's start); values whose flag is not `N` are
//! invalid and never counted as zero.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use domain::{DataType, Observation, PointKind};
use envstd::aqi::{self, Kind, Pollutant, Version};
use envstd::{Dec, water};
use serde::{Deserialize, Serialize};
use store::SeriesQuery;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

/// A day, `YYYY-MM-DD`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayParams {
    /// The day (Beijing); default today.
    pub date: Option<String>,
}

/// A month, `YYYY-MM`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthParams {
    /// The month (Beijing); default this month.
    pub month: Option<String>,
}

fn day_start(date: &str) -> ApiResult<(i64, bjtime::Date)> {
    let d = bjtime::Date::parse(date)
        .map_err(|_| ApiError::BadRequest(format!("date {date:?}: use YYYY-MM-DD")))?;
    Ok((d.start(), d))
}

fn today(state: &AppState) -> String {
    bjtime::Date::of(state.now_ms().div_euclid(1000)).to_string()
}

/// Valid `avg` values by (code, hour start).
fn hourly_values(rows: &[Observation]) -> BTreeMap<(String, i64), Dec> {
    rows.iter()
        .filter(|o| o.fields.get("flag").is_none_or(|f| f == "N"))
        .filter_map(|o| {
            let v = o.fields.get("avg").or_else(|| o.fields.get("rtd"))?;
            Some(((o.code.clone(), o.time), Dec::parse(v).ok()?))
        })
        .collect()
}

async fn hour_rows(
    state: &AppState,
    point_id: &str,
    from: i64,
    to: i64,
) -> ApiResult<Vec<Observation>> {
    let q = SeriesQuery {
        point_id: point_id.to_owned(),
        data_type: DataType::Hour,
        code: None,
        from,
        to,
        limit: 1_000_000,
    };
    let store = state.series_store();
    tokio::task::spawn_blocking(move || store.series(&q))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// One hour's AQI.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourAqi {
    /// The hour's start (RFC 3339).
    pub time: String,
    /// The report (standard, IAQIs, AQI, primary pollutants, level).
    #[schema(value_type = Object)]
    pub report: aqi::Report,
}

/// A day of AQI.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayAqi {
    /// A point id, or `city`.
    pub scope: String,
    /// The day.
    pub date: String,
    /// The standard applied (by the date).
    pub standard: String,
    /// Real-time reports, one per hour with data.
    pub hourly: Vec<HourAqi>,
    /// The daily report, from the daily means that are valid.
    #[schema(value_type = Object)]
    pub daily: aqi::Report,
    /// Daily inputs that could not be formed (too few valid hours), with why.
    pub invalid: Vec<String>,
}

/// Hourly and daily AQI from hourly concentrations by (pollutant, hour start).
fn day_aqi(
    scope: String,
    date: &str,
    start: i64,
    t: bjtime::Date,
    conc: &BTreeMap<(Pollutant, i64), Dec>,
) -> ApiResult<DayAqi> {
    let v = Version::for_date(t.year(), t.month(), t.day());
    let err = |e: envstd::InputError| ApiError::Internal(e.to_string());
    let mut hourly = Vec::new();
    for h in 0..24 {
        let at = start + h * 3600;
        let values: Vec<(Pollutant, Dec)> = Pollutant::ALL
            .into_iter()
            .filter_map(|p| conc.get(&(p, at)).map(|c| (p, *c)))
            .collect();
        if values.is_empty() {
            continue;
        }
        let inputs = aqi::Inputs {
            values,
            ..aqi::Inputs::default()
        };
        hourly.push(HourAqi {
            time: bjtime::rfc3339(at),
            report: aqi::report(v, Kind::Hourly, &inputs).map_err(err)?,
        });
    }
    let hours = |p: Pollutant, first: i64, n: i64| -> Vec<Option<Dec>> {
        (0..n)
            .map(|k| conc.get(&(p, first + k * 3600)).copied())
            .collect()
    };
    let mut inputs = aqi::Inputs::default();
    let mut invalid = Vec::new();
    for p in [
        Pollutant::So2,
        Pollutant::No2,
        Pollutant::Co,
        Pollutant::Pm10,
        Pollutant::Pm25,
    ] {
        match aqi::daily_mean(p, &hours(p, start, 24)) {
            Ok(m) => inputs.values.push((p, m)),
            Err(e) => invalid.push(format!("{}: {e}", p.name())),
        }
    }
    // O3: 31 hours from 17:00 the day before; max 1-h from the day's valid hours (≥ 20).
    let o3: Vec<Option<Dec>> = hours(Pollutant::O3, start - 7 * 3600, 31);
    let o3: [Option<Dec>; 31] = std::array::from_fn(|i| o3[i]);
    match aqi::o3_daily_max_8h(&o3, 14) {
        Ok(m) => inputs.o3_8h = Some(m),
        Err(e) => invalid.push(format!("o3: {e}")),
    }
    let day_o3: Vec<Dec> = o3[7..].iter().flatten().copied().collect();
    if day_o3.len() >= 20 {
        if let Some(max) = day_o3.iter().max() {
            inputs.values.push((Pollutant::O3, *max));
        }
    } else if v == Version::Hj633_2012 {
        invalid.push(format!(
            "o3 daily max 1-h: {} valid hours, at least 20 needed",
            day_o3.len()
        ));
    }
    Ok(DayAqi {
        scope,
        date: date.to_owned(),
        standard: v.name().to_owned(),
        hourly,
        daily: aqi::report(v, Kind::Daily, &inputs).map_err(err)?,
        invalid,
    })
}

fn air_concentrations(rows: &[Observation]) -> BTreeMap<(Pollutant, i64), Dec> {
    hourly_values(rows)
        .into_iter()
        .filter_map(|((code, t), v)| envstd::codes::air_pollutant(&code).map(|p| ((p, t), v)))
        .collect()
}

/// Hourly and daily AQI of an air station on a day.
#[utoipa::path(get, path = "/api/v1/points/{id}/aqi", tag = "assessments", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id"), DayParams),
    responses((status = 200, body = DayAqi), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn point_aqi(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DayParams>,
) -> ApiResult<Json<DayAqi>> {
    let date = q.date.unwrap_or_else(|| today(&state));
    let (start, t) = day_start(&date)?;
    state.point_or_404(&id).await?;
    let rows = hour_rows(&state, &id, start - 7 * 3600, start + 86_400 - 1).await?;
    Ok(Json(day_aqi(
        id,
        &date,
        start,
        t,
        &air_concentrations(&rows),
    )?))
}

/// Hourly and daily AQI of the city: each hour's concentration is the mean over the air stations
/// that have a valid value for it.
#[utoipa::path(get, path = "/api/v1/aqi/city", tag = "assessments", security(("token" = ["read_data"])), params(DayParams),
    responses((status = 200, body = DayAqi), (status = 400, body = ErrorBody)))]
async fn city_aqi(
    State(state): State<AppState>,
    Query(q): Query<DayParams>,
) -> ApiResult<Json<DayAqi>> {
    let date = q.date.unwrap_or_else(|| today(&state));
    let (start, t) = day_start(&date)?;
    let stations: Vec<String> = state
        .all_points()
        .await?
        .into_iter()
        .filter(|p| p.kind == PointKind::AirStation)
        .map(|p| p.id)
        .collect();
    let mut sums: BTreeMap<(Pollutant, i64), Vec<Dec>> = BTreeMap::new();
    for s in &stations {
        let rows = hour_rows(&state, s, start - 7 * 3600, start + 86_400 - 1).await?;
        for (k, v) in air_concentrations(&rows) {
            sums.entry(k).or_default().push(v);
        }
    }
    let means: BTreeMap<(Pollutant, i64), Dec> = sums
        .into_iter()
        .filter_map(|((p, t), vs)| {
            Dec::mean(&vs, if p == Pollutant::Co { 2 } else { 1 }).map(|m| ((p, t), m))
        })
        .collect();
    Ok(Json(day_aqi("city".into(), &date, start, t, &means)?))
}

/// The period of a water assessment: a month (the default, this month), a day or an hour.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaterParams {
    /// A month (`YYYY-MM`, Beijing).
    pub month: Option<String>,
    /// A day (`YYYY-MM-DD`, Beijing) instead of a month.
    pub date: Option<String>,
    /// An hour (its start, RFC 3339) instead of a month.
    pub hour: Option<String>,
}

/// A water assessment of a section over a month, a day or an hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthWater {
    /// The point.
    pub point_id: String,
    /// The period as asked: `YYYY-MM`, `YYYY-MM-DD` or the hour's start.
    pub month: String,
    /// `month`, `day` or `hour`.
    pub period: &'static str,
    /// The section's target class, from the water-sections registry (by MN or code).
    pub target_class: Option<String>,
    /// One of the city's key sections (national or provincial assessment), from the registry.
    pub key_section: bool,
    /// Valid hourly values used per item.
    pub samples: BTreeMap<String, usize>,
    /// GB 3838-2002 class of the monthly means, deciding items, compliance.
    #[schema(value_type = Object)]
    pub assessment: water::Assessment,
}

/// GB 3838 class of a water section over a month (of the monthly means), a day or an hour, and
/// its compliance with the target class: the month is the legal assessment, the hour and the
/// day show a sudden event the month's mean hides.
#[utoipa::path(get, path = "/api/v1/points/{id}/water", tag = "assessments", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id"), WaterParams),
    responses((status = 200, body = MonthWater), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn point_water(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<WaterParams>,
) -> ApiResult<Json<MonthWater>> {
    let (month, period, start, end) = match (q.month, q.date, q.hour) {
        (None, None, Some(hour)) => {
            let ms = crate::wire::parse_time("hour", &hour)?;
            let start = bjtime::hour_start(ms.div_euclid(1000));
            (hour, "hour", start, start + 3600)
        }
        (None, Some(date), None) => {
            let (start, _) = day_start(&date)?;
            (date, "day", start, start + bjtime::DAY_S)
        }
        (month, None, None) => {
            let month = month.unwrap_or_else(|| today(&state)[..7].to_owned());
            let (start, first) = day_start(&format!("{month}-01"))?;
            let end = first
                .add_days(i64::from(first.days_in_month()))
                .map_or(start + 31 * bjtime::DAY_S, bjtime::Date::start);
            (month, "month", start, end)
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give one of month, date or hour".into(),
            ));
        }
    };
    let point = state.point_or_404(&id).await?;
    let rows = hour_rows(&state, &id, start, end - 1).await?;
    let mut by_item: BTreeMap<String, Vec<Dec>> = BTreeMap::new();
    for ((code, _), v) in hourly_values(&rows) {
        if let Some(item) = envstd::codes::water_item(&code) {
            by_item.entry(item.to_owned()).or_default().push(v);
        }
    }
    let samples = by_item.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    let means: Vec<(String, Dec)> = by_item
        .into_iter()
        .filter_map(|(k, v)| Dec::mean(&v, 4).map(|m| (k, m)))
        .collect();
    let section = state
        .registry_entries("water_sections")
        .await?
        .into_iter()
        .find(|e| {
            e.get("mn").and_then(|m| m.as_str()) == Some(point.mn.as_str())
                || e.get("code").and_then(|c| c.as_str()) == Some(id.as_str())
        });
    let target_class = section
        .as_ref()
        .and_then(|e| e.get("target_class"))
        .and_then(|c| c.as_str())
        .map(str::to_owned);
    let target = target_class
        .as_deref()
        .map(water::Class::from_name)
        .transpose()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let assessment = water::assess(&means, water::Waterbody::River, target)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(MonthWater {
        point_id: id,
        month,
        period,
        target_class,
        key_section: section
            .as_ref()
            .and_then(|e| e.get("key_section"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        samples,
        assessment,
    }))
}

/// A day's noise verdict at a noise point.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayNoise {
    /// The point.
    pub point_id: String,
    /// The day.
    pub date: String,
    /// The zone class, from the noise-points registry (by MN or code).
    pub zone: Option<String>,
    /// Ld, Ln, Ldn and the verdicts (GB 3096-2008), when the zone is known.
    #[schema(value_type = Option<Object>)]
    pub verdict: Option<envstd::noise::Verdict>,
    /// Why there is no verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Day and night levels of a noise point against its zone (hourly Leq, code `LA`).
#[utoipa::path(get, path = "/api/v1/points/{id}/noise", tag = "assessments", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id"), DayParams),
    responses((status = 200, body = DayNoise), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn point_noise(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DayParams>,
) -> ApiResult<Json<DayNoise>> {
    let date = q.date.unwrap_or_else(|| today(&state));
    let (start, _) = day_start(&date)?;
    let point = state.point_or_404(&id).await?;
    let rows = hour_rows(&state, &id, start, start + 86_400 - 1).await?;
    let values = hourly_values(&rows);
    let hourly: [Option<f64>; 24] = std::array::from_fn(|h| {
        ["LA", "LAeq", "leq"]
            .iter()
            .find_map(|c| values.get(&((*c).to_owned(), start + h as i64 * 3600)))
            .map(|d| d.to_f64())
    });
    let zone = state
        .registry_entries("noise_points")
        .await?
        .into_iter()
        .find(|e| {
            e.get("mn").and_then(|m| m.as_str()) == Some(point.mn.as_str())
                || e.get("code").and_then(|c| c.as_str()) == Some(id.as_str())
        })
        .and_then(|e| {
            e.get("zone_class")
                .and_then(|z| z.as_str())
                .map(str::to_owned)
        });
    let (verdict, note) = match &zone {
        Some(z) => {
            let zone =
                envstd::noise::Zone::from_name(z).map_err(|e| ApiError::Internal(e.to_string()))?;
            let v = envstd::noise::assess(zone, &hourly, envstd::noise::DayHours::default())
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            (Some(v), None)
        }
        None => (
            None,
            Some("no zone class: register the point in noise_points (by MN or code)".to_owned()),
        ),
    };
    Ok(Json(DayNoise {
        point_id: id,
        date,
        zone,
        verdict,
        note,
    }))
}

/// One hour of one pollutant at a source.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmissionHour {
    /// The hour's start.
    pub time: String,
    /// Factor code.
    pub code: String,
    /// Valid minutes (valid minute-data rows × the point's interval).
    pub valid_minutes: usize,
    /// At least 45 valid minutes (HJ 75-2017).
    pub valid: bool,
    /// Mean of the valid values.
    pub mean: Option<String>,
    /// Converted to the reference O2 (when the point sets `ref_o2` for the code and O2 is valid).
    pub converted: Option<String>,
    /// The point's limit for the code.
    pub limit: Option<f64>,
    /// Hourly (converted, when set) mean above the limit.
    pub exceeds: Option<bool>,
}

/// Hourly averages of a source's minute data with HJ 75 validity, O2 conversion and exceedance
/// of the limits set on the point.
#[utoipa::path(get, path = "/api/v1/points/{id}/emissions", tag = "assessments", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id"), DayParams),
    responses((status = 200, body = [EmissionHour]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn point_emissions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DayParams>,
) -> ApiResult<Json<Vec<EmissionHour>>> {
    let date = q.date.unwrap_or_else(|| today(&state));
    let (start, _) = day_start(&date)?;
    let point = state.point_or_404(&id).await?;
    let query = SeriesQuery {
        point_id: id.clone(),
        data_type: DataType::Min,
        code: None,
        from: start,
        to: start + 86_400 - 1,
        limit: 1_000_000,
    };
    let store = state.series_store();
    let rows = tokio::task::spawn_blocking(move || store.series(&query))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)?;
    let interval = point.min_interval_min.max(1) as usize;
    let mut out = Vec::new();
    for (code, setting) in &point.codes {
        for h in 0..24 {
            let from = start + h * 3600;
            let in_hour = |c: &str| -> Vec<(Dec, String)> {
                rows.iter()
                    .filter(|o| o.code == c && (from..from + 3600).contains(&o.time))
                    .filter_map(|o| {
                        Some((
                            Dec::parse(o.fields.get("avg")?).ok()?,
                            o.fields.get("flag").cloned().unwrap_or_else(|| "N".into()),
                        ))
                    })
                    .collect()
            };
            let minutes = in_hour(code);
            if minutes.is_empty() {
                continue;
            }
            // Each minute-data row stands for `interval` minutes.
            let expanded: Vec<(Dec, &str)> = minutes
                .iter()
                .flat_map(|(v, f)| std::iter::repeat_n((*v, f.as_str()), interval))
                .collect();
            let limit = setting.limit.and_then(|l| Dec::parse(&l.to_string()).ok());
            let hour = envstd::emission::hourly(&expanded, None, 45);
            let o2 = in_hour("a19001");
            let o2: Vec<(Dec, &str)> = o2
                .iter()
                .flat_map(|(v, f)| std::iter::repeat_n((*v, f.as_str()), interval))
                .collect();
            let o2 = envstd::emission::hourly(&o2, None, 45).mean;
            let converted = match (
                hour.mean,
                setting.ref_o2.and_then(|r| Dec::parse(&r.to_string()).ok()),
                o2,
            ) {
                (Some(m), Some(r), Some(o)) => {
                    envstd::emission::convert(m, o, r).ok().map(|c| c.converted)
                }
                _ => None,
            };
            let judged = converted.or(hour.mean);
            out.push(EmissionHour {
                time: bjtime::rfc3339(from),
                code: code.clone(),
                valid_minutes: hour.valid_minutes,
                valid: hour.valid,
                mean: hour.mean.map(|m| m.to_string()),
                converted: converted.map(|c| c.to_string()),
                limit: setting.limit,
                exceeds: match (judged, limit) {
                    (Some(j), Some(l)) if hour.valid => Some(j > l),
                    _ => None,
                },
            });
        }
    }
    Ok(Json(out))
}

/// The assessment routes.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(point_aqi))
        .routes(routes!(city_aqi))
        .routes(routes!(point_water))
        .routes(routes!(point_noise))
        .routes(routes!(point_emissions))
}
