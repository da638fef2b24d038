//! The command units (`../shared/docs/obd.md` §3) as typed messages, decoded from a frame's
//! data unit and encoded back. A real-time or reissued report keeps its body after the
//! collection time as bytes here: its three layouts in the wild (GB 17691 Annex Q, HJ 1239-2021,
//! the 2019 draft) need the terminal's setting to be read.

use crate::frame::{Frame, FrameError};
use crate::time::{Time, TimeError};

/// A command unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `01` vehicle login (up).
    Login,
    /// `02` real-time information (up).
    RealTime,
    /// `03` reissued information (up), the real-time layout.
    Reissue,
    /// `04` vehicle logout (up).
    Logout,
    /// `05` time calibration: empty up, the platform's time down.
    TimeCalibration,
    /// `06` anti-removal alarm (up).
    AntiRemoval,
    /// `07` activation (up, to the national platform).
    Activation,
    /// `08` activation reply (down).
    ActivationReply,
    /// Any other code.
    Other(u8),
}

impl Command {
    /// The code's command.
    pub fn of(code: u8) -> Command {
        match code {
            0x01 => Command::Login,
            0x02 => Command::RealTime,
            0x03 => Command::Reissue,
            0x04 => Command::Logout,
            0x05 => Command::TimeCalibration,
            0x06 => Command::AntiRemoval,
            0x07 => Command::Activation,
            0x08 => Command::ActivationReply,
            c => Command::Other(c),
        }
    }

    /// Its name in snake case (`login`, `real_time`...), `other` for an unknown code.
    pub fn name(self) -> &'static str {
        match self {
            Command::Login => "login",
            Command::RealTime => "real_time",
            Command::Reissue => "reissue",
            Command::Logout => "logout",
            Command::TimeCalibration => "time_calibration",
            Command::AntiRemoval => "anti_removal",
            Command::Activation => "activation",
            Command::ActivationReply => "activation_reply",
            Command::Other(_) => "other",
        }
    }

    /// Its code.
    pub fn code(self) -> u8 {
        match self {
            Command::Login => 0x01,
            Command::RealTime => 0x02,
            Command::Reissue => 0x03,
            Command::Logout => 0x04,
            Command::TimeCalibration => 0x05,
            Command::AntiRemoval => 0x06,
            Command::Activation => 0x07,
            Command::ActivationReply => 0x08,
            Command::Other(c) => c,
        }
    }
}

/// A position as the protocol sends it: the status bits and the coordinates in millionths of
/// a degree; `None` for the invalid marker `FFFFFFFF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Position {
    /// Bit 0: 1 no fix (the last valid position repeated); bit 1: south; bit 2: west.
    pub status: u8,
    /// Longitude, 1e-6 °.
    pub longitude: Option<u32>,
    /// Latitude, 1e-6 °.
    pub latitude: Option<u32>,
}

/// The result of an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ActivationResult {
    /// `01`.
    Success,
    /// `02 01`.
    AlreadyFiled,
    /// `02 02`.
    VinError,
    /// `02 03`.
    UnknownError,
}

/// An activation (filing) message: the terminal's security chip introduces itself and its
/// public key for a VIN, signed by the chip when signing is on (`obd.md` §3, §8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Activation {
    /// When.
    pub time: Time,
    /// The security chip's ID (16 ASCII characters).
    pub chip_id: String,
    /// The chip's SM2 public key, X then Y.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex_array"))]
    pub public_key: [u8; 64],
    /// The VIN being filed.
    pub vin: String,
    /// The chip's signature over everything before it.
    pub signature: Option<crate::report::Signature>,
}

impl Activation {
    /// Checks the chip's signature with the public key the message itself carries (a chip
    /// proves it holds the key it files).
    pub fn verify(&self, signer_id: &str) -> Result<(), crate::sign::SignError> {
        let sig = self.signature.ok_or(crate::sign::SignError::Unsigned)?;
        let unsigned = Activation {
            signature: None,
            ..self.clone()
        };
        let bytes = Message::Activation(unsigned).data_unit();
        crate::sign::verify(&bytes, &sig, &self.public_key, signer_id)
    }
}

