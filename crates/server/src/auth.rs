//! Authentication, authorisation and the audit log of the HTTP API.
//!
//! One middleware ([`guard`]) runs on every route after routing, so it knows the route's
//! template (`/api/v1/points/{id}`). It
//! 1. looks the route up in the [`AccessTable`], which holds what each handler declares in its
//!    `#[utoipa::path(security(...))]`: public (login, the OpenAPI document), or the
//!    capabilities any of which admits the caller; a route that declares nothing is refused,
//!    so a new endpoint cannot be open by accident (a test walks every route of the OpenAPI
//!    document against every role);
//! 2. authenticates: an `Authorization: Bearer` API token (`hht_…`) or session secret
//!    (`hhs_…`), or the `huanghe_session` cookie the login sets for the browser;
//! 3. refuses a role without the capability (403), and a scoped user (district, enterprise)
//!    asking for a point outside their scope (403); handlers filter lists by the same scope;
//! 4. for every write (any method but GET/HEAD), enforces the route's body limit
//!    ([`body_limit`]) before reading a byte of the body (a declared `Content-Length` over it
//!    is refused unread, a body that grows past it is cut off), and records an audit row after
//!    the handler ran: who, method, path, status, the resource before (read through the same
//!    router with the caller's credentials) and the request body or, for creations, the
//!    response (secrets redacted). A refused request (any 4xx or 5xx) is recorded with its
//!    size, type and the reason, never its content, and a body too large to be worth keeping
//!    whole ([`AUDIT_BODY_MAX`]) by its size and SHA-256, so no request, least of all an
//!    unauthenticated one, can write more than a bounded row.
//!
//! The endpoints here: login (throttled per user name and per address), logout, the current
//! user, password change, users (admin), API tokens, the audit log.

use std::net::SocketAddr;
use std::sync::Arc;

use access::{Capability, Principal, Role};
use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use store::{AuditEntry, AuditQuery, User};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::wire::iso;

pub use crate::session::{Auth, SESSION_COOKIE};

/// Who may call a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessRule {
    /// Anyone (login, the OpenAPI document).
    Public,
    /// A logged-in user with any of these capabilities.
    Any(Vec<Capability>),
    /// The route declares no rule: refused.
    Unmapped,
}

/// Who may call each route (method and template), read from the `security` each handler
/// declares in its `#[utoipa::path]`: `security(())` is public, `security(("token" = ["a"]),
/// ("token" = ["b"]))` admits a user with capability `a` or `b` (OpenAPI's alternatives). The
/// rule is written once, beside the route, and the published document states it.
#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    rules: std::collections::HashMap<(Method, String), AccessRule>,
}

/// Why an operation's declared security could not be read as an access rule.
#[derive(Debug, thiserror::Error)]
#[error("{method} {template}: {reason}")]
pub struct AccessDeclarationError {
    method: String,
    template: String,
    reason: String,
}

impl AccessTable {
    /// Reads every operation's security requirements. An operation without any stays
    /// unmapped (and is refused); one naming an unknown capability is an error.
    pub fn from_openapi(
        doc: &utoipa::openapi::OpenApi,
    ) -> Result<AccessTable, AccessDeclarationError> {
        let doc = serde_json::to_value(doc).unwrap_or_default();
        let mut rules = std::collections::HashMap::new();
        let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
            return Ok(AccessTable { rules });
        };
        for (template, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (m, op) in item {
                let Ok(method) = m.to_uppercase().parse::<Method>() else {
                    continue;
                };
                let err = |reason: String| AccessDeclarationError {
                    method: method.to_string(),
                    template: template.clone(),
                    reason,
                };
                let Some(alternatives) = op.get("security").and_then(|s| s.as_array()) else {
                    continue;
                };
                let mut caps = Vec::new();
                let mut public = false;
                for requirement in alternatives {
                    let Some(schemes) = requirement.as_object() else {
                        return Err(err("a security requirement is not an object".into()));
                    };
                    if schemes.is_empty() {
                        public = true;
                    }
                    for scopes in schemes.values() {
                        let Some([name]) = scopes.as_array().map(Vec::as_slice) else {
                            return Err(err(format!(
                                "{scopes}: name one capability per alternative"
                            )));
                        };
                        let cap: Capability = serde_json::from_value(name.clone())
                            .map_err(|e| err(format!("capability {name}: {e}")))?;
                        caps.push(cap);
                    }
                }
                let rule = match (public, caps.is_empty()) {
                    (true, true) => AccessRule::Public,
                    (false, false) => AccessRule::Any(caps),
                    (true, false) => {
                        return Err(err("both public and restricted".into()));
                    }
                    (false, true) => continue,
                };
                rules.insert((method, template.clone()), rule);
            }
        }
        Ok(AccessTable { rules })
    }

    /// Declares a route that is not in the OpenAPI document (the document itself).
    pub fn insert(&mut self, method: Method, template: &str, rule: AccessRule) {
        self.rules.insert((method, template.to_owned()), rule);
    }

    /// The rule of a route; HEAD follows GET.
    pub fn rule(&self, method: &Method, template: &str) -> AccessRule {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.rules
            .get(&(method.clone(), template.to_owned()))
            .cloned()
            .unwrap_or(AccessRule::Unmapped)
    }

    /// Every route with its rule.
    pub fn iter(&self) -> impl Iterator<Item = (&Method, &str, &AccessRule)> {
        self.rules.iter().map(|((m, t), r)| (m, t.as_str(), r))
    }
}

