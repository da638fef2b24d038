//! # bjtime: the platform's one time module
//!
//! Everything huanghe stores is an instant (Unix seconds or milliseconds, UTC); everything a
//! person reads or a rule judges by the calendar is Beijing civil time (UTC+8 all year: China
//! has had no daylight saving since 1991). This crate is the one place where the two meet:
//! formatting and parsing RFC 3339, the Beijing date of an instant, the start of its hour, day
//! or year, and calendar dates back to instants. It wraps `jiff` with a fixed `+08:00` offset
//! (no time-zone database is needed or bundled), so no other crate writes calendar arithmetic
//! or slices time strings, and none uses a protocol crate for dates: HJ 212's own
//! `YYYYMMDDhhmmss` stays in `hj212`, as a wire format.

use std::fmt;

use jiff::civil;
use jiff::tz::Offset;

/// Seconds east of UTC of Beijing time (China Standard Time).
pub const OFFSET_S: i64 = 8 * 3600;

/// Seconds in a day and an hour, for window arithmetic on instants.
pub const DAY_S: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR_S: i64 = 3_600;

fn offset() -> Offset {
    Offset::constant(8)
}

/// Why a time or date could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not an RFC 3339 instant with an offset (`2026-11-28T10:00:00+08:00`).
    #[error("{0:?} is not an RFC 3339 time with an offset (e.g. 2026-11-28T10:00:00+08:00)")]
    Rfc3339(String),
    /// Not a calendar date (`2026-03-05`).
    #[error("{0:?} is not a date YYYY-MM-DD")]
    Date(String),
    /// A date outside the range this platform handles.
    #[error("{0} is out of range")]
    Range(String),
}

/// The civil Beijing date-time of an instant.
fn civil_of_ms(unix_ms: i64) -> civil::DateTime {
    match jiff::Timestamp::from_millisecond(unix_ms) {
        Ok(t) => offset().to_datetime(t),
        // Beyond ±9999 years: clamp to the edge rather than fail a display.
        Err(_) if unix_ms < 0 => civil::DateTime::MIN,
        Err(_) => civil::DateTime::MAX,
    }
}

/// An instant (Unix milliseconds) as RFC 3339 in Beijing time: `2026-11-28T10:00:00+08:00`,
/// with `.fff` only when the milliseconds are not zero.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let t = civil_of_ms(unix_ms);
    let ms = t.subsec_nanosecond() / 1_000_000;
    let frac = if ms > 0 {
        format!(".{ms:03}")
    } else {
        String::new()
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}+08:00",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An instant (Unix seconds) as RFC 3339 in Beijing time.
pub fn rfc3339(unix_s: i64) -> String {
    rfc3339_ms(unix_s.saturating_mul(1000))
}

/// An instant (Unix milliseconds) as compact Beijing digits `YYYYMMDDhhmmss`, for file names.
pub fn compact_ms(unix_ms: i64) -> String {
    let t = civil_of_ms(unix_ms);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an RFC 3339 instant with an explicit offset (`2026-11-28T10:00:00+08:00`,
/// `2026-11-28T02:00:00Z`, an optional fraction; seconds may be left out) into Unix
/// milliseconds. A time without an offset is refused: an API must not guess which zone its
/// caller meant.
pub fn parse_rfc3339(text: &str) -> Result<i64, TimeError> {
    text.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| TimeError::Rfc3339(text.to_owned()))
}

/// A Beijing calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    inner: civil::Date,
}

impl Date {
    /// The date from its parts; `None` when they are not a date (30 February, month 13).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let (y, m, d) = (
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
        );
        civil::Date::new(y, m, d).ok().map(|inner| Date { inner })
    }

    /// The Beijing date of an instant (Unix seconds).
    pub fn of(unix_s: i64) -> Date {
        Date {
            inner: civil_of_ms(unix_s.saturating_mul(1000)).date(),
        }
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Date, TimeError> {
        let t = text.trim();
        if t.len() != 10 {
            return Err(TimeError::Date(text.to_owned()));
        }
        t.parse::<civil::Date>()
            .map(|inner| Date { inner })
            .map_err(|_| TimeError::Date(text.to_owned()))
    }

    /// The year.
    pub fn year(self) -> i32 {
        i32::from(self.inner.year())
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        self.inner.month() as u32
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u32 {
        self.inner.day() as u32
    }

    /// Beijing midnight at the start of this date, Unix seconds.
    pub fn start(self) -> i64 {
        offset()
            .to_timestamp(self.inner.to_datetime(civil::Time::midnight()))
            .map_or(i64::MIN, |t| t.as_second())
    }

    /// The date `days` days later (earlier when negative), or `None` past the calendar's range.
    pub fn add_days(self, days: i64) -> Option<Date> {
        self.inner
            .checked_add(jiff::Span::new().try_days(days).ok()?)
            .ok()
            .map(|inner| Date { inner })
    }

    /// 1 January of this date's year.
    pub fn first_of_year(self) -> Date {
        Date {
            inner: self.inner.first_of_year(),
        }
    }

    /// The first day of this date's month.
    pub fn first_of_month(self) -> Date {
        Date {
            inner: self.inner.first_of_month(),
        }
    }

    /// The number of days in this date's month.
    pub fn days_in_month(self) -> u32 {
        self.inner.days_in_month() as u32
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.inner.year(),
            self.inner.month(),
            self.inner.day()
        )
    }
}

