//! Monitoring points, their data and their devices: the points (a view of the points
//! registry), series as JSON or CSV, latest values, correction history, capture rates, device
//! state, the raw packet log, store figures and the Prometheus metrics.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::{DataType, Disposition, Observation, Point, PointKind};
use serde::{Deserialize, Serialize};
use store::{PacketQuery, SeriesQuery};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::{AppState, blocking, reload};
use crate::wire::{Csv, iso, parse_time};

/// Checks a point before it is stored: what the gateway needs to authenticate it.
pub fn validate_point(p: &Point) -> Result<(), String> {
    let id_ok = !p.id.is_empty()
        && p.id.len() <= 64
        && p.id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
    if !id_ok {
        return Err("id must be 1 to 64 characters of letters, digits, '-', '_' or '.'".into());
    }
    if p.id == "status" {
        return Err("id \"status\" is reserved (GET /api/v1/points/status)".into());
    }
    if p.mn.is_empty() || p.mn.len() > 64 || p.mn.contains(['&', ';', '=', ',']) {
        return Err("mn must be 1 to 64 characters without '&', ';', '=' or ','".into());
    }
    if p.password.contains(['&', ';', '=', ',']) {
        return Err("password must not contain '&', ';', '=' or ','".into());
    }
    if p.rtd_interval_s == 0 || p.min_interval_min == 0 {
        return Err("report intervals must be at least 1".into());
    }
    if p.accepted_crc.is_empty() {
        return Err("accepted_crc must name at least one CRC variant".into());
    }
    for v in &p.accepted_crc {
        v.parse::<hj212::CrcVariant>().map_err(|_| {
            format!("accepted_crc: unknown variant {v:?} (hj212, modbus, modbus_swapped)")
        })?;
    }
    if let Some([lon, lat]) = p.location
        && !((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat))
    {
        return Err("location must be [longitude, latitude] in degrees".into());
    }
    // The registry's own rules too (the district list, the code settings): a point is its
    // registry entry, so both ways in check the same.
    let schema = registry::schema(domain::POINTS_REGISTRY)
        .ok_or("the points registry's schema is missing")?;
    schema
        .validate(&p.to_record())
        .map(|_| ())
        .map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.reason))
                .collect::<Vec<_>>()
                .join("; ")
        })
}

/// A monitoring point as the API shows it (the password is write-only).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PointView {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Name in English, if registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    /// The logger's MN.
    pub mn: String,
    /// System code (ST).
    pub st: String,
    /// What it measures.
    pub kind: PointKind,
    /// The enterprise (unified social credit code) it belongs to.
    pub enterprise: Option<String>,
    /// The enterprise's name, from the enterprises registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_name: Option<String>,
    /// The enterprise's name in English, if registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_name_en: Option<String>,
    /// The district it is in.
    pub district: Option<String>,
    /// Longitude, latitude (WGS 84).
    pub location: Option<[f64; 2]>,
    /// Expected real-time interval, seconds.
    pub rtd_interval_s: u32,
    /// Expected minute-data interval, minutes.
    pub min_interval_min: u32,
    /// Accepted CRC variants.
    pub accepted_crc: Vec<String>,
    /// Per-code settings.
    pub codes: BTreeMap<String, domain::CodeSetting>,
}

impl From<Point> for PointView {
    fn from(p: Point) -> Self {
        Self {
            id: p.id,
            name: p.name,
            name_en: p.name_en,
            mn: p.mn,
            st: p.st,
            kind: p.kind,
            enterprise: p.enterprise,
            enterprise_name: None,
            enterprise_name_en: None,
            district: p.district,
            location: p.location,
            rtd_interval_s: p.rtd_interval_s,
            min_interval_min: p.min_interval_min,
            accepted_crc: p.accepted_crc,
            codes: p.codes,
        }
    }
}

