//! The alarms API: lists, one alarm with its events, acknowledgement and dismissal, and the live
//! stream (Server-Sent Events from the engine's [`AlarmHub`]). The engine itself is the
//! `alarm_engine` crate.

use std::collections::BTreeSet;
use std::sync::Arc;

pub use alarm_engine::AlarmHub;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::{Deserialize, Serialize};
use store::{AlarmEvent, AlarmQuery, Handling};
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

fn blocking_err(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Alarm filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlarmParams {
    /// `raised`, `cleared` or `withdrawn`.
    pub state: Option<String>,
    /// Rule id (the kind of alarm).
    pub rule: Option<String>,
    /// `info`, `warning`, `critical`.
    pub severity: Option<String>,
    /// Point id.
    pub point: Option<String>,
    /// Enterprise (unified social credit code): its monitoring points.
    pub enterprise: Option<String>,
    /// District: points registered in it.
    pub district: Option<String>,
    /// Overlapping from (RFC 3339).
    pub from: Option<String>,
    /// Overlapping to (RFC 3339).
    pub to: Option<String>,
    /// At most (default 100, at most 10,000).
    pub limit: Option<usize>,
}

/// An alarm with its events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmView {
    /// The alarm.
    #[schema(value_type = Object)]
    pub alarm: store::Alarm,
    /// Its rule's explanation.
    pub explanation: Option<String>,
    /// Every change, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<AlarmEvent>,
}

fn time_s(name: &str, t: &Option<String>) -> ApiResult<Option<i64>> {
    t.as_deref()
        .map(|t| {
            bjtime::parse_rfc3339(t)
                .map(|ms| ms / 1000)
                .map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
        })
        .transpose()
}

/// Lists alarms, newest change first.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "alarms", security(("token" = ["read_alarms"])), params(AlarmParams),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Query(q): Query<AlarmParams>,
) -> ApiResult<Json<Vec<store::Alarm>>> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::BadRequest("limit must be 1 to 10000".into()));
    }
    if let Some(s) = &q.state
        && !matches!(s.as_str(), "raised" | "cleared" | "withdrawn")
    {
        return Err(ApiError::BadRequest(format!(
            "state {s:?}: raised, cleared or withdrawn"
        )));
    }
    // Enterprise and district filters, and the user's scope, go through the registries to
    // point ids.
    let mut allowed: Option<BTreeSet<String>> = state.visible_points(&principal).await?;
    if q.enterprise.is_some() || q.district.is_some() {
        let ids = state
            .points_in(q.enterprise.as_deref(), q.district.as_deref())
            .await?;
        allowed = Some(match allowed {
            Some(a) => a.intersection(&ids).cloned().collect(),
            None => ids,
        });
    }
    let query = AlarmQuery {
        point_id: q.point.clone(),
        rule_id: q.rule.clone(),
        state: q.state.clone(),
        severity: q.severity.clone(),
        from: time_s("from", &q.from)?,
        to: time_s("to", &q.to)?,
        limit: if allowed.is_some() { 10_000 } else { limit },
    };
    let store = state.alarm_store();
    let mut rows = tokio::task::spawn_blocking(move || store.alarms(&query))
        .await
        .map_err(blocking_err)?
        .map_err(ApiError::from)?;
    if let Some(a) = allowed {
        rows.retain(|r| a.contains(&r.point_id));
        rows.truncate(limit);
    }
    Ok(Json(rows))
}

/// The period and place of a fraud ranking.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingParams {
    /// Clues overlapping from (RFC 3339); default 30 days before `to`.
    pub from: Option<String>,
    /// Clues overlapping to (RFC 3339); default now.
    pub to: Option<String>,
    /// Only points registered in this district.
    pub district: Option<String>,
}

/// A point or an enterprise in the ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuspectView {
    /// Point id or enterprise credit code.
    pub id: String,
    /// Families of evidence, strongest first (`manual_entry`, `dilution`, `frozen_analyser`,
    /// `marking`).
    pub families: Vec<String>,
    /// Sum of the families' weights (strong 1.0, others 0.5).
    pub score: f64,
    /// Score of 1.0 or more.
    pub suspect: bool,
    /// The clues (alarm ids).
    pub alarms: Vec<i64>,
    /// The points with clues.
    pub points: Vec<String>,
    /// First clue's start (RFC 3339).
    pub first: String,
    /// Last clue's end (RFC 3339).
    pub last: String,
}

