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
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

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
        (name = "registries", description = "the bureau's lists with history, spreadsheets, targets"),
        (name = "assessments", description = "judgements by the standards, computed from the stored series"),
        (name = "alarms", description = "alarms raised by the rules, their evidence and handling, the live stream"),
        (name = "auth", description = "login, sessions, API tokens, users and roles, the audit log"),
        (name = "cases", description = "the closed loop: cases, enforcement steps, evidence packages, figures, inspection plan")
    )
)]
struct ApiDoc;

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::points::routes())
        .merge(crate::registries::routes())
        .merge(crate::assess::routes())
        .merge(crate::alarms::routes())
        .merge(crate::auth::routes())
        .merge(crate::casework::routes())
}

/// The OpenAPI document of the API, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// The API's router.
pub fn router(state: AppState) -> axum::Router {
    let (router, doc) = api_router().split_for_parts();
    let doc = Arc::new(doc);
    let router = router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = Arc::clone(&doc);
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
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
    use axum::http::Method;

    use super::*;
    use crate::auth::{AccessRule, access_rule};

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
        let doc = serde_json::to_value(openapi()).expect("renders");
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
