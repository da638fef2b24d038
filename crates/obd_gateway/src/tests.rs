use std::sync::Arc;

use hj1239::message::Position;
use hj1239::report::{DieselStream, Info, Item, Layout, Report};
use hj1239::{Message, Time};
use store::obd::{FrameStatus, ObdStore, ObdWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

const VIN: &str = "LGDCHA1G8MA127733";
const OTHER: &str = "LGDCH91G8KA141269";
/// 2027-01-15T16:00:00+08:00.
const NOW_S: i64 = 1_800_000_000;

fn vehicle(vin: &str) -> Vehicle {
    Vehicle {
        vin: vin.into(),
        admitted: true,
        layout: None,
        bit_order: BitOrder::Lsb0,
        chip_id: Some("CHIP000000000001".into()),
        public_key: None,
        signer_id: None,
    }
}

struct Nothing;

impl ObdHandoff for Nothing {
    fn submit(
        &self,
        _: ObdIngest,
    ) -> domain::BoxFuture<'_, Result<store::obd::ObdIngestResult, String>> {
        Box::pin(async { Err("not used".to_owned()) })
    }
}

fn gateway(vehicles: Vec<Vehicle>) -> Arc<ObdGateway> {
    let g = ObdGateway::new(
        ObdConfig {
            clock: domain::Clock::manual(NOW_S * 1000),
            ..ObdConfig::default()
        },
        Nothing,
    );
    g.set_vehicles(vehicles);
    g
}

fn stream(speed: f64) -> DieselStream {
    DieselStream {
        speed: Some(speed),
        engine_speed: Some(1400.0),
        nox_upstream: Some(700.0),
        nox_downstream: Some(35.0),
        reagent_level: Some(60.0),
        position: Position {
            status: 0,
            longitude: Some(117_000_000),
            latitude: Some(36_650_000),
        },
        mileage: Some(1000.0),
        ..DieselStream::default()
    }
}

/// An HJ 1239-2021 packet of `n` one-second records starting at `t0`.
fn packet(vin: &str, t0: i64, n: i64, key: Option<&[u8; 32]>) -> Vec<u8> {
    let mut r = Report {
        layout: Layout::Hj1239,
        time: Time::from_unix(t0 + n),
        serial: Some(1),
        items: (0..n)
            .map(|i| Item {
                info: Info::Diesel(stream(50.0 + i as f64)),
                serial: None,
                time: Some(Time::from_unix(t0 + i)),
                signature: None,
            })
            .collect(),
        signature: None,
        unread: None,
    };
    if let Some(k) = key {
        r.signature =
            Some(hj1239::sign::sign(&r.signed_part(), k, "CHIP000000000001").expect("sign"));
    }
    Message::RealTime {
        time: r.time,
        body: r.encode(),
    }
    .encode(vin, 1)
    .expect("encode")
}

fn judge(g: &ObdGateway, bytes: Vec<u8>, s: &mut Session) -> Decision {
    g.judge(&Cut::Frame(bytes), "10.0.0.9:4000", s, NOW_S * 1000)
}

fn reason(d: &Decision) -> &str {
    d.ingest.frame.reason.as_deref().unwrap_or("")
}

#[test]
fn unknown_bad_and_foreign_frames_are_quarantined_with_the_reason_and_not_answered() {
    let g = gateway(vec![vehicle(VIN)]);
    let mut s = Session::default();
    let d = judge(&g, packet(OTHER, NOW_S - 20, 10, None), &mut s);
    assert_eq!(d.ingest.frame.status, FrameStatus::Quarantined);
    assert!(reason(&d).starts_with("unknown_vin"), "{}", reason(&d));
    assert_eq!((d.reply, d.ingest.records.len()), (None, 0));

    let d = judge(
        &g,
        packet("LWHTEST1234567895", NOW_S - 20, 10, None),
        &mut s,
    );
    assert!(reason(&d).starts_with("vin_check"), "{}", reason(&d));

    let mut bad = packet(VIN, NOW_S - 20, 10, None);
    let last = bad.len() - 1;
    bad[last] ^= 0xFF;
    let d = judge(&g, bad, &mut s);
    assert!(reason(&d).starts_with("bcc"), "{}", reason(&d));

    let d = g.judge(
        &Cut::Skipped {
            bytes: b"garbage".to_vec(),
            reason: FrameError::Start,
        },
        "p",
        &mut s,
        0,
    );
    assert!(reason(&d).starts_with("frame"), "{}", reason(&d));

    let mut gone = vehicle(OTHER);
    gone.admitted = false;
    let g = gateway(vec![vehicle(VIN), gone]);
    let d = judge(
        &g,
        packet(OTHER, NOW_S - 20, 10, None),
        &mut Session::default(),
    );
    assert!(reason(&d).starts_with("deregistered"), "{}", reason(&d));

    let mut s = Session::default();
    assert_eq!(
        judge(&g, packet(VIN, NOW_S - 20, 10, None), &mut s)
            .ingest
            .frame
            .status,
        FrameStatus::Stored
    );
    let mut v2 = vehicle(OTHER);
    v2.vin = "LG6ZDANH7EY208182".into();
    g.set_vehicles(vec![vehicle(VIN), v2]);
    let d = judge(
        &g,
        packet("LG6ZDANH7EY208182", NOW_S - 20, 10, None),
        &mut s,
    );
    assert!(reason(&d).starts_with("vin_mismatch"), "{}", reason(&d));

    let mut enc = packet(VIN, NOW_S - 20, 10, None);
    enc[21] = 0x03;
    let n = enc.len();
    enc[n - 1] = hj1239::frame::bcc(&enc[2..n - 1]);
    let d = judge(&g, enc, &mut Session::default());
    assert!(reason(&d).starts_with("encrypted"), "{}", reason(&d));
}

