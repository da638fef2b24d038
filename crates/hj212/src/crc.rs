//! The HJ 212 checksum and the variants real devices send instead.
//!
//! HJ 212-2017 Appendix A (and HJ/T 212-2005 Appendix A) define a CRC that *looks* like
//! CRC-16/MODBUS but is not: each byte is folded in as `R = (R >> 8) ^ b` instead of
//! `R = R ^ b`. After that step the register is below 256, so the eight shift rounds that follow
//! are a pure function of one byte and collapse into a 256-entry table: the whole CRC is one
//! dependent table lookup per byte. Only 256 distinct values can ever come out, which is why the
//! low byte of a valid HJ 212 CRC is always one of `00 01 40 41 80 81 C0 C1`.
//!
//! That table is also XOR-linear (`T[a ^ b] = T[a] ^ T[b]`), and the map `x -> T[x] >> 8` that
//! carries the state from byte to byte has order 8 (applying it eight times is the identity).
//! So the CRC of a segment is a pure function of the XOR of its bytes taken eight at a time,
//! aligned on the segment's end: [`hj212`] folds the data into one `u64` with word-wide XORs and
//! then makes nine table lookups. There is no per-byte dependency chain, which makes the check
//! run at memory speed; [`hj212_bytewise`] is the literal per-byte form, kept as the reference
//! the fast form is tested against. (The same property is why the CRC detects so little: any
//! two errors eight bytes apart that cancel in the XOR go unnoticed.)
//!
//! Some device families send CRC-16/MODBUS instead, some write it low byte first. A receiver
//! that wants to serve them has to know which one matched, so [`verify`] returns a
//! [`CrcVerdict`] naming the [`CrcVariant`] instead of a bare bool.

/// The reflected polynomial 0x8005 used by both HJ 212 and CRC-16/MODBUS.
const POLY_REFLECTED: u16 = 0xA001;

/// `TABLE[x]` is the register after the eight shift rounds applied to the 8-bit value `x`.
/// It serves both algorithms: MODBUS uses it in the classic `(R >> 8) ^ TABLE[(R ^ b) & 0xFF]` form.
const TABLE: [u16; 256] = build_table();

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = i as u16;
        let mut round = 0;
        while round < 8 {
            let low_bit = r & 1;
            r >>= 1;
            if low_bit == 1 {
                r ^= POLY_REFLECTED;
            }
            round += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

/// `STEP[k][x]` applies the byte-to-byte state map `x -> TABLE[x] >> 8` k times (k = 0..8).
const STEP: [[u8; 256]; 8] = build_steps();

const fn build_steps() -> [[u8; 256]; 8] {
    let mut steps = [[0u8; 256]; 8];
    let mut x = 0;
    while x < 256 {
        let mut v = x as u8;
        let mut k = 0;
        while k < 8 {
            steps[k][x] = v;
            v = (TABLE[v as usize] >> 8) as u8;
            k += 1;
        }
        x += 1;
    }
    steps
}

/// The HJ 212 CRC (HJ 212-2017 Appendix A) of `data`, which must be the data-segment bytes
/// exactly as transmitted (not characters, not a re-encoded string).
///
/// ```
/// assert_eq!(hj212::crc::hj212(b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"), 0x1C80);
/// ```
pub fn hj212(data: &[u8]) -> u16 {
    let n = data.len();
    if n == 0 {
        return 0xFFFF;
    }
    // Byte i is carried through the state map (n - 1 - i) mod 8 times; fold the bytes that share
    // that count with XOR. Whole words are aligned on the end of the data, so byte o of a word
    // is carried 7 - o times.
    let head = n % 8;
    let mut folded: u64 = 0;
    for word in data[head..].chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        folded ^= u64::from_le_bytes(w);
    }
    let mut w = [0u8; 8];
    w[8 - head..].copy_from_slice(&data[..head]);
    folded ^= u64::from_le_bytes(w);
    // The initial register 0xFFFF contributes its high byte, carried n - 1 times.
    let mut u = STEP[(n - 1) % 8][0xFF];
    for (o, byte) in folded.to_le_bytes().into_iter().enumerate() {
        u ^= STEP[7 - o][usize::from(byte)];
    }
    TABLE[usize::from(u)]
}

