//! Golden tests over every packet of `testdata/packets.txt` (a copy of
//! `shared/data/hj212/packets.txt`): real device traffic and the examples of HJ 212-2017 and
//! HJ/T 212-2005 Appendix C, each with the verdict its source line states.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::crc::CrcVariant;
use crate::frame::{FrameDecoder, FrameEvent, Terminator};
use crate::message::Message;
use crate::packet::{Deviation, Packet, Version};

const PACKETS: &str = include_str!("../testdata/packets.txt");

struct Case {
    source: &'static str,
    section_b: bool,
    frame: Vec<u8>,
}

fn unescape(line: &str) -> Vec<u8> {
    line.replace("\\r", "\r").replace("\\n", "\n").into_bytes()
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut source = None;
    let mut section_b = false;
    for line in PACKETS.lines() {
        if line.starts_with("# ===== Section B") {
            section_b = true;
        } else if let Some(s) = line.strip_prefix("# source: ") {
            source = Some(s);
        } else if line.starts_with("##") {
            out.push(Case {
                source: source.take().expect("every packet has a source line"),
                section_b,
                frame: unescape(line),
            });
        }
    }
    out
}

/// The verdict clauses after "CRC valid:" in a source line.
fn verdict(source: &str) -> Vec<&str> {
    let at = source.find("CRC valid:").expect("verdict");
    source[at..]
        .trim_end_matches(')')
        .split("; ")
        .map(str::trim)
        .collect()
}

fn hex(s: &str) -> u16 {
    u16::from_str_radix(s, 16).expect("hex")
}

fn decode_one(frame: &[u8]) -> Packet {
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::from(frame);
    let Some(FrameEvent::Frame(f)) = decoder.decode_eof(&mut buf).expect("no io") else {
        panic!("not a frame")
    };
    assert!(buf.is_empty(), "one frame per line");
    Packet::decode(&f).expect("decodes")
}

#[test]
fn every_packet_gets_the_verdict_of_its_source_line() {
    let cases = cases();
    assert_eq!(cases.len(), 78);
    for case in &cases {
        let p = decode_one(&case.frame);
        let v = verdict(case.source);
        let crc_valid = v[0] == "CRC valid: yes";
        let mut length_wrong = None;
        for clause in &v[1..] {
            if let Some(rest) = clause.strip_prefix("given ")
                && let Some((given, computed)) = rest.split_once(", HJ212 algorithm gives ")
            {
                assert_eq!(p.crc().given, Some(hex(given)), "{}", case.source);
                assert_eq!(p.crc().computed, hex(computed), "{}", case.source);
            } else if *clause == "given value equals CRC-16/MODBUS byte-swapped" {
                assert_eq!(
                    p.crc().variant,
                    Some(CrcVariant::ModbusSwapped),
                    "{}",
                    case.source
                );
            } else if *clause == "lowercase hex" {
                assert!(p.crc().lowercase, "{}", case.source);
                assert!(p.deviations().contains(&Deviation::LowercaseCrc));
            } else if let Some(rest) = clause.strip_prefix("LENGTH WRONG: declared ") {
                let (declared, actual) = rest
                    .trim_end_matches(" bytes")
                    .split_once(", actual ")
                    .expect("declared, actual");
                length_wrong = Some((declared.parse().expect("n"), actual.parse().expect("n")));
            } else if let Some(n) = clause
                .strip_prefix("len ")
                .and_then(|r| r.strip_suffix(" ok"))
            {
                assert_eq!(
                    p.data_len(),
                    n.parse::<usize>().expect("n"),
                    "{}",
                    case.source
                );
                assert!(
                    !p.deviations()
                        .iter()
                        .any(|d| matches!(d, Deviation::LengthMismatch { .. })),
                    "{}",
                    case.source
                );
            } else {
                let expected = match *clause {
                    "CRLF" => Terminator::CrLf,
                    "LF only" => Terminator::Lf,
                    "no terminator" => Terminator::Missing,
                    other => panic!("unknown clause {other:?} in {}", case.source),
                };
                assert_eq!(p.terminator(), expected, "{}", case.source);
            }
        }
        if let Some((declared, actual)) = length_wrong {
            assert!(
                p.deviations()
                    .contains(&Deviation::LengthMismatch { declared, actual }),
                "{}: {:?}",
                case.source,
                p.deviations()
            );
        }
        assert_eq!(p.crc().is_standard(), crc_valid, "{}", case.source);
        assert_eq!(
            p.is_valid(),
            crc_valid && length_wrong.is_none(),
            "{}: {:?}",
            case.source,
            p.deviations()
        );
    }
}

