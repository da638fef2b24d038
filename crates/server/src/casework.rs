//! The cases API: the closed loop over HTTP, evidence packages, figures, the inspection plan,
//! and the deadline watch.
//!
//! Every step is checked by the `cases` crate's state machine against the events as stored, then
//! appended with the sequence number it follows (a concurrent step is refused with 409 and the
//! user re-reads). Each role's steps have their own endpoint (dispatch, enforcement actions, the
//! enterprise's response), so the access table in [`crate::auth`] states who may do what.
//! Users see the cases of their scope: a district officer their district's, an enterprise its
//! own. Case times follow the platform's clock (simulated in the demo, like the alarms).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use access::{Capability, Principal};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cases::{Action, AttachmentRef, Case, CaseEvent, CaseState, Source};
use serde::{Deserialize, Serialize};
use store::{AlarmQuery, CaseQuery, CaseStore, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::auth::MAX_ATTACHMENT;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::wire::{Csv, iso, parse_time};

fn blocking_err(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(format!("case task: {e}"))
}

async fn on_cases<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn CaseStore) -> Result<T, StoreError> + Send + 'static,
) -> ApiResult<T> {
    let store = state.case_store();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(blocking_err)?
        .map_err(ApiError::from)
}

fn opt_time(name: &str, text: &Option<String>) -> ApiResult<Option<i64>> {
    text.as_deref().map(|t| parse_time(name, t)).transpose()
}

/// A case, checked against the user's scope (403 outside it, 404 if there is none).
async fn visible_case(state: &AppState, p: &Principal, id: i64) -> ApiResult<Case> {
    let case = on_cases(state, move |s| s.case(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no case {id}")))?;
    if !p
        .scope()
        .sees(case.district.as_deref(), case.enterprise.as_deref())
    {
        return Err(ApiError::Forbidden(format!(
            "case {id} is outside what {} may see",
            p.username
        )));
    }
    Ok(case)
}

/// Checks and records one step; returns the case after it.
pub(crate) async fn record_step(
    state: &AppState,
    id: i64,
    actor: &str,
    action: Action,
) -> ApiResult<Case> {
    let deadlines = state.deadlines();
    let now = state.now_ms();
    let actor = actor.to_owned();
    let store = state.case_store();
    tokio::task::spawn_blocking(move || {
        let events = store.case_events(id)?;
        if events.is_empty() {
            return Err(ApiError::NotFound(format!("no case {id}")));
        }
        let mut case = Case::from_events(id, &events, &deadlines)
            .map_err(|e| ApiError::Internal(format!("case {id} does not replay: {e}")))?;
        // Events are in time order even if the clock stepped back.
        let at = now.max(events.last().map_or(now, |e| e.at_ms));
        case.apply(at, &action, &deadlines)
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
        let event =
            CaseEvent::next(events.last(), at, &actor, &action).map_err(ApiError::Internal)?;
        store.append_case_event(id, &event, &case)?;
        Ok(case)
    })
    .await
    .map_err(blocking_err)?
}

/// Case list filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseParams {
    /// `open`, `dispatched`, `investigated`, `rectifying`, `responded`, `verified`, `closed`.
    pub state: Option<String>,
    /// Only cases not closed.
    pub open: Option<bool>,
    /// District.
    pub district: Option<String>,
    /// Enterprise credit code.
    pub enterprise: Option<String>,
    /// Officer (user name).
    pub officer: Option<String>,
    /// Point id.
    pub point: Option<String>,
    /// Cases covering this alarm.
    pub alarm: Option<i64>,
    /// Only overdue cases.
    pub overdue: Option<bool>,
    /// Opened from (RFC 3339).
    pub from: Option<String>,
    /// Opened before (RFC 3339).
    pub to: Option<String>,
    /// At most (default 100, at most 10,000).
    pub limit: Option<u32>,
}

const STATES: [&str; 7] = [
    "open",
    "dispatched",
    "investigated",
    "rectifying",
    "responded",
    "verified",
    "closed",
];

/// Forces a query into the user's scope.
fn scoped(p: &Principal, q: &mut CaseQuery) {
    match p.scope() {
        access::Scope::City => {}
        access::Scope::District(d) => q.district = Some(d),
        access::Scope::Enterprise(e) => q.enterprise = Some(e),
    }
}

/// Lists cases, newest first, within the user's scope.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("token" = ["read_cases"])), params(CaseParams),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Query<CaseParams>,
) -> ApiResult<Json<Vec<Case>>> {
    if let Some(s) = &q.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "state {s:?}: one of {}",
            STATES.join(", ")
        )));
    }
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::BadRequest("limit must be 1 to 10000".into()));
    }
    let mut query = CaseQuery {
        state: q.state.clone(),
        open_only: q.open.unwrap_or(false),
        district: q.district.clone(),
        enterprise: q.enterprise.clone(),
        officer: q.officer.clone(),
        point_id: q.point.clone(),
        alarm: q.alarm,
        from_ms: opt_time("from", &q.from)?,
        to_ms: opt_time("to", &q.to)?,
        limit: if q.overdue == Some(true) { 0 } else { limit },
    };
    scoped(&p, &mut query);
    let mut rows = on_cases(&state, move |s| s.cases(&query)).await?;
    if q.overdue == Some(true) {
        let now = state.now_ms();
        rows.retain(|c| c.overdue(now).is_some());
        rows.truncate(limit as usize);
    }
    Ok(Json(rows))
}

