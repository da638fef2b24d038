use super::*;

const H: i64 = 3_600_000;

fn opened() -> Action {
    Action::Opened {
        title: "COD over the limit at outlet 1".into(),
        description: String::new(),
        source: Source::Alarms,
        alarms: vec![7],
        point_id: Some("p-1".into()),
        enterprise: Some("913701".into()),
        district: Some("lixia".into()),
        registry: None,
    }
}

/// Records actions as a store would: chained, folded, refused when illegal.
fn record(
    events: &mut Vec<CaseEvent>,
    at_ms: i64,
    actor: &str,
    action: Action,
) -> Result<Case, TransitionError> {
    let d = Deadlines::default();
    if let Some(last) = events.last() {
        let case = Case::from_events(1, events, &d)?;
        case.check(at_ms, &action)?;
        let _ = last;
    }
    let e = CaseEvent::next(events.last(), at_ms, actor, &action).expect("serialises");
    events.push(e);
    Case::from_events(1, events, &d)
}

fn full_loop() -> Vec<CaseEvent> {
    let mut ev = Vec::new();
    record(&mut ev, 0, "duty", opened()).expect("opens");
    record(
        &mut ev,
        H,
        "duty",
        Action::Dispatched {
            district: "lixia".into(),
            officer: "li".into(),
            due_ms: None,
        },
    )
    .expect("dispatch");
    record(
        &mut ev,
        2 * H,
        "li",
        Action::OffSiteReview {
            findings: "hourly COD 120 mg/L against 100".into(),
            notice: Some("notice 2026-17".into()),
        },
    )
    .expect("review");
    record(
        &mut ev,
        3 * H,
        "li",
        Action::RectificationRequested {
            requirement: "repair the clarifier".into(),
            due_ms: 100 * H,
        },
    )
    .expect("request");
    record(
        &mut ev,
        50 * H,
        "ent",
        Action::Responded {
            statement: "repaired".into(),
            attachments: vec![],
        },
    )
    .expect("respond");
    record(
        &mut ev,
        130 * H,
        "li",
        Action::Verified {
            method: VerifyMethod::Data,
            detail: "72 h clean".into(),
        },
    )
    .expect("verify");
    record(
        &mut ev,
        131 * H,
        "li",
        Action::Closed {
            conclusion: "rectified".into(),
            violation: true,
        },
    )
    .expect("close");
    ev
}

#[test]
fn the_whole_loop_runs_and_the_case_remembers_it() {
    let ev = full_loop();
    let c = Case::from_events(1, &ev, &Deadlines::default()).expect("folds");
    assert_eq!(c.state, CaseState::Closed);
    assert_eq!(c.mode, Some(Mode::OffSite));
    assert_eq!(c.officer.as_deref(), Some("li"));
    assert_eq!(c.dispatched_ms, Some(H));
    assert_eq!(c.closed_ms, Some(131 * H));
    assert_eq!(c.events, 7);
    assert!(c.violation);
    assert_eq!(c.due_ms, None);
    assert!(
        c.overdue(1_000 * H).is_none(),
        "a closed case is never overdue"
    );
    verify_chain(&ev).expect("intact");
}

#[test]
fn illegal_transitions_are_refused_with_what_is_legal() {
    let mut ev = Vec::new();
    record(&mut ev, 0, "duty", opened()).expect("opens");
    let err = record(
        &mut ev,
        H,
        "ent",
        Action::Responded {
            statement: "x".into(),
            attachments: vec![],
        },
    )
    .expect_err("cannot respond before a request");
    assert_eq!(
        err.to_string(),
        "cannot responded a case that is open; legal now: dispatched, commented"
    );
    let err = record(
        &mut ev,
        H,
        "duty",
        Action::Closed {
            conclusion: "x".into(),
            violation: false,
        },
    )
    .expect_err("not from open");
    assert!(matches!(
        err,
        TransitionError::Illegal {
            state: CaseState::Open,
            ..
        }
    ));
    let err = record(&mut ev, H, "duty", opened()).expect_err("opened twice");
    assert_eq!(err, TransitionError::NotOpened);
    let err = record(
        &mut ev,
        H,
        "duty",
        Action::Dispatched {
            district: " ".into(),
            officer: "li".into(),
            due_ms: None,
        },
    )
    .expect_err("empty district");
    assert!(
        err.to_string().contains("district must not be empty"),
        "{err}"
    );
    let err = record(
        &mut ev,
        5 * H,
        "duty",
        Action::Dispatched {
            district: "lixia".into(),
            officer: "li".into(),
            due_ms: Some(4 * H),
        },
    )
    .expect_err("deadline in the past");
    assert!(matches!(err, TransitionError::DeadlineInPast { .. }));
    // A case from alarms names at least one.
    let mut bad = Vec::new();
    let no_alarms = Action::Opened {
        title: "t".into(),
        description: String::new(),
        source: Source::Alarms,
        alarms: vec![],
        point_id: None,
        enterprise: None,
        district: None,
        registry: None,
    };
    assert!(record(&mut bad, 0, "duty", no_alarms).is_err());
    // Every state can be commented on; escalation is the deadline watch's and never offered.
    for s in CaseState::ALL {
        let legal = Action::legal_in(s);
        assert!(legal.contains(&"commented"), "{s}: {legal:?}");
        assert!(!legal.contains(&"escalated"), "{s}: {legal:?}");
    }
    assert_eq!(
        Action::legal_in(CaseState::Closed),
        ["reopened", "commented"]
    );
}

