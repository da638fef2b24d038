//! Fuzzing the HTTP API: every route of the OpenAPI document, called by an admin and by nobody,
//! with generated path parameters, query strings (the route's own parameters and stray ones)
//! and JSON bodies (random JSON, and objects with the fields of the route's request schema
//! holding values of every wrong kind). The server must answer every request, in time, with a
//! status below 500 and an error body it can explain; a panic, a hang or a 5xx fails the test
//! with the request that caused it.
//!
//! It runs for `HUANGHE_FUZZ_SECONDS` (default 60; `.ci/run` runs it, a longer run is a
//! matter of setting the variable), with `HUANGHE_FUZZ_SEED` to repeat a run.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value};

use crate::{TempDir, TestServer};

/// One route of the OpenAPI document and what it documents.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    template: String,
    query: Vec<String>,
    body_fields: Vec<String>,
}

fn routes(doc: &Value) -> Vec<Route> {
    let schemas = &doc["components"]["schemas"];
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            // The live stream never ends by design; revoking tokens would lock the fuzzer out.
            if template.ends_with("/stream")
                || (template == "/api/v1/tokens/{id}" && method == "delete")
            {
                continue;
            }
            let query = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let schema = match schema["$ref"].as_str() {
                Some(r) => &schemas[r.rsplit('/').next().unwrap_or_default()],
                None => schema,
            };
            let body_fields = schema["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            out.push(Route {
                method: method.to_uppercase(),
                template: template.clone(),
                query,
                body_fields,
            });
        }
    }
    out
}

