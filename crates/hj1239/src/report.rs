//! The information items of a real-time or reissued report (`../shared/docs/obd.md` §4–§6).
//!
//! Three layouts exist in the wild ([`Layout`]): GB 17691 Annex Q (collection time, then type,
//! item serial and body per item), HJ 1239-2021 (send time and packet serial, then type,
//! collection time and body per item, and one SM2 signature for the packet) and the 2019 draft
//! (one signature after each item). A receiver is told the layout per terminal, or
//! [`Report::detect`] tries them: their first bytes differ, and only the right one reads a body
//! to its end. Bodies: `0x01` OBD information (96 + 4·n bytes, DTCs typed by the diagnostic
//! protocol, monitor maps with a per-source [`BitOrder`]), `0x02` the diesel stream (37 bytes),
//! `0x03`/`0x05` gas engines, `0x04` the hybrid supplement and `0x80` a vendor supplement; a
//! body of another type ends the reading (its length is not known) and is kept as bytes.
//!
//! Invalid markers become `None`, never numbers: all-ones, the J1939 reserved band (2-byte
//! values from `FB00`, 1-byte values from `FB`, which terminals copy through from the CAN bus)
//! and a NOx of raw 0 (−200 ppm: the sensor not ready).

use crate::Time;

/// A report body that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The body ends inside an item.
    #[error("info type {kind:02X} at offset {at}: {need} bytes needed, {have} left")]
    Truncated {
        /// The info type.
        kind: u8,
        /// Offset of the item in the body.
        at: usize,
        /// Bytes it needs.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// An HJ 1239-2021 item's collection time is not a date and time.
    #[error(
        "info type {kind:02X} at offset {at}: collection time {bad:02X?} is not a date and time"
    )]
    Time {
        /// The info type.
        kind: u8,
        /// Offset of the item in the body.
        at: usize,
        /// The six bytes.
        bad: [u8; 6],
    },
    /// A 2019-draft item is not followed by its signature block (`20`, R, `20`, S).
    #[error("offset {at}: an item's signature block (20 R 20 S) expected")]
    Signature {
        /// Offset where the block should start.
        at: usize,
    },
}

/// The diesel data stream (type `0x02`), physical values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DieselStream {
    /// km/h.
    pub speed: Option<f64>,
    /// kPa.
    pub atmospheric_pressure: Option<f64>,
    /// Net output torque, % of reference torque.
    pub net_torque: Option<f64>,
    /// Friction torque, %.
    pub friction_torque: Option<f64>,
    /// rpm.
    pub engine_speed: Option<f64>,
    /// L/h.
    pub fuel_flow: Option<f64>,
    /// SCR upstream NOx, ppm.
    pub nox_upstream: Option<f64>,
    /// SCR downstream NOx, ppm.
    pub nox_downstream: Option<f64>,
    /// Reagent (urea) remaining, %.
    pub reagent_level: Option<f64>,
    /// Intake air flow, kg/h.
    pub intake_air_flow: Option<f64>,
    /// SCR inlet temperature, °C.
    pub scr_inlet_temperature: Option<f64>,
    /// SCR outlet temperature, °C.
    pub scr_outlet_temperature: Option<f64>,
    /// DPF differential pressure, kPa.
    pub dpf_pressure_drop: Option<f64>,
    /// Coolant temperature, °C.
    pub coolant_temperature: Option<f64>,
    /// Fuel tank level, %.
    pub fuel_level: Option<f64>,
    /// Position.
    pub position: crate::message::Position,
    /// Cumulative mileage, km.
    pub mileage: Option<f64>,
}

/// A field's resolution as a fraction and its offset: physical = raw × num / den + off,
/// computed as (raw × num + off × den) / den so that a decoded value is the decimal the
/// resolution implies (raw 20247 in 0.05 ppm steps from −200 is exactly 812.35), not a
/// product's rounding error.
#[derive(Clone, Copy)]
struct Scale {
    num: f64,
    den: f64,
    off: f64,
}

impl Scale {
    fn physical(self, raw: f64) -> f64 {
        (raw * self.num + self.off * self.den) / self.den
    }

    fn raw(self, v: f64) -> f64 {
        ((v - self.off) * self.den / self.num).round()
    }
}

const fn scale(num: f64, den: f64, off: f64) -> Scale {
    Scale { num, den, off }
}

const SPEED: Scale = scale(1.0, 256.0, 0.0);
const HALF: Scale = scale(1.0, 2.0, 0.0);
const TORQUE: Scale = scale(1.0, 1.0, -125.0);
const RPM: Scale = scale(1.0, 8.0, 0.0);
const FLOW: Scale = scale(1.0, 20.0, 0.0);
const NOX: Scale = scale(1.0, 20.0, -200.0);
const PERCENT: Scale = scale(2.0, 5.0, 0.0);
const KELVIN: Scale = scale(1.0, 32.0, -273.0);
const TENTH: Scale = scale(1.0, 10.0, 0.0);
const CELSIUS: Scale = scale(1.0, 1.0, -40.0);
const LAMBDA: Scale = scale(305.0, 10_000_000.0, 0.0);
const HUNDREDTH: Scale = scale(1.0, 100.0, 0.0);
const UNIT: Scale = scale(1.0, 1.0, 0.0);
const CURRENT: Scale = scale(1.0, 10.0, -1000.0);

fn u1(v: u8, s: Scale) -> Option<f64> {
    (v < 0xFB).then(|| s.physical(f64::from(v)))
}

fn u2(b: &[u8], at: usize, s: Scale) -> Option<f64> {
    let v = u16::from_be_bytes([b[at], b[at + 1]]);
    (v < 0xFB00).then(|| s.physical(f64::from(v)))
}

fn u4(b: &[u8], at: usize) -> Option<u32> {
    let v = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    (v < 0xFB00_0000).then_some(v)
}

fn raw1(v: Option<f64>, s: Scale) -> u8 {
    v.map_or(0xFF, |v| s.raw(v).clamp(0.0, 250.0) as u8)
}

fn raw2(v: Option<f64>, s: Scale) -> [u8; 2] {
    v.map_or(0xFFFF, |v| s.raw(v).clamp(0.0, 64_255.0) as u16)
        .to_be_bytes()
}

/// The diesel stream's length.
pub const DIESEL_LEN: usize = 37;

