//! The durability promise under SIGKILL: every packet acknowledged with 9014 is stored, exactly
//! once, with the values sent, whatever moment the server dies at.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hj212::Message;
use simulator::{Link, Logger};

use crate::{TempDir, TestServer, iso_query, midnight_days_ago, points_toml};

const DEVICES: usize = 16;

/// (code, json field) → value, from a message's data area.
fn expected_fields(m: &Message) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (name, value) in m.cp.groups.iter().flatten() {
        if let Some((code, field)) = name.split_once('-') {
            out.insert((code.to_owned(), field.to_ascii_lowercase()), value.clone());
        }
    }
    out
}

struct Device {
    logger: Logger,
    /// Sent but not acknowledged: a real logger sends it again after reconnecting.
    pending: Option<(String, i64, Message)>,
}

async fn run_device(
    addr: std::net::SocketAddr,
    mut device: Device,
    acked: Arc<Mutex<Vec<(String, i64, Message)>>>,
) -> Device {
    let Ok(mut link) = Link::connect(addr).await else {
        return device;
    };
    loop {
        let (qn, t, m) = match device.pending.take() {
            Some(p) => p,
            None => device.logger.next_message(1_700_000_000_000),
        };
        match link.send_data(&m, &qn, Duration::from_secs(10)).await {
            Ok(_) => {
                if let Ok(mut a) = acked.lock() {
                    a.push((device.logger.mn.clone(), t, m));
                }
            }
            Err(_) => {
                device.pending = Some((qn, t, m));
                return device;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_packet() {
    let cycles: usize = std::env::var("HUANGHE_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20);
    let dir = TempDir::new("crash");
    let points: Vec<(String, String, String)> = (0..DEVICES)
        .map(|i| (format!("k{i}"), format!("KILL{i:04}"), "123456".to_owned()))
        .collect();
    std::fs::write(dir.0.join("points.toml"), points_toml(&points)).expect("points");
    let start = midnight_days_ago(3);
    let mut devices: Vec<Device> = (0..DEVICES)
        .map(|i| Device {
            logger: Logger::gas(&format!("KILL{i:04}"), "123456", 3, start, 100 + i as u64),
            pending: None,
        })
        .collect();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..cycles {
        let mut server = TestServer::start(&dir.0, "");
        let mut tasks = tokio::task::JoinSet::new();
        for d in devices.drain(..) {
            tasks.spawn(run_device(server.hj212, d, Arc::clone(&acked)));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(150 + seed % 1000);
        tokio::time::sleep(delay).await;
        server.kill();
        while let Some(d) = tasks.join_next().await {
            devices.push(d.expect("device task"));
        }
    }

    let mut server = TestServer::start(&dir.0, "");
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() > cycles * DEVICES,
        "the load was real: {} packets acknowledged",
        acked.len()
    );
    eprintln!(
        "crash test: {cycles} SIGKILL cycles, {} packets acknowledged, all checked",
        acked.len()
    );
    let mut by_mn: BTreeMap<String, Vec<(i64, Message)>> = BTreeMap::new();
    for (mn, t, m) in acked {
        by_mn.entry(mn).or_default().push((t, m));
    }
    for device in &devices {
        // Tasks finish in any order: find the point by the logger's MN.
        let i: usize = device.logger.mn["KILL".len()..].parse().expect("index");
        let sent = by_mn.remove(&device.logger.mn).unwrap_or_default();
        let series = server
            .get_json(&format!(
                "/api/v1/points/k{i}/series?type=min&limit=1000000&from={}&to={}",
                iso_query(start),
                iso_query(start + 30 * 86_400)
            ))
            .await;
        let mut stored: BTreeMap<(i64, String), BTreeMap<String, String>> = BTreeMap::new();
        for row in series.as_array().expect("array") {
            let time = bjtime::parse_rfc3339(row["time"].as_str().expect("time"))
                .expect("RFC 3339")
                / 1000;
            let code = row["code"].as_str().expect("code").to_owned();
            let fields: BTreeMap<String, String> =
                serde_json::from_value(row["fields"].clone()).expect("fields");
            let previous = stored.insert((time, code), fields);
            assert!(previous.is_none(), "stored twice: {row}");
        }
        for (t, m) in &sent {
            for ((code, field), value) in expected_fields(m) {
                let got = stored
                    .get(&(*t, code.clone()))
                    .and_then(|f| f.get(&field))
                    .unwrap_or_else(|| {
                        panic!(
                            "acknowledged {code} at {t} of {} is missing",
                            device.logger.mn
                        )
                    });
                assert_eq!(got, &value, "{code}.{field} at {t}");
            }
        }
        // Nothing was stored that was never sent: every stored minute is one the logger made.
        let made = (device.logger.next_time - start) / 60;
        assert!(stored.keys().all(|(t, _)| (*t - start) / 60 < made));
    }
    server.stop();
}