/// The guard's state: the application and the access table of its router.
#[derive(Clone)]
pub struct Guarded {
    /// The application.
    pub state: AppState,
    /// Who may call which route.
    pub access: Arc<AccessTable>,
}

/// The secret a request presents: a bearer token or session, or the session cookie.
fn presented_secret(headers: &HeaderMap) -> Option<String> {
    use headers::HeaderMapExt;
    use headers::authorization::{Authorization, Bearer};
    if let Some(Authorization(bearer)) = headers.typed_get::<Authorization<Bearer>>() {
        return Some(bearer.token().trim().to_owned());
    }
    let cookies = headers.typed_get::<headers::Cookie>()?;
    cookies.get(SESSION_COOKIE).map(str::to_owned)
}

pub(crate) fn principal_of(user: &User) -> ApiResult<Principal> {
    let role: Role = user
        .role
        .parse()
        .map_err(|e: String| ApiError::Internal(format!("user {}: {e}", user.username)))?;
    Ok(Principal {
        username: user.username.clone(),
        role,
        district: user.district.clone(),
        enterprise: user.enterprise.clone(),
    })
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Principal>> {
    let Some(secret) = presented_secret(headers) else {
        return Ok(None);
    };
    let auth = state.auth();
    let now = state.wall_ms();
    let users = Arc::clone(&auth.users);
    let ttl = auth.session_ttl_ms;
    let user = tokio::task::spawn_blocking(move || {
        let digest = access::secret_digest(&secret);
        if secret.starts_with("hht_") {
            users.token_user(&digest, now)
        } else if secret.starts_with("hhs_") {
            users.session_user(&digest, now, now + ttl)
        } else {
            Ok(None)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("auth task: {e}")))??;
    user.as_ref().map(principal_of).transpose()
}

fn unauthorized() -> Response {
    let mut r = ApiError::Unauthorized(
        "log in (POST /api/v1/auth/login) or send an API token as `Authorization: Bearer hht_…`"
            .into(),
    )
    .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"huanghe\""),
    );
    r
}

/// The point id of a `/api/v1/points/{id}/…` path.
fn point_id_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/api/v1/points/")?;
    let raw = rest.split('/').next()?;
    Some(percent_decode(raw))
}

/// Decodes `%XX` escapes (a point id may contain none of the reserved characters, but a client
/// may escape anything).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path whose GET shows what a write changes, if there is one.
fn before_path(method: &Method, path: &str) -> Option<String> {
    if *method == Method::PUT || *method == Method::PATCH || *method == Method::DELETE {
        return Some(path.to_owned());
    }
    let (parent, last) = path.rsplit_once('/')?;
    let acts_on_parent = matches!(
        last,
        "acknowledge" | "dismiss" | "actions" | "dispatch" | "response" | "attachments"
    );
    (*method == Method::POST && acts_on_parent).then(|| parent.to_owned())
}

const REDACTED_KEYS: [&str; 5] = [
    "password",
    "current_password",
    "new_password",
    "token",
    "secret",
];

