//! The registries API: schemas, entries with history, spreadsheet exchange, targets.
//!
//! Who made a change is the logged-in user (the auth layer puts them on the request). A
//! district officer sees the entries of their district in registries that have a `district`
//! field.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry::exchange::{self, ImportError, Lang};
use registry::query;
use registry::{FieldError, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::{Change, Entry, EntryChange, RegistryStore, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::wire::iso;

fn schema_named(name: &str) -> ApiResult<Schema> {
    registry::schema(name)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no registry named {name:?}")))
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn RegistryStore) -> Result<T, StoreError> + Send + 'static,
) -> ApiResult<T> {
    let store = state.registries();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(format!("store task: {e}")))?
        .map_err(ApiError::from)
}

/// After a change to the points registry, the HJ 212 front door re-reads the points: a device
/// with a new password is answered at once; after one to the heavy-duty vehicles, the truck
/// front door re-reads its vehicles.
fn points_changed(state: &AppState, registry: &str) -> ApiResult<()> {
    if registry == domain::POINTS_REGISTRY {
        crate::state::reload(state)?;
    }
    if registry == obd_gateway::VEHICLE_REGISTRY {
        crate::state::load_vehicles(state.registries().as_ref(), state.obd())?;
    }
    Ok(())
}

fn actor(p: &access::Principal) -> String {
    p.username.clone()
}

/// The district a user is limited to in a registry: a district officer's, when the registry has
/// a `district` field.
fn district_limit(p: &access::Principal, schema: &Schema) -> Option<String> {
    match p.scope() {
        access::Scope::District(d) if schema.fields.iter().any(|f| f.name == "district") => Some(d),
        _ => None,
    }
}

fn in_district(limit: &Option<String>, data: &Map<String, Value>) -> bool {
    limit
        .as_deref()
        .is_none_or(|d| data.get("district").and_then(|v| v.as_str()) == Some(d))
}

/// A registry in the list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistryView {
    /// Name in the API.
    pub name: String,
    /// English title.
    pub title: String,
    /// Chinese title.
    pub title_zh: String,
    /// Key field.
    pub key: String,
    /// Entries now.
    pub count: usize,
}

/// An entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryView {
    /// Key.
    pub id: String,
    /// Version (send it back as `?version=` to update safely).
    pub version: i64,
    /// Last change.
    pub updated: String,
    /// Who made it.
    pub updated_by: String,
    /// The entry's fields.
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl EntryView {
    /// An entry as shown: without its secret fields.
    fn of(schema: &Schema, e: Entry) -> Self {
        let mut data = e.data;
        schema.hide_secrets(&mut data);
        Self {
            id: e.id,
            version: e.version,
            updated: iso(e.updated_ms),
            updated_by: e.updated_by,
            data,
        }
    }
}

/// A page of entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryPage {
    /// Matching entries over all pages.
    pub total: usize,
    /// This page (0-based).
    pub page: usize,
    /// Page size.
    pub per_page: usize,
    /// The entries.
    pub entries: Vec<EntryView>,
}

/// One change of an entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeView {
    /// Version produced.
    pub version: i64,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// Before (absent when created).
    #[schema(value_type = Option<Object>)]
    pub before: Option<Map<String, Value>>,
    /// After (absent when deleted).
    #[schema(value_type = Option<Object>)]
    pub after: Option<Map<String, Value>>,
}

impl ChangeView {
    /// A change as shown: without the secret fields' values before and after.
    fn of(schema: &Schema, c: EntryChange) -> Self {
        let hide = |m: Option<Map<String, Value>>| {
            m.map(|mut m| {
                schema.hide_secrets(&mut m);
                m
            })
        };
        Self {
            version: c.version,
            at: iso(c.at_ms),
            actor: c.actor,
            before: hide(c.before),
            after: hide(c.after),
        }
    }
}

/// Validation errors, each naming its field.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationErrors {
    /// Summary.
    pub error: String,
    /// One per problem.
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<FieldError>,
}

fn invalid(fields: Vec<FieldError>) -> Response {
    let summary = fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.reason))
        .collect::<Vec<_>>()
        .join("; ");
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(ValidationErrors {
            error: summary,
            fields,
        }),
    )
        .into_response()
}

/// Lists the registries.
#[utoipa::path(get, path = "/api/v1/registries", tag = "registries", security(("token" = ["read_registries"])),
    responses((status = 200, body = [RegistryView])))]
async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<RegistryView>>> {
    let mut out = Vec::new();
    for s in registry::schemas() {
        let name = s.name.clone();
        let count = blocking(&state, move |r| r.entries(&name)).await?.len();
        out.push(RegistryView {
            name: s.name,
            title: s.title,
            title_zh: s.title_zh,
            key: s.key,
            count,
        });
    }
    Ok(Json(out))
}