impl DieselStream {
    /// Reads the 37-byte body.
    pub fn decode(b: &[u8; DIESEL_LEN]) -> DieselStream {
        let nox = |at: usize| {
            // Raw 0 is −200 ppm: the sensor not ready.
            (u16::from_be_bytes([b[at], b[at + 1]]) != 0)
                .then(|| u2(b, at, NOX))
                .flatten()
        };
        DieselStream {
            speed: u2(b, 0, SPEED),
            atmospheric_pressure: u1(b[2], HALF),
            net_torque: u1(b[3], TORQUE),
            friction_torque: u1(b[4], TORQUE),
            engine_speed: u2(b, 5, RPM),
            fuel_flow: u2(b, 7, FLOW),
            nox_upstream: nox(9),
            nox_downstream: nox(11),
            reagent_level: u1(b[13], PERCENT),
            intake_air_flow: u2(b, 14, FLOW),
            scr_inlet_temperature: u2(b, 16, KELVIN),
            scr_outlet_temperature: u2(b, 18, KELVIN),
            dpf_pressure_drop: u2(b, 20, TENTH),
            coolant_temperature: u1(b[22], CELSIUS),
            fuel_level: u1(b[23], PERCENT),
            position: crate::message::Position {
                status: b[24],
                longitude: u4(b, 25),
                latitude: u4(b, 29),
            },
            mileage: u4(b, 33).map(|v| f64::from(v) / 10.0),
        }
    }

    /// The 37 bytes (values rounded to their resolution; `None` as all-ones).
    pub fn encode(&self) -> [u8; DIESEL_LEN] {
        let mut b = [0u8; DIESEL_LEN];
        b[0..2].copy_from_slice(&raw2(self.speed, SPEED));
        b[2] = raw1(self.atmospheric_pressure, HALF);
        b[3] = raw1(self.net_torque, TORQUE);
        b[4] = raw1(self.friction_torque, TORQUE);
        b[5..7].copy_from_slice(&raw2(self.engine_speed, RPM));
        b[7..9].copy_from_slice(&raw2(self.fuel_flow, FLOW));
        b[9..11].copy_from_slice(&raw2(self.nox_upstream, NOX));
        b[11..13].copy_from_slice(&raw2(self.nox_downstream, NOX));
        b[13] = raw1(self.reagent_level, PERCENT);
        b[14..16].copy_from_slice(&raw2(self.intake_air_flow, FLOW));
        b[16..18].copy_from_slice(&raw2(self.scr_inlet_temperature, KELVIN));
        b[18..20].copy_from_slice(&raw2(self.scr_outlet_temperature, KELVIN));
        b[20..22].copy_from_slice(&raw2(self.dpf_pressure_drop, TENTH));
        b[22] = raw1(self.coolant_temperature, CELSIUS);
        b[23] = raw1(self.fuel_level, PERCENT);
        b[24] = self.position.status;
        b[25..29].copy_from_slice(&self.position.longitude.unwrap_or(u32::MAX).to_be_bytes());
        b[29..33].copy_from_slice(&self.position.latitude.unwrap_or(u32::MAX).to_be_bytes());
        let km = self
            .mileage
            .map_or(u32::MAX, |m| (m * 10.0).round().max(0.0) as u32);
        b[33..37].copy_from_slice(&km.to_be_bytes());
        b
    }
}

/// The OBD information body (type `0x01`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ObdInfo {
    /// `0` ISO 15765, `1` ISO 27145, `2` SAE J1939; `None` invalid.
    pub protocol: Option<u8>,
    /// The malfunction indicator lamp; `None` invalid.
    pub mil_on: Option<bool>,
    /// Monitor support bitmap, as sent (its bit order is a per-source setting).
    pub support: u16,
    /// Monitor readiness bitmap, as sent.
    pub readiness: u16,
    /// The VIN the ECU reports, as sent (compare [`ObdInfo::vin_text`] with the header's).
    #[cfg_attr(feature = "serde", serde(with = "crate::json::text"))]
    pub vin: [u8; 17],
    /// Software calibration ID, as sent (padding included).
    #[cfg_attr(feature = "serde", serde(with = "crate::json::text"))]
    pub cal_id: [u8; 18],
    /// Calibration verification number field, 18 bytes as sent.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex"))]
    pub cvn: Vec<u8>,
    /// IUPR: 18 words.
    pub iupr: Vec<u16>,
    /// Diagnostic trouble codes, 4 bytes each; `None` when the count is invalid.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::dtc_list"))]
    pub dtcs: Option<Vec<[u8; 4]>>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches(['\0', ' '])
        .to_owned()
}

impl ObdInfo {
    /// Reads an OBD body; `b` must hold at least 96 bytes, and the DTCs its count says.
    fn decode(b: &[u8]) -> ObdInfo {
        let count = b[95];
        ObdInfo {
            protocol: (b[0] < 0xFE).then_some(b[0]),
            mil_on: match b[1] {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            },
            support: u16::from_be_bytes([b[2], b[3]]),
            readiness: u16::from_be_bytes([b[4], b[5]]),
            vin: padded::<17>(&b[6..23], 0),
            cal_id: padded::<18>(&b[23..41], 0),
            cvn: b[41..59].to_vec(),
            iupr: b[59..95]
                .chunks(2)
                .map(|w| u16::from_be_bytes([w[0], w[1]]))
                .collect(),
            dtcs: (count < 0xFE).then(|| {
                b[96..96 + 4 * usize::from(count)]
                    .chunks(4)
                    .map(|d| [d[0], d[1], d[2], d[3]])
                    .collect()
            }),
        }
    }
}

impl ObdInfo {
    /// The ECU's VIN as text, padding removed (bytes that are not UTF-8 shown as U+FFFD).
    pub fn vin_text(&self) -> String {
        text(&self.vin)
    }

    /// The CAL ID as text, padding (zeros or spaces) removed.
    pub fn cal_id_text(&self) -> String {
        text(&self.cal_id)
    }

