//! Decodes one typical 2011 packet (12 air-quality factors, 485 bytes) in a loop: a driver for
//! profilers, whose instruction counts do not depend on how busy the machine is.
//!
//! ```text
//! cargo build --release --example decode_loop -p hj212
//! N=1000 valgrind --tool=callgrind ./target/release/examples/decode_loop
//! ```

use hj212::{DataArea, FieldKind, Flag, Frame, Message, Packet};

fn main() {
    let mut cp = DataArea::new().param("DataTime", "20260501100000");
    for (code, v) in [
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
    ] {
        cp = cp.pollutant(code, &[(FieldKind::Rtd, v), (FieldKind::Flag, "N")]);
    }
    let data = Message::new(
        Some("20260501100000123"),
        "22",
        "2011",
        Some("123456"),
        Some("010000A8900016F000169DC0"),
        Some(Flag(5)),
    )
    .with_cp(cp)
    .encode()
    .expect("a valid message");
    let frame = Frame::from_bytes(&data).expect("one frame");
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let started = std::time::Instant::now();
    let mut valid = 0usize;
    for _ in 0..n {
        if let Ok(p) = Packet::decode(std::hint::black_box(&frame)) {
            valid += usize::from(p.is_valid());
        }
    }
    let per = started.elapsed() / n.max(1);
    println!(
        "{valid} of {n} valid; {per:?} per packet of {} bytes",
        data.len()
    );
}
