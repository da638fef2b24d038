//! Protocol timestamps: `YYYYMMDDhhmmss`, local Beijing time (UTC+8) with no zone marker.
//!
//! HJ 212 carries no time zone; every time is the logger's local clock, which in China is
//! UTC+8 all year (no daylight saving). [`LocalTime`] keeps the civil fields as sent and
//! converts to a Unix instant on request, so the storage layers can keep UTC and the raw text.

use std::fmt;

/// Seconds east of UTC of the time every HJ 212 timestamp is written in (China Standard Time).
pub const BEIJING_OFFSET_SECONDS: i64 = 8 * 3600;

/// A civil date and time as written in an HJ 212 field, optionally with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime {
    /// Year, 1000..=9999.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31 (checked against the month).
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
    /// Milliseconds, 0..=999 (only QN and 17-digit DataTime carry them).
    pub millis: u16,
}

/// Why a timestamp field could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not 14 (or 17) decimal digits.
    #[error("{0:?} is not a YYYYMMDDhhmmss timestamp")]
    Format(String),
    /// Digits that do not form a real date or time (month 13, 30 February, hour 24, ...).
    #[error("{0:?} is not a valid date and time")]
    OutOfRange(String),
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl LocalTime {
    /// Parses exactly 14 digits (`YYYYMMDDhhmmss`) or 17 digits (with milliseconds).
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let b = text.as_bytes();
        if b.len() != 14 && b.len() != 17 {
            return Err(TimeError::Format(text.to_owned()));
        }
        let field = |r: std::ops::Range<usize>| digits(&b[r]);
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
            field(0..4),
            field(4..6),
            field(6..8),
            field(8..10),
            field(10..12),
            field(12..14),
        ) else {
            return Err(TimeError::Format(text.to_owned()));
        };
        let millis = if b.len() == 17 {
            field(14..17).ok_or_else(|| TimeError::Format(text.to_owned()))?
        } else {
            0
        };
        let valid = year >= 1000
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return Err(TimeError::OutOfRange(text.to_owned()));
        }
        Ok(Self {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            millis: millis as u16,
        })
    }

    /// The time at the given Unix instant, in Beijing time.
    pub fn from_unix_millis(ms: i64) -> Self {
        let local = ms + BEIJING_OFFSET_SECONDS * 1000;
        let secs = local.div_euclid(1000);
        let millis = local.rem_euclid(1000) as u16;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Self {
            year: year.clamp(0, 9999) as u16,
            month: month as u8,
            day: day as u8,
            hour: (sod / 3600) as u8,
            minute: (sod / 60 % 60) as u8,
            second: (sod % 60) as u8,
            millis,
        }
    }

    /// Seconds since the Unix epoch of this Beijing-time instant (milliseconds dropped).
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        );
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - BEIJING_OFFSET_SECONDS
    }

    /// Milliseconds since the Unix epoch of this Beijing-time instant.
    pub fn unix_millis(&self) -> i64 {
        self.unix_seconds() * 1000 + i64::from(self.millis)
    }

    /// The 14-digit protocol form (milliseconds dropped).
    pub fn to_protocol(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// The 17-digit QN form, with milliseconds.
    pub fn to_qn(&self) -> String {
        format!("{}{:03}", self.to_protocol(), self.millis)
    }

    /// RFC 3339 with the +08:00 offset, e.g. `2016-08-01T08:58:57+08:00`.
    pub fn to_rfc3339(&self) -> String {
        let ms = if self.millis > 0 {
            format!(".{:03}", self.millis)
        } else {
            String::new()
        };
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{ms}+08:00",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_converts() {
        let t = LocalTime::parse("20160801085857").expect("valid");
        assert_eq!(t.to_rfc3339(), "2016-08-01T08:58:57+08:00");
        // 2016-08-01T00:58:57Z
        assert_eq!(t.unix_seconds(), 1_470_013_137);
        assert_eq!(LocalTime::from_unix_millis(t.unix_millis()), t);
        let q = LocalTime::parse("20160801085857223").expect("valid");
        assert_eq!(q.millis, 223);
        assert_eq!(q.to_qn(), "20160801085857223");
    }

    #[test]
    fn rejects_bad_times() {
        assert!(matches!(
            LocalTime::parse("2016080108585"),
            Err(TimeError::Format(_))
        ));
        assert!(matches!(
            LocalTime::parse("2016O801085857"),
            Err(TimeError::Format(_))
        ));
        assert!(matches!(
            LocalTime::parse("20170229000000"),
            Err(TimeError::OutOfRange(_))
        ));
        assert!(LocalTime::parse("20160229000000").is_ok());
        assert!(matches!(
            LocalTime::parse("20161301000000"),
            Err(TimeError::OutOfRange(_))
        ));
        assert!(matches!(
            LocalTime::parse("20160101240000"),
            Err(TimeError::OutOfRange(_))
        ));
    }

    #[test]
    fn round_trips_across_years() {
        for ms in [0i64, 951_782_400_000, 1_709_164_800_123, 4_102_444_799_000] {
            assert_eq!(LocalTime::from_unix_millis(ms).unix_millis(), ms);
        }
    }
}
