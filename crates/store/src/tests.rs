//! Tests of the SQLite engine; written against the [`Store`] trait so that the PostgreSQL
//! engine can run the same ones.

use super::*;
use domain::PointKind;

fn point(id: &str, mn: &str) -> Point {
    Point {
        id: id.into(),
        name: format!("point {id}"),
        name_en: None,
        mn: mn.into(),
        password: "123456".into(),
        st: "32".into(),
        kind: PointKind::WaterOutlet,
        location: Some([117.0, 36.6]),
        rtd_interval_s: 30,
        min_interval_min: 10,
        accepted_crc: vec!["hj212".into()],
        codes: BTreeMap::new(),
        enterprise: None,
        district: None,
        abatement: Vec::new(),
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
        quarantined_fields: vec![],
        raw: b"##...".to_vec(),
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

/// The engine under test, behind the trait: the PostgreSQL engine will plug in here.
fn store() -> (tempfile::TempDir, Box<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = SqliteStore::open(&dir.path().join("huanghe.db")).expect("opens");
    (dir, Box::new(s))
}

fn all(s: &dyn Store) -> Vec<Observation> {
    s.series(&SeriesQuery {
        point_id: "p1".into(),
        data_type: DataType::Rtd,
        code: None,
        from: 0,
        to: i64::MAX,
        limit: 100_000,
    })
    .expect("query")
}

#[test]
fn points_are_their_registry_entries_and_mn_is_unique() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = SqliteStore::open(&dir.path().join("huanghe.db")).expect("opens");
    s.put_point(&point("p1", "MN1"), "clerk", 1).expect("put");
    s.put_point(&point("p2", "MN2"), "clerk", 1).expect("put");
    assert_eq!(s.points().expect("list").len(), 2);
    assert_eq!(s.point("p1").expect("get"), Some(point("p1", "MN1")));
    // The record is the registry entry, with its history.
    let entry = s
        .entry(domain::POINTS_REGISTRY, "p1")
        .expect("entry")
        .expect("exists");
    assert_eq!(
        Point::from_record(&entry.data).expect("point"),
        point("p1", "MN1")
    );
    assert_eq!(entry.updated_by, "clerk");
    let clash = s.put_point(&point("p3", "MN1"), "clerk", 2);
    assert!(matches!(clash, Err(StoreError::Conflict(m)) if m.contains("p1")));
    // A registry edit that gives an MN already taken is refused the same way.
    let mut data = point("p4", "MN2").to_record();
    data.remove("password");
    let change = registry::Change::Put {
        id: "p4".into(),
        data,
        expect_version: None,
    };
    let clash = s.apply(domain::POINTS_REGISTRY, &[change], "clerk", 2);
    assert!(matches!(clash, Err(StoreError::Conflict(m)) if m.contains("p2")));
    // An edit without the password keeps it (forms and spreadsheets never carry it).
    let mut moved = point("p1", "MN1");
    moved.password = String::new();
    moved.district = Some("lixia".into());
    s.put_point(&moved, "clerk", 3).expect("put");
    let p1 = s.point("p1").expect("get").expect("exists");
    assert_eq!(
        (p1.password.as_str(), p1.district.as_deref()),
        ("123456", Some("lixia"))
    );
    assert_eq!(
        s.entry_history(domain::POINTS_REGISTRY, "p1")
            .expect("history")
            .len(),
        2
    );
    assert!(s.delete_point("p2", "clerk", 4).expect("delete"));
    assert!(!s.delete_point("p2", "clerk", 4).expect("delete"));
    // Creating refuses an id that is taken and leaves the entry as it was.
    s.create_point(&point("p5", "MN5"), "clerk", 5)
        .expect("new id");
    let again = s.create_point(&point("p5", "MN6"), "clerk", 6);
    assert!(
        matches!(again, Err(StoreError::Conflict(m)) if m.contains("p5") && m.contains("exists"))
    );
    assert_eq!(s.point("p5").expect("get"), Some(point("p5", "MN5")));
}

#[test]
fn points_of_an_older_data_directory_move_into_the_registry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("huanghe.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE points (id TEXT PRIMARY KEY, mn TEXT NOT NULL UNIQUE, body TEXT NOT NULL);",
        )
        .expect("old table");
        for p in [point("p1", "MN1"), point("p2", "MN2")] {
            conn.execute(
                "INSERT INTO points (id, mn, body) VALUES (?1, ?2, ?3)",
                rusqlite::params![p.id, p.mn, serde_json::to_string(&p).expect("json")],
            )
            .expect("insert");
        }
    }
    let s = SqliteStore::open(&path).expect("opens");
    assert_eq!(
        s.points().expect("points"),
        [point("p1", "MN1"), point("p2", "MN2")]
    );
    drop(s);
    // Opening again finds nothing left to move.
    let s = SqliteStore::open(&path).expect("opens");
    assert_eq!(s.points().expect("points").len(), 2);
    assert_eq!(
        s.entry_history(domain::POINTS_REGISTRY, "p1")
            .expect("history")
            .len(),
        1
    );
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
    assert_eq!(all(s.as_ref()).len(), 2);
    // A corrected value for the same time replaces it; the old one is history.
    let fix = Ingest {
        record: record(Disposition::Stored, "q2"),
        observations: vec![obs("w01018", 100, "41.0")],
    };
    let r = s.commit(&[fix]).expect("commit");
    assert_eq!(r[0].replaced, 1);
    let now = all(s.as_ref());
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
    assert!(all(s.as_ref()).is_empty());
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
fn raw_log_keeps_the_bytes_received() {
    let (d, s) = store();
    // GBK text, bytes that are neither UTF-8 nor GBK, and a NUL.
    let raw: Vec<u8> =
        b"##0100QN=1;CP=&&i11001-Info=\xC9\xE8\xB1\xB8\xFF\xFE\x80\x00&&ABCD\r\n".to_vec();
    let mut r = record(Disposition::Stored, "q1");
    r.raw = raw.clone();
    r.quarantined_fields = vec!["a21026-Avg".into(), "a21026-Flag".into()];
    s.commit(&[Ingest {
        record: r,
        observations: vec![obs("w01018", 100, "40.1")],
    }])
    .expect("commit");
    let all_rows = s
        .packets(&PacketQuery {
            limit: 10,
            ..PacketQuery::default()
        })
        .expect("log");
    assert_eq!(all_rows[0].1.raw, raw);
    // A frame whose good groups were stored and whose malformed groups were not is listed in
    // the quarantine, with the fields left out.
    let q = s
        .packets(&PacketQuery {
            quarantined_only: true,
            limit: 10,
            ..PacketQuery::default()
        })
        .expect("log");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].1.disposition, Disposition::Stored);
    assert_eq!(q[0].1.quarantined_fields, ["a21026-Avg", "a21026-Flag"]);
    drop(s);
    // A row written as text by an earlier version still reads back.
    let conn = rusqlite::Connection::open(d.path().join("huanghe.db")).expect("open");
    conn.execute("UPDATE packets SET raw = '##legacy'", [])
        .expect("update");
    drop(conn);
    let s = SqliteStore::open(&d.path().join("huanghe.db")).expect("reopen");
    let rows = s
        .packets(&PacketQuery {
            limit: 10,
            ..PacketQuery::default()
        })
        .expect("log");
    assert_eq!(rows[0].1.raw, b"##legacy");
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

