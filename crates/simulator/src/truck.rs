//! Heavy-duty trucks for the truck front door: an engine and after-treatment model whose
//! honest data hang together (speed, engine speed, torque, fuel rate and intake air follow
//! the drive; SCR temperatures lag the load; upstream NOx follows the load and a working SCR
//! removes most of it once warm; the NOx sensors report nothing until they are heated; urea
//! and fuel fall with use and are refilled), and a terminal link that speaks HJ 1239 and waits
//! for the platform's acknowledgement.
//!
//! A [`Truck`] is stepped second by second ([`Truck::step`]); its randomness is seeded, so a
//! run is reproducible. [`packet`] lays ten one-second records out as an HJ 1239-2021 report.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hj1239::message::Position;
use hj1239::report::{BitOrder, DieselStream, Info, Item, Layout, MONITORS, ObdInfo, Report};
use hj1239::{Framer, Message, Time};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::SimError;

/// A truck and its engine state.
#[derive(Debug, Clone)]
pub struct Truck {
    /// VIN.
    pub vin: String,
    rng: fastrand::Rng,
    phase: [f64; 3],
    /// km/h.
    speed: f64,
    /// Seconds since the engine started.
    running_s: i64,
    scr_in: f64,
    scr_out: f64,
    coolant: f64,
    /// Reagent in the tank, %.
    reagent: f64,
    /// Fuel in the tank, %.
    fuel: f64,
    /// Degrees.
    lon: f64,
    lat: f64,
    heading: f64,
    origin: (f64, f64),
    /// km.
    mileage: f64,
    /// How loaded (1.0 empty to 1.6 full).
    load: f64,
}

/// Urea tank, litres.
const REAGENT_TANK_L: f64 = 60.0;
/// Fuel tank, litres.
const FUEL_TANK_L: f64 = 400.0;
/// Urea dosed per litre of fuel burnt with a working SCR (about 5%).
const REAGENT_PER_FUEL: f64 = 0.05;

fn lag(value: f64, target: f64, tau_s: f64) -> f64 {
    value + (target - value) / tau_s
}

impl Truck {
    /// A cold truck parked at `origin` (longitude, latitude), its randomness from `seed`.
    pub fn new(vin: &str, seed: u64, origin: (f64, f64)) -> Truck {
        let mut rng = fastrand::Rng::with_seed(seed);
        let phase = [rng.f64() * 6.3, rng.f64() * 6.3, rng.f64() * 6.3];
        Truck {
            vin: vin.to_owned(),
            phase,
            speed: 0.0,
            running_s: 0,
            scr_in: 15.0,
            scr_out: 15.0,
            coolant: 15.0,
            reagent: 40.0 + rng.f64() * 55.0,
            fuel: 30.0 + rng.f64() * 65.0,
            lon: origin.0,
            lat: origin.1,
            heading: rng.f64() * std::f64::consts::TAU,
            origin,
            mileage: 20_000.0 + rng.f64() * 300_000.0,
            load: 1.0 + rng.f64() * 0.6,
            rng,
        }
    }