/// A registry's schema: fields, labels, types, allowed values, lifecycle.
#[utoipa::path(get, path = "/api/v1/registries/{name}", tag = "registries", security(("token" = ["read_registries"])),
    params(("name" = String, Path, description = "registry name")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn get_schema(Path(name): Path<String>) -> ApiResult<Json<Schema>> {
    Ok(Json(schema_named(&name)?))
}

/// Query of entries. Any other parameter `field=value` filters on that field.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntryParams {
    /// Text to search in text fields.
    pub q: Option<String>,
    /// Page, 0-based.
    pub page: Option<usize>,
    /// Entries per page (default 50, at most 10,000).
    pub per_page: Option<usize>,
    /// Read the registry as it was at this instant (RFC 3339).
    pub as_of: Option<String>,
    /// `longitude,latitude`: entries within `radius_m` of it.
    pub near: Option<String>,
    /// Metres around `near` (default 1,000).
    pub radius_m: Option<f64>,
    /// `registry/id` of an entry with a boundary (a protected area, a plot): entries inside it.
    pub within: Option<String>,
}

const RESERVED: &[&str] = &[
    "q", "page", "per_page", "as_of", "near", "radius_m", "within",
];

/// Entries, filtered, searched, paged; `as_of` reads the past.
#[utoipa::path(get, path = "/api/v1/registries/{name}/entries", tag = "registries", security(("token" = ["read_registries"])),
    params(("name" = String, Path, description = "registry name"), EntryParams),
    responses((status = 200, body = EntryPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn entries(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Path(name): Path<String>,
    Query(all): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<EntryPage>> {
    let schema = schema_named(&name)?;
    let limit = district_limit(&principal, &schema);
    fn number<T: std::str::FromStr>(
        all: &BTreeMap<String, String>,
        k: &str,
    ) -> ApiResult<Option<T>> {
        all.get(k)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::BadRequest(format!("{k}: {v:?} is not a number")))
            })
            .transpose()
    }
    let p = EntryParams {
        q: all.get("q").cloned(),
        page: number(&all, "page")?,
        per_page: number(&all, "per_page")?,
        as_of: all.get("as_of").cloned(),
        near: all.get("near").cloned(),
        radius_m: number(&all, "radius_m")?,
        within: all.get("within").cloned(),
    };
    let per_page = p.per_page.unwrap_or(50);
    if per_page == 0 || per_page > 10_000 {
        return Err(ApiError::BadRequest("per_page must be 1 to 10000".into()));
    }
    let mut q = query::Query {
        filters: all
            .iter()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        search: p.q.clone().filter(|s| !s.is_empty()),
        page: p.page.unwrap_or(0),
        per_page,
        ..query::Query::default()
    };
    if let Some(d) = &limit {
        q.filters.retain(|(k, _)| k != "district");
        q.filters.push(("district".into(), d.clone()));
    }
    if let Some(near) = &p.near {
        let nums: Vec<f64> = near
            .split(',')
            .map(|t| t.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|_| ApiError::BadRequest("near must be longitude,latitude".into()))?;
        let [lon, lat] = nums[..] else {
            return Err(ApiError::BadRequest(
                "near must be longitude,latitude".into(),
            ));
        };
        q.near = Some(([lon, lat], p.radius_m.unwrap_or(1_000.0)));
    }
    if let Some(within) = &p.within {
        let (reg, id) = within
            .split_once('/')
            .ok_or_else(|| ApiError::BadRequest("within must be registry/id".into()))?;
        let area_schema = schema_named(reg)?;
        let (reg, id) = (reg.to_owned(), id.to_owned());
        let entry = blocking(&state, move |r| r.entry(&reg, &id))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no entry {within}")))?;
        let geometry = area_schema
            .fields
            .iter()
            .filter(|f| f.kind == registry::FieldType::Geometry)
            .find_map(|f| entry.data.get(&f.name).cloned())
            .ok_or_else(|| ApiError::BadRequest(format!("{within} has no boundary")))?;
        q.within = Some(geometry);
    }
    let as_of = p
        .as_of
        .as_deref()
        .map(|t| bjtime::parse_rfc3339(t).map_err(|e| ApiError::BadRequest(format!("as_of: {e}"))))
        .transpose()?;
    let key = name.clone();
    let all_entries = blocking(&state, move |r| match as_of {
        Some(at) => r.entries_as_of(&key, at),
        None => r.entries(&key),
    })
    .await?;
    let mut by_key: BTreeMap<String, Entry> =
        all_entries.into_iter().map(|e| (e.id.clone(), e)).collect();
    let data: Vec<Map<String, Value>> = by_key.values().map(|e| e.data.clone()).collect();
    let page = query::run(&schema, data, &q).map_err(|e| ApiError::BadRequest(e.0))?;
    Ok(Json(EntryPage {
        total: page.total,
        page: q.page,
        per_page,
        entries: page
            .entries
            .iter()
            .filter_map(|d| schema.key_of(d).and_then(|k| by_key.remove(&k)))
            .map(|e| EntryView::of(&schema, e))
            .collect(),
    }))
}

