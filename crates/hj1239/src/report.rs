//! The information bodies of a real-time or reissued report (`../shared/docs/obd.md` §4–§6), in
//! the GB 17691 Annex Q layout: after the collection time, repeated info type (1), info serial
//! (2) and body. Bodies read here: `0x01` OBD information (96 + 4·n bytes) and `0x02` the
//! diesel data stream (37 bytes); a body of another type ends the reading (its length is not
//! known) and is kept as bytes with the rest.
//!
//! Invalid markers become `None`, never numbers: all-ones, the J1939 reserved band (2-byte
//! values from `FB00`, 1-byte values from `FB`, which terminals copy through from the CAN bus)
//! and a NOx of raw 0 (−200 ppm: the sensor not ready).

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
}

/// The diesel data stream (type `0x02`), physical values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
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

fn u1(v: u8, res: f64, off: f64) -> Option<f64> {
    (v < 0xFB).then(|| f64::from(v) * res + off)
}

fn u2(b: &[u8], at: usize, res: f64, off: f64) -> Option<f64> {
    let v = u16::from_be_bytes([b[at], b[at + 1]]);
    (v < 0xFB00).then(|| f64::from(v) * res + off)
}

fn u4(b: &[u8], at: usize) -> Option<u32> {
    let v = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    (v < 0xFB00_0000).then_some(v)
}

fn raw1(v: Option<f64>, res: f64, off: f64) -> u8 {
    v.map_or(0xFF, |v| ((v - off) / res).round().clamp(0.0, 250.0) as u8)
}

