//! Decoding a frame into a [`Packet`]: the header, the CP items grouped by pollutant, and the
//! list of [`Deviation`]s from the standard.
//!
//! Parsing is tolerant and verification strict. Real loggers deviate from the standard in
//! dozens of ways (`../shared/docs/hj212.md` §12); a deviation is recorded, not thrown at the
//! caller, and the packet is still read. [`Packet::decode`] fails only when nothing trustworthy
//! can be read (no `CN`, no `CP=`). Whether a packet is *acceptable* is a separate question:
//! [`Packet::is_valid`] is strict (standard CRC, honest length, no error-level deviation),
//! and the gateway's policy may accept more (a device known to send MODBUS CRCs, say).
//!
//! Performance: one copy of the data segment into an owned string, one vector of items that
//! refer to it by offsets, one vector of pollutant groups; numbers are parsed once, exactly.

use std::fmt;

use std::borrow::Cow;

use bytes::Bytes;

use crate::codes::{self, CommandKind, DataFlag};
use crate::cp::{self, FieldKind, Span};
use crate::crc::{CrcVariant, CrcVerdict};
use crate::frame::{Frame, STANDARD_MAX_DATA_LEN, Terminator};
use crate::number::Decimal;
use crate::time::LocalTime;

/// The protocol version a packet speaks, from its Flag version bits (then its header shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HJ/T 212-2005 (version bits 000000, or no Flag).
    V2005,
    /// HJ 212-2017 (version bits 000001).
    V2017,
    /// HJ 212-2025 (version bits 000010; also sent by some pre-2025 devices).
    V2025,
    /// Version bits this codec does not know.
    Unknown(u8),
}

impl Version {
    /// The version bits of the Flag for this version.
    pub fn bits(self) -> u8 {
        match self {
            Self::V2005 => 0,
            Self::V2017 => 1,
            Self::V2025 => 2,
            Self::Unknown(b) => b,
        }
    }

    /// A short label: `2005`, `2017`, `2025` or `unknown(N)`.
    pub fn label(self) -> String {
        match self {
            Self::V2005 => "2005".into(),
            Self::V2017 => "2017".into(),
            Self::V2025 => "2025".into(),
            Self::Unknown(b) => format!("unknown({b})"),
        }
    }

    fn from_bits(bits: u8) -> Self {
        match bits {
            0 => Self::V2005,
            1 => Self::V2017,
            2 => Self::V2025,
            b => Self::Unknown(b),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// The header Flag: `V5 V4 V3 V2 V1 V0 D A` (HJ 212-2017 Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flag(pub u8);

impl Flag {
    /// Bit A: the receiver must answer.
    pub const ACK: u8 = 0b01;
    /// Bit D: the packet is one piece of a split message (carries PNUM and PNO).
    pub const SPLIT: u8 = 0b10;

    /// Builds a flag from its parts.
    pub fn new(version: Version, split: bool, ack: bool) -> Self {
        Self((version.bits() << 2) | (u8::from(split) << 1) | u8::from(ack))
    }

    /// The A bit.
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }

    /// The D bit.
    pub fn split(self) -> bool {
        self.0 & Self::SPLIT != 0
    }

    /// The version the bits name.
    pub fn version(self) -> Version {
        Version::from_bits(self.0 >> 2)
    }
}

/// How the data segment's bytes were turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// Valid UTF-8 (which includes plain ASCII): what HJ 212-2017 §6.3 prescribes.
    Utf8,
    /// Not UTF-8, decoded as GBK/GB18030.
    Gbk,
}

impl TextEncoding {
    /// `utf-8` or `gbk`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Gbk => "gbk",
        }
    }
}

/// How serious a deviation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Non-standard but harmless: the packet is read as intended.
    Warning,
    /// The packet cannot be trusted as sent (CRC or length wrong): strict verification fails.
    Error,
}

/// A named way in which a packet departs from the standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deviation {
    /// The declared length differs from the data segment actually framed.
    LengthMismatch {
        /// Declared length.
        declared: usize,
        /// Actual length in bytes.
        actual: usize,
    },
    /// The data segment is longer than the standard's 1024 bytes (accepted).
    OverStandardLength {
        /// Length in bytes.
        len: usize,
    },
    /// The CRC field matched a non-standard variant.
    CrcVariant {
        /// Which.
        variant: CrcVariant,
    },
    /// The CRC field matched no known variant.
    CrcMismatch {
        /// The value sent.
        given: u16,
        /// The HJ 212 CRC of the data segment.
        computed: u16,
    },
    /// The CRC field is not four hex digits.
    CrcNotHex,
    /// The CRC was written in lower-case hex.
    LowercaseCrc,
    /// The frame did not end with CR LF.
    Terminator {
        /// What it ended with.
        terminator: Terminator,
    },
    /// Bytes were skipped before this frame.
    SkippedBytes {
        /// How many.
        bytes: usize,
    },
    /// The text was not UTF-8 and was decoded as GBK.
    GbkText,
    /// The text is neither valid UTF-8 nor valid GBK; undecodable bytes were replaced.
    InvalidText,
    /// A header field the standard requires is absent.
    MissingField {
        /// Which (`QN`, `ST`, `PW`, `MN`, `Flag`).
        field: &'static str,
    },
    /// A header field name this codec does not know.
    UnknownHeaderField {
        /// The name.
        name: String,
    },
    /// A header field name in the wrong letter case (`flag=`).
    HeaderNameCase {
        /// The name as sent.
        name: String,
    },
    /// The same header field appears twice (the first is used).
    DuplicateHeaderField {
        /// The name.
        name: &'static str,
    },
    /// No `;` between the header and `CP=`.
    MissingDelimiterBeforeCp,
    /// `CP=` is not followed by `&&`, or the data area does not end with `&&`.
    CpNotDelimited,
    /// QN is not a 17-digit timestamp.
    QnFormat,
    /// ST is not two characters from 0–9 and A–Z.
    StFormat,
    /// CN is not four digits.
    CnFormat,
    /// The CN is not one this codec knows (kept and answered like data).
    UnknownCommand,
    /// PW is not six characters.
    PwFormat,
    /// MN is not the version's form (24 hex characters in 2017/2025, 14 characters in 2005).
    MnFormat,
    /// Flag is not an integer 0–255.
    FlagInvalid,
    /// The Flag's version bits are not 2005, 2017 or 2025.
    UnknownVersion {
        /// The bits.
        bits: u8,
    },
    /// No Flag, but the header has the 2017 shape (QN in the header, 24-character MN).
    VersionInferred,
    /// The D bit is set but PNUM or PNO is missing or not a number.
    SplitWithoutPacketNumbers,
    /// PNUM and PNO are present but the D bit is not set.
    PacketNumbersWithoutSplit,
    /// PNO is 0 or above PNUM.
    PacketNumberOutOfRange,
    /// A reply (9011–9014) with the A bit set: never answered, to avoid ack loops.
    ReplyAsksForAck,
    /// The data area is longer than the standard's 950 characters.
    CpOverLength {
        /// Length in bytes.
        len: usize,
    },
    /// A CP item without `=`.
    MalformedItem {
        /// The token.
        item: String,
    },
    /// Spaces around a CP name or value (trimmed).
    Whitespace,
    /// DataTime given with milliseconds (17 digits); truncated to seconds.
    DataTimeMillis,
    /// DataTime is not a valid 14-digit timestamp.
    DataTimeFormat {
        /// The value as sent.
        value: String,
    },
    /// A sub-field name not in HJ 212-2017 Table 4 (kept as sent).
    UnknownField {
        /// The full item name.
        name: String,
    },
    /// The same field of the same pollutant appears twice (the first is used).
    DuplicateField {
        /// The full item name.
        name: String,
    },
    /// A numeric field whose value is not a number (kept as text).
    InvalidNumber {
        /// The full item name.
        name: String,
    },
    /// A `-Flag` whose value is not one of the standards' data flags (kept as text).
    InvalidFlag {
        /// The full item name.
        name: String,
    },
    /// A factor code not in the built-in dictionary (kept; units come from station settings).
    UnknownCode {
        /// The code.
        code: String,
    },
}

