//! The web UI: one page and its assets, all embedded in the binary (no CDN; a government
//! network has no internet).
//!
//! Our own files (`web/src`: the page, the script, the style sheet; `web/geo`: the map's river
//! layer) are compiled in with `include_str!`; the browser libraries (uPlot for charts, Leaflet
//! and its marker clustering for the map) are fetched from npm at build time by `build.rs`,
//! pinned by `web/package-lock.json`, and compiled in from `OUT_DIR`. Map layers the bureau
//! adds (`http.map_layers`, GeoJSON files such as its district boundaries) are read at start.
//!
//! Every asset is served under a name that carries a hash of its content
//! (`/assets/app.3f2a….js`) with a year's `immutable` caching, gzip-compressed once at start
//! for browsers that accept it; the page itself is never cached and names the current files,
//! so a new release is picked up on the next load and nothing is fetched twice. The map has no
//! tile layer unless `http.tile_url` names one (an intranet tile server). The page is public;
//! everything it shows comes from the API, which checks the user on every call.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::Digest;

const INDEX: &str = include_str!("../web/src/index.html");
const APP_JS: &str = include_str!("../web/src/app.js");
const APP_CSS: &str = include_str!("../web/src/app.css");
const RIVERS: &str = include_str!("../web/geo/rivers.geojson");
const UPLOT_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/uplot.js"));
const UPLOT_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/uplot.css"));
const LEAFLET_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/leaflet.js"));
const LEAFLET_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/leaflet.css"));
const CLUSTER_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/markercluster.js"));
const CLUSTER_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets/markercluster.css"));
const CLUSTER_DEFAULT_CSS: &[u8] = include_bytes!(concat!(
    env!("OUT_DIR"),
    "/assets/markercluster-default.css"
));

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const GEOJSON: &str = "application/geo+json";

/// A GeoJSON layer the bureau adds to the map.
#[derive(Debug, Clone)]
pub struct MapLayer {
    /// Shown in the map's layer control.
    pub title: String,
    /// The GeoJSON text.
    pub geojson: Vec<u8>,
}

/// What the page needs from the configuration.
#[derive(Debug, Clone, Default)]
pub struct UiConfig {
    /// A tile URL template (`https://tiles.intranet/{z}/{x}/{y}.png`), or none.
    pub tile_url: Option<String>,
    /// The tiles' attribution text.
    pub tile_attribution: String,
    /// Extra vector layers (district boundaries, protected areas, ...).
    pub layers: Vec<MapLayer>,
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

/// One file under `/assets/`: as it is and gzip-compressed.
struct Asset {
    content_type: &'static str,
    plain: Vec<u8>,
    gzip: Vec<u8>,
}

/// The assets by hashed file name, and the hashed name of each logical one.
struct Assets {
    files: HashMap<String, Asset>,
    names: HashMap<String, String>,
}

impl Assets {
    fn new() -> Self {
        Self {
            files: HashMap::new(),
            names: HashMap::new(),
        }
    }

    /// Adds `name` (`app.js`) and returns its URL (`/assets/app.<hash>.js`).
    fn add(&mut self, name: &str, body: &[u8], content_type: &'static str) -> String {
        let hash = hex::encode(&sha2::Sha256::digest(body)[..8]);
        let file = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
            None => format!("{name}.{hash}"),
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzip = gz
            .write_all(body)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        let url = format!("/assets/{file}");
        self.names.insert(name.to_owned(), url.clone());
        self.files.insert(
            file,
            Asset {
                content_type,
                plain: body.to_vec(),
                gzip,
            },
        );
        url
    }