    /// The body's bytes: 96 + 4·n (the count `FE`, invalid, when `dtcs` is `None`).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(96 + 4 * self.dtcs.as_ref().map_or(0, Vec::len));
        b.push(self.protocol.unwrap_or(0xFE));
        b.push(match self.mil_on {
            Some(false) => 0,
            Some(true) => 1,
            None => 0xFE,
        });
        b.extend_from_slice(&self.support.to_be_bytes());
        b.extend_from_slice(&self.readiness.to_be_bytes());
        b.extend_from_slice(&self.vin);
        b.extend_from_slice(&self.cal_id);
        b.extend_from_slice(&padded::<18>(&self.cvn, 0));
        for i in 0..18 {
            b.extend_from_slice(&self.iupr.get(i).copied().unwrap_or(0).to_be_bytes());
        }
        match &self.dtcs {
            Some(d) => {
                let n = d.len().min(0xFD);
                b.push(n as u8);
                for x in &d[..n] {
                    b.extend_from_slice(x);
                }
            }
            None => b.push(0xFE),
        }
        b
    }

    /// The trouble codes read by the body's diagnostic protocol: J1939 DM1 layout for SAE
    /// J1939, a UDS (ISO 14229 / SAE J2012) code and status otherwise.
    pub fn typed_dtcs(&self) -> Vec<Dtc> {
        let j1939 = self.protocol == Some(2);
        self.dtcs
            .iter()
            .flatten()
            .map(|raw| {
                if j1939 {
                    Dtc::j1939(*raw)
                } else {
                    Dtc::uds(*raw)
                }
            })
            .collect()
    }

    /// Which monitors the support map says are supported, in the order of
    /// [`MONITORS`], with the source's bit order.
    pub fn supported(&self, order: BitOrder) -> [bool; 16] {
        order.read(self.support)
    }

    /// What a reader of this body wants at once: its trouble codes typed and its monitor maps
    /// by name, read with the source's bit order.
    pub fn summary(&self, order: BitOrder) -> ObdSummary {
        let named = |flags: [bool; 16]| {
            MONITORS
                .iter()
                .zip(flags)
                .filter(|(_, on)| *on)
                .map(|(m, _)| *m)
                .collect()
        };
        ObdSummary {
            dtc_codes: self.typed_dtcs(),
            supported_monitors: named(self.supported(order)),
            monitors_not_ready: named(self.not_ready(order)),
        }
    }

    /// Which monitors have not completed their test (readiness bit set), by [`MONITORS`].
    pub fn not_ready(&self, order: BitOrder) -> [bool; 16] {
        order.read(self.readiness)
    }
}

/// An OBD body read for people: typed trouble codes and named monitors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ObdSummary {
    /// The trouble codes, typed by the diagnostic protocol.
    pub dtc_codes: Vec<Dtc>,
    /// Monitors supported.
    pub supported_monitors: Vec<&'static str>,
    /// Monitors whose test has not completed.
    pub monitors_not_ready: Vec<&'static str>,
}

fn padded<const N: usize>(src: &[u8], pad: u8) -> [u8; N] {
    let mut out = [pad; N];
    for (o, s) in out.iter_mut().zip(src) {
        *o = *s;
    }
    out
}

/// The OBD monitors of the support and readiness maps, in the order of SAE J1939 DM5 (the
/// first is "monitor 1").
pub const MONITORS: [&str; 16] = [
    "catalyst",
    "heated_catalyst",
    "evaporative_system",
    "secondary_air",
    "ac_refrigerant",
    "exhaust_gas_sensor",
    "exhaust_gas_sensor_heater",
    "egr_vvt",
    "cold_start_aid",
    "boost_pressure",
    "dpf",
    "scr_nox_adsorber",
    "nmhc_catalyst",
    "misfire",
    "fuel_system",
    "comprehensive_components",
];

/// Where monitor 1 sits in the 16-bit map. Sources disagree (`obd.md` §5), so it is a
/// setting per terminal model; a diesel truck that reports catalyst, evaporative system and
/// secondary air "supported" and DPF and SCR not is read with the wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum BitOrder {
    /// Monitor 1 in bit 0 of the big-endian word (its second byte's lowest bit).
    #[default]
    Lsb0,
    /// Monitor 1 in the most significant bit of the first byte.
    Msb0,
}

impl BitOrder {
    /// The sixteen flags in [`MONITORS`] order.
    pub fn read(self, map: u16) -> [bool; 16] {
        std::array::from_fn(|i| match self {
            BitOrder::Lsb0 => map >> i & 1 == 1,
            BitOrder::Msb0 => map >> (15 - i) & 1 == 1,
        })
    }

    /// The map from flags in [`MONITORS`] order.
    pub fn write(self, flags: [bool; 16]) -> u16 {
        flags.iter().enumerate().fold(0, |m, (i, &on)| {
            let bit = match self {
                BitOrder::Lsb0 => i,
                BitOrder::Msb0 => 15 - i,
            };
            m | u16::from(on) << bit
        })
    }
}

/// A diagnostic trouble code, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "layout", rename_all = "snake_case"))]
pub enum Dtc {
    /// SAE J1939 DM1: suspect parameter number, failure mode identifier, occurrence count.
    J1939 {
        /// SPN (19 bits).
        spn: u32,
        /// FMI (5 bits).
        fmi: u8,
        /// Occurrence count (7 bits; 127 means not available).
        occurrences: u8,
    },
    /// A UDS code: the SAE J2012 code ("P2047"), its failure type byte and the status byte.
    Uds {
        /// The code as printed on a scan tool.
        code: String,
        /// Failure type (ISO 14229 low byte).
        failure_type: u8,
        /// Status bits; bit 7 "warning indicator requested".
        status: u8,
    },
}

impl Dtc {
    /// Reads a DM1 entry (SPN conversion method 0: SPN low byte, middle byte, top three bits
    /// with the FMI, then CM and occurrence count).
    pub fn j1939(b: [u8; 4]) -> Dtc {
        Dtc::J1939 {
            spn: u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2] >> 5) << 16,
            fmi: b[2] & 0x1F,
            occurrences: b[3] & 0x7F,
        }
    }

    /// Reads a UDS entry: three code bytes and the status byte.
    pub fn uds(b: [u8; 4]) -> Dtc {
        const SYSTEM: [char; 4] = ['P', 'C', 'B', 'U'];
        let code = format!(
            "{}{}{:X}{:X}{:X}",
            SYSTEM[usize::from(b[0] >> 6)],
            b[0] >> 4 & 0x3,
            b[0] & 0xF,
            b[1] >> 4,
            b[1] & 0xF
        );
        Dtc::Uds {
            code,
            failure_type: b[2],
            status: b[3],
        }
    }

    /// Whether the code asks for the malfunction lamp (UDS status bit 7); a J1939 entry does
    /// not say (DM1 carries the lamp separately).
    pub fn warning_requested(&self) -> Option<bool> {
        match self {
            Dtc::J1939 { .. } => None,
            Dtc::Uds { status, .. } => Some(status & 0x80 != 0),
        }
    }
}