fn ingest(qn: &str, observations: Vec<Observation>) -> Ingest {
    Ingest {
        record: record(Disposition::Stored, qn),
        observations,
    }
}

const DAY: i64 = 86_400;
/// 2023-11-14 00:00 Beijing time.
const MIDNIGHT: i64 = 1_699_891_200;

#[test]
fn compaction_keeps_every_value_and_late_data_still_follow_the_rules() {
    let (_d, s) = store();
    // Two days of 30-second data for two codes, then one row of today.
    let mut batch = Vec::new();
    for i in 0..(2 * 2880) {
        let t = MIDNIGHT + i * 30;
        batch.push(ingest(
            &format!("q{i}"),
            vec![
                obs("w01018", t, &format!("{}.{}", 40 + i % 7, i % 10)),
                obs("w01001", t, "7.12"),
            ],
        ));
    }
    let today = MIDNIGHT + 5 * DAY;
    batch.push(ingest("today", vec![obs("w01018", today, "1.0")]));
    s.commit(&batch).expect("commit");
    let before = all(s.as_ref());
    assert_eq!(before.len(), 2 * 2 * 2880 + 1);
    s.put_point(&point("p1", "MN1"), "test", 0).expect("point");
    let reach = s.newest_data().expect("newest");
    assert_eq!(
        (reach.rows.get("p1"), reach.chunks_until),
        (Some(&today), None)
    );
    assert!(!reach.nothing_from("p1", today) && reach.nothing_from("p1", today + 1));

    let report = s
        .maintain((today + 60) * 1000, &Housekeeping::default())
        .expect("maintain");
    assert_eq!(report.observations_compacted, 2 * 2 * 2880);
    // The two old days are in chunks now: everything before their end may be stored.
    let reach = s.newest_data().expect("newest");
    assert_eq!(
        (reach.rows.get("p1"), reach.chunks_until),
        (Some(&today), Some(MIDNIGHT + 2 * DAY))
    );
    assert!(!reach.nothing_from("p2", MIDNIGHT + DAY));
    assert!(reach.nothing_from("p2", MIDNIGHT + 2 * DAY));
    assert_eq!(
        all(s.as_ref()),
        before,
        "compaction changes nothing a reader sees"
    );
    let stats = s.stats().expect("stats");
    assert_eq!(stats.observations, before.len() as u64);
    assert_eq!(stats.values, 2 * before.len() as u64);

    // A logger re-sends a compressed day: nothing twice; a changed value is replaced with history;
    // a missing time is filled in.
    let t = MIDNIGHT + 30;
    let r = s
        .commit(&[ingest("again", vec![obs("w01001", t, "7.12")])])
        .expect("commit");
    assert_eq!(r[0].disposition, Disposition::Duplicate);
    let r = s
        .commit(&[ingest("fix", vec![obs("w01001", t, "7.30")])])
        .expect("commit");
    assert_eq!(r[0].replaced, 1);
    assert_eq!(
        s.history("p1", 5).expect("history")[0].1.fields["rtd"],
        "7.12"
    );
    let r = s
        .commit(&[ingest("gap", vec![obs("w01001", t + 1, "7.5")])])
        .expect("commit");
    assert_eq!(r[0].inserted, 1);
    let day0 = s
        .series(&SeriesQuery {
            point_id: "p1".into(),
            data_type: DataType::Rtd,
            code: Some("w01001".into()),
            from: t,
            to: t + 1,
            limit: 10,
        })
        .expect("series");
    let values: Vec<&str> = day0.iter().map(|o| o.fields["rtd"].as_str()).collect();
    assert_eq!(values, ["7.30", "7.5"]);

    let counts = s
        .daily_counts("p1", DataType::Rtd, MIDNIGHT, MIDNIGHT + 6 * DAY)
        .expect("counts");
    let of = |code: &str, day: i64| {
        counts
            .iter()
            .find(|c| c.code == code && c.day_start == MIDNIGHT + day * DAY)
            .map(|c| c.count)
    };
    assert_eq!(of("w01001", 0), Some(2881));
    assert_eq!(of("w01018", 1), Some(2880));
    assert_eq!(of("w01018", 5), Some(1));
    assert_eq!(of("w01001", 5), None);

    let latest = s.latest("p1").expect("latest");
    let so2 = latest.iter().find(|o| o.code == "w01001").expect("w01001");
    assert_eq!(
        so2.time,
        MIDNIGHT + DAY + 2879 * 30,
        "latest comes from a chunk"
    );
}