/// An activation's length without and with its signature block.
const ACTIVATION_LEN: [usize; 2] = [6 + 16 + 64 + 17, 6 + 16 + 64 + 17 + 66];

/// A decoded command unit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Message {
    /// Login: the terminal's time, the day's login serial and the SIM's ICCID.
    Login {
        /// Login time.
        time: Time,
        /// The day's login serial.
        serial: u16,
        /// The SIM card's ICCID (20 ASCII characters).
        iccid: String,
    },
    /// A real-time report: the time in its first six bytes and the rest of the body.
    RealTime {
        /// The report's first time field (collection time in GB 17691, send time in HJ 1239).
        time: Time,
        /// The body after it.
        #[cfg_attr(feature = "serde", serde(with = "crate::json::hex"))]
        body: Vec<u8>,
    },
    /// A reissued report, laid out as a real-time one.
    Reissue {
        /// The report's first time field.
        time: Time,
        /// The body after it.
        #[cfg_attr(feature = "serde", serde(with = "crate::json::hex"))]
        body: Vec<u8>,
    },
    /// Logout, repeating the login serial.
    Logout {
        /// Logout time.
        time: Time,
        /// The login's serial.
        serial: u16,
    },
    /// A terminal asking for the time (no time) or the platform answering (its time).
    TimeCalibration(Option<Time>),
    /// The terminal was removed or opened.
    AntiRemoval {
        /// When.
        time: Time,
        /// Serial.
        serial: u16,
        /// Where.
        position: Position,
    },
    /// Activation (filing with the national platform).
    Activation(Activation),
    /// The national platform's answer to an activation.
    ActivationReply(ActivationResult),
    /// A command unit this crate does not read: its code and data unit.
    Other(
        u8,
        #[cfg_attr(feature = "serde", serde(with = "crate::json::hex"))] Vec<u8>,
    ),
}

/// A data unit that is not its command's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The frame itself is wrong.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The data unit's length is not the command's.
    #[error("{command:?}: data unit of {got} bytes, expected {expected}")]
    Length {
        /// The command.
        command: Command,
        /// Bytes given.
        got: usize,
        /// What the command needs.
        expected: &'static str,
    },
    /// A time field is not a date and time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The ICCID is not 20 ASCII characters.
    #[error("login: the ICCID is not ASCII: {0:02X?}")]
    Iccid(Vec<u8>),
    /// An activation's chip ID or VIN is not ASCII, or its signature block is malformed.
    #[error("activation: chip ID, VIN or signature block malformed: {0:02X?}")]
    Ascii(Vec<u8>),
    /// The data unit is encrypted and cannot be read without the key.
    #[error("encrypted data unit (encryption {0:02X}): needs the key")]
    Encrypted(u8),
    /// An activation result byte sequence that is not one of the four.
    #[error("activation reply {0:02X?} is not a result")]
    ActivationResult(Vec<u8>),
}

fn time_at(d: &[u8], at: usize) -> Result<Time, MessageError> {
    let mut b = [0u8; 6];
    b.copy_from_slice(&d[at..at + 6]);
    Ok(Time::decode(b)?)
}