/// A gas engine's data stream: type `0x03` (three-way catalyst) or `0x05` (with the
/// catalyst's downstream NOx), laid out as the firmware in `obd.md` §4 sends it [verify]:
/// the diesel stream's first nine bytes, the catalyst's fields, then position and mileage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GasStream {
    /// km/h.
    pub speed: Option<f64>,
    /// kPa.
    pub atmospheric_pressure: Option<f64>,
    /// Net output torque, %.
    pub net_torque: Option<f64>,
    /// Friction torque, %.
    pub friction_torque: Option<f64>,
    /// rpm.
    pub engine_speed: Option<f64>,
    /// L/h (or the gas equivalent the ECU reports).
    pub fuel_flow: Option<f64>,
    /// Upstream oxygen sensor, 0.0000305 per bit (λ) [verify].
    pub upstream_oxygen: Option<f64>,
    /// Downstream oxygen sensor, 0.01 V per bit [verify].
    pub downstream_oxygen: Option<f64>,
    /// Type `0x05` only: the catalyst's downstream NOx, ppm.
    pub nox_downstream: Option<f64>,
    /// Whether the body is a `0x05` one (with the NOx field).
    pub with_nox: bool,
    /// kg/h.
    pub intake_air_flow: Option<f64>,
    /// °C.
    pub coolant_temperature: Option<f64>,
    /// Catalyst temperature, °C.
    pub catalyst_temperature: Option<f64>,
    /// Position.
    pub position: crate::message::Position,
    /// km.
    pub mileage: Option<f64>,
}

/// The gas stream's lengths: `0x03`, `0x05`.
pub const GAS_LEN: [usize; 2] = [30, 32];

fn tail_decode(b: &[u8]) -> (crate::message::Position, Option<f64>) {
    (
        crate::message::Position {
            status: b[0],
            longitude: u4(b, 1),
            latitude: u4(b, 5),
        },
        u4(b, 9).map(|v| f64::from(v) / 10.0),
    )
}

fn tail_encode(out: &mut Vec<u8>, p: &crate::message::Position, mileage: Option<f64>) {
    out.push(p.status);
    out.extend_from_slice(&p.longitude.unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&p.latitude.unwrap_or(u32::MAX).to_be_bytes());
    let km = mileage.map_or(u32::MAX, |m| (m * 10.0).round().max(0.0) as u32);
    out.extend_from_slice(&km.to_be_bytes());
}

impl GasStream {
    /// Reads a body of [`GAS_LEN`] bytes (`with_nox` picks the `0x05` layout).
    fn decode(b: &[u8], with_nox: bool) -> GasStream {
        let n = usize::from(with_nox) * 2;
        let (position, mileage) = tail_decode(&b[17 + n..]);
        GasStream {
            speed: u2(b, 0, SPEED),
            atmospheric_pressure: u1(b[2], HALF),
            net_torque: u1(b[3], TORQUE),
            friction_torque: u1(b[4], TORQUE),
            engine_speed: u2(b, 5, RPM),
            fuel_flow: u2(b, 7, FLOW),
            upstream_oxygen: u2(b, 9, LAMBDA),
            downstream_oxygen: u1(b[11], HUNDREDTH),
            nox_downstream: if with_nox {
                (u16::from_be_bytes([b[12], b[13]]) != 0)
                    .then(|| u2(b, 12, NOX))
                    .flatten()
            } else {
                None
            },
            with_nox,
            intake_air_flow: u2(b, 12 + n, FLOW),
            coolant_temperature: u1(b[14 + n], CELSIUS),
            catalyst_temperature: u2(b, 15 + n, KELVIN),
            position,
            mileage,
        }
    }

    /// The body's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(GAS_LEN[1]);
        b.extend_from_slice(&raw2(self.speed, SPEED));
        b.push(raw1(self.atmospheric_pressure, HALF));
        b.push(raw1(self.net_torque, TORQUE));
        b.push(raw1(self.friction_torque, TORQUE));
        b.extend_from_slice(&raw2(self.engine_speed, RPM));
        b.extend_from_slice(&raw2(self.fuel_flow, FLOW));
        b.extend_from_slice(&raw2(self.upstream_oxygen, LAMBDA));
        b.push(raw1(self.downstream_oxygen, HUNDREDTH));
        if self.with_nox {
            b.extend_from_slice(&raw2(self.nox_downstream, NOX));
        }
        b.extend_from_slice(&raw2(self.intake_air_flow, FLOW));
        b.push(raw1(self.coolant_temperature, CELSIUS));
        b.extend_from_slice(&raw2(self.catalyst_temperature, KELVIN));
        tail_encode(&mut b, &self.position, self.mileage);
        b
    }
}

/// A hybrid's supplement (type `0x04`, 8 bytes) [verify]: motor speed, motor load, battery
/// voltage and current, state of charge.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HybridStream {
    /// rpm, as sent.
    pub motor_speed: Option<f64>,
    /// %.
    pub motor_load: Option<f64>,
    /// V (0.1 V per bit).
    pub battery_voltage: Option<f64>,
    /// A (0.1 A per bit, offset −1000 A).
    pub battery_current: Option<f64>,
    /// State of charge, %.
    pub soc: Option<f64>,
}

/// The hybrid supplement's length.
pub const HYBRID_LEN: usize = 8;

impl HybridStream {
    fn decode(b: &[u8]) -> HybridStream {
        HybridStream {
            motor_speed: u2(b, 0, UNIT),
            motor_load: u1(b[2], UNIT),
            battery_voltage: u2(b, 3, TENTH),
            battery_current: u2(b, 5, CURRENT),
            soc: u1(b[7], UNIT),
        }
    }

    /// The body's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HYBRID_LEN);
        b.extend_from_slice(&raw2(self.motor_speed, UNIT));
        b.push(raw1(self.motor_load, UNIT));
        b.extend_from_slice(&raw2(self.battery_voltage, TENTH));
        b.extend_from_slice(&raw2(self.battery_current, CURRENT));
        b.push(raw1(self.soc, UNIT));
        b
    }
}

/// The vendor supplement of type `0x80` as the firmware in `obd.md` §4 sends it (17 bytes)
/// [verify]: what a reagent-consumption check needs and the diesel stream lacks. Other
/// vendors may use `0x80` differently; a body that does not fit is left unread.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Supplement {
    /// Engine torque mode (J1939 SPN 899), as sent.
    pub torque_mode: Option<u8>,
    /// Accelerator pedal, %.
    pub accelerator_pedal: Option<f64>,
    /// Engine total fuel used, L (0.5 L per bit).
    pub total_fuel_used: Option<f64>,
    /// Urea tank temperature, °C.
    pub reagent_temperature: Option<f64>,
    /// Actual reagent dosing (0.01 per bit, the vendor's unit) [verify].
    pub reagent_dosing: Option<f64>,
    /// Cumulative reagent consumed, raw count as sent [verify].
    pub total_reagent_used: Option<u32>,
    /// DPF exhaust temperature, °C.
    pub dpf_exhaust_temperature: Option<f64>,
}