/// The points as the API shows them, with their enterprises' names.
async fn views(state: &AppState, points: Vec<Point>) -> ApiResult<Vec<PointView>> {
    let names: BTreeMap<String, (Option<String>, Option<String>)> =
        if points.iter().any(|p| p.enterprise.is_some()) {
            let text = |e: &serde_json::Map<String, serde_json::Value>, k: &str| {
                e.get(k).and_then(|v| v.as_str()).map(str::to_owned)
            };
            state
                .registry_entries("enterprises")
                .await?
                .into_iter()
                .filter_map(|e| {
                    Some((
                        text(&e, "credit_code")?,
                        (text(&e, "name"), text(&e, "name_en")),
                    ))
                })
                .collect()
        } else {
            BTreeMap::new()
        };
    Ok(points
        .into_iter()
        .map(|p| {
            let names = p.enterprise.as_ref().and_then(|e| names.get(e)).cloned();
            let mut v = PointView::from(p);
            if let Some((zh, en)) = names {
                v.enterprise_name = zh;
                v.enterprise_name_en = en;
            }
            v
        })
        .collect())
}

/// One observation: a code's fields at one time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ObservationView {
    /// Factor code (`w01018`).
    pub code: String,
    /// Series (`rtd`, `min`, `hour`, `day`).
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// DataTime, RFC 3339 in Beijing time.
    pub time: String,
    /// Fields by JSON name (`rtd`, `avg`, `min`, `max`, `cou`, `flag`, ...), exact text as sent.
    pub fields: BTreeMap<String, String>,
}

impl From<Observation> for ObservationView {
    fn from(o: Observation) -> Self {
        Self {
            code: o.code,
            data_type: o.data_type,
            time: iso(o.time * 1000),
            fields: o.fields,
        }
    }
}

/// An earlier value replaced by a later one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryView {
    /// When it was replaced.
    pub replaced_at: String,
    /// The value as it was.
    pub observation: ObservationView,
}

/// The points the user may see.
async fn visible_points(state: &AppState, principal: &access::Principal) -> ApiResult<Vec<Point>> {
    let mut points = blocking(state, |s| s.points()).await?;
    if let Some(visible) = state.visible_points(principal).await? {
        points.retain(|p| visible.contains(&p.id));
    }
    Ok(points)
}

/// Lists the monitoring points.
#[utoipa::path(get, path = "/api/v1/points", tag = "points", security(("token" = ["read_data"])),
    responses((status = 200, body = [PointView])))]
async fn list_points(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
) -> ApiResult<Json<Vec<PointView>>> {
    let points = visible_points(&state, &principal).await?;
    Ok(Json(views(&state, points).await?))
}

/// Creates a point (409 if the id or the MN is taken).
#[utoipa::path(post, path = "/api/v1/points", tag = "points", security(("token" = ["write_points"])), request_body = Point,
    responses((status = 201, body = PointView), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_point(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Json(point): Json<Point>,
) -> ApiResult<(StatusCode, Json<PointView>)> {
    validate_point(&point).map_err(ApiError::BadRequest)?;
    let stored = point.clone();
    let (who, now) = (principal.username.clone(), state.now_ms());
    blocking(&state, move |s| s.create_point(&stored, &who, now)).await?;
    reload(&state)?;
    Ok((StatusCode::CREATED, Json(point.into())))
}

/// One point.
#[utoipa::path(get, path = "/api/v1/points/{id}", tag = "points", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id")),
    responses((status = 200, body = PointView), (status = 404, body = ErrorBody)))]