#[test]
fn a_report_keeps_its_records_as_received_and_drops_what_lies_outside_the_window() {
    let g = gateway(vec![vehicle(VIN)]);
    let mut s = Session::default();
    // Ten records, the first six older than five days (reissued too late), the rest fine.
    let d = judge(&g, packet(VIN, NOW_S - 5 * 86_400 - 6, 10, None), &mut s);
    assert_eq!(d.ingest.frame.status, FrameStatus::Stored);
    assert_eq!(d.ingest.records.len(), 4);
    assert!(
        reason(&d).contains("6 records older than the reissue window"),
        "{}",
        reason(&d)
    );
    assert!(reason(&d).contains("before login"), "{}", reason(&d));
    let ack = d.reply.expect("acknowledged");
    let f = Frame::parse(&ack).expect("an ack is a frame");
    assert_eq!((f.command, f.vin.as_str(), f.data.len()), (2, VIN, 6));

    let d = judge(&g, packet(VIN, NOW_S - 20, 10, None), &mut s);
    assert_eq!(d.ingest.records.len(), 10);
    assert_eq!(d.ingest.records[3].ts, NOW_S - 17);
    assert_eq!(d.ingest.records[3].body, stream(53.0).encode().to_vec());

    // Five days old is still inside the window; ten minutes ahead is not.
    let d = judge(&g, packet(VIN, NOW_S - 5 * 86_400 + 60, 10, None), &mut s);
    assert_eq!(d.ingest.records.len(), 10);
    let d = judge(&g, packet(VIN, NOW_S + 600, 10, None), &mut s);
    assert_eq!(d.ingest.frame.status, FrameStatus::Quarantined);
    assert!(reason(&d).starts_with("time"), "{}", reason(&d));
}

#[test]
fn login_time_calibration_and_logout_are_answered() {
    let g = gateway(vec![vehicle(VIN)]);
    let mut s = Session::default();
    let t = Time::from_unix(NOW_S - 3);
    let login = Message::Login {
        time: t,
        serial: 1,
        iccid: "89860000000000000001".into(),
    };
    let d = judge(&g, login.encode(VIN, 1).expect("login"), &mut s);
    assert_eq!(d.ingest.frame.status, FrameStatus::Control);
    assert!(s.logged_in);
    let ack = d.reply.expect("login ack");
    assert_eq!(Frame::parse(&ack).expect("frame").data, &t.encode());

    let ask = Message::TimeCalibration(None).encode(VIN, 1).expect("ask");
    let reply = judge(&g, ask, &mut s).reply.expect("time");
    let m = Message::decode(&Frame::parse(&reply).expect("frame")).expect("message");
    assert_eq!(m, Message::TimeCalibration(Some(Time::from_unix(NOW_S))));

    let logout = Message::Logout { time: t, serial: 1 }
        .encode(VIN, 1)
        .expect("logout");
    let d = judge(&g, logout, &mut s);
    assert!(d.close && d.reply.is_some());
}

#[test]
fn a_registered_key_requires_a_signature_that_verifies() {
    let secret = [9u8; 32];
    let mut v = vehicle(VIN);
    v.public_key = Some(hj1239::sign::public_key(&secret).expect("key"));
    v.signer_id = Some(SignerId::ChipId);
    let g = gateway(vec![v.clone()]);
    let mut s = Session::default();
    let d = judge(&g, packet(VIN, NOW_S - 20, 10, Some(&secret)), &mut s);
    assert_eq!(d.ingest.frame.status, FrameStatus::Stored, "{}", reason(&d));
    assert!(reason(&d).contains("signature verified"));
    let d = judge(&g, packet(VIN, NOW_S - 20, 10, None), &mut s);
    assert!(reason(&d).starts_with("unsigned"), "{}", reason(&d));
    let d = judge(&g, packet(VIN, NOW_S - 20, 10, Some(&[8u8; 32])), &mut s);
    assert!(reason(&d).starts_with("signature"), "{}", reason(&d));
    v.signer_id = Some(SignerId::Default);
    g.set_vehicles(vec![v]);
    let d = judge(&g, packet(VIN, NOW_S - 20, 10, Some(&secret)), &mut s);
    assert!(
        reason(&d).starts_with("signature"),
        "wrong signer ID: {}",
        reason(&d)
    );
}

