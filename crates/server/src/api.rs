//! The HTTP API put together: every module's routes, the OpenAPI document, the auth layer and
//! the fallback. JSON over the store and the gateway, CSV where a user wants a file.
//!
//! Every handler is declared with `#[utoipa::path]` and registered through `utoipa-axum`'s
//! `routes!`, which adds it to the router and to the OpenAPI document in one step; the document
//! is served at `/api/v1/openapi.json`. Times go in and out as RFC 3339 with an offset; output
//! is in Beijing time (`+08:00`), the time the protocol and the users speak. Store calls are
//! blocking (SQLite) and run on tokio's blocking pool.

use std::sync::Arc;

use axum::Json;
use axum::http::Method;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{AccessRule, AccessTable, Guarded};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "huanghe",
        description = "Smart ecological Yellow River supervision platform: monitoring points, \
                       series, devices, raw packet log."
    ),
    tags(
        (name = "points", description = "the monitoring-point registry"),
        (name = "data", description = "stored series, corrections, capture rates"),
        (name = "devices", description = "connections, the raw packet log, metrics"),
        (name = "vehicles", description = "trucks under remote OBD monitoring: state, records, track, frames"),
        (name = "registries", description = "the bureau's lists with history, spreadsheets, targets"),
        (name = "assessments", description = "judgements by the standards, computed from the stored series"),
        (name = "alarms", description = "alarms raised by the rules, their evidence and handling, the live stream"),
        (name = "auth", description = "login, sessions, API tokens, users and roles, the audit log"),
        (name = "cases", description = "the closed loop: cases, enforcement steps, evidence packages, figures, inspection plan")
    ),
    modifiers(&Credentials)
)]
struct ApiDoc;

/// The one security scheme the operations name. Its scopes are the capabilities of
/// `access::Capability`; an operation lists alternatives, any of which admits the caller.
struct Credentials;

impl utoipa::Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "An API token (`hht_…`) or a session secret (`hhs_…`) as a Bearer token, or the \
             browser's `huanghe_session` cookie set by login. An operation's scopes are the \
             capabilities (any one of which admits the caller) a user's role must grant."
                .into(),
        );
        components.add_security_scheme("token", SecurityScheme::Http(scheme));
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::points::routes())
        .merge(crate::registries::routes())
        .merge(crate::assess::routes())
        .merge(crate::alarms::routes())
        .merge(crate::auth::routes())
        .merge(crate::casework::routes())
        .merge(crate::vehicles::routes())
}

/// The OpenAPI document of the API, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// Who may call each route of the API, as the handlers declare it.
pub fn access_table() -> AccessTable {
    table_of(&openapi())
}

fn table_of(doc: &utoipa::openapi::OpenApi) -> AccessTable {
    // The declarations are compile-time text; a bad one fails every test that builds a router.
    let mut table = AccessTable::from_openapi(doc)
        .unwrap_or_else(|e| panic!("an access declaration is wrong: {e}"));
    table.insert(Method::GET, OPENAPI_PATH, AccessRule::Public);
    table
}

const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The API's router.
pub fn router(state: AppState) -> axum::Router {
    let (router, doc) = api_router().split_for_parts();
    let access = Arc::new(table_of(&doc));
    let doc = Arc::new(doc);
    let router = router
        .route(
            OPENAPI_PATH,
            axum::routing::get(move || {
                let doc = Arc::clone(&doc);
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Guarded {
                state: state.clone(),
                access,
            },
            crate::auth::guard,
        ))
        .fallback(|| async {
            ApiError::NotFound("no such endpoint; see /api/v1/openapi.json".into())
        })
        .with_state(state.clone());
    state.auth().set_router(router.clone());
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `docs/openapi.json` is what the code generates: regenerate it with
    /// `cargo run -- openapi > docs/openapi.json` when the API changes.
    #[test]
    fn committed_openapi_document_is_current() {
        let generated = openapi().to_pretty_json().expect("renders");
        let committed = include_str!("../../../docs/openapi.json");
        assert_eq!(
            committed.trim_end(),
            generated.trim_end(),
            "docs/openapi.json is stale: run `cargo run -- openapi > docs/openapi.json`"
        );
    }

    #[test]
    fn every_route_of_the_api_has_an_access_rule() {
        let table = access_table();
        let access_rule = |m: &Method, t: &str| table.rule(m, t);
        let doc = serde_json::to_value(openapi()).expect("renders");
        assert!(doc["components"]["securitySchemes"]["token"].is_object());
        let paths = doc["paths"].as_object().expect("paths");
        let mut n = 0;
        for (template, item) in paths {
            for m in ["get", "post", "put", "delete", "patch"] {
                if item.get(m).is_some() {
                    let method: Method = m.to_uppercase().parse().expect("method");
                    assert_ne!(
                        access_rule(&method, template),
                        AccessRule::Unmapped,
                        "{m} {template}"
                    );
                    n += 1;
                }
            }
        }
        // The document itself is public (it is not in the document).
        assert_eq!(
            access_rule(&Method::GET, "/api/v1/openapi.json"),
            AccessRule::Public
        );
        assert_eq!(
            access_rule(&Method::GET, "/api/v1/new-thing"),
            AccessRule::Unmapped
        );
        assert!(n > 50, "{n} operations");
    }
}