async fn get_point(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<PointView>> {
    let point = state.point_or_404(&id).await?;
    let mut one = views(&state, vec![point]).await?;
    one.pop()
        .map(Json)
        .ok_or_else(|| ApiError::Internal("a point went missing".into()))
}

/// Creates or replaces a point (the id in the body, if given, must be the path's).
#[utoipa::path(put, path = "/api/v1/points/{id}", tag = "points", security(("token" = ["write_points"])), request_body = Point,
    params(("id" = String, Path, description = "point id")),
    responses((status = 200, body = PointView), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn put_point(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Json(point): Json<Point>,
) -> ApiResult<Json<PointView>> {
    if point.id != id {
        return Err(ApiError::BadRequest(format!(
            "the body's id {:?} is not the path's {id:?}",
            point.id
        )));
    }
    validate_point(&point).map_err(ApiError::BadRequest)?;
    let stored = point.clone();
    let (who, now) = (principal.username.clone(), state.now_ms());
    blocking(&state, move |s| s.put_point(&stored, &who, now)).await?;
    reload(&state)?;
    Ok(Json(point.into()))
}

/// Deletes a point (its data stay).
#[utoipa::path(delete, path = "/api/v1/points/{id}", tag = "points", security(("token" = ["write_points"])),
    params(("id" = String, Path, description = "point id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_point(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(principal): axum::Extension<access::Principal>,
) -> ApiResult<StatusCode> {
    let key = id.clone();
    let (who, now) = (principal.username.clone(), state.now_ms());
    if !blocking(&state, move |s| s.delete_point(&key, &who, now)).await? {
        return Err(ApiError::NotFound(format!("no point with id {id:?}")));
    }
    reload(&state)?;
    Ok(StatusCode::NO_CONTENT)
}

fn data_type(text: Option<&str>) -> ApiResult<DataType> {
    match text {
        None => Ok(DataType::Min),
        Some(t) => DataType::from_name(t).ok_or_else(|| {
            ApiError::BadRequest(format!("type: {t:?} is not one of rtd, min, hour, day"))
        }),
    }
}

/// Query of a series.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// One factor code (all codes if absent).
    pub code: Option<String>,
    /// `rtd`, `min` (default), `hour` or `day`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub data_type: Option<String>,
    /// From (inclusive), RFC 3339; default 24 hours before `to`.
    pub from: Option<String>,
    /// To (inclusive), RFC 3339; default now.
    pub to: Option<String>,
    /// At most this many observations (default 10,000, at most 1,000,000).
    pub limit: Option<usize>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// A point's series, oldest first; `format=csv` (or `Accept: text/csv`) gives a file.
#[utoipa::path(get, path = "/api/v1/points/{id}/series", tag = "data", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id"), SeriesParams),
    responses((status = 200, body = [ObservationView]),
              (status = 200, content_type = "text/csv", body = String),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn series(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SeriesParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let data_type = data_type(q.data_type.as_deref())?;
    let to_ms = match &q.to {
        Some(t) => parse_time("to", t)?,
        None => state.now_ms(),
    };
    let from_ms = match &q.from {
        Some(t) => parse_time("from", t)?,
        None => to_ms - 86_400_000,
    };
    if from_ms > to_ms {
        return Err(ApiError::BadRequest("from is after to".into()));
    }
    let limit = q.limit.unwrap_or(10_000);
    if limit == 0 || limit > 1_000_000 {
        return Err(ApiError::BadRequest("limit must be 1 to 1000000".into()));
    }
    let csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: {other:?} is not json or csv"
            )));
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    state.point_or_404(&id).await?;
    let query = SeriesQuery {
        point_id: id.clone(),
        data_type,
        code: q.code.clone(),
        from: from_ms.div_euclid(1000),
        to: to_ms.div_euclid(1000),
        limit,
    };
    let rows = blocking(&state, move |s| s.series(&query)).await?;
    if csv {
        return Ok(csv_response(&id, data_type, rows));
    }
    let views: Vec<ObservationView> = rows.into_iter().map(ObservationView::from).collect();
    Ok(Json(views).into_response())
}

fn csv_response(id: &str, data_type: DataType, rows: Vec<Observation>) -> Response {
    let columns: BTreeSet<&str> = rows
        .iter()
        .flat_map(|o| o.fields.keys().map(String::as_str))
        .collect();
    let mut header = vec!["time", "code"];
    header.extend(columns.iter().copied());
    let mut out = Csv::new(false, &header);
    for o in &rows {
        let mut row = vec![iso(o.time * 1000), o.code.clone()];
        row.extend(
            columns
                .iter()
                .map(|c| o.fields.get(*c).cloned().unwrap_or_default()),
        );
        out.row(row);
    }
    let out = out.into_string();
    let name = format!(
        "attachment; filename=\"{}-{}.csv\"",
        id.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "_"
        ),
        data_type.name()
    );
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// The newest observation of each series and code of a point.
#[utoipa::path(get, path = "/api/v1/points/{id}/latest", tag = "data", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id")),
    responses((status = 200, body = [ObservationView]), (status = 404, body = ErrorBody)))]
async fn latest(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ObservationView>>> {
    state.point_or_404(&id).await?;
    let rows = blocking(&state, move |s| s.latest(&id)).await?;
    Ok(Json(rows.into_iter().map(ObservationView::from).collect()))
}

/// Query with a limit.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// At most this many rows (default 100, at most 10,000).
    pub limit: Option<usize>,
}

