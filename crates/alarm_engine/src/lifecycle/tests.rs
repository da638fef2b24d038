use serde_json::json;

use super::*;

fn key() -> SeriesKey {
    SeriesKey {
        point_id: "p".into(),
        rule_id: "exceedance".into(),
        code: "a21026".into(),
    }
}

/// A series whose whole stored history (empty) is known.
fn known_series() -> SeriesState {
    let mut s = SeriesState::new();
    s.add_history(Vec::new(), Vec::new(), -1_000_000_000, 1_000_000_000);
    s
}

fn verdict(hour: i64, active: bool, value: i64) -> Window {
    Window {
        start: hour * 3600,
        active,
        evidence: json!({ "value": value }),
    }
}

fn done(step: Step) -> Vec<Effect> {
    match step {
        Step::Done(e) => e,
        Step::Need { from, to } => panic!("needs history {from}..{to}"),
    }
}

/// Applies a verdict; returns the events it makes.
fn set(s: &mut SeriesState, next_id: &mut i64, hour: i64, active: bool) -> Vec<&'static str> {
    events(&done(s.apply(
        &key(),
        "critical",
        3600,
        &verdict(hour, active, hour),
        hour * 1000,
        next_id,
    )))
}

fn events(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::PutAlarm { event, .. } => *event,
            _ => None,
        })
        .collect()
}

fn live(s: &SeriesState) -> Vec<&Alarm> {
    s.alarms()
        .iter()
        .filter(|a| a.state != AlarmState::Withdrawn)
        .collect()
}

#[test]
fn one_alarm_per_ongoing_condition_cleared_reopened_and_withdrawn() {
    let (mut s, mut id) = (known_series(), -1);
    assert!(set(&mut s, &mut id, 1, false).is_empty());
    assert_eq!(s.windows().count(), 0, "a quiet window is not recorded");
    assert_eq!(set(&mut s, &mut id, 2, true), ["raised"]);
    assert_eq!(
        set(&mut s, &mut id, 3, true),
        ["updated"],
        "the same condition goes on"
    );
    assert_eq!(set(&mut s, &mut id, 4, false), ["cleared"]);
    let a = live(&s);
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].start, a[0].end, a[0].state),
        (7200, 14_400, AlarmState::Cleared)
    );
    // Late data: hour 4 was in fact exceeding too -> the same alarm, ongoing again.
    assert_eq!(set(&mut s, &mut id, 4, true), ["reopened"]);
    // A correction removes hours 2-4: the alarm is withdrawn.
    set(&mut s, &mut id, 2, false);
    set(&mut s, &mut id, 3, false);
    assert_eq!(set(&mut s, &mut id, 4, false), ["withdrawn"]);
    assert!(live(&s).is_empty());
    assert_eq!(s.alarms()[0].state, AlarmState::Withdrawn);
}

#[test]
fn more_data_for_an_active_hour_refresh_the_evidence_without_an_event() {
    let (mut s, mut id) = (known_series(), -1);
    set(&mut s, &mut id, 2, true);
    let effects = done(s.apply(&key(), "critical", 3600, &verdict(2, true, 99), 5, &mut id));
    assert!(events(&effects).is_empty());
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::RefreshEvidence { end: 10_800, .. }))
    );
    assert_eq!(s.alarms()[0].evidence, json!({"value": 99}));
    // The same verdict again changes nothing.
    let again = done(s.apply(&key(), "critical", 3600, &verdict(2, true, 99), 6, &mut id));
    assert!(again.is_empty());
}

#[test]
fn a_late_hour_between_two_alarms_joins_them_and_withdraws_one() {
    let (mut s, mut id) = (known_series(), -1);
    set(&mut s, &mut id, 2, true);
    set(&mut s, &mut id, 3, false);
    set(&mut s, &mut id, 4, true);
    assert_eq!(live(&s).len(), 2);
    let ev = set(&mut s, &mut id, 3, true);
    assert!(ev.contains(&"withdrawn"), "{ev:?}");
    let a = live(&s);
    assert_eq!((a.len(), a[0].start, a[0].end), (1, 7200, 18_000));
}

#[test]
fn an_episode_that_is_over_when_it_arrives_is_raised_and_cleared() {
    let (mut s, mut id) = (known_series(), -1);
    set(&mut s, &mut id, 10, false);
    set(&mut s, &mut id, 11, false);
    // Hour 11's inactive verdict follows nothing active: not recorded. Record an inactive
    // window after hour 5 by making hour 6 active first, then late data for hour 5.
    set(&mut s, &mut id, 6, true);
    assert_eq!(set(&mut s, &mut id, 7, false), ["cleared"]);
    assert_eq!(set(&mut s, &mut id, 4, true), ["raised_and_cleared"]);
}

#[test]
fn a_run_longer_than_the_horizon_keeps_its_start() {
    let (mut s, mut id) = (known_series(), -1);
    let days = 9;
    for h in 0..days * 24 {
        set(&mut s, &mut id, h, true);
    }
    assert_eq!(set(&mut s, &mut id, days * 24, false), ["cleared"]);
    let a = live(&s);
    assert_eq!((a.len(), a[0].start), (1, 0));
}

#[test]
fn history_is_asked_for_only_when_the_activity_changes() {
    let mut id = -1;
    let mut s = SeriesState::new();
    // Only the windows around hour 5 are known; hour 4 was active.
    s.add_windows(vec![verdict(4, true, 1)], 3 * 3600, 5 * 3600);
    let stored_alarm = Alarm {
        id: 7,
        point_id: "p".into(),
        rule_id: "exceedance".into(),
        code: "a21026".into(),
        severity: "critical".into(),
        start: 4 * 3600,
        end: 5 * 3600,
        state: AlarmState::Raised,
        evidence: json!({"value": 1}),
        handling: None,
        updated_ms: 0,
    };
    // Hour 4 again with more data: no history needed.
    let effects = done(s.apply(&key(), "critical", 3600, &verdict(4, true, 2), 1, &mut id));
    assert!(events(&effects).is_empty());
    // Hour 5 active: the runs change, the history within the horizon is asked for.
    let need = s.apply(&key(), "critical", 3600, &verdict(5, true, 3), 2, &mut id);
    let Step::Need { from, to } = need else {
        panic!("{need:?}")
    };
    assert!(from <= 5 * 3600 - HORIZON_S && to >= 5 * 3600 + HORIZON_S);
    // The store still has hour 4's first verdict: the batch's newer one is kept.
    s.add_history(vec![verdict(4, true, 1)], vec![stored_alarm], from, to);
    let effects = done(s.apply(&key(), "critical", 3600, &verdict(5, true, 3), 2, &mut id));
    assert_eq!(events(&effects), ["updated"]);
    assert_eq!(
        s.windows().next().map(|w| &w.evidence),
        Some(&json!({"value": 2}))
    );
    let a = live(&s);
    assert_eq!((a.len(), a[0].id, a[0].end), (1, 7, 6 * 3600));
    assert_eq!(id, -1, "no new alarm");
}
