//! `huanghe serve`: real TCP exchanges, the API, bad input, connection limits.

use std::time::Duration;

use hj212::{FieldKind, Message, Packet};
use simulator::{Link, Logger};

use crate::{TempDir, TestServer, iso_query, midnight_days_ago, points_toml};

const T: Duration = Duration::from_secs(20);

fn one_point(dir: &TempDir) {
    std::fs::write(
        dir.0.join("points.toml"),
        points_toml(&[("p1".into(), "MN0001".into(), "123456".into())]),
    )
    .expect("points written");
}

fn value(message: &Message, code: &str, kind: FieldKind) -> String {
    let name = format!("{code}-{}", kind.name());
    message
        .cp
        .groups
        .iter()
        .flatten()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.clone())
        .expect("field present")
}

#[tokio::test]
async fn data_is_acknowledged_stored_once_corrected_with_history_and_queried_back() {
    let dir = TempDir::new("exchange");
    one_point(&dir);
    let server = TestServer::start(&dir.0, "");
    let start = midnight_days_ago(1);
    let mut logger = Logger::gas("MN0001", "123456", 3, start, 1);
    let mut link = Link::connect(server.hj212).await.expect("connects");

    let (qn, t0, first) = logger.next_message(1_700_000_000_000);
    link.send_data(&first, &qn, T)
        .await
        .expect("9014 for the first packet");
    // The same packet again (a retransmission): acknowledged, nothing stored twice.
    link.send_data(&first, &qn, T)
        .await
        .expect("9014 for the repeat");
    // Ten more minutes.
    for _ in 0..10 {
        let (qn, _, m) = logger.next_message(1_700_000_001_000);
        link.send_data(&m, &qn, T).await.expect("9014");
    }
    // A correction of the first minute (same MN, CN and DataTime, another QN, another value).
    let mut fixed = first.clone();
    for group in &mut fixed.cp.groups {
        for (name, v) in group.iter_mut() {
            if name == "a21026-Avg" {
                *v = "99.99".into();
            }
        }
    }
    fixed.set("QN", "20231114221320002");
    link.send_data(&fixed, "20231114221320002", T)
        .await
        .expect("9014 for the correction");

    let range = format!("from={}&to={}", iso_query(start), iso_query(start + 3600));
    let series = server
        .get_json(&format!(
            "/api/v1/points/p1/series?type=min&code=a21026&{range}"
        ))
        .await;
    let rows = series.as_array().expect("array");
    assert_eq!(rows.len(), 11, "11 distinct minutes: {series}");
    assert_eq!(rows[0]["time"], iso_query(t0).replace("%2B", "+"));
    assert_eq!(rows[0]["fields"]["avg"], "99.99");
    assert_eq!(
        rows[0]["fields"]["flag"],
        value(&first, "a21026", FieldKind::Flag)
    );
    assert_eq!(rows[0]["type"], "min");

    let history = server.get_json("/api/v1/points/p1/history").await;
    let h = &history.as_array().expect("array")[0]["observation"];
    assert_eq!(h["code"], "a21026");
    assert_eq!(h["fields"]["avg"], value(&first, "a21026", FieldKind::Avg));

    // Every frame is in the raw log; the repeat is marked duplicate.
    let log = server.get_json("/api/v1/packets?mn=MN0001&limit=100").await;
    let statuses: Vec<&str> = log
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses.len(), 13);
    assert_eq!(statuses.iter().filter(|s| **s == "duplicate").count(), 1);
    assert!(log[0]["raw"].as_str().expect("raw").starts_with("##"));
    assert_eq!(log[0]["crc_variant"], "hj212");

    // CSV for the same query.
    let csv = server
        .request(
            "GET",
            &format!("/api/v1/points/p1/series?type=min&code=a21026&format=csv&{range}"),
            None,
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/csv"))
    );
    let text = csv.text();
    assert_eq!(text.lines().next(), Some("time,code,avg,flag,max,min"));
    assert_eq!(text.lines().count(), 12);

    let latest = server.get_json("/api/v1/points/p1/latest").await;
    assert_eq!(latest.as_array().expect("array").len(), 3, "one per code");

    let devices = server.get_json("/api/v1/devices").await;
    assert_eq!(devices[0]["mn"], "MN0001");
    assert_eq!(devices[0]["online"], true);
    assert_eq!(devices[0]["packets"], 13);

    let capture = server
        .get_json(&format!(
            "/api/v1/points/p1/capture?type=min&from={}&to={}",
            iso_query(start),
            iso_query(start + 86_400)
        ))
        .await;
    let day = capture["days"]
        .as_array()
        .expect("days")
        .iter()
        .find(|d| d["code"] == "a21026")
        .expect("a21026");
    assert_eq!(day["received"], 11);
    assert_eq!(day["expected"], 1440);

    let metrics = server.request("GET", "/metrics", None).await.text();
    assert!(
        metrics.contains("huanghe_hj212_frames_stored_total 12"),
        "{metrics}"
    );
    assert!(metrics.contains("huanghe_hj212_frames_duplicate_total 1"));
    assert!(metrics.contains("huanghe_hj212_connections_open 1"));

    let doc = server.get_json("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/points",
        "/api/v1/points/{id}/series",
        "/api/v1/points/{id}/capture",
        "/api/v1/devices",
        "/api/v1/packets",
        "/metrics",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} in the OpenAPI document"
        );
    }
    drop(link);
    let mut server = server;
    server.stop();
}