impl Deviation {
    /// A stable snake-case name, used in JSON and in configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LengthMismatch { .. } => "length_mismatch",
            Self::OverStandardLength { .. } => "over_standard_length",
            Self::CrcVariant { .. } => "crc_variant",
            Self::CrcMismatch { .. } => "crc_mismatch",
            Self::CrcNotHex => "crc_not_hex",
            Self::LowercaseCrc => "lowercase_crc",
            Self::Terminator { .. } => "terminator",
            Self::SkippedBytes { .. } => "skipped_bytes",
            Self::GbkText => "gbk_text",
            Self::InvalidText => "invalid_text",
            Self::MissingField { .. } => "missing_field",
            Self::UnknownHeaderField { .. } => "unknown_header_field",
            Self::HeaderNameCase { .. } => "header_name_case",
            Self::DuplicateHeaderField { .. } => "duplicate_header_field",
            Self::MissingDelimiterBeforeCp => "missing_delimiter_before_cp",
            Self::CpNotDelimited => "cp_not_delimited",
            Self::QnFormat => "qn_format",
            Self::StFormat => "st_format",
            Self::CnFormat => "cn_format",
            Self::UnknownCommand => "unknown_command",
            Self::PwFormat => "pw_format",
            Self::MnFormat => "mn_format",
            Self::FlagInvalid => "flag_invalid",
            Self::UnknownVersion { .. } => "unknown_version",
            Self::VersionInferred => "version_inferred",
            Self::SplitWithoutPacketNumbers => "split_without_packet_numbers",
            Self::PacketNumbersWithoutSplit => "packet_numbers_without_split",
            Self::PacketNumberOutOfRange => "packet_number_out_of_range",
            Self::ReplyAsksForAck => "reply_asks_for_ack",
            Self::CpOverLength { .. } => "cp_over_length",
            Self::MalformedItem { .. } => "malformed_item",
            Self::Whitespace => "whitespace",
            Self::DataTimeMillis => "data_time_17_digits",
            Self::DataTimeFormat { .. } => "data_time_format",
            Self::UnknownField { .. } => "unknown_field",
            Self::DuplicateField { .. } => "duplicate_field",
            Self::InvalidNumber { .. } => "invalid_number",
            Self::InvalidFlag { .. } => "invalid_flag",
            Self::UnknownCode { .. } => "unknown_code",
        }
    }

    /// Whether the deviation makes the packet untrustworthy.
    pub fn severity(&self) -> Severity {
        match self {
            Self::LengthMismatch { .. }
            | Self::CrcVariant { .. }
            | Self::CrcMismatch { .. }
            | Self::CrcNotHex => Severity::Error,
            _ => Severity::Warning,
        }
    }
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LengthMismatch { declared, actual } => {
                write!(f, "declared length {declared}, actual {actual} bytes")
            }
            Self::OverStandardLength { len } => {
                write!(f, "data segment of {len} bytes exceeds 1024")
            }
            Self::CrcVariant { variant } => write!(f, "CRC is the {variant} variant"),
            Self::CrcMismatch { given, computed } => {
                write!(f, "CRC {given:04X} given, {computed:04X} computed")
            }
            Self::CrcNotHex => f.write_str("CRC field is not four hex digits"),
            Self::LowercaseCrc => f.write_str("CRC in lower-case hex"),
            Self::Terminator { terminator } => write!(f, "terminator {terminator:?}"),
            Self::SkippedBytes { bytes } => write!(f, "{bytes} bytes skipped before the frame"),
            Self::GbkText => f.write_str("text is GBK, not UTF-8"),
            Self::InvalidText => f.write_str("text is neither UTF-8 nor GBK"),
            Self::MissingField { field } => write!(f, "header field {field} missing"),
            Self::UnknownHeaderField { name } => write!(f, "unknown header field {name}"),
            Self::HeaderNameCase { name } => write!(f, "header field {name} in the wrong case"),
            Self::DuplicateHeaderField { name } => write!(f, "header field {name} repeated"),
            Self::MissingDelimiterBeforeCp => f.write_str("no ';' before CP="),
            Self::CpNotDelimited => f.write_str("CP not enclosed in && … &&"),
            Self::QnFormat => f.write_str("QN is not a 17-digit timestamp"),
            Self::StFormat => f.write_str("ST is not two characters 0-9/A-Z"),
            Self::CnFormat => f.write_str("CN is not four digits"),
            Self::UnknownCommand => f.write_str("unknown CN"),
            Self::PwFormat => f.write_str("PW is not six characters"),
            Self::MnFormat => f.write_str("MN does not have the version's form"),
            Self::FlagInvalid => f.write_str("Flag is not an integer 0-255"),
            Self::UnknownVersion { bits } => write!(f, "unknown version bits {bits}"),
            Self::VersionInferred => f.write_str("no Flag; version inferred from the header"),
            Self::SplitWithoutPacketNumbers => f.write_str("split flag without PNUM/PNO"),
            Self::PacketNumbersWithoutSplit => f.write_str("PNUM/PNO without the split flag"),
            Self::PacketNumberOutOfRange => f.write_str("PNO is 0 or above PNUM"),
            Self::ReplyAsksForAck => f.write_str("reply with the ack bit set"),
            Self::CpOverLength { len } => write!(f, "CP of {len} bytes exceeds 950"),
            Self::MalformedItem { item } => write!(f, "CP item {item:?} has no '='"),
            Self::Whitespace => f.write_str("spaces around CP names or values"),
            Self::DataTimeMillis => f.write_str("DataTime has 17 digits"),
            Self::DataTimeFormat { value } => write!(f, "DataTime {value:?} is not valid"),
            Self::UnknownField { name } => write!(f, "unknown field {name}"),
            Self::DuplicateField { name } => write!(f, "field {name} repeated"),
            Self::InvalidNumber { name } => write!(f, "{name} is not a number"),
            Self::InvalidFlag { name } => write!(f, "{name} is not a data flag"),
            Self::UnknownCode { code } => write!(f, "code {code} not in the dictionary"),
        }
    }
}

