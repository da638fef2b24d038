//! Decoding speed: a whole frame (header checks, BCC, command unit, the report's items) on one
//! core, for the worked frame A (OBD body and diesel stream) and for a one-second diesel record
//! as a GB 17691 terminal sends it (one frame per record).

use hj1239::message::Position;
use hj1239::report::{self, DieselStream};
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

fn diesel_record() -> Vec<u8> {
    let s = DieselStream {
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
    };
    let mut body = vec![0x02, 0x00, 0x01];
    body.extend_from_slice(&s.encode());
    Message::RealTime {
        time: Time::from_unix(1_800_000_000),
        body,
    }
    .encode("LGDCHA1G8MA127733", 1)
    .unwrap_or_default()
}

fn decode(bytes: &[u8]) -> usize {
    let Ok(f) = Frame::parse(bytes) else { return 0 };
    match Message::decode(&f) {
        Ok(Message::RealTime { body, .. }) => {
            report::annex_q_items(&body).map_or(0, |i| i.items.len())
        }
        _ => 0,
    }
}

#[divan::bench]
fn frame_a_obd_and_stream(bencher: divan::Bencher) {
    let a = hex(FRAME_A);
    bencher.bench(|| decode(divan::black_box(&a)));
}

#[divan::bench]
fn one_second_diesel_record(bencher: divan::Bencher) {
    let r = diesel_record();
    bencher.bench(|| decode(divan::black_box(&r)));
}