fn word(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn dword(d: &[u8], at: usize) -> Option<u32> {
    let v = u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
    (v != u32::MAX).then_some(v)
}

impl Message {
    /// Decodes a checked frame's data unit. An encrypted unit (anything but `01`) is refused:
    /// the caller keeps the frame and says why.
    pub fn decode(frame: &Frame<'_>) -> Result<Message, MessageError> {
        if frame.encryption != 0x01 {
            return Err(MessageError::Encrypted(frame.encryption));
        }
        let d = frame.data;
        let command = Command::of(frame.command);
        let need = |ok: bool, expected: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(MessageError::Length {
                    command,
                    got: d.len(),
                    expected,
                })
            }
        };
        Ok(match command {
            Command::Login => {
                need(d.len() == 28, "28")?;
                let iccid = &d[8..28];
                if !iccid.is_ascii() {
                    return Err(MessageError::Iccid(iccid.to_vec()));
                }
                Message::Login {
                    time: time_at(d, 0)?,
                    serial: word(d, 6),
                    iccid: String::from_utf8_lossy(iccid).into_owned(),
                }
            }
            Command::RealTime | Command::Reissue => {
                need(d.len() >= 6, "at least 6")?;
                let (time, body) = (time_at(d, 0)?, d[6..].to_vec());
                if command == Command::RealTime {
                    Message::RealTime { time, body }
                } else {
                    Message::Reissue { time, body }
                }
            }
            Command::Logout => {
                need(d.len() == 8, "8")?;
                Message::Logout {
                    time: time_at(d, 0)?,
                    serial: word(d, 6),
                }
            }
            Command::TimeCalibration => {
                need(d.is_empty() || d.len() == 6, "0 or 6")?;
                Message::TimeCalibration(if d.is_empty() {
                    None
                } else {
                    Some(time_at(d, 0)?)
                })
            }
            Command::AntiRemoval => {
                need(d.len() == 17, "17")?;
                Message::AntiRemoval {
                    time: time_at(d, 0)?,
                    serial: word(d, 6),
                    position: Position {
                        status: d[8],
                        longitude: dword(d, 9),
                        latitude: dword(d, 13),
                    },
                }
            }
            Command::Activation => {
                need(
                    ACTIVATION_LEN.contains(&d.len()),
                    "103, or 169 with a signature",
                )?;
                let (chip, vin) = (&d[6..22], &d[86..103]);
                if !chip.is_ascii() || !vin.is_ascii() {
                    return Err(MessageError::Ascii(d[6..103].to_vec()));
                }
                let mut public_key = [0u8; 64];
                public_key.copy_from_slice(&d[22..86]);
                let signature = if d.len() == ACTIVATION_LEN[1] {
                    Some(
                        crate::report::Signature::read(&d[103..])
                            .ok_or_else(|| MessageError::Ascii(d[103..].to_vec()))?,
                    )
                } else {
                    None
                };
                Message::Activation(Activation {
                    time: time_at(d, 0)?,
                    chip_id: String::from_utf8_lossy(chip).into_owned(),
                    public_key,
                    vin: String::from_utf8_lossy(vin).into_owned(),
                    signature,
                })
            }
            Command::ActivationReply => Message::ActivationReply(match d {
                [0x01] => ActivationResult::Success,
                [0x02, 0x01] => ActivationResult::AlreadyFiled,
                [0x02, 0x02] => ActivationResult::VinError,
                [0x02, 0x03] => ActivationResult::UnknownError,
                _ => return Err(MessageError::ActivationResult(d.to_vec())),
            }),
            Command::Other(c) => Message::Other(c, d.to_vec()),
        })
    }

    /// Its command.
    pub fn command(&self) -> Command {
        match self {
            Message::Login { .. } => Command::Login,
            Message::RealTime { .. } => Command::RealTime,
            Message::Reissue { .. } => Command::Reissue,
            Message::Logout { .. } => Command::Logout,
            Message::TimeCalibration(_) => Command::TimeCalibration,
            Message::AntiRemoval { .. } => Command::AntiRemoval,
            Message::Activation(_) => Command::Activation,
            Message::ActivationReply(_) => Command::ActivationReply,
            Message::Other(c, _) => Command::Other(*c),
        }
    }

    /// Its data unit.
    pub fn data_unit(&self) -> Vec<u8> {
        let mut d = Vec::new();
        match self {
            Message::Login {
                time,
                serial,
                iccid,
            } => {
                d.extend_from_slice(&time.encode());
                d.extend_from_slice(&serial.to_be_bytes());
                let mut field = [b' '; 20];
                for (f, c) in field.iter_mut().zip(iccid.bytes()) {
                    *f = c;
                }
                d.extend_from_slice(&field);
            }
            Message::RealTime { time, body } | Message::Reissue { time, body } => {
                d.extend_from_slice(&time.encode());
                d.extend_from_slice(body);
            }
            Message::Logout { time, serial } => {
                d.extend_from_slice(&time.encode());
                d.extend_from_slice(&serial.to_be_bytes());
            }
            Message::TimeCalibration(t) => {
                if let Some(t) = t {
                    d.extend_from_slice(&t.encode());
                }
            }
            Message::AntiRemoval {
                time,
                serial,
                position,
            } => {
                d.extend_from_slice(&time.encode());
                d.extend_from_slice(&serial.to_be_bytes());
                d.push(position.status);
                d.extend_from_slice(&position.longitude.unwrap_or(u32::MAX).to_be_bytes());
                d.extend_from_slice(&position.latitude.unwrap_or(u32::MAX).to_be_bytes());
            }
            Message::Activation(a) => {
                d.extend_from_slice(&a.time.encode());
                let mut chip = [b' '; 16];
                for (f, c) in chip.iter_mut().zip(a.chip_id.bytes()) {
                    *f = c;
                }
                d.extend_from_slice(&chip);
                d.extend_from_slice(&a.public_key);
                let mut vin = [b' '; 17];
                for (f, c) in vin.iter_mut().zip(a.vin.bytes()) {
                    *f = c;
                }
                d.extend_from_slice(&vin);
                if let Some(sig) = &a.signature {
                    d.push(0x20);
                    d.extend_from_slice(&sig.r);
                    d.push(0x20);
                    d.extend_from_slice(&sig.s);
                }
            }
            Message::Other(_, b) => d.extend_from_slice(b),
            Message::ActivationReply(r) => d.extend_from_slice(match r {
                ActivationResult::Success => &[0x01],
                ActivationResult::AlreadyFiled => &[0x02, 0x01],
                ActivationResult::VinError => &[0x02, 0x02],
                ActivationResult::UnknownError => &[0x02, 0x03],
            }),
        }
        d
    }

    /// The whole frame for `vin`, unencrypted.
    pub fn encode(&self, vin: &str, software_version: u8) -> Result<Vec<u8>, FrameError> {
        let data = self.data_unit();
        Frame {
            command: self.command().code(),
            vin: vin.to_owned(),
            software_version,
            encryption: 0x01,
            data: &data,
        }
        .encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;

    fn hex(s: &str) -> Vec<u8> {
        crate::frame::from_hex(s).expect("hex")
    }

    #[test]
    fn the_worked_login_and_logout() {
        let login = hex(
            "2323014C47444348393147384B413134313236390101001C1401080E0806000338393836313131393232323033353530373837373A",
        );
        let f = Frame::parse(&login).expect("frame");
        let m = Message::decode(&f).expect("login");
        let Message::Login {
            time,
            serial,
            iccid,
        } = &m
        else {
            panic!("{m:?}")
        };
        assert_eq!(bjtime::rfc3339(time.to_unix()), "2020-01-08T14:08:06+08:00");
        assert_eq!((*serial, iccid.as_str()), (3, "89861119222035507877"));
        assert_eq!(m.encode("LGDCH91G8KA141269", 1).expect("encode"), login);

        let logout = hex("2323044C47365A44414E4837455932303831383202010008140911132E34001A5E");
        let f = Frame::parse(&logout).expect("frame");
        let m = Message::decode(&f).expect("logout");
        assert!(matches!(m, Message::Logout { serial: 26, .. }), "{m:?}");
        assert_eq!(m.encode("LG6ZDANH7EY208182", 2).expect("encode"), logout);
    }

    #[test]
    fn the_worked_real_time_frame_keeps_its_body() {
        let a = hex(
            "2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C4744434841314738
             4D4131323737333359435933303136352D363020202020200000EC40A1BF000000000000000000000000000000000000
             000000000000000000000000000000000000000000000000000000000000000007145600AFE00200AFE06200AFE00900
             AF204700AF245500AFE01200AF0200010000C57D830000000000000000610000FEFFFEFFFEFF3D000006AFD31701EA55
             FE000000289F",
        );
        let f = Frame::parse(&a).expect("frame A");
        assert_eq!(f.vin, "LGDCHA1G8MA127733");
        let m = Message::decode(&f).expect("real-time");
        let Message::RealTime { time, body } = &m else {
            panic!("{m:?}")
        };
        assert_eq!(bjtime::rfc3339(time.to_unix()), "2021-08-14T08:47:35+08:00");
        assert_eq!(body.len(), 173 - 6);
        assert_eq!(body[0], 0x01, "an OBD information body first");
        assert_eq!(m.encode(&f.vin, 1).expect("encode"), a);
    }

    #[test]
    fn every_message_encodes_and_decodes_back() {
        let t = Time::from_unix(1_800_000_000);
        let messages = [
            Message::Login {
                time: t,
                serial: 7,
                iccid: "89860000000000000001".into(),
            },
            Message::Reissue {
                time: t,
                body: vec![2, 0, 1, 9, 9],
            },
            Message::Logout { time: t, serial: 7 },
            Message::TimeCalibration(None),
            Message::TimeCalibration(Some(t)),
            Message::AntiRemoval {
                time: t,
                serial: 1,
                position: Position {
                    status: 0,
                    longitude: Some(117_000_000),
                    latitude: None,
                },
            },
            Message::ActivationReply(ActivationResult::VinError),
            Message::Activation(Activation {
                time: t,
                chip_id: "CHIP000000000001".into(),
                public_key: [7; 64],
                vin: "LGDCHA1G8MA127733".into(),
                signature: Some(crate::report::Signature {
                    r: [1; 32],
                    s: [2; 32],
                }),
            }),
            Message::Other(0x80, vec![1, 2, 3]),
        ];
        for m in messages {
            let bytes = m.encode("LGDCHA1G8MA127733", 3).expect("encode");
            let f = Frame::parse(&bytes).expect("frame");
            assert_eq!(Message::decode(&f), Ok(m));
        }
    }

    #[test]
    fn an_activation_carries_the_key_that_verifies_its_signature() {
        let secret = [5u8; 32];
        let mut a = Activation {
            time: Time::from_unix(1_800_000_000),
            chip_id: "CHIP000000000001".into(),
            public_key: crate::sign::public_key(&secret).expect("key"),
            vin: "LGDCHA1G8MA127733".into(),
            signature: None,
        };
        let bytes = Message::Activation(a.clone()).data_unit();
        a.signature = Some(crate::sign::sign(&bytes, &secret, &a.chip_id).expect("sign"));
        let frame = Message::Activation(a.clone())
            .encode(&a.vin, 1)
            .expect("encode");
        let Ok(Message::Activation(back)) = Message::decode(&Frame::parse(&frame).expect("frame"))
        else {
            panic!("an activation")
        };
        assert_eq!(back.verify(&a.chip_id), Ok(()));
        assert_eq!(
            back.verify(crate::sign::DEFAULT_SIGNER_ID),
            Err(crate::sign::SignError::Mismatch)
        );
    }

    #[test]
    fn wrong_lengths_times_and_encryption_are_named() {
        let t = Time::from_unix(1_800_000_000);
        let mut logout = Message::Logout { time: t, serial: 1 }.data_unit();
        logout.push(0);
        let frame = |command: u8, encryption: u8, data: &[u8]| {
            Frame {
                command,
                vin: "LGDCHA1G8MA127733".into(),
                software_version: 1,
                encryption,
                data,
            }
            .encode()
            .expect("encode")
        };
        let b = frame(0x04, 1, &logout);
        assert!(matches!(
            Message::decode(&Frame::parse(&b).expect("frame")),
            Err(MessageError::Length { got: 9, .. })
        ));
        let b = frame(0x04, 1, &[0x15, 13, 1, 0, 0, 0, 0, 1]);
        assert!(matches!(
            Message::decode(&Frame::parse(&b).expect("frame")),
            Err(MessageError::Time(_))
        ));
        let b = frame(0x02, 0x03, &[0; 10]);
        assert_eq!(
            Message::decode(&Frame::parse(&b).expect("frame")),
            Err(MessageError::Encrypted(3))
        );
        let b = frame(0x08, 1, &[0x02, 0x09]);
        assert!(matches!(
            Message::decode(&Frame::parse(&b).expect("frame")),
            Err(MessageError::ActivationResult(_))
        ));
    }
}
