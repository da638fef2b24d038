//! Property tests: round trips, and "any byte stream, split anywhere, never panics and never
//! holds more than the cap".

use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

use crate::crc;
use crate::frame::{FrameConfig, FrameDecoder, FrameEvent};
use crate::message::{DataArea, Message};
use crate::packet::{Flag, Packet};

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_]{0,7}"
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,6}(\\.[0-9]{1,6})?",
        "[A-Za-z0-9_.]{0,12}",
        "//[a-z 清洗管路;,=]{0,20}//",
    ]
}

fn item() -> impl Strategy<Value = (String, String)> {
    (
        name(),
        prop::option::of(prop::sample::select(vec![
            "Rtd", "Avg", "Min", "Max", "Cou", "Flag", "ZsAvg", "Info",
        ])),
        value(),
    )
        .prop_map(|(n, field, v)| match field {
            Some(f) => (format!("{n}-{f}"), v),
            None => (n, v),
        })
}

fn message() -> impl Strategy<Value = Message> {
    (
        prop::option::of("[0-9]{17}"),
        "[0-9A-Z]{2}",
        "[0-9]{4}",
        prop::option::of("[A-Za-z0-9]{6}"),
        prop::option::of("[0-9A-F]{24}"),
        prop::option::of(any::<u8>()),
        prop::collection::vec(prop::collection::vec(item(), 1..4), 0..8),
    )
        .prop_map(|(qn, st, cn, pw, mn, flag, groups)| {
            Message::new(
                qn.as_deref(),
                &st,
                &cn,
                pw.as_deref(),
                mn.as_deref(),
                flag.map(Flag),
            )
            .with_cp(DataArea { groups })
        })
}

fn valid_frame() -> impl Strategy<Value = Vec<u8>> {
    message().prop_map(|m| m.encode().expect("generated messages are encodable"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fast_crc_equals_the_literal_algorithm(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        prop_assert_eq!(crc::hj212(&data), crc::hj212_bytewise(&data));
    }

    #[test]
    fn encode_then_decode_gives_the_same_message(m in message()) {
        let bytes = m.encode().expect("encodable");
        let p = Packet::from_frame_bytes(&bytes).expect("decodes");
        prop_assert!(p.crc().is_standard());
        prop_assert_eq!(Message::from_packet(&p), m);
    }

    #[test]
    fn frames_survive_garbage_and_any_split(
        frames in prop::collection::vec(valid_frame(), 1..6),
        garbage in prop::collection::vec(prop::collection::vec(any::<u8>().prop_filter("no #", |b| *b != b'#'), 0..40), 6),
        chunk in 1usize..64,
    ) {
        let mut stream = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            stream.extend_from_slice(&garbage[i]);
            stream.extend_from_slice(f);
        }
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(e) = decoder.decode(&mut buf).expect("no io") {
                got.push(e);
            }
        }
        while let Some(e) = decoder.decode_eof(&mut buf).expect("no io") {
            got.push(e);
        }
        let decoded: Vec<Vec<u8>> = got
            .iter()
            .filter_map(|e| match e {
                FrameEvent::Frame(f) => Some(f.data().to_vec()),
                FrameEvent::Rejected(_) => None,
            })
            .collect();
        let expected: Vec<Vec<u8>> = frames.iter().map(|f| f[6..f.len() - 6].to_vec()).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn any_bytes_split_anywhere_never_panic_nor_exceed_the_cap(
        pieces in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..64),
                prop::collection::vec(prop::sample::select(b"#0123456789&CP=;,\r\nQNS-ab".to_vec()), 0..64),
                valid_frame().prop_map(|f| { let n = f.len() / 2; f[..n].to_vec() }),
                valid_frame(),
            ],
            0..20,
        ),
        chunk in 1usize..200,
        cap in 20usize..2000,
    ) {
        let config = FrameConfig { max_data_len: cap };
        let mut decoder = FrameDecoder::new(config);
        let stream: Vec<u8> = pieces.concat();
        let mut buf = BytesMut::new();
        for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(e) = decoder.decode(&mut buf).expect("no io") {
                if let FrameEvent::Frame(f) = e {
                    prop_assert!(f.data_len() <= cap);
                    let _ = Packet::decode(&f);
                }
            }
            prop_assert!(buf.len() < config.max_frame_len(), "held {} bytes", buf.len());
        }
        while let Some(e) = decoder.decode_eof(&mut buf).expect("no io") {
            if let FrameEvent::Frame(f) = e {
                let _ = Packet::decode(&f);
            }
        }
        prop_assert!(buf.is_empty());
    }
}
