//! Alarms end to end: raised from stored data, one per ongoing condition, cleared, reopened by
//! late data, acknowledged, streamed, kept across a restart; silence on a simulated clock.

use std::time::{Duration, Instant};

use hj212::LocalTime;
use serde_json::Value;
use simulator::Link;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{TempDir, TestServer, midnight_days_ago};

pub(crate) const T: Duration = Duration::from_secs(20);

const POINTS: &str = "[[points]]\nid = \"stack\"\nname = \"stack\"\nmn = \"GAS0001\"\npassword = \"123456\"\nkind = \"gas_outlet\"\nmin_interval_min = 10\nrtd_interval_s = 30\n\
                      [points.codes.a21026]\nlimit = 35.0\nref_o2 = 6.0\n";

pub(crate) async fn send_hour(link: &mut Link, hour: i64, so2: &str, qn: &mut u32) {
    send_records(link, hour, so2, "N", qn, 6).await;
}

/// The first `n` ten-minute records of an hour.
async fn send_records(link: &mut Link, hour: i64, so2: &str, flag: &str, qn: &mut u32, n: i64) {
    for k in 0..n {
        *qn += 1;
        let q = format!("20261101000000{:03}", *qn % 1000);
        let mut cp =
            hj212::DataArea::new().data_time(LocalTime::from_unix_millis((hour + k * 600) * 1000));
        cp = cp.pollutant(
            "a21026",
            &[(hj212::FieldKind::Avg, so2), (hj212::FieldKind::Flag, flag)],
        );
        cp = cp.pollutant(
            "a19001",
            &[(hj212::FieldKind::Avg, "9"), (hj212::FieldKind::Flag, "N")],
        );
        let m = hj212::Message::new(
            Some(&q),
            "31",
            "2051",
            Some("123456"),
            Some("GAS0001"),
            Some(hj212::Flag::new(hj212::Version::V2017, false, true)),
        )
        .with_cp(cp);
        link.send_data(&m, &q, T).await.expect("9014");
    }
}

