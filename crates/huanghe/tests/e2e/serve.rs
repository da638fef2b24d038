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
    // The text never shows the device's password; the exact bytes only to whoever may set it.
    let bytes =
        |p: &serde_json::Value| hex::decode(p["raw_hex"].as_str().expect("hex")).expect("hex");
    assert!(
        log[0]["raw"].as_str().expect("raw").contains(";PW=******;"),
        "{}",
        log[0]
    );
    assert!(String::from_utf8_lossy(&bytes(&log[0])).contains(";PW=123456;"));
    let analyst = crate::user_token(&server.data_dir, "ana", &["--role", "analyst"]);
    let seen = server
        .request_as(&analyst, "GET", "/api/v1/packets?mn=MN0001&limit=1", None)
        .await
        .json()
        .expect("json");
    assert!(
        String::from_utf8_lossy(&bytes(&seen[0])).contains(";PW=******;"),
        "{seen}"
    );

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
    // `link` and these 39 are the 40 the cap allows: wait until the server has accepted them
    // (it does so asynchronously).
    crate::until("the 40 connections accepted", T, || async {
        let metrics = server.request("GET", "/metrics", None).await.text();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("huanghe_hj212_connections_open "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|open| *open >= 40.0)
    })
    .await;
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

/// A 2051 frame of MN0001 with this DataTime and CP body (bytes as given), with its CRC.
fn minute_frame(qn: &str, data_time: &str, cp: &[u8]) -> Vec<u8> {
    let mut data =
        format!("QN={qn};ST=31;CN=2051;PW=123456;MN=MN0001;Flag=5;CP=&&{data_time}").into_bytes();
    data.extend_from_slice(cp);
    data.extend_from_slice(b"&&");
    let mut out = bytes::BytesMut::new();
    hj212::frame::write_frame(&data, &mut out).expect("short enough");
    out.to_vec()
}

