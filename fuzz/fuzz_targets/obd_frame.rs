//! Any byte stream, split anywhere, into the HJ 1239 framer: it never panics; every frame it
//! yields parses, decodes and is read in every report layout (and detected) without panicking;
//! every report read re-encodes and reads back to the same values; a signature block, when
//! present, is checked without panicking.
#![no_main]

use hj1239::report::{Layout, Report};
use hj1239::{Frame, Framer, Message};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 64] = [7; 64];

fn check(frame: &[u8]) {
    let Ok(f) = Frame::parse(frame) else { return };
    let _ = hj1239::vin::check(&f.vin);
    let Ok(m) = Message::decode(&f) else { return };
    let again = m.encode(&f.vin, f.software_version).expect("a decoded message encodes");
    let f2 = Frame::parse(&again).expect("an encoded message parses");
    assert_eq!(Message::decode(&f2).expect("and decodes"), m);
    if let Message::RealTime { time, body } | Message::Reissue { time, body } = &m {
        for layout in Layout::ALL {
            if let Ok(r) = Report::read(*time, body, layout) {
                let back = Report::read(*time, &r.encode(), layout).expect("re-encoded reads");
                assert_eq!(back, r);
                for item in &r.items {
                    if let hj1239::report::Info::Obd(o) = &item.info {
                        let _ = (o.typed_dtcs(), o.vin_text(), o.cal_id_text());
                    }
                }
            }
        }
        let _ = Report::detect(*time, body);
        let _ = hj1239::sign::verify_packet(f.data, &KEY, hj1239::sign::DEFAULT_SIGNER_ID);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut framer = Framer::default();
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    for part in [&data[..split], &data[split..]] {
        framer.push(part);
        while let Some(cut) = framer.next_cut() {
            if let hj1239::frame::Cut::Frame(bytes) = cut {
                check(&bytes);
            }
        }
    }
});