    /// The truck's record for second `t` (Unix seconds) of a drive, advancing its state by one
    /// second.
    pub fn step(&mut self, t: i64) -> DieselStream {
        let tf = t as f64;
        let [a, b, c] = self.phase;
        // Traffic: a slow wave of free flow and congestion, a faster one of lights and turns.
        let wave = (tf / 600.0 * std::f64::consts::TAU + a).sin() * 35.0
            + (tf / 97.0 * std::f64::consts::TAU + b).sin() * 12.0
            + (tf / 23.0 + c).sin() * 4.0;
        let target = if wave < -30.0 {
            0.0
        } else {
            (48.0 + wave).clamp(0.0, 88.0)
        };
        let accel = (target - self.speed).clamp(-3.0, 1.2);
        self.speed = (self.speed + accel).max(0.0);
        self.running_s += 1;
        let moving = self.speed > 0.5;
        let rpm = if moving {
            (750.0 + self.speed * 14.0 + accel * 60.0).clamp(800.0, 2100.0)
        } else {
            640.0 + self.rng.f64() * 20.0
        };
        let torque = if moving {
            (22.0 * self.load + accel.max(0.0) * 18.0 + self.speed * 0.25).clamp(0.0, 100.0)
        } else {
            6.0 + self.rng.f64() * 2.0
        };
        let fuel_lh = 1.8 + rpm * torque * 0.000_37 * (0.95 + self.rng.f64() * 0.1);
        let air_kgh = rpm * 0.3 * (0.6 + torque / 200.0);
        self.scr_in = lag(self.scr_in, 150.0 + torque * 3.4, 120.0);
        self.scr_out = lag(self.scr_out, self.scr_in - 8.0, 60.0);
        self.coolant = lag(self.coolant, 88.0, 300.0);
        let warm = self.running_s > 90;
        let efficiency = if self.scr_in < 180.0 {
            0.1
        } else if self.scr_in < 250.0 {
            0.1 + (self.scr_in - 180.0) / 70.0 * 0.82
        } else {
            0.92
        };
        let nox_up = (120.0 + torque * 9.0) * (0.95 + self.rng.f64() * 0.1);
        let nox_down = nox_up * (1.0 - efficiency) * (0.9 + self.rng.f64() * 0.2);
        let fuel_l = fuel_lh / 3600.0;
        self.fuel -= fuel_l / FUEL_TANK_L * 100.0;
        if efficiency > 0.5 {
            self.reagent -= fuel_l * REAGENT_PER_FUEL / REAGENT_TANK_L * 100.0;
        }
        if self.reagent < 12.0 {
            self.reagent = 95.0;
        }
        if self.fuel < 8.0 {
            self.fuel = 95.0;
        }
        // Drive on, turning gently, and back towards home when far from it.
        let km = self.speed / 3600.0;
        self.mileage += km;
        let (dx, dy) = (self.origin.0 - self.lon, self.origin.1 - self.lat);
        if dx.hypot(dy) > 0.25 {
            self.heading = dy.atan2(dx);
        } else {
            self.heading += (self.rng.f64() - 0.5) * 0.05;
        }
        self.lon += km * self.heading.cos() / (111.32 * self.lat.to_radians().cos());
        self.lat += km * self.heading.sin() / 110.57;
        DieselStream {
            speed: Some(self.speed),
            atmospheric_pressure: Some(100.5),
            net_torque: Some(torque.round()),
            friction_torque: Some(8.0),
            engine_speed: Some(rpm),
            fuel_flow: Some(fuel_lh),
            nox_upstream: warm.then_some(nox_up),
            nox_downstream: warm.then_some(nox_down),
            reagent_level: Some(self.reagent.clamp(0.0, 100.0)),
            intake_air_flow: Some(air_kgh),
            scr_inlet_temperature: Some(self.scr_in),
            scr_outlet_temperature: Some(self.scr_out),
            dpf_pressure_drop: Some(1.5 + self.speed * 0.04),
            coolant_temperature: Some(self.coolant.round()),
            fuel_level: Some(self.fuel.clamp(0.0, 100.0)),
            position: Position {
                status: 0,
                longitude: Some((self.lon * 1e6).round() as u32),
                latitude: Some((self.lat * 1e6).round() as u32),
            },
            mileage: Some(self.mileage),
        }
    }
}

impl Truck {
    /// A number from the truck's own seeded randomness.
    pub fn obd_seed(&mut self) -> u64 {
        self.rng.u64(..)
    }

    /// True with probability `p` (the truck's own seeded randomness).
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    /// The OBD information its terminal reads from the engine ECU (SAE J1939): the diesel
    /// monitors supported and complete, its VIN, calibration and CVN, IUPR counters, and now
    /// and then an emission fault with the malfunction lamp on (a NOx sensor or the urea
    /// doser, as honest trucks have them).
    pub fn obd_info(&mut self) -> ObdInfo {
        let mut supported = [false; 16];
        for m in [
            "egr_vvt",
            "boost_pressure",
            "dpf",
            "scr_nox_adsorber",
            "misfire",
            "fuel_system",
            "comprehensive_components",
        ] {
            if let Some(i) = MONITORS.iter().position(|x| *x == m) {
                supported[i] = true;
            }
        }
        let seed = self.phase[0].to_bits();
        let mut vin = [0u8; 17];
        for (o, b) in vin.iter_mut().zip(self.vin.bytes()) {
            *o = b;
        }
        let mut cal_id = [0u8; 18];
        for (o, b) in cal_id
            .iter_mut()
            .zip(format!("WP10H-{:04}", seed % 10_000).bytes())
        {
            *o = b;
        }
        let mut cvn = vec![0u8; 18];
        cvn[..4].copy_from_slice(&((seed >> 16) as u32).to_be_bytes());
        let fault = self.chance(0.03);
        let dtcs = if fault {
            // SPN 3226 (NOx after the SCR) or 4334 (urea doser), FMI 2, seen once.
            let spn: u32 = if self.chance(0.5) { 3226 } else { 4334 };
            vec![[spn as u8, (spn >> 8) as u8, ((spn >> 16) as u8) << 5 | 2, 1]]
        } else {
            Vec::new()
        };
        ObdInfo {
            protocol: Some(2),
            mil_on: Some(fault),
            support: BitOrder::Lsb0.write(supported),
            readiness: 0,
            vin,
            cal_id,
            cvn,
            iupr: (0..18)
                .map(|i| (self.mileage as u16 / 10).wrapping_add(i * 3))
                .collect(),
            dtcs: Some(dtcs),
        }
    }
}

