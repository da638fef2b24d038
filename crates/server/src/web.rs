//! The web UI: one page and its assets, all embedded in the binary (no CDN; a government
//! network has no internet).
//!
//! Our own files (`web/src`: the page, the script, the style sheet) are compiled in with
//! `include_str!`; the two libraries (uPlot for charts, Leaflet for the map) are fetched from npm
//! at build time by `build.rs`, pinned by `web/package-lock.json`, and compiled in from
//! `OUT_DIR`. The map has no tile layer unless `http.tile_url` names one (an intranet tile
//! server); points are drawn on a plain background. The page is public; everything it shows
//! comes from the API, which checks the user on every call.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../web/src/index.html");
const APP_JS: &str = include_str!("../web/src/app.js");
const APP_CSS: &str = include_str!("../web/src/app.css");
const UPLOT_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/uplot.js"));
const UPLOT_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/uplot.css"));
const LEAFLET_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/leaflet.js"));
const LEAFLET_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/leaflet.css"));

/// What the page needs from the configuration.
#[derive(Debug, Clone, Default)]
pub struct UiConfig {
    /// A tile URL template (`https://tiles.intranet/{z}/{x}/{y}.png`), or none.
    pub tile_url: Option<String>,
    /// The tiles' attribution text.
    pub tile_attribution: String,
}

fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The origin (`scheme://host[:port]`) of a URL template, for the page's security policy.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    if host.is_empty() || !(scheme == "http" || scheme == "https") {
        return None;
    }
    // Leaflet's `{s}` subdomains become a wildcard.
    Some(format!("{scheme}://{}", host.replace("{s}", "*")))
}

fn asset(body: &'static [u8], content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// Adds the headers a security review checks to every response that does not set its own:
/// `nosniff`, a Content-Security-Policy that allows nothing (the page sets its own), no
/// framing, no referrer, same-origin isolation, no browser features, no caching of API data,
/// and HSTS when the server is reached through HTTPS.
pub fn with_security_headers(app: Router, https: bool) -> Router {
    app.layer(axum::middleware::map_response(
        move |mut r: axum::response::Response| async move {
            let h = r.headers_mut();
            let mut default = |name: header::HeaderName, value: &'static str| {
                if !h.contains_key(&name) {
                    h.insert(name, HeaderValue::from_static(value));
                }
            };
            default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
            default(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; frame-ancestors 'none'; sandbox",
            );
            default(header::X_FRAME_OPTIONS, "DENY");
            default(header::REFERRER_POLICY, "no-referrer");
            default(
                header::HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            );
            default(
                header::HeaderName::from_static("cross-origin-resource-policy"),
                "same-origin",
            );
            default(
                header::HeaderName::from_static("permissions-policy"),
                "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
            );
            default(header::CACHE_CONTROL, "no-store");
            if https {
                default(
                    header::STRICT_TRANSPORT_SECURITY,
                    "max-age=31536000; includeSubDomains",
                );
            }
            r
        },
    ))
}

/// The UI's routes: `/` and `/assets/…`.
pub fn router(ui: &UiConfig) -> Router {
    let page = INDEX
        .replace(
            "{{TILE_URL}}",
            &attr_escape(ui.tile_url.as_deref().unwrap_or("")),
        )
        .replace("{{TILE_ATTRIBUTION}}", &attr_escape(&ui.tile_attribution));
    let img_src = match ui.tile_url.as_deref().and_then(origin) {
        Some(o) => format!("'self' data: {o}"),
        None => "'self' data:".to_owned(),
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src {img_src}; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    let index = move || {
        let page = page.clone();
        let csp = csp.clone();
        async move {
            let mut r = page.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            if let Ok(v) = HeaderValue::from_str(&csp) {
                r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
    };
    Router::new()
        .route("/", get(index))
        .route(
            "/assets/app.js",
            get(|| async { asset(APP_JS.as_bytes(), "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset(APP_CSS.as_bytes(), "text/css; charset=utf-8") }),
        )
        .route(
            "/assets/uplot.js",
            get(|| async { asset(UPLOT_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/uplot.css",
            get(|| async { asset(UPLOT_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/assets/leaflet.js",
            get(|| async { asset(LEAFLET_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/leaflet.css",
            get(|| async { asset(LEAFLET_CSS, "text/css; charset=utf-8") }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_libraries_are_the_real_ones() {
        // Built with Node.js/npm here, so the pinned libraries are compiled in.
        assert!(UPLOT_JS.len() > 30_000, "uPlot: {} bytes", UPLOT_JS.len());
        assert!(
            LEAFLET_JS.len() > 100_000,
            "Leaflet: {} bytes",
            LEAFLET_JS.len()
        );
        assert!(INDEX.contains("/assets/app.js"));
    }

    #[test]
    fn tile_origins_enter_the_security_policy() {
        assert_eq!(
            origin("https://tiles.gov.local/{z}/{x}/{y}.png").as_deref(),
            Some("https://tiles.gov.local")
        );
        assert_eq!(origin("not a url"), None);
    }
}
