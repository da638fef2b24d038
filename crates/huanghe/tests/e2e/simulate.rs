//! The simulator against the real server: a scenario end to end, re-sending after a forced
//! disconnect, and the device side of the platform's commands.

use std::collections::BTreeMap;
use std::time::Duration;

use simulator::fleet::{Device, DeviceKind};
use simulator::run::{RunConfig, SimClock};
use simulator::scenario;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{TempDir, TestServer, iso_query, midnight_days_ago, points_toml};

fn device(id: &str, mn: &str) -> Device {
    Device {
        point_id: id.into(),
        mn: mn.into(),
        password: "123456".into(),
        kind: DeviceKind::GasOutlet,
        rtd_interval_s: 30,
        min_interval_min: 10,
        seed: mn.len() as u64 * 977 + 13,
        link_loss: 0.0,
        wet_scrubbed: true,
    }
}

fn run_config(target: std::net::SocketAddr, start_ms: i64, speed: f64) -> RunConfig {
    RunConfig {
        target,
        clock: SimClock::simulated(start_ms, speed),
        realtime: false,
        backfill_from: None,
        ack_timeout: Duration::from_secs(2),
        tries: 1,
    }
}

/// (time, avg) of one code's minute data.
async fn minute_avgs(
    server: &TestServer,
    point: &str,
    code: &str,
    from: i64,
    to: i64,
) -> Vec<(i64, f64, String)> {
    let rows = server
        .get_json(&format!(
            "/api/v1/points/{point}/series?type=min&code={code}&limit=100000&from={}&to={}",
            iso_query(from),
            iso_query(to)
        ))
        .await;
    rows.as_array()
        .expect("array")
        .iter()
        .map(|r| {
            let t = bjtime::parse_rfc3339(r["time"].as_str().expect("time")).expect("time") / 1000;
            let avg: f64 = r["fields"]["avg"]
                .as_str()
                .expect("avg")
                .parse()
                .expect("number");
            (
                t,
                avg,
                r["fields"]["flag"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_plays_end_to_end_with_labels() {
    let dir = TempDir::new("scenario");
    let ids = ["s1", "s2", "s3", "s4"];
    let points: Vec<(String, String, String)> = ids
        .iter()
        .map(|id| ((*id).to_owned(), format!("SIM{id}"), "123456".to_owned()))
        .collect();
    // The simulated plants' SO2 limit (35 mg/m3, no O2 conversion) lets the alarm rules judge.
    let with_limits = points_toml(&points).replace(
        "min_interval_min = 1\n",
        "min_interval_min = 10\n[points.codes.a21026]\nlimit = 35.0\n",
    );
    std::fs::write(dir.0.join("points.toml"), with_limits).expect("points");
    let server = TestServer::start(&dir.0, "");
    // Simulated time: from midnight two days ago, 1,200 times faster (20 minutes a second).
    let start = midnight_days_ago(2) + 8 * 3600;
    let incidents = scenario::parse(
        r#"
[[incidents]]
kind = "exceedance"
point = "s1"
code = "a21026"
start = "+1h"
duration = "1h"
magnitude = 1.6

[[incidents]]
kind = "silent"
point = "s2"
start = "+1h"
duration = "1h"

[[incidents]]
kind = "flat_line"
point = "s3"
code = "a21002"
start = "+1h"
duration = "1h"

[[incidents]]
kind = "fault_flag"
point = "s4"
code = "a21026"
start = "+1h"
duration = "1h"
"#,
        start,
    )
    .expect("scenario");
    let labels = dir.0.join("labels.jsonl");
    simulator::run::write_labels(&labels, &incidents).expect("labels");
    let devices: Vec<Device> = points.iter().map(|(id, mn, _)| device(id, mn)).collect();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let fleet = tokio::spawn(simulator::run::run_fleet(
        devices,
        run_config(server.hj212, start * 1000, 1200.0),
        incidents,
        stopped,
    ));
    // Until every point has sent past the scripted hour (the silent one has resumed).
    let (w0, w1) = (start + 3600, start + 7200);
    crate::until(
        "every point's data past the scripted hour",
        Duration::from_secs(120),
        || async {
            for id in ids {
                if minute_avgs(&server, id, "a21026", w1, start + 3 * 3600)
                    .await
                    .is_empty()
                {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    let _ = stop.send(true);
    let stats = fleet.await.expect("fleet");
    assert!(
        stats.summary()["acknowledged"]
            .as_u64()
            .is_some_and(|n| n >= 4 * 12),
        "{}",
        stats.summary()
    );

    let in_window = |rows: &[(i64, f64, String)]| -> Vec<(i64, f64, String)> {
        rows.iter()
            .filter(|r| r.0 >= w0 && r.0 + 600 <= w1)
            .cloned()
            .collect()
    };
    // s1: above the 35 mg/m3 limit in the window, below it before.
    let s1 = minute_avgs(&server, "s1", "a21026", start, start + 3 * 3600).await;
    assert!(!in_window(&s1).is_empty());
    assert!(in_window(&s1).iter().all(|r| r.1 > 35.0), "{s1:?}");
    assert!(
        s1.iter().filter(|r| r.0 + 600 <= w0).all(|r| r.1 < 35.0),
        "{s1:?}"
    );
    // s2: nothing in the window, data before and after.
    let s2 = minute_avgs(&server, "s2", "a21026", start, start + 3 * 3600).await;
    assert!(s2.iter().all(|r| r.0 + 600 <= w0 || r.0 >= w1), "{s2:?}");
    assert!(
        s2.iter().any(|r| r.0 >= w1),
        "data resumed after the silence: {s2:?}"
    );
    // s3: one value, repeated.
    let s3 = in_window(&minute_avgs(&server, "s3", "a21002", start, start + 3 * 3600).await);
    assert!(s3.len() >= 4);
    assert!(s3.windows(2).all(|w| w[0].1 == w[1].1), "{s3:?}");
    // s4: exceedances behind fault flags.
    let s4 = in_window(&minute_avgs(&server, "s4", "a21026", start, start + 3 * 3600).await);
    assert!(s4.iter().all(|r| r.2 == "D" && r.1 > 35.0), "{s4:?}");
    // The incidents appear as alarms where rules exist: the exceedance, the fault flags.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let exceed = server
            .get_json("/api/v1/alarms?rule=source_exceedance&point=s1")
            .await;
        let flags = server
            .get_json("/api/v1/alarms?rule=flags_too_long&point=s4")
            .await;
        let found = exceed.as_array().is_some_and(|a| !a.is_empty())
            && flags.as_array().is_some_and(|a| !a.is_empty());
        if found || std::time::Instant::now() > deadline {
            assert!(found, "alarms for the scripted incidents: {exceed} {flags}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every incident is labelled.
    let text = std::fs::read_to_string(&labels).expect("labels");
    let kinds: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["kind"]
                .as_str()
                .expect("kind")
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["exceedance", "silent", "flat_line", "fault_flag"]);
}

/// A proxy that, on its first connection, passes the device's bytes to the server but drops
/// the server's answer and closes: the device must re-send after reconnecting.
async fn lossy_proxy(upstream: std::net::SocketAddr) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut client, _)) = listener.accept().await {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            if first {
                first = false;
                let mut buf = vec![0u8; 64 * 1024];
                if let Ok(n) = client.read(&mut buf).await {
                    let _ = server.write_all(&buf[..n]).await;
                    // The answer comes back; swallow it and cut both sides.
                    let _ = server.read(&mut buf).await;
                }
                continue;
            }
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resending_after_a_forced_disconnect_stores_no_duplicate() {
    let dir = TempDir::new("resend");
    std::fs::write(
        dir.0.join("points.toml"),
        points_toml(&[("r1".into(), "RESEND1".into(), "123456".into())]),
    )
    .expect("points");
    let server = TestServer::start(&dir.0, "");
    let proxy = lossy_proxy(server.hj212).await;
    let start = midnight_days_ago(2);
    let mut config = run_config(proxy, start * 1000, 1.0);
    // Three hours of history through the lossy link.
    config.backfill_from = Some(start - 3 * 3600);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let fleet = tokio::spawn(simulator::run::run_fleet(
        vec![device("r1", "RESEND1")],
        config,
        vec![],
        stopped,
    ));
    // Until the three hours are stored, each interval once, and a re-send has reached the
    // server through the lossy link.
    crate::until(
        "the backfill through the lossy link",
        Duration::from_secs(120),
        || async {
            let rows = minute_avgs(&server, "r1", "a21026", start - 3 * 3600, start).await;
            let log = server
                .get_json("/api/v1/packets?mn=RESEND1&limit=1000")
                .await;
            let resent = log
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p["status"] == "duplicate"));
            (rows.len() == 18 && resent).then_some(())
        },
    )
    .await;
    let _ = stop.send(true);
    let stats = fleet.await.expect("fleet").summary();
    assert!(
        stats["reconnects"].as_u64().is_some_and(|n| n >= 1),
        "{stats}"
    );

    let rows = minute_avgs(&server, "r1", "a21026", start - 3 * 3600, start).await;
    assert_eq!(rows.len(), 18, "every 10-minute interval once: {rows:?}");
    let log = server
        .get_json("/api/v1/packets?mn=RESEND1&limit=1000")
        .await;
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for p in log.as_array().expect("array") {
        *statuses
            .entry(p["status"].as_str().expect("status").to_owned())
            .or_default() += 1;
    }
    assert!(
        statuses.get("duplicate").is_some_and(|n| *n >= 1),
        "the re-send reached the server: {statuses:?}"
    );
}

#[tokio::test]
async fn a_device_answers_the_platforms_commands() {
    use hj212::{Command, HistoryKind, LocalTime, Target, Version};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let start = midnight_days_ago(1);
    let config = run_config(listener.local_addr().expect("addr"), start * 1000, 1.0);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let fleet = tokio::spawn(simulator::run::run_fleet(
        vec![device("c1", "CMD1")],
        config,
        vec![],
        stopped,
    ));
    let (stream, _) = listener.accept().await.expect("the device connects");
    let mut host = simulator::Link::from_stream(stream);
    let target = Target {
        st: "31".into(),
        pw: "123456".into(),
        mn: "CMD1".into(),
        version: Version::V2017,
    };
    let cn_of = |p: &hj212::Packet| p.cn().to_owned();

    let get_time = Command::GetTime { pol_id: None }
        .to_message(&target, "20261128100000001")
        .expect("1011");
    host.send(&get_time.encode().expect("encodes"))
        .await
        .expect("sent");
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(
            host.read_packet(Duration::from_secs(5))
                .await
                .expect("answer"),
        );
    }
    assert_eq!(
        answers.iter().map(cn_of).collect::<Vec<_>>(),
        ["9011", "1011", "9012"]
    );
    assert!(answers[1].param("SystemTime").is_some());

    let history = Command::History {
        kind: HistoryKind::Minute,
        begin: LocalTime::from_unix_millis((start - 3600) * 1000),
        end: LocalTime::from_unix_millis((start - 1800 - 1) * 1000),
    }
    .to_message(&target, "20261128100000002")
    .expect("2051 request");
    host.send(&history.encode().expect("encodes"))
        .await
        .expect("sent");
    let ready = host
        .read_packet(Duration::from_secs(5))
        .await
        .expect("9011");
    assert_eq!(ready.cn(), "9011");
    let mut uploads = 0;
    loop {
        let p = host
            .read_packet(Duration::from_secs(5))
            .await
            .expect("data or 9012");
        if p.cn() == "9012" {
            break;
        }
        assert_eq!(p.cn(), "2051");
        uploads += 1;
        let ack = hj212::ReplyTo::from_packet(&p).data_ack();
        host.send(&ack.encode().expect("encodes"))
            .await
            .expect("ack");
    }
    assert_eq!(uploads, 3, "three 10-minute intervals in half an hour");
    let _ = stop.send(true);
    let _ = fleet.await;
}