/// Texts that have broken parsers before: empty, huge, negative, non-finite, calendars that do
/// not exist, separators, encodings, injections.
const NASTY: &[&str] = &[
    "",
    "0",
    "-1",
    "1e400",
    "NaN",
    "inf",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "0.0000000000000000000001",
    "1,2",
    "116.9,36.6",
    "abc",
    "null",
    "true",
    "2026-13-40",
    "2026-02-30T25:61:61+08:00",
    "2026-12-01T00:00:00+08:00",
    "0000-00-00",
    "9999-12-31T23:59:59Z",
    "20261201",
    "../../etc/passwd",
    "%00",
    "%FF%FE",
    "' OR 1=1 --",
    "\"; DROP TABLE packets; --",
    "<script>alert(1)</script>",
    "🙂",
    "设备故障",
    "lixia",
    "enterprises",
    "a21026",
    "hour",
    "min",
    "rtd",
    "day",
    "csv",
    "xlsx",
    "zh",
    "en",
    "raised",
    "critical",
    "stack",
    "1",
    "999999",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(NASTY).prop_map(str::to_owned),
        2 => "\\PC{0,40}",
        1 => "[0-9]{1,30}",
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| b.iter().map(|x| format!("%{x:02X}")).collect()),
        1 => Just("x".repeat(5000)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        proptest::sample::select(
            &["1e400", "-0", "123456789012345678901234567890", "0.1e-400"][..]
        )
        .prop_map(|n| serde_json::from_str(n).unwrap_or(Value::Null)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One generated request.
#[derive(Debug, Clone)]
struct Call {
    route: usize,
    params: Vec<String>,
    query: Vec<(Option<usize>, String, String)>,
    body: Option<Value>,
    fields: Vec<Value>,
    anonymous: bool,
    raw_body: Option<String>,
}

fn call(routes: usize) -> impl Strategy<Value = Call> {
    (
        0..routes,
        proptest::collection::vec(text(), 3),
        proptest::collection::vec((proptest::option::of(0usize..16), text(), text()), 0..6),
        proptest::option::of(json_value()),
        proptest::collection::vec(json_value(), 0..12),
        proptest::bool::weighted(0.1),
        proptest::option::weighted(0.05, "\\PC{0,200}"),
    )
        .prop_map(
            |(route, params, query, body, fields, anonymous, raw_body)| Call {
                route,
                params,
                query,
                body,
                fields,
                anonymous,
                raw_body,
            },
        )
}

/// Percent-encodes a path segment or query component.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn request_of(r: &Route, c: &Call) -> (String, Option<String>) {
    let mut path = String::new();
    let mut params = c.params.iter();
    for seg in r.template.split('/').filter(|s| !s.is_empty()) {
        path.push('/');
        if seg.starts_with('{') {
            path.push_str(&encode(params.next().map_or("", String::as_str)));
        } else {
            path.push_str(seg);
        }
    }
    let query: Vec<String> = c
        .query
        .iter()
        .map(|(k, name, v)| {
            let key = k
                .and_then(|i| r.query.get(i % r.query.len().max(1)))
                .cloned()
                .unwrap_or_else(|| name.clone());
            format!("{}={}", encode(&key), encode(v))
        })
        .collect();
    if !query.is_empty() {
        path.push('?');
        path.push_str(&query.join("&"));
    }
    let body = if r.method == "GET" || r.method == "DELETE" {
        None
    } else if let Some(raw) = &c.raw_body {
        Some(raw.clone())
    } else if !r.body_fields.is_empty() && !c.fields.is_empty() {
        let mut m = Map::new();
        for (f, v) in r.body_fields.iter().zip(c.fields.iter().cycle()) {
            m.insert(f.clone(), v.clone());
        }
        Some(Value::Object(m).to_string())
    } else {
        c.body.as_ref().map(Value::to_string)
    };
    (path, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fuzzing: run by .ci/run (HUANGHE_FUZZ_SECONDS, default 60)"]
async fn the_api_answers_every_generated_request_without_a_server_error() {
    let seconds: u64 = std::env::var("HUANGHE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("HUANGHE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    eprintln!("fuzzing the API for {seconds} s with HUANGHE_FUZZ_SEED={seed}");
    let dir = TempDir::new("fuzz-api");
    let server = TestServer::start_with(&dir.0, "demo_city = true", "");
    let doc = server.get_json("/api/v1/openapi.json").await;
    let routes = routes(&doc);
    assert!(routes.len() > 50, "{} routes", routes.len());
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let strategy = call(routes.len());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut sent = 0u64;
    let mut by_status = std::collections::BTreeMap::<u16, u64>::new();
    while Instant::now() < deadline {
        let c = strategy.new_tree(&mut runner).expect("a value").current();
        let r = &routes[c.route];
        let (path, body) = request_of(r, &c);
        let token = if c.anonymous {
            ""
        } else {
            server.token.as_str()
        };
        let auth = format!("Bearer {token}");
        let headers: Vec<(&str, &str)> = if c.anonymous {
            vec![]
        } else {
            vec![("Authorization", auth.as_str())]
        };
        let resp = server::client::request_with(
            server.http,
            &r.method,
            &path,
            &headers,
            body.as_deref().map(|b| ("application/json", b.as_bytes())),
            Duration::from_secs(20),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{} {path} with {body:?}: no answer ({e}); seed {seed}",
                r.method
            )
        });
        assert!(
            resp.status < 500,
            "{} {path} with {body:?}: {} {}; seed {seed}",
            r.method,
            resp.status,
            resp.text()
        );
        if resp.status >= 400
            && resp
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json"))
        {
            let v: Value = resp.json().unwrap_or_else(|e| {
                panic!(
                    "{} {path}: error body is not JSON ({e}): {}",
                    r.method,
                    resp.text()
                )
            });
            assert!(
                v.get("error").is_some_and(Value::is_string),
                "{} {path}: error without a reason: {v}",
                r.method
            );
        }
        *by_status.entry(resp.status).or_default() += 1;
        sent += 1;
    }
    eprintln!(
        "{sent} requests over {} routes, by status: {by_status:?}",
        routes.len()
    );
    // Still serving, and the admin is still the admin.
    let me = server.get_json("/api/v1/auth/me").await;
    assert_eq!(me["role"], "admin", "{me}");
}