/// Creates an entry (422 with every field error; 409 if the key exists).
#[utoipa::path(post, path = "/api/v1/registries/{name}/entries", tag = "registries", security(("token" = ["write_registries"])),
    params(("name" = String, Path, description = "registry name")), request_body = Object,
    responses((status = 201, body = EntryView), (status = 409, body = ErrorBody),
              (status = 422, body = ValidationErrors)))]
async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Json(body): Json<Map<String, Value>>,
) -> ApiResult<Response> {
    let schema = schema_named(&name)?;
    let data = match schema.validate(&body) {
        Ok(d) => d,
        Err(fields) => return Ok(invalid(fields)),
    };
    let id = schema.key_of(&data).unwrap_or_default();
    let who = actor(&principal);
    let (reg, key) = (name.clone(), id.clone());
    // `expect_version: 0` refuses an entry that exists (409), in the transaction of the write.
    let change = Change::Put {
        id: id.clone(),
        data,
        expect_version: Some(0),
    };
    let now = state.now_ms();
    blocking(&state, move |r| r.apply(&reg, &[change], &who, now)).await?;
    points_changed(&state, &name)?;
    let entry = blocking(&state, move |r| r.entry(&name, &key)).await?;
    Ok((
        StatusCode::CREATED,
        Json(entry.map(|e| EntryView::of(&schema, e))),
    )
        .into_response())
}

/// One entry.
#[utoipa::path(get, path = "/api/v1/registries/{name}/entries/{id}", tag = "registries", security(("token" = ["read_registries"])),
    params(("name" = String, Path, description = "registry name"), ("id" = String, Path, description = "key")),
    responses((status = 200, body = EntryView), (status = 404, body = ErrorBody)))]
async fn get_entry(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<EntryView>> {
    let schema = schema_named(&name)?;
    let (reg, key) = (name.clone(), id.clone());
    let entry = blocking(&state, move |r| r.entry(&reg, &key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no entry {name}/{id}")))?;
    if !in_district(&district_limit(&principal, &schema), &entry.data) {
        return Err(ApiError::Forbidden(format!(
            "{name}/{id} is outside the district of {}",
            principal.username
        )));
    }
    Ok(Json(EntryView::of(&schema, entry)))
}

/// Optimistic concurrency.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionParams {
    /// The version the change is based on (409 if the entry moved on).
    pub version: Option<i64>,
}

/// Replaces an entry (creates it when absent); the lifecycle's moves are enforced.
#[utoipa::path(put, path = "/api/v1/registries/{name}/entries/{id}", tag = "registries", security(("token" = ["write_registries"])),
    params(("name" = String, Path, description = "registry name"), ("id" = String, Path, description = "key"), VersionParams),
    request_body = Object,
    responses((status = 200, body = EntryView), (status = 409, body = ErrorBody),
              (status = 422, body = ValidationErrors)))]
async fn put_entry(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Query(v): Query<VersionParams>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Json(body): Json<Map<String, Value>>,
) -> ApiResult<Response> {
    let schema = schema_named(&name)?;
    let data = match schema.validate(&body) {
        Ok(d) => d,
        Err(fields) => return Ok(invalid(fields)),
    };
    if schema.key_of(&data).as_deref() != Some(id.as_str()) {
        return Ok(invalid(vec![FieldError {
            field: schema.key.clone(),
            reason: format!("must be {id:?}, the entry's key in the path"),
        }]));
    }
    let (reg, key) = (name.clone(), id.clone());
    let current = blocking(&state, move |r| r.entry(&reg, &key)).await?;
    if let Err(e) = schema.check_transition(current.as_ref().map(|c| &c.data), &data) {
        return Ok(invalid(vec![e]));
    }
    let expect_version = v
        .version
        .or(Some(current.as_ref().map_or(0, |c| c.version)));
    let who = actor(&principal);
    let (reg, key) = (name.clone(), id.clone());
    let change = Change::Put {
        id: id.clone(),
        data,
        expect_version,
    };
    let now = state.now_ms();
    blocking(&state, move |r| r.apply(&reg, &[change], &who, now)).await?;
    points_changed(&state, &name)?;
    let entry = blocking(&state, move |r| r.entry(&name, &key)).await?;
    Ok(Json(entry.map(|e| EntryView::of(&schema, e))).into_response())
}