/// The supplement's length.
pub const SUPPLEMENT_LEN: usize = 17;

impl Supplement {
    fn decode(b: &[u8]) -> Supplement {
        Supplement {
            torque_mode: (b[0] < 0xFB).then_some(b[0]),
            accelerator_pedal: u1(b[1], PERCENT),
            total_fuel_used: u4(b, 2).map(|v| f64::from(v) / 2.0),
            reagent_temperature: u1(b[6], CELSIUS),
            reagent_dosing: u4(b, 7).map(|v| f64::from(v) / 100.0),
            total_reagent_used: u4(b, 11),
            dpf_exhaust_temperature: u2(b, 15, KELVIN),
        }
    }

    /// The body's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(SUPPLEMENT_LEN);
        b.push(self.torque_mode.unwrap_or(0xFF));
        b.push(raw1(self.accelerator_pedal, PERCENT));
        let r4 = |v: Option<f64>, s: Scale| {
            v.map_or(u32::MAX, |v| s.raw(v).clamp(0.0, 4_211_081_215.0) as u32)
        };
        b.extend_from_slice(&r4(self.total_fuel_used, HALF).to_be_bytes());
        b.push(raw1(self.reagent_temperature, CELSIUS));
        b.extend_from_slice(&r4(self.reagent_dosing, HUNDREDTH).to_be_bytes());
        b.extend_from_slice(&self.total_reagent_used.unwrap_or(u32::MAX).to_be_bytes());
        b.extend_from_slice(&raw2(self.dpf_exhaust_temperature, KELVIN));
        b
    }
}

/// One information item's body.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
pub enum Info {
    /// Type `0x01`.
    Obd(ObdInfo),
    /// Type `0x02`.
    Diesel(DieselStream),
    /// Type `0x03` or `0x05`.
    Gas(GasStream),
    /// Type `0x04`.
    Hybrid(HybridStream),
    /// Type `0x80`.
    Supplement(Supplement),
}

impl Info {
    /// Its information type.
    pub fn kind(&self) -> u8 {
        match self {
            Info::Obd(_) => 0x01,
            Info::Diesel(_) => 0x02,
            Info::Gas(g) if g.with_nox => 0x05,
            Info::Gas(_) => 0x03,
            Info::Hybrid(_) => 0x04,
            Info::Supplement(_) => 0x80,
        }
    }

    /// The body's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Info::Obd(o) => o.encode(),
            Info::Diesel(d) => d.encode().to_vec(),
            Info::Gas(g) => g.encode(),
            Info::Hybrid(h) => h.encode(),
            Info::Supplement(s) => s.encode(),
        }
    }

    /// Reads one stored body of type `kind` (all of `b`); `None` for a type this crate does
    /// not read or bytes that are not such a body.
    pub fn read(kind: u8, b: &[u8]) -> Option<Info> {
        match Info::decode(kind, b, 0) {
            Ok(Some((info, len))) if len == b.len() => Some(info),
            _ => None,
        }
    }

    /// Reads the body of type `kind` at the start of `b`, returning it and its length; `Ok(None)`
    /// for a type whose length is not known.
    fn decode(kind: u8, b: &[u8], at: usize) -> Result<Option<(Info, usize)>, ReportError> {
        let need = |n: usize| {
            if b.len() < n {
                Err(ReportError::Truncated {
                    kind,
                    at,
                    need: n,
                    have: b.len(),
                })
            } else {
                Ok(())
            }
        };
        Ok(Some(match kind {
            0x01 => {
                need(96)?;
                let n = if b[95] < 0xFE { usize::from(b[95]) } else { 0 };
                need(96 + 4 * n)?;
                (Info::Obd(ObdInfo::decode(&b[..96 + 4 * n])), 96 + 4 * n)
            }
            0x02 => {
                let Some(s) = b.first_chunk::<DIESEL_LEN>() else {
                    need(DIESEL_LEN)?;
                    return Ok(None);
                };
                (Info::Diesel(DieselStream::decode(s)), DIESEL_LEN)
            }
            0x03 | 0x05 => {
                let with_nox = kind == 0x05;
                let n = GAS_LEN[usize::from(with_nox)];
                need(n)?;
                (Info::Gas(GasStream::decode(&b[..n], with_nox)), n)
            }
            0x04 => {
                need(HYBRID_LEN)?;
                (Info::Hybrid(HybridStream::decode(b)), HYBRID_LEN)
            }
            0x80 => {
                need(SUPPLEMENT_LEN)?;
                (Info::Supplement(Supplement::decode(b)), SUPPLEMENT_LEN)
            }
            _ => return Ok(None),
        }))
    }
}

/// The three layouts of a real-time or reissued report's data unit (`obd.md` §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Layout {
    /// GB 17691-2018 Annex Q: collection time, then repeated type, item serial, body.
    AnnexQ,
    /// HJ 1239-2021: send time, packet serial, then repeated type, collection time, body, and
    /// one signature block for the packet when signing is on.
    Hj1239,
    /// The 2019 draft: send time, packet serial, then repeated type, body and its own
    /// signature block.
    Draft2019,
}

impl Layout {
    /// Every layout, in the order detection tries them.
    pub const ALL: [Layout; 3] = [Layout::Hj1239, Layout::Draft2019, Layout::AnnexQ];

    /// The name used in settings and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Layout::AnnexQ => "gb17691",
            Layout::Hj1239 => "hj1239",
            Layout::Draft2019 => "draft2019",
        }
    }
}

impl std::str::FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Layout, String> {
        Layout::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| format!("unknown layout {s:?}: gb17691, hj1239 or draft2019"))
    }
}

/// An SM2 signature as the protocol sends it: `20`, R (32 bytes), `20`, S (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Signature {
    /// R.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex_array"))]
    pub r: [u8; 32],
    /// S.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex_array"))]
    pub s: [u8; 32],
}

/// A signature block's length.
pub const SIGNATURE_LEN: usize = 66;