/// The HJ 212 CRC computed literally one byte at a time, as the standard describes it
/// (with the eight shift rounds replaced by one table lookup). Same result as [`hj212`].
pub fn hj212_bytewise(data: &[u8]) -> u16 {
    let mut r: u16 = 0xFFFF;
    for &b in data {
        r = TABLE[usize::from((r >> 8) as u8 ^ b)];
    }
    r
}

/// CRC-16/MODBUS of `data` (poly 0x8005 reflected, init 0xFFFF, no final xor).
pub fn modbus(data: &[u8]) -> u16 {
    let mut r: u16 = 0xFFFF;
    for &b in data {
        r = (r >> 8) ^ TABLE[usize::from((r as u8) ^ b)];
    }
    r
}

/// Which checksum algorithm a frame's CRC field matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CrcVariant {
    /// The HJ 212 Appendix A algorithm, high byte first: what the standard prescribes.
    Hj212,
    /// CRC-16/MODBUS written high byte first.
    Modbus,
    /// CRC-16/MODBUS written low byte first (seen in real device traffic).
    ModbusSwapped,
}

impl CrcVariant {
    /// Every variant, the standard one first.
    pub const ALL: [CrcVariant; 3] = [Self::Hj212, Self::Modbus, Self::ModbusSwapped];

    /// A stable lower-case name, as used in configuration files and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hj212 => "hj212",
            Self::Modbus => "modbus",
            Self::ModbusSwapped => "modbus_swapped",
        }
    }

    /// The CRC value this variant yields for `data`, as it would be written in the frame.
    pub fn compute(self, data: &[u8]) -> u16 {
        match self {
            Self::Hj212 => hj212(data),
            Self::Modbus => modbus(data),
            Self::ModbusSwapped => modbus(data).swap_bytes(),
        }
    }
}

impl std::fmt::Display for CrcVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for CrcVariant {
    type Err = UnknownCrcVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| UnknownCrcVariant(s.to_owned()))
    }
}

/// A CRC variant name that is not one of `hj212`, `modbus`, `modbus_swapped`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CRC variant {0:?} (expected hj212, modbus or modbus_swapped)")]
pub struct UnknownCrcVariant(pub String);

/// The outcome of checking a frame's CRC field against its data segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CrcVerdict {
    /// The value written in the frame, if the field held four hex digits.
    pub given: Option<u16>,
    /// The HJ 212 CRC computed over the data segment.
    pub computed: u16,
    /// The variant whose value equals `given`, if any.
    pub variant: Option<CrcVariant>,
    /// The field was written with lower-case hex digits (accepted, but a deviation).
    pub lowercase: bool,
}

impl CrcVerdict {
    /// True when the given CRC is the standard HJ 212 one.
    pub fn is_standard(&self) -> bool {
        self.variant == Some(CrcVariant::Hj212)
    }

    /// True when the given CRC matched one of `accepted`.
    pub fn is_accepted_by(&self, accepted: &[CrcVariant]) -> bool {
        self.variant.is_some_and(|v| accepted.contains(&v))
    }
}

/// Parses four hex digits (either case). Returns the value and whether any letter was lower case.
pub fn parse_hex4(text: &[u8]) -> Option<(u16, bool)> {
    if text.len() != 4 {
        return None;
    }
    let mut value: u16 = 0;
    let mut lowercase = false;
    for &c in text {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            b'a'..=b'f' => {
                lowercase = true;
                c - b'a' + 10
            }
            _ => return None,
        };
        value = (value << 4) | u16::from(digit);
    }
    Some((value, lowercase))
}

/// Formats a CRC as four upper-case hex digits, the form the standard emits.
pub fn format_hex4(crc: u16) -> [u8; 4] {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    [
        HEX[usize::from(crc >> 12)],
        HEX[usize::from((crc >> 8) & 0xF)],
        HEX[usize::from((crc >> 4) & 0xF)],
        HEX[usize::from(crc & 0xF)],
    ]
}

