//! Exact decimals: an integer mantissa and a scale (`value = mantissa / 10^scale`).

use std::cmp::Ordering;
use std::fmt;

use crate::InputError;

/// An exact decimal number.
#[derive(Debug, Clone, Copy)]
pub struct Dec {
    m: i128,
    s: u32,
}

const MAX_SCALE: u32 = 18;

impl Dec {
    /// `m / 10^s`.
    pub fn new(m: i128, s: u32) -> Self {
        Self {
            m,
            s: s.min(MAX_SCALE),
        }
    }

    /// A whole number.
    pub fn int(n: i64) -> Self {
        Self::new(i128::from(n), 0)
    }

    /// Parses `-12.345`, `7`, `.5`, `1e-3` is refused (no exponents: instruments do not send them).
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let t = text.trim();
        let bad = || InputError::NotANumber(text.to_owned());
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
            || frac.len() as u32 > MAX_SCALE
            || int.len() > 20
        {
            return Err(bad());
        }
        let mut m: i128 = 0;
        for c in int.bytes().chain(frac.bytes()) {
            m = m
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(c - b'0')))
                .ok_or_else(bad)?;
        }
        Ok(Self::new(if neg { -m } else { m }, frac.len() as u32))
    }

    /// The decimals as written (`12.30`: 2).
    pub fn scale(self) -> u32 {
        self.s
    }

    /// The mantissa at scale `s` (exact when `s` ≥ own scale; truncated otherwise).
    pub fn at_scale(self, s: u32) -> i128 {
        if s >= self.s {
            self.m * 10i128.pow(s - self.s)
        } else {
            self.m / 10i128.pow(self.s - s)
        }
    }

    /// Rounded to `digits` decimals, half to even (GB/T 8170 四舍六入五成双).
    pub fn round_half_even(self, digits: u32) -> Self {
        if digits >= self.s {
            return self;
        }
        let div = 10i128.pow(self.s - digits);
        let q = self.m.div_euclid(div);
        let r = self.m.rem_euclid(div);
        let twice = 2 * r;
        let q = match twice.cmp(&div) {
            Ordering::Less => q,
            Ordering::Greater => q + 1,
            Ordering::Equal => q + (q & 1),
        };
        Self::new(q, digits)
    }

    /// Whether below zero.
    pub fn is_negative(self) -> bool {
        self.m < 0
    }

    /// As `f64` (for logarithms and display only).
    pub fn to_f64(self) -> f64 {
        self.m as f64 / 10f64.powi(self.s as i32)
    }

    /// Mean of values, rounded half to even to `digits` decimals.
    pub fn mean(values: &[Dec], digits: u32) -> Option<Dec> {
        if values.is_empty() {
            return None;
        }
        let s = values.iter().map(|v| v.s).max().unwrap_or(0);
        let sum: i128 = values.iter().map(|v| v.at_scale(s)).sum();
        Some(Self::ratio(
            sum * 10i128.pow(digits),
            values.len() as i128 * 10i128.pow(s),
            digits,
        ))
    }

    /// `num / den` rounded half to even, as a decimal with `digits` decimals.
    pub(crate) fn ratio(num: i128, den: i128, digits: u32) -> Dec {
        let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
        let q = num.div_euclid(den);
        let r = num.rem_euclid(den);
        let q = match (2 * r).cmp(&den) {
            Ordering::Less => q,
            Ordering::Greater => q + 1,
            Ordering::Equal => q + (q & 1),
        };
        Dec::new(q, digits)
    }
}

impl PartialEq for Dec {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Dec {}

impl PartialOrd for Dec {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dec {
    fn cmp(&self, other: &Self) -> Ordering {
        let s = self.s.max(other.s);
        self.at_scale(s).cmp(&other.at_scale(s))
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.m.unsigned_abs().to_string();
        let s = self.s as usize;
        let sign = if self.m < 0 { "-" } else { "" };
        if s == 0 {
            write!(f, "{sign}{digits}")
        } else if digits.len() > s {
            write!(
                f,
                "{sign}{}.{}",
                &digits[..digits.len() - s],
                &digits[digits.len() - s..]
            )
        } else {
            write!(f, "{sign}0.{}{digits}", "0".repeat(s - digits.len()))
        }
    }
}

impl serde::Serialize for Dec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(t: &str) -> Dec {
        Dec::parse(t).expect("number")
    }

    #[test]
    fn gb_t_8170_half_to_even() {
        for (v, digits, want) in [
            ("35.5", 0, "36"),
            ("60.5", 0, "60"),
            ("2.25", 1, "2.2"),
            ("2.35", 1, "2.4"),
            ("2.251", 1, "2.3"),
            ("-0.5", 0, "0"),
            ("-1.5", 0, "-2"),
            ("7", 0, "7"),
        ] {
            assert_eq!(d(v).round_half_even(digits).to_string(), want, "{v}");
        }
    }

    #[test]
    fn parse_compare_mean() {
        assert!(Dec::parse("1e3").is_err());
        assert!(Dec::parse("").is_err());
        assert!(Dec::parse("abc").is_err());
        assert_eq!(d("2.50"), d("2.5"));
        assert!(d("0.15") < d("0.2"));
        assert_eq!(
            Dec::mean(&[d("1"), d("2")], 1).map(|m| m.to_string()),
            Some("1.5".into())
        );
        assert_eq!(
            Dec::mean(&[d("1"), d("1"), d("2")], 2).map(|m| m.to_string()),
            Some("1.33".into())
        );
    }
}
