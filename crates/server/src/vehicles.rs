//! Trucks under remote OBD monitoring: the list with each truck's state, a truck's records
//! decoded, its track for a day, and the raw frames (quarantine included). The registry says
//! which trucks exist and whose they are; the truck front door and the truck-data store say
//! what they sent. Enterprise users see their own trucks, district officers their district's.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use hj1239::report::Info;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::wire::{iso, parse_time};

/// A truck's newest data-stream record, the figures the list shows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LatestView {
    /// Collection time.
    pub time: String,
    /// km/h.
    pub speed: Option<f64>,
    /// rpm.
    pub engine_speed: Option<f64>,
    /// Longitude, degrees (none without a fix).
    pub longitude: Option<f64>,
    /// Latitude, degrees.
    pub latitude: Option<f64>,
    /// SCR upstream NOx, ppm.
    pub nox_upstream: Option<f64>,
    /// SCR downstream NOx, ppm.
    pub nox_downstream: Option<f64>,
    /// Reagent remaining, %.
    pub reagent_level: Option<f64>,
}

/// A truck in the list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VehicleView {
    /// VIN.
    pub vin: String,
    /// Its registry entry.
    #[schema(value_type = Object)]
    pub registry: Map<String, Value>,
    /// `driving`, `parked`, `silent` or `never`.
    pub state: domain::VehicleState,
    /// Connected now.
    pub online: bool,
    /// Its last frame of any kind.
    pub last_frame: Option<String>,
    /// Its newest stream record.
    pub latest: Option<LatestView>,
}

/// Filters of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VehicleParams {
    /// Only trucks in this state.
    pub state: Option<domain::VehicleState>,
    /// Only this fleet.
    pub fleet: Option<String>,
    /// VIN or plate contains this.
    pub q: Option<String>,
}

fn degrees(v: Option<u32>, negative: bool) -> Option<f64> {
    v.map(|v| f64::from(v) / 1e6 * if negative { -1.0 } else { 1.0 })
}

fn latest_view(ts: i64, kind: u8, body: &[u8]) -> Option<LatestView> {
    let (speed, engine_speed, pos, nox_up, nox_down, reagent) = match Info::read(kind, body)? {
        Info::Diesel(d) => (
            d.speed,
            d.engine_speed,
            d.position,
            d.nox_upstream,
            d.nox_downstream,
            d.reagent_level,
        ),
        Info::Gas(g) => (
            g.speed,
            g.engine_speed,
            g.position,
            None,
            g.nox_downstream,
            None,
        ),
        _ => return None,
    };
    let fix = pos.status & 1 == 0;
    Some(LatestView {
        time: iso(ts * 1000),
        speed,
        engine_speed,
        longitude: fix
            .then(|| degrees(pos.longitude, pos.status & 4 != 0))
            .flatten(),
        latitude: fix
            .then(|| degrees(pos.latitude, pos.status & 2 != 0))
            .flatten(),
        nox_upstream: nox_up,
        nox_downstream: nox_down,
        reagent_level: reagent,
    })
}

/// The trucks the caller may see, as views (only `vin`, when given: one registry entry read,
/// not the list).
async fn views(
    state: &AppState,
    caller: &access::Principal,
    vin: Option<&str>,
) -> ApiResult<Vec<VehicleView>> {
    let registries = state.registries();
    let obd = state.obd_store();
    let vin = vin.map(str::to_owned);
    let (entries, latest) = tokio::task::spawn_blocking(move || {
        let entries = match &vin {
            Some(v) => registries
                .entry(obd_gateway::VEHICLE_REGISTRY, v)?
                .into_iter()
                .collect(),
            None => registries.entries(obd_gateway::VEHICLE_REGISTRY)?,
        };
        Ok::<_, store::StoreError>((entries, obd.latest()?))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("vehicle task: {e}")))??;
    let scope = caller.scope();
    let online: HashMap<String, bool> = state
        .obd()
        .terminals()
        .into_iter()
        .map(|t| (t.vin, t.online))
        .collect();
    let latest: HashMap<String, store::obd::Latest> =
        latest.into_iter().map(|l| (l.vin.clone(), l)).collect();
    let now_ms = state.now_ms();
    Ok(entries
        .into_iter()
        .filter(|e| {
            let text = |k: &str| e.data.get(k).and_then(Value::as_str);
            scope.sees(text("district"), text("enterprise"))
        })
        .map(|e| {
            let l = latest.get(&e.id);
            let newest = l
                .and_then(|l| l.record.as_ref())
                .and_then(|r| latest_view(r.ts, r.kind, &r.body));
            VehicleView {
                state: domain::vehicle_state(
                    l.map(|l| l.received_ms),
                    newest.as_ref().and_then(|n| n.speed),
                    now_ms,
                ),
                online: online.get(&e.id).copied().unwrap_or(false),
                last_frame: l.map(|l| iso(l.received_ms)),
                latest: newest,
                vin: e.id,
                registry: e.data,
            }
        })
        .collect())
}