    fn url(&self, name: &str) -> String {
        self.names.get(name).cloned().unwrap_or_default()
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

async fn serve_asset(
    State(assets): State<Arc<Assets>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = assets.files.get(&file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let gzip = accepts_gzip(&headers) && !asset.gzip.is_empty();
    let body = if gzip { &asset.gzip } else { &asset.plain };
    let mut r = body.clone().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
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
    let mut assets = Assets::new();
    for (name, body, kind) in [
        ("leaflet.css", LEAFLET_CSS, CSS),
        ("markercluster.css", CLUSTER_CSS, CSS),
        ("markercluster-default.css", CLUSTER_DEFAULT_CSS, CSS),
        ("uplot.css", UPLOT_CSS, CSS),
        ("app.css", APP_CSS.as_bytes(), CSS),
        ("leaflet.js", LEAFLET_JS, JS),
        ("markercluster.js", CLUSTER_JS, JS),
        ("uplot.js", UPLOT_JS, JS),
        ("app.js", APP_JS.as_bytes(), JS),
    ] {
        assets.add(name, body, kind);
    }
    // Vector layers: the rivers shipped with the binary, then the bureau's own.
    let mut layers = vec![serde_json::json!({
        "id": "rivers",
        "url": assets.add("rivers.geojson", RIVERS.as_bytes(), GEOJSON),
    })];
    for (i, layer) in ui.layers.iter().enumerate() {
        layers.push(serde_json::json!({
            "id": format!("layer{i}"),
            "title": layer.title,
            "url": assets.add(&format!("layer{i}.geojson"), &layer.geojson, GEOJSON),
        }));
    }
    let mut page = INDEX
        .replace(
            "{{TILE_URL}}",
            &attr_escape(ui.tile_url.as_deref().unwrap_or("")),
        )
        .replace("{{TILE_ATTRIBUTION}}", &attr_escape(&ui.tile_attribution))
        .replace(
            "{{LAYERS}}",
            &attr_escape(&serde_json::Value::Array(layers).to_string()),
        );
    for name in assets.names.keys().cloned().collect::<Vec<_>>() {
        page = page.replace(&format!("{{{{asset:{name}}}}}"), &assets.url(&name));
    }
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
    Router::new().route("/", get(index)).route(
        "/assets/{file}",
        get(serve_asset).with_state(Arc::new(assets)),
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
        assert!(INDEX.contains("{{asset:app.js}}"));
    }

    async fn get(app: &Router, path: &str, gzip: bool) -> Response {
        use tower::ServiceExt;
        let mut req = axum::http::Request::get(path);
        if gzip {
            req = req.header(header::ACCEPT_ENCODING, "br, gzip;q=0.8");
        }
        let req = req.body(axum::body::Body::empty()).expect("request");
        app.clone().oneshot(req).await.expect("response")
    }

    async fn body(r: Response) -> Vec<u8> {
        use http_body_util::BodyExt;
        r.into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec()
    }

    #[tokio::test]
    async fn assets_are_named_by_content_compressed_and_cached_for_good() {
        let app = router(&UiConfig::default());
        let page = String::from_utf8(body(get(&app, "/", false).await).await).expect("utf-8");
        assert!(!page.contains("{{"), "every placeholder is filled: {page}");
        let js = page
            .split('"')
            .find(|s| s.starts_with("/assets/app.") && s.ends_with(".js"))
            .expect("the page names its script")
            .to_owned();
        assert_ne!(js, "/assets/app.js", "the name carries a content hash");
        let plain = get(&app, &js, false).await;
        assert_eq!(
            plain.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body(plain).await, APP_JS.as_bytes());
        let gz = get(&app, &js, true).await;
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let packed = body(gz).await;
        assert!(
            packed.len() < APP_JS.len() / 2,
            "{} of {} bytes",
            packed.len(),
            APP_JS.len()
        );
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&packed[..]),
            &mut unpacked,
        )
        .expect("gzip");
        assert_eq!(unpacked, APP_JS.as_bytes());
        assert_eq!(
            get(&app, "/assets/app.js", false).await.status(),
            StatusCode::NOT_FOUND
        );
        assert!(page.contains("rivers."), "the river layer is listed");
    }

    #[test]
    fn gzip_is_taken_only_when_accepted() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(v).expect("header"),
            );
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("GZIP;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
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
