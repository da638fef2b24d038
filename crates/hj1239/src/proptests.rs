//! Properties over generated input: decoding then encoding then decoding again gives the same
//! values (every layout, every body), whole frames survive encode → parse, and no input makes a
//! reader panic.

use proptest::prelude::*;

use crate::message::Message;
use crate::report::{DIESEL_LEN, GAS_LEN, HYBRID_LEN, Info, Item, Layout, Report, SUPPLEMENT_LEN};
use crate::{Frame, Framer, Time};

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::AnnexQ),
        Just(Layout::Hj1239),
        Just(Layout::Draft2019)
    ]
}

/// A body of a known type from arbitrary bytes of its length (an OBD body with 0–5 DTCs).
fn info() -> impl Strategy<Value = Info> {
    let body = |kind: u8, len: usize| {
        proptest::collection::vec(any::<u8>(), len).prop_map(move |mut b| {
            if kind == 0x01 {
                b[95] %= 6;
                b.truncate(96 + 4 * usize::from(b[95]));
            }
            b
        })
    };
    prop_oneof![
        body(0x01, 96 + 20).prop_map(|b| (0x01, b)),
        body(0x02, DIESEL_LEN).prop_map(|b| (0x02, b)),
        body(0x03, GAS_LEN[0]).prop_map(|b| (0x03, b)),
        body(0x05, GAS_LEN[1]).prop_map(|b| (0x05, b)),
        body(0x04, HYBRID_LEN).prop_map(|b| (0x04, b)),
        body(0x80, SUPPLEMENT_LEN).prop_map(|b| (0x80, b)),
    ]
    .prop_map(|(kind, b)| {
        let t = Time::from_unix(1_800_000_000);
        let mut d = vec![kind, 0, 0];
        d.extend_from_slice(&b);
        let r = Report::read(t, &d, Layout::AnnexQ).expect("a body of its own length");
        r.items.into_iter().next().expect("one item").info
    })
}

fn report() -> impl Strategy<Value = Report> {
    (
        layout(),
        0i64..2_000_000_000,
        any::<u16>(),
        proptest::collection::vec((info(), any::<u16>(), 0i64..600, any::<[u8; 32]>()), 1..12),
        any::<bool>(),
    )
        .prop_map(|(layout, t, serial, items, signed)| {
            let time = Time::from_unix(t);
            Report {
                layout,
                time,
                serial: (layout != Layout::AnnexQ).then_some(serial),
                items: items
                    .into_iter()
                    .map(|(info, s, dt, key)| Item {
                        info,
                        serial: (layout == Layout::AnnexQ).then_some(s),
                        time: (layout == Layout::Hj1239).then(|| Time::from_unix(t - dt)),
                        signature: (layout == Layout::Draft2019)
                            .then_some(crate::report::Signature { r: key, s: key }),
                    })
                    .collect(),
                signature: (signed && layout == Layout::Hj1239).then_some(
                    crate::report::Signature {
                        r: [0xAB; 32],
                        s: [0xCD; 32],
                    },
                ),
                unread: None,
            }
        })
}

proptest! {
    #[test]
    fn a_decoded_body_encodes_and_decodes_to_itself(info in info()) {
        let t = Time::from_unix(1_800_000_000);
        let r = Report { layout: Layout::AnnexQ, time: t, serial: None, items: vec![Item {
            info: info.clone(), serial: Some(1), time: None, signature: None }],
            signature: None, unread: None };
        let back = Report::read(t, &r.encode(), Layout::AnnexQ).expect("read");
        prop_assert_eq!(&back.items[0].info, &info);
    }

    #[test]
    fn reports_round_trip_in_their_layout_and_are_detected(r in report()) {
        let body = r.encode();
        let back = Report::read(r.time, &body, r.layout).expect("read");
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(Report::detect(r.time, &body).expect("detect").layout, r.layout);
    }

    #[test]
    fn whole_frames_round_trip(r in report(), reissue in any::<bool>(), sw in any::<u8>()) {
        let body = r.encode();
        let m = if reissue {
            Message::Reissue { time: r.time, body }
        } else {
            Message::RealTime { time: r.time, body }
        };
        let bytes = m.encode("LGDCHA1G8MA127733", sw).expect("encode");
        let f = Frame::parse(&bytes).expect("parse");
        prop_assert_eq!(Message::decode(&f).expect("decode"), m);
    }

    #[test]
    fn no_input_makes_a_reader_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                     layout in layout()) {
        let t = Time::from_unix(1_800_000_000);
        let _ = Report::read(t, &bytes, layout);
        let _ = Report::detect(t, &bytes);
        let mut framed = b"##".to_vec();
        framed.extend_from_slice(&bytes);
        if let Ok(f) = Frame::parse(&framed) {
            let _ = Message::decode(&f);
        }
        let mut framer = Framer::default();
        framer.push(&framed);
        framer.push(&bytes);
        while framer.next_cut().is_some() {}
    }
}