/// Trucks under remote OBD monitoring with their state (driving, parked, silent, never heard
/// from) and newest figures.
#[utoipa::path(get, path = "/api/v1/vehicles", tag = "vehicles", security(("token" = ["read_data"])),
    params(VehicleParams), responses((status = 200, body = [VehicleView])))]
async fn list_vehicles(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<access::Principal>,
    Query(q): Query<VehicleParams>,
) -> ApiResult<Json<Vec<VehicleView>>> {
    let needle = q.q.as_deref().map(str::to_uppercase);
    let mut list = views(&state, &caller, None).await?;
    list.retain(|v| {
        let text = |k: &str| v.registry.get(k).and_then(Value::as_str).unwrap_or("");
        q.state.is_none_or(|s| v.state == s)
            && q.fleet.as_deref().is_none_or(|f| text("fleet") == f)
            && needle
                .as_deref()
                .is_none_or(|n| v.vin.contains(n) || text("plate").to_uppercase().contains(n))
    });
    Ok(Json(list))
}

async fn visible(
    state: &AppState,
    caller: &access::Principal,
    vin: &str,
) -> ApiResult<VehicleView> {
    views(state, caller, Some(vin))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("vehicle {vin}")))
}

/// One truck.
#[utoipa::path(get, path = "/api/v1/vehicles/{vin}", tag = "vehicles", security(("token" = ["read_data"])),
    params(("vin" = String, Path, description = "VIN")),
    responses((status = 200, body = VehicleView), (status = 404, body = ErrorBody)))]
async fn get_vehicle(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<access::Principal>,
    Path(vin): Path<String>,
) -> ApiResult<Json<VehicleView>> {
    Ok(Json(visible(&state, &caller, &vin).await?))
}

/// A time range.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// Collection times at or after, RFC 3339 (default: an hour before `to`).
    pub from: Option<String>,
    /// Collection times before, RFC 3339 (default: now).
    pub to: Option<String>,
    /// Only records of this information type (1 OBD information, 2 diesel stream, ...).
    #[serde(rename = "type")]
    pub kind: Option<u8>,
}

/// One record, decoded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    /// Collection time.
    pub time: String,
    /// Information type (1 OBD, 2 diesel stream, 3/5 gas stream, 4 hybrid, 128 supplement).
    #[serde(rename = "type")]
    pub kind: u8,
    /// The raw-log frame that carried it.
    pub frame_id: i64,
    /// The body's values (invalid markers as null); `null` for a body of a type not read. An
    /// OBD body adds its trouble codes typed (`dtc_codes`) and its monitors by name, read with
    /// the truck's bit order.
    #[schema(value_type = Object)]
    pub values: Value,
    /// The body as received, hex.
    pub raw: String,
}

/// The most a records request spans.
const MAX_RANGE_S: i64 = 2 * 86_400;

