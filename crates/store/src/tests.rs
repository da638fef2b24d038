//! Tests of the SQLite engine; written against the [`Store`] trait so that the PostgreSQL
//! engine can run the same ones.

use super::*;
use domain::PointKind;

fn point(id: &str, mn: &str) -> Point {
    Point {
        id: id.into(),
        name: format!("point {id}"),
        mn: mn.into(),
        password: "123456".into(),
        st: "32".into(),
        kind: PointKind::WaterOutlet,
        location: Some([117.0, 36.6]),
        rtd_interval_s: 30,
        min_interval_min: 10,
        accepted_crc: vec!["hj212".into()],
        codes: BTreeMap::new(),
    }
}

fn record(disposition: Disposition, qn: &str) -> PacketRecord {
    PacketRecord {
        received_ms: 1_700_000_000_000,
        peer: "127.0.0.1:5000".into(),
        mn: Some("MN1".into()),
        cn: Some("2011".into()),
        qn: Some(qn.into()),
        crc_given: Some("1C80".into()),
        crc_computed: Some("1C80".into()),
        crc_variant: Some("hj212".into()),
        deviations: vec![],
        disposition,
        raw: "##...".into(),
    }
}

fn obs(code: &str, time: i64, rtd: &str) -> Observation {
    Observation {
        point_id: "p1".into(),
        data_type: DataType::Rtd,
        code: code.into(),
        time,
        fields: BTreeMap::from([
            ("rtd".to_owned(), rtd.to_owned()),
            ("flag".to_owned(), "N".to_owned()),
        ]),
    }
}

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = SqliteStore::open(&dir.path().join("huanghe.db")).expect("opens");
    (dir, s)
}

fn all(s: &SqliteStore) -> Vec<Observation> {
    s.series(&SeriesQuery {
        point_id: "p1".into(),
        data_type: DataType::Rtd,
        code: None,
        from: 0,
        to: i64::MAX,
        limit: 1000,
    })
    .expect("query")
}

#[test]
fn points_round_trip_and_mn_is_unique() {
    let (_d, s) = store();
    s.put_point(&point("p1", "MN1")).expect("put");
    s.put_point(&point("p2", "MN2")).expect("put");
    assert_eq!(s.points().expect("list").len(), 2);
    assert_eq!(s.point("p1").expect("get"), Some(point("p1", "MN1")));
    let clash = s.put_point(&point("p3", "MN1"));
    assert!(matches!(clash, Err(StoreError::InvalidPoint(m)) if m.contains("p1")));
    assert!(s.delete_point("p2").expect("delete"));
    assert!(!s.delete_point("p2").expect("delete"));
}

#[test]
fn resent_data_is_stored_once_and_corrections_keep_history() {
    let (_d, s) = store();
    let first = Ingest {
        record: record(Disposition::Stored, "q1"),
        observations: vec![obs("w01018", 100, "40.1"), obs("w01001", 100, "7.1")],
    };
    let r = s.commit(std::slice::from_ref(&first)).expect("commit");
    assert_eq!(r[0].disposition, Disposition::Stored);
    assert_eq!(r[0].inserted, 2);
    // The same frame again (a retransmission): nothing new.
    let r = s.commit(std::slice::from_ref(&first)).expect("commit");
    assert_eq!(r[0].disposition, Disposition::Duplicate);
    assert_eq!(all(&s).len(), 2);
    // A corrected value for the same time replaces it; the old one is history.
    let fix = Ingest {
        record: record(Disposition::Stored, "q2"),
        observations: vec![obs("w01018", 100, "41.0")],
    };
    let r = s.commit(&[fix]).expect("commit");
    assert_eq!(r[0].replaced, 1);
    let now = all(&s);
    assert_eq!(
        now.iter()
            .find(|o| o.code == "w01018")
            .map(|o| o.fields["rtd"].as_str()),
        Some("41.0")
    );
    let history = s.history("p1", 10).expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].1.fields["rtd"], "40.1");
    // Every frame is in the raw log, newest first, with its final disposition.
    let log = s
        .packets(&PacketQuery {
            limit: 10,
            ..PacketQuery::default()
        })
        .expect("log");
    assert_eq!(log.len(), 3);
    assert_eq!(log[1].1.disposition, Disposition::Duplicate);
}

#[test]
fn quarantine_is_logged_not_stored() {
    let (_d, s) = store();
    let bad = Ingest {
        record: record(
            Disposition::Quarantined {
                reason: "wrong_password".into(),
            },
            "q1",
        ),
        observations: vec![obs("w01018", 100, "40.1")],
    };
    s.commit(&[bad]).expect("commit");
    assert!(all(&s).is_empty());
    let q = s
        .packets(&PacketQuery {
            quarantined_only: true,
            limit: 10,
            ..PacketQuery::default()
        })
        .expect("log");
    assert_eq!(q.len(), 1);
    assert!(
        matches!(&q[0].1.disposition, Disposition::Quarantined { reason } if reason == "wrong_password")
    );
}

#[test]
fn latest_per_series_and_code() {
    let (_d, s) = store();
    let batch: Vec<Ingest> = (0..3)
        .map(|i| Ingest {
            record: record(Disposition::Stored, &format!("q{i}")),
            observations: vec![
                obs("w01018", 100 + i, &format!("{i}.0")),
                obs("w01001", 50, "7.0"),
            ],
        })
        .collect();
    s.commit(&batch).expect("commit");
    let latest = s.latest("p1").expect("latest");
    assert_eq!(latest.len(), 2);
    let cod = latest.iter().find(|o| o.code == "w01018").expect("cod");
    assert_eq!(cod.time, 102);
}

#[test]
fn data_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("huanghe.db");
    {
        let s = SqliteStore::open(&path).expect("opens");
        s.commit(&[Ingest {
            record: record(Disposition::Stored, "q1"),
            observations: vec![obs("w01018", 100, "40.1")],
        }])
        .expect("commit");
    }
    let s = SqliteStore::open(&path).expect("reopens");
    assert_eq!(all(&s).len(), 1);
}