pub(crate) fn small_limit(limit: Option<usize>) -> ApiResult<usize> {
    match limit.unwrap_or(100) {
        0 => Err(ApiError::BadRequest("limit must be at least 1".into())),
        n if n > 10_000 => Err(ApiError::BadRequest("limit must be at most 10000".into())),
        n => Ok(n),
    }
}

/// Values of a point that were replaced by a later, different value for the same time.
#[utoipa::path(get, path = "/api/v1/points/{id}/history", tag = "data", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id"), LimitParams),
    responses((status = 200, body = [HistoryView]), (status = 404, body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LimitParams>,
) -> ApiResult<Json<Vec<HistoryView>>> {
    let limit = small_limit(q.limit)?;
    state.point_or_404(&id).await?;
    let rows = blocking(&state, move |s| s.history(&id, limit)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(at, o)| HistoryView {
                replaced_at: iso(at),
                observation: o.into(),
            })
            .collect(),
    ))
}

/// Query of capture rates.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaptureParams {
    /// `rtd`, `min` (default), `hour` or `day`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub data_type: Option<String>,
    /// From, RFC 3339; default the start (Beijing time) of the day 6 days before `to`.
    pub from: Option<String>,
    /// To (exclusive), RFC 3339; default now.
    pub to: Option<String>,
}

/// Capture rate of one code on one day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CaptureDay {
    /// Factor code.
    pub code: String,
    /// The day (Beijing time), `YYYY-MM-DD`.
    pub date: String,
    /// Distinct DataTimes received.
    pub received: u64,
    /// DataTimes expected in the part of the day inside the query (from the point's intervals).
    pub expected: u64,
    /// received / expected (can exceed 1 when a logger reports more often than configured);
    /// absent when nothing was expected.
    pub rate: Option<f64>,
}

/// Capture rates of a point.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CaptureReport {
    /// The point.
    pub point_id: String,
    /// The series.
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// From.
    pub from: String,
    /// To (exclusive).
    pub to: String,
    /// One entry per code (configured or received) and day.
    pub days: Vec<CaptureDay>,
}

use bjtime::{DAY_S, day_start};

/// Expected DataTimes per full day of a series at a point.
fn expected_per_day(p: &Point, data_type: DataType) -> f64 {
    match data_type {
        DataType::Rtd => DAY_S as f64 / f64::from(p.rtd_interval_s.max(1)),
        DataType::Min => 1440.0 / f64::from(p.min_interval_min.max(1)),
        DataType::Hour => 24.0,
        DataType::Day => 1.0,
    }
}