/// Suspected monitoring-data fraud, ranked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ranking {
    /// From (RFC 3339).
    pub from: String,
    /// To (RFC 3339).
    pub to: String,
    /// Points with at least one clue, highest score first.
    pub points: Vec<SuspectView>,
    /// Enterprises with at least one clue, highest score first.
    pub enterprises: Vec<SuspectView>,
    /// How the score is made.
    pub formula: &'static str,
}

/// The suspicion ranking of monitoring-data fraud: the fraud rules' alarms (clues) of a period
/// per point and per enterprise, scored by families of evidence (`rules::fraud`).
#[utoipa::path(get, path = "/api/v1/fraud/ranking", tag = "alarms", security(("token" = ["read_alarms"])), params(RankingParams),
    responses((status = 200, body = Ranking), (status = 400, body = ErrorBody)))]
async fn fraud_ranking(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Query(q): Query<RankingParams>,
) -> ApiResult<Json<Ranking>> {
    let to = time_s("to", &q.to)?.unwrap_or(state.now_ms().div_euclid(1000));
    let from = time_s("from", &q.from)?.unwrap_or(to - 30 * bjtime::DAY_S);
    if from >= to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    let mut allowed = state.visible_points(&principal).await?;
    if let Some(d) = &q.district {
        let ids = state.points_in(None, Some(d)).await?;
        allowed = Some(match allowed {
            Some(a) => a.intersection(&ids).cloned().collect(),
            None => ids,
        });
    }
    let rules = state.rules();
    let families: std::collections::BTreeMap<String, rules::fraud::Family> = rules
        .rules
        .iter()
        .filter_map(|r| Some((r.id.clone(), rules::fraud::family(r.kind())?)))
        .collect();
    let store = state.alarm_store();
    let query = AlarmQuery {
        from: Some(from),
        to: Some(to),
        limit: 100_000,
        ..Default::default()
    };
    let alarms = tokio::task::spawn_blocking(move || store.alarms(&query))
        .await
        .map_err(blocking_err)?
        .map_err(ApiError::from)?;
    let points = crate::state::blocking(&state, |s| s.points()).await?;
    let enterprise: std::collections::BTreeMap<String, Option<String>> =
        points.into_iter().map(|p| (p.id, p.enterprise)).collect();
    let clues: Vec<rules::fraud::Clue> = alarms
        .into_iter()
        .filter(|a| a.state != store::AlarmState::Withdrawn)
        .filter(|a| allowed.as_ref().is_none_or(|ids| ids.contains(&a.point_id)))
        .filter_map(|a| {
            Some(rules::fraud::Clue {
                alarm_id: a.id,
                family: *families.get(&a.rule_id)?,
                enterprise: enterprise.get(&a.point_id).cloned().flatten(),
                point_id: a.point_id,
                start: a.start,
                end: a.end,
            })
        })
        .collect();
    let (points, enterprises) = rules::fraud::rank(&clues);
    let view = |s: rules::fraud::Suspect| SuspectView {
        families: s
            .families
            .iter()
            .filter_map(|f| serde_json::to_value(f).ok()?.as_str().map(str::to_owned))
            .collect(),
        id: s.id,
        score: s.score,
        suspect: s.suspect,
        alarms: s.alarms,
        points: s.points,
        first: crate::wire::iso(s.first * 1000),
        last: crate::wire::iso(s.last * 1000),
    };
    Ok(Json(Ranking {
        from: crate::wire::iso(from * 1000),
        to: crate::wire::iso(to * 1000),
        points: points.into_iter().map(view).collect(),
        enterprises: enterprises.into_iter().map(view).collect(),
        formula: "each family of evidence counts once: 1.0 for a strong one (manual entry, dilution), 0.5 for the others (frozen analyser, marking); a point's score sums its families, an enterprise's the families of all its points; 1.0 or more is a suspect",
    }))
}

/// One alarm with its evidence and events.
#[utoipa::path(get, path = "/api/v1/alarms/{id}", tag = "alarms", security(("token" = ["read_alarms"])),
    params(("id" = i64, Path, description = "alarm id")),
    responses((status = 200, body = AlarmView), (status = 404, body = ErrorBody)))]