/// Every `name=value` of the CP text, split naively (these packets carry no log text with
/// delimiters), must be found in the decoded packet with exactly the text sent.
#[test]
fn every_value_is_decoded_as_sent() {
    for case in cases() {
        let p = decode_one(&case.frame);
        let cp = p.cp_text().to_owned();
        for token in cp.split([';', ',']).filter(|t| !t.trim().is_empty()) {
            let Some((name, value)) = token.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            let found = match name.rsplit_once('-') {
                Some((code, field)) => p
                    .pollutants()
                    .filter(|g| g.code() == code.trim())
                    .flat_map(|g| g.fields().collect::<Vec<_>>())
                    .any(|(f, _, v)| f == field.trim() && v.text == value),
                None => p.params().any(|(n, v)| n == name && v == value),
            };
            assert!(found, "{name}={value} in {}", case.source);
        }
    }
}

#[test]
fn section_b_round_trips_byte_for_byte() {
    let mut n = 0;
    for case in cases().into_iter().filter(|c| c.section_b) {
        let p = decode_one(&case.frame);
        let encoded = Message::from_packet(&p).encode().expect("encodes");
        assert_eq!(
            String::from_utf8_lossy(&encoded),
            String::from_utf8_lossy(&case.frame),
            "{}",
            case.source
        );
        n += 1;
    }
    assert!(n >= 40, "{n}");
}

#[test]
fn selected_packets_decode_to_the_right_values() {
    let cases = cases();
    let find = |needle: &str| {
        let c = cases
            .iter()
            .find(|c| c.source.contains(needle))
            .expect("case exists");
        decode_one(&c.frame)
    };

    let minute = find("2017 water 2051 minute data with -Cou");
    assert_eq!(minute.version(), Version::V2017);
    assert_eq!(minute.mn(), Some("90397953201156"));
    assert!(minute.deviations().contains(&Deviation::MnFormat));
    let flow = minute.pollutant("w00000").expect("flow");
    assert_eq!(flow.cou().map(|v| v.text), Some("2.039"));
    assert_eq!(flow.max().and_then(|v| v.as_f64()), Some(26.94));
    assert_eq!(minute.pollutants().len(), 5);

    let old = find("2005-style 2011 (no QN, no Flag");
    assert_eq!(old.version(), Version::V2005);
    assert_eq!(old.qn(), None);
    let cod = old.pollutant("011").expect("COD by its 2005 code");
    assert_eq!(cod.code_2017(), "w01018");
    assert_eq!(cod.rtd().map(|v| v.text), Some("231.0"));

    let log = find("3020 log upload with Chinese text");
    let info = log.pollutant("i11001").expect("log");
    assert_eq!(
        info.get(crate::FieldKind::Info).map(|v| v.text),
        Some("//清洗管路//")
    );
    assert_eq!(log.data_len(), 152);

    let ms = find("DataTime 17 digits");
    assert!(ms.deviations().contains(&Deviation::DataTimeMillis));
    assert_eq!(
        ms.data_time().map(|t| t.to_protocol()),
        Some("20210305003817".into())
    );

    let split = find("split packet 1/2 with ack");
    assert_eq!((split.pnum(), split.pno()), (Some(2), Some(1)));
    assert!(split.flag().is_some_and(|f| f.split() && f.ack()));

    let reply_2005 = find("2005 9011: QN carried inside CP");
    assert_eq!(reply_2005.qn(), None);
    assert_eq!(reply_2005.exchange_qn(), Some("20040516010101001"));
    assert_eq!(reply_2005.param("QnRtn"), Some("1"));

    let ack_loop = find("echoes QN but keeps ST=21 and Flag=5");
    assert!(ack_loop.deviations().contains(&Deviation::ReplyAsksForAck));

    let typo = find("contains typo LA-td");
    assert!(
        typo.deviations()
            .iter()
            .any(|d| matches!(d, Deviation::UnknownField { name } if name == "LA-td"))
    );
    assert!(
        typo.deviations()
            .contains(&Deviation::SplitWithoutPacketNumbers)
    );

    let glued = find("two TCP reads glued");
    assert!(!glued.is_valid());
}
