//! Exact decimal values as devices write them (`Nx.y`: optional sign, digits, optional fraction).
//!
//! A monitoring value is evidence, so it is kept exactly: the text as sent stays in the packet,
//! and [`Decimal`] holds the same number as an integer mantissa and a decimal scale, so that
//! `40.10` and `40.1` are equal in value but each keeps its own scale. Conversion to `f64` is a
//! separate, explicit step.

use std::fmt;

/// A decimal number `mantissa × 10^-scale`, parsed without rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    /// The digits as an integer, with the sign.
    pub mantissa: i64,
    /// How many of the digits are after the decimal point.
    pub scale: u8,
}

/// Why a value is not a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Empty, or characters other than a sign, digits and one point.
    #[error("not a decimal number")]
    Syntax,
    /// More than 18 significant digits: kept as text, not as a [`Decimal`].
    #[error("more than 18 digits")]
    TooManyDigits,
}

const POW10: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

impl Decimal {
    /// Parses `[+-]digits[.digits]` (also `.5` and `5.`), at most 18 digits in all.
    pub fn parse(text: &str) -> Result<Self, NumberError> {
        Self::parse_bytes(text.as_bytes())
    }

    /// [`Decimal::parse`] over bytes.
    #[inline]
    pub fn parse_bytes(b: &[u8]) -> Result<Self, NumberError> {
        let (negative, rest) = match b {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            _ => (false, b),
        };
        // One pass of a few instructions a character: digits accumulate (wrapping arithmetic
        // cannot hurt: more than 18 digits is refused after the loop), the point's position is
        // remembered, anything else is an error.
        let mut mantissa: u64 = 0;
        let mut point = usize::MAX;
        for (i, &c) in rest.iter().enumerate() {
            let d = c.wrapping_sub(b'0');
            if d < 10 {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            } else if c == b'.' && point == usize::MAX {
                point = i;
            } else {
                return Err(NumberError::Syntax);
            }
        }
        let has_point = point != usize::MAX;
        let digits = rest.len() - usize::from(has_point);
        if digits == 0 {
            return Err(NumberError::Syntax);
        }
        if digits > 18 {
            return Err(NumberError::TooManyDigits);
        }
        // At most 18 digits: below 10^18, so the cast is exact.
        let mantissa = mantissa as i64;
        let scale = if has_point { rest.len() - point - 1 } else { 0 } as u8;
        Ok(Self {
            mantissa: if negative { -mantissa } else { mantissa },
            scale,
        })
    }

    /// The nearest `f64` (exact for up to 15 significant digits).
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / POW10[usize::from(self.scale.min(18))]
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let abs = self.mantissa.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        if scale == 0 {
            return write!(f, "{sign}{abs}");
        }
        let padded = format!("{abs:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

/// True when `text` is a valid JSON number literal, so it can be emitted verbatim.
pub fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == frac_start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_numbers_exactly() {
        let d = Decimal::parse("235.292750833832").expect("valid");
        assert_eq!(d.mantissa, 235_292_750_833_832);
        assert_eq!(d.scale, 12);
        assert_eq!(d.to_string(), "235.292750833832");
        assert_eq!(
            Decimal::parse("0.0000").expect("valid").to_string(),
            "0.0000"
        );
        assert_eq!(Decimal::parse("-0.5").expect("valid").to_f64(), -0.5);
        assert_eq!(Decimal::parse("+7").expect("valid").to_string(), "7");
        assert_eq!(Decimal::parse(".5").expect("valid").to_string(), "0.5");
        assert_eq!(
            Decimal::parse("0.09055002").expect("valid").to_f64(),
            0.09055002
        );
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in ["", "-", ".", "1.2.3", "N", "1e5", "1,5", " 1"] {
            assert_eq!(Decimal::parse(bad), Err(NumberError::Syntax), "{bad:?}");
        }
        assert_eq!(
            Decimal::parse("1234567890123456789"),
            Err(NumberError::TooManyDigits)
        );
    }

    #[test]
    fn json_numbers() {
        for ok in ["0", "0.0000", "-1.5", "36.91", "1623"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["+1", ".5", "5.", "01", "1e", "", "-"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