/// Waits (bounded) until the alarms of a rule match `done`: the engine runs after the commit.
async fn alarms_until(
    server: &TestServer,
    rule: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = server
            .get_json(&format!("/api/v1/alarms?rule={rule}"))
            .await;
        let list = list.as_array().cloned().unwrap_or_default();
        if done(&list) || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceedance_alarm_lifecycle_late_data_stream_and_restart() {
    let dir = TempDir::new("alarms");
    std::fs::write(dir.0.join("points.toml"), POINTS).expect("points");
    let mut server = TestServer::start(&dir.0, "");
    // The live stream, opened before anything happens.
    let mut sse = tokio::net::TcpStream::connect(server.http)
        .await
        .expect("connect");
    sse.write_all(
        format!(
            "GET /api/v1/alarms/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer {}\r\n\r\n",
            server.token
        )
        .as_bytes(),
    )
    .await
    .expect("request");

    let h = midnight_days_ago(2) + 8 * 3600;
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut qn = 0;
    send_hour(&mut link, h, "30", &mut qn).await; // 37.5 converted: above 35
    let list = alarms_until(&server, "source_exceedance", |l| !l.is_empty()).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_i64().expect("id");
    assert_eq!(list[0]["state"], "raised");
    assert_eq!(list[0]["evidence"]["converted"], "37.500");
    assert_eq!(list[0]["evidence"]["limit"], 35.0);

    // The stream carried it.
    let mut buf = vec![0u8; 65_536];
    let mut got = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.contains("event: raised") && Instant::now() < deadline {
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), sse.read(&mut buf)).await {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    assert!(got.contains("event: raised"), "{got}");

    // Still exceeding the next hour: the same alarm, updated, not a second one.
    send_hour(&mut link, h + 3600, "31", &mut qn).await;
    let list = alarms_until(&server, "source_exceedance", |l| {
        l.first()
            .is_some_and(|a| a["end"].as_i64() == Some(h + 7200))
    })
    .await;
    assert_eq!(list.len(), 1);
    // Back under the limit: cleared.
    send_hour(&mut link, h + 7200, "20", &mut qn).await;
    let list = alarms_until(&server, "source_exceedance", |l| {
        l.first().is_some_and(|a| a["state"] == "cleared")
    })
    .await;
    assert_eq!(
        (list.len(), list[0]["state"].as_str()),
        (1, Some("cleared"))
    );
    // Late correction of that hour: exceeding after all -> the same alarm reopens.
    send_hour(&mut link, h + 7200, "32", &mut qn).await;
    let list = alarms_until(&server, "source_exceedance", |l| {
        l.first().is_some_and(|a| a["state"] == "raised")
    })
    .await;
    assert_eq!(
        (
            list.len(),
            list[0]["id"].as_i64(),
            list[0]["state"].as_str()
        ),
        (1, Some(id), Some("raised"))
    );

    // Acknowledged with a reason; the reason is required.
    let r = server
        .request(
            "POST",
            &format!("/api/v1/alarms/{id}/acknowledge"),
            Some(r#"{"reason":""}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    let officer = crate::user_token(&server.data_dir, "officer-li", &["--role", "duty_officer"]);
    let r = server
        .send(
            "POST",
            &format!("/api/v1/alarms/{id}/acknowledge"),
            &[("Authorization", &format!("Bearer {officer}"))],
            Some(("application/json", br#"{"reason":"called the plant"}"#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let one = server.get_json(&format!("/api/v1/alarms/{id}")).await;
    assert_eq!(one["alarm"]["handling"]["by"], "officer-li");
    assert!(
        one["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("limit"))
    );
    let kinds: Vec<&str> = one["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds.first(), Some(&"raised"));
    assert!(
        kinds.contains(&"cleared")
            && kinds.contains(&"reopened")
            && kinds.contains(&"acknowledged"),
        "{kinds:?}"
    );

    // Restart: the open alarm is still open and continues with new data.
    drop(link);
    server.stop();
    let server = TestServer::start(&dir.0, "");
    let list = server.get_json("/api/v1/alarms?state=raised").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let mut link = Link::connect(server.hj212).await.expect("connects");
    send_hour(&mut link, h + 3 * 3600, "33", &mut qn).await;
    let list = alarms_until(&server, "source_exceedance", |l| {
        l.first()
            .is_some_and(|a| a["end"].as_i64() == Some(h + 4 * 3600))
    })
    .await;
    assert_eq!((list.len(), list[0]["id"].as_i64()), (1, Some(id)));
    let bad = server
        .request("GET", "/api/v1/alarms?state=angry", None)
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_raises_and_clears_on_the_simulated_clock() {
    let dir = TempDir::new("silence");
    std::fs::write(dir.0.join("points.toml"), POINTS).expect("points");
    // Ten simulated minutes per second: the 10-minute silence threshold passes in about a second.
    let server = TestServer::start_with(&dir.0, "[clock]\nspeed = 600.0\n", "");
    let list = alarms_until(&server, "device_silent", |l| {
        l.first().is_some_and(|a| a["state"] == "raised")
    })
    .await;
    assert_eq!(
        list.first().map(|a| a["state"].clone()),
        Some("raised".into()),
        "{list:?}"
    );
    assert_eq!(list[0]["point_id"], "stack");
    let id = list[0]["id"].as_i64().expect("id");
    // Simulated time runs on until the alarm has been carried 25 minutes further: still one
    // alarm for the one silence.
    let first_end = list[0]["end"].as_i64().expect("end");
    crate::until(
        "the silence carried on",
        Duration::from_secs(20),
        || async {
            let one = server.get_json(&format!("/api/v1/alarms/{id}")).await;
            (one["alarm"]["end"].as_i64().expect("end") >= first_end + 1500).then_some(())
        },
    )
    .await;
    let list = server.get_json("/api/v1/alarms?rule=device_silent").await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "one silence, one alarm: {list}"
    );
    // The device speaks: that silence clears (a later silence, at 600x, is another alarm).
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut qn = 0;
    send_hour(&mut link, midnight_days_ago(1), "10", &mut qn).await;
    crate::until("the silence to clear", Duration::from_secs(20), || async {
        let one = server.get_json(&format!("/api/v1/alarms/{id}")).await;
        (one["alarm"]["state"] == "cleared").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_section_worse_than_its_registered_target_class_raises_an_alarm() {
    let dir = TempDir::new("water-alarm");
    std::fs::write(
        dir.0.join("points.toml"),
        "[[points]]\nid = \"sec\"\nname = \"section\"\nmn = \"WAT0009\"\npassword = \"123456\"\nkind = \"water_section\"\n",
    )
    .expect("points");
    let server = TestServer::start(&dir.0, "");
    let entry = r#"{"code":"SEC9","name":"section","river":"r","district":"lixia","location":[117,36.6],
                    "level":"city","target_class":"III","mn":"WAT0009"}"#;
    assert_eq!(
        server
            .request(
                "POST",
                "/api/v1/registries/water_sections/entries",
                Some(entry)
            )
            .await
            .status,
        201
    );
    let h = midnight_days_ago(1) + 3 * 3600;
    let mut link = Link::connect(server.hj212).await.expect("connects");
    // 24 hours of 0.4 mg/L (class II), then 1.2 (class IV and three times the baseline).
    for k in (0..=24).rev() {
        let t = h - k * 3600;
        let value = if k == 0 { "1.2" } else { "0.4" };
        let qn = format!("20261101000000{:03}", 100 + k);
        let mut cp = hj212::DataArea::new().data_time(LocalTime::from_unix_millis(t * 1000));
        cp = cp.pollutant(
            "w21003",
            &[
                (hj212::FieldKind::Avg, value),
                (hj212::FieldKind::Flag, "N"),
            ],
        );
        let m = hj212::Message::new(
            Some(&qn),
            "21",
            "2061",
            Some("123456"),
            Some("WAT0009"),
            Some(hj212::Flag::new(hj212::Version::V2017, false, true)),
        )
        .with_cp(cp);
        link.send_data(&m, &qn, T).await.expect("9014");
    }
    let sudden = alarms_until(&server, "sudden_change", |l| !l.is_empty()).await;
    assert_eq!(sudden.len(), 1, "{sudden:?}");
    assert_eq!(sudden[0]["evidence"]["baseline_hours"], 24);
    let list = alarms_until(&server, "water_target_class", |l| !l.is_empty()).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["evidence"]["class"], "IV");
    assert_eq!(list[0]["evidence"]["target_class"], "III");
    assert_eq!(list[0]["evidence"]["standard"], "GB 3838-2002");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_air_station_far_above_the_others_raises_an_alarm() {
    let dir = TempDir::new("air-peers");
    let mut points = String::new();
    for i in 0..5 {
        points.push_str(&format!(
            "[[points]]\nid = \"air{i}\"\nname = \"station {i}\"\nmn = \"AIRP{i:04}\"\npassword = \"123456\"\nkind = \"air_station\"\n\n"
        ));
    }
    std::fs::write(dir.0.join("points.toml"), points).expect("points");
    // Simulated time from 11:00, ten minutes per second: the hour is settled in half a second.
    let server = TestServer::start_with(
        &dir.0,
        "[clock]\nstart = \"2026-11-20T11:00:00+08:00\"\nspeed = 600.0\n",
        "",
    );
    let h = bjtime::parse_rfc3339("2026-11-20T09:00:00+08:00").expect("time") / 1000;
    let mut link = Link::connect(server.hj212).await.expect("connects");
    // PM2.5: three stations at 20 ug/m3, then one at 50 (> 1.5 x 20: high against those
    // three), then one at 100 (IAQI 132, below the high-value threshold). Judged as it arrived,
    // the station at 50 would have been raised against the first three and withdrawn once the
    // fifth came in (50 < 1.5 x 40); judged once the hour has settled, with every station in,
    // it is never raised. The one at 100 is far above the other four (1.5 x 27.5).
    for (i, value) in [(1, "20"), (2, "20"), (3, "20"), (0, "50"), (4, "100")] {
        let qn = format!("20261101000000{:03}", 200 + i);
        let mut cp = hj212::DataArea::new().data_time(LocalTime::from_unix_millis(h * 1000));
        cp = cp.pollutant(
            "a34004",
            &[
                (hj212::FieldKind::Avg, value),
                (hj212::FieldKind::Flag, "N"),
            ],
        );
        let m = hj212::Message::new(
            Some(&qn),
            "22",
            "2061",
            Some("123456"),
            Some(&format!("AIRP{i:04}")),
            Some(hj212::Flag::new(hj212::Version::V2017, false, true)),
        )
        .with_cp(cp);
        link.send_data(&m, &qn, T).await.expect("9014");
    }
    let list = alarms_until(&server, "air_above_peers", |l| !l.is_empty()).await;
    assert_eq!(
        list.len(),
        1,
        "one alarm, never one raised and withdrawn: {list:?}"
    );
    assert_eq!(list[0]["point_id"], "air4");
    assert_eq!(list[0]["state"], "raised", "{list:?}");
    assert_eq!(list[0]["evidence"]["other_stations"], 4);
    // Raised once the hour had been quiet for the settling time (5 min) after the last record.
    let last = server.get_json("/api/v1/packets?mn=AIRP0004&limit=1").await;
    let received =
        bjtime::parse_rfc3339(last[0]["received"].as_str().expect("time")).expect("time");
    let id = list[0]["id"].as_i64().expect("id");
    let one = server.get_json(&format!("/api/v1/alarms/{id}")).await;
    let raised_ms = one["events"][0]["at_ms"].as_i64().expect("event time");
    assert!(
        raised_ms >= received + 300_000,
        "judged before the hour settled: raised at {raised_ms}, last record {received}"
    );
    assert!(
        server
            .get_json("/api/v1/alarms?rule=air_high_value")
            .await
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_in_progress_is_judged_invalid_only_once_it_closes() {
    let dir = TempDir::new("hour-close");
    std::fs::write(dir.0.join("points.toml"), POINTS).expect("points");
    // Simulated time from 10:00, ten minutes per second.
    let server = TestServer::start_with(
        &dir.0,
        "[clock]\nstart = \"2026-11-20T10:00:00+08:00\"\nspeed = 600.0\n",
        "",
    );
    let h = bjtime::parse_rfc3339("2026-11-20T10:00:00+08:00").expect("time") / 1000;
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut qn = 0;
    // Two ten-minute records (20 valid minutes) early in the hour: it can still reach 45.
    send_records(&mut link, h, "10", "N", &mut qn, 2).await;
    // Once the hour has closed (11:00 plus the grace of five minutes), it is invalid, and not
    // before: the alarms were raised at or after 11:05 on the platform clock.
    let list = alarms_until(&server, "invalid_hour", |l| !l.is_empty()).await;
    for a in &list {
        let id = a["id"].as_i64().expect("id");
        let one = server.get_json(&format!("/api/v1/alarms/{id}")).await;
        let raised_ms = one["events"][0]["at_ms"].as_i64().expect("event time");
        assert!(
            raised_ms >= (h + 3600 + 300) * 1000,
            "not invalid while in progress: raised at {raised_ms}: {one}"
        );
    }
    assert_eq!(list.len(), 2, "both codes of the hour: {list:?}");
    assert_eq!(list[0]["evidence"]["valid_minutes"], 20);
    assert_eq!(list[0]["evidence"]["minutes_to_come"], 0);
}

/// A value typed in by hand (flag S) is a fraud clue (rule manual_entry, R10): the alarm carries
/// the record, and the suspicion ranking lists the point and its enterprise, a suspect on this
/// strong signal alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_entered_by_hand_is_a_clue_and_ranks_its_enterprise() {
    let dir = TempDir::new("fraud");
    std::fs::write(dir.0.join("points.toml"), crate::cases::POINTS).expect("points");
    let server = TestServer::start(&dir.0, "");
    crate::cases::register(&server).await;
    let h = midnight_days_ago(1) + 10 * 3600;
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut qn = 0;
    send_records(&mut link, h, "21.5", "N", &mut qn, 3).await;
    send_records(&mut link, h + 1800, "21.0", "S", &mut qn, 1).await;
    let list = alarms_until(&server, "manual_entry", |l| !l.is_empty()).await;
    assert_eq!(list[0]["point_id"], "stack", "{list:?}");
    assert_eq!(list[0]["severity"], "critical");
    assert_eq!(list[0]["evidence"]["manual_count"], 1, "{list:?}");
    let from = bjtime::rfc3339(h - 86_400);
    let to = bjtime::rfc3339(h + 86_400);
    let r = server
        .get_json(&format!(
            "/api/v1/fraud/ranking?from={}&to={}",
            from.replace('+', "%2B"),
            to.replace('+', "%2B")
        ))
        .await;
    assert_eq!(r["points"][0]["id"], "stack", "{r}");
    assert_eq!(
        r["points"][0]["families"],
        serde_json::json!(["manual_entry"])
    );
    assert_eq!(r["points"][0]["score"], 1.0);
    assert_eq!(r["points"][0]["suspect"], true);
    assert_eq!(r["enterprises"][0]["id"], crate::cases::E1, "{r}");
    // Another district sees nothing; a bad period is refused.
    let other = server
        .get_json("/api/v1/fraud/ranking?district=shizhong")
        .await;
    assert_eq!(other["points"], serde_json::json!([]), "{other}");
    let bad = server
        .request(
            "GET",
            "/api/v1/fraud/ranking?from=2026-12-01T00:00:00%2B08:00&to=2026-11-01T00:00:00%2B08:00",
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
}
