use std::collections::BTreeMap;

use domain::{DataType, Disposition, Observation, PacketRecord};
use serde_json::json;
use store::{AlarmQuery, Ingest, SqliteStore};

use super::*;

const H: i64 = 1_790_002_800; // an hour start

fn minute(code: &str, t: i64) -> Observation {
    Observation {
        point_id: "p1".into(),
        data_type: DataType::Min,
        code: code.into(),
        time: t,
        fields: BTreeMap::from([("avg".to_owned(), "1.0".to_owned())]),
    }
}

fn commit(s: &dyn Store, qn: &str, observations: Vec<Observation>) {
    let record = PacketRecord {
        received_ms: 0,
        peer: "test".into(),
        mn: Some("MN1".into()),
        cn: Some("2051".into()),
        qn: Some(qn.into()),
        crc_given: None,
        crc_computed: None,
        crc_variant: None,
        deviations: vec![],
        disposition: Disposition::Stored,
        quarantined_fields: vec![],
        raw: vec![],
    };
    s.commit(&[Ingest {
        record,
        observations,
    }])
    .expect("commit");
}

fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&dir.path().join("h.db")).expect("store"))
}

fn engine(s: &Arc<SqliteStore>, at_s: i64) -> Arc<Engine> {
    engine_on(s, Clock::manual(at_s * 1000))
}

fn engine_on(s: &Arc<SqliteStore>, clock: Clock) -> Arc<Engine> {
    let sources = Sources {
        series: Arc::clone(s) as Arc<dyn Store>,
        registries: Arc::clone(s) as Arc<dyn RegistryStore>,
        alarms: Arc::clone(s) as Arc<dyn AlarmStore>,
        devices: Arc::new(Vec::new),
    };
    Engine::new(
        sources,
        RuleSet::defaults(),
        clock,
        Arc::new(AlarmHub::default()),
    )
}

fn alarms_of(s: &SqliteStore, rule: &str) -> Vec<domain::Alarm> {
    s.alarms(&AlarmQuery {
        point_id: Some("p1".into()),
        rule_id: Some(rule.into()),
        limit: 100,
        ..AlarmQuery::default()
    })
    .expect("alarms")
}

#[test]
fn hours_the_store_had_are_read_and_new_hours_come_from_the_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = open(&dir);
    let p: Point = serde_json::from_str(r#"{"id":"p1","name":"n","mn":"MN1","password":"pw"}"#)
        .expect("point");
    s.put_point(&p, "test", 0).expect("point");
    commit(&*s, "a", vec![minute("a21026", H + 60)]);
    let mut cache = HourCache::default();
    cache.synchronise(&*s).expect("sync");
    // The hour the store already had is read from it.
    assert_eq!(cache.hour(&*s, "p1", H).expect("hour").len(), 1);
    // A later hour had nothing stored at the synchronisation: its data are whatever the
    // commit stream brings, so the cache does not read the store for it (a commit made
    // behind the stream's back is not seen, which shows the store was not read).
    commit(&*s, "b", vec![minute("a21026", H + 3660)]);
    assert!(cache.hour(&*s, "p1", H + 3600).expect("hour").is_empty());
    // After synchronising again (as after missing commits) it is read.
    cache.synchronise(&*s).expect("sync");
    assert_eq!(cache.hour(&*s, "p1", H + 3600).expect("hour").len(), 1);
    // An evicted hour is read from the store again when data come for it.
    cache.synchronise(&*s).expect("sync");
    commit(&*s, "c", vec![minute("a21026", H + 5 * 3600)]);
    cache.hour(&*s, "p1", H + 2 * 3600).expect("hour");
    cache.evict(H + 6 * 3600);
    assert!(!cache.hours.contains_key(&("p1".to_owned(), H + 2 * 3600)));
    commit(&*s, "d", vec![minute("a21026", H + 2 * 3600 + 60)]);
    assert_eq!(cache.hour(&*s, "p1", H + 2 * 3600).expect("hour").len(), 1);
}

