//! Users, roles and cases end to end: the authorisation matrix walked over every endpoint of
//! the OpenAPI document for every role, scopes (an enterprise cannot read another's data),
//! login with throttling and sessions, the closed loop from an alarm to closure with an
//! enterprise's response and evidence, the evidence package, tampering caught by the chain,
//! figures feeding the targets, the inspection plan, the audit log, and deadline escalation on
//! a simulated clock.

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use simulator::Link;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::alarms::send_hour;
use crate::{TEST_PASSWORD, TempDir, TestServer, midnight_days_ago, user_token};

pub(crate) const E1: &str = "91370100MA3C0000X1";
pub(crate) const E2: &str = "91370100MA3C0000X2";

pub(crate) const POINTS: &str = "[[points]]\nid = \"stack\"\nname = \"stack\"\nmn = \"GAS0001\"\npassword = \"123456\"\nkind = \"gas_outlet\"\nmin_interval_min = 10\nrtd_interval_s = 30\nlocation = [117.02, 36.66]\n\
                      [points.codes.a21026]\nlimit = 35.0\nref_o2 = 6.0\n\n\
                      [[points]]\nid = \"other\"\nname = \"other\"\nmn = \"GAS0002\"\npassword = \"123456\"\nkind = \"gas_outlet\"\nmin_interval_min = 10\nlocation = [116.98, 36.62]\n";