/// Records `(collection time, stream)`, and the OBD information when given, as one HJ
/// 1239-2021 report (`command` 0x02 real-time or 0x03 reissue) sent at `sent` with packet
/// serial `serial`.
pub fn packet(
    vin: &str,
    command: u8,
    sent: i64,
    serial: u16,
    records: &[(i64, DieselStream)],
    obd: Option<(i64, ObdInfo)>,
) -> Result<Vec<u8>, hj1239::FrameError> {
    let mut items: Vec<Item> = records
        .iter()
        .map(|(t, s)| Item {
            info: Info::Diesel(*s),
            serial: None,
            time: Some(Time::from_unix(*t)),
            signature: None,
        })
        .collect();
    if let Some((t, o)) = obd {
        items.push(Item {
            info: Info::Obd(o),
            serial: None,
            time: Some(Time::from_unix(t)),
            signature: None,
        });
    }
    let r = Report {
        layout: Layout::Hj1239,
        time: Time::from_unix(sent),
        serial: Some(serial),
        items,
        signature: None,
        unread: None,
    };
    let (time, body) = (r.time, r.encode());
    let m = if command == 0x03 {
        Message::Reissue { time, body }
    } else {
        Message::RealTime { time, body }
    };
    m.encode(vin, 1)
}

/// A terminal's TCP connection: sends a frame and waits for the platform's answer to it.
pub struct TruckLink {
    stream: TcpStream,
    framer: Framer,
    buf: Vec<u8>,
}

impl TruckLink {
    /// Connects.
    pub async fn connect(addr: SocketAddr) -> Result<TruckLink, SimError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(TruckLink {
            stream,
            framer: Framer::default(),
            buf: vec![0; 1024],
        })
    }

    /// Sends `frame` and waits up to `timeout` for a frame answering its command unit; returns
    /// how long that took.
    pub async fn exchange(
        &mut self,
        frame: &[u8],
        timeout: Duration,
    ) -> Result<Duration, SimError> {
        let command = frame.get(2).copied().unwrap_or(0);
        let started = Instant::now();
        self.stream.write_all(frame).await?;
        let deadline = started + timeout;
        loop {
            while let Some(cut) = self.framer.next_cut() {
                if let hj1239::frame::Cut::Frame(f) = cut
                    && f.get(2) == Some(&command)
                {
                    return Ok(started.elapsed());
                }
            }
            let n = tokio::time::timeout_at(deadline.into(), self.stream.read(&mut self.buf))
                .await
                .map_err(|_| SimError::Timeout(timeout))??;
            if n == 0 {
                return Err(SimError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            self.framer.push(&self.buf[..n]);
        }
    }
}

/// Whether a truck with `seed` drives at `t` (Unix s): shifts of two hours with an hour's
/// break, between 06:00 and 22:00 Beijing time, each truck on its own phase.
pub fn on_shift(seed: u64, t: i64) -> bool {
    let hour = bjtime::hour_of_day(t);
    let phase = (t + (seed % 10_800) as i64).rem_euclid(10_800);
    (6..22).contains(&hour) && phase < 7_200
}

/// What a driven terminal did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveStats {
    /// Reports acknowledged.
    pub reports: u64,
    /// Connections or exchanges that failed (each retried).
    pub failures: u64,
    /// Coverage holes driven into.
    pub holes: u64,
}