fn raw2(v: Option<f64>, res: f64, off: f64) -> [u8; 2] {
    v.map_or(0xFFFF, |v| {
        ((v - off) / res).round().clamp(0.0, 64_255.0) as u16
    })
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
                .then(|| u2(b, at, 0.05, -200.0))
                .flatten()
        };
        DieselStream {
            speed: u2(b, 0, 1.0 / 256.0, 0.0),
            atmospheric_pressure: u1(b[2], 0.5, 0.0),
            net_torque: u1(b[3], 1.0, -125.0),
            friction_torque: u1(b[4], 1.0, -125.0),
            engine_speed: u2(b, 5, 0.125, 0.0),
            fuel_flow: u2(b, 7, 0.05, 0.0),
            nox_upstream: nox(9),
            nox_downstream: nox(11),
            reagent_level: u1(b[13], 0.4, 0.0),
            intake_air_flow: u2(b, 14, 0.05, 0.0),
            scr_inlet_temperature: u2(b, 16, 0.03125, -273.0),
            scr_outlet_temperature: u2(b, 18, 0.03125, -273.0),
            dpf_pressure_drop: u2(b, 20, 0.1, 0.0),
            coolant_temperature: u1(b[22], 1.0, -40.0),
            fuel_level: u1(b[23], 0.4, 0.0),
            position: crate::message::Position {
                status: b[24],
                longitude: u4(b, 25),
                latitude: u4(b, 29),
            },
            mileage: u4(b, 33).map(|v| f64::from(v) * 0.1),
        }
    }

    /// The 37 bytes (values rounded to their resolution; `None` as all-ones).
    pub fn encode(&self) -> [u8; DIESEL_LEN] {
        let mut b = [0u8; DIESEL_LEN];
        b[0..2].copy_from_slice(&raw2(self.speed, 1.0 / 256.0, 0.0));
        b[2] = raw1(self.atmospheric_pressure, 0.5, 0.0);
        b[3] = raw1(self.net_torque, 1.0, -125.0);
        b[4] = raw1(self.friction_torque, 1.0, -125.0);
        b[5..7].copy_from_slice(&raw2(self.engine_speed, 0.125, 0.0));
        b[7..9].copy_from_slice(&raw2(self.fuel_flow, 0.05, 0.0));
        b[9..11].copy_from_slice(&raw2(self.nox_upstream, 0.05, -200.0));
        b[11..13].copy_from_slice(&raw2(self.nox_downstream, 0.05, -200.0));
        b[13] = raw1(self.reagent_level, 0.4, 0.0);
        b[14..16].copy_from_slice(&raw2(self.intake_air_flow, 0.05, 0.0));
        b[16..18].copy_from_slice(&raw2(self.scr_inlet_temperature, 0.03125, -273.0));
        b[18..20].copy_from_slice(&raw2(self.scr_outlet_temperature, 0.03125, -273.0));
        b[20..22].copy_from_slice(&raw2(self.dpf_pressure_drop, 0.1, 0.0));
        b[22] = raw1(self.coolant_temperature, 1.0, -40.0);
        b[23] = raw1(self.fuel_level, 0.4, 0.0);
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
pub struct ObdInfo {
    /// `0` ISO 15765, `1` ISO 27145, `2` SAE J1939; `None` invalid.
    pub protocol: Option<u8>,
    /// The malfunction indicator lamp; `None` invalid.
    pub mil_on: Option<bool>,
    /// Monitor support bitmap, as sent (its bit order is a per-source setting).
    pub support: u16,
    /// Monitor readiness bitmap, as sent.
    pub readiness: u16,
    /// The VIN the ECU reports (compare with the header's).
    pub vin: String,
    /// Software calibration ID, padding removed.
    pub cal_id: String,
    /// Calibration verification number field, 18 bytes as sent.
    pub cvn: Vec<u8>,
    /// IUPR: 18 words.
    pub iupr: Vec<u16>,
    /// Diagnostic trouble codes, 4 bytes each; `None` when the count is invalid.
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
            vin: text(&b[6..23]),
            cal_id: text(&b[23..41]),
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

/// One information item.
#[derive(Debug, Clone, PartialEq)]
pub enum Info {
    /// Type `0x01`.
    Obd(ObdInfo),
    /// Type `0x02`.
    Diesel(DieselStream),
}

/// A report body read: its items (type, serial, body) and the bytes from the first item it
/// could not read on (empty when all were read).
#[derive(Debug, Clone, PartialEq)]
pub struct Items {
    /// The items read, in order: (info serial, body).
    pub items: Vec<(u16, Info)>,
    /// The info type where reading stopped and the bytes from there.
    pub unread: Option<(u8, Vec<u8>)>,
}

/// Reads a GB 17691 Annex Q report body (after the collection time).
pub fn annex_q_items(body: &[u8]) -> Result<Items, ReportError> {
    let mut items = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let kind = body[at];
        let need_header = 3;
        let have = body.len() - at;
        let truncated = |need: usize| ReportError::Truncated {
            kind,
            at,
            need,
            have,
        };
        if have < need_header {
            return Err(truncated(need_header));
        }
        let serial = u16::from_be_bytes([body[at + 1], body[at + 2]]);
        let b = &body[at + 3..];
        match kind {
            0x01 => {
                if b.len() < 96 {
                    return Err(truncated(3 + 96));
                }
                let n = if b[95] < 0xFE { usize::from(b[95]) } else { 0 };
                if b.len() < 96 + 4 * n {
                    return Err(truncated(3 + 96 + 4 * n));
                }
                items.push((serial, Info::Obd(ObdInfo::decode(&b[..96 + 4 * n]))));
                at += 3 + 96 + 4 * n;
            }
            0x02 => {
                let Some(s) = b.first_chunk::<DIESEL_LEN>() else {
                    return Err(truncated(3 + DIESEL_LEN));
                };
                items.push((serial, Info::Diesel(DieselStream::decode(s))));
                at += 3 + DIESEL_LEN;
            }
            _ => {
                return Ok(Items {
                    items,
                    unread: Some((kind, body[at..].to_vec())),
                });
            }
        }
    }
    Ok(Items {
        items,
        unread: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, Message};

    fn hex(s: &str) -> Vec<u8> {
        crate::frame::from_hex(s).expect("hex")
    }

    const FRAME_A: &str = "2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C4744434841314738
        4D4131323737333359435933303136352D363020202020200000EC40A1BF000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000007145600AFE00200AFE06200AFE00900
        AF204700AF245500AFE01200AF0200010000C57D830000000000000000610000FEFFFEFFFEFF3D000006AFD31701EA55
        FE000000289F";

    #[test]
    fn the_worked_frame_a_field_by_field() {
        let a = hex(FRAME_A);
        let f = Frame::parse(&a).expect("frame");
        let Ok(Message::RealTime { body, .. }) = Message::decode(&f) else {
            panic!("not a real-time report")
        };
        let items = annex_q_items(&body).expect("items");
        assert_eq!(items.unread, None);
        let [(1, Info::Obd(obd)), (1, Info::Diesel(s))] = items.items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!((obd.protocol, obd.mil_on), (Some(1), Some(false)));
        assert_eq!((obd.support, obd.readiness), (0xABDE, 0xA9D6));
        assert_eq!(obd.vin, "LGDCHA1G8MA127733");
        assert_eq!(obd.cal_id, "YCY30165-60");
        assert_eq!(&obd.cvn[..4], &[0xEC, 0x40, 0xA1, 0xBF]);
        let dtcs = obd.dtcs.as_ref().expect("dtcs");
        assert_eq!(dtcs.len(), 7);
        assert_eq!(dtcs[0], [0x14, 0x56, 0x00, 0xAF]);
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
    }

    #[test]
    fn a_stream_encodes_and_decodes_back_and_bad_bodies_are_named() {
        let s = DieselStream {
            speed: Some(62.5),
            engine_speed: Some(1450.0),
            nox_upstream: Some(812.35),
            nox_downstream: Some(41.0),
            reagent_level: Some(55.2),
            scr_inlet_temperature: Some(301.25),
            coolant_temperature: Some(85.0),
            mileage: Some(123_456.7),
            ..DieselStream::default()
        };
        let back = DieselStream::decode(&s.encode());
        assert_eq!(back.speed, Some(62.5));
        assert_eq!(back.nox_upstream, Some(812.35));
        assert_eq!(back.fuel_flow, None, "not given: invalid");
        assert!((back.mileage.expect("km") - 123_456.7).abs() < 1e-6);
        let mut body = vec![0x02, 0, 1];
        body.extend_from_slice(&s.encode()[..20]);
        assert!(matches!(
            annex_q_items(&body),
            Err(ReportError::Truncated {
                kind: 2,
                need: 40,
                ..
            })
        ));
        let vendor = [0x80, 0, 1, 9, 9];
        let items = annex_q_items(&vendor).expect("items");
        assert_eq!(items.unread, Some((0x80, vendor.to_vec())));
    }
}