#[test]
fn reopening_returns_to_dispatched_and_on_site_is_remembered() {
    let mut ev = full_loop();
    let c = record(
        &mut ev,
        200 * H,
        "li",
        Action::Reopened {
            reason: "COD high again".into(),
        },
    )
    .expect("reopen");
    assert_eq!(c.state, CaseState::Dispatched);
    assert_eq!(c.reopened, 1);
    assert_eq!(c.closed_ms, None);
    let c = record(
        &mut ev,
        201 * H,
        "li",
        Action::Inspection {
            inspector: "li, wang".into(),
            inspected_ms: 201 * H,
            findings: "bypass pipe found".into(),
        },
    )
    .expect("inspect");
    assert_eq!(c.mode, Some(Mode::OnSite));
    let c = record(
        &mut ev,
        202 * H,
        "li",
        Action::Closed {
            conclusion: "case filed for penalty".into(),
            violation: true,
        },
    )
    .expect("close from investigated");
    assert_eq!(c.state, CaseState::Closed);
}

#[test]
fn returned_responses_go_back_to_the_enterprise() {
    let mut ev = full_loop();
    ev.truncate(5); // up to the response
    let c = record(
        &mut ev,
        60 * H,
        "li",
        Action::ResponseReturned {
            reason: "no photos".into(),
        },
    )
    .expect("return");
    assert_eq!(c.state, CaseState::Rectifying);
    let c = record(
        &mut ev,
        70 * H,
        "ent",
        Action::Responded {
            statement: "photos attached".into(),
            attachments: vec![],
        },
    )
    .expect("respond again");
    assert_eq!(c.state, CaseState::Responded);
}

#[test]
fn deadlines_make_stages_overdue_and_escalation_is_recorded() {
    let d = Deadlines::default();
    let mut ev = Vec::new();
    let c = record(&mut ev, 0, "duty", opened()).expect("opens");
    assert_eq!(c.overdue(23 * H), None);
    assert_eq!(c.overdue(25 * H), Some((CaseState::Open, 24 * H)));
    let c = record(
        &mut ev,
        25 * H,
        "system",
        Action::Escalated {
            stage: CaseState::Open,
            due_ms: 24 * H,
        },
    )
    .expect("escalate");
    assert!(c.escalated);
    assert_eq!(c.state, CaseState::Open);
    let c = record(
        &mut ev,
        26 * H,
        "duty",
        Action::Dispatched {
            district: "lixia".into(),
            officer: "li".into(),
            due_ms: None,
        },
    )
    .expect("dispatch");
    assert!(!c.escalated, "a new stage starts unescalated");
    assert_eq!(c.due_ms, Some(26 * H + d.handle_days * 24 * H));
}

#[test]
fn the_chain_catches_an_edited_removed_or_reordered_event() {
    let ev = full_loop();
    let mut edited = ev.clone();
    edited[3].action_json = edited[3]
        .action_json
        .replace("repair the clarifier", "nothing");
    let err = verify_chain(&edited).expect_err("edit");
    assert_eq!(err.seq, 4);
    assert!(err.reason.contains("edited"), "{}", err.reason);

    let mut rehashed = edited.clone();
    rehashed[3].hash = chain_hash(
        &rehashed[3].prev_hash,
        4,
        rehashed[3].at_ms,
        &rehashed[3].actor,
        &rehashed[3].action_json,
    );
    let err = verify_chain(&rehashed).expect_err("a recomputed hash breaks the next link");
    assert_eq!(err.seq, 5);

    let mut removed = ev.clone();
    removed.remove(2);
    assert_eq!(verify_chain(&removed).expect_err("gap").seq, 4);

    let mut retimed = ev.clone();
    retimed[1].at_ms += 1;
    assert_eq!(verify_chain(&retimed).expect_err("time").seq, 2);

    let mut reactor = ev;
    reactor[6].actor = "someone else".into();
    assert_eq!(verify_chain(&reactor).expect_err("actor").seq, 7);
}