#[tokio::test]
async fn values_and_times_outside_the_syntax_never_become_measurements() {
    let dir = TempDir::new("malformed");
    one_point(&dir);
    let server = TestServer::start(&dir.0, "");
    let start = midnight_days_ago(1);
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let dt = |minute: i64| {
        format!(
            "DataTime={};",
            hj212::LocalTime::from_unix_millis((start + minute * 60) * 1000).to_protocol()
        )
    };
    let good = b"a21026-Min=30.0,a21026-Avg=35.2,a21026-Max=40.1,a21026-Flag=N";
    let bad: [&[u8]; 10] = [
        b"a21002-Avg=abc,a21002-Flag=N",
        b"a21002-Avg=NaN,a21002-Flag=N",
        b"a21002-Avg=inf,a21002-Flag=N",
        b"a21002-Avg=1.\x00 5,a21002-Flag=N",
        b"a21002-Avg=\xC9\xE8\xB1\xB8\xB9\xCA\xD5\xCF,a21002-Flag=N",
        b"a21002-Avg=\xFF\xFE\x80,a21002-Flag=N",
        b"a21002-Avg=12.5,a21002-Flag=\x00",
        b"a21002-Avg=12.5,a21002-Flag=\xB9\xCA",
        b"a21002-Avg=12.5,a21002-Flag=X",
        b"a21002-Avg=-,a21002-Flag=N",
    ];
    let mut sent = Vec::new();
    for (i, b) in bad.iter().enumerate() {
        // The bad group beside a good one: the good one is stored and acknowledged.
        let mut cp = b.to_vec();
        cp.push(b';');
        cp.extend_from_slice(good);
        let qn = format!("2026120100000{i:04}");
        let frame = minute_frame(&qn, &dt(i as i64), &cp);
        link.send(&frame).await.expect("sent");
        let a = link.read_packet(T).await.expect("answer");
        assert_eq!(
            (a.cn(), a.exchange_qn()),
            ("9014", Some(qn.as_str())),
            "{}",
            String::from_utf8_lossy(b)
        );
        sent.push(frame);
        // The bad group alone: nothing to store, refused with QnRtn=2.
        let qn = format!("2026120100001{i:04}");
        link.send(&minute_frame(&qn, &dt(20 + i as i64), b))
            .await
            .expect("sent");
        let a = link.read_packet(T).await.expect("answer");
        assert_eq!((a.cn(), a.exchange_qn()), ("9011", Some(qn.as_str())));
        assert_eq!(
            qn_rtn(&a).as_deref(),
            Some("2"),
            "{}",
            String::from_utf8_lossy(b)
        );
    }
    // Data uploads whose DataTime is missing, not a time, or far in the future: 9011 with
    // QnRtn=2, never 9014, and nothing stored.
    let future = hj212::LocalTime::from_unix_millis((midnight_days_ago(-3)) * 1000).to_protocol();
    for (i, time) in [
        String::new(),
        "DataTime=;".into(),
        "DataTime=20261340250000;".into(),
        "DataTime=20260230120000;".into(),
        "DataTime=2026;".into(),
        format!("DataTime={future};"),
    ]
    .iter()
    .enumerate()
    {
        let qn = format!("2026120100002{i:04}");
        link.send(&minute_frame(&qn, time, good))
            .await
            .expect("sent");
        let a = link.read_packet(T).await.expect("answer");
        assert_eq!(
            (a.cn(), a.exchange_qn()),
            ("9011", Some(qn.as_str())),
            "{time}"
        );
        assert_eq!(qn_rtn(&a).as_deref(), Some("2"), "{time}");
    }

    // The series holds the good group of each mixed packet and nothing else.
    let series = server
        .get_json(&format!(
            "/api/v1/points/p1/series?type=min&from={}&to={}",
            iso_query(start - 86_400),
            iso_query(start + 10 * 86_400)
        ))
        .await;
    let rows = series.as_array().expect("array");
    assert_eq!(rows.len(), bad.len(), "{series}");
    for row in rows {
        assert_eq!(row["code"], "a21026", "{row}");
        for (name, v) in row["fields"].as_object().expect("fields") {
            let v = v.as_str().expect("text");
            if name == "flag" {
                assert_eq!(v, "N");
            } else {
                assert!(hj212::Decimal::parse(v).is_ok(), "{name}={v:?} is a number");
            }
        }
    }

    // The quarantine lists the mixed packets with the fields left out, the refused ones with
    // their reason, and every frame byte for byte.
    let q = server
        .get_json("/api/v1/packets?quarantined=true&limit=100")
        .await;
    let q = q.as_array().expect("array");
    let partial: Vec<&serde_json::Value> = q.iter().filter(|p| p["status"] == "stored").collect();
    assert_eq!(partial.len(), bad.len());
    for p in &partial {
        let fields = p["quarantined_fields"].as_array().expect("fields");
        assert_eq!(fields.len(), 1, "{p}");
        assert!(
            fields[0].as_str().is_some_and(|f| f.starts_with("a21002-")),
            "{p}"
        );
    }
    let reasons = |r: &str| q.iter().filter(|p| p["reason"] == r).count();
    assert_eq!(reasons("invalid_values"), bad.len());
    assert_eq!(reasons("data_time"), 6);
    let hex_of =
        |p: &serde_json::Value| hex::decode(p["raw_hex"].as_str().expect("raw_hex")).expect("hex");
    for frame in &sent {
        let stored = partial
            .iter()
            .map(|p| hex_of(p))
            .find(|b| b == frame)
            .expect("the frame is kept byte for byte");
        let f = hj212::Frame::from_bytes(&stored).expect("one frame");
        assert!(
            f.verify_crc().is_standard(),
            "CRC re-checked from the stored bytes"
        );
    }
    // The GBK frame reads as its Chinese text.
    assert!(
        partial
            .iter()
            .any(|p| p["raw"].as_str().is_some_and(|r| r.contains("设备故障"))),
        "GBK shown decoded"
    );
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A `/proc/<pid>/status` figure in kB (`VmRSS`, `VmHWM`).
fn proc_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("proc status")
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .expect("figure")
}