#[tokio::test]
async fn points_are_managed_through_the_api() {
    let dir = TempDir::new("points");
    let server = TestServer::start(&dir.0, "");
    let body = r#"{"id":"w1","name":"outlet 1","mn":"MNW1","password":"pw1","kind":"water_outlet",
                  "codes":{"w01018":{"limit":50.0,"unit":"mg/L"}}}"#;
    let r = server.request("POST", "/api/v1/points", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let again = server.request("POST", "/api/v1/points", Some(body)).await;
    assert_eq!(again.status, 409);
    let shown = server.get_json("/api/v1/points/w1").await;
    assert_eq!(shown["codes"]["w01018"]["limit"], 50.0);
    assert!(
        shown.get("password").is_none(),
        "the password is write-only"
    );
    let clash = r#"{"id":"w2","name":"x","mn":"MNW1","password":"p"}"#;
    let r = server
        .request("PUT", "/api/v1/points/w2", Some(clash))
        .await;
    assert_eq!(r.status, 409, "MN taken: {}", r.text());
    let bad = r#"{"id":"w3","name":"x","mn":"MN&3","password":"p"}"#;
    let r = server.request("PUT", "/api/v1/points/w3", Some(bad)).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("mn"), "{}", r.text());
    let r = server
        .request("GET", "/api/v1/points/w1/series?type=week", None)
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("type"));
    let r = server
        .request("GET", "/api/v1/points/w1/series?from=yesterday", None)
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("RFC 3339"), "{}", r.text());

    // The gateway knows the new point at once.
    let mut logger = Logger::gas("MNW1", "pw1", 1, midnight_days_ago(0), 3);
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let (qn, _, m) = logger.next_message(1_700_000_000_000);
    link.send_data(&m, &qn, T)
        .await
        .expect("accepted after the API created it");

    let r = server.request("DELETE", "/api/v1/points/w1", None).await;
    assert_eq!(r.status, 204);
    let (qn, _, m) = logger.next_message(1_700_000_000_000);
    link.send(&m.encode().expect("encodes"))
        .await
        .expect("sent");
    let answer = link.read_packet(T).await.expect("answer");
    assert_eq!(answer.cn(), "9011");
    assert_eq!(answer.exchange_qn(), Some(qn.as_str()));
    assert_eq!(
        server
            .request("GET", "/api/v1/points/w1", None)
            .await
            .status,
        404
    );
    assert_eq!(
        server.request("GET", "/api/v1/nothing", None).await.status,
        404
    );
}

fn qn_rtn(p: &Packet) -> Option<String> {
    p.param("QnRtn").map(str::to_owned)
}