#[test]
fn a_vehicle_comes_from_its_registry_entry() {
    let entry = serde_json::json!({
        "vin": VIN, "plate": "鲁A12345", "district": "lixia", "fuel": "diesel",
        "emission_stage": "china_6a", "status": "active", "protocol_layout": "gb17691",
        "monitor_bit_order": "msb0", "terminal_public_key": "00".repeat(64), "signer_id": "chip_id",
    });
    let v = Vehicle::from_entry(entry.as_object().expect("object")).expect("vehicle");
    assert_eq!(v.layout, Some(Layout::AnnexQ));
    assert_eq!(
        (v.bit_order, v.signer_id),
        (BitOrder::Msb0, Some(SignerId::ChipId))
    );
    let short = serde_json::json!({"vin": VIN, "terminal_public_key": "ABCD"});
    let e = Vehicle::from_entry(short.as_object().expect("object")).expect_err("short key");
    assert!(e.contains("64 expected"), "{e}");
}

async fn read_frame(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut head = [0u8; 24];
    s.read_exact(&mut head).await.expect("header");
    let n = usize::from(u16::from_be_bytes([head[22], head[23]]));
    let mut rest = vec![0u8; n + 1];
    s.read_exact(&mut rest).await.expect("rest");
    let mut f = head.to_vec();
    f.extend(rest);
    f
}

#[tokio::test]
async fn acknowledged_over_tcp_only_once_durable_and_resends_store_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(ObdStore::open(&dir.path().join("obd.sqlite"), 3600).expect("open"));
    let (writer, thread) = ObdWriter::start(Arc::clone(&store), 64).expect("writer");
    let clock = domain::Clock::manual(NOW_S * 1000);
    let g = ObdGateway::new(
        ObdConfig {
            clock,
            ..ObdConfig::default()
        },
        writer,
    );
    g.set_vehicles(vec![vehicle(VIN)]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(Arc::clone(&g).run(listener, stopped));

    let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let login = Message::Login {
        time: Time::from_unix(NOW_S),
        serial: 1,
        iccid: "89860000000000000001".into(),
    };
    c.write_all(&login.encode(VIN, 1).expect("login"))
        .await
        .expect("send");
    assert_eq!(read_frame(&mut c).await[2], 0x01);
    // Garbage between frames costs nothing but itself.
    let mut bytes = b"\x00\x01noise".to_vec();
    bytes.extend(packet(VIN, NOW_S - 20, 10, None));
    bytes.extend(packet(VIN, NOW_S - 10, 10, None));
    c.write_all(&bytes).await.expect("send");
    for _ in 0..2 {
        assert_eq!(read_frame(&mut c).await[2], 0x02);
    }
    // Acknowledged means stored.
    assert_eq!(
        store
            .records(VIN, NOW_S - 100, NOW_S + 1)
            .expect("read")
            .len(),
        20
    );
    // A resend of the first packet as a reissue stores nothing new.
    let mut again = packet(VIN, NOW_S - 20, 10, None);
    again[2] = 0x03;
    let n = again.len();
    again[n - 1] = hj1239::frame::bcc(&again[2..n - 1]);
    c.write_all(&again).await.expect("send");
    assert_eq!(read_frame(&mut c).await[2], 0x03);
    assert_eq!(
        store
            .records(VIN, NOW_S - 100, NOW_S + 1)
            .expect("read")
            .len(),
        20
    );
    let frames = store
        .frames(&store::obd::FrameQuery {
            vin: Some(VIN.into()),
            limit: 10,
            ..Default::default()
        })
        .expect("frames");
    assert_eq!(frames[0].frame.status, FrameStatus::Duplicate);
    let quarantined = store
        .frames(&store::obd::FrameQuery {
            quarantined_only: true,
            limit: 10,
            ..Default::default()
        })
        .expect("frames");
    assert_eq!(quarantined.len(), 1, "the noise");
    assert_eq!(g.stats().frames_duplicate.load(Ordering::Relaxed), 1);
    let states = g.terminals();
    assert!(states[0].online && states[0].last_login_ms.is_some());

    let logout = Message::Logout {
        time: Time::from_unix(NOW_S),
        serial: 1,
    };
    c.write_all(&logout.encode(VIN, 1).expect("logout"))
        .await
        .expect("send");
    assert_eq!(read_frame(&mut c).await[2], 0x04);
    let mut rest = Vec::new();
    assert_eq!(
        c.read_to_end(&mut rest).await.expect("closed"),
        0,
        "the session ended"
    );

    let _ = stop.send(true);
    task.await.expect("join").expect("gateway");
    drop(g);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("join")
        .expect("writer");
}
