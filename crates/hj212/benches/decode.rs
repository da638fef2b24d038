//! Decode throughput: framing, CRC verification and full packet parsing of typical 2011 and 2051
//! packets of 300–600 bytes. Run with `cargo bench -p hj212 --bench decode`.

use bytes::BytesMut;
use divan::{Bencher, black_box, counter::BytesCount, counter::ItemsCount};
use hj212::{DataArea, FieldKind, Flag, FrameDecoder, FrameEvent, Message, Packet};
use tokio_util::codec::Decoder;

fn main() {
    divan::main();
}

/// A 2011 real-time packet of an air station: 12 factors with -Rtd and -Flag.
fn realtime_2011() -> Vec<u8> {
    let mut cp = DataArea::new().param("DataTime", "20260501100000");
    let codes = [
        ("a34004", "35.2"),
        ("a34002", "50.7"),
        ("a21026", "5.12"),
        ("a21004", "20.35"),
        ("a21005", "0.612"),
        ("a05024", "120.4"),
        ("a01001", "18.6"),
        ("a01002", "62.1"),
        ("a01006", "101.32"),
        ("a01007", "2.4"),
        ("a01008", "135"),
        ("a34001", "88.9"),
    ];
    for (code, v) in codes {
        cp = cp.pollutant(code, &[(FieldKind::Rtd, v), (FieldKind::Flag, "N")]);
    }
    message("22", "2011", cp)
}

/// A 2011 real-time packet of a wastewater outlet: 6 factors with -Rtd and -Flag (~300 bytes).
fn realtime_2011_water() -> Vec<u8> {
    let mut cp = DataArea::new().param("DataTime", "20260501100000");
    for (code, v) in [
        ("w00000", "12.35"),
        ("w01001", "7.21"),
        ("w01018", "35.6"),
        ("w21003", "1.234"),
        ("w21011", "0.215"),
        ("w21001", "8.76"),
    ] {
        cp = cp.pollutant(code, &[(FieldKind::Rtd, v), (FieldKind::Flag, "N")]);
    }
    message("32", "2011", cp)
}

/// A 2051 minute packet of a flue-gas outlet: 6 factors with Cou/Min/Avg/Max/Flag (+ZsAvg).
fn minute_2051() -> Vec<u8> {
    let mut cp = DataArea::new().param("DataTime", "20260501100000");
    let groups: [(&str, bool, bool); 6] = [
        ("a00000", true, false),
        ("a34013", true, true),
        ("a21026", true, true),
        ("a21002", true, true),
        ("a19001", false, false),
        ("a01012", false, false),
    ];
    for (code, cou, zs) in groups {
        let mut fields = vec![];
        if cou {
            fields.push((FieldKind::Cou, "1.234"));
        }
        fields.extend([
            (FieldKind::Min, "10.12"),
            (FieldKind::Avg, "12.345"),
            (FieldKind::Max, "15.6"),
        ]);
        if zs {
            fields.push((FieldKind::ZsAvg, "14.2"));
        }
        fields.push((FieldKind::Flag, "N"));
        cp = cp.pollutant(code, &fields);
    }
    message("31", "2051", cp)
}

fn message(st: &str, cn: &str, cp: DataArea) -> Vec<u8> {
    Message::new(
        Some("20260501100000123"),
        st,
        cn,
        Some("123456"),
        Some("010000A8900016F000169DC0"),
        Some(Flag(5)),
    )
    .with_cp(cp)
    .encode()
    .expect("valid benchmark message")
}

const BATCH: usize = 1000;

fn stream(frame: &[u8]) -> Vec<u8> {
    frame.repeat(BATCH)
}

fn run(bencher: Bencher, frame: Vec<u8>) {
    let input = stream(&frame);
    bencher
        .counter(ItemsCount::new(BATCH))
        .counter(BytesCount::new(input.len()))
        .with_inputs(|| BytesMut::from(&input[..]))
        .bench_local_values(|mut buf| {
            let mut decoder = FrameDecoder::default();
            let mut ok = 0usize;
            while let Ok(Some(event)) = decoder.decode(&mut buf) {
                if let FrameEvent::Frame(f) = event
                    && let Ok(p) = Packet::decode(&f)
                {
                    ok += usize::from(p.is_valid());
                    black_box(&p);
                }
            }
            assert_eq!(ok, BATCH);
        });
}

/// Frame + CRC verification + full parse, 2011 real-time packet.
#[divan::bench]
fn decode_2011(bencher: Bencher) {
    let f = realtime_2011();
    eprintln!("2011 frame: {} bytes", f.len());
    run(bencher, f);
}

/// Frame + CRC verification + full parse, 2011 wastewater packet.
#[divan::bench]
fn decode_2011_water(bencher: Bencher) {
    let f = realtime_2011_water();
    eprintln!("2011 water frame: {} bytes", f.len());
    run(bencher, f);
}

/// Frame + CRC verification + full parse, 2051 minute packet.
#[divan::bench]
fn decode_2051(bencher: Bencher) {
    let f = minute_2051();
    eprintln!("2051 frame: {} bytes", f.len());
    run(bencher, f);
}

/// CRC alone over a 2051 data segment.
#[divan::bench]
fn crc_only(bencher: Bencher) {
    let f = minute_2051();
    let data = f[6..f.len() - 6].to_vec();
    bencher
        .counter(BytesCount::new(data.len()))
        .bench(|| hj212::crc::hj212(black_box(&data)));
}

/// Framing alone (no CRC, no parsing), 2011 packets.
#[divan::bench]
fn frame_only_2011(bencher: Bencher) {
    let input = stream(&realtime_2011());
    bencher
        .counter(ItemsCount::new(BATCH))
        .with_inputs(|| BytesMut::from(&input[..]))
        .bench_local_values(|mut buf| {
            let mut decoder = FrameDecoder::default();
            let mut n = 0;
            while let Ok(Some(event)) = decoder.decode(&mut buf) {
                n += usize::from(matches!(event, FrameEvent::Frame(_)));
                black_box(&event);
            }
            assert_eq!(n, BATCH);
        });
}

/// CRC verification and parsing of one already framed 2011 packet.
#[divan::bench]
fn parse_only_2011(bencher: Bencher) {
    let frame = hj212::Frame::from_bytes(&realtime_2011()).expect("one frame");
    bencher.bench(|| Packet::decode(black_box(&frame)).map(|p| p.is_valid()));
}