impl Signature {
    /// Reads a block at the start of `b`: `20`, R, `20`, S.
    pub fn read(b: &[u8]) -> Option<Signature> {
        let b = b.first_chunk::<SIGNATURE_LEN>()?;
        if b[0] != 0x20 || b[33] != 0x20 {
            return None;
        }
        Some(Signature {
            r: padded::<32>(&b[1..33], 0),
            s: padded::<32>(&b[34..66], 0),
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(0x20);
        out.extend_from_slice(&self.r);
        out.push(0x20);
        out.extend_from_slice(&self.s);
    }
}

/// One information item with what its layout puts around it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Item {
    /// The body.
    pub info: Info,
    /// GB 17691 Annex Q: the item's serial.
    pub serial: Option<u16>,
    /// HJ 1239-2021: the item's collection time.
    pub time: Option<Time>,
    /// The 2019 draft: the item's own signature.
    pub signature: Option<Signature>,
}

/// A real-time or reissued report read in one layout.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Report {
    /// The layout it was read in.
    pub layout: Layout,
    /// Annex Q: the collection time of every item; otherwise the send time.
    pub time: Time,
    /// The packet serial (not in Annex Q).
    pub serial: Option<u16>,
    /// The items read, in order.
    pub items: Vec<Item>,
    /// HJ 1239-2021: the packet's signature, over everything before it.
    pub signature: Option<Signature>,
    /// Where reading stopped on a type of unknown length: the type and the bytes from there.
    pub unread: Option<(u8, Vec<u8>)>,
}

impl Report {
    /// Reads a report body (the data unit after its first time field) in `layout`.
    pub fn read(time: Time, body: &[u8], layout: Layout) -> Result<Report, ReportError> {
        Report::read_with_spans(time, body, layout).map(|(r, _)| r)
    }

    /// Reads a report body and says where in `body` each item's body lies (a receiver keeps
    /// the bytes as received: `FEFF` and `FFFF` are both "invalid" but not the same bytes,
    /// and a NOx of raw 0 is "not ready", not "invalid").
    pub fn read_with_spans(
        time: Time,
        body: &[u8],
        layout: Layout,
    ) -> Result<(Report, Vec<std::ops::Range<usize>>), ReportError> {
        let mut spans = Vec::new();
        let mut r = Report {
            layout,
            time,
            serial: None,
            items: Vec::new(),
            signature: None,
            unread: None,
        };
        let mut at = 0;
        if layout != Layout::AnnexQ {
            let Some(s) = body.first_chunk::<2>() else {
                return Err(ReportError::Truncated {
                    kind: 0,
                    at: 0,
                    need: 2,
                    have: body.len(),
                });
            };
            r.serial = Some(u16::from_be_bytes(*s));
            at = 2;
        }
        while at < body.len() {
            let rest = &body[at..];
            if layout == Layout::Hj1239
                && rest.len() == SIGNATURE_LEN
                && let Some(sig) = Signature::read(rest)
            {
                r.signature = Some(sig);
                break;
            }
            let kind = rest[0];
            let (head, mut item) = match layout {
                Layout::AnnexQ => {
                    let Some(&[_, a, b]) = rest.first_chunk::<3>() else {
                        return Err(ReportError::Truncated {
                            kind,
                            at,
                            need: 3,
                            have: rest.len(),
                        });
                    };
                    let serial = Some(u16::from_be_bytes([a, b]));
                    (3, (serial, None))
                }
                Layout::Hj1239 => {
                    let Some(t) = rest.get(1..7) else {
                        return Err(ReportError::Truncated {
                            kind,
                            at,
                            need: 7,
                            have: rest.len(),
                        });
                    };
                    let t = Time::decode(padded::<6>(t, 0)).map_err(|e| ReportError::Time {
                        kind,
                        at,
                        bad: e.0,
                    })?;
                    (7, (None, Some(t)))
                }
                Layout::Draft2019 => (1, (None, None)),
            };
            let Some((info, len)) = Info::decode(kind, &rest[head..], at + head)? else {
                r.unread = Some((kind, rest.to_vec()));
                break;
            };
            spans.push(at + head..at + head + len);
            at += head + len;
            let mut signature = None;
            if layout == Layout::Draft2019 {
                signature =
                    Some(Signature::read(&body[at..]).ok_or(ReportError::Signature { at })?);
                at += SIGNATURE_LEN;
            }
            r.items.push(Item {
                info,
                serial: item.0.take(),
                time: item.1.take(),
                signature,
            });
        }
        Ok((r, spans))
    }

    /// Reads a report body in the layout that reads all of it: HJ 1239-2021, then the 2019
    /// draft, then Annex Q (the layouts' first bytes differ, so at most one normally fits).
    /// When none reads everything, the Annex Q reading (or its error) is returned.
    pub fn detect(time: Time, body: &[u8]) -> Result<Report, ReportError> {
        Report::detect_with_spans(time, body).map(|(r, _)| r)
    }

    /// [`Report::detect`] with the items' spans, as [`Report::read_with_spans`] gives them.
    pub fn detect_with_spans(
        time: Time,
        body: &[u8],
    ) -> Result<(Report, Vec<std::ops::Range<usize>>), ReportError> {
        for layout in [Layout::Hj1239, Layout::Draft2019] {
            if let Ok((r, spans)) = Report::read_with_spans(time, body, layout)
                && r.unread.is_none()
                && !r.items.is_empty()
            {
                return Ok((r, spans));
            }
        }
        Report::read_with_spans(time, body, Layout::AnnexQ)
    }

