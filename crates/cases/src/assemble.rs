//! Gathering a case's evidence package: which alarms, data windows, raw frames and attachments
//! belong in it, read through [`EvidenceSources`] so that any store can supply them and the
//! choice is tested without one.
//!
//! What goes in:
//! - every attachment named in the case's events (enterprise responses);
//! - every alarm of the case with its events and the explanation of its rule;
//! - per point, the data (all series) from two hours before the first alarm's window to two
//!   hours after the last one's, or, for a case without alarms, the day before it was opened;
//! - per point, the raw frames received in that data window (plus an hour, for hourly data
//!   sent at the hour's end) and around every alarm event's time (late data arrive long after
//!   their DataTime, so the frames that raised an alarm are found by when they were received).

use std::collections::{BTreeMap, BTreeSet};

use domain::{Alarm, AlarmEvent, DataType, Observation, PacketRecord};

use crate::evidence::{DataWindow, EvidencePackage};
use crate::{Action, AttachmentRef, Case, CaseEvent};

/// Where a package's contents are read from.
pub trait EvidenceSources {
    /// Why a read failed.
    type Error;
    /// The case's events as stored.
    fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>, Self::Error>;
    /// An attachment and its bytes.
    fn attachment(&self, id: i64) -> Result<Option<(AttachmentRef, Vec<u8>)>, Self::Error>;
    /// An alarm with its events.
    fn alarm(&self, id: i64) -> Result<Option<(Alarm, Vec<AlarmEvent>)>, Self::Error>;
    /// What a rule checks, in words, if the rule is still configured.
    fn rule_explanation(&self, rule_id: &str) -> Option<String>;
    /// A point's observations of one series with DataTime in `[from_s, to_s]` (Unix seconds).
    fn observations(
        &self,
        point_id: &str,
        series: DataType,
        from_s: i64,
        to_s: i64,
    ) -> Result<Vec<Observation>, Self::Error>;
    /// The frames received from a point's device in `[from_ms, to_ms]`, with their log ids;
    /// empty when the point is unknown.
    fn packets(
        &self,
        point_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, PacketRecord)>, Self::Error>;
    /// A frame as text a person can read (the protocol's business).
    fn readable_frame(&self, raw: &[u8]) -> String;
}

/// The margin of data kept on either side of an alarm's window, seconds.
pub const DATA_MARGIN_S: i64 = 2 * 3600;
/// Frames received up to this long after an alarm event are kept, ms.
const RECEIVED_AFTER_MS: i64 = 600_000;

/// Who asked for the package, and when.
#[derive(Debug, Clone)]
pub struct Request {
    /// The user.
    pub by: String,
    /// Unix ms.
    pub at_ms: i64,
}

