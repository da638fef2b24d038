//! What settling an hour costs the engine when the rules compare it with a month of the point's
//! past (a step change, the last-digit screen): 40 flue-gas outlets with a month of hourly
//! records, then six new hours, each committed, evaluated and settled for every outlet.

use std::collections::BTreeMap;
use std::sync::Arc;

use alarm_engine::{AlarmHub, Engine, SETTLE_S, Sources};
use domain::{Clock, Committed, DataType, Disposition, Observation, PacketRecord, Point};
use rules::RuleSet;
use store::{AlarmStore, Ingest, RegistryStore, SqliteStore, Store};

fn main() {
    divan::main();
}

/// An hour start.
const H: i64 = 1_790_002_800;
const OUTLETS: usize = 40;
const MONTH: i64 = 31 * 24;

fn hour(point: usize, k: i64) -> Vec<Observation> {
    [
        ("a21026", 22.0),
        ("a21002", 32.0),
        ("a34013", 3.0),
        ("a19001", 9.0),
        ("a01012", 55.0),
        ("a00000", 52_000.0),
    ]
    .iter()
    .map(|(code, level)| {
        let wobble = ((k * 7919 + point as i64 * 131) % 101) as f64 / 100.0 - 0.5;
        Observation {
            point_id: format!("p{point}"),
            data_type: DataType::Hour,
            code: (*code).to_owned(),
            time: H + k * 3600,
            fields: BTreeMap::from([
                (
                    "avg".to_owned(),
                    format!("{:.2}", level * (1.0 + 0.2 * wobble)),
                ),
                ("flag".to_owned(), "N".to_owned()),
            ]),
        }
    })
    .collect()
}

fn ingest(observations: Vec<Observation>) -> Ingest {
    Ingest {
        record: PacketRecord {
            received_ms: 0,
            peer: "bench".into(),
            mn: None,
            cn: Some("2061".into()),
            qn: None,
            crc_given: None,
            crc_computed: None,
            crc_variant: None,
            deviations: vec![],
            disposition: Disposition::Stored,
            quarantined_fields: vec![],
            raw: vec![],
        },
        observations,
    }
}

/// A store with the outlets and their month, and an engine started on it at the month's end.
fn setup() -> (tempfile::TempDir, Arc<SqliteStore>, Arc<Engine>, Clock) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Arc::new(SqliteStore::open(&dir.path().join("h.db")).expect("store"));
    for p in 0..OUTLETS {
        let point: Point = serde_json::from_value(serde_json::json!({
            "id": format!("p{p}"), "name": "outlet", "mn": format!("MN{p}"), "password": "pw",
            "kind": "gas_outlet",
            "codes": {"a21026": {"limit": 35.0}, "a21002": {"limit": 50.0}, "a34013": {"limit": 10.0}},
        }))
        .expect("point");
        s.put_point(&point, "bench", 0).expect("point");
        let month: Vec<Ingest> = (0..MONTH).map(|k| ingest(hour(p, k))).collect();
        s.commit(&month).expect("commit");
    }
    let clock = Clock::manual((H + MONTH * 3600) * 1000);
    let sources = Sources {
        series: Arc::clone(&s) as Arc<dyn Store>,
        registries: Arc::clone(&s) as Arc<dyn RegistryStore>,
        alarms: Arc::clone(&s) as Arc<dyn AlarmStore>,
        devices: Arc::new(Vec::new),
    };
    let e = Engine::new(
        sources,
        RuleSet::defaults(),
        clock,
        Arc::new(AlarmHub::default()),
    );
    e.start().expect("start");
    (dir, s, e, clock)
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn settle_six_hours_of_40_outlets(bencher: divan::Bencher) {
    bencher
        .with_inputs(setup)
        .bench_values(|(_dir, s, e, clock)| {
            for k in MONTH..MONTH + 6 {
                let batch: Vec<Committed> = (0..OUTLETS)
                    .map(|p| Committed {
                        point_id: format!("p{p}"),
                        observations: hour(p, k),
                        received_ms: clock.now_ms(),
                    })
                    .collect();
                let ingests: Vec<Ingest> = (0..OUTLETS).map(|p| ingest(hour(p, k))).collect();
                s.commit(&ingests).expect("commit");
                e.evaluate(batch).expect("evaluate");
                clock.advance((3600 + SETTLE_S) * 1000);
                e.tick().expect("tick");
            }
        });
}
