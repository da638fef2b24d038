//! Decoding speed: a whole frame (header checks, BCC, command unit, the report's items) on one
//! core, for the worked frame A (OBD body and diesel stream), for a one-second diesel record as
//! a GB 17691 terminal sends it (one frame per record), and for an HJ 1239-2021 packet of ten
//! one-second records with its signature block, in its layout and detected. Signature
//! verification is measured separately: it costs far more than decoding.

use hj1239::message::Position;
use hj1239::report::{DieselStream, Info, Item, Layout, Report};
use hj1239::{Frame, Message, Time};

fn main() {
    divan::main();
}

fn hex(s: &str) -> Vec<u8> {
    hj1239::frame::from_hex(s).unwrap_or_default()
}

const FRAME_A: &str = "2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C4744434841314738
    4D4131323737333359435933303136352D363020202020200000EC40A1BF000000000000000000000000000000000000
    000000000000000000000000000000000000000000000000000000000000000007145600AFE00200AFE06200AFE00900
    AF204700AF245500AFE01200AF0200010000C57D830000000000000000610000FEFFFEFFFEFF3D000006AFD31701EA55
    FE000000289F";

fn stream() -> DieselStream {
    DieselStream {
        speed: Some(62.5),
        atmospheric_pressure: Some(98.5),
        net_torque: Some(40.0),
        friction_torque: Some(6.0),
        engine_speed: Some(1450.0),
        fuel_flow: Some(31.2),
        nox_upstream: Some(812.35),
        nox_downstream: Some(41.0),
        reagent_level: Some(55.2),
        intake_air_flow: Some(610.0),
        scr_inlet_temperature: Some(301.25),
        scr_outlet_temperature: Some(296.0),
        dpf_pressure_drop: Some(3.1),
        coolant_temperature: Some(85.0),
        fuel_level: Some(60.0),
        position: Position {
            status: 0,
            longitude: Some(117_000_000),
            latitude: Some(36_650_000),
        },
        mileage: Some(123_456.7),
    }
}

fn diesel_record() -> Vec<u8> {
    let mut body = vec![0x02, 0x00, 0x01];
    body.extend_from_slice(&stream().encode());
    Message::RealTime {
        time: Time::from_unix(1_800_000_000),
        body,
    }
    .encode("LGDCHA1G8MA127733", 1)
    .unwrap_or_default()
}

const SECRET: [u8; 32] = [7; 32];
const CHIP: &str = "CHIP000000000001";

/// A signed HJ 1239-2021 packet of ten one-second records.
fn hj1239_packet() -> Vec<u8> {
    let t0 = 1_800_000_000;
    let mut r = Report {
        layout: Layout::Hj1239,
        time: Time::from_unix(t0 + 10),
        serial: Some(1),
        items: (0..10)
            .map(|i| Item {
                info: Info::Diesel(stream()),
                serial: None,
                time: Some(Time::from_unix(t0 + i)),
                signature: None,
            })
            .collect(),
        signature: None,
        unread: None,
    };
    r.signature = hj1239::sign::sign(&r.signed_part(), &SECRET, CHIP).ok();
    Message::RealTime {
        time: r.time,
        body: r.encode(),
    }
    .encode("LGDCHA1G8MA127733", 1)
    .unwrap_or_default()
}

fn decode(bytes: &[u8], layout: Option<Layout>) -> usize {
    let Ok(f) = Frame::parse(bytes) else { return 0 };
    match Message::decode(&f) {
        Ok(Message::RealTime { time, body }) => match layout {
            Some(l) => Report::read(time, &body, l),
            None => Report::detect(time, &body),
        }
        .map_or(0, |r| r.items.len()),
        _ => 0,
    }
}

#[divan::bench]
fn frame_a_obd_and_stream(bencher: divan::Bencher) {
    let a = hex(FRAME_A);
    bencher.bench(|| decode(divan::black_box(&a), Some(Layout::AnnexQ)));
}

#[divan::bench]
fn one_second_diesel_record(bencher: divan::Bencher) {
    let r = diesel_record();
    bencher.bench(|| decode(divan::black_box(&r), Some(Layout::AnnexQ)));
}

#[divan::bench(args = [true, false])]
fn hj1239_packet_of_ten_records(bencher: divan::Bencher, detect: bool) {
    let p = hj1239_packet();
    let layout = (!detect).then_some(Layout::Hj1239);
    bencher.bench(|| decode(divan::black_box(&p), layout));
}

#[divan::bench]
fn sm2_verification_of_a_packet(bencher: divan::Bencher) {
    let p = hj1239_packet();
    let public = hj1239::sign::public_key(&SECRET).unwrap_or([0; 64]);
    let data = Frame::parse(&p)
        .map(|f| f.data.to_vec())
        .unwrap_or_default();
    bencher.bench(|| hj1239::sign::verify_packet(divan::black_box(&data), &public, CHIP).is_ok());
}