#[test]
fn hours_still_to_be_judged_are_judged_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = open(&dir);
    let p: Point = serde_json::from_str(
        r#"{"id":"p1","name":"n","mn":"MN1","password":"pw","kind":"gas_outlet","min_interval_min":1}"#,
    )
    .expect("point");
    s.put_point(&p, "test", 0).expect("point");
    // 20 valid minutes of hour H arrive while it is in progress: not judged yet.
    let minutes: Vec<Observation> = (0..20)
        .map(|m| Observation {
            fields: BTreeMap::from([
                ("avg".to_owned(), "1.0".to_owned()),
                ("flag".to_owned(), "N".to_owned()),
            ]),
            ..minute("a21026", H + m * 60)
        })
        .collect();
    commit(&*s, "a", minutes.clone());
    let clock = Clock::manual((H + 1200) * 1000);
    let first = engine_on(&s, clock);
    first.start().expect("start");
    first
        .evaluate(vec![Committed {
            point_id: "p1".into(),
            observations: minutes,
            received_ms: (H + 1200) * 1000,
        }])
        .expect("evaluate");
    assert_eq!(s.unsettled_hours().expect("list"), [("p1".to_owned(), H)]);
    // The platform stops before the hour is settled, and starts again two hours later.
    drop(first);
    clock.advance((2 * 3600 - 1200) * 1000);
    let second = engine_on(&s, clock);
    second.start().expect("start");
    // Data may still be on the way: nothing is judged at once...
    second.tick().expect("tick");
    assert!(alarms_of(&s, "invalid_hour").is_empty());
    // ...but once quiet for the settling time, the hour is judged: 20 of 45 minutes.
    clock.advance(SETTLE_S * 1000);
    second.tick().expect("tick");
    let raised = alarms_of(&s, "invalid_hour");
    assert_eq!((raised.len(), raised[0].start), (1, H));
    assert!(s.unsettled_hours().expect("list").is_empty());
}

#[test]
fn an_exceedance_is_not_ended_by_an_hour_in_progress_only_by_a_judged_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = open(&dir);
    let mut p: Point = serde_json::from_str(
        r#"{"id":"p1","name":"n","mn":"MN1","password":"pw","kind":"gas_outlet","min_interval_min":1}"#,
    )
    .expect("point");
    p.codes.insert(
        "a21026".into(),
        domain::CodeSetting {
            limit: Some(35.0),
            ..Default::default()
        },
    );
    s.put_point(&p, "test", 0).expect("point");
    let over = |from: i64, n: i64| -> Vec<Observation> {
        (0..n)
            .map(|m| Observation {
                fields: BTreeMap::from([
                    ("avg".to_owned(), "50".to_owned()),
                    ("flag".to_owned(), "N".to_owned()),
                ]),
                ..minute("a21026", from + m * 60)
            })
            .collect()
    };
    let clock = Clock::manual(H * 1000);
    let e = engine_on(&s, clock);
    e.start().expect("start");
    let send = |observations: Vec<Observation>| {
        e.evaluate(vec![Committed {
            point_id: "p1".into(),
            observations,
            received_ms: clock.now_ms(),
        }])
        .expect("evaluate")
    };
    // A whole hour over the limit: raised.
    send(over(H - 3600, 60));
    let state = || alarms_of(&s, "source_exceedance")[0].state;
    assert_eq!(state(), domain::AlarmState::Raised);
    // Ten minutes into the next hour, with ten valid minutes: not judged, still raised.
    clock.advance(600 * 1000);
    send(over(H, 10));
    assert_eq!(state(), domain::AlarmState::Raised);
    // The device falls silent; once the hour is over and settled, it is judged as it is (too
    // few valid minutes to say it exceeds) and the alarm ends.
    clock.advance((3600 - 600 + SETTLE_S) * 1000);
    e.tick().expect("tick");
    assert_eq!(state(), domain::AlarmState::Cleared);
}

#[test]
fn verdicts_of_one_series_in_one_batch_make_one_alarm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = open(&dir);
    let e = engine(&s, H);
    let update = |hour: i64, active: bool| WindowUpdate {
        key: SeriesKey {
            point_id: "p1".into(),
            rule_id: "exceedance".into(),
            code: "a21026".into(),
        },
        severity: "critical".into(),
        step: 3600,
        window: Window {
            start: H + hour * 3600,
            active,
            evidence: json!({ "hour": hour }),
        },
    };
    let events = e
        .record(&[update(0, true), update(1, true), update(2, true)])
        .expect("record");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["raised", "updated", "updated"]);
    assert!(events.iter().all(|ev| ev.alarm_id == events[0].alarm_id));
    // The next batch continues the stored alarm.
    let events = e.record(&[update(3, false)]).expect("record");
    assert_eq!(events[0].kind, "cleared");
    let stored = alarms_of(&s, "exceedance");
    assert_eq!(
        (stored.len(), stored[0].start, stored[0].end),
        (1, H, H + 3 * 3600)
    );
    assert_eq!(stored[0].evidence, json!({ "hour": 2 }));
}