#[test]
fn retention_removes_old_data_and_old_frames() {
    let (_d, s) = store();
    let of = |point: &str, o: Observation| Observation {
        point_id: point.into(),
        ..o
    };
    s.commit(&[
        ingest("old", vec![obs("w01018", MIDNIGHT, "1.0")]),
        ingest("new", vec![obs("w01018", MIDNIGHT + 10 * DAY, "2.0")]),
        // Points with old data only (it ends up in a chunk), and with an old correction.
        ingest("p2", vec![of("p2", obs("w01018", MIDNIGHT, "3.0"))]),
        ingest("p3a", vec![of("p3", obs("w01018", MIDNIGHT + DAY, "4.0"))]),
        ingest("p3b", vec![of("p3", obs("w01018", MIDNIGHT + DAY, "4.5"))]),
    ])
    .expect("commit");
    assert_eq!(s.history("p3", 5).expect("history").len(), 1);
    let now_ms = (MIDNIGHT + 10 * DAY + 60) * 1000;
    // Compact first, so that retention has to remove a chunk.
    s.maintain(now_ms, &Housekeeping::default())
        .expect("compact");
    let retention = Housekeeping {
        rtd_days: Some(5),
        packets_days: Some(1),
        ..Housekeeping::default()
    };
    let report = s.maintain(now_ms, &retention).expect("prune");
    assert_eq!(
        report.observations_pruned, 3,
        "p1's, p2's and p3's old values"
    );
    assert_eq!(
        report.packets_pruned, 5,
        "every frame was received long ago"
    );
    let left: Vec<i64> = all(s.as_ref()).iter().map(|o| o.time).collect();
    assert_eq!(left, [MIDNIGHT + 10 * DAY]);
    assert_eq!(s.stats().expect("stats").observations, 1);
    assert!(s.history("p3", 5).expect("history").is_empty());
}

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = SqliteStore::open(&dir.path().join("t.db")).expect("opens");
    (dir, s)
}