fn redact(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if REDACTED_KEYS.contains(&k.as_str()) {
                    *val = serde_json::Value::String("***".into());
                } else {
                    redact(val);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A request's `Content-Type` as the audit keeps it: the caller's text, so shortened.
fn short_content_type(content_type: Option<&str>) -> String {
    content_type
        .map(|c| c.chars().take(100).collect())
        .unwrap_or_default()
}

/// What the audit keeps of a body: parsed JSON (redacted) up to [`AUDIT_BODY_MAX`], or a note
/// of its size, type and SHA-256.
fn audit_body(content_type: Option<&str>, bytes: &[u8]) -> Option<serde_json::Value> {
    if bytes.is_empty() {
        return None;
    }
    if content_type.is_some_and(|c| c.starts_with("application/json"))
        && bytes.len() <= AUDIT_BODY_MAX
        && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(bytes)
    {
        redact(&mut v);
        return Some(v);
    }
    Some(serde_json::json!({
        "content_type": short_content_type(content_type),
        "bytes": bytes.len(),
        "sha256": access::sha256_hex(bytes),
    }))
}

/// Reads `path` through the API with the caller's credentials (for the audit's "before").
async fn read_before(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
) -> Option<serde_json::Value> {
    use tower::ServiceExt;
    let router = state.auth().router.lock().ok()?.clone()?;
    let mut req = Request::builder().method(Method::GET).uri(path);
    for name in [header::AUTHORIZATION, header::COOKIE] {
        if let Some(v) = headers.get(&name) {
            req = req.header(name, v);
        }
    }
    let resp = router.oneshot(req.body(Body::empty()).ok()?).await.ok()?;
    if resp.status() != StatusCode::OK {
        return None;
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.ok()?;
    let mut v = serde_json::from_slice(&bytes).ok()?;
    redact(&mut v);
    Some(v)
}

/// The largest registry import (a spreadsheet of the largest list, 20,000 vehicles, is a few
/// megabytes).
pub(crate) const MAX_IMPORT: usize = 64 * 1024 * 1024;

/// The largest case attachment.
pub(crate) const MAX_ATTACHMENT: usize = 20 * 1024 * 1024;

/// The largest JSON request body of every other write (a case step, a registry entry, a
/// user); the biggest real one is a few kilobytes.
const MAX_JSON: usize = 1024 * 1024;

/// The largest body of the login and password routes (a name and a password or two).
const MAX_CREDENTIALS: usize = 16 * 1024;

/// The largest body the audit keeps as content; a larger one is kept as size and SHA-256.
const AUDIT_BODY_MAX: usize = 64 * 1024;

/// The largest response body the guard buffers (responses to writes are small; the limit
/// only guards against a handler's mistake).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// The largest request body a route accepts, known from its template before anything is read.
pub fn body_limit(template: &str) -> usize {
    match template {
        "/api/v1/registries/{name}/import" => MAX_IMPORT,
        "/api/v1/cases/{id}/attachments" => MAX_ATTACHMENT,
        "/api/v1/auth/login" | "/api/v1/auth/password" => MAX_CREDENTIALS,
        _ => MAX_JSON,
    }
}

/// What the audit keeps of a refused request's body: its size and type, and why it was
/// refused (the error the client got, shortened), never the content.
fn audit_refusal(content_type: Option<&str>, bytes: u64, reason: &str) -> serde_json::Value {
    let reason: String = reason.chars().take(300).collect();
    serde_json::json!({
        "content_type": short_content_type(content_type),
        "bytes": bytes,
        "refused": reason,
    })
}

/// The middleware: see the [module docs](self).
pub async fn guard(
    State(Guarded { state, access }): State<Guarded>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let path = req.uri().path().to_owned();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let mut req = req;
    let principal = match access.rule(&method, &template) {
        AccessRule::Public => None,
        AccessRule::Unmapped => {
            tracing::error!(%method, %template, "route without an access rule");
            return ApiError::Forbidden(format!("{method} {template} has no access rule"))
                .into_response();
        }
        AccessRule::Any(caps) => {
            let p = match authenticate(&state, req.headers()).await {
                Ok(Some(p)) => p,
                Ok(None) => return unauthorized(),
                Err(e) => return e.into_response(),
            };
            if !caps.iter().any(|c| p.can(*c)) {
                let what: Vec<String> = caps
                    .iter()
                    .map(|c| {
                        serde_json::to_value(c)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    })
                    .collect();
                return ApiError::Forbidden(format!(
                    "a {} may not {method} {template} (needs {})",
                    p.role,
                    what.join(" or ")
                ))
                .into_response();
            }
            if template.starts_with("/api/v1/points/{id}")
                && !p.scope().is_city()
                && let Some(id) = point_id_of(&path)
            {
                match state.point_visible(&p, &id).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return ApiError::Forbidden(format!(
                            "point {id:?} is outside what {} may see",
                            p.username
                        ))
                        .into_response();
                    }
                    Err(e) => return e.into_response(),
                }
            }
            req.extensions_mut().insert(p.clone());
            Some(p)
        }
    };
    if method == Method::GET || method == Method::HEAD {
        return next.run(req).await;
    }

    // A write: refuse a body over the route's limit before reading it, then keep what the
    // write changed.
    let limit = body_limit(&template);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A body over the route's limit is refused unread, or as soon as it grows past it, and
    // audited by its size alone.
    let refuse = async |bytes: u64, before: Option<serde_json::Value>| {
        let reason = format!("request body over {limit} bytes");
        let resp = ApiError::PayloadTooLarge(reason.clone()).into_response();
        let actor = principal
            .as_ref()
            .map_or_else(|| "-".to_owned(), |p| p.username.clone());
        let after = audit_refusal(content_type.as_deref(), bytes, &reason);
        let path = path_and_query.clone();
        record(
            &state,
            actor,
            &method,
            path,
            resp.status(),
            before,
            Some(after),
        )
        .await;
        resp
    };
    if let Some(n) = declared.filter(|n| *n > limit as u64) {
        return refuse(n, None).await;
    }
    let before = match before_path(&method, &path) {
        Some(p) if principal.is_some() => read_before(&state, req.headers(), &p).await,
        _ => None,
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return refuse(limit as u64 + 1, before).await,
    };
    let request_body = audit_body(content_type.as_deref(), &bytes);
    let actor = match &principal {
        Some(p) => p.username.clone(),
        // Login: the name tried (shortened: it is the caller's text).
        None => request_body
            .as_ref()
            .and_then(|b| b.get("username"))
            .and_then(|u| u.as_str())
            .map_or_else(
                || "-".to_owned(),
                |u| format!("-{}", u.chars().take(64).collect::<String>()),
            ),
    };
    let body_len = bytes.len() as u64;
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = resp.status();
    let (resp_parts, resp_body) = resp.into_parts();
    let resp_bytes = axum::body::to_bytes(resp_body, MAX_RESPONSE)
        .await
        .unwrap_or_default();
    let created = method == Method::POST && before.is_none() && status.is_success();
    let after = if created {
        let ct = resp_parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        audit_body(ct, &resp_bytes)
    } else if status.is_client_error() || status.is_server_error() {
        let reason = serde_json::from_slice::<ErrorBody>(&resp_bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| status.to_string());
        Some(audit_refusal(content_type.as_deref(), body_len, &reason))
    } else {
        request_body
    };
    let resp = Response::from_parts(resp_parts, Body::from(resp_bytes));
    record(
        &state,
        actor,
        &method,
        path_and_query,
        resp.status(),
        before,
        after,
    )
    .await;
    resp
}

/// Appends one audit row for a write (logged, not returned, when the store fails: the
/// request's outcome stands).
async fn record(
    state: &AppState,
    actor: String,
    method: &Method,
    path: String,
    status: StatusCode,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) {
    let entry = AuditEntry {
        id: 0,
        at_ms: state.wall_ms(),
        actor,
        method: method.to_string(),
        path: path.chars().take(2048).collect(),
        status: status.as_u16(),
        before,
        after,
    };
    let users = Arc::clone(&state.auth().users);
    match tokio::task::spawn_blocking(move || users.audit(&entry)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "audit record failed"),
        Err(e) => tracing::error!(error = %e, "audit task failed"),
    }
}