/// Beijing midnight at the start of the day of an instant, Unix seconds.
pub fn day_start(unix_s: i64) -> i64 {
    (unix_s + OFFSET_S).div_euclid(DAY_S) * DAY_S - OFFSET_S
}

/// The start of the hour of an instant, Unix seconds (hours are the same in every whole-hour
/// offset).
pub fn hour_start(unix_s: i64) -> i64 {
    unix_s - unix_s.rem_euclid(HOUR_S)
}

/// The Beijing hour of the day of an instant, 0 to 23.
pub fn hour_of_day(unix_s: i64) -> u32 {
    ((unix_s + OFFSET_S).rem_euclid(DAY_S) / HOUR_S) as u32
}

/// Beijing midnight on 1 January of `year`, Unix seconds.
pub fn year_start(year: i32) -> Option<i64> {
    Date::new(year, 1, 1).map(Date::start)
}

/// The Beijing calendar date of a day count since 1970-01-01 (spreadsheets store dates as
/// day serials).
pub fn date_of_day_number(days: i64) -> Date {
    Date::of(days.saturating_mul(DAY_S) - OFFSET_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_and_print_in_beijing_time() {
        let ms = parse_rfc3339("2026-11-28T10:00:00+08:00").expect("parses");
        assert_eq!(ms, 1_795_831_200_000);
        assert_eq!(parse_rfc3339("2026-11-28T02:00:00Z"), Ok(ms));
        assert_eq!(parse_rfc3339("2026-11-28T10:00+08:00"), Ok(ms));
        assert_eq!(rfc3339_ms(ms), "2026-11-28T10:00:00+08:00");
        assert_eq!(rfc3339_ms(ms + 5), "2026-11-28T10:00:00.005+08:00");
        assert_eq!(compact_ms(ms), "20261128100000");
        for bad in [
            "2026-11-28T10:00:00",
            "2026-13-01T00:00:00+08:00",
            "yesterday",
            "",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn any_offset_is_read_and_an_absent_one_refused() {
        let bj = parse_rfc3339("2016-08-01T08:58:57+08:00").expect("valid");
        assert_eq!(bj, 1_470_013_137_000);
        assert_eq!(parse_rfc3339("2016-08-01T00:58:57Z"), Ok(bj));
        assert_eq!(parse_rfc3339("2016-07-31T19:58:57-05:00"), Ok(bj));
        assert_eq!(parse_rfc3339("2016-08-01 00:58:57.25Z"), Ok(bj + 250));
        assert_eq!(parse_rfc3339("2016-08-01T00:58:57.123456Z"), Ok(bj + 123));
        for bad in [
            "2016-08-01T00:58:57",
            "2016-08-01",
            "2016-08-01T00:58:57.Z",
            "2016-08-01T00:58:57+08:00x",
            "2016-02-30T00:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_hours_and_years() {
        let t = parse_rfc3339("2026-03-01T07:30:00+08:00").expect("parses") / 1000;
        let d = Date::of(t);
        assert_eq!((d.year(), d.month(), d.day()), (2026, 3, 1));
        assert_eq!(d.to_string(), "2026-03-01");
        assert_eq!(rfc3339(day_start(t)), "2026-03-01T00:00:00+08:00");
        assert_eq!(d.start(), day_start(t));
        assert_eq!(rfc3339(hour_start(t)), "2026-03-01T07:00:00+08:00");
        assert_eq!(hour_of_day(t), 7);
        // 23:30 UTC on 28 February is already 1 March in Beijing.
        let late = parse_rfc3339("2026-02-28T23:30:00Z").expect("parses") / 1000;
        assert_eq!(Date::of(late), d);
        assert_eq!(
            d.add_days(-1).map(|p| p.to_string()).as_deref(),
            Some("2026-02-28")
        );
        assert_eq!(
            year_start(2026).map(rfc3339).as_deref(),
            Some("2026-01-01T00:00:00+08:00")
        );
        assert_eq!(
            Date::parse("2026-02-29"),
            Err(TimeError::Date("2026-02-29".into()))
        );
        assert_eq!(Date::parse("2024-02-29").map(Date::days_in_month), Ok(29));
        assert!(Date::new(2026, 13, 1).is_none());
        assert_eq!(date_of_day_number(20_517).to_string(), "2026-03-05");
    }
}