/// Why a frame could not be read as a packet at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The data segment has no `CP=`: header and data cannot be told apart.
    #[error("no CP= data area in the data segment")]
    NoDataArea,
    /// The header has no CN: nothing says what the packet is.
    #[error("no CN command code in the header")]
    NoCommand,
}

/// One CP item, by offsets into the packet text.
#[derive(Debug, Clone, Copy)]
struct Item {
    /// The sub-field name (after `-`), or the whole name of a plain parameter.
    field: Span,
    kind: FieldKind,
    value: Span,
    number: Option<Decimal>,
    /// Index + 1 of the pollutant group, or 0 for a plain parameter.
    group: u32,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    /// The code's [`cp::key8`], for fast comparison (`u64::MAX` when longer than 8 bytes).
    key: u64,
    code: Span,
    /// The `PolId` value scoping this group, if any.
    scope: Span,
    first: u32,
    end: u32,
}

/// A CP value: the text exactly as sent and, where it is a number, its exact value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// The text as sent (trimmed).
    pub text: &'a str,
    /// The exact number, when the text is one.
    pub number: Option<Decimal>,
}

impl Value<'_> {
    /// The number as `f64`, when the text is one.
    pub fn as_f64(&self) -> Option<f64> {
        self.number.map(Decimal::to_f64)
    }
}

/// A decoded HJ 212 packet. Owns a copy of its text; everything else refers into it.
#[derive(Debug, Clone)]
pub struct Packet {
    /// The text, always valid UTF-8: the frame's own bytes when they were UTF-8 (no copy),
    /// else the GBK decoding.
    text: Bytes,
    encoding: TextEncoding,
    qn: Span,
    st: Span,
    cn: Span,
    pw: Span,
    mn: Span,
    flag: Option<Flag>,
    pnum: Option<u16>,
    pno: Option<u16>,
    cp: Span,
    items: Vec<Item>,
    groups: Vec<Group>,
    data_time: Option<LocalTime>,
    version: Version,
    crc: CrcVerdict,
    declared_len: usize,
    data_len: usize,
    terminator: Terminator,
    deviations: Vec<Deviation>,
}