/// The logged-in user of a request (set by [`guard`]).
pub(crate) fn principal(ext: &axum::http::Extensions) -> ApiResult<Principal> {
    ext.get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::Unauthorized("not logged in".into()))
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// User name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: String,
    /// District (district officers).
    pub district: Option<String>,
    /// Enterprise credit code (enterprise users).
    pub enterprise: Option<String>,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// Created (RFC 3339).
    pub created: String,
    /// What the role may do.
    #[schema(value_type = Vec<String>)]
    pub capabilities: Vec<Capability>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        let capabilities = u
            .role
            .parse::<Role>()
            .map(|r| {
                Capability::ALL
                    .into_iter()
                    .filter(|c| access::allows(r, *c))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role.clone(),
            district: u.district.clone(),
            enterprise: u.enterprise.clone(),
            disabled: u.disabled,
            created: iso(u.created_ms),
            capabilities,
        }
    }
}

/// Login form.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A successful login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOk {
    /// The user.
    pub user: UserView,
    /// The session secret (also set as the `huanghe_session` cookie); send it as a bearer token
    /// from scripts.
    pub token: String,
    /// When the session expires unless used (RFC 3339).
    pub expires: String,
}

fn blocking_err(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(format!("auth task: {e}"))
}

/// Logs in with a password; sets the session cookie. Refused (429, `Retry-After`) after repeated
/// failures for the same user name or from the same address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = Login,
    responses((status = 200, body = LoginOk), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(form): Json<Login>,
) -> Result<Response, ApiError> {
    let now = state.wall_ms();
    let auth = state.auth();
    let keys = [
        format!("user:{}", form.username.to_lowercase()),
        format!("ip:{}", peer.ip()),
    ];
    {
        let t = auth
            .throttle
            .lock()
            .map_err(|_| ApiError::Internal("throttle lock".into()))?;
        if let Some(wait) = keys.iter().filter_map(|k| t.check(k, now).err()).max() {
            let secs = (wait + 999) / 1000;
            let mut r =
                ApiError::TooManyRequests(format!("too many failed logins; try again in {secs} s"))
                    .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
            return Ok(r);
        }
    }
    let users = Arc::clone(&auth.users);
    let name = form.username.clone();
    let password = form.password.clone();
    let user = tokio::task::spawn_blocking(move || {
        let user = users.user(&name)?;
        // An unknown user costs the same Argon2 verification as a known one.
        let hash = user.as_ref().map_or_else(
            || access::decoy_hash().to_owned(),
            |u| u.password_hash.clone(),
        );
        let ok = access::verify_password(&password, &hash);
        Ok::<_, store::StoreError>(user.filter(|u| ok && !u.disabled))
    })
    .await
    .map_err(blocking_err)??;
    let Some(user) = user else {
        let mut t = auth
            .throttle
            .lock()
            .map_err(|_| ApiError::Internal("throttle lock".into()))?;
        for k in &keys {
            t.failure(k, now);
        }
        return Err(ApiError::Unauthorized(
            "wrong user name or password (or the user is disabled)".into(),
        ));
    };
    if let Ok(mut t) = auth.throttle.lock() {
        t.success(&keys[0]);
    }
    let secret = access::new_secret("hhs_").map_err(|e| ApiError::Internal(e.to_string()))?;
    let digest = access::secret_digest(&secret);
    let expires = now + auth.session_ttl_ms;
    let users = Arc::clone(&auth.users);
    let username = user.username.clone();
    tokio::task::spawn_blocking(move || users.create_session(&digest, &username, now, expires))
        .await
        .map_err(blocking_err)??;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        auth.session_ttl_ms / 1000,
        if auth.secure_cookie { "; Secure" } else { "" }
    );
    let mut r = Json(LoginOk {
        user: UserView::from(&user),
        token: secret,
        expires: iso(expires),
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// Ends the current session (the cookie or the bearer session secret).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("token" = ["own_account"])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(secret) = presented_secret(&headers).filter(|s| s.starts_with("hhs_")) {
        let users = Arc::clone(&state.auth().users);
        let digest = access::secret_digest(&secret);
        tokio::task::spawn_blocking(move || users.delete_session(&digest))
            .await
            .map_err(blocking_err)??;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(if state.auth().secure_cookie {
            "huanghe_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
        } else {
            "huanghe_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        }),
    );
    Ok(r)
}

async fn load_user(state: &AppState, name: &str) -> ApiResult<User> {
    let users = Arc::clone(&state.auth().users);
    let key = name.to_owned();
    tokio::task::spawn_blocking(move || users.user(&key))
        .await
        .map_err(blocking_err)??
        .ok_or_else(|| ApiError::NotFound(format!("no user {name:?}")))
}

/// The logged-in user and what their role may do.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("token" = ["own_account"])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, req: Request) -> ApiResult<Json<UserView>> {
    let p = principal(req.extensions())?;
    Ok(Json(UserView::from(&load_user(&state, &p.username).await?)))
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// Changes one's own password; every session of the user ends.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("token" = ["own_account"])), request_body = PasswordChange,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Json(form): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    access::check_password(&p.username, &form.new_password)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let mut user = load_user(&state, &p.username).await?;
    let users = Arc::clone(&state.auth().users);
    let now = state.wall_ms();
    tokio::task::spawn_blocking(move || {
        if !access::verify_password(&form.current_password, &user.password_hash) {
            return Err(ApiError::BadRequest(
                "current_password: does not match".into(),
            ));
        }
        user.password_hash = access::hash_password(&form.new_password)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        user.updated_ms = now;
        users.update_user(&user)?;
        users.delete_sessions_of(&user.username)?;
        Ok(())
    })
    .await
    .map_err(blocking_err)??;
    Ok(StatusCode::NO_CONTENT)
}

/// A new user (admin).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewUser {
    /// User name.
    pub username: String,
    /// Display name (defaults to the user name).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Role.
    #[schema(value_type = String)]
    pub role: Role,
    /// District (district officers).
    #[serde(default)]
    pub district: Option<String>,
    /// Enterprise credit code (enterprise users).
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Initial password.
    pub password: String,
}