#[test]
fn users_sessions_tokens_and_audit_round_trip() {
    let (_dir, s) = temp_store();
    let mut u = User {
        username: "li".into(),
        display_name: "Li".into(),
        role: "district_officer".into(),
        district: Some("lixia".into()),
        enterprise: None,
        password_hash: "$argon2id$x".into(),
        disabled: false,
        created_ms: 1,
        updated_ms: 1,
    };
    s.create_user(&u).expect("creates");
    assert!(matches!(s.create_user(&u), Err(StoreError::Conflict(_))));
    s.create_session("d1", "li", 10, 100_000).expect("session");
    assert_eq!(
        s.session_user("d1", 50, 200_000)
            .expect("reads")
            .map(|u| u.username),
        Some("li".into())
    );
    assert_eq!(
        s.session_user("d1", 150_000, 150_000)
            .expect("extended")
            .map(|u| u.role),
        Some("district_officer".into())
    );
    assert_eq!(
        s.session_user("d1", 250_000, 300_000).expect("expired"),
        None
    );
    assert_eq!(s.session_user("nope", 50, 60).expect("unknown"), None);
    let id = s.create_token("t1", "li", "gis", 10).expect("token");
    assert!(s.token_user("t1", 20).expect("reads").is_some());
    u.disabled = true;
    s.update_user(&u).expect("updates");
    assert_eq!(
        s.token_user("t1", 30).expect("disabled"),
        None,
        "a disabled user's token stops"
    );
    u.disabled = false;
    s.update_user(&u).expect("updates");
    let t = s.revoke_token(id, 40).expect("revokes");
    assert_eq!(t.revoked_ms, Some(40));
    assert_eq!(s.token_user("t1", 50).expect("revoked"), None);
    assert!(matches!(
        s.revoke_token(99, 1),
        Err(StoreError::NotFound(_))
    ));
    s.audit(&AuditEntry {
        id: 0,
        at_ms: 5,
        actor: "li".into(),
        method: "PUT".into(),
        path: "/api/v1/x".into(),
        status: 200,
        before: Some(serde_json::json!({"a": 1})),
        after: Some(serde_json::json!({"a": 2})),
    })
    .expect("audits");
    s.audit(&AuditEntry {
        id: 0,
        at_ms: 6,
        actor: "admin".into(),
        method: "POST".into(),
        path: "/api/v1/users".into(),
        status: 201,
        before: None,
        after: None,
    })
    .expect("audits");
    let log = s
        .audit_log(&AuditQuery {
            actor: Some("li".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("reads");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].after, Some(serde_json::json!({"a": 2})));
    assert_eq!(
        s.audit_log(&AuditQuery {
            path_prefix: Some("/api/v1/users".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("reads")
        .len(),
        1
    );
}

#[test]
fn case_events_append_in_order_and_concurrent_appends_conflict() {
    use ::cases::{Action, Case, CaseEvent, Deadlines, Source};
    let (_dir, s) = temp_store();
    let d = Deadlines::default();
    let open = Action::Opened {
        title: "t".into(),
        description: String::new(),
        source: Source::Alarms,
        alarms: vec![4, 5],
        point_id: Some("p".into()),
        enterprise: Some("E".into()),
        district: Some("lixia".into()),
        registry: None,
    };
    let e1 = CaseEvent::next(None, 0, "duty", &open).expect("event");
    let c1 = Case::from_events(0, std::slice::from_ref(&e1), &d).expect("folds");
    let id = s.create_case(&e1, &c1).expect("creates");
    let dispatch = Action::Dispatched {
        district: "lixia".into(),
        officer: "li".into(),
        due_ms: None,
    };
    let e2 = CaseEvent::next(Some(&e1), 10, "duty", &dispatch).expect("event");
    let c2 = Case::from_events(id, &[e1.clone(), e2.clone()], &d).expect("folds");
    s.append_case_event(id, &e2, &c2).expect("appends");
    assert!(
        matches!(
            s.append_case_event(id, &e2, &c2),
            Err(StoreError::Conflict(_))
        ),
        "same seq twice"
    );
    assert!(matches!(
        s.append_case_event(99, &e2, &c2),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.case_events(id).expect("reads"), vec![e1, e2]);
    let stored = s.case(id).expect("reads").expect("exists");
    assert_eq!(stored.id, id);
    assert_eq!(stored.officer.as_deref(), Some("li"));
    let q = |f: fn(&mut CaseQuery)| {
        let mut q = CaseQuery::default();
        f(&mut q);
        s.cases(&q).expect("lists").len()
    };
    assert_eq!(q(|q| q.alarm = Some(5)), 1);
    assert_eq!(q(|q| q.alarm = Some(6)), 0);
    assert_eq!(q(|q| q.state = Some("dispatched".into())), 1);
    assert_eq!(q(|q| q.district = Some("shizhong".into())), 0);
    assert_eq!(q(|q| q.enterprise = Some("E".into())), 1);
    let a = s
        .add_attachment(&Attachment {
            meta: ::cases::AttachmentRef {
                id: 0,
                name: "photo.jpg".into(),
                size: 0,
                sha256: "ab".into(),
            },
            case_id: id,
            content_type: "image/jpeg".into(),
            uploaded_by: "ent".into(),
            uploaded_ms: 20,
            content: vec![1, 2, 3],
        })
        .expect("attaches");
    assert_eq!(a.size, 3);
    assert_eq!(
        s.attachment(a.id).expect("reads").expect("exists").content,
        vec![1, 2, 3]
    );
}

#[test]
fn device_state_is_saved_and_brought_forward_by_the_raw_log() {
    let (_d, s) = store();
    let device = |mn: &str, last: i64, packets: u64| DeviceState {
        mn: mn.into(),
        online: true,
        peer: "10.0.0.1:5000".into(),
        last_packet_ms: last,
        packets,
    };
    s.save_devices(&[device("MN1", 1_000, 7), device("MN2", 5_000, 3)])
        .expect("saved");
    // A frame of MN1 logged after the save (a crash came before the next save).
    let mut r = record(Disposition::Stored, "q1");
    r.received_ms = 2_000;
    r.peer = "10.0.0.2:6000".into();
    s.commit(&[Ingest {
        record: r,
        observations: vec![],
    }])
    .expect("commit");
    let mns: Vec<String> = ["MN1", "MN2", "MN3"].map(str::to_owned).to_vec();
    let got = s.devices(&mns).expect("read");
    assert_eq!(
        got,
        [
            DeviceState {
                online: false,
                peer: "10.0.0.2:6000".into(),
                last_packet_ms: 2_000,
                ..device("MN1", 0, 7)
            },
            DeviceState {
                online: false,
                ..device("MN2", 5_000, 3)
            },
        ]
    );
    // Saving again replaces.
    s.save_devices(&[device("MN2", 9_000, 4)]).expect("saved");
    assert_eq!(s.devices(&mns[1..2]).expect("read")[0].packets, 4);
}