/// Sends a 50 MB login body (declared with Content-Length, or chunked without a length) while
/// reading the answer; returns the status line.
async fn huge_login(addr: std::net::SocketAddr, chunked: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const SIZE: usize = 50 * 1024 * 1024;
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {SIZE}")
        };
        let head = format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n["
        );
        wr.write_all(head.as_bytes()).await?;
        let piece = "1,".repeat(32 * 1024);
        let mut sent = 1;
        while sent + piece.len() < SIZE {
            if chunked {
                wr.write_all(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes())
                    .await?;
            } else {
                wr.write_all(piece.as_bytes()).await?;
            }
            sent += piece.len();
        }
        Ok::<_, std::io::Error>(())
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writer.abort();
    assert!(read.is_ok(), "answered within 30 s");
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn oversized_bodies_are_refused_unread_and_audited_by_size_only() {
    let dir = TempDir::new("bodies");
    let server = TestServer::start(&dir.0, "");
    // Let start-up settle, then take the idle figures.
    assert_eq!(
        server.request("GET", "/api/v1/auth/me", None).await.status,
        200
    );
    let idle_kb = proc_kb(server.pid(), "VmRSS");
    let before = dir_bytes(&server.data_dir);
    for i in 0..20 {
        let status = huge_login(server.http, i % 2 == 1).await;
        assert!(status.contains(" 413 "), "request {i}: {status:?}");
    }
    // The server still answers, and the audit has one short row per refused request.
    let audit = server
        .get_json("/api/v1/audit?path=/api/v1/auth/login&limit=100")
        .await;
    let rows = audit.as_array().expect("rows");
    assert_eq!(rows.len(), 20, "{audit}");
    for row in rows {
        assert_eq!(row["status"], 413, "{row}");
        assert!(
            row["after"]["bytes"]
                .as_u64()
                .is_some_and(|b| b > 16 * 1024),
            "{row}"
        );
        assert!(
            row["after"]["refused"]
                .as_str()
                .is_some_and(|r| r.contains("over")),
            "{row}"
        );
        assert!(row.to_string().len() < 1024, "a bounded row: {row}");
    }
    let grown = dir_bytes(&server.data_dir).saturating_sub(before);
    assert!(grown < 1024 * 1024, "data directory grew by {grown} bytes");
    let peak_kb = proc_kb(server.pid(), "VmHWM");
    assert!(
        peak_kb < idle_kb + 100 * 1024,
        "peak {peak_kb} kB against {idle_kb} kB idle"
    );
    // A JSON body over a route's limit (1 MB for ordinary writes) gets 413 too, from an
    // authenticated user, and is audited by size.
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = server.request("POST", "/api/v1/points", Some(&big)).await;
    assert_eq!(r.status, 413, "{}", r.text());
    let audit = server
        .get_json("/api/v1/audit?path=/api/v1/points&limit=10")
        .await;
    assert_eq!(audit[0]["status"], 413);
    assert!(audit[0].to_string().len() < 1024);
    // A refused write of normal size is audited by size and reason, not content.
    let r = server
        .request(
            "POST",
            "/api/v1/points",
            Some("{\"id\":\"secret-looking text\"}"),
        )
        .await;
    assert_eq!(r.status / 100, 4);
    let audit = server
        .get_json("/api/v1/audit?path=/api/v1/points&limit=10")
        .await;
    assert!(
        !audit[0].to_string().contains("secret-looking"),
        "{}",
        audit[0]
    );
    assert!(audit[0]["after"]["refused"].is_string(), "{}", audit[0]);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let dir = TempDir::new("headers");
    let server = TestServer::start(&dir.0, "");
    for (path, token) in [
        ("/", ""),
        ("/assets/app.js", ""),
        ("/api/v1/auth/me", ""),
        ("/api/v1/points", server.token.as_str()),
        ("/api/v1/nothing", server.token.as_str()),
    ] {
        let r = server.request_as(token, "GET", path, None).await;
        let h = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert!(
            h("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{path}");
        assert!(
            h("strict-transport-security").is_empty(),
            "no HSTS over plain HTTP"
        );
    }
    drop(server);
    // Behind HTTPS: the session cookie is Secure and HSTS is sent.
    let dir = TempDir::new("headers-https");
    let server = TestServer::start_full(&dir.0, "", "", "https = true");
    let login =
        serde_json::json!({"username": "admin", "password": crate::TEST_PASSWORD}).to_string();
    let r = server
        .request_as("", "POST", "/api/v1/auth/login", Some(&login))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let h = |name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(h("set-cookie").contains("; Secure"), "{}", h("set-cookie"));
    assert!(h("strict-transport-security").starts_with("max-age="));
}

#[tokio::test]
async fn device_state_survives_a_restart_and_a_crash() {
    let dir = TempDir::new("devices-restart");
    one_point(&dir);
    let mut server = TestServer::start(&dir.0, "");
    let start = midnight_days_ago(1);
    let mut logger = Logger::gas("MN0001", "123456", 2, start, 1);
    let mut send = async |server: &TestServer, n: usize| {
        let mut link = Link::connect(server.hj212).await.expect("connects");
        for _ in 0..n {
            let (qn, _, m) = logger.next_message(1_700_000_000_000);
            link.send_data(&m, &qn, T).await.expect("9014");
        }
    };
    send(&server, 3).await;
    let device = |v: serde_json::Value| -> serde_json::Value {
        v.as_array()
            .and_then(|a| a.iter().find(|d| d["mn"] == "MN0001").cloned())
            .unwrap_or_else(|| panic!("MN0001 in {v}"))
    };
    let before = device(server.get_json("/api/v1/devices").await);
    assert_eq!(before["packets"], 3);
    // An orderly restart: offline, the same last packet and count.
    server.stop();
    let mut server = TestServer::start(&dir.0, "");
    let after = device(server.get_json("/api/v1/devices").await);
    assert_eq!(after["online"], false, "{after}");
    assert_eq!(after["last_packet"], before["last_packet"]);
    assert_eq!(after["packets"], 3);
    // A crash right after two more frames: the last packet comes from the raw log.
    send(&server, 2).await;
    let live = device(server.get_json("/api/v1/devices").await);
    server.kill();
    let server = TestServer::start(&dir.0, "");
    let crashed = device(server.get_json("/api/v1/devices").await);
    assert_eq!(crashed["online"], false);
    assert_eq!(
        crashed["last_packet"], live["last_packet"],
        "{crashed} vs {live}"
    );
    assert!(
        crashed["packets"].as_u64().is_some_and(|n| n >= 3),
        "{crashed}"
    );
}