/// Builds a user record from a form: checks the name, the scope fields and the password, and
/// hashes the password (slow: call off the runtime).
pub fn new_user(form: &NewUser, now_ms: i64) -> Result<User, access::AccessError> {
    access::check_username(&form.username)?;
    access::check_scope_fields(
        form.role,
        form.district.as_deref(),
        form.enterprise.as_deref(),
    )?;
    check_district(form.district.as_deref())?;
    access::check_password(&form.username, &form.password)?;
    Ok(User {
        username: form.username.clone(),
        display_name: form
            .display_name
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| form.username.clone()),
        role: form.role.as_str().to_owned(),
        district: form.district.clone(),
        enterprise: form.enterprise.clone(),
        password_hash: access::hash_password(&form.password)?,
        disabled: false,
        created_ms: now_ms,
        updated_ms: now_ms,
    })
}

/// A district must be one of the registries' districts: an officer of a district that does not
/// exist would see nothing and be told nothing.
fn check_district(district: Option<&str>) -> Result<(), access::AccessError> {
    let Some(d) = district else {
        return Ok(());
    };
    let known: &[String] = registry::schema(domain::POINTS_REGISTRY)
        .and_then(|s| s.field("district"))
        .map_or(&[], |f| &f.values);
    if known.iter().any(|k| k == d) {
        Ok(())
    } else {
        Err(access::AccessError::BadScope(format!(
            "district {d:?} is not one of {}",
            known.join(", ")
        )))
    }
}

/// An enterprise user's enterprise must be registered: its credit code is how the user's
/// points, alarms and cases are found.
async fn check_enterprise(state: &AppState, enterprise: Option<&str>) -> ApiResult<()> {
    let Some(code) = enterprise.map(str::to_owned) else {
        return Ok(());
    };
    let registries = state.registries();
    let key = code.clone();
    let found = tokio::task::spawn_blocking(move || registries.entry("enterprises", &key))
        .await
        .map_err(blocking_err)??;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::BadRequest(format!(
            "enterprise {code:?} is not in the enterprises registry"
        ))),
    }
}