/// Position of the first `CP=` (a plain byte scan: cheaper than a substring searcher here).
pub(crate) fn find_cp(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = b[from..].iter().position(|&c| c == b'C') {
        let at = from + i;
        if b.get(at + 1..at + 3) == Some(b"P=") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

fn parse_packet_number(s: &str) -> Option<u16> {
    if is_digits(s) && s.len() <= 5 {
        s.parse().ok()
    } else {
        None
    }
}

const HEADER_FIELDS: [&str; 8] = ["QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"];

/// The header fields found, by their index in [`HEADER_FIELDS`].
#[derive(Default)]
struct HeaderFields {
    values: [Option<Span>; HEADER_FIELDS.len()],
}

fn header_index(name: &[u8]) -> Option<usize> {
    Some(match name {
        b"QN" => 0,
        b"ST" => 1,
        b"CN" => 2,
        b"PW" => 3,
        b"MN" => 4,
        b"Flag" => 5,
        b"PNUM" => 6,
        b"PNO" => 7,
        _ => return None,
    })
}

impl Packet {
    /// Decodes a framed packet: checks the CRC and length, decodes the text, reads the header
    /// and the data area, and records every deviation.
    pub fn decode(frame: &Frame) -> Result<Packet, DecodeError> {
        let mut deviations = Vec::new();
        if frame.skipped_before > 0 {
            deviations.push(Deviation::SkippedBytes {
                bytes: frame.skipped_before,
            });
        }
        if !frame.length_matches() {
            deviations.push(Deviation::LengthMismatch {
                declared: frame.declared_len,
                actual: frame.data_len(),
            });
        }
        if frame.data_len() > STANDARD_MAX_DATA_LEN {
            deviations.push(Deviation::OverStandardLength {
                len: frame.data_len(),
            });
        }
        let crc = frame.verify_crc();
        match (crc.given, crc.variant) {
            (None, _) => deviations.push(Deviation::CrcNotHex),
            (Some(given), None) => deviations.push(Deviation::CrcMismatch {
                given,
                computed: crc.computed,
            }),
            (Some(_), Some(CrcVariant::Hj212)) => {}
            (Some(_), Some(variant)) => deviations.push(Deviation::CrcVariant { variant }),
        }
        if crc.lowercase {
            deviations.push(Deviation::LowercaseCrc);
        }
        match frame.terminator {
            Terminator::CrLf | Terminator::Unseen => {}
            terminator => deviations.push(Deviation::Terminator { terminator }),
        }
        let (text, encoding) = decode_text(frame.data(), &mut deviations);
        let mut packet = Packet {
            text: Bytes::new(),
            encoding,
            qn: Span::default(),
            st: Span::default(),
            cn: Span::default(),
            pw: Span::default(),
            mn: Span::default(),
            flag: None,
            pnum: None,
            pno: None,
            cp: Span::default(),
            items: Vec::new(),
            groups: Vec::new(),
            data_time: None,
            version: Version::V2005,
            crc,
            declared_len: frame.declared_len,
            data_len: frame.data_len(),
            terminator: frame.terminator,
            deviations,
        };
        packet.parse_header(&text)?;
        packet.parse_data_area(&text);
        packet.text = match text {
            Cow::Borrowed(_) => frame.data_bytes(),
            Cow::Owned(s) => Bytes::from(s.into_bytes()),
        };
        Ok(packet)
    }

    /// Decodes one complete frame given as bytes (`##…\r\n`), for tools and tests.
    pub fn from_frame_bytes(bytes: &[u8]) -> Result<Packet, FrameBytesError> {
        let frame = Frame::from_bytes(bytes).ok_or(FrameBytesError::NotOneFrame)?;
        Ok(Packet::decode(&frame)?)
    }

    fn parse_header(&mut self, text: &str) -> Result<(), DecodeError> {
        let cp_at = find_cp(text.as_bytes()).ok_or(DecodeError::NoDataArea)?;
        let header_end = cp_at;
        let mut deviations = std::mem::take(&mut self.deviations);
        let before = deviations.len();
        let mut h = HeaderFields::default();
        let on_token =
            |h: &mut HeaderFields, deviations: &mut Vec<Deviation>, name: Span, value: Span| {
                let name = name.get(text);
                let index = header_index(name.as_bytes()).or_else(|| {
                    let i = HEADER_FIELDS
                        .iter()
                        .position(|f| f.eq_ignore_ascii_case(name))?;
                    deviations.push(Deviation::HeaderNameCase {
                        name: name.to_owned(),
                    });
                    Some(i)
                });
                let Some(i) = index else {
                    deviations.push(Deviation::UnknownHeaderField {
                        name: name.to_owned(),
                    });
                    return;
                };
                if h.values[i].is_some() {
                    deviations.push(Deviation::DuplicateHeaderField {
                        name: HEADER_FIELDS[i],
                    });
                    return;
                }
                h.values[i] = Some(value);
            };
        let fast = fast_tokens(text.as_bytes(), 0, header_end, |name, _, value| {
            on_token(&mut h, &mut deviations, name, value)
        });
        if !fast {
            h = HeaderFields::default();
            deviations.truncate(before);
            cp::tokenize(text, 0, header_end, |t| {
                on_token(&mut h, &mut deviations, t.name, t.value)
            });
        }
        let seen = h.values.map(|v| v.is_some());
        let field = |i: usize| h.values[i].unwrap_or_default();
        self.qn = field(0);
        self.st = field(1);
        self.cn = field(2);
        self.pw = field(3);
        self.mn = field(4);
        let flag_text = h.values[5];
        let pnum_text = h.values[6];
        let pno_text = h.values[7];
        let before_cp = text[..header_end].trim_end();
        if !before_cp.is_empty() && !before_cp.ends_with([';', ',']) {
            deviations.push(Deviation::MissingDelimiterBeforeCp);
        }
        // Data area: `CP=&&` … `&&`.
        let after = &text[cp_at + 3..];
        let (cp_start, opened) = if after.starts_with("&&") {
            (cp_at + 5, true)
        } else {
            (cp_at + 3, false)
        };
        let closed = text.len() >= cp_start + 2 && text.ends_with("&&");
        let cp_end = if closed { text.len() - 2 } else { text.len() };
        if !opened || !closed {
            deviations.push(Deviation::CpNotDelimited);
        }
        self.cp = Span::new(cp_start, cp_end);
        if cp_end - cp_start > 950 {
            deviations.push(Deviation::CpOverLength {
                len: cp_end - cp_start,
            });
        }

        let cn = self.cn.get(text);
        if !seen[2] || cn.is_empty() {
            return Err(DecodeError::NoCommand);
        }
        let command = codes::command(cn);
        if !(cn.len() == 4 && is_digits(cn)) {
            deviations.push(Deviation::CnFormat);
        } else if command.is_none() {
            deviations.push(Deviation::UnknownCommand);
        }
        let is_reply = matches!(command, Some((CommandKind::Reply, _)));

        // Flag and version.
        let qn = self.qn.get(text);
        let mn = self.mn.get(text);
        self.flag = match flag_text {
            Some(v) => match v.get(text).parse::<u8>() {
                Ok(f) => Some(Flag(f)),
                Err(_) => {
                    deviations.push(Deviation::FlagInvalid);
                    None
                }
            },
            None => None,
        };
        self.version = match self.flag {
            Some(flag) => flag.version(),
            None if seen[0] && mn.len() == 24 => {
                deviations.push(Deviation::VersionInferred);
                Version::V2017
            }
            None => Version::V2005,
        };
        if let Version::Unknown(bits) = self.version {
            deviations.push(Deviation::UnknownVersion { bits });
        }
        let modern = matches!(self.version, Version::V2017 | Version::V2025);
        if modern {
            for (i, name) in [(0, "QN"), (5, "Flag")] {
                if !seen[i] {
                    deviations.push(Deviation::MissingField { field: name });
                }
            }
        }
        for (i, name) in [(1, "ST"), (3, "PW"), (4, "MN")] {
            if !seen[i] {
                deviations.push(Deviation::MissingField { field: name });
            }
        }
        if seen[0] && !(qn.len() == 17 && LocalTime::parse(qn).is_ok()) {
            deviations.push(Deviation::QnFormat);
        }
        let st = self.st.get(text);
        if seen[1]
            && !(st.len() == 2
                && st
                    .bytes()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()))
        {
            deviations.push(Deviation::StFormat);
        }
        if seen[3] && self.pw.get(text).len() != 6 {
            deviations.push(Deviation::PwFormat);
        }
        let mn_ok = if modern {
            mn.len() == 24 && mn.bytes().all(|c| c.is_ascii_hexdigit())
        } else {
            mn.len() == 14
        };
        if seen[4] && !mn_ok {
            deviations.push(Deviation::MnFormat);
        }
        // Split packets.
        self.pnum = pnum_text.and_then(|s| parse_packet_number(s.get(text)));
        self.pno = pno_text.and_then(|s| parse_packet_number(s.get(text)));
        let split = self.flag.is_some_and(Flag::split);
        let numbered = self.pnum.is_some() && self.pno.is_some();
        if split && !numbered {
            deviations.push(Deviation::SplitWithoutPacketNumbers);
        }
        if !split && (pnum_text.is_some() || pno_text.is_some()) {
            deviations.push(Deviation::PacketNumbersWithoutSplit);
        }
        if let (Some(pnum), Some(pno)) = (self.pnum, self.pno)
            && (pno == 0 || pno > pnum)
        {
            deviations.push(Deviation::PacketNumberOutOfRange);
        }
        if is_reply && self.flag.is_some_and(Flag::ack) {
            deviations.push(Deviation::ReplyAsksForAck);
        }
        self.deviations = deviations;
        Ok(())
    }

    fn parse_data_area(&mut self, text: &str) {
        let (start, end) = (self.cp.start as usize, self.cp.end as usize);
        let mut b = ItemBuilder::new(text, std::mem::take(&mut self.deviations));
        let before = b.deviations.len();
        if !fast_items(text.as_bytes(), start, end, &mut b) {
            // Something unusual (spaces, log text, a missing `=`...): start over with the
            // general tokeniser, which handles everything.
            let mut deviations = std::mem::take(&mut b.deviations);
            deviations.truncate(before);
            b = ItemBuilder::new(text, deviations);
            cp::tokenize(text, start, end, |t| {
                b.whitespace |= t.trimmed;
                if !t.has_eq {
                    b.deviations.push(Deviation::MalformedItem {
                        item: t.name.get(text).to_owned(),
                    });
                }
                b.add(t.name, t.dash, t.value);
            });
        }
        let ItemBuilder {
            mut items,
            mut groups,
            mut deviations,
            regroup,
            whitespace,
            data_time,
            ..
        } = b;
        if regroup {
            // A pollutant's fields came in several places: make each group contiguous.
            items.sort_by_key(|i| if i.group == 0 { u32::MAX } else { i.group });
            for g in &mut groups {
                g.first = u32::MAX;
                g.end = 0;
            }
            for (idx, item) in items.iter().enumerate() {
                if item.group > 0 {
                    let g = &mut groups[item.group as usize - 1];
                    g.first = g.first.min(idx as u32);
                    g.end = idx as u32 + 1;
                }
            }
        }
        // Duplicate fields within a group: a bit per known kind, names compared for the rest.
        for g in &groups {
            let fields = &items[g.first as usize..g.end as usize];
            let mut seen = 0u32;
            for (i, a) in fields.iter().enumerate() {
                let bit = 1u32 << (a.kind as u32);
                let duplicate = if a.kind == FieldKind::Other {
                    fields[..i]
                        .iter()
                        .any(|b| b.kind == a.kind && b.field.get(text) == a.field.get(text))
                } else {
                    seen & bit != 0
                };
                seen |= bit;
                if duplicate {
                    deviations.push(Deviation::DuplicateField {
                        name: format!("{}-{}", g.code.get(text), a.field.get(text)),
                    });
                }
            }
        }
        if whitespace {
            deviations.push(Deviation::Whitespace);
        }
        if let Some(span) = data_time {
            let value = span.get(text);
            let digits = value.len();
            let parsed = match digits {
                14 => LocalTime::parse(value).ok(),
                16 | 17 => {
                    let t = value
                        .get(..14)
                        .and_then(|v| LocalTime::parse(v).ok())
                        .filter(|_| is_digits(value));
                    if t.is_some() {
                        deviations.push(if digits == 17 {
                            Deviation::DataTimeMillis
                        } else {
                            Deviation::DataTimeFormat {
                                value: value.to_owned(),
                            }
                        });
                    }
                    t
                }
                _ => None,
            };
            if parsed.is_none() {
                deviations.push(Deviation::DataTimeFormat {
                    value: value.to_owned(),
                });
            }
            self.data_time = parsed;
        }
        for g in &groups {
            let code = g.code.get(text);
            if codes::factor_by_key(g.key, code.len()).is_none()
                && !codes::is_structural_code(code)
                && codes::code_2017_by_key(g.key, code.len()).is_none()
            {
                deviations.push(Deviation::UnknownCode {
                    code: code.to_owned(),
                });
            }
        }
        self.items = items;
        self.groups = groups;
        self.deviations = deviations;
    }

    /// The data segment as text (UTF-8, or decoded from GBK).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The text of a span. Spans start and end at ASCII delimiters of a UTF-8 text, so the
    /// slice is always valid UTF-8; checking it again costs little for these short slices.
    fn s(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// How the text was decoded.
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    fn header_field(&self, span: Span) -> Option<&str> {
        (!span.is_empty()).then(|| self.s(span))
    }

    /// QN from the header.
    pub fn qn(&self) -> Option<&str> {
        self.header_field(self.qn)
    }

    /// The QN that identifies the exchange: the header's, or for 2005 replies the one inside CP.
    pub fn exchange_qn(&self) -> Option<&str> {
        self.qn().or_else(|| self.param("QN"))
    }

    /// ST, the system code.
    pub fn st(&self) -> Option<&str> {
        self.header_field(self.st)
    }

    /// CN, the command code.
    pub fn cn(&self) -> &str {
        self.s(self.cn)
    }

    /// PW, the access password.
    pub fn pw(&self) -> Option<&str> {
        self.header_field(self.pw)
    }

    /// MN, the device identifier (an opaque string: real devices send many forms).
    pub fn mn(&self) -> Option<&str> {
        self.header_field(self.mn)
    }

    /// The Flag, when present and numeric.
    pub fn flag(&self) -> Option<Flag> {
        self.flag
    }

    /// True when the sender asks for an answer (the Flag's A bit).
    pub fn wants_ack(&self) -> bool {
        self.flag.is_some_and(Flag::ack)
    }

    /// PNUM, the total packet count of a split message.
    pub fn pnum(&self) -> Option<u16> {
        self.pnum
    }

    /// PNO, this packet's number in a split message.
    pub fn pno(&self) -> Option<u16> {
        self.pno
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The CRC verdict.
    pub fn crc(&self) -> CrcVerdict {
        self.crc
    }

    /// The length the frame declared.
    pub fn declared_len(&self) -> usize {
        self.declared_len
    }

    /// The actual data-segment length in bytes.
    pub fn data_len(&self) -> usize {
        self.data_len
    }

    /// How the frame ended.
    pub fn terminator(&self) -> Terminator {
        self.terminator
    }

    /// The CP data area as sent, without the `&&` around it.
    pub fn cp_text(&self) -> &str {
        self.s(self.cp)
    }

    /// DataTime, when present and valid (17 digits are truncated to seconds).
    pub fn data_time(&self) -> Option<LocalTime> {
        self.data_time
    }

    /// Every deviation from the standard, in the order found.
    pub fn deviations(&self) -> &[Deviation] {
        &self.deviations
    }

    /// True when the packet passes strict verification: standard CRC, honest length, and no
    /// error-level deviation.
    pub fn is_valid(&self) -> bool {
        self.deviations
            .iter()
            .all(|d| d.severity() == Severity::Warning)
    }

    /// The first plain (code-less) CP parameter with this name, e.g. `QnRtn`, `SystemTime`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Plain CP parameters (items without a code prefix), in order, including `DataTime`.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items
            .iter()
            .filter(|i| i.group == 0)
            .map(|i| (self.s(i.field), self.s(i.value)))
    }

    /// The pollutant (or device, or facility) groups, in order of first appearance.
    pub fn pollutants(&self) -> impl ExactSizeIterator<Item = Pollutant<'_>> {
        self.groups.iter().map(move |g| Pollutant {
            packet: self,
            group: g,
        })
    }

    /// The group for one code (the first, if the code appears under several `PolId`s).
    pub fn pollutant(&self, code: &str) -> Option<Pollutant<'_>> {
        self.pollutants().find(|p| p.code() == code)
    }
}