/// Reads everything the case's package holds.
pub fn evidence_package<S: EvidenceSources>(
    case: &Case,
    sources: &S,
    request: Request,
) -> Result<EvidencePackage, S::Error> {
    let events = sources.case_events(case.id)?;
    let mut attachment_ids = BTreeSet::new();
    for e in &events {
        if let Ok(Action::Responded { attachments, .. }) = e.action() {
            attachment_ids.extend(attachments.iter().map(|a| a.id));
        }
    }
    let mut attachments = Vec::new();
    for a in attachment_ids {
        attachments.extend(sources.attachment(a)?);
    }
    let mut alarms = Vec::new();
    for id in &case.alarms {
        alarms.extend(sources.alarm(*id)?);
    }
    let windows = windows(case, &alarms);
    let mut data = Vec::new();
    let mut packets = csv_writer(&PACKET_COLUMNS);
    for (point, w) in &windows {
        let mut csv = csv_writer(&["time", "series", "code", "fields"]);
        for series in [DataType::Rtd, DataType::Min, DataType::Hour, DataType::Day] {
            for o in sources.observations(point, series, w.data.0, w.data.1)? {
                let fields: Vec<String> =
                    o.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write_row(
                    &mut csv,
                    [
                        bjtime::rfc3339_ms(o.time * 1000),
                        format!("{:?}", o.data_type).to_lowercase(),
                        o.code,
                        fields.join(";"),
                    ],
                );
            }
        }
        data.push(DataWindow {
            point_id: point.clone(),
            from_ms: w.data.0 * 1000,
            to_ms: w.data.1 * 1000,
            csv: csv_text(csv),
        });
        let mut rows = BTreeMap::new();
        for (lo, hi) in w.received() {
            rows.extend(sources.packets(point, lo, hi)?);
        }
        for (id, r) in rows {
            write_row(
                &mut packets,
                [
                    id.to_string(),
                    bjtime::rfc3339_ms(r.received_ms),
                    r.peer,
                    r.mn.unwrap_or_default(),
                    r.cn.unwrap_or_default(),
                    r.qn.unwrap_or_default(),
                    r.crc_given.unwrap_or_default(),
                    r.crc_computed.unwrap_or_default(),
                    r.crc_variant.unwrap_or_default(),
                    r.deviations.join(";"),
                    format!("{:?}", r.disposition),
                    sources.readable_frame(&r.raw).trim_end().to_owned(),
                    hex::encode(&r.raw),
                ],
            );
        }
    }
    let alarms = alarms
        .into_iter()
        .map(|(a, events)| {
            serde_json::json!({
                "id": a.id,
                "rule": a.rule_id,
                "point_id": a.point_id,
                "code": a.code,
                "severity": a.severity,
                "state": a.state,
                "start": bjtime::rfc3339_ms(a.start * 1000),
                "end": bjtime::rfc3339_ms(a.end * 1000),
                "evidence": a.evidence,
                "handling": a.handling,
                "explanation": sources.rule_explanation(&a.rule_id),
                "events": events,
            })
        })
        .collect();
    Ok(EvidencePackage {
        case_id: case.id,
        case: serde_json::to_value(case).unwrap_or_default(),
        chain: crate::verify_chain(&events),
        events,
        alarms: serde_json::Value::Array(alarms),
        data,
        packets_csv: csv_text(packets),
        attachments,
        generated_ms: request.at_ms,
        generated_by: request.by,
    })
}

const PACKET_COLUMNS: [&str; 13] = [
    "id",
    "received",
    "peer",
    "mn",
    "cn",
    "qn",
    "crc_given",
    "crc_computed",
    "crc_variant",
    "deviations",
    "disposition",
    "text",
    "raw_hex",
];

/// A point's windows in a package.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Windows {
    /// DataTime, Unix seconds, inclusive.
    data: (i64, i64),
    /// Receive time around the alarm events, Unix ms.
    events: Option<(i64, i64)>,
}

impl Windows {
    /// The receive-time ranges whose frames go in: the data window (plus the hour whose data
    /// are sent at its end) and the span around the alarm events.
    fn received(&self) -> impl Iterator<Item = (i64, i64)> {
        std::iter::once((self.data.0 * 1000, self.data.1 * 1000 + 3_600_000)).chain(self.events)
    }
}

fn windows(case: &Case, alarms: &[(Alarm, Vec<AlarmEvent>)]) -> BTreeMap<String, Windows> {
    let mut out: BTreeMap<String, Windows> = BTreeMap::new();
    for (a, events) in alarms {
        let w = out.entry(a.point_id.clone()).or_insert(Windows {
            data: (a.start - DATA_MARGIN_S, a.end + DATA_MARGIN_S),
            events: None,
        });
        w.data.0 = w.data.0.min(a.start - DATA_MARGIN_S);
        w.data.1 = w.data.1.max(a.end + DATA_MARGIN_S);
        for e in events {
            let lo = e.at_ms - DATA_MARGIN_S * 1000;
            let hi = e.at_ms + RECEIVED_AFTER_MS;
            w.events = Some(match w.events {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        }
    }
    if out.is_empty()
        && let Some(point) = &case.point_id
    {
        let opened = case.opened_ms.div_euclid(1000);
        out.insert(
            point.clone(),
            Windows {
                data: (opened - 86_400, opened),
                events: None,
            },
        );
    }
    out
}

fn csv_writer(header: &[&str]) -> csv::Writer<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    write_row(&mut w, header);
    w
}

fn write_row<I, T>(w: &mut csv::Writer<Vec<u8>>, fields: I)
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    // Writing to memory cannot fail.
    let _ = w.write_record(fields);
}