#[test]
fn a_station_falling_below_its_neighbours_is_judged_on_their_stored_hours() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = open(&dir);
    let ids = ["p1", "n1", "n2", "n3"];
    for (k, id) in ids.iter().enumerate() {
        let p: Point = serde_json::from_value(json!({
            "id": id, "name": id, "mn": format!("MN{k}"), "password": "pw", "kind": "air_station",
            "location": [117.0 + 0.04 * k as f64, 36.65],
        }))
        .expect("point");
        s.put_point(&p, "test", 0).expect("point");
    }
    // Eight days of the city's weather at every station; from the last six hours on, the
    // first station reads 40 % (its inlet sprinkled).
    let days = 8 * 24;
    let hour = |id: &str, k: i64| {
        let weather = 60.0 + 25.0 * (k as f64 / 19.0).sin();
        let own =
            1.0 + 0.05 * ((k as f64) * 0.7 + id.len() as f64 + f64::from(id.as_bytes()[1])).sin();
        let sprinkled = id == "p1" && k >= days - 6;
        let v = weather * own * if sprinkled { 0.4 } else { 1.0 };
        Observation {
            point_id: id.into(),
            data_type: DataType::Hour,
            code: "a34004".into(),
            time: H + k * 3600,
            fields: BTreeMap::from([
                ("avg".to_owned(), format!("{v:.0}")),
                ("flag".to_owned(), "N".to_owned()),
            ]),
        }
    };
    for id in ids {
        commit(&*s, id, (0..days - 6).map(|k| hour(id, k)).collect());
    }
    let clock = Clock::manual((H + (days - 6) * 3600) * 1000);
    let e = engine_on(&s, clock);
    e.start().expect("start");
    // The last six hours arrive live, every station's.
    for k in days - 6..days {
        clock.advance(3600 * 1000);
        for id in ids {
            commit(&*s, &format!("{id}{k}"), vec![hour(id, k)]);
            e.evaluate(vec![Committed {
                point_id: id.into(),
                observations: vec![hour(id, k)],
                received_ms: clock.now_ms(),
            }])
            .expect("evaluate");
        }
    }
    clock.advance((3600 + SETTLE_S) * 1000);
    e.tick().expect("tick");
    let raised = alarms_of(&s, "air_neighbour_divergence");
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert!(raised[0].start >= H + (days - 6) * 3600);
    let evidence = &raised[0].evidence;
    assert_eq!(
        evidence["neighbours"].as_array().map(Vec::len),
        Some(3),
        "{evidence}"
    );
    for id in ["n1", "n2", "n3"] {
        let others = s
            .alarms(&AlarmQuery {
                point_id: Some(id.into()),
                rule_id: Some("air_neighbour_divergence".into()),
                limit: 10,
                ..AlarmQuery::default()
            })
            .expect("alarms");
        assert!(others.is_empty(), "{id}: {others:?}");
    }
}

#[test]
fn the_history_of_past_hours_reads_only_the_hours_it_does_not_hold() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = open(&dir);
    let hourly = |k: i64, v: &str| Observation {
        point_id: "p1".into(),
        data_type: DataType::Hour,
        code: "a21026".into(),
        time: H + k * 3600,
        fields: BTreeMap::from([("avg".to_owned(), v.to_owned())]),
    };
    commit(&*s, "a", (0..12).map(|k| hourly(k, "10")).collect());
    let mut history = cache::History::default();
    let values = |p: &rules::Past| -> Vec<String> {
        p.iter()
            .map(|r| r.avg.map(|v| v.to_string()).unwrap_or_default())
            .collect()
    };
    let past = history.past(&*s, "p1", H + 10 * 3600, 5).expect("past");
    assert_eq!(past.len(), 5);
    assert_eq!(past[0].time, H + 5 * 3600);
    // A correction of hour 7 stored behind the history's back is not seen (the hours held are
    // not read again)...
    commit(&*s, "b", vec![hourly(7, "99")]);
    let past = history.past(&*s, "p1", H + 11 * 3600, 5).expect("past");
    assert_eq!(values(&past), ["10"; 5]);
    assert_eq!(past[4].time, H + 10 * 3600, "the new hour is read");
    // ...it comes from the commit stream.
    history.upsert("p1", &rules::Row::new(&hourly(7, "99")));
    let past = history.past(&*s, "p1", H + 11 * 3600, 5).expect("past");
    assert_eq!(values(&past), ["10", "99", "10", "10", "10"]);
    // A shorter window asked in between does not drop the longer one's hours.
    assert_eq!(
        history
            .past(&*s, "p1", H + 11 * 3600, 2)
            .expect("past")
            .len(),
        2
    );
    let past = history.past(&*s, "p1", H + 12 * 3600, 5).expect("past");
    assert_eq!(values(&past), ["99", "10", "10", "10", "10"]);
    // An older hour judged again is read from the store, as stored now.
    let old = history.past(&*s, "p1", H + 4 * 3600, 4).expect("past");
    assert_eq!(values(&old), ["10"; 4]);
}