/// Drives `truck` against the truck front door at `addr` by `clock` until `stop` turns true:
/// on shift it connects, logs in and reports every 10 s (simulated) the records since the last
/// report, the first with the OBD information; off shift it logs out and hangs up. Now and then
/// it drives into a coverage hole (two to ten minutes): it hangs up, keeps its records, and
/// reissues them after it reconnects, as terminals do; a failed exchange is handled the same
/// way.
pub async fn drive(
    addr: SocketAddr,
    mut truck: Truck,
    seed: u64,
    clock: domain::Clock,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> DriveStats {
    let mut stats = DriveStats::default();
    let mut pending: Vec<(i64, DieselStream)> = Vec::new();
    let mut t = clock.now_ms().div_euclid(1000);
    let mut hole_until = 0i64;
    let wait = |clock: &domain::Clock, until_s: i64| clock.wall_until(until_s * 1000);
    while !*stop.borrow() {
        let now = clock.now_ms().div_euclid(1000);
        if now < hole_until {
            // No coverage: the terminal keeps what it records.
            pending.extend((t..now).map(|s| (s, truck.step(s))));
            t = now;
            tokio::select! {
                _ = tokio::time::sleep(wait(&clock, (now + 10).min(hole_until))) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        if !on_shift(seed, now) {
            t = now;
            tokio::select! {
                _ = tokio::time::sleep(wait(&clock, now + 60)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let mut link = match TruckLink::connect(addr).await {
            Ok(l) => l,
            Err(_) => {
                stats.failures += 1;
                tokio::select! {
                    _ = tokio::time::sleep(wait(&clock, now + 20)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let login = Message::Login {
            time: Time::from_unix(now),
            serial: (stats.failures % 65_000) as u16 + 1,
            iccid: format!("8986{seed:016}"),
        };
        let Ok(frame) = login.encode(&truck.vin, 1) else {
            break;
        };
        if link
            .exchange(&frame, Duration::from_secs(10))
            .await
            .is_err()
        {
            stats.failures += 1;
            continue;
        }
        let mut serial = 0u16;
        if !pending.is_empty() {
            let backlog = std::mem::take(&mut pending);
            for chunk in backlog.chunks(10) {
                serial = serial.wrapping_add(1);
                let sent = clock.now_ms().div_euclid(1000);
                let ok = match packet(&truck.vin, 0x03, sent, serial, chunk, None) {
                    Ok(f) => link.exchange(&f, Duration::from_secs(10)).await.is_ok(),
                    Err(_) => false,
                };
                if !ok {
                    pending.extend_from_slice(chunk);
                }
            }
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait(&clock, t + 10)) => {}
                _ = stop.changed() => {}
            }
            let now = clock.now_ms().div_euclid(1000);
            if *stop.borrow() || !on_shift(seed, now) {
                let bye = Message::Logout {
                    time: Time::from_unix(now),
                    serial: 1,
                };
                if let Ok(f) = bye.encode(&truck.vin, 1) {
                    let _ = link.exchange(&f, Duration::from_secs(5)).await;
                }
                break;
            }
            let records: Vec<(i64, DieselStream)> = (t..now).map(|s| (s, truck.step(s))).collect();
            t = now;
            if records.is_empty() {
                continue;
            }
            if truck.chance(0.002) {
                hole_until = now + 120 + (truck.obd_seed() % 480) as i64;
                pending.extend(records);
                stats.holes += 1;
                break;
            }
            serial = serial.wrapping_add(1);
            let obd = (serial == 1).then(|| (now, truck.obd_info()));
            let ok = match packet(&truck.vin, 0x02, now, serial, &records, obd) {
                Ok(f) => link.exchange(&f, Duration::from_secs(10)).await.is_ok(),
                Err(_) => false,
            };
            if ok {
                stats.reports += 1;
            } else {
                stats.failures += 1;
                pending.extend(records);
                break;
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_honest_drive_hangs_together() {
        let mut truck = Truck::new("LGDCHA1G8MA127733", 7, (117.0, 36.65));
        let t0 = 1_800_000_000;
        let records: Vec<DieselStream> = (0..3600).map(|i| truck.step(t0 + i)).collect();
        let first = records[0];
        assert_eq!(
            (first.nox_upstream, first.nox_downstream),
            (None, None),
            "sensors heating"
        );
        let warm = &records[1800..];
        let moving = warm.iter().filter(|r| r.speed > Some(0.5)).count();
        assert!(moving > 900, "{moving} seconds moving in half an hour");
        for r in warm {
            let (up, down) = (r.nox_upstream.expect("up"), r.nox_downstream.expect("down"));
            assert!(down < up, "a working SCR removes NOx: {down} ≥ {up}");
        }
        let km = records[3599].mileage.expect("km") - first.mileage.expect("km");
        assert!((10.0..90.0).contains(&km), "{km} km in an hour");
        assert!(
            records[3599].reagent_level < first.reagent_level,
            "urea is used"
        );
        let obd = truck.obd_info();
        assert_eq!(obd.vin_text(), truck.vin);
        let bytes = packet(
            &truck.vin,
            2,
            t0 + 10,
            1,
            &[(t0, first), (t0 + 1, records[1])],
            Some((t0 + 1, obd)),
        )
        .expect("packet");
        let f = hj1239::Frame::parse(&bytes).expect("frame");
        assert_eq!(f.vin, truck.vin);
        let Ok(Message::RealTime { time, body }) = Message::decode(&f) else {
            panic!("a report")
        };
        let r = Report::detect(time, &body).expect("report");
        assert_eq!((r.layout, r.items.len()), (Layout::Hj1239, 3));
        let Info::Obd(o) = &r.items[2].info else {
            panic!("the OBD item last")
        };
        let supported = o.supported(BitOrder::Lsb0);
        assert!(
            supported[10] && supported[11] && !supported[0],
            "DPF and SCR, no catalyst"
        );
    }
}