/// A new case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// Short title.
    pub title: String,
    /// What the problem is.
    #[serde(default)]
    pub description: String,
    /// Alarm ids (a case from alarms); their point, enterprise and district fill in the case.
    #[serde(default)]
    pub alarms: Vec<i64>,
    /// The registry entry it comes from (`{"registry": "sewage_outlets", "id": "..."}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub registry: Option<cases::RegistryRef>,
    /// Point id (manual cases).
    #[serde(default)]
    pub point_id: Option<String>,
    /// Enterprise credit code (manual cases).
    #[serde(default)]
    pub enterprise: Option<String>,
    /// District (manual cases; required when nothing else gives one).
    #[serde(default)]
    pub district: Option<String>,
}

/// Opens a case: from alarms, from a registry finding, or by hand.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("token" = ["open_cases"])), request_body = NewCase,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn open_case(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Json(form): Json<NewCase>,
) -> ApiResult<(StatusCode, Json<Case>)> {
    let mut point_id = form.point_id.clone();
    let mut enterprise = form.enterprise.clone();
    let mut district = form.district.clone();
    let source = if !form.alarms.is_empty() {
        Source::Alarms
    } else if form.registry.is_some() {
        Source::Registry
    } else {
        Source::Manual
    };
    if source == Source::Alarms {
        let alarms = state.alarm_store();
        let ids = form.alarms.clone();
        let found = tokio::task::spawn_blocking(move || {
            ids.iter()
                .map(|id| alarms.alarm(*id).map(|a| (*id, a)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(blocking_err)??;
        let mut points = BTreeSet::new();
        for (id, a) in found {
            let a = a.ok_or_else(|| ApiError::BadRequest(format!("alarms: no alarm {id}")))?;
            points.insert(a.point_id);
        }
        if points.len() > 1 {
            return Err(ApiError::BadRequest(format!(
                "alarms: a case covers one point; these are on {}",
                points.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(pt) = points.into_iter().next() {
            let (d, e) = state.point_place(&pt).await?;
            district = district.or(d);
            enterprise = enterprise.or(e);
            point_id = Some(pt);
        }
        // One open case per alarm.
        for id in form.alarms.clone() {
            let open = on_cases(&state, move |s| {
                s.cases(&CaseQuery {
                    alarm: Some(id),
                    open_only: true,
                    ..Default::default()
                })
            })
            .await?;
            if let Some(c) = open.first() {
                return Err(ApiError::Conflict(format!(
                    "alarm {id} is already in open case {}",
                    c.id
                )));
            }
        }
    }
    if let Some(r) = &form.registry {
        let store = state.registries();
        let (reg, id) = (r.registry.clone(), r.id.clone());
        let entry = tokio::task::spawn_blocking(move || store.entry(&reg, &id))
            .await
            .map_err(blocking_err)??
            .ok_or_else(|| {
                ApiError::BadRequest(format!("registry: no entry {:?} in {}", r.id, r.registry))
            })?;
        let f = |k: &str| {
            entry
                .data
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
        };
        district = district.or_else(|| f("district"));
        enterprise = enterprise.or_else(|| f("enterprise")).or_else(|| {
            (r.registry == "enterprises")
                .then(|| f("credit_code"))
                .flatten()
        });
    }
    if let Some(pt) = &point_id
        && (district.is_none() || enterprise.is_none())
    {
        let (d, e) = state.point_place(pt).await?;
        district = district.or(d);
        enterprise = enterprise.or(e);
    }
    if !p.scope().sees(district.as_deref(), enterprise.as_deref()) {
        return Err(ApiError::Forbidden(format!(
            "{} may open cases only in their district",
            p.username
        )));
    }
    let action = Action::Opened {
        title: form.title,
        description: form.description,
        source,
        alarms: form.alarms,
        point_id,
        enterprise,
        district,
        registry: form.registry,
    };
    let deadlines = state.deadlines();
    let now = state.now_ms();
    let actor = p.username.clone();
    let store = state.case_store();
    let case = tokio::task::spawn_blocking(move || {
        let event = CaseEvent::next(None, now, &actor, &action).map_err(ApiError::Internal)?;
        let case = Case::from_events(0, std::slice::from_ref(&event), &deadlines)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let id = store.create_case(&event, &case)?;
        Ok::<_, ApiError>(Case { id, ..case })
    })
    .await
    .map_err(blocking_err)??;
    Ok((StatusCode::CREATED, Json(case)))
}

/// One event as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Sequence number.
    pub seq: u32,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// The action.
    #[schema(value_type = Object)]
    pub action: serde_json::Value,
    /// This event's hash.
    pub hash: String,
}

/// A case with its events.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    /// The case.
    #[schema(value_type = Object)]
    pub case: Case,
    /// Every event, oldest first.
    pub events: Vec<EventView>,
    /// Whether the event chain verifies.
    pub chain_valid: bool,
    /// The first broken link, if any.
    pub chain_error: Option<String>,
    /// The actions legal now.
    pub legal_actions: Vec<&'static str>,
    /// The late stage and its deadline (RFC 3339), if any.
    pub overdue_since: Option<String>,
}

/// One case with its events, the chain's verification and the actions legal now.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("token" = ["read_cases"])),
    params(("id" = i64, Path, description = "case id")),
    responses((status = 200, body = CaseView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn one(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CaseView>> {
    let case = visible_case(&state, &p, id).await?;
    let events = on_cases(&state, move |s| s.case_events(id)).await?;
    let chain = cases::verify_chain(&events);
    let now = state.now_ms();
    Ok(Json(CaseView {
        legal_actions: Action::legal_in(case.state),
        overdue_since: case.overdue(now).map(|(_, d)| iso(d)),
        chain_valid: chain.is_ok(),
        chain_error: chain.err().map(|e| e.to_string()),
        events: events
            .iter()
            .map(|e| EventView {
                seq: e.seq,
                at: iso(e.at_ms),
                actor: e.actor.clone(),
                action: serde_json::from_str(&e.action_json)
                    .unwrap_or(serde_json::Value::String(e.action_json.clone())),
                hash: e.hash.clone(),
            })
            .collect(),
        case,
    }))
}

/// A dispatch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    /// District.
    pub district: String,
    /// The officer's user name.
    pub officer: String,
    /// Handling due (RFC 3339); the configured default if absent.
    #[serde(default)]
    pub due: Option<String>,
}

/// Dispatches a case to a district and an officer.
#[utoipa::path(post, path = "/api/v1/cases/{id}/dispatch", tag = "cases", security(("token" = ["dispatch_cases"])), request_body = Dispatch,
    params(("id" = i64, Path, description = "case id")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn dispatch(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<i64>,
    Json(form): Json<Dispatch>,
) -> ApiResult<Json<Case>> {
    visible_case(&state, &p, id).await?;
    let users = Arc::clone(&state.auth().users);
    let name = form.officer.clone();
    let officer = tokio::task::spawn_blocking(move || users.user(&name))
        .await
        .map_err(blocking_err)??
        .filter(|u| !u.disabled)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("officer: no active user {:?}", form.officer))
        })?;
    let role: access::Role = officer.role.parse().map_err(ApiError::Internal)?;
    if !access::allows(role, Capability::HandleCases) {
        return Err(ApiError::BadRequest(format!(
            "officer: {} is a {role}, who cannot handle cases",
            officer.username
        )));
    }
    if role == access::Role::DistrictOfficer && officer.district.as_deref() != Some(&form.district)
    {
        return Err(ApiError::BadRequest(format!(
            "officer: {} works in {}, not {}",
            officer.username,
            officer.district.as_deref().unwrap_or("-"),
            form.district
        )));
    }
    let action = Action::Dispatched {
        district: form.district,
        officer: form.officer,
        due_ms: opt_time("due", &form.due)?,
    };
    Ok(Json(record_step(&state, id, &p.username, action).await?))
}

/// Converts RFC 3339 times in an action body (`due`, `inspected`) to the stored Unix ms fields.
fn action_from_json(mut v: serde_json::Value) -> ApiResult<Action> {
    if let Some(m) = v.as_object_mut() {
        for (from, to) in [("due", "due_ms"), ("inspected", "inspected_ms")] {
            if let Some(t) = m.remove(from) {
                let text = t
                    .as_str()
                    .ok_or_else(|| ApiError::BadRequest(format!("{from}: RFC 3339 text")))?;
                let ms = parse_time(from, text)?;
                m.insert(to.to_owned(), serde_json::Value::from(ms));
            }
        }
    }
    serde_json::from_value(v).map_err(|e| ApiError::BadRequest(format!("action: {e}")))
}

/// Which points a case concerns: its point and its alarms' points.
async fn case_points(state: &AppState, case: &Case) -> ApiResult<BTreeSet<String>> {
    let mut points: BTreeSet<String> = case.point_id.iter().cloned().collect();
    let alarms = state.alarm_store();
    let ids = case.alarms.clone();
    let found = tokio::task::spawn_blocking(move || {
        ids.iter()
            .map(|id| alarms.alarm(*id))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(blocking_err)??;
    points.extend(found.into_iter().flatten().map(|a| a.point_id));
    Ok(points)
}

/// Checks that the data show the problem gone: for each of the case's points, no alarm active
/// within the last `verify_clean_hours` and data received in that period. Returns what was
/// checked, for the event.
async fn verify_from_data(state: &AppState, case: &Case) -> ApiResult<String> {
    let hours = state.deadlines().verify_clean_hours;
    let now = state.now_ms();
    let from_s = now / 1000 - hours * 3600;
    let points = case_points(state, case).await?;
    if points.is_empty() {
        return Err(ApiError::Conflict(
            "the case names no monitoring point: verify by inspection".into(),
        ));
    }
    let mut checked = Vec::new();
    for pt in points {
        let alarms = state.alarm_store();
        let q = AlarmQuery {
            point_id: Some(pt.clone()),
            from: Some(from_s),
            limit: 10_000,
            ..Default::default()
        };
        let recent = tokio::task::spawn_blocking(move || alarms.alarms(&q))
            .await
            .map_err(blocking_err)??;
        if let Some(a) = recent
            .iter()
            .find(|a| a.state != store::AlarmState::Withdrawn)
        {
            return Err(ApiError::Conflict(format!(
                "data verification failed: alarm {} ({}) on {pt} was active within the last {hours} h",
                a.id, a.rule_id
            )));
        }
        let store = state.series_store();
        let point = pt.clone();
        let n = tokio::task::spawn_blocking(move || {
            let mut n = 0;
            for t in [domain::DataType::Hour, domain::DataType::Min] {
                n += store
                    .series(&store::SeriesQuery {
                        point_id: point.clone(),
                        data_type: t,
                        code: None,
                        from: from_s,
                        to: now / 1000,
                        limit: 100_000,
                    })?
                    .len();
            }
            Ok::<_, StoreError>(n)
        })
        .await
        .map_err(blocking_err)??;
        if n == 0 {
            return Err(ApiError::Conflict(format!(
                "data verification failed: no data from {pt} in the last {hours} h (silence is not compliance)"
            )));
        }
        checked.push(format!("{pt}: {n} values, no alarm"));
    }
    Ok(format!(
        "data {} to {}: {}",
        iso(from_s * 1000),
        iso(now),
        checked.join("; ")
    ))
}

/// An enforcement step (officers): `off_site_review`, `inspection`, `rectification_requested`,
/// `response_returned`, `verified`, `closed`, `reopened`, `commented`. Times as RFC 3339 in
/// `due` and `inspected`. A `verified` step with `"method": "data"` is checked against the
/// data (no alarm and data present for the configured hours) and its detail filled in.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", security(("token" = ["handle_cases"])), request_body = Object,
    params(("id" = i64, Path, description = "case id")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn act(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<Json<Case>> {
    let case = visible_case(&state, &p, id).await?;
    let mut body = body;
    let data_verification = body.get("action").and_then(|a| a.as_str()) == Some("verified")
        && body.get("method").and_then(|m| m.as_str()) == Some("data");
    if data_verification {
        let detail = verify_from_data(&state, &case).await?;
        if let Some(m) = body.as_object_mut() {
            m.insert("detail".into(), serde_json::Value::String(detail));
        }
    }
    let action = action_from_json(body)?;
    match &action {
        Action::Opened { .. } | Action::Dispatched { .. } => {
            return Err(ApiError::BadRequest(
                "open with POST /api/v1/cases and dispatch with POST /api/v1/cases/{id}/dispatch"
                    .into(),
            ));
        }
        Action::Responded { .. } => {
            return Err(ApiError::BadRequest(
                "the enterprise responds with POST /api/v1/cases/{id}/response".into(),
            ));
        }
        Action::Escalated { .. } => {
            return Err(ApiError::BadRequest(
                "escalation is recorded by the deadline watch".into(),
            ));
        }
        _ => {}
    }
    Ok(Json(record_step(&state, id, &p.username, action).await?))
}

/// The enterprise's response.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseResponse {
    /// What it did.
    pub statement: String,
    /// Attachment ids uploaded to this case.
    #[serde(default)]
    pub attachments: Vec<i64>,
}

/// The enterprise responds to a rectification request, with attachments uploaded before.
#[utoipa::path(post, path = "/api/v1/cases/{id}/response", tag = "cases", security(("token" = ["respond_to_cases"])), request_body = EnterpriseResponse,
    params(("id" = i64, Path, description = "case id")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn respond(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<i64>,
    Json(form): Json<EnterpriseResponse>,
) -> ApiResult<Json<Case>> {
    visible_case(&state, &p, id).await?;
    let ids = form.attachments.clone();
    let found = on_cases(&state, move |s| {
        ids.iter()
            .map(|a| s.attachment(*a).map(|x| (*a, x)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let mut refs = Vec::new();
    for (aid, a) in found {
        match a {
            Some(a) if a.case_id == id => refs.push(a.meta),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "attachments: {aid} is not an attachment of case {id}"
                )));
            }
        }
    }
    let action = Action::Responded {
        statement: form.statement,
        attachments: refs,
    };
    Ok(Json(record_step(&state, id, &p.username, action).await?))
}

/// Attachment upload parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// File name.
    pub name: String,
}

/// Uploads an attachment (the body is the file; its `Content-Type` is kept).
#[utoipa::path(post, path = "/api/v1/cases/{id}/attachments", tag = "cases", security(("token" = ["handle_cases"]), ("token" = ["respond_to_cases"])), params(UploadParams,
    ("id" = i64, Path, description = "case id")), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<i64>,
    Query(q): Query<UploadParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AttachmentRef>)> {
    let case = visible_case(&state, &p, id).await?;
    if case.state == CaseState::Closed {
        return Err(ApiError::Conflict(format!("case {id} is closed")));
    }
    if q.name.trim().is_empty() || q.name.len() > 200 {
        return Err(ApiError::BadRequest("name: 1 to 200 bytes".into()));
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest("the file is empty".into()));
    }
    if body.len() > MAX_ATTACHMENT {
        return Err(ApiError::PayloadTooLarge(format!(
            "attachments are at most {MAX_ATTACHMENT} bytes"
        )));
    }
    let attachment = store::Attachment {
        meta: AttachmentRef {
            id: 0,
            name: q.name,
            size: body.len() as u64,
            sha256: access::sha256_hex(&body),
        },
        case_id: id,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned(),
        uploaded_by: p.username.clone(),
        uploaded_ms: state.now_ms(),
        content: body.to_vec(),
    };
    let r = on_cases(&state, move |s| s.add_attachment(&attachment)).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Downloads an attachment.
#[utoipa::path(get, path = "/api/v1/cases/{id}/attachments/{attachment}", tag = "cases", security(("token" = ["read_cases"])),
    params(("id" = i64, Path, description = "case id"), ("attachment" = i64, Path, description = "attachment id")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path((id, attachment)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    visible_case(&state, &p, id).await?;
    let a = on_cases(&state, move |s| s.attachment(attachment))
        .await?
        .filter(|a| a.case_id == id)
        .ok_or_else(|| ApiError::NotFound(format!("case {id} has no attachment {attachment}")))?;
    // Uploaded by enterprises too: never rendered in the platform's origin (see
    // `cases::attachment`).
    let served = cases::attachment::served_content_type(&a.content_type, &a.content);
    let disposition = cases::attachment::content_disposition(&a.meta.name);
    let mut r = a.content.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(served));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox; frame-ancestors 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}

/// Downloads the case's evidence package (ZIP: HTML summary, JSON, CSV, attachments, manifest).
#[utoipa::path(get, path = "/api/v1/cases/{id}/evidence", tag = "cases", security(("token" = ["read_cases"])),
    params(("id" = i64, Path, description = "case id")),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn evidence(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let case = visible_case(&state, &p, id).await?;
    let sources = StoreEvidence {
        cases: state.case_store(),
        alarms: state.alarm_store(),
        series: state.series_store(),
        rules: state.rules(),
    };
    let request = cases::assemble::Request {
        by: p.username.clone(),
        at_ms: state.now_ms(),
    };
    let package = tokio::task::spawn_blocking(move || {
        cases::assemble::evidence_package(&case, &sources, request)
    })
    .await
    .map_err(blocking_err)??;
    let zip = tokio::task::spawn_blocking(move || package.to_zip())
        .await
        .map_err(blocking_err)?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut r = zip.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"case-{id}-evidence.zip\""))
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// A package's contents read from the stores.
struct StoreEvidence {
    cases: Arc<dyn CaseStore>,
    alarms: Arc<dyn store::AlarmStore>,
    series: Arc<dyn store::Store>,
    rules: Arc<rules::RuleSet>,
}

impl cases::assemble::EvidenceSources for StoreEvidence {
    type Error = StoreError;

    fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>, StoreError> {
        self.cases.case_events(case_id)
    }

    fn attachment(&self, id: i64) -> Result<Option<(AttachmentRef, Vec<u8>)>, StoreError> {
        Ok(self.cases.attachment(id)?.map(|a| (a.meta, a.content)))
    }

    fn alarm(
        &self,
        id: i64,
    ) -> Result<Option<(domain::Alarm, Vec<domain::AlarmEvent>)>, StoreError> {
        let Some(a) = self.alarms.alarm(id)? else {
            return Ok(None);
        };
        Ok(Some((a, self.alarms.alarm_events(id)?)))
    }

    fn rule_explanation(&self, rule_id: &str) -> Option<String> {
        self.rules
            .rules
            .iter()
            .find(|r| r.id == rule_id)
            .map(|r| r.explanation.clone())
    }

    fn observations(
        &self,
        point_id: &str,
        series: domain::DataType,
        from_s: i64,
        to_s: i64,
    ) -> Result<Vec<domain::Observation>, StoreError> {
        self.series.series(&store::SeriesQuery {
            point_id: point_id.to_owned(),
            data_type: series,
            code: None,
            from: from_s,
            to: to_s,
            limit: 200_000,
        })
    }

    fn packets(
        &self,
        point_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, domain::PacketRecord)>, StoreError> {
        let Some(point) = self.series.point(point_id)? else {
            return Ok(Vec::new());
        };
        self.series.packets(&store::PacketQuery {
            mn: Some(point.mn),
            from_ms: Some(from_ms),
            to_ms: Some(to_ms),
            quarantined_only: false,
            limit: 100_000,
        })
    }

    fn readable_frame(&self, raw: &[u8]) -> String {
        hj212::frame_text(raw).into_owned()
    }
}

/// Figures filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FigureParams {
    /// Cases opened from (RFC 3339).
    pub from: Option<String>,
    /// Cases opened before (RFC 3339).
    pub to: Option<String>,
}

/// The plan's off-site enforcement target (非现场执法占比 ≥ 40%).
pub const OFF_SITE_TARGET: f64 = 0.40;

/// Case figures: off-site share of closed cases against the 40% target, time to dispatch and to
/// close, overdue counts; for the user's scope, per district and per enterprise.
#[utoipa::path(get, path = "/api/v1/cases/figures", tag = "cases", security(("token" = ["read_figures"])), params(FigureParams),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
async fn figures(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Query<FigureParams>,
) -> ApiResult<Json<cases::Figures>> {
    let mut query = CaseQuery {
        from_ms: opt_time("from", &q.from)?,
        to_ms: opt_time("to", &q.to)?,
        ..Default::default()
    };
    scoped(&p, &mut query);
    let rows = on_cases(&state, move |s| s.cases(&query)).await?;
    Ok(Json(cases::figures(&rows, state.now_ms(), OFF_SITE_TARGET)))
}

/// Inspection plan parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanParams {
    /// The year (default: this year, Beijing time).
    pub year: Option<u16>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The risk-based inspection plan: every key unit at the base frequency, more visits after
/// cases and alarms in the last 12 months; JSON, or CSV to export.
#[utoipa::path(get, path = "/api/v1/inspection-plan", tag = "cases", security(("token" = ["read_figures"])), params(PlanParams),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody)))]
async fn inspection_plan(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Query<PlanParams>,
) -> ApiResult<Response> {
    let now = state.now_ms();
    let year = q.year.unwrap_or_else(|| {
        u16::try_from(bjtime::Date::of(now.div_euclid(1000)).year()).unwrap_or(0)
    });
    if !(2000..=2100).contains(&year) {
        return Err(ApiError::BadRequest("year: 2000 to 2100".into()));
    }
    let since_ms = now - 365 * 86_400_000;
    let mut query = CaseQuery {
        from_ms: Some(since_ms),
        ..Default::default()
    };
    scoped(&p, &mut query);
    let recent_cases = on_cases(&state, move |s| s.cases(&query)).await?;
    let mut cases_by: BTreeMap<String, u32> = BTreeMap::new();
    for c in &recent_cases {
        if let Some(e) = &c.enterprise {
            *cases_by.entry(e.clone()).or_default() += 1;
        }
    }
    // Alarms per enterprise, through its points.
    let point_owner: BTreeMap<String, String> = state
        .registry_entries(domain::POINTS_REGISTRY)
        .await?
        .into_iter()
        .filter_map(|e| {
            Some((
                e.get("id")?.as_str()?.to_owned(),
                e.get("enterprise")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    let alarms = state.alarm_store();
    let aq = AlarmQuery {
        from: Some(since_ms / 1000),
        limit: 1_000_000,
        ..Default::default()
    };
    let recent_alarms = tokio::task::spawn_blocking(move || alarms.alarms(&aq))
        .await
        .map_err(blocking_err)?
        .unwrap_or_default();
    let mut alarms_by: BTreeMap<String, u32> = BTreeMap::new();
    for a in recent_alarms
        .iter()
        .filter(|a| a.state != store::AlarmState::Withdrawn)
    {
        if let Some(e) = point_owner.get(&a.point_id) {
            *alarms_by.entry(e.clone()).or_default() += 1;
        }
    }
    let scope = p.scope();
    let units: Vec<cases::PlanUnit> = state
        .registry_entries("enterprises")
        .await?
        .into_iter()
        .filter_map(|e| {
            let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            let code = s("credit_code");
            if code.is_empty() || !scope.sees(Some(&s("district")), Some(&code)) {
                return None;
            }
            let key_unit = ["key_air", "key_water", "key_soil", "key_risk"]
                .iter()
                .any(|k| e.get(*k).and_then(|v| v.as_bool()) == Some(true));
            Some(cases::PlanUnit {
                cases_12m: cases_by.get(&code).copied().unwrap_or(0),
                alarms_12m: alarms_by.get(&code).copied().unwrap_or(0),
                enterprise: code,
                name: s("name"),
                district: s("district"),
                key_unit,
            })
        })
        .collect();
    let plan = cases::plan(&units, year, &cases::PlanPolicy::default());
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(plan).into_response()),
        "csv" => {
            let mut out = Csv::new(
                true,
                &[
                    "enterprise",
                    "name",
                    "district",
                    "visits",
                    "dates",
                    "reason",
                ],
            );
            for x in &plan {
                out.row([
                    x.enterprise.clone(),
                    x.name.clone(),
                    x.district.clone(),
                    x.visits.to_string(),
                    x.dates.join(" "),
                    x.reason.clone(),
                ]);
            }
            let mut r = out.into_string().into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"inspection-plan-{year}.csv\""
            )) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            Ok(r)
        }
        other => Err(ApiError::BadRequest(format!(
            "format {other:?}: json or csv"
        ))),
    }
}

/// Records an `escalated` event on every open case whose stage is past its deadline and not yet
/// escalated. Returns how many were escalated.
pub fn escalate_overdue(
    store: &dyn CaseStore,
    deadlines: &cases::Deadlines,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let open = store.cases(&CaseQuery {
        open_only: true,
        ..Default::default()
    })?;
    let mut n = 0;
    for c in open {
        let Some((stage, due_ms)) = c.overdue(now_ms) else {
            continue;
        };
        if c.escalated {
            continue;
        }
        let events = store.case_events(c.id)?;
        let Ok(mut case) = Case::from_events(c.id, &events, deadlines) else {
            tracing::error!(case = c.id, "case does not replay; not escalated");
            continue;
        };
        let action = Action::Escalated { stage, due_ms };
        let at = now_ms.max(events.last().map_or(now_ms, |e| e.at_ms));
        if case.apply(at, &action, deadlines).is_err() {
            continue;
        }
        let Ok(event) = CaseEvent::next(events.last(), at, "system", &action) else {
            continue;
        };
        match store.append_case_event(c.id, &event, &case) {
            Ok(()) => n += 1,
            // Someone acted meanwhile: the next pass looks again.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The entries the `off_site_enforcement` target measures: cases closed at `at_ms`, each with
/// `enforcement` = `off_site` or `on_site`, replayed from the events as they stood then.
pub fn closed_cases_as_of(
    store: &dyn CaseStore,
    deadlines: &cases::Deadlines,
    at_ms: i64,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, StoreError> {
    let all = store.cases(&CaseQuery {
        to_ms: Some(at_ms + 1),
        ..Default::default()
    })?;
    let mut out = Vec::new();
    for c in all {
        let events: Vec<CaseEvent> = store
            .case_events(c.id)?
            .into_iter()
            .filter(|e| e.at_ms <= at_ms)
            .collect();
        let Ok(then) = Case::from_events(c.id, &events, deadlines) else {
            continue;
        };
        if then.state != CaseState::Closed {
            continue;
        }
        let mut m = serde_json::Map::new();
        m.insert("id".into(), c.id.into());
        m.insert(
            "enforcement".into(),
            if then.mode == Some(cases::Mode::OnSite) {
                "on_site"
            } else {
                "off_site"
            }
            .into(),
        );
        m.insert(
            "district".into(),
            then.district.map_or(serde_json::Value::Null, Into::into),
        );
        out.push(m);
    }
    Ok(out)
}

/// The case routes.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list, open_case))
        .routes(routes!(figures))
        .routes(routes!(one))
        .routes(routes!(dispatch))
        .routes(routes!(act))
        .routes(routes!(respond))
        .routes(routes!(upload))
        .routes(routes!(download))
        .routes(routes!(evidence))
        .routes(routes!(inspection_plan))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_ATTACHMENT))
}