/// Query of the officers a case may be dispatched to.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfficerParams {
    /// Only officers who may handle a case in this district (its district officers and the
    /// city-wide roles that handle cases).
    pub district: Option<String>,
}

/// Someone a case may be dispatched to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfficerView {
    /// User name (what a dispatch names).
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: String,
    /// District, for district officers.
    pub district: Option<String>,
}

/// The active users who may handle cases: the pick-list of a dispatch form.
#[utoipa::path(get, path = "/api/v1/officers", tag = "cases", security(("token" = ["dispatch_cases"])),
    params(OfficerParams), responses((status = 200, body = [OfficerView])))]
async fn list_officers(
    State(state): State<AppState>,
    Query(q): Query<OfficerParams>,
) -> ApiResult<Json<Vec<OfficerView>>> {
    let users = Arc::clone(&state.auth().users);
    let all = tokio::task::spawn_blocking(move || users.users())
        .await
        .map_err(blocking_err)??;
    Ok(Json(
        all.into_iter()
            .filter(|u| !u.disabled)
            .filter_map(|u| {
                let role: Role = u.role.parse().ok()?;
                if !access::allows(role, Capability::HandleCases) {
                    return None;
                }
                let in_district = match (&q.district, role) {
                    (Some(d), Role::DistrictOfficer) => u.district.as_deref() == Some(d),
                    _ => true,
                };
                in_district.then_some(OfficerView {
                    username: u.username,
                    display_name: u.display_name,
                    role: u.role,
                    district: u.district,
                })
            })
            .collect(),
    ))
}

/// Lists users (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "auth", security(("token" = ["manage_users"])),
    responses((status = 200, body = [UserView])))]
async fn list_users(State(state): State<AppState>) -> ApiResult<Json<Vec<UserView>>> {
    let users = Arc::clone(&state.auth().users);
    let all = tokio::task::spawn_blocking(move || users.users())
        .await
        .map_err(blocking_err)??;
    Ok(Json(all.iter().map(UserView::from).collect()))
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "auth", security(("token" = ["manage_users"])), request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    Json(form): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    check_enterprise(&state, form.enterprise.as_deref()).await?;
    let users = Arc::clone(&state.auth().users);
    let now = state.wall_ms();
    let user = tokio::task::spawn_blocking(move || {
        let user = new_user(&form, now).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        users.create_user(&user)?;
        Ok::<_, ApiError>(user)
    })
    .await
    .map_err(blocking_err)??;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// A change to a user (admin): any field given is changed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserChange {
    /// Display name.
    pub display_name: Option<String>,
    /// Role (with `district` or `enterprise` as the role needs).
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// District.
    pub district: Option<String>,
    /// Enterprise.
    pub enterprise: Option<String>,
    /// Disable (or enable) the user; disabling ends their sessions.
    pub disabled: Option<bool>,
    /// A new password (a reset); ends their sessions.
    pub password: Option<String>,
}

/// One user (admin).
#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "auth", security(("token" = ["manage_users"])),
    params(("username" = String, Path, description = "user name")),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(UserView::from(&load_user(&state, &username).await?)))
}

/// Changes a user (admin).
#[utoipa::path(put, path = "/api/v1/users/{username}", tag = "auth", security(("token" = ["manage_users"])), request_body = UserChange,
    params(("username" = String, Path, description = "user name")),
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn put_user(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(username): Path<String>,
    Json(change): Json<UserChange>,
) -> ApiResult<Json<UserView>> {
    let mut user = load_user(&state, &username).await?;
    if let Some(d) = change.display_name {
        user.display_name = d;
    }
    if let Some(r) = change.role {
        if user.username == p.username && r != Role::Admin {
            return Err(ApiError::BadRequest(
                "an admin cannot take away their own admin role".into(),
            ));
        }
        user.role = r.as_str().to_owned();
        user.district = change.district.clone();
        user.enterprise = change.enterprise.clone();
    } else {
        if change.district.is_some() {
            user.district = change.district.clone();
        }
        if change.enterprise.is_some() {
            user.enterprise = change.enterprise.clone();
        }
    }
    let role: Role = user.role.parse().map_err(ApiError::Internal)?;
    access::check_scope_fields(role, user.district.as_deref(), user.enterprise.as_deref())
        .and_then(|()| check_district(user.district.as_deref()))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    check_enterprise(&state, user.enterprise.as_deref()).await?;
    let mut end_sessions = false;
    if let Some(d) = change.disabled {
        if d && user.username == p.username {
            return Err(ApiError::BadRequest(
                "an admin cannot disable themselves".into(),
            ));
        }
        end_sessions |= d;
        user.disabled = d;
    }
    user.updated_ms = state.wall_ms();
    let users = Arc::clone(&state.auth().users);
    let user = tokio::task::spawn_blocking(move || {
        if let Some(pw) = change.password {
            access::check_password(&user.username, &pw)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            user.password_hash =
                access::hash_password(&pw).map_err(|e| ApiError::Internal(e.to_string()))?;
            end_sessions = true;
        }
        users.update_user(&user)?;
        if end_sessions {
            users.delete_sessions_of(&user.username)?;
        }
        Ok::<_, ApiError>(user)
    })
    .await
    .map_err(blocking_err)??;
    Ok(Json(UserView::from(&user)))
}