/// Checks the CRC field `crc_text` (the four characters after the data segment) against `data`.
///
/// The HJ 212 algorithm is tried first; only when it fails are the MODBUS variants computed,
/// so a standard frame costs one pass over the data.
pub fn verify(data: &[u8], crc_text: &[u8]) -> CrcVerdict {
    let computed = hj212(data);
    let parsed = parse_hex4(crc_text);
    let (given, lowercase) = match parsed {
        Some((v, lc)) => (Some(v), lc),
        None => (None, false),
    };
    let variant = given.and_then(|g| {
        if g == computed {
            Some(CrcVariant::Hj212)
        } else {
            let m = modbus(data);
            if g == m {
                Some(CrcVariant::Modbus)
            } else if g == m.swap_bytes() {
                Some(CrcVariant::ModbusSwapped)
            } else {
                None
            }
        }
    });
    CrcVerdict {
        given,
        computed,
        variant,
        lowercase,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDIX_A: &[u8] = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";

    /// The bit-by-bit procedure exactly as HJ 212-2017 Appendix A states it, to check the table.
    fn hj212_reference(data: &[u8]) -> u16 {
        let mut r: u16 = 0xFFFF;
        for &b in data {
            r = (r >> 8) ^ u16::from(b);
            for _ in 0..8 {
                let bit = r & 1;
                r >>= 1;
                if bit == 1 {
                    r ^= 0xA001;
                }
            }
        }
        r
    }

    #[test]
    fn standard_vectors() {
        assert_eq!(hj212(APPENDIX_A), 0x1C80);
        assert_eq!(hj212(b""), 0xFFFF);
        assert_eq!(hj212(b"A"), 0x7080);
        assert_eq!(hj212(b"123456789"), 0x2F80);
        let noise = b"QN=20160801085857223;ST=23;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857; LA-Rtd=50.1&&";
        assert_eq!(hj212(noise), 0x1E00);
        assert_eq!(modbus(noise), 0x25FB);
    }

    #[test]
    fn other_crcs_differ_on_the_appendix_example() {
        assert_eq!(modbus(APPENDIX_A), 0x0759);
        assert_eq!(modbus(APPENDIX_A).swap_bytes(), 0x5907);
        assert_eq!(modbus(b"A"), 0x707F);
        assert_eq!(modbus(b"123456789"), 0x4B37);
    }

    #[test]
    fn table_matches_bitwise_reference() {
        for len in 0..300usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11 + len) as u8).collect();
            assert_eq!(hj212(&data), hj212_reference(&data), "len {len}");
            assert_eq!(hj212_bytewise(&data), hj212_reference(&data), "len {len}");
        }
        let high: Vec<u8> = (0u8..=255).collect();
        assert_eq!(hj212(&high), hj212_reference(&high));
    }

    #[test]
    fn state_map_has_order_eight() {
        for x in 0..256 {
            let mut v = x as u8;
            for _ in 0..8 {
                v = (TABLE[usize::from(v)] >> 8) as u8;
            }
            assert_eq!(usize::from(v), x);
        }
    }

    #[test]
    fn low_byte_is_always_one_of_eight_values() {
        for b in 0u8..=255 {
            let low = hj212(&[b, b.wrapping_mul(7)]) & 0xFF;
            assert!([0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1].contains(&low));
        }
    }

    #[test]
    fn verdict_names_the_variant() {
        let v = verify(APPENDIX_A, b"1C80");
        assert_eq!(v.variant, Some(CrcVariant::Hj212));
        assert!(!v.lowercase);
        let v = verify(APPENDIX_A, b"1c80");
        assert_eq!(v.variant, Some(CrcVariant::Hj212));
        assert!(v.lowercase);
        assert_eq!(
            verify(APPENDIX_A, b"0759").variant,
            Some(CrcVariant::Modbus)
        );
        assert_eq!(
            verify(APPENDIX_A, b"5907").variant,
            Some(CrcVariant::ModbusSwapped)
        );
        let bad = verify(APPENDIX_A, b"1C08");
        assert_eq!(bad.variant, None);
        assert_eq!(bad.given, Some(0x1C08));
        assert_eq!(bad.computed, 0x1C80);
        let junk = verify(APPENDIX_A, b"1C8G");
        assert_eq!(junk.given, None);
        assert_eq!(junk.variant, None);
    }

    #[test]
    fn hex_formatting_is_upper_case() {
        assert_eq!(&format_hex4(0x1c80), b"1C80");
        assert_eq!(&format_hex4(0x00ab), b"00AB");
        assert_eq!(parse_hex4(b"00ab"), Some((0xAB, true)));
        assert_eq!(parse_hex4(b"00A"), None);
    }

    #[test]
    fn variant_names_round_trip() {
        for v in CrcVariant::ALL {
            assert_eq!(v.name().parse::<CrcVariant>(), Ok(v));
        }
        assert!("ccitt".parse::<CrcVariant>().is_err());
    }
}