/// Data capture rate per code and day: DataTimes received against those the point's report
/// intervals lead one to expect (HJ 75/HJ 355 call it 数据传输有效率 / capture rate).
#[utoipa::path(get, path = "/api/v1/points/{id}/capture", tag = "data", security(("token" = ["read_data"])),
    params(("id" = String, Path, description = "point id"), CaptureParams),
    responses((status = 200, body = CaptureReport), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn capture(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<CaptureParams>,
) -> ApiResult<Json<CaptureReport>> {
    let data_type = data_type(q.data_type.as_deref())?;
    let now_s = state.now_ms().div_euclid(1000);
    let to = match &q.to {
        Some(t) => parse_time("to", t)?.div_euclid(1000),
        None => now_s,
    };
    let from = match &q.from {
        Some(t) => parse_time("from", t)?.div_euclid(1000),
        None => day_start(to) - 6 * DAY_S,
    };
    if from >= to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    if to - from > 366 * DAY_S {
        return Err(ApiError::BadRequest("at most 366 days at a time".into()));
    }
    let point = state.point_or_404(&id).await?;
    let key = id.clone();
    let counts = blocking(&state, move |s| s.daily_counts(&key, data_type, from, to)).await?;
    let mut received: BTreeMap<(String, i64), u64> = counts
        .into_iter()
        .map(|c| ((c.code, c.day_start), c.count))
        .collect();
    let mut codes: BTreeSet<String> = point.codes.keys().cloned().collect();
    codes.extend(received.keys().map(|(c, _)| c.clone()));
    let per_day = expected_per_day(&point, data_type);
    // Nothing is expected after now.
    let horizon = to.min(now_s.max(from));
    let mut days = Vec::new();
    for code in codes {
        let mut day = day_start(from);
        while day < to {
            let covered = (day + DAY_S).min(horizon) - day.max(from);
            let expected = (per_day * covered.max(0) as f64 / DAY_S as f64).floor() as u64;
            let got = received.remove(&(code.clone(), day)).unwrap_or(0);
            days.push(CaptureDay {
                code: code.clone(),
                date: bjtime::Date::of(day).to_string(),
                received: got,
                expected,
                rate: (expected > 0).then(|| got as f64 / expected as f64),
            });
            day += DAY_S;
        }
    }
    Ok(Json(CaptureReport {
        point_id: id,
        data_type,
        from: iso(from * 1000),
        to: iso(to * 1000),
        days,
    }))
}

/// What the map shows of a point: its device's connection, its raised alarms, today's capture.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PointStatus {
    /// The point.
    pub id: String,
    /// Its logger connected now; absent when no frame of its MN was ever received.
    pub online: Option<bool>,
    /// Last frame from its logger.
    pub last_packet: Option<String>,
    /// Raised alarms at the point.
    pub alarms: usize,
    /// The highest severity among them (`critical`, `warning`, `info`).
    pub severity: Option<String>,
    /// Hourly records received today against those expected so far, over the point's codes
    /// (absent before the first hour of the day ends or for a point without codes or data).
    pub capture_today: Option<f64>,
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 3,
        "warning" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// The state of every point the user may see, in one answer: connection (every role may read
/// it for its own points, unlike the device list), raised alarms and today's hourly capture.
#[utoipa::path(get, path = "/api/v1/points/status", tag = "points", security(("token" = ["read_data"])),
    responses((status = 200, body = [PointStatus])))]
async fn point_status(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
) -> ApiResult<Json<Vec<PointStatus>>> {
    let points = visible_points(&state, &principal).await?;
    let devices: BTreeMap<String, domain::DeviceState> = state
        .gateway()
        .devices()
        .into_iter()
        .map(|d| (d.mn.clone(), d))
        .collect();
    let alarm_store = state.alarm_store();
    let raised = tokio::task::spawn_blocking(move || {
        alarm_store.alarms(&store::AlarmQuery {
            state: Some("raised".into()),
            limit: 100_000,
            ..Default::default()
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("store task: {e}")))??;
    let mut by_point: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for a in raised {
        let e = by_point.entry(a.point_id).or_default();
        e.0 += 1;
        if severity_rank(&a.severity) > severity_rank(&e.1) {
            e.1 = a.severity;
        }
    }
    let now = state.now_ms().div_euclid(1000);
    let today = day_start(now);
    let hours_done = (now - today) / 3600;
    let ids: Vec<(String, usize)> = points
        .iter()
        .map(|p| (p.id.clone(), p.codes.len()))
        .collect();
    let capture: BTreeMap<String, f64> = if hours_done == 0 {
        BTreeMap::new()
    } else {
        blocking(&state, move |s| {
            let mut out = BTreeMap::new();
            for (id, configured) in ids {
                let counts =
                    s.daily_counts(&id, DataType::Hour, today, today + hours_done * 3600)?;
                let codes = configured.max(counts.len());
                if codes == 0 {
                    continue;
                }
                let got: u64 = counts.iter().map(|c| c.count.min(hours_done as u64)).sum();
                out.insert(id, got as f64 / (codes as f64 * hours_done as f64));
            }
            Ok(out)
        })
        .await?
    };
    Ok(Json(
        points
            .into_iter()
            .map(|p| {
                let device = devices.get(&p.mn);
                let (alarms, severity) = by_point.remove(&p.id).unwrap_or_default();
                PointStatus {
                    online: device.map(|d| d.online),
                    last_packet: device.map(|d| iso(d.last_packet_ms)),
                    alarms,
                    severity: (!severity.is_empty()).then_some(severity),
                    capture_today: capture.get(&p.id).copied(),
                    id: p.id,
                }
            })
            .collect(),
    ))
}

/// Connection state of a device.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    /// The logger's MN.
    pub mn: String,
    /// Connected now.
    pub online: bool,
    /// Peer address of its last connection.
    pub peer: String,
    /// Last frame received.
    pub last_packet: String,
    /// Frames received (kept across restarts).
    pub packets: u64,
}

/// Devices seen, with their connection state (kept across restarts: after one, every device
/// is offline until it connects, with its last packet and its frame count).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("token" = ["read_devices"])),
    responses((status = 200, body = [DeviceView])))]