fn csv_text(w: csv::Writer<Vec<u8>>) -> String {
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use domain::{AlarmState, Disposition};

    use super::*;
    use crate::{Deadlines, Source};

    const T: i64 = 1_780_000_000;

    struct Memory {
        events: Vec<CaseEvent>,
        alarms: Vec<(Alarm, Vec<AlarmEvent>)>,
        observations: Vec<Observation>,
        packets: Vec<(i64, PacketRecord)>,
    }

    impl EvidenceSources for Memory {
        type Error = Infallible;

        fn case_events(&self, _: i64) -> Result<Vec<CaseEvent>, Infallible> {
            Ok(self.events.clone())
        }

        fn attachment(&self, id: i64) -> Result<Option<(AttachmentRef, Vec<u8>)>, Infallible> {
            Ok((id == 3).then(|| (attachment(), b"photo".to_vec())))
        }

        fn alarm(&self, id: i64) -> Result<Option<(Alarm, Vec<AlarmEvent>)>, Infallible> {
            Ok(self.alarms.iter().find(|(a, _)| a.id == id).cloned())
        }

        fn rule_explanation(&self, rule_id: &str) -> Option<String> {
            Some(format!("{rule_id} explained"))
        }

        fn observations(
            &self,
            point_id: &str,
            series: DataType,
            from_s: i64,
            to_s: i64,
        ) -> Result<Vec<Observation>, Infallible> {
            Ok(self
                .observations
                .iter()
                .filter(|o| {
                    o.point_id == point_id
                        && o.data_type == series
                        && (from_s..=to_s).contains(&o.time)
                })
                .cloned()
                .collect())
        }

        fn packets(
            &self,
            _: &str,
            from_ms: i64,
            to_ms: i64,
        ) -> Result<Vec<(i64, PacketRecord)>, Infallible> {
            Ok(self
                .packets
                .iter()
                .filter(|(_, p)| (from_ms..=to_ms).contains(&p.received_ms))
                .cloned()
                .collect())
        }

        fn readable_frame(&self, raw: &[u8]) -> String {
            String::from_utf8_lossy(raw).into_owned()
        }
    }

    fn attachment() -> AttachmentRef {
        AttachmentRef {
            id: 3,
            name: "repair.jpg".into(),
            size: 5,
            sha256: String::new(),
        }
    }

    fn alarm(id: i64, start: i64, raised_ms: i64) -> (Alarm, Vec<AlarmEvent>) {
        let a = Alarm {
            id,
            point_id: "p-1".into(),
            rule_id: "over_limit".into(),
            code: "w01018".into(),
            severity: "warning".into(),
            start,
            end: start + 3600,
            state: AlarmState::Raised,
            evidence: serde_json::json!({"value": 120}),
            handling: None,
            updated_ms: raised_ms,
        };
        let e = AlarmEvent {
            id,
            alarm_id: id,
            at_ms: raised_ms,
            kind: "raised".into(),
            alarm: a.clone(),
        };
        (a, vec![e])
    }

    fn obs(time: i64) -> Observation {
        Observation {
            point_id: "p-1".into(),
            data_type: DataType::Hour,
            code: "w01018".into(),
            time,
            fields: [("avg".to_owned(), "120".to_owned())].into(),
        }
    }

    fn packet(received_ms: i64) -> PacketRecord {
        PacketRecord {
            received_ms,
            peer: "10.0.0.1:5000".into(),
            mn: Some("MN1".into()),
            cn: Some("2061".into()),
            qn: None,
            crc_given: None,
            crc_computed: None,
            crc_variant: None,
            deviations: Vec::new(),
            disposition: Disposition::Stored,
            quarantined_fields: Vec::new(),
            raw: b"##frame\r\n".to_vec(),
        }
    }

    fn case_events(alarms: Vec<i64>) -> Vec<CaseEvent> {
        let opened = Action::Opened {
            title: "COD".into(),
            description: String::new(),
            source: if alarms.is_empty() {
                Source::Manual
            } else {
                Source::Alarms
            },
            alarms,
            point_id: Some("p-1".into()),
            enterprise: None,
            district: None,
            registry: None,
        };
        let first = CaseEvent::next(None, T * 1000, "duty", &opened).expect("event");
        let responded = Action::Responded {
            statement: "repaired".into(),
            attachments: vec![attachment()],
        };
        let second = CaseEvent::next(Some(&first), T * 1000 + 1, "ent", &responded).expect("event");
        vec![first, second]
    }

    #[test]
    fn a_package_holds_the_windows_around_the_alarms() {
        let events = case_events(vec![7, 8]);
        let case = Case::from_events(1, &events[..1], &Deadlines::default()).expect("case");
        // Alarm 8's data arrived a day late: its frames are found by their receive time.
        let late = (T + 86_400) * 1000;
        let memory = Memory {
            events,
            alarms: vec![alarm(7, T, T * 1000), alarm(8, T + 7200, late)],
            observations: vec![
                obs(T - 3 * 3600), // before the margin
                obs(T - 2 * 3600),
                obs(T + 7200 + 3600 + 2 * 3600),
                obs(T + 7200 + 3600 + 3 * 3600), // after it
            ],
            packets: vec![
                (1, packet(T * 1000)),
                (2, packet(late - 1000)),
                (3, packet(late + 2 * 86_400_000)),
            ],
        };
        let request = Request {
            by: "duty".into(),
            at_ms: T * 1000,
        };
        let Ok(p) = evidence_package(&case, &memory, request);
        assert_eq!(p.data.len(), 1);
        let w = &p.data[0];
        assert_eq!(
            (w.from_ms, w.to_ms),
            ((T - 7200) * 1000, (T + 7200 + 3600 + 7200) * 1000)
        );
        assert_eq!(w.csv.lines().count(), 3, "{}", w.csv);
        assert!(w.csv.contains("hour,w01018,avg=120"), "{}", w.csv);
        let ids: Vec<&str> = p
            .packets_csv
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .collect();
        assert_eq!(ids, ["1", "2"], "{}", p.packets_csv);
        assert!(p.packets_csv.contains(&hex::encode(b"##frame\r\n")));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.alarms.as_array().map(Vec::len), Some(2));
        assert_eq!(p.alarms[0]["explanation"], "over_limit explained");
        assert!(p.chain.is_ok());
    }

    #[test]
    fn a_case_without_alarms_gets_the_day_before_it_was_opened() {
        let events = case_events(Vec::new());
        let case = Case::from_events(1, &events[..1], &Deadlines::default()).expect("case");
        let memory = Memory {
            events,
            alarms: Vec::new(),
            observations: vec![obs(T - 86_400 - 1), obs(T - 3600)],
            packets: Vec::new(),
        };
        let request = Request {
            by: "duty".into(),
            at_ms: T * 1000,
        };
        let Ok(p) = evidence_package(&case, &memory, request);
        assert_eq!(
            (p.data[0].from_ms, p.data[0].to_ms),
            ((T - 86_400) * 1000, T * 1000)
        );
        assert_eq!(p.data[0].csv.lines().count(), 2);
    }
}