#[tokio::test]
async fn bad_input_gets_its_reply_or_a_closed_connection_and_stores_nothing() {
    let dir = TempDir::new("bad");
    one_point(&dir);
    let server = TestServer::start(
        &dir.0,
        "frame_timeout_s = 2\nidle_timeout_s = 60\nmax_connections_per_ip = 40",
    );
    let start = midnight_days_ago(2);
    let mut link = Link::connect(server.hj212).await.expect("connects");

    // Unknown MN: 9011 with QnRtn=4 (MN error).
    let mut stranger = Logger::gas("MN9999", "123456", 2, start, 5);
    let (qn, _, m) = stranger.next_message(1_700_000_000_000);
    link.send(&m.encode().expect("encodes"))
        .await
        .expect("sent");
    let a = link.read_packet(T).await.expect("answer");
    assert_eq!((a.cn(), a.exchange_qn()), ("9011", Some(qn.as_str())));
    assert_eq!(qn_rtn(&a).as_deref(), Some("4"));

    // Wrong password: QnRtn=3.
    let mut impostor = Logger::gas("MN0001", "000000", 2, start, 6);
    let (_, _, m) = impostor.next_message(1_700_000_000_000);
    link.send(&m.encode().expect("encodes"))
        .await
        .expect("sent");
    let a = link.read_packet(T).await.expect("answer");
    assert_eq!(qn_rtn(&a).as_deref(), Some("3"));

    // Bad CRC: QnRtn=9.
    let mut good = Logger::gas("MN0001", "123456", 2, start, 7);
    let (_, _, m) = good.next_message(1_700_000_000_000);
    let mut bytes = m.encode().expect("encodes");
    let crc_at = bytes.len() - 6;
    bytes[crc_at] = if bytes[crc_at] == b'0' { b'1' } else { b'0' };
    link.send(&bytes).await.expect("sent");
    let a = link.read_packet(T).await.expect("answer");
    assert_eq!(qn_rtn(&a).as_deref(), Some("9"));

    // Garbage and a frame whose length lies: no data, and the connection still works.
    link.send(b"GET / HTTP/1.1\r\n\r\n\x00\xff##")
        .await
        .expect("sent");
    let (qn, _, m) = good.next_message(1_700_000_000_000);
    let mut lying = m.encode().expect("encodes");
    lying[2..6].copy_from_slice(b"0007");
    link.send(&lying).await.expect("sent");
    let a = link
        .read_packet(T)
        .await
        .expect("answer to the lying length");
    assert_eq!((a.cn(), a.exchange_qn()), ("9011", Some(qn.as_str())));
    let (qn, _, m) = good.next_message(1_700_000_000_000);
    link.send_data(&m, &qn, T)
        .await
        .expect("a good packet still gets 9014");

    // Oversized: a frame that declares 9999 bytes and keeps coming is cut off.
    let mut flood = Link::connect(server.hj212).await.expect("connects");
    let mut big = b"##9999QN=1;ST=31;CN=2051;CP=&&".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20_000));
    let _ = flood.send(&big).await;
    flood
        .closed_within(Duration::from_secs(1))
        .await
        .expect("closed at once: the frame exceeds the cap");

    // A slow sender that starts a frame and stalls is closed after frame_timeout_s.
    let mut slow = Link::connect(server.hj212).await.expect("connects");
    slow.send(b"##0101QN=2023").await.expect("sent");
    let began = std::time::Instant::now();
    slow.closed_within(Duration::from_secs(10))
        .await
        .expect("closed by the frame deadline");
    assert!(began.elapsed() >= Duration::from_millis(1500));

    // A connection flood from one address: beyond the cap, connections are closed at once.
    let mut held = Vec::new();
    for _ in 0..39 {
        held.push(Link::connect(server.hj212).await.expect("connects"));
    }
    // `link` and these 39 are the 40 the cap allows (the server accepts them asynchronously).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = Link::connect(server.hj212).await.expect("TCP accepts");
    extra
        .closed_within(Duration::from_secs(5))
        .await
        .expect("the 41st connection from one address is closed");
    drop(held);

    // Nothing of all that was stored as data: only the two good minutes.
    let series = server
        .get_json(&format!(
            "/api/v1/points/p1/series?type=min&from={}&to={}",
            iso_query(start),
            iso_query(start + 86_400)
        ))
        .await;
    let times: std::collections::BTreeSet<&str> = series
        .as_array()
        .expect("array")
        .iter()
        .map(|o| o["time"].as_str().expect("time"))
        .collect();
    assert_eq!(
        times.len(),
        1,
        "only the one good packet's minute: {series}"
    );
    let quarantine = server
        .get_json("/api/v1/packets?quarantined=true&limit=100")
        .await;
    let reasons: Vec<&str> = quarantine
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["reason"].as_str().expect("reason"))
        .collect();
    for expected in ["unknown_mn", "wrong_password", "crc", "length"] {
        assert!(reasons.contains(&expected), "{expected} in {reasons:?}");
    }
    assert!(
        reasons.iter().any(|r| r.starts_with("frame")),
        "garbage is logged: {reasons:?}"
    );
}

#[tokio::test]
async fn ten_thousand_concurrent_connections() {
    const N: usize = 10_000;
    let dir = TempDir::new("c10k");
    let points: Vec<(String, String, String)> = (0..N)
        .map(|i| (format!("c{i}"), format!("C10K{i:06}"), "123456".to_owned()))
        .collect();
    std::fs::write(dir.0.join("points.toml"), points_toml(&points)).expect("points");
    let server = TestServer::start(&dir.0, "");
    let start = midnight_days_ago(1);
    // Open every connection first, then every logger sends one packet over its connection.
    let mut links = Vec::with_capacity(N);
    for _ in 0..N {
        links.push(Link::connect(server.hj212).await.expect("connects"));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut link) in links.into_iter().enumerate() {
        tasks.spawn(async move {
            let mut logger = Logger::gas(&format!("C10K{i:06}"), "123456", 2, start, i as u64);
            let (qn, _, m) = logger.next_message(1_700_000_000_000);
            link.send_data(&m, &qn, Duration::from_secs(120))
                .await
                .map(|_| link)
        });
    }
    let mut alive = Vec::with_capacity(N);
    while let Some(r) = tasks.join_next().await {
        alive.push(r.expect("task").expect("acknowledged"));
    }
    assert_eq!(alive.len(), N);
    let metrics = server.request("GET", "/metrics", None).await.text();
    assert!(
        metrics.contains(&format!("huanghe_hj212_connections_open {N}")),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("connections"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(metrics.contains(&format!("huanghe_devices_online {N}")));
    drop(alive);
}