/// Collects CP items into pollutant groups; fed by [`fast_items`] or by the general tokeniser.
struct ItemBuilder<'t> {
    text: &'t str,
    items: Vec<Item>,
    groups: Vec<Group>,
    deviations: Vec<Deviation>,
    scope: Span,
    regroup: bool,
    whitespace: bool,
    data_time: Option<Span>,
    /// A one-word Bloom filter of the group keys so far: a code whose bit is clear starts a new
    /// group without searching the earlier ones (the usual case: each code comes once).
    codes_seen: u64,
}

/// The bit of [`ItemBuilder::codes_seen`] for a group key (Fibonacci hashing to 6 bits).
fn code_bit(key: u64) -> u64 {
    1 << (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

impl<'t> ItemBuilder<'t> {
    fn new(text: &'t str, deviations: Vec<Deviation>) -> Self {
        ItemBuilder {
            text,
            items: Vec::with_capacity(32),
            groups: Vec::with_capacity(16),
            deviations,
            scope: Span::default(),
            regroup: false,
            whitespace: false,
            data_time: None,
            codes_seen: 0,
        }
    }

    #[cold]
    #[inline(never)]
    fn deviate_unknown_field(&mut self, name: Span) {
        let name = name.get(self.text).to_owned();
        self.deviations.push(Deviation::UnknownField { name });
    }

    #[cold]
    #[inline(never)]
    fn deviate_invalid_number(&mut self, name: Span) {
        let name = name.get(self.text).to_owned();
        self.deviations.push(Deviation::InvalidNumber { name });
    }

    #[cold]
    #[inline(never)]
    fn deviate_invalid_flag(&mut self, name: Span) {
        let name = name.get(self.text).to_owned();
        self.deviations.push(Deviation::InvalidFlag { name });
    }

    /// Starts a group for a code not seen before; returns its index + 1.
    fn new_group(&mut self, key: u64, code: Span) -> usize {
        self.codes_seen |= code_bit(key);
        let at = self.items.len() as u32;
        self.groups.push(Group {
            key,
            code,
            scope: self.scope,
            first: at,
            end: at + 1,
        });
        self.groups.len()
    }

    /// Adds one `name=value` item; `t_dash` is the position of the last `-` in the name.
    fn add(&mut self, t_name: Span, t_dash: u32, t_value: Span) {
        let text = self.text;
        let bytes = text.as_bytes();
        let slice = |s: Span| &bytes[s.start as usize..s.end as usize];
        let name = slice(t_name);
        if t_dash == u32::MAX || t_dash < t_name.start || t_dash >= t_name.end {
            match name {
                b"PolId" => self.scope = t_value,
                b"DataTime" if self.data_time.is_none() => self.data_time = Some(t_value),
                _ => {}
            }
            self.items.push(Item {
                field: t_name,
                kind: FieldKind::Other,
                value: t_value,
                number: None,
                group: 0,
            });
            return;
        }
        let dash = (t_dash - t_name.start) as usize;
        let base = t_name.start as usize;
        let mut code_end = dash;
        if name.get(dash.wrapping_sub(1)) == Some(&b' ') {
            while code_end > 0 && name[code_end - 1] == b' ' {
                code_end -= 1;
            }
        }
        let mut field_start = dash + 1;
        if name.get(field_start) == Some(&b' ') {
            while field_start < name.len() && name[field_start] == b' ' {
                field_start += 1;
            }
        }
        let code = Span::new(base, base + code_end);
        let field = Span::new(base + field_start, t_name.end as usize);
        let kind = FieldKind::from_bytes(slice(field));
        if kind == FieldKind::Other {
            self.deviate_unknown_field(t_name);
        }
        let number = if kind.is_numeric() {
            let n = Decimal::parse_bytes(slice(t_value)).ok();
            if n.is_none() {
                self.deviate_invalid_number(t_name);
            }
            n
        } else if kind == FieldKind::Info {
            Decimal::parse_bytes(slice(t_value)).ok()
        } else {
            if kind == FieldKind::Flag && DataFlag::parse(t_value.get(text)).is_none() {
                self.deviate_invalid_flag(t_name);
            }
            None
        };
        // Find the group: usually the last one.
        let key = cp::key8_at(bytes, code.start as usize, code.end as usize);
        let code_len = code.end - code.start;
        let same = |g: &Group| {
            g.key == key
                && g.code.end - g.code.start == code_len
                && g.scope == self.scope
                && (key != u64::MAX || slice(g.code) == slice(code))
        };
        let group = match self.groups.last_mut() {
            Some(g) if same(g) && g.end as usize == self.items.len() => {
                g.end += 1;
                self.groups.len()
            }
            _ if self.codes_seen & code_bit(key) == 0 => self.new_group(key, code),
            _ => match self.groups.iter().position(same) {
                Some(i) => {
                    self.regroup = true;
                    i + 1
                }
                None => self.new_group(key, code),
            },
        };
        self.items.push(Item {
            field,
            kind,
            value: t_value,
            number,
            group: group as u32,
        });
    }
}

/// Byte classes for [`fast_items`].
const ORDINARY: u8 = 0;
const DASH: u8 = 1;
const EQUALS: u8 = 2;
const DELIMITER: u8 = 3;
const UNUSUAL: u8 = 4;

/// What a byte means in a name (`-` splits code and field, `=` ends the name).
static NAME_CLASS: [u8; 256] = {
    let mut t = [UNUSUAL; 256];
    let mut c = 0x21;
    while c < 0x7F {
        t[c] = ORDINARY;
        c += 1;
    }
    t[b'-' as usize] = DASH;
    t[b'=' as usize] = EQUALS;
    t[b';' as usize] = UNUSUAL;
    t[b',' as usize] = UNUSUAL;
    t[b'/' as usize] = UNUSUAL;
    t[b'&' as usize] = UNUSUAL;
    t
};

/// What a byte means in a value (`;` and `,` end it).
static VALUE_CLASS: [u8; 256] = {
    let mut t = [UNUSUAL; 256];
    let mut c = 0x21;
    while c < 0x7F {
        t[c] = ORDINARY;
        c += 1;
    }
    t[b';' as usize] = DELIMITER;
    t[b',' as usize] = DELIMITER;
    t[b'=' as usize] = UNUSUAL;
    t[b'/' as usize] = UNUSUAL;
    t[b'&' as usize] = UNUSUAL;
    t
};

/// The fast path for the headers and data areas nearly every device sends: `name=value` items
/// of printable ASCII without spaces, log text or stray `=`, separated by `;` or `,`; `each`
/// gets the name, the position of its last `-` and the value. Returns false as soon as anything
/// else appears; the caller then starts over with the general tokeniser, so both paths give the
/// same items for every input the fast path accepts.
fn fast_tokens(b: &[u8], start: usize, end: usize, mut each: impl FnMut(Span, u32, Span)) -> bool {
    let b = &b[..end.min(b.len())];
    let mut i = start;
    while i < b.len() {
        let name_start = i;
        let mut dash = u32::MAX;
        loop {
            match b.get(i).map(|&c| NAME_CLASS[usize::from(c)]) {
                Some(ORDINARY) => i += 1,
                Some(DASH) => {
                    dash = i as u32;
                    i += 1;
                }
                Some(EQUALS) if i > name_start => break,
                _ => return false,
            }
        }
        let eq = i;
        i += 1;
        while let Some(&c) = b.get(i) {
            match VALUE_CLASS[usize::from(c)] {
                ORDINARY => i += 1,
                DELIMITER => break,
                _ => return false,
            }
        }
        each(Span::new(name_start, eq), dash, Span::new(eq + 1, i));
        // Skip the delimiter; a trailing one ends the area like the general path's empty token.
        i += 1;
    }
    true
}

/// [`fast_tokens`] feeding the data area's items to `out`.
fn fast_items(b: &[u8], start: usize, end: usize, out: &mut ItemBuilder<'_>) -> bool {
    fast_tokens(b, start, end, |name, dash, value| {
        out.add(name, dash, value)
    })
}

/// One pollutant's (or device's) fields in a packet.
#[derive(Clone, Copy)]
pub struct Pollutant<'a> {
    packet: &'a Packet,
    group: &'a Group,
}

impl fmt::Debug for Pollutant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pollutant")
            .field("code", &self.code())
            .field("fields", &self.fields().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> Pollutant<'a> {
    fn items(&self) -> &'a [Item] {
        &self.packet.items[self.group.first as usize..self.group.end as usize]
    }

    /// The code as sent (`w01018`, `SB1`, `i12001`, or a 2005 code such as `011`).
    pub fn code(&self) -> &'a str {
        self.packet.s(self.group.code)
    }

    /// The HJ 212-2017 code: the code itself, or its mapping when it is a 2005 code.
    pub fn code_2017(&self) -> &'a str {
        let code = self.code();
        if self.packet.version == Version::V2005 {
            codes::code_2017_for_2005(code).unwrap_or(code)
        } else {
            code
        }
    }

    /// The `PolId` scoping this group in messages such as 3020, if any: a `PolId` item applies
    /// to the items after it, up to the next `PolId`.
    pub fn pol_id(&self) -> Option<&'a str> {
        (!self.group.scope.is_empty()).then(|| self.packet.s(self.group.scope))
    }

    /// The first value of a field.
    pub fn get(&self, kind: FieldKind) -> Option<Value<'a>> {
        let packet = self.packet;
        self.items().iter().find(|i| i.kind == kind).map(|i| Value {
            text: packet.s(i.value),
            number: i.number,
        })
    }

    /// `-Rtd`.
    pub fn rtd(&self) -> Option<Value<'a>> {
        self.get(FieldKind::Rtd)
    }

    /// `-Avg`.
    pub fn avg(&self) -> Option<Value<'a>> {
        self.get(FieldKind::Avg)
    }

    /// `-Min`.
    pub fn min(&self) -> Option<Value<'a>> {
        self.get(FieldKind::Min)
    }

    /// `-Max`.
    pub fn max(&self) -> Option<Value<'a>> {
        self.get(FieldKind::Max)
    }

    /// `-Cou`.
    pub fn cou(&self) -> Option<Value<'a>> {
        self.get(FieldKind::Cou)
    }

    /// `-Flag` as sent.
    pub fn flag(&self) -> Option<&'a str> {
        self.get(FieldKind::Flag).map(|v| v.text)
    }

    /// `-Flag` mapped to the common set.
    pub fn data_flag(&self) -> Option<DataFlag> {
        self.flag().map(DataFlag::from_raw)
    }

    /// The fields whose value is outside its type's syntax, by sub-field name as sent: a numeric
    /// field (`Rtd`, `Avg`, `Cou`, ...) that is not a decimal number, or a `Flag` that is not
    /// one of the standards' data flags. Such a group cannot be taken as a measurement.
    pub fn malformed_fields(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let packet: &'a Packet = self.packet;
        self.items()
            .iter()
            .filter(move |i| {
                (i.kind.is_numeric() && i.number.is_none())
                    || (i.kind == FieldKind::Flag && DataFlag::parse(packet.s(i.value)).is_none())
            })
            .map(move |i| packet.s(i.field))
    }

    /// Every field in order: `(sub-field name as sent, kind, value)`.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, FieldKind, Value<'a>)> + 'a {
        let packet: &'a Packet = self.packet;
        self.items().iter().map(move |i| {
            (
                packet.s(i.field),
                i.kind,
                Value {
                    text: packet.s(i.value),
                    number: i.number,
                },
            )
        })
    }
}