#[test]
fn figures_count_off_site_share_times_and_overdue() {
    let d = Deadlines::default();
    let closed_off = Case::from_events(1, &full_loop(), &d).expect("folds");
    let mut ev = full_loop();
    record(
        &mut ev,
        200 * H,
        "li",
        Action::Reopened {
            reason: "again".into(),
        },
    )
    .expect("reopen");
    record(
        &mut ev,
        201 * H,
        "li",
        Action::Inspection {
            inspector: "li".into(),
            inspected_ms: 201 * H,
            findings: "f".into(),
        },
    )
    .expect("inspect");
    record(
        &mut ev,
        203 * H,
        "li",
        Action::Closed {
            conclusion: "c".into(),
            violation: false,
        },
    )
    .expect("close");
    let closed_on = Case::from_events(2, &ev, &d).expect("folds");
    let mut ev = Vec::new();
    let open_late = record(
        &mut ev,
        0,
        "duty",
        Action::Opened {
            title: "t".into(),
            description: String::new(),
            source: Source::Manual,
            alarms: vec![],
            point_id: None,
            enterprise: Some("913702".into()),
            district: Some("shizhong".into()),
            registry: None,
        },
    )
    .expect("opens");
    let f = figures(&[closed_off, closed_on, open_late], 48 * H, 0.4);
    assert_eq!(f.total.cases, 3);
    assert_eq!(f.total.closed, 2);
    assert_eq!(f.total.closed_off_site, 1);
    assert_eq!(f.total.off_site_share, Some(0.5));
    assert_eq!(f.meets_off_site_target, Some(true));
    assert_eq!(f.total.overdue, 1);
    assert_eq!(f.total.median_hours_to_dispatch, Some(1.0));
    assert_eq!(f.total.median_hours_to_close, Some((131.0 + 203.0) / 2.0));
    assert_eq!(f.by_district["lixia"].closed, 2);
    assert_eq!(f.by_district["shizhong"].open, 1);
    assert_eq!(f.by_enterprise["913702"].overdue, 1);
}

#[test]
fn the_plan_visits_key_units_and_problem_units_more() {
    let unit = |e: &str, key, cases, alarms| PlanUnit {
        enterprise: e.into(),
        name: format!("{e} co"),
        district: "lixia".into(),
        key_unit: key,
        cases_12m: cases,
        alarms_12m: alarms,
    };
    let units = [
        unit("A", true, 0, 0),
        unit("B", true, 2, 25),
        unit("C", false, 0, 0),
        unit("D", false, 1, 0),
        unit("E", true, 40, 0),
    ];
    let p = plan(&units, 2027, &PlanPolicy::default());
    let visits: Vec<(&str, u32)> = p
        .iter()
        .map(|x| (x.enterprise.as_str(), x.visits))
        .collect();
    assert_eq!(visits, [("E", 12), ("B", 6), ("A", 2), ("D", 2)]);
    for x in &p {
        assert_eq!(x.dates.len() as u32, x.visits);
        assert!(
            x.dates.iter().all(|d| d.starts_with("2027-")),
            "{:?}",
            x.dates
        );
        let mut sorted = x.dates.clone();
        sorted.sort();
        assert_eq!(sorted, x.dates, "dates in order");
    }
    assert_eq!(p, plan(&units, 2027, &PlanPolicy::default()), "stable");
}

#[test]
fn the_evidence_zip_holds_every_file_with_its_digest() {
    use std::io::Read;
    let ev = full_loop();
    let case = Case::from_events(1, &ev, &Deadlines::default()).expect("folds");
    let pkg = evidence::EvidencePackage {
        case_id: 1,
        case: serde_json::to_value(&case).expect("json"),
        chain: verify_chain(&ev),
        events: ev,
        alarms: serde_json::json!([{"id": 7, "rule": "source_exceedance", "point_id": "p-1", "code": "w01018", "state": "cleared", "explanation": "<b>COD</b>"}]),
        data: vec![evidence::DataWindow {
            point_id: "p-1".into(),
            from_ms: 0,
            to_ms: H,
            csv: "time,type,code,avg,flag\n".into(),
        }],
        packets_csv: "received,mn,crc_valid,text\n".into(),
        attachments: vec![(
            AttachmentRef {
                id: 3,
                name: "../photo.jpg".into(),
                size: 3,
                sha256: crate::sha256_hex(b"jpg"),
            },
            b"jpg".to_vec(),
        )],
        generated_ms: 500 * H,
        generated_by: "li".into(),
    };
    let bytes = pkg.to_zip().expect("zips");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("reads");
    let mut names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "alarms.json",
            "attachments/3__photo.jpg",
            "case.json",
            "chain.json",
            "data/p-1_19700101080000.csv",
            "events.json",
            "manifest.json",
            "packets.csv",
            "summary.html"
        ]
    );
    let mut html = String::new();
    zip.by_name("summary.html")
        .expect("summary")
        .read_to_string(&mut html)
        .expect("utf-8");
    assert!(html.contains("Event chain verified: 7 events"));
    assert!(html.contains("&lt;b&gt;COD&lt;/b&gt;"), "escaped");
    let mut manifest = String::new();
    zip.by_name("manifest.json")
        .expect("manifest")
        .read_to_string(&mut manifest)
        .expect("utf-8");
    let m: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    let photo = m["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "attachments/3__photo.jpg")
        .expect("listed");
    assert_eq!(photo["sha256"], crate::sha256_hex(b"jpg"));
}
