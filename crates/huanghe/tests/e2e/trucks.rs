//! Trucks through the real binary: a registered truck's terminal logs in on the HJ 1239 port,
//! sends reports, is acknowledged once they are stored, and the API shows the truck, its
//! records, its track and its frames, to whom may see them.

use std::time::{SystemTime, UNIX_EPOCH};

use hj1239::message::Position;
use hj1239::report::{DieselStream, Info, Item, Layout, Report};
use hj1239::{Frame, Message, Time};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::TestServer;
use crate::cases::{E1, E2};

const VIN: &str = "LGDCHA1G8MA127733";

async fn read_frame(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut head = [0u8; 24];
    s.read_exact(&mut head).await.expect("header");
    let n = usize::from(u16::from_be_bytes([head[22], head[23]]));
    let mut rest = vec![0u8; n + 1];
    s.read_exact(&mut rest).await.expect("rest");
    [head.to_vec(), rest].concat()
}

fn report(t0: i64) -> Vec<u8> {
    let r = Report {
        layout: Layout::Hj1239,
        time: Time::from_unix(t0 + 10),
        serial: Some(1),
        items: (0..10)
            .map(|i| Item {
                info: Info::Diesel(DieselStream {
                    speed: Some(40.0 + i as f64),
                    engine_speed: Some(1300.0),
                    nox_upstream: Some(600.0),
                    nox_downstream: Some(30.0),
                    position: Position {
                        status: 0,
                        longitude: Some(117_000_000 + i as u32 * 100),
                        latitude: Some(36_650_000),
                    },
                    ..DieselStream::default()
                }),
                serial: None,
                time: Some(Time::from_unix(t0 + i)),
                signature: None,
            })
            .collect(),
        signature: None,
        unread: None,
    };
    Message::RealTime {
        time: r.time,
        body: r.encode(),
    }
    .encode(VIN, 1)
    .expect("encode")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_truck_is_received_acknowledged_and_shown_to_its_owner_only() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(dir.path(), "");
    for (code, district) in [(E1, "lixia"), (E2, "shizhong")] {
        let ent = json!({"credit_code": code, "name": code, "district": district, "industry": "物流",
                         "location": [117.0, 36.65]});
        let r = server
            .request(
                "POST",
                "/api/v1/registries/enterprises/entries",
                Some(&ent.to_string()),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;

    // Before the truck is registered, its frames are quarantined and not answered.
    let mut c = tokio::net::TcpStream::connect(server.hj1239)
        .await
        .expect("connect");
    c.write_all(&report(now - 30)).await.expect("send");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let quarantined = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the frame was never logged"
        );
        let q = server
            .get_json("/api/v1/truck-frames?quarantined=true")
            .await;
        if q.as_array().is_some_and(|a| !a.is_empty()) {
            break q;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        quarantined[0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("unknown_vin")),
        "{quarantined}"
    );
    drop(c);

    let truck = json!({"vin": VIN, "plate": "鲁A·D1234", "enterprise": E1, "fleet": "甲物流一队",
                       "district": "lixia", "fuel": "diesel", "emission_stage": "china_6a",
                       "after_treatment": ["scr", "dpf"], "status": "active"});
    let r = server
        .request(
            "POST",
            "/api/v1/registries/heavy_duty_vehicles/entries",
            Some(&truck.to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());

    let mut c = tokio::net::TcpStream::connect(server.hj1239)
        .await
        .expect("connect");
    let login = Message::Login {
        time: Time::from_unix(now),
        serial: 1,
        iccid: "89860000000000000001".into(),
    };
    c.write_all(&login.encode(VIN, 1).expect("login"))
        .await
        .expect("send");
    assert_eq!(read_frame(&mut c).await[2], 0x01, "login acknowledged");
    c.write_all(&[report(now - 20), report(now - 10)].concat())
        .await
        .expect("send");
    for _ in 0..2 {
        let ack = read_frame(&mut c).await;
        assert_eq!(Frame::parse(&ack).expect("ack").command, 0x02);
    }

    let list = server.get_json("/api/v1/vehicles").await;
    let v = &list.as_array().expect("list")[0];
    assert_eq!(v["vin"], VIN);
    assert_eq!(v["state"], "driving", "{v}");
    assert_eq!(v["online"], true);
    assert_eq!(v["latest"]["speed"], 49.0);
    let from = bjtime::rfc3339(now - 60).replace('+', "%2B");
    let records = server
        .get_json(&format!("/api/v1/vehicles/{VIN}/records?from={from}"))
        .await;
    assert_eq!(records.as_array().map(Vec::len), Some(20));
    assert_eq!(records[0]["values"]["type"], "diesel");
    assert_eq!(records[0]["values"]["nox_upstream"], 600.0);
    let track = server
        .get_json(&format!("/api/v1/vehicles/{VIN}/track"))
        .await;
    assert_eq!(track["points"].as_array().map(Vec::len), Some(20));
    assert_eq!(track["points"][0][1], 117.0);

    let d = &server.data_dir;
    let owner = crate::user_token(d, "ent1", &["--role", "enterprise", "--enterprise", E1]);
    let other = crate::user_token(d, "ent2", &["--role", "enterprise", "--enterprise", E2]);
    let r = server
        .request_as(&owner, "GET", "/api/v1/vehicles", None)
        .await;
    assert_eq!(r.json().expect("json").as_array().map(Vec::len), Some(1));
    let r = server
        .request_as(&other, "GET", "/api/v1/vehicles", None)
        .await;
    assert_eq!(
        r.json().expect("json").as_array().map(Vec::len),
        Some(0),
        "another fleet's trucks are not shown"
    );
    let r = server
        .request_as(
            &other,
            "GET",
            &format!("/api/v1/vehicles/{VIN}/track"),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = server
        .request_as(&owner, "GET", "/api/v1/truck-frames", None)
        .await;
    assert_eq!(r.status, 403, "raw frames are for device staff");
    let bad = server
        .request(
            "GET",
            &format!(
                "/api/v1/vehicles/{VIN}/records?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"
            ),
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let metrics = server.request("GET", "/metrics", None).await.text();
    assert!(
        metrics.contains("huanghe_hj1239_records_stored_total 20"),
        "{metrics}"
    );
}