async fn devices(State(state): State<AppState>) -> Json<Vec<DeviceView>> {
    Json(
        state
            .gateway()
            .devices()
            .into_iter()
            .map(|d| DeviceView {
                mn: d.mn,
                online: d.online,
                peer: d.peer,
                last_packet: iso(d.last_packet_ms),
                packets: d.packets,
            })
            .collect(),
    )
}

/// Query of the raw packet log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PacketParams {
    /// Only this MN.
    pub mn: Option<String>,
    /// Received at or after, RFC 3339.
    pub from: Option<String>,
    /// Received at or before, RFC 3339.
    pub to: Option<String>,
    /// Only quarantined frames.
    pub quarantined: Option<bool>,
    /// At most this many (newest first; default 100, at most 10,000).
    pub limit: Option<usize>,
}

/// One frame of the raw log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PacketView {
    /// Row id.
    pub id: i64,
    /// Receive time.
    pub received: String,
    /// Peer address.
    pub peer: String,
    /// MN, if readable.
    pub mn: Option<String>,
    /// CN, if readable.
    pub cn: Option<String>,
    /// QN, if any.
    pub qn: Option<String>,
    /// CRC carried by the frame.
    pub crc_given: Option<String>,
    /// HJ 212 CRC of the data segment.
    pub crc_computed: Option<String>,
    /// Matching CRC variant.
    pub crc_variant: Option<String>,
    /// Deviations from the standard.
    pub deviations: Vec<String>,
    /// `stored`, `duplicate`, `no_data` or `quarantined`.
    pub status: String,
    /// Why it was quarantined.
    pub reason: Option<String>,
    /// Pollutant groups of a stored frame left out because a value in them is outside its
    /// type's syntax (`code-Field` names); such frames are listed in the quarantine too.
    pub quarantined_fields: Vec<String>,
    /// The frame as text for reading (UTF-8, or decoded from GBK), its access password (`PW`,
    /// `NewPW`) replaced by `*`.
    pub raw: String,
    /// The frame's bytes in hex, exactly as received (what its CRC is computed over) for a
    /// user who may change points; for anyone else with the password replaced by `*` (the
    /// CRC fields are still those of the bytes received; a case's evidence package keeps the
    /// exact bytes).
    pub raw_hex: String,
}

/// The raw packet log (every frame as received) and the quarantine, newest first.
#[utoipa::path(get, path = "/api/v1/packets", tag = "devices", security(("token" = ["read_devices"])), params(PacketParams),
    responses((status = 200, body = [PacketView]), (status = 400, body = ErrorBody)))]
async fn packets(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<access::Principal>,
    Query(q): Query<PacketParams>,
) -> ApiResult<Json<Vec<PacketView>>> {
    // Whoever may set a device's password may see the bytes that carry it.
    let exact = caller.can(access::Capability::WritePoints);
    let query = PacketQuery {
        mn: q.mn.clone(),
        from_ms: q
            .from
            .as_deref()
            .map(|t| parse_time("from", t))
            .transpose()?,
        to_ms: q.to.as_deref().map(|t| parse_time("to", t)).transpose()?,
        quarantined_only: q.quarantined.unwrap_or(false),
        limit: small_limit(q.limit)?,
    };
    let rows = blocking(&state, move |s| s.packets(&query)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, r)| {
                let (status, reason) = match r.disposition {
                    Disposition::Stored => ("stored", None),
                    Disposition::Duplicate => ("duplicate", None),
                    Disposition::NoData => ("no_data", None),
                    Disposition::Quarantined { reason } => ("quarantined", Some(reason)),
                };
                PacketView {
                    id,
                    received: iso(r.received_ms),
                    peer: r.peer,
                    mn: r.mn,
                    cn: r.cn,
                    qn: r.qn,
                    crc_given: r.crc_given,
                    crc_computed: r.crc_computed,
                    crc_variant: r.crc_variant,
                    deviations: r.deviations,
                    status: status.to_owned(),
                    reason,
                    quarantined_fields: r.quarantined_fields,
                    raw: hj212::frame_text(&hj212::mask_password(&r.raw)).into_owned(),
                    raw_hex: if exact {
                        hex::encode(&r.raw)
                    } else {
                        hex::encode(hj212::mask_password(&r.raw))
                    },
                }
            })
            .collect(),
    ))
}