fn range(state: &AppState, q: &RangeParams) -> ApiResult<(i64, i64)> {
    let to = match &q.to {
        Some(t) => parse_time("to", t)?.div_euclid(1000),
        None => state.now_ms().div_euclid(1000) + 1,
    };
    let from = match &q.from {
        Some(t) => parse_time("from", t)?.div_euclid(1000),
        None => to - 3600,
    };
    if from >= to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    if to - from > MAX_RANGE_S {
        return Err(ApiError::BadRequest(format!(
            "at most {} hours at a time",
            MAX_RANGE_S / 3600
        )));
    }
    Ok((from, to))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// A truck's records in a time range (at most two days), decoded, with their bodies as
/// received.
#[utoipa::path(get, path = "/api/v1/vehicles/{vin}/records", tag = "vehicles", security(("token" = ["read_data"])),
    params(("vin" = String, Path, description = "VIN"), RangeParams),
    responses((status = 200, body = [RecordView]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn records(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<access::Principal>,
    Path(vin): Path<String>,
    Query(q): Query<RangeParams>,
) -> ApiResult<Json<Vec<RecordView>>> {
    let v = visible(&state, &caller, &vin).await?;
    let order = match v.registry.get("monitor_bit_order").and_then(Value::as_str) {
        Some("msb0") => hj1239::report::BitOrder::Msb0,
        _ => hj1239::report::BitOrder::Lsb0,
    };
    let (from, to) = range(&state, &q)?;
    let obd = state.obd_store();
    let rows = tokio::task::spawn_blocking(move || obd.records(&vin, from, to))
        .await
        .map_err(|e| ApiError::Internal(format!("records task: {e}")))??;
    Ok(Json(
        rows.into_iter()
            .filter(|r| q.kind.is_none_or(|k| r.kind == k))
            .map(|r| {
                let info = Info::read(r.kind, &r.body);
                let mut values = info
                    .as_ref()
                    .and_then(|i| serde_json::to_value(i).ok())
                    .unwrap_or(Value::Null);
                if let (Some(Info::Obd(o)), Some(map)) = (&info, values.as_object_mut())
                    && let Ok(Value::Object(extra)) = serde_json::to_value(o.summary(order))
                {
                    map.extend(extra);
                }
                RecordView {
                    time: iso(r.ts * 1000),
                    kind: r.kind,
                    frame_id: r.frame_id,
                    values,
                    raw: hex(&r.body),
                }
            })
            .collect(),
    ))
}

/// A day's track.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackView {
    /// The day (Beijing).
    pub date: String,
    /// Positions with a fix, in time order: `[time (Unix s), longitude, latitude, speed km/h]`.
    pub points: Vec<(i64, f64, f64, Option<f64>)>,
    /// Records whose position had no fix (the terminal repeats the last one then).
    pub without_fix: usize,
}

/// The day of a track.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrackParams {
    /// `YYYY-MM-DD` (Beijing; default today).
    pub date: Option<String>,
}

/// A truck's track for one day: the positions of its stream records with a fix.
#[utoipa::path(get, path = "/api/v1/vehicles/{vin}/track", tag = "vehicles", security(("token" = ["read_data"])),
    params(("vin" = String, Path, description = "VIN"), TrackParams),
    responses((status = 200, body = TrackView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn track(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<access::Principal>,
    Path(vin): Path<String>,
    Query(q): Query<TrackParams>,
) -> ApiResult<Json<TrackView>> {
    visible(&state, &caller, &vin).await?;
    let date = match &q.date {
        Some(d) => {
            bjtime::Date::parse(d).map_err(|e| ApiError::BadRequest(format!("date: {e}")))?
        }
        None => bjtime::Date::of(state.now_ms().div_euclid(1000)),
    };
    let from = date.start();
    let obd = state.obd_store();
    let rows = tokio::task::spawn_blocking(move || obd.records(&vin, from, from + 86_400))
        .await
        .map_err(|e| ApiError::Internal(format!("track task: {e}")))??;
    let mut out = TrackView {
        date: format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
        points: Vec::new(),
        without_fix: 0,
    };
    for r in rows {
        let (pos, speed) = match Info::read(r.kind, &r.body) {
            Some(Info::Diesel(d)) => (d.position, d.speed),
            Some(Info::Gas(g)) => (g.position, g.speed),
            _ => continue,
        };
        match (
            pos.status & 1 == 0,
            degrees(pos.longitude, pos.status & 4 != 0),
            degrees(pos.latitude, pos.status & 2 != 0),
        ) {
            (true, Some(lon), Some(lat)) => out.points.push((r.ts, lon, lat, speed)),
            _ => out.without_fix += 1,
        }
    }
    Ok(Json(out))
}

/// Which frames to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FrameParams {
    /// Only this VIN's.
    pub vin: Option<String>,
    /// Received at or after, RFC 3339.
    pub from: Option<String>,
    /// Received before, RFC 3339.
    pub to: Option<String>,
    /// Only quarantined ones.
    pub quarantined: Option<bool>,
    /// At most this many, newest first (default 100, at most 10,000).
    pub limit: Option<usize>,
}

/// A truck frame of the raw log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FrameView {
    /// Raw-log id.
    pub id: i64,
    /// Receive time.
    pub received: String,
    /// Sender's address.
    pub peer: String,
    /// The header's VIN.
    pub vin: Option<String>,
    /// The command unit's name (`login`, `real_time`, ...).
    pub command: Option<String>,
    /// `stored`, `duplicate`, `control` or `quarantined`.
    pub status: String,
    /// Why it was quarantined, or a remark.
    pub reason: Option<String>,
    /// The bytes as received, hex.
    pub raw_hex: String,
}

/// The truck frames as received (every frame, quarantine included), newest first.
#[utoipa::path(get, path = "/api/v1/truck-frames", tag = "vehicles", security(("token" = ["read_devices"])),
    params(FrameParams), responses((status = 200, body = [FrameView]), (status = 400, body = ErrorBody)))]
async fn frames(
    State(state): State<AppState>,
    Query(q): Query<FrameParams>,
) -> ApiResult<Json<Vec<FrameView>>> {
    let limit = crate::points::small_limit(q.limit)?;
    let query = store::obd::FrameQuery {
        vin: q.vin.clone(),
        from_ms: q
            .from
            .as_deref()
            .map(|t| parse_time("from", t))
            .transpose()?,
        to_ms: q.to.as_deref().map(|t| parse_time("to", t)).transpose()?,
        quarantined_only: q.quarantined.unwrap_or(false),
        limit,
    };
    let obd = state.obd_store();
    let rows = tokio::task::spawn_blocking(move || obd.frames(&query))
        .await
        .map_err(|e| ApiError::Internal(format!("frames task: {e}")))??;
    Ok(Json(
        rows.into_iter()
            .map(|f| FrameView {
                id: f.id,
                received: iso(f.frame.received_ms),
                peer: f.frame.peer,
                vin: f.frame.vin,
                command: f
                    .frame
                    .command
                    .map(|c| hj1239::Command::of(c).name().to_owned()),
                status: f.frame.status.as_str().to_owned(),
                reason: f.frame.reason,
                raw_hex: hex(&f.frame.raw),
            })
            .collect(),
    ))
}

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_vehicles))
        .routes(routes!(get_vehicle))
        .routes(routes!(records))
        .routes(routes!(track))
        .routes(routes!(frames))
}