/// An API token as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Id.
    pub id: i64,
    /// Owner.
    pub username: String,
    /// Label.
    pub label: String,
    /// Created.
    pub created: String,
    /// Last used (to the minute).
    pub last_used: Option<String>,
    /// Revoked.
    pub revoked: Option<String>,
}

impl From<store::Token> for TokenView {
    fn from(t: store::Token) -> Self {
        Self {
            id: t.id,
            username: t.username,
            label: t.label,
            created: iso(t.created_ms),
            last_used: t.last_used_ms.map(iso),
            revoked: t.revoked_ms.map(iso),
        }
    }
}

/// Which tokens to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenParams {
    /// Another user's tokens (admin), or `*` for everyone's.
    pub user: Option<String>,
}

/// Lists one's API tokens (an admin: anyone's).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", security(("token" = ["own_account"])), params(TokenParams),
    responses((status = 200, body = [TokenView]), (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Query<TokenParams>,
) -> ApiResult<Json<Vec<TokenView>>> {
    let who = match q.user {
        Some(u) if u != p.username && !p.can(Capability::ManageUsers) => {
            return Err(ApiError::Forbidden(
                "only an admin lists others' tokens".into(),
            ));
        }
        Some(u) if u == "*" => None,
        Some(u) => Some(u),
        None => Some(p.username.clone()),
    };
    let users = Arc::clone(&state.auth().users);
    let tokens = tokio::task::spawn_blocking(move || users.tokens(who.as_deref()))
        .await
        .map_err(blocking_err)??;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewToken {
    /// What it is for.
    pub label: String,
    /// For another user (admin).
    #[serde(default)]
    pub username: Option<String>,
}

/// A token just created: the secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    /// The token as listed.
    #[serde(flatten)]
    pub view: TokenView,
    /// The secret; send as `Authorization: Bearer …`.
    pub token: String,
}

/// Creates an API token (for oneself; an admin for anyone).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", security(("token" = ["own_account"])), request_body = NewToken,
    responses((status = 201, body = TokenCreated), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Json(form): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    if form.label.trim().is_empty() {
        return Err(ApiError::BadRequest("label: required".into()));
    }
    let owner = form.username.unwrap_or_else(|| p.username.clone());
    if owner != p.username && !p.can(Capability::ManageUsers) {
        return Err(ApiError::Forbidden(
            "only an admin makes tokens for others".into(),
        ));
    }
    load_user(&state, &owner).await?;
    let secret = access::new_secret("hht_").map_err(|e| ApiError::Internal(e.to_string()))?;
    let digest = access::secret_digest(&secret);
    let users = Arc::clone(&state.auth().users);
    let now = state.wall_ms();
    let label = form.label.clone();
    let token = tokio::task::spawn_blocking(move || {
        let id = users.create_token(&digest, &owner, &label, now)?;
        users
            .tokens(Some(&owner))?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| store::StoreError::NotFound(format!("token {id}")))
    })
    .await
    .map_err(blocking_err)??;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            view: token.into(),
            token: secret,
        }),
    ))
}

/// Revokes a token (one's own; an admin anyone's).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", security(("token" = ["own_account"])),
    params(("id" = i64, Path, description = "token id")),
    responses((status = 200, body = TokenView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<TokenView>> {
    let users = Arc::clone(&state.auth().users);
    let now = state.wall_ms();
    let admin = p.can(Capability::ManageUsers);
    let t = tokio::task::spawn_blocking(move || {
        let owner = users
            .tokens(None)?
            .into_iter()
            .find(|t| t.id == id)
            .map(|t| t.username);
        match owner {
            None => Err(ApiError::NotFound(format!("no token {id}"))),
            Some(o) if o != p.username && !admin => {
                Err(ApiError::NotFound(format!("no token {id}")))
            }
            Some(_) => Ok(users.revoke_token(id, now)?),
        }
    })
    .await
    .map_err(blocking_err)??;
    Ok(Json(t.into()))
}

/// Audit log filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this user.
    pub actor: Option<String>,
    /// Only paths starting with this (`/api/v1/cases`).
    pub path: Option<String>,
    /// From (RFC 3339).
    pub from: Option<String>,
    /// To (RFC 3339).
    pub to: Option<String>,
    /// At most (default 100, at most 10,000).
    pub limit: Option<u32>,
}

/// One audit row.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Id.
    pub id: i64,
    /// When.
    pub at: String,
    /// Who (`-name` for a failed or anonymous attempt).
    pub actor: String,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Response status.
    pub status: u16,
    /// Before (JSON), where there was a resource.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The request, or what was created.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// The audit log of writes, newest first (admin).
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", security(("token" = ["read_audit"])), params(AuditParams),
    responses((status = 200, body = [AuditView]), (status = 400, body = ErrorBody)))]
