//! The `serde` forms (feature `serde`): times as RFC 3339 Beijing time, byte fields as text
//! that round-trips exactly (printable ASCII as itself, any other byte as `\xNN`, a backslash
//! as `\\`: a VIN reads as a VIN and a CAL ID padded with zeros or spaces keeps its padding),
//! binary fields (CVN, signature halves, DTC entries, bodies) as hexadecimal.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Time;

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&bjtime::rfc3339(self.to_unix()))
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        let text = String::deserialize(d)?;
        let ms = bjtime::parse_rfc3339(&text).map_err(D::Error::custom)?;
        let t = Time::from_unix(ms.div_euclid(1000));
        if !(2000..=2255).contains(&t.year) {
            return Err(D::Error::custom(format!("{text}: outside 2000–2255")));
        }
        Ok(t)
    }
}

/// Writes bytes as escaped text.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7E => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02X}")),
        }
    }
    out
}

/// Reads escaped text back into bytes.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push(b'\\'),
                Some('x') => {
                    let h: String = chars.by_ref().take(2).collect();
                    let b = (h.len() == 2)
                        .then(|| u8::from_str_radix(&h, 16).ok())
                        .flatten()
                        .ok_or_else(|| format!("{text:?}: \\x needs two hex digits"))?;
                    out.push(b);
                }
                _ => return Err(format!("{text:?}: a backslash starts \\\\ or \\xNN")),
            },
            ' '..='~' => out.push(c as u8),
            _ => {
                return Err(format!(
                    "{text:?}: {c:?} is not printable ASCII; write \\xNN"
                ));
            }
        }
    }
    Ok(out)
}

/// Fixed-length byte fields as escaped text.
pub mod text {
    use super::*;

    /// Serializes.
    pub fn serialize<S: Serializer, const N: usize>(b: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&escape(b))
    }

    /// Deserializes, refusing a length other than `N`.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = unescape(&text).map_err(D::Error::custom)?;
        <[u8; N]>::try_from(bytes.as_slice())
            .map_err(|_| D::Error::custom(format!("{text:?}: {} bytes, expected {N}", bytes.len())))
    }
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn from_hex<E: serde::de::Error>(text: &str) -> Result<Vec<u8>, E> {
    crate::frame::from_hex(text).map_err(E::custom)
}

/// Variable-length bytes as hexadecimal.
pub mod hex {
    use super::*;

    /// Serializes.
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(b))
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        from_hex(&String::deserialize(d)?)
    }
}

/// Fixed-length bytes as hexadecimal.
pub mod hex_array {
    use super::*;

    /// Serializes.
    pub fn serialize<S: Serializer, const N: usize>(b: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(b))
    }

    /// Deserializes, refusing a length other than `N`.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let b = from_hex::<D::Error>(&String::deserialize(d)?)?;
        let n = b.len();
        <[u8; N]>::try_from(b).map_err(|_| D::Error::custom(format!("{n} bytes, expected {N}")))
    }
}

/// An optional list of 4-byte entries (DTCs) as hexadecimal strings.
pub mod dtc_list {
    use super::*;

    /// Serializes.
    pub fn serialize<S: Serializer>(d: &Option<Vec<[u8; 4]>>, s: S) -> Result<S::Ok, S::Error> {
        d.as_ref()
            .map(|d| d.iter().map(|x| to_hex(x)).collect::<Vec<_>>())
            .serialize(s)
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<[u8; 4]>>, D::Error> {
        let Some(list) = Option::<Vec<String>>::deserialize(d)? else {
            return Ok(None);
        };
        list.iter()
            .map(|h| {
                let b = from_hex::<D::Error>(h)?;
                <[u8; 4]>::try_from(b.as_slice())
                    .map_err(|_| D::Error::custom(format!("DTC {h}: 4 bytes expected")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_round_trip() {
        let b = b"YCY30165-60\\ \x00\xFF";
        let t = escape(b);
        assert_eq!(t, "YCY30165-60\\\\ \\x00\\xFF");
        assert_eq!(unescape(&t).expect("back"), b.to_vec());
        assert!(unescape("\\q").is_err());
        assert!(unescape("\\x4").is_err());
        assert!(unescape("é").is_err());
    }
}