/// Registers the two points and their enterprises: `stack` of E1 in Lixia, `other` of E2 in
/// Shizhong.
pub(crate) async fn register(server: &TestServer) {
    for (code, name, district, point, mn) in [
        (E1, "甲化工", "lixia", "stack", "GAS0001"),
        (E2, "乙制药", "shizhong", "other", "GAS0002"),
    ] {
        let ent = json!({"credit_code": code, "name": name, "district": district, "industry": "化工",
                         "location": [117.0, 36.65], "key_air": true});
        let r = server
            .request(
                "POST",
                "/api/v1/registries/enterprises/entries",
                Some(&ent.to_string()),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        // The points file made the point; the registry (the same record) places it.
        let path = format!("/api/v1/registries/monitoring_points/entries/{point}");
        let mut mp = server.get_json(&path).await["data"].clone();
        assert_eq!(mp["mn"], mn);
        mp["enterprise"] = code.into();
        mp["district"] = district.into();
        mp["location"] = json!([117.0, 36.65]);
        let r = server.request("PUT", &path, Some(&mp.to_string())).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// The roles' test users and tokens, by role name.
fn role_tokens(server: &TestServer) -> Vec<(&'static str, String)> {
    let d = &server.data_dir;
    vec![
        ("admin", server.token.clone()),
        (
            "duty_officer",
            user_token(d, "duty", &["--role", "duty_officer"]),
        ),
        (
            "district_officer",
            user_token(
                d,
                "li",
                &["--role", "district_officer", "--district", "lixia"],
            ),
        ),
        ("analyst", user_token(d, "ana", &["--role", "analyst"])),
        (
            "registry_clerk",
            user_token(d, "clerk", &["--role", "registry_clerk"]),
        ),
        (
            "device_operator",
            user_token(d, "op", &["--role", "device_operator"]),
        ),
        (
            "enterprise",
            user_token(d, "ent1", &["--role", "enterprise", "--enterprise", E1]),
        ),
    ]
}

/// The HTTP status line of a request that may stream (the alarm stream never ends).
async fn status_of_stream(server: &TestServer, token: &str, path: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(server.http)
        .await
        .expect("connect");
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n").as_bytes())
        .await
        .expect("request");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("status in time")
        .expect("read");
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_endpoint() {
    let dir = TempDir::new("matrix");
    std::fs::write(dir.0.join("points.toml"), POINTS).expect("points");
    let server = TestServer::start(&dir.0, "");
    register(&server).await;
    let tokens = role_tokens(&server);
    let doc = server.get_json("/api/v1/openapi.json").await;
    let paths = doc["paths"].as_object().expect("paths");
    // The rules the handlers declare (the served document states the same).
    let access = server::api::access_table();
    let mut checked = 0;
    for (template, item) in paths {
        for method in ["get", "post", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let m = method.to_uppercase();
            // Ids that exist where reading is harmless; ids that do not where a write would
            // change something (a permitted DELETE then answers 404, a refused one 403).
            let harmless = method == "get" || method == "put";
            let path = template
                .replace(
                    "{id}",
                    if template.starts_with("/api/v1/points") && harmless {
                        "stack"
                    } else {
                        "999999"
                    },
                )
                .replace("{name}", "enterprises")
                .replace("{username}", "nobody")
                .replace("{attachment}", "1");
            let rule = access.rule(&m.parse().expect("method"), template);
            let server::auth::AccessRule::Any(caps) = rule else {
                assert_eq!(
                    rule,
                    server::auth::AccessRule::Public,
                    "{m} {template} has no rule"
                );
                continue;
            };
            for (role, token) in &tokens {
                let r: access::Role = role.parse().expect("role");
                let allowed = caps.iter().any(|c| access::allows(r, *c));
                let status = if template.ends_with("/stream") {
                    status_of_stream(&server, token, &path).await
                } else {
                    server.request_as(token, &m, &path, None).await.status
                };
                if allowed {
                    assert!(
                        status != 401 && status != 403,
                        "{role} may {m} {path} but got {status}"
                    );
                } else {
                    assert_eq!(status, 403, "{role} may not {m} {path}");
                }
                checked += 1;
            }
            // Nobody without credentials.
            let status = if template.ends_with("/stream") {
                status_of_stream(&server, "", &path).await
            } else {
                server.request_as("", &m, &path, None).await.status
            };
            assert_eq!(status, 401, "anonymous {m} {path}");
            // A made-up token is no better.
            assert_eq!(
                server
                    .request_as("hht_0000", "GET", "/api/v1/auth/me", None)
                    .await
                    .status,
                401
            );
        }
    }
    assert!(checked > 300, "{checked} role/endpoint pairs");
}

pub(crate) async fn poll_alarm(server: &TestServer) -> i64 {
    crate::until(
        "a source_exceedance alarm",
        Duration::from_secs(20),
        || async {
            let list = server
                .get_json("/api/v1/alarms?rule=source_exceedance")
                .await;
            list[0]["id"].as_i64()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_runs_the_closed_loop_with_scopes_evidence_and_audit() {
    let dir = TempDir::new("cases");
    std::fs::write(dir.0.join("points.toml"), POINTS).expect("points");
    let server = TestServer::start(&dir.0, "");
    register(&server).await;
    let t: std::collections::BTreeMap<&str, String> = role_tokens(&server).into_iter().collect();
    let (duty, li, ent1) = (&t["duty_officer"], &t["district_officer"], &t["enterprise"]);
    let ent2 = user_token(
        &server.data_dir,
        "ent2",
        &["--role", "enterprise", "--enterprise", E2],
    );
    let li2 = user_token(
        &server.data_dir,
        "zhao",
        &["--role", "district_officer", "--district", "shizhong"],
    );

    // An exceedance on E1's stack, and plain data on E2's.
    let h = midnight_days_ago(1) + 8 * 3600;
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut qn = 0;
    send_hour(&mut link, h, "30", &mut qn).await;
    let alarm = poll_alarm(&server).await;

    // Scopes: each enterprise sees only its own points, data and alarms.
    let as_json = |r: server::client::Response| r.json().expect("json");
    let own = server
        .request_as(ent1, "GET", "/api/v1/points/stack/latest", None)
        .await;
    assert_eq!(own.status, 200, "{}", own.text());
    let r = server
        .request_as(&ent2, "GET", "/api/v1/points/stack/series?type=min", None)
        .await;
    assert_eq!(r.status, 403, "E2 reading E1's data: {}", r.text());
    let r = server
        .request_as(&ent2, "GET", &format!("/api/v1/alarms/{alarm}"), None)
        .await;
    assert_eq!(r.status, 403);
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .expect("list")
            .iter()
            .map(|p| p["id"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(
        ids(as_json(
            server.request_as(ent1, "GET", "/api/v1/points", None).await
        )),
        ["stack"]
    );
    assert_eq!(
        ids(as_json(
            server
                .request_as(&ent2, "GET", "/api/v1/points", None)
                .await
        )),
        ["other"]
    );
    assert!(
        as_json(
            server
                .request_as(&ent2, "GET", "/api/v1/alarms", None)
                .await
        )
        .as_array()
        .expect("list")
        .is_empty()
    );
    let own_alarms = as_json(server.request_as(ent1, "GET", "/api/v1/alarms", None).await);
    let own_alarms = own_alarms.as_array().expect("list");
    assert!(!own_alarms.is_empty() && own_alarms.iter().all(|a| a["point_id"] == "stack"));
    // A district officer sees the district's registry entries only.
    let page = as_json(
        server
            .request_as(li, "GET", "/api/v1/registries/enterprises/entries", None)
            .await,
    );
    assert_eq!(page["total"], 1);
    let r = server
        .request_as(
            li,
            "GET",
            &format!("/api/v1/registries/enterprises/entries/{E2}"),
            None,
        )
        .await;
    assert_eq!(r.status, 403);

    // Open from the alarm: the point's enterprise and district fill the case in.
    let r = server
        .request_as(
            duty,
            "POST",
            "/api/v1/cases",
            Some(&json!({"title": "SO2 over the limit", "alarms": [alarm]}).to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let case = as_json(r);
    let id = case["id"].as_i64().expect("id");
    assert_eq!(
        (
            case["state"].as_str(),
            case["district"].as_str(),
            case["enterprise"].as_str(),
            case["point_id"].as_str()
        ),
        (Some("open"), Some("lixia"), Some(E1), Some("stack"))
    );
    let r = server
        .request_as(
            duty,
            "POST",
            "/api/v1/cases",
            Some(&json!({"title": "again", "alarms": [alarm]}).to_string()),
        )
        .await;
    assert_eq!(r.status, 409, "one open case per alarm: {}", r.text());
    let r = server
        .request_as(&ent2, "GET", &format!("/api/v1/cases/{id}"), None)
        .await;
    assert_eq!(r.status, 403, "E2 cannot see E1's case");
    let r = server
        .request_as(&li2, "GET", &format!("/api/v1/cases/{id}"), None)
        .await;
    assert_eq!(r.status, 403, "another district's officer cannot see it");
    assert!(
        as_json(server.request_as(&li2, "GET", "/api/v1/cases", None).await)
            .as_array()
            .expect("list")
            .is_empty()
    );

    // Dispatch: only to an officer who can handle cases in that district.
    let post = |token: &str, path: String, body: Value| {
        let token = token.to_owned();
        let server = &server;
        async move {
            server
                .request_as(&token, "POST", &path, Some(&body.to_string()))
                .await
        }
    };
    let r = post(
        duty,
        format!("/api/v1/cases/{id}/dispatch"),
        json!({"district": "lixia", "officer": "zhao"}),
    )
    .await;
    assert_eq!(r.status, 400, "zhao works in shizhong: {}", r.text());
    let r = post(
        li,
        format!("/api/v1/cases/{id}/dispatch"),
        json!({"district": "lixia", "officer": "li"}),
    )
    .await;
    assert_eq!(r.status, 403, "a district officer does not dispatch");
    let r = post(
        duty,
        format!("/api/v1/cases/{id}/dispatch"),
        json!({"district": "lixia", "officer": "li"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // An illegal step is refused and says what is legal.
    let r = post(
        li,
        format!("/api/v1/cases/{id}/actions"),
        json!({"action": "closed", "conclusion": "x"}),
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(
        r.text()
            .contains("legal now: dispatched, off_site_review, inspection"),
        "{}",
        r.text()
    );
    // Off-site handling and a rectification request.
    let r = post(li, format!("/api/v1/cases/{id}/actions"), json!({"action": "off_site_review", "findings": "hourly SO2 37.5 mg/m3 against 35", "notice": "整改通知 2026-101"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let due = bjtime::rfc3339_ms(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64
            + 10 * 86_400_000,
    );
    let r = post(li, format!("/api/v1/cases/{id}/actions"), json!({"action": "rectification_requested", "requirement": "repair the desulphuriser", "due": due})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(as_json(r)["state"], "rectifying");
    // The enterprise answers with a photo; an officer cannot answer for it.
    let r = post(
        li,
        format!("/api/v1/cases/{id}/response"),
        json!({"statement": "x"}),
    )
    .await;
    assert_eq!(r.status, 403);
    let photo = b"\xff\xd8\xff\xe0 not really a jpeg";
    let auth = format!("Bearer {ent1}");
    let r = server
        .send(
            "POST",
            &format!("/api/v1/cases/{id}/attachments?name=repair.jpg"),
            &[("Authorization", &auth)],
            Some(("image/jpeg", photo)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let att = as_json(r);
    // A page with a script, uploaded as HTML by the enterprise, is never rendered in the
    // platform's origin when an officer opens it.
    let page = b"<html><script>fetch('/api/v1/users',{method:'POST'})</script></html>";
    let r = server
        .send(
            "POST",
            &format!("/api/v1/cases/{id}/attachments?name=%E6%95%B4%E6%94%B9.html"),
            &[("Authorization", &auth)],
            Some(("text/html; charset=utf-8", page)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let html = as_json(r);
    let header = |r: &server::client::Response, name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let r = server
        .request_as(
            li,
            "GET",
            &format!("/api/v1/cases/{id}/attachments/{}", html["id"]),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, page);
    assert_eq!(header(&r, "content-type"), "application/octet-stream");
    assert!(
        header(&r, "content-disposition").starts_with("attachment;"),
        "{:?}",
        r.headers
    );
    assert!(header(&r, "content-disposition").contains("filename*=UTF-8''%E6%95%B4%E6%94%B9.html"));
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert!(header(&r, "content-security-policy").contains("sandbox"));
    let r = server
        .request_as(
            li,
            "GET",
            &format!("/api/v1/cases/{id}/attachments/{}", att["id"]),
            None,
        )
        .await;
    assert_eq!(
        header(&r, "content-type"),
        "image/jpeg",
        "a JPEG keeps its type"
    );
    assert!(header(&r, "content-disposition").starts_with("attachment;"));
    let r = post(
        ent1,
        format!("/api/v1/cases/{id}/response"),
        json!({"statement": "desulphuriser repaired", "attachments": [att["id"]]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Verification from data is refused while the alarm is recent; a follow-up inspection does.
    let r = post(
        li,
        format!("/api/v1/cases/{id}/actions"),
        json!({"action": "verified", "method": "data"}),
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(
        r.text().contains("data verification failed"),
        "{}",
        r.text()
    );
    let r = post(li, format!("/api/v1/cases/{id}/actions"), json!({"action": "verified", "method": "inspection", "detail": "follow-up visit: desulphuriser running"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(
        li,
        format!("/api/v1/cases/{id}/actions"),
        json!({"action": "closed", "conclusion": "rectified", "violation": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let closed = as_json(r);
    assert_eq!(
        (closed["state"].as_str(), closed["mode"].as_str()),
        (Some("closed"), Some("on_site"))
    );

    // A second case, by hand, handled off-site and closed from the review.
    let r = post(
        duty,
        "/api/v1/cases".into(),
        json!({"title": "odour complaint", "point_id": "stack"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id2 = as_json(r)["id"].as_i64().expect("id");
    assert_eq!(
        post(
            duty,
            format!("/api/v1/cases/{id2}/dispatch"),
            json!({"district": "lixia", "officer": "li"})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        post(
            li,
            format!("/api/v1/cases/{id2}/actions"),
            json!({"action": "off_site_review", "findings": "no exceedance in the data"})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        post(
            li,
            format!("/api/v1/cases/{id2}/actions"),
            json!({"action": "closed", "conclusion": "no violation"})
        )
        .await
        .status,
        200
    );

    // A case from a registry finding takes its district and enterprise from the entry, and
    // is out of sight for the Lixia officer.
    let r = post(
        duty,
        "/api/v1/cases".into(),
        json!({"title": "permit expired", "registry": {"registry": "enterprises", "id": E2}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let from_registry = as_json(r);
    assert_eq!(
        (
            from_registry["source"].as_str(),
            from_registry["district"].as_str(),
            from_registry["enterprise"].as_str()
        ),
        (Some("registry"), Some("shizhong"), Some(E2))
    );
    let r = server
        .request_as(
            li,
            "GET",
            &format!("/api/v1/cases/{}", from_registry["id"]),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = post(
        li,
        "/api/v1/cases".into(),
        json!({"title": "x", "district": "shizhong"}),
    )
    .await;
    assert_eq!(
        r.status, 403,
        "a district officer opens cases only in the district"
    );

    // Figures and the target: one of two closed cases off-site.
    let f = as_json(
        server
            .request_as(duty, "GET", "/api/v1/cases/figures", None)
            .await,
    );
    assert_eq!(
        (
            f["total"]["closed"].as_u64(),
            f["total"]["off_site_share"].as_f64()
        ),
        (Some(2), Some(0.5))
    );
    assert_eq!(f["meets_off_site_target"], true);
    assert_eq!(f["by_enterprise"][E1]["closed"], 2);
    let targets = server.get_json("/api/v1/targets").await;
    let off = targets
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["id"] == "off_site_enforcement")
        .expect("target");
    assert_eq!(
        (off["population"].as_u64(), off["value"].as_f64()),
        (Some(2), Some(0.5))
    );
    // The inspection plan visits E1 more than E2 (a key unit with cases and an alarm).
    let plan = as_json(
        server
            .request_as(duty, "GET", "/api/v1/inspection-plan?year=2027", None)
            .await,
    );
    let visits = |code: &str| {
        plan.as_array()
            .expect("plan")
            .iter()
            .find(|p| p["enterprise"] == code)
            .and_then(|p| p["visits"].as_u64())
    };
    assert!(visits(E1) > visits(E2), "{plan}");
    let csv = server
        .request_as(
            duty,
            "GET",
            "/api/v1/inspection-plan?year=2027&format=csv",
            None,
        )
        .await;
    assert!(csv.text().contains(E1));

    // The evidence package.
    let r = server
        .request_as(ent1, "GET", &format!("/api/v1/cases/{id}/evidence"), None)
        .await;
    assert_eq!(r.status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body.clone())).expect("a zip");
    let mut read = |name: &str| {
        let mut s = String::new();
        zip.by_name(name)
            .unwrap_or_else(|_| panic!("{name} in the package"))
            .read_to_string(&mut s)
            .expect("utf-8");
        s
    };
    let summary = read("summary.html");
    assert!(
        summary.contains("Event chain verified: 7 events"),
        "{summary}"
    );
    let packets = read("packets.csv");
    assert!(
        packets.lines().count() > 6 && packets.contains("GAS0001"),
        "{packets}"
    );
    // Anyone can re-check every frame's CRC from the package alone: `raw_hex` holds the bytes.
    let header_line = packets.lines().next().expect("header");
    assert!(
        header_line.starts_with("id,received,peer,mn,cn,qn,crc_given,crc_computed,crc_variant,")
    );
    assert!(header_line.ends_with(",raw_hex"));
    for line in packets.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let bytes = hex::decode(cols[cols.len() - 1]).expect("hex bytes");
        let frame = hj212::Frame::from_bytes(&bytes).expect("one frame");
        let crc = frame.verify_crc();
        assert_eq!(format!("{:04X}", crc.computed), cols[7], "{line}");
        assert_eq!(
            crc.given.map(|g| format!("{g:04X}")).as_deref(),
            Some(cols[6]),
            "{line}"
        );
        assert!(crc.is_standard(), "{line}");
    }
    let data = read(&format!(
        "data/stack_{}.csv",
        hj212::LocalTime::from_unix_millis((h - 7200) * 1000).to_protocol()
    ));
    assert!(data.contains("a21026") && data.contains("flag=N"), "{data}");
    assert!(read("alarms.json").contains("source_exceedance"));
    let manifest: Value = serde_json::from_str(&read("manifest.json")).expect("manifest");
    assert!(manifest["files"].as_array().expect("files").len() >= 8);
    let mut photo_back = Vec::new();
    zip.by_name(&format!("attachments/{}_repair.jpg", att["id"]))
        .expect("attachment in the package")
        .read_to_end(&mut photo_back)
        .expect("read");
    assert_eq!(photo_back, photo);

    // The audit log has every write with before and after.
    let audit = server
        .get_json("/api/v1/audit?path=/api/v1/cases&limit=1000")
        .await;
    let rows = audit.as_array().expect("rows");
    let closing = rows
        .iter()
        .find(|r| {
            r["path"] == format!("/api/v1/cases/{id}/actions") && r["after"]["action"] == "closed"
        })
        .expect("closure audited");
    assert_eq!(closing["actor"], "li");
    assert_eq!(closing["before"]["case"]["state"], "verified");
    let logins = server.get_json("/api/v1/audit?actor=li").await;
    assert!(!logins.as_array().expect("rows").is_empty());
    let r = server.request_as(li, "GET", "/api/v1/audit", None).await;
    assert_eq!(r.status, 403, "only admins read the audit log");

    // Editing a stored event is caught by the chain.
    drop(link);
    let db = rusqlite::Connection::open(server.data_dir.join("huanghe.db")).expect("db");
    // The server writes too (alarm windows, checkpoints): wait for its locks.
    db.busy_timeout(Duration::from_secs(60))
        .expect("busy timeout");
    db.execute(
        "UPDATE case_events SET action = replace(action, 'repair the desulphuriser', 'nothing') WHERE case_id = ?1 AND seq = 4",
        [id],
    )
    .expect("tampered");
    let v = server.get_json(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(v["chain_valid"], false);
    assert!(
        v["chain_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("event 4:")),
        "{v}"
    );
    let r = server
        .request("GET", &format!("/api/v1/cases/{id}/evidence"), None)
        .await;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body.clone())).expect("a zip");
    let mut s = String::new();
    zip.by_name("summary.html")
        .expect("summary")
        .read_to_string(&mut s)
        .expect("utf-8");
    assert!(s.contains("Event chain BROKEN: event 4"), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sessions_throttling_and_password_change() {
    let dir = TempDir::new("login");
    let server = TestServer::start(&dir.0, "");
    user_token(&server.data_dir, "wang", &["--role", "analyst"]);
    let login = |user: &str, pw: &str| json!({"username": user, "password": pw}).to_string();
    let r = server
        .request_as(
            "",
            "POST",
            "/api/v1/auth/login",
            Some(&login("wang", TEST_PASSWORD)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .expect("cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().expect("pair").to_owned();
    let me = server
        .request_with_cookie("GET", "/api/v1/auth/me", &session)
        .await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json().expect("json")["role"], "analyst");

    // Wrong passwords: 401, then locked out with Retry-After; the right password waits too.
    for _ in 0..5 {
        let r = server
            .request_as(
                "",
                "POST",
                "/api/v1/auth/login",
                Some(&login("wang", "wrong password!")),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = server
        .request_as(
            "",
            "POST",
            "/api/v1/auth/login",
            Some(&login("wang", TEST_PASSWORD)),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.headers.iter().any(
        |(k, v)| k.eq_ignore_ascii_case("retry-after") && v.parse::<u64>().is_ok_and(|s| s > 0)
    ));
    // Unknown users get the same answer as wrong passwords (after the address lock-out, 429).
    let audit = server
        .get_json("/api/v1/audit?path=/api/v1/auth/login")
        .await;
    assert!(
        audit
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["actor"] == "-wang" && r["status"] == 401)
    );
    assert!(
        audit.to_string().contains("***") && !audit.to_string().contains("wrong password!"),
        "passwords are redacted"
    );

    // Logout ends the session.
    let r = server
        .request_with_cookie("POST", "/api/v1/auth/logout", &session)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        server
            .request_with_cookie("GET", "/api/v1/auth/me", &session)
            .await
            .status,
        401
    );
    // Admins manage users; a disabled user's tokens stop working.
    let tok = user_token(&server.data_dir, "zhou", &["--role", "analyst"]);
    assert_eq!(
        server
            .request_as(&tok, "GET", "/api/v1/auth/me", None)
            .await
            .status,
        200
    );
    let r = server
        .request("PUT", "/api/v1/users/zhou", Some(r#"{"disabled":true}"#))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        server
            .request_as(&tok, "GET", "/api/v1/auth/me", None)
            .await
            .status,
        401
    );
    let r = server
        .request(
            "POST",
            "/api/v1/users",
            Some(
                &json!({"username": "x", "role": "enterprise", "password": "long enough pw"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(
        r.status,
        400,
        "an enterprise user needs an enterprise: {}",
        r.text()
    );
    let r = server
        .request(
            "POST",
            "/api/v1/users",
            Some(&json!({"username": "y", "role": "analyst", "password": "short"}).to_string()),
        )
        .await;
    assert!(
        r.status == 400 && r.text().contains("at least 10"),
        "{}",
        r.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_cases_are_escalated_on_a_simulated_clock() {
    let dir = TempDir::new("escalate");
    // A day passes every second; the deadline watch runs every second.
    let server = TestServer::start_with(
        &dir.0,
        "[clock]\nspeed = 86400.0\n[store]\nmaintenance_interval_s = 1\n",
        "",
    );
    let r = server
        .request(
            "POST",
            "/api/v1/cases",
            Some(r#"{"title":"complaint","district":"lixia"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json().expect("json")["id"].as_i64().expect("id");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = server.get_json(&format!("/api/v1/cases/{id}")).await;
        let kinds: Vec<String> = v["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["action"]["action"].as_str().unwrap_or("").to_owned())
            .collect();
        if kinds.contains(&"escalated".to_owned()) {
            assert_eq!(v["case"]["escalated"], true);
            assert_eq!(
                kinds.iter().filter(|k| *k == "escalated").count(),
                1,
                "once per stage"
            );
            assert!(v["overdue_since"].is_string());
            let events = v["events"].as_array().expect("events");
            assert_eq!(events.last().expect("event")["actor"], "system");
            break;
        }
        assert!(Instant::now() < deadline, "not escalated: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let overdue = server.get_json("/api/v1/cases?overdue=true").await;
    assert_eq!(overdue.as_array().expect("list").len(), 1);
}

/// What the pages build on: the districts with their names, the state of every point a user may
/// see, the officers a case may go to, names with the points, and the admin API refusing an
/// enterprise that is not registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_point_state_and_pick_lists() {
    let dir = TempDir::new("names");
    std::fs::write(dir.0.join("points.toml"), POINTS).expect("points");
    let server = TestServer::start(&dir.0, "");
    register(&server).await;
    let tokens = role_tokens(&server);
    let token = |role: &str| {
        tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.clone())
            .expect("role")
    };
    user_token(
        &server.data_dir,
        "zhang",
        &["--role", "district_officer", "--district", "shizhong"],
    );

    let districts = server.get_json("/api/v1/districts").await;
    let lixia = districts
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["code"] == "lixia"))
        .expect("lixia");
    assert_eq!(lixia["name_zh"], "历下区");
    assert_eq!(lixia["name_en"], "Lixia District");

    // The enterprise's name comes with its point.
    let stack = server.get_json("/api/v1/points/stack").await;
    assert_eq!(stack["enterprise_name"], "甲化工", "{stack}");

    // State: the device that reported is online; an enterprise user sees its own point only.
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut qn = 0;
    send_hour(&mut link, midnight_days_ago(1) + 8 * 3600, "30", &mut qn).await;
    let status = server.get_json("/api/v1/points/status").await;
    let of = |id: &str| {
        status
            .as_array()
            .and_then(|s| s.iter().find(|p| p["id"] == id))
            .cloned()
            .expect("point in status")
    };
    assert_eq!(of("stack")["online"], true, "{status}");
    assert!(of("other")["online"].is_null(), "never seen: {status}");
    let mine = server
        .request_as(&token("enterprise"), "GET", "/api/v1/points/status", None)
        .await
        .json()
        .expect("json");
    let ids: Vec<&str> = mine
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["stack"], "{mine}");

    // Officers for a Lixia case: its district officer and the city-wide roles, not Shizhong's.
    let officers = server.get_json("/api/v1/officers?district=lixia").await;
    let names: Vec<&str> = officers
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["username"].as_str())
        .collect();
    assert!(
        names.contains(&"li") && names.contains(&"duty"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"zhang") && !names.contains(&"ana"),
        "{names:?}"
    );

    // Water over a day and an hour as well as a month; exactly one period.
    let day = server
        .request("GET", "/api/v1/points/stack/water?date=2026-11-01", None)
        .await;
    assert_eq!(day.status, 200, "{}", day.text());
    assert_eq!(day.json().expect("json")["period"], "day");
    let both = server
        .request(
            "GET",
            "/api/v1/points/stack/water?date=2026-11-01&month=2026-11",
            None,
        )
        .await;
    assert_eq!(both.status, 400, "{}", both.text());

    // A user of an enterprise that is not registered is refused, with the reason.
    let r = server
        .request(
            "POST",
            "/api/v1/users",
            Some(r#"{"username":"ghost","role":"enterprise","enterprise":"91370100MA3C0000ZZ","password":"a long enough password"}"#),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("not in the enterprises registry"),
        "{}",
        r.text()
    );
}