    /// The body's bytes (after the first time field), in its layout.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.signed_part();
        if let Some(s) = &self.signature {
            s.write(&mut b);
        }
        b.drain(..6);
        b
    }

    /// The data unit up to the packet signature, as this encoder writes it: what a terminal
    /// signs. (A received packet is checked over its bytes as received:
    /// [`crate::sign::verify_packet`].)
    pub fn signed_part(&self) -> Vec<u8> {
        let mut b = self.time.encode().to_vec();
        if self.layout != Layout::AnnexQ {
            b.extend_from_slice(&self.serial.unwrap_or(0).to_be_bytes());
        }
        for item in &self.items {
            b.push(item.info.kind());
            match self.layout {
                Layout::AnnexQ => b.extend_from_slice(&item.serial.unwrap_or(0).to_be_bytes()),
                Layout::Hj1239 => b.extend_from_slice(&item.time.unwrap_or(self.time).encode()),
                Layout::Draft2019 => {}
            }
            b.extend_from_slice(&item.info.encode());
            if self.layout == Layout::Draft2019
                && let Some(s) = &item.signature
            {
                s.write(&mut b);
            }
        }
        if let Some((_, rest)) = &self.unread {
            b.extend_from_slice(rest);
        }
        b
    }

    /// An item's collection time: its own, or the report's.
    pub fn item_time(&self, item: &Item) -> Time {
        item.time.unwrap_or(self.time)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Position;
    use crate::{Frame, Message};

    fn hex(s: &str) -> Vec<u8> {
        crate::frame::from_hex(s).expect("hex")
    }

    const FRAME_A: &str = "2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C4744434841314738
        4D4131323737333359435933303136352D363020202020200000EC40A1BF000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000007145600AFE00200AFE06200AFE00900
        AF204700AF245500AFE01200AF0200010000C57D830000000000000000610000FEFFFEFFFEFF3D000006AFD31701EA55
        FE000000289F";

    const FRAME_B: &str = "2323024C57485445535431323334353637383935110101131306030F193B000401010000EB00804C5748544553543132
        33343536373839353630313630332D4532303030303030303030545A5748303030305830303030303030303031303230
        313032300000000000000000000000000000000000000000000000000000000000203131303030334142423033334646
        414143443033383943434544313239454400203232303042433033414242303333464641414344453830383943434544
        314544022621CA98B41B5601631CA8109AAA00172BAA2A2204A25B54000686C1D7020D043F00002AFD20313130303033
        414242303333464641414344303338394343454431323945440020323230304243303341424230333346464141434445
        38303839434345443145445F";

    fn report_of(frame: &str) -> (Time, Vec<u8>) {
        let bytes = hex(frame);
        let f = Frame::parse(&bytes).expect("frame");
        match Message::decode(&f) {
            Ok(Message::RealTime { time, body }) => (time, body),
            other => panic!("not a real-time report: {other:?}"),
        }
    }

    fn stream() -> DieselStream {
        DieselStream {
            speed: Some(62.5),
            engine_speed: Some(1450.0),
            nox_upstream: Some(812.35),
            nox_downstream: Some(41.0),
            reagent_level: Some(55.2),
            scr_inlet_temperature: Some(301.25),
            coolant_temperature: Some(85.0),
            position: Position {
                status: 0,
                longitude: Some(117_000_000),
                latitude: Some(36_650_000),
            },
            mileage: Some(123_456.7),
            ..DieselStream::default()
        }
    }

    #[test]
    fn the_worked_frame_a_field_by_field() {
        let (time, body) = report_of(FRAME_A);
        let r = Report::read(time, &body, Layout::AnnexQ).expect("items");
        assert_eq!(
            Report::detect(time, &body).expect("detected").layout,
            Layout::AnnexQ
        );
        assert_eq!(r.unread, None);
        let [obd, s] = r.items.as_slice() else {
            panic!("{r:?}")
        };
        assert_eq!((obd.serial, s.serial), (Some(1), Some(1)));
        let (Info::Obd(obd), Info::Diesel(s)) = (&obd.info, &s.info) else {
            panic!("{r:?}")
        };
        assert_eq!((obd.protocol, obd.mil_on), (Some(1), Some(false)));
        assert_eq!((obd.support, obd.readiness), (0xABDE, 0xA9D6));
        assert_eq!(obd.vin_text(), "LGDCHA1G8MA127733");
        assert_eq!(obd.cal_id_text(), "YCY30165-60");
        assert_eq!(&obd.cvn[..4], &[0xEC, 0x40, 0xA1, 0xBF]);
        let codes: Vec<String> = obd
            .typed_dtcs()
            .into_iter()
            .map(|d| match d {
                Dtc::Uds { code, status, .. } => {
                    assert_eq!(status, 0xAF);
                    code
                }
                Dtc::J1939 { .. } => panic!("ISO 27145 codes are UDS ones"),
            })
            .collect();
        assert_eq!(
            codes,
            [
                "P1456", "U2002", "U2062", "U2009", "P2047", "P2455", "U2012"
            ]
        );
        assert_eq!(obd.typed_dtcs()[0].warning_requested(), Some(true));
        assert_eq!(s.speed, Some(0.0));
        assert_eq!(s.atmospheric_pressure, Some(98.5));
        assert_eq!((s.net_torque, s.friction_torque), (Some(0.0), Some(6.0)));
        assert_eq!(
            (s.nox_upstream, s.nox_downstream),
            (None, None),
            "sensor not ready"
        );
        assert!((s.reagent_level.expect("level") - 38.8).abs() < 1e-9);
        assert_eq!(
            (
                s.scr_inlet_temperature,
                s.scr_outlet_temperature,
                s.dpf_pressure_drop
            ),
            (None, None, None),
            "a J1939 error code is not 1767 °C"
        );
        assert_eq!(
            (s.coolant_temperature, s.fuel_level),
            (Some(21.0), Some(0.0))
        );
        assert_eq!(s.position.longitude, Some(112_186_135));
        assert_eq!(s.position.latitude, Some(32_134_654));
        assert!((s.mileage.expect("mileage") - 4.0).abs() < 1e-9);
        assert_eq!(
            Report::read(time, &r.encode(), Layout::AnnexQ).expect("again"),
            r,
            "re-encoded, it reads the same (not byte for byte: FE FF is read as invalid and \
             written as FF FF, padding spaces as zeros)"
        );
    }

    #[test]
    fn the_worked_frame_b_is_the_2019_draft() {
        let (time, body) = report_of(FRAME_B);
        let r = Report::detect(time, &body).expect("detected");
        assert_eq!(r.layout, Layout::Draft2019);
        assert_eq!(r.serial, Some(4));
        let [obd, s] = r.items.as_slice() else {
            panic!("{r:?}")
        };
        assert!(obd.signature.is_some() && s.signature.is_some());
        let (Info::Obd(obd), Info::Diesel(s)) = (&obd.info, &s.info) else {
            panic!("{r:?}")
        };
        assert_eq!((obd.support, obd.readiness), (0x00EB, 0x0080));
        assert_eq!(obd.cal_id_text(), "601603-E2000000000");
        assert_eq!(obd.dtcs, Some(vec![]));
        let close = |v: Option<f64>, want: f64| (v.expect("value") - want).abs() < 0.02;
        assert!(close(s.speed, 38.13) && close(s.engine_speed, 874.75));
        assert!(close(s.nox_upstream, 166.8) && close(s.nox_downstream, 12.5));
        assert!(close(s.scr_inlet_temperature, 76.3) && close(s.mileage, 1100.5));
        assert_eq!(s.position.longitude, Some(109_494_743));
        assert_eq!(
            Report::read(time, &r.encode(), Layout::Draft2019).expect("again"),
            r
        );
        assert!(
            Report::read(time, &body, Layout::Hj1239).is_err(),
            "not read in the wrong layout"
        );
    }

    #[test]
    fn an_hj1239_packet_signs_verifies_and_is_detected() {
        let t0 = Time::from_unix(1_800_000_000);
        let mut r = Report {
            layout: Layout::Hj1239,
            time: Time::from_unix(1_800_000_010),
            serial: Some(42),
            items: (0..10)
                .map(|i| Item {
                    info: Info::Diesel(stream()),
                    serial: None,
                    time: Some(Time::from_unix(t0.to_unix() + i)),
                    signature: None,
                })
                .collect(),
            signature: None,
            unread: None,
        };
        let secret = [7u8; 32];
        let public = crate::sign::public_key(&secret).expect("key");
        let chip = "CHIP000000000001";
        let signed = r.signed_part();
        r.signature = Some(crate::sign::sign(&signed, &secret, chip).expect("sign"));
        let body = r.encode();
        assert_eq!(body.len(), 2 + 10 * (1 + 6 + DIESEL_LEN) + SIGNATURE_LEN);
        let back = Report::detect(r.time, &body).expect("read");
        assert_eq!(back, r);
        let mut unit = r.time.encode().to_vec();
        unit.extend_from_slice(&body);
        assert_eq!(crate::sign::verify_packet(&unit, &public, chip), Ok(()));
        assert_eq!(
            crate::sign::verify_packet(&unit, &public, crate::sign::DEFAULT_SIGNER_ID),
            Err(crate::sign::SignError::Mismatch),
            "another signer ID"
        );
        let mut tampered = unit.clone();
        tampered[15] ^= 1;
        assert_eq!(
            crate::sign::verify_packet(&tampered, &public, chip),
            Err(crate::sign::SignError::Mismatch),
            "one bit changed in the first record"
        );
        assert_eq!(
            crate::sign::verify_packet(&unit[..unit.len() - 1], &public, chip),
            Err(crate::sign::SignError::Unsigned)
        );
    }

    #[test]
    fn gas_hybrid_and_supplement_bodies_round_trip() {
        let gas = GasStream {
            speed: Some(40.0),
            upstream_oxygen: Some(0.999_424),
            downstream_oxygen: Some(0.65),
            nox_downstream: Some(12.0),
            with_nox: true,
            catalyst_temperature: Some(520.0),
            mileage: Some(88.8),
            ..GasStream::default()
        };
        let items = [
            Info::Gas(gas),
            Info::Gas(GasStream {
                with_nox: false,
                nox_downstream: None,
                ..gas
            }),
            Info::Hybrid(HybridStream {
                motor_speed: Some(3000.0),
                battery_current: Some(-12.5),
                soc: Some(80.0),
                ..HybridStream::default()
            }),
            Info::Supplement(Supplement {
                torque_mode: Some(1),
                total_fuel_used: Some(12_345.5),
                reagent_dosing: Some(210.25),
                total_reagent_used: Some(4_321),
                dpf_exhaust_temperature: Some(350.0),
                ..Supplement::default()
            }),
        ];
        for layout in Layout::ALL {
            let t = Time::from_unix(1_800_000_000);
            let r = Report {
                layout,
                time: t,
                serial: (layout != Layout::AnnexQ).then_some(3),
                items: items
                    .iter()
                    .map(|info| Item {
                        info: info.clone(),
                        serial: (layout == Layout::AnnexQ).then_some(9),
                        time: (layout == Layout::Hj1239).then_some(t),
                        signature: (layout == Layout::Draft2019).then_some(Signature {
                            r: [1; 32],
                            s: [2; 32],
                        }),
                    })
                    .collect(),
                signature: None,
                unread: None,
            };
            let body = r.encode();
            assert_eq!(
                Report::read(t, &body, layout).expect("read"),
                r,
                "{layout:?}"
            );
            assert_eq!(Report::detect(t, &body).expect("detect").layout, layout);
        }
        assert_eq!(gas.encode().len(), GAS_LEN[1]);
    }

    #[test]
    fn monitor_maps_follow_the_bit_order_setting() {
        let mut diesel = [false; 16];
        for m in ["dpf", "scr_nox_adsorber", "egr_vvt", "boost_pressure"] {
            let i = MONITORS.iter().position(|x| *x == m).expect("monitor");
            diesel[i] = true;
        }
        for order in [BitOrder::Lsb0, BitOrder::Msb0] {
            assert_eq!(order.read(order.write(diesel)), diesel);
        }
        assert_eq!(BitOrder::Lsb0.write(diesel), 0b0000_1110_1000_0000);
        assert_eq!(BitOrder::Msb0.write(diesel), 0b0000_0001_0111_0000);
        let catalyst = BitOrder::Msb0.read(BitOrder::Lsb0.write(diesel))[0];
        assert!(
            !catalyst,
            "read with the wrong order, the map says something else"
        );
    }

    #[test]
    fn j1939_codes_read_spn_fmi_and_count() {
        // SPN 3226 (SCR outlet NOx), FMI 2, occurred 5 times.
        let spn: u32 = 3226;
        let b = [
            (spn & 0xFF) as u8,
            (spn >> 8 & 0xFF) as u8,
            ((spn >> 16) as u8) << 5 | 2,
            5,
        ];
        assert_eq!(
            Dtc::j1939(b),
            Dtc::J1939 {
                spn: 3226,
                fmi: 2,
                occurrences: 5
            }
        );
        assert_eq!(
            Dtc::j1939([0xFF, 0xFF, 0xE0 | 31, 0x7F]),
            Dtc::J1939 {
                spn: 0x7FFFF,
                fmi: 31,
                occurrences: 127
            }
        );
    }

    #[test]
    fn bad_bodies_are_named_and_unknown_types_kept() {
        let mut body = vec![0x02, 0, 1];
        body.extend_from_slice(&stream().encode()[..20]);
        let t = Time::from_unix(1_800_000_000);
        assert!(matches!(
            Report::read(t, &body, Layout::AnnexQ),
            Err(ReportError::Truncated {
                kind: 2,
                need: 37,
                ..
            })
        ));
        let vendor = [0x90, 0, 1, 9, 9];
        let r = Report::read(t, &vendor, Layout::AnnexQ).expect("items");
        assert_eq!(r.unread, Some((0x90, vendor.to_vec())));
        let bad_time = [0, 1, 0x02, 0x15, 13, 1, 0, 0, 0];
        assert!(matches!(
            Report::read(t, &bad_time, Layout::Hj1239),
            Err(ReportError::Time { kind: 2, .. })
        ));
        let mut no_sig = vec![0, 1, 0x02];
        no_sig.extend_from_slice(&stream().encode());
        assert!(matches!(
            Report::read(t, &no_sig, Layout::Draft2019),
            Err(ReportError::Signature { at: 40 })
        ));
    }
}