async fn one(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<AlarmView>> {
    let store = state.alarm_store();
    let (alarm, events) = tokio::task::spawn_blocking(move || {
        Ok::<_, store::StoreError>((store.alarm(id)?, store.alarm_events(id)?))
    })
    .await
    .map_err(blocking_err)?
    .map_err(ApiError::from)?;
    let alarm = alarm.ok_or_else(|| ApiError::NotFound(format!("no alarm {id}")))?;
    check_visible(&state, &principal, &alarm).await?;
    let explanation = state
        .rules()
        .rules
        .iter()
        .find(|r| r.id == alarm.rule_id)
        .map(|r| r.explanation.clone());
    Ok(Json(AlarmView {
        alarm,
        explanation,
        events,
    }))
}

/// Refuses an alarm on a point outside the user's scope.
async fn check_visible(
    state: &AppState,
    principal: &access::Principal,
    alarm: &store::Alarm,
) -> ApiResult<()> {
    if state.point_visible(principal, &alarm.point_id).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "alarm {} is outside what {} may see",
            alarm.id, principal.username
        )))
    }
}

/// A user's reason.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Reason {
    /// Why.
    pub reason: String,
}

async fn handle(
    state: AppState,
    id: i64,
    action: &str,
    principal: &access::Principal,
    reason: Reason,
) -> ApiResult<Json<AlarmEvent>> {
    if reason.reason.trim().is_empty() {
        return Err(ApiError::BadRequest("reason: required".into()));
    }
    let by = principal.username.clone();
    let store = state.alarm_store();
    let alarm = tokio::task::spawn_blocking(move || store.alarm(id))
        .await
        .map_err(blocking_err)??
        .ok_or_else(|| ApiError::NotFound(format!("no alarm {id}")))?;
    check_visible(&state, principal, &alarm).await?;
    let handling = Handling {
        action: action.to_owned(),
        by,
        reason: reason.reason,
        at_ms: state.now_ms(),
    };
    let store = state.alarm_store();
    let e = tokio::task::spawn_blocking(move || store.handle_alarm(id, handling))
        .await
        .map_err(blocking_err)?
        .map_err(ApiError::from)?;
    state.alarm_hub().publish(e.clone(), None, state.now_ms());
    Ok(Json(e))
}

/// Acknowledges an alarm (someone is on it).
#[utoipa::path(post, path = "/api/v1/alarms/{id}/acknowledge", tag = "alarms", security(("token" = ["handle_alarms"])), request_body = Reason,
    params(("id" = i64, Path, description = "alarm id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Json(r): Json<Reason>,
) -> ApiResult<Json<AlarmEvent>> {
    handle(state, id, "acknowledged", &principal, r).await
}

/// Dismisses an alarm (not a real problem), with the reason.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/dismiss", tag = "alarms", security(("token" = ["handle_alarms"])), request_body = Reason,
    params(("id" = i64, Path, description = "alarm id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn dismiss(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Json(r): Json<Reason>,
) -> ApiResult<Json<AlarmEvent>> {
    handle(state, id, "dismissed", &principal, r).await
}

/// Live alarm events (Server-Sent Events, event name = the change: raised, updated, cleared, ...).
#[utoipa::path(get, path = "/api/v1/alarms/stream", tag = "alarms", security(("token" = ["read_alarms"])),
    responses((status = 200, content_type = "text/event-stream", body = String)))]
async fn stream(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    // A scoped user's stream carries the events of the points visible when it opened.
    let visible = Arc::new(state.visible_points(&principal).await?);
    let hub = state.alarm_hub();
    let rx = hub.subscribe();
    let closing = hub.closing();
    let s = futures_util::stream::unfold((rx, closing), move |(mut rx, mut closing)| {
        let visible = Arc::clone(&visible);
        async move {
            if *closing.borrow() {
                return None;
            }
            let next = loop {
                let r = tokio::select! {
                    r = rx.recv() => r,
                    _ = closing.changed() => return None,
                };
                match (&r, visible.as_ref()) {
                    (Ok(e), Some(v)) if !v.contains(&e.alarm.point_id) => continue,
                    _ => break r,
                }
            };
            let event = match next {
                Ok(e) => Event::default()
                    .event(e.kind.clone())
                    .id(e.id.to_string())
                    .data(serde_json::to_string(&e).unwrap_or_default()),
                Err(broadcast::error::RecvError::Lagged(n)) => Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{n}}}")),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok(event), (rx, closing)))
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}

/// The alarm routes.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(fraud_ranking))
        .routes(routes!(stream))
        .routes(routes!(one))
        .routes(routes!(acknowledge))
        .routes(routes!(dismiss))
}