/// Deletes an entry (its history stays).
#[utoipa::path(delete, path = "/api/v1/registries/{name}/entries/{id}", tag = "registries", security(("token" = ["write_registries"])),
    params(("name" = String, Path, description = "registry name"), ("id" = String, Path, description = "key"), VersionParams),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_entry(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Query(v): Query<VersionParams>,
    axum::Extension(principal): axum::Extension<access::Principal>,
) -> ApiResult<StatusCode> {
    schema_named(&name)?;
    let who = actor(&principal);
    let change = Change::Delete {
        id,
        expect_version: v.version,
    };
    let now = state.now_ms();
    let reg = name.clone();
    blocking(&state, move |r| r.apply(&reg, &[change], &who, now)).await?;
    points_changed(&state, &name)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every change of an entry: who, when, before, after.
#[utoipa::path(get, path = "/api/v1/registries/{name}/entries/{id}/history", tag = "registries", security(("token" = ["read_registries"])),
    params(("name" = String, Path, description = "registry name"), ("id" = String, Path, description = "key")),
    responses((status = 200, body = [ChangeView]), (status = 404, body = ErrorBody)))]
async fn entry_history(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<ChangeView>>> {
    let schema = schema_named(&name)?;
    let (reg, key) = (name.clone(), id.clone());
    let h = blocking(&state, move |r| r.entry_history(&reg, &key)).await?;
    if h.is_empty() {
        return Err(ApiError::NotFound(format!("no entry {name}/{id}")));
    }
    let limit = district_limit(&principal, &schema);
    if !h.iter().all(|c| {
        c.before
            .iter()
            .chain(c.after.iter())
            .all(|d| in_district(&limit, d))
    }) {
        return Err(ApiError::Forbidden(format!(
            "{name}/{id} is outside the district of {}",
            principal.username
        )));
    }
    Ok(Json(
        h.into_iter().map(|c| ChangeView::of(&schema, c)).collect(),
    ))
}

/// Spreadsheet format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileParams {
    /// `csv` or `xlsx` (import: guessed from the content when absent).
    pub format: Option<String>,
    /// Export headers and values in `zh` (default) or `en`.
    pub lang: Option<String>,
}

/// The outcome of an import.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// Rows read.
    pub rows: usize,
    /// Entries created.
    pub created: usize,
    /// Entries changed.
    pub updated: usize,
    /// Entries already as in the file.
    pub unchanged: usize,
}

/// Import failed: nothing was imported.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportErrors {
    /// Summary.
    pub error: String,
    /// Every problem: row as the spreadsheet numbers it, column header, reason.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<ImportError>,
}

/// Imports a CSV or XLSX file: all rows or none; 422 lists every bad cell.
#[utoipa::path(post, path = "/api/v1/registries/{name}/import", tag = "registries", security(("token" = ["write_registries"])),
    params(("name" = String, Path, description = "registry name"), FileParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file"),
    responses((status = 200, body = ImportReport), (status = 422, body = ImportErrors)))]
async fn import(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<FileParams>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    body: Bytes,
) -> ApiResult<Response> {
    let schema = schema_named(&name)?;
    let is_xlsx = match p.format.as_deref() {
        Some("xlsx") => true,
        Some("csv") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: {other:?} is not csv or xlsx"
            )));
        }
        None => body.starts_with(b"PK\x03\x04"),
    };
    let table = if is_xlsx {
        exchange::read_xlsx(&body)
    } else {
        exchange::read_csv(&body)
    };
    let fail = |errors: Vec<ImportError>| {
        let n = errors.len();
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ImportErrors {
                error: format!("{n} problem(s); nothing was imported"),
                errors,
            }),
        )
            .into_response()
    };
    let table = match table {
        Ok(t) => t,
        Err(e) => return Ok(fail(vec![e])),
    };
    let reg = name.clone();
    let current: BTreeMap<String, exchange::Current> = blocking(&state, move |r| r.entries(&reg))
        .await?
        .into_iter()
        .map(|e| {
            (
                e.id,
                exchange::Current {
                    version: e.version,
                    data: e.data,
                },
            )
        })
        .collect();
    let plan = match exchange::plan_import(&schema, &table, &current) {
        Ok(p) => p,
        Err(errors) => return Ok(fail(errors)),
    };
    let changes: Vec<Change> = plan
        .changes
        .into_iter()
        .map(|c| Change::Put {
            id: c.id,
            data: c.data,
            expect_version: Some(c.expect_version),
        })
        .collect();
    let who = actor(&principal);
    let rows = table.rows.len();
    let now = state.now_ms();
    if !changes.is_empty() {
        let reg = name.clone();
        blocking(&state, move |r| r.apply(&reg, &changes, &who, now)).await?;
        points_changed(&state, &name)?;
    }
    let (created, updated, unchanged) = (plan.created, plan.updated, plan.unchanged);
    Ok(Json(ImportReport {
        rows,
        created,
        updated,
        unchanged,
    })
    .into_response())
}

