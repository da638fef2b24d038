//! The protocol's time: six binary bytes `YY MM DD hh mm ss` (year 2000 + YY), Beijing time,
//! not BCD.

/// A time as the protocol sends it, checked to be a real date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    /// 2000–2255.
    pub year: u16,
    /// 1–12.
    pub month: u8,
    /// 1–31 (the month's length checked).
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
}

/// Six bytes that are not a date and time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time {0:02X?} is not a date and time (YY MM DD hh mm ss, binary)")]
pub struct TimeError(pub [u8; 6]);

impl Time {
    /// Reads six bytes.
    pub fn decode(b: [u8; 6]) -> Result<Time, TimeError> {
        let t = Time {
            year: 2000 + u16::from(b[0]),
            month: b[1],
            day: b[2],
            hour: b[3],
            minute: b[4],
            second: b[5],
        };
        let date_ok =
            bjtime::Date::new(i32::from(t.year), u32::from(t.month), u32::from(t.day)).is_some();
        if date_ok && t.hour < 24 && t.minute < 60 && t.second < 60 {
            Ok(t)
        } else {
            Err(TimeError(b))
        }
    }

    /// The six bytes.
    pub fn encode(self) -> [u8; 6] {
        [
            (self.year.saturating_sub(2000)).min(255) as u8,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        ]
    }

    /// Unix seconds (the time is Beijing time).
    pub fn to_unix(self) -> i64 {
        let day = bjtime::Date::new(
            i32::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        )
        .map_or(0, bjtime::Date::start);
        day + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
    }

    /// The Beijing time of Unix second `unix_s` (years 2000–2255).
    pub fn from_unix(unix_s: i64) -> Time {
        let date = bjtime::Date::of(unix_s);
        let in_day = unix_s - date.start();
        Time {
            year: date.year().clamp(2000, 2255) as u16,
            month: date.month() as u8,
            day: date.day() as u8,
            hour: (in_day / 3600) as u8,
            minute: (in_day / 60 % 60) as u8,
            second: (in_day % 60) as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_binary_bytes_in_beijing_time() {
        let t = Time::decode([0x15, 0x08, 0x0E, 0x08, 0x2F, 0x23]).expect("time");
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2021, 8, 14, 8, 47, 35)
        );
        assert_eq!(bjtime::rfc3339(t.to_unix()), "2021-08-14T08:47:35+08:00");
        assert_eq!(Time::from_unix(t.to_unix()), t);
        assert_eq!(t.encode(), [0x15, 0x08, 0x0E, 0x08, 0x2F, 0x23]);
        assert!(
            Time::decode([0x15, 0x02, 0x1E, 0, 0, 0]).is_err(),
            "30 February"
        );
        assert!(Time::decode([0x15, 0x01, 0x01, 24, 0, 0]).is_err());
    }
}