/// Size of the stored data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StoreView {
    /// Bytes of the database in use (pages not on the free list).
    pub bytes_on_disk: u64,
    /// Bytes of the series (row table, compressed chunks, their indexes).
    pub series_bytes: u64,
    /// Bytes of the raw packet log (kept for its own retention period).
    pub packet_log_bytes: u64,
    /// Observations stored.
    pub observations: u64,
    /// Values stored (every field of every observation).
    pub values: u64,
    /// series_bytes / values.
    pub bytes_per_value: Option<f64>,
}

/// Size of the store (counts every stored value: slow on a large store).
#[utoipa::path(get, path = "/api/v1/store", tag = "devices", security(("token" = ["read_devices"])),
    responses((status = 200, body = StoreView)))]
async fn store_stats(State(state): State<AppState>) -> ApiResult<Json<StoreView>> {
    let s = blocking(&state, |s| s.stats()).await?;
    Ok(Json(StoreView {
        bytes_on_disk: s.bytes_on_disk,
        series_bytes: s.series_bytes,
        packet_log_bytes: s.packet_log_bytes,
        observations: s.observations,
        values: s.values,
        bytes_per_value: (s.values > 0).then(|| s.series_bytes as f64 / s.values as f64),
    }))
}

/// A factor code as people read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorView {
    /// HJ 212 code (`a21026`).
    pub code: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Chinese name.
    pub name_zh: &'static str,
    /// The unit it is usually sent in (a point's own unit setting takes precedence); empty:
    /// dimensionless.
    pub unit: &'static str,
    /// The unit at an air station when it differs by use (the AQI pollutants, HJ 633-2012).
    pub unit_air_station: Option<&'static str>,
    /// For a water-quality item: the bounds of classes I–V at a river section (GB 3838-2002
    /// Table 1), as decimal text.
    pub water_class_limits: Option<[&'static str; 5]>,
    /// Whether a value must be at least the bound (dissolved oxygen) rather than at most.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub water_at_least: bool,
    /// The GB 3838-2002 item it measures (`nh3n`), as water assessments name their items.
    pub water_item: Option<&'static str>,
}

/// A district or county of the city, by the code the registries store.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DistrictView {
    /// The code (`lixia`).
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
}

/// The city's districts with their names: the one list pick-lists and labels use.
#[utoipa::path(get, path = "/api/v1/districts", tag = "data", security(("token" = ["read_data"])),
    responses((status = 200, body = [DistrictView])))]
async fn districts() -> Json<Vec<DistrictView>> {
    let field = registry::schema(domain::POINTS_REGISTRY).and_then(|s| s.field("district"));
    Json(field.map_or_else(Vec::new, |f| {
        f.values
            .iter()
            .enumerate()
            .map(|(i, code)| DistrictView {
                code: code.clone(),
                name_zh: f.values_zh.get(i).unwrap_or(code).clone(),
                name_en: f.values_en.get(i).unwrap_or(code).clone(),
            })
            .collect()
    }))
}

fn water_limits(code: &str) -> Option<([&'static str; 5], bool)> {
    envstd::water::class_limits(envstd::codes::water_item(code)?)
}

/// The factor codes of the HJ 212 dictionary with names and units: the one table the pages use
/// to show a factor.
#[utoipa::path(get, path = "/api/v1/factors", tag = "data", security(("token" = ["read_data"])),
    responses((status = 200, body = [FactorView])))]