/// Exports every entry as CSV or XLSX.
#[utoipa::path(get, path = "/api/v1/registries/{name}/export", tag = "registries", security(("token" = ["read_registries"])),
    params(("name" = String, Path, description = "registry name"), FileParams),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ErrorBody)))]
async fn export(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<access::Principal>,
    Path(name): Path<String>,
    Query(p): Query<FileParams>,
) -> ApiResult<Response> {
    let schema = schema_named(&name)?;
    let limit = district_limit(&principal, &schema);
    let lang = match p.lang.as_deref() {
        None | Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "lang: {other:?} is not zh or en"
            )));
        }
    };
    let reg = name.clone();
    let entries: Vec<Map<String, Value>> = blocking(&state, move |r| r.entries(&reg))
        .await?
        .into_iter()
        .map(|e| e.data)
        .filter(|d| in_district(&limit, d))
        .collect();
    let (bytes, content_type, ext) = match p.format.as_deref() {
        None | Some("csv") => (
            exchange::export_csv(&schema, &entries, lang),
            "text/csv; charset=utf-8",
            "csv",
        ),
        Some("xlsx") => (
            exchange::export_xlsx(&schema, &entries, lang)
                .map_err(|e| ApiError::Internal(e.to_string()))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: {other:?} is not csv or xlsx"
            )));
        }
    };
    let mut resp = bytes.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The plan's targets, computed from the registries: value, progress by month, year-end forecast.
#[utoipa::path(get, path = "/api/v1/targets", tag = "registries", security(("token" = ["read_registries"])),
    responses((status = 200, body = [Object])))]
async fn targets(
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<registry::targets::Progress>>> {
    let targets = registry::targets::targets().map_err(|e| ApiError::Internal(e.to_string()))?;
    let store = state.registries();
    let case_store = state.case_store();
    let deadlines = state.deadlines();
    let names: Vec<String> = registry::schemas().into_iter().map(|s| s.name).collect();
    let now = state.now_ms();
    let past = state.target_cache();
    tokio::task::spawn_blocking(move || {
        registry::targets::progress(&targets, now, &past, |registry, at| {
            if registry == "cases" {
                // The off-site enforcement target is measured on the closed cases.
                let closed = crate::casework::closed_cases_as_of(
                    case_store.as_ref(),
                    &deadlines,
                    at.min(now),
                )?;
                Ok(Some(closed))
            } else if !names.iter().any(|n| n == registry) {
                Ok(None)
            } else if at >= now {
                Ok(Some(
                    store
                        .entries(registry)?
                        .into_iter()
                        .map(|e| e.data)
                        .collect(),
                ))
            } else {
                let then = store.entries_as_of(registry, at)?;
                Ok::<_, StoreError>(Some(then.into_iter().map(|e| e.data).collect()))
            }
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("targets task: {e}")))?
    .map(Json)
    .map_err(ApiError::from)
}

/// The registry routes.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_schema))
        .routes(routes!(entries, create))
        .routes(routes!(get_entry, put_entry, delete_entry))
        .routes(routes!(entry_history))
        .routes(routes!(import))
        .routes(routes!(export))
        .routes(routes!(targets))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::auth::MAX_IMPORT,
        ))
}

/// Loads the demo city (its registries with their history; the monitoring points are entries of
/// the points registry) into an empty store. Returns the number of changes applied.
pub fn load_demo_city(
    registries: &dyn RegistryStore,
    seed: u64,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let city = registry::demo::checked_changes(seed, now_ms).map_err(|e| StoreError::Corrupt {
        table: "demo city",
        detail: e.to_string(),
    })?;
    let mut applied = 0;
    for (registry, changes) in city {
        let changes: Vec<(i64, Change)> = changes
            .into_iter()
            .map(|c| {
                let put = Change::Put {
                    id: c.id,
                    data: c.entry,
                    expect_version: None,
                };
                (c.at_ms, put)
            })
            .collect();
        applied += registries.apply_dated(registry, &changes, "demo")?;
    }
    Ok(applied)
}