async fn audit_log(
    State(state): State<AppState>,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<Vec<AuditView>>> {
    let t = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                bjtime::parse_rfc3339(s).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
            })
            .transpose()
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::BadRequest("limit must be 1 to 10000".into()));
    }
    let query = AuditQuery {
        actor: q.actor.clone(),
        path_prefix: q.path.clone(),
        from_ms: t("from", &q.from)?,
        to_ms: t("to", &q.to)?,
        limit,
    };
    let users = Arc::clone(&state.auth().users);
    let rows = tokio::task::spawn_blocking(move || users.audit_log(&query))
        .await
        .map_err(blocking_err)??;
    Ok(Json(
        rows.into_iter()
            .map(|e| AuditView {
                id: e.id,
                at: iso(e.at_ms),
                actor: e.actor,
                method: e.method,
                path: e.path,
                status: e.status,
                before: e.before,
                after: e.after,
            })
            .collect(),
    ))
}

/// The auth routes.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(list_users, create_user))
        .routes(routes!(list_officers))
        .routes(routes!(get_user, put_user))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(audit_log))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(security: serde_json::Value) -> Result<AccessTable, AccessDeclarationError> {
        let doc = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"get": {"responses": {}, "security": security}}}
        });
        let doc: utoipa::openapi::OpenApi = serde_json::from_value(doc).expect("a document");
        AccessTable::from_openapi(&doc)
    }

    #[test]
    fn access_is_read_from_the_declared_security() {
        let rule = |sec| table(sec).expect("valid").rule(&Method::GET, "/x");
        assert_eq!(rule(serde_json::json!([{}])), AccessRule::Public);
        assert_eq!(
            rule(serde_json::json!([{"token": ["handle_cases"]}, {"token": ["respond_to_cases"]}])),
            AccessRule::Any(vec![Capability::HandleCases, Capability::RespondToCases])
        );
        // HEAD follows GET; an undeclared method or route is refused.
        assert_eq!(
            table(serde_json::json!([{"token": ["read_data"]}]))
                .expect("valid")
                .rule(&Method::HEAD, "/x"),
            AccessRule::Any(vec![Capability::ReadData])
        );
        let t = table(serde_json::json!([{"token": ["read_data"]}])).expect("valid");
        assert_eq!(t.rule(&Method::POST, "/x"), AccessRule::Unmapped);
        assert_eq!(t.rule(&Method::GET, "/y"), AccessRule::Unmapped);
    }

    #[test]
    fn a_wrong_declaration_is_named() {
        for bad in [
            serde_json::json!([{"token": ["fly"]}]),
            serde_json::json!([{"token": ["read_data", "read_cases"]}]),
            serde_json::json!([{}, {"token": ["read_data"]}]),
        ] {
            let e = table(bad.clone()).expect_err("refused");
            assert!(e.to_string().starts_with("GET /x: "), "{bad}: {e}");
        }
    }

    #[test]
    fn a_district_officer_needs_a_district_that_exists() {
        let form = |district: &str| NewUser {
            username: "li".into(),
            display_name: None,
            role: Role::DistrictOfficer,
            district: Some(district.into()),
            enterprise: None,
            password: "a long enough passphrase".into(),
        };
        let err = new_user(&form("atlantis"), 0).expect_err("no such district");
        assert!(
            err.to_string().contains("atlantis") && err.to_string().contains("lixia"),
            "{err}"
        );
        assert_eq!(
            new_user(&form("lixia"), 0)
                .expect("a district of the city")
                .district
                .as_deref(),
            Some("lixia")
        );
    }

    #[test]
    fn secrets_come_from_the_bearer_header_or_the_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; huanghe_session=hhs_x"),
        );
        assert_eq!(presented_secret(&h).as_deref(), Some("hhs_x"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer hht_y"),
        );
        assert_eq!(presented_secret(&h).as_deref(), Some("hht_y"));
    }

    #[test]
    fn writes_read_their_resource_before() {
        assert_eq!(
            before_path(&Method::PUT, "/api/v1/points/p"),
            Some("/api/v1/points/p".into())
        );
        assert_eq!(
            before_path(&Method::POST, "/api/v1/cases/3/actions"),
            Some("/api/v1/cases/3".into())
        );
        assert_eq!(before_path(&Method::POST, "/api/v1/cases"), None);
        assert_eq!(
            point_id_of("/api/v1/points/p%2D1/series"),
            Some("p-1".into())
        );
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
    }

    #[test]
    fn audit_bodies_hide_secrets() {
        let b = audit_body(
            Some("application/json"),
            br#"{"username":"ann","password":"correct horse","nested":{"token":"hht_1"}}"#,
        )
        .expect("kept");
        assert_eq!(b["password"], "***");
        assert_eq!(b["nested"]["token"], "***");
        assert_eq!(b["username"], "ann");
        let b = audit_body(Some("text/csv"), b"a,b\n").expect("kept");
        assert_eq!(b["bytes"], 4);
    }
}