/// A byte string that is not exactly one decodable frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameBytesError {
    /// The bytes do not hold exactly one frame.
    #[error("input is not exactly one HJ 212 frame")]
    NotOneFrame,
    /// The frame could not be read as a packet.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// A frame with its access passwords (`PW=`, and `NewPW=` of a password change, CN 1072) replaced
/// by as many `*`, for showing frames to people who must not learn a device's password. Works on
/// the bytes (the delimiters are ASCII in UTF-8 and GBK alike); a frame without a password is
/// returned as it is. The CRC of the result is no longer the frame's: evidence keeps the bytes.
pub fn mask_password(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut field_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b';' | b',' | b'&' => field_start = i + 1,
            b'=' => {
                let name = &bytes[field_start..i];
                let name = name
                    .strip_prefix(b"##")
                    .map_or(name, |n| n.get(4..).unwrap_or(n));
                if name == b"PW" || name == b"NewPW" {
                    let end = bytes[i + 1..]
                        .iter()
                        .position(|b| matches!(b, b';' | b',' | b'&' | b'\r' | b'\n'))
                        .map_or(bytes.len(), |n| i + 1 + n);
                    let masked = out.get_or_insert_with(|| bytes.to_vec());
                    masked[i + 1..end].fill(b'*');
                    i = end;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.map_or(Cow::Borrowed(bytes), Cow::Owned)
}

/// A frame's bytes as text for display: the bytes themselves when they are UTF-8, else their
/// GBK/GB18030 decoding (undecodable bytes replaced). Evidence keeps the bytes; this is only
/// how a person reads them.
pub fn frame_text(bytes: &[u8]) -> Cow<'_, str> {
    decode_text(bytes, &mut Vec::new()).0
}

fn decode_text<'a>(
    bytes: &'a [u8],
    deviations: &mut Vec<Deviation>,
) -> (Cow<'a, str>, TextEncoding) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), TextEncoding::Utf8),
        Err(_) => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            deviations.push(if had_errors {
                Deviation::InvalidText
            } else {
                Deviation::GbkText
            });
            (Cow::Owned(text.into_owned()), TextEncoding::Gbk)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_nothing_else() {
        let frame = b"##0101QN=20160801085857223;ST=32;CN=1072;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&NewPW=654321&&1C80\r\n";
        let masked = mask_password(frame);
        let text = String::from_utf8_lossy(&masked);
        assert!(
            text.contains(";PW=******;") && text.contains("&&NewPW=******&&"),
            "{text}"
        );
        assert_eq!(masked.len(), frame.len());
        let unmasked: Vec<u8> = frame
            .iter()
            .zip(masked.iter())
            .filter(|(a, b)| a != b)
            .map(|(a, _)| *a)
            .collect();
        assert_eq!(unmasked, b"123456654321");
        // A frame without a password, or a field merely ending in PW, is left as it is.
        let plain = b"##0040QN=1;ST=32;CN=2011;XPW=1;CP=&&&&0000\r\n";
        assert!(matches!(mask_password(plain), Cow::Borrowed(_)));
        assert!(matches!(mask_password(b"PW="), Cow::Owned(_)));
        assert!(matches!(mask_password(b""), Cow::Borrowed(_)));
    }

    fn decode(frame: &[u8]) -> Packet {
        Packet::from_frame_bytes(frame).expect("decodes")
    }

    #[test]
    fn standard_upload() {
        let p = decode(b"##0218QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857;w01001-Rtd=7.1,w01001-Flag=N;w01018-SampleTime=20160801070000,w01018-Rtd=2.2,w01018-Flag=N,w01018-EFlag=A01&&6E80\r\n");
        assert!(p.is_valid(), "{:?}", p.deviations());
        assert!(p.deviations().is_empty(), "{:?}", p.deviations());
        assert_eq!(p.version(), Version::V2017);
        assert_eq!(p.cn(), "2011");
        assert!(p.wants_ack());
        assert_eq!(
            p.data_time().map(|t| t.to_protocol()),
            Some("20160801085857".to_owned())
        );
        let cod = p.pollutant("w01018").expect("COD");
        assert_eq!(cod.rtd().map(|v| v.text), Some("2.2"));
        assert_eq!(cod.rtd().and_then(|v| v.as_f64()), Some(2.2));
        assert_eq!(cod.flag(), Some("N"));
        assert_eq!(cod.get(FieldKind::EFlag).map(|v| v.text), Some("A01"));
        assert_eq!(
            cod.get(FieldKind::SampleTime).map(|v| v.text),
            Some("20160801070000")
        );
        assert_eq!(p.pollutants().len(), 2);
    }

    #[test]
    fn scattered_fields_are_grouped_by_code() {
        let data = "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&DataTime=20160801085857;a-Rtd=1;b-Rtd=2;a-Flag=N&&";
        let mut frame = bytes::BytesMut::new();
        crate::frame::write_frame(data.as_bytes(), &mut frame).expect("short");
        let p = decode(&frame);
        let a = p.pollutant("a").expect("a");
        assert_eq!(a.rtd().map(|v| v.text), Some("1"));
        assert_eq!(a.flag(), Some("N"));
        assert_eq!(p.pollutants().len(), 2);
    }

    #[test]
    fn no_cn_or_cp_is_an_error() {
        let mut frame = bytes::BytesMut::new();
        crate::frame::write_frame(b"QN=1;ST=32;CP=&&&&", &mut frame).expect("short");
        assert!(matches!(
            Packet::from_frame_bytes(&frame),
            Err(FrameBytesError::Decode(DecodeError::NoCommand))
        ));
        let mut frame = bytes::BytesMut::new();
        crate::frame::write_frame(b"QN=1;ST=32;CN=2011&&", &mut frame).expect("short");
        assert!(matches!(
            Packet::from_frame_bytes(&frame),
            Err(FrameBytesError::Decode(DecodeError::NoDataArea))
        ));
    }

    #[test]
    fn gbk_text_is_decoded_and_reported() {
        let (gbk, _, _) = encoding_rs::GBK.encode("QN=20160801085857223;ST=32;CN=3020;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20100301145000;PolId=w01018;i11001-Info=//清洗管路//&&");
        let mut frame = bytes::BytesMut::new();
        crate::frame::write_frame(&gbk, &mut frame).expect("short");
        let p = decode(&frame);
        assert_eq!(p.encoding(), TextEncoding::Gbk);
        assert!(p.deviations().contains(&Deviation::GbkText));
        let log = p.pollutant("i11001").expect("log");
        assert_eq!(
            log.get(FieldKind::Info).map(|v| v.text),
            Some("//清洗管路//")
        );
        assert_eq!(log.pol_id(), Some("w01018"));
        assert!(p.is_valid());
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use proptest::prelude::*;

    type Row = (u32, u32, u32, u32, u32, Option<Decimal>);

    fn via(text: &str, fast: bool) -> Option<Vec<Row>> {
        let mut b = ItemBuilder::new(text, Vec::new());
        if fast {
            if !fast_items(text.as_bytes(), 0, text.len(), &mut b) {
                return None;
            }
        } else {
            cp::tokenize(text, 0, text.len(), |t| b.add(t.name, t.dash, t.value));
        }
        Some(
            b.items
                .iter()
                .map(|i| {
                    (
                        i.field.start,
                        i.field.end,
                        i.value.start,
                        i.value.end,
                        i.group,
                        i.number,
                    )
                })
                .collect(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Whenever the fast path accepts a data area, it reads exactly what the general
        /// tokeniser reads.
        #[test]
        fn fast_path_agrees_with_the_general_tokeniser(
            text in "([a-zA-Z0-9]{0,4}(-[A-Za-z]{0,3})?(=[-+0-9.a-zN/ ]{0,5})?[;,]?){0,8}"
        ) {
            if let Some(fast) = via(&text, true) {
                prop_assert_eq!(Some(fast), via(&text, false));
            }
        }
    }

    #[test]
    fn fast_path_declines_the_unusual() {
        for text in [
            "a = 1",
            "a=//x;y//",
            "junk;a=1",
            "a=b=c",
            "a=1;;b=2",
            "=1",
            "a-Rtd=清",
        ] {
            assert!(via(text, true).is_none(), "{text}");
        }
        assert!(via("a-Rtd=1.5,a-Flag=N;b=2;", true).is_some());
    }
}