async fn factors() -> Json<Vec<FactorView>> {
    Json(
        hj212::codes::FACTORS
            .iter()
            .map(|f| FactorView {
                code: f.code,
                name_en: f.name_en,
                name_zh: f.name_zh,
                unit: f.unit,
                unit_air_station: envstd::codes::air_pollutant(f.code).map(|p| p.unit()),
                water_class_limits: water_limits(f.code).map(|(l, _)| l),
                water_at_least: water_limits(f.code).is_some_and(|(_, at_least)| at_least),
                water_item: envstd::codes::water_item(f.code),
            })
            .collect(),
    )
}

/// Metrics in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "devices", security(("token" = ["read_devices"])),
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    // A recorder of this scrape's own, not the process-wide one: several servers may run in one
    // process (tests), and every figure here is read from its source at scrape time.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let samples = state
            .gateway()
            .stats()
            .samples()
            .into_iter()
            .chain(state.obd().stats().samples());
        for (name, help, kind, value) in samples {
            if kind == "counter" {
                metrics::describe_counter!(name, help);
                metrics::counter!(name).absolute(value);
            } else {
                metrics::describe_gauge!(name, help);
                metrics::gauge!(name).set(value as f64);
            }
        }
        let online = state
            .gateway()
            .devices()
            .iter()
            .filter(|d| d.online)
            .count();
        metrics::describe_gauge!("huanghe_devices_online", "devices connected now");
        metrics::gauge!("huanghe_devices_online").set(online as f64);
        metrics::describe_gauge!("huanghe_uptime_seconds", "seconds since the server started");
        metrics::gauge!("huanghe_uptime_seconds").set(state.uptime().as_secs_f64());
        if let Some((p50, p99)) = state.alarm_hub().latency_percentiles() {
            metrics::describe_gauge!(
                "huanghe_alarm_latency_ms",
                metrics::Unit::Milliseconds,
                "packet received to alarm event published, since the server started"
            );
            metrics::gauge!("huanghe_alarm_latency_ms", "quantile" => "0.5").set(p50 as f64);
            metrics::gauge!("huanghe_alarm_latency_ms", "quantile" => "0.99").set(p99 as f64);
        }
    });
    let mut resp = handle.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_points, create_point))
        .routes(routes!(point_status))
        .routes(routes!(get_point, put_point, delete_point))
        .routes(routes!(series))
        .routes(routes!(latest))
        .routes(routes!(history))
        .routes(routes!(capture))
        .routes(routes!(devices))
        .routes(routes!(packets))
        .routes(routes!(store_stats))
        .routes(routes!(metrics))
        .routes(routes!(factors))
        .routes(routes!(districts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> Point {
        serde_json::from_str(r#"{"id":"p-1","name":"n","mn":"MN1","password":"pw"}"#)
            .expect("minimal point")
    }

    #[test]
    fn points_are_validated_with_specific_messages() {
        assert_eq!(validate_point(&point()), Ok(()));
        type Breaker = fn(&mut Point);
        let cases: [(Breaker, &str); 5] = [
            (|p| p.id = "a b".into(), "id"),
            (|p| p.mn = String::new(), "mn"),
            (|p| p.password = "a;b".into(), "password"),
            (|p| p.accepted_crc = vec!["crc32".into()], "accepted_crc"),
            (|p| p.location = Some([200.0, 10.0]), "location"),
        ];
        for (break_it, word) in cases {
            let mut p = point();
            break_it(&mut p);
            let e = validate_point(&p).expect_err(word);
            assert!(e.contains(word), "{e}");
        }
    }

    #[test]
    fn capture_expectations_follow_the_point_intervals() {
        let mut p = point();
        p.rtd_interval_s = 30;
        p.min_interval_min = 10;
        assert_eq!(expected_per_day(&p, DataType::Rtd), 2880.0);
        assert_eq!(expected_per_day(&p, DataType::Min), 144.0);
        assert_eq!(expected_per_day(&p, DataType::Hour), 24.0);
        // Beijing midnight.
        assert_eq!(day_start(1_700_000_000), 1_699_977_600);
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut c = Csv::new(false, &["a", "b", "c"]);
        c.row(["1.5", "a,b", "say \"x\""]);
        assert_eq!(c.into_string(), "a,b,c\n1.5,\"a,b\",\"say \"\"x\"\"\"\n");
        let with_bom = Csv::new(true, &["x"]).into_string();
        assert_eq!(with_bom, "\u{feff}x\n");
    }
}
