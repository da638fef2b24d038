//! The host's commands to a device (HJ 212-2017 Appendix C, Tables C.1–C.46) as a typed enum,
//! mapped to and from [`Message`]s.
//!
//! Every command validates its parameters against the ranges of 2017 Table 4 before it is
//! encoded (OverTime 1–99 s, RtdInterval 30–3600 s, MinInterval one of 1, 2, 3, 4, 5, 6, 10, 12,
//! 15, 20, 30, ...), and [`Command::from_message`] reads one back, so the device side (the
//! simulator) and the host side share one definition.

use crate::codes::CommandKind;
use crate::message::{DataArea, Message};
use crate::packet::{Flag, Version};
use crate::time::LocalTime;

/// Which history a history request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryKind {
    /// 2031: daily data.
    Day,
    /// 2041: facility running time per day.
    RunTime,
    /// 2051: minute data.
    Minute,
    /// 2061: hourly data.
    Hour,
}

impl HistoryKind {
    /// The CN.
    pub fn cn(self) -> &'static str {
        match self {
            Self::Day => "2031",
            Self::RunTime => "2041",
            Self::Minute => "2051",
            Self::Hour => "2061",
        }
    }

    /// The kind for a CN.
    pub fn from_cn(cn: &str) -> Option<Self> {
        Some(match cn {
            "2031" => Self::Day,
            "2041" => Self::RunTime,
            "2051" => Self::Minute,
            "2061" => Self::Hour,
            _ => return None,
        })
    }
}

/// A command from the host to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// 1000: set timeout (`OverTime`, s) and retry count (`ReCount`).
    SetTimeoutRetry {
        /// 1–99 seconds.
        over_time: u8,
        /// 1–99.
        re_count: u8,
    },
    /// 1011: get the field unit's time (of one instrument when `pol_id` is given).
    GetTime {
        /// The instrument.
        pol_id: Option<String>,
    },
    /// 1012: set the field unit's time.
    SetTime {
        /// The instrument.
        pol_id: Option<String>,
        /// The time to set (Beijing time).
        time: LocalTime,
    },
    /// 1061: get the real-time data interval.
    GetRtdInterval,
    /// 1062: set the real-time data interval.
    SetRtdInterval {
        /// 30–3600 seconds.
        seconds: u16,
    },
    /// 1063: get the minute data interval.
    GetMinInterval,
    /// 1064: set the minute data interval.
    SetMinInterval {
        /// One of 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 minutes.
        minutes: u8,
    },
    /// 1072: set the access password (`NewPW`; `PW` inside CP in 2005).
    SetPassword {
        /// The new password, 6 characters.
        new_pw: String,
    },
    /// 2011: start real-time uploads.
    StartRealtime,
    /// 2012: stop real-time uploads (a notification).
    StopRealtime,
    /// 2021: start running-state uploads.
    StartRunState,
    /// 2022: stop running-state uploads (a notification).
    StopRunState,
    /// 2031/2041/2051/2061: re-send history between two times (interval starts, inclusive).
    History {
        /// Which series.
        kind: HistoryKind,
        /// `BeginTime`.
        begin: LocalTime,
        /// `EndTime`.
        end: LocalTime,
    },
    /// 3011: zero and span calibration.
    Calibrate {
        /// The instrument.
        pol_id: String,
    },
    /// 3012: immediate sampling.
    SampleNow {
        /// The instrument.
        pol_id: String,
    },
    /// 3013: start cleaning or blowback.
    Clean {
        /// The instrument.
        pol_id: String,
    },
    /// 3014: comparison sampling.
    CompareSample {
        /// The instrument.
        pol_id: String,
    },
    /// 3015: over-limit sample retention.
    KeepSample {
        /// The instrument.
        pol_id: String,
    },
    /// 3016: set the sampling period.
    SetSamplePeriod {
        /// The instrument.
        pol_id: String,
        /// `CstartTime`, `hhmmss`.
        start: String,
        /// `CTime`, 1–24 hours.
        hours: u8,
    },
    /// 3017: get the sampling period.
    GetSamplePeriod {
        /// The instrument.
        pol_id: String,
    },
    /// 3018: get the sample-out time.
    GetSampleOutTime {
        /// The instrument.
        pol_id: String,
    },
    /// 3019: get the instrument serial number.
    GetSerialNumber {
        /// The instrument.
        pol_id: String,
    },
    /// 3020: get field-unit information (logs between two times, state, parameters).
    GetInfo {
        /// The instrument.
        pol_id: String,
        /// The information code (`i11001`, `i12001`, ...).
        info_id: String,
        /// `BeginTime`, for logs.
        begin: Option<LocalTime>,
        /// `EndTime`, for logs.
        end: Option<LocalTime>,
    },
    /// 3021: set a field-unit parameter.
    SetInfo {
        /// The instrument.
        pol_id: String,
        /// The parameter code (`i13004`, ...).
        info_id: String,
        /// The value.
        value: String,
    },
}

/// A command that is invalid, or a message that is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A parameter outside its range.
    #[error("{name} = {value} is out of range ({range})")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// The value given.
        value: String,
        /// The allowed range.
        range: &'static str,
    },
    /// A required parameter is missing from the message.
    #[error("{cn} needs {name}")]
    Missing {
        /// The command code.
        cn: String,
        /// The parameter.
        name: &'static str,
    },
    /// The CN is not a host command.
    #[error("CN {0} is not a host command")]
    NotACommand(String),
}

/// The minute intervals HJ 212-2017 Table 4 allows.
pub const MIN_INTERVALS: [u8; 11] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];

/// The device a command is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The device's ST.
    pub st: String,
    /// Its password.
    pub pw: String,
    /// Its MN.
    pub mn: String,
    /// The version it speaks.
    pub version: Version,
}

fn range_u(
    name: &'static str,
    v: u32,
    lo: u32,
    hi: u32,
    text: &'static str,
) -> Result<(), CommandError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(CommandError::OutOfRange {
            name,
            value: v.to_string(),
            range: text,
        })
    }
}

fn is_hhmmss(s: &str) -> bool {
    s.len() == 6
        && s.bytes().all(|c| c.is_ascii_digit())
        && s[0..2].parse::<u8>().is_ok_and(|h| h < 24)
        && s[2..4].parse::<u8>().is_ok_and(|m| m < 60)
        && s[4..6].parse::<u8>().is_ok_and(|x| x < 60)
}

impl Command {
    /// The CN of the command.
    pub fn cn(&self) -> &'static str {
        match self {
            Self::SetTimeoutRetry { .. } => "1000",
            Self::GetTime { .. } => "1011",
            Self::SetTime { .. } => "1012",
            Self::GetRtdInterval => "1061",
            Self::SetRtdInterval { .. } => "1062",
            Self::GetMinInterval => "1063",
            Self::SetMinInterval { .. } => "1064",
            Self::SetPassword { .. } => "1072",
            Self::StartRealtime => "2011",
            Self::StopRealtime => "2012",
            Self::StartRunState => "2021",
            Self::StopRunState => "2022",
            Self::History { kind, .. } => kind.cn(),
            Self::Calibrate { .. } => "3011",
            Self::SampleNow { .. } => "3012",
            Self::Clean { .. } => "3013",
            Self::CompareSample { .. } => "3014",
            Self::KeepSample { .. } => "3015",
            Self::SetSamplePeriod { .. } => "3016",
            Self::GetSamplePeriod { .. } => "3017",
            Self::GetSampleOutTime { .. } => "3018",
            Self::GetSerialNumber { .. } => "3019",
            Self::GetInfo { .. } => "3020",
            Self::SetInfo { .. } => "3021",
        }
    }

    /// Request (answered 9011 then 9012) or notification (answered 9013).
    pub fn kind(&self) -> CommandKind {
        match self {
            Self::StopRealtime | Self::StopRunState => CommandKind::Notification,
            _ => CommandKind::Request,
        }
    }

    /// Checks every parameter against its range.
    pub fn validate(&self) -> Result<(), CommandError> {
        match self {
            Self::SetTimeoutRetry {
                over_time,
                re_count,
            } => {
                range_u("OverTime", u32::from(*over_time), 1, 99, "1-99 s")?;
                range_u("ReCount", u32::from(*re_count), 1, 99, "1-99")
            }
            Self::SetRtdInterval { seconds } => {
                range_u("RtdInterval", u32::from(*seconds), 30, 3600, "30-3600 s")
            }
            Self::SetMinInterval { minutes } if !MIN_INTERVALS.contains(minutes) => {
                Err(CommandError::OutOfRange {
                    name: "MinInterval",
                    value: minutes.to_string(),
                    range: "1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 min",
                })
            }
            Self::SetPassword { new_pw }
                if new_pw.len() != 6 || !new_pw.bytes().all(|c| c.is_ascii_alphanumeric()) =>
            {
                Err(CommandError::OutOfRange {
                    name: "NewPW",
                    value: new_pw.clone(),
                    range: "6 letters or digits",
                })
            }
            Self::History { begin, end, .. } if end < begin => Err(CommandError::OutOfRange {
                name: "EndTime",
                value: end.to_protocol(),
                range: "not before BeginTime",
            }),
            Self::SetSamplePeriod { start, hours, .. } => {
                if !is_hhmmss(start) {
                    return Err(CommandError::OutOfRange {
                        name: "CstartTime",
                        value: start.clone(),
                        range: "hhmmss",
                    });
                }
                range_u("CTime", u32::from(*hours), 1, 24, "1-24 h")
            }
            _ => Ok(()),
        }
    }

    /// The data area of the command.
    pub fn data_area(&self, version: Version) -> DataArea {
        let d = DataArea::new();
        let pol = |d: DataArea, p: &Option<String>| match p {
            Some(p) => d.param("PolId", p.clone()),
            None => d,
        };
        match self {
            Self::SetTimeoutRetry {
                over_time,
                re_count,
            } => d
                .param("OverTime", over_time.to_string())
                .param("ReCount", re_count.to_string()),
            Self::GetTime { pol_id } => pol(d, pol_id),
            Self::SetTime { pol_id, time } => {
                pol(d, pol_id).param("SystemTime", time.to_protocol())
            }
            Self::SetRtdInterval { seconds } => d.param("RtdInterval", seconds.to_string()),
            Self::SetMinInterval { minutes } => d.param("MinInterval", minutes.to_string()),
            Self::SetPassword { new_pw } => {
                let name = if version == Version::V2005 {
                    "PW"
                } else {
                    "NewPW"
                };
                d.param(name, new_pw.clone())
            }
            Self::GetRtdInterval
            | Self::GetMinInterval
            | Self::StartRealtime
            | Self::StopRealtime
            | Self::StartRunState
            | Self::StopRunState => d,
            Self::History { begin, end, .. } => d
                .param("BeginTime", begin.to_protocol())
                .param("EndTime", end.to_protocol()),
            Self::Calibrate { pol_id }
            | Self::SampleNow { pol_id }
            | Self::Clean { pol_id }
            | Self::CompareSample { pol_id }
            | Self::KeepSample { pol_id }
            | Self::GetSamplePeriod { pol_id }
            | Self::GetSampleOutTime { pol_id }
            | Self::GetSerialNumber { pol_id } => d.param("PolId", pol_id.clone()),
            Self::SetSamplePeriod {
                pol_id,
                start,
                hours,
            } => d
                .param("PolId", pol_id.clone())
                .param("CstartTime", start.clone())
                .param("CTime", hours.to_string()),
            Self::GetInfo {
                pol_id,
                info_id,
                begin,
                end,
            } => {
                let mut d = d
                    .param("PolId", pol_id.clone())
                    .param("InfoId", info_id.clone());
                if let Some(b) = begin {
                    d = d.param("BeginTime", b.to_protocol());
                }
                if let Some(e) = end {
                    d = d.param("EndTime", e.to_protocol());
                }
                d
            }
            Self::SetInfo {
                pol_id,
                info_id,
                value,
            } => d
                .param("PolId", pol_id.clone())
                .param("InfoId", info_id.clone())
                .param(&format!("{info_id}-Info"), value.clone()),
        }
    }

    /// The complete request message, with `qn` and the ack bit set (Flag=5 in 2017).
    pub fn to_message(&self, target: &Target, qn: &str) -> Result<Message, CommandError> {
        self.validate()?;
        let flag = Flag::new(target.version, false, true);
        Ok(Message::new(
            Some(qn),
            &target.st,
            self.cn(),
            Some(&target.pw),
            Some(&target.mn),
            Some(flag),
        )
        .with_cp(self.data_area(target.version)))
    }

    /// Reads a command from a received message (the device side).
    pub fn from_message(m: &Message) -> Result<Command, CommandError> {
        let cn = m.cn().unwrap_or_default().to_owned();
        let cp = &m.cp;
        let need = |name: &'static str| {
            cp.get(name)
                .map(str::to_owned)
                .ok_or(CommandError::Missing {
                    cn: cn.clone(),
                    name,
                })
        };
        let num = |name: &'static str, range: &'static str| -> Result<u32, CommandError> {
            let v = need(name)?;
            v.parse().map_err(|_| CommandError::OutOfRange {
                name,
                value: v,
                range,
            })
        };
        let time = |name: &'static str| -> Result<LocalTime, CommandError> {
            let v = need(name)?;
            LocalTime::parse(&v).map_err(|_| CommandError::OutOfRange {
                name,
                value: v,
                range: "YYYYMMDDhhmmss",
            })
        };
        let opt_time = |name: &'static str| match cp.get(name) {
            Some(_) => time(name).map(Some),
            None => Ok(None),
        };
        let pol_id = || need("PolId");
        let small = |v: u32, name: &'static str, range: &'static str| {
            u8::try_from(v).map_err(|_| CommandError::OutOfRange {
                name,
                value: v.to_string(),
                range,
            })
        };
        let command = match cn.as_str() {
            "1000" => Command::SetTimeoutRetry {
                over_time: small(num("OverTime", "1-99 s")?, "OverTime", "1-99 s")?,
                re_count: small(num("ReCount", "1-99")?, "ReCount", "1-99")?,
            },
            "1011" => Command::GetTime {
                pol_id: cp.get("PolId").map(str::to_owned),
            },
            "1012" => Command::SetTime {
                pol_id: cp.get("PolId").map(str::to_owned),
                time: time("SystemTime")?,
            },
            "1061" => Command::GetRtdInterval,
            "1062" => Command::SetRtdInterval {
                seconds: u16::try_from(num("RtdInterval", "30-3600 s")?).map_err(|_| {
                    CommandError::OutOfRange {
                        name: "RtdInterval",
                        value: cp.get("RtdInterval").unwrap_or_default().to_owned(),
                        range: "30-3600 s",
                    }
                })?,
            },
            "1063" => Command::GetMinInterval,
            "1064" => Command::SetMinInterval {
                minutes: small(num("MinInterval", "1-30 min")?, "MinInterval", "1-30 min")?,
            },
            "1072" => Command::SetPassword {
                new_pw: cp
                    .get("NewPW")
                    .or_else(|| cp.get("PW"))
                    .map(str::to_owned)
                    .ok_or(CommandError::Missing {
                        cn: cn.clone(),
                        name: "NewPW",
                    })?,
            },
            "2011" => Command::StartRealtime,
            "2012" => Command::StopRealtime,
            "2021" => Command::StartRunState,
            "2022" => Command::StopRunState,
            "2031" | "2041" | "2051" | "2061" => Command::History {
                kind: HistoryKind::from_cn(&cn)
                    .ok_or_else(|| CommandError::NotACommand(cn.clone()))?,
                begin: time("BeginTime")?,
                end: time("EndTime")?,
            },
            "3011" => Command::Calibrate { pol_id: pol_id()? },
            "3012" => Command::SampleNow { pol_id: pol_id()? },
            "3013" => Command::Clean { pol_id: pol_id()? },
            "3014" => Command::CompareSample { pol_id: pol_id()? },
            "3015" => Command::KeepSample { pol_id: pol_id()? },
            "3016" => Command::SetSamplePeriod {
                pol_id: pol_id()?,
                start: need("CstartTime")?,
                hours: small(num("CTime", "1-24 h")?, "CTime", "1-24 h")?,
            },
            "3017" => Command::GetSamplePeriod { pol_id: pol_id()? },
            "3018" => Command::GetSampleOutTime { pol_id: pol_id()? },
            "3019" => Command::GetSerialNumber { pol_id: pol_id()? },
            "3020" => Command::GetInfo {
                pol_id: pol_id()?,
                info_id: need("InfoId")?,
                begin: opt_time("BeginTime")?,
                end: opt_time("EndTime")?,
            },
            "3021" => {
                let info_id = need("InfoId")?;
                let key = format!("{info_id}-Info");
                Command::SetInfo {
                    pol_id: pol_id()?,
                    value: cp
                        .get(&key)
                        .map(str::to_owned)
                        .ok_or(CommandError::Missing {
                            cn: cn.clone(),
                            name: "xxxxxx-Info",
                        })?,
                    info_id,
                }
            }
            _ => return Err(CommandError::NotACommand(cn)),
        };
        command.validate()?;
        Ok(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Packet;

    fn target() -> Target {
        Target {
            st: "32".into(),
            pw: "123456".into(),
            mn: "010000A8900016F000169DC0".into(),
            version: Version::V2017,
        }
    }

    fn t(s: &str) -> LocalTime {
        LocalTime::parse(s).expect("valid")
    }

    fn all() -> Vec<Command> {
        let p = || "w01018".to_owned();
        vec![
            Command::SetTimeoutRetry {
                over_time: 5,
                re_count: 3,
            },
            Command::GetTime { pol_id: Some(p()) },
            Command::GetTime { pol_id: None },
            Command::SetTime {
                pol_id: Some(p()),
                time: t("20160801085857"),
            },
            Command::GetRtdInterval,
            Command::SetRtdInterval { seconds: 30 },
            Command::GetMinInterval,
            Command::SetMinInterval { minutes: 10 },
            Command::SetPassword {
                new_pw: "654321".into(),
            },
            Command::StartRealtime,
            Command::StopRealtime,
            Command::StartRunState,
            Command::StopRunState,
            Command::History {
                kind: HistoryKind::Minute,
                begin: t("20160801084000"),
                end: t("20160801085000"),
            },
            Command::History {
                kind: HistoryKind::Day,
                begin: t("20160801000000"),
                end: t("20160802000000"),
            },
            Command::Calibrate { pol_id: p() },
            Command::SampleNow { pol_id: p() },
            Command::Clean { pol_id: p() },
            Command::CompareSample { pol_id: p() },
            Command::KeepSample { pol_id: p() },
            Command::SetSamplePeriod {
                pol_id: p(),
                start: "000000".into(),
                hours: 2,
            },
            Command::GetSamplePeriod { pol_id: p() },
            Command::GetSampleOutTime { pol_id: p() },
            Command::GetSerialNumber { pol_id: p() },
            Command::GetInfo {
                pol_id: p(),
                info_id: "i11001".into(),
                begin: Some(t("20160801000000")),
                end: Some(t("20160801120000")),
            },
            Command::SetInfo {
                pol_id: p(),
                info_id: "i13004".into(),
                value: "168.0".into(),
            },
        ]
    }

    #[test]
    fn every_command_encodes_and_decodes_to_itself() {
        for c in all() {
            let m = c.to_message(&target(), "20160801085857223").expect("valid");
            let bytes = m.encode().expect("encodes");
            let p = Packet::from_frame_bytes(&bytes).expect("decodes");
            assert!(p.is_valid(), "{c:?}: {:?}", p.deviations());
            assert!(p.deviations().is_empty(), "{c:?}: {:?}", p.deviations());
            let back = Message::from_packet(&p);
            assert_eq!(back, m);
            assert_eq!(Command::from_message(&back).expect("command"), c);
        }
    }

    #[test]
    fn appendix_c_examples() {
        let m = Command::SetTimeoutRetry {
            over_time: 5,
            re_count: 3,
        }
        .to_message(&target(), "20160801085857223")
        .expect("valid");
        assert_eq!(m.encode().expect("ok"), b"##0107QN=20160801085857223;ST=32;CN=1000;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&OverTime=5;ReCount=3&&CAC1\r\n");
        let m = Command::SetSamplePeriod {
            pol_id: "w01018".into(),
            start: "000000".into(),
            hours: 2,
        }
        .to_message(&target(), "20160801085857223")
        .expect("valid");
        assert_eq!(m.encode().expect("ok"), b"##0125QN=20160801085857223;ST=32;CN=3016;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&PolId=w01018;CstartTime=000000;CTime=2&&D801\r\n");
    }

    #[test]
    fn ranges_are_enforced() {
        let bad = [
            Command::SetTimeoutRetry {
                over_time: 0,
                re_count: 3,
            },
            Command::SetRtdInterval { seconds: 10 },
            Command::SetMinInterval { minutes: 7 },
            Command::SetPassword {
                new_pw: "12345".into(),
            },
            Command::History {
                kind: HistoryKind::Hour,
                begin: t("20160801100000"),
                end: t("20160801090000"),
            },
            Command::SetSamplePeriod {
                pol_id: "w01018".into(),
                start: "250000".into(),
                hours: 2,
            },
        ];
        for c in bad {
            assert!(
                matches!(
                    c.to_message(&target(), "1"),
                    Err(CommandError::OutOfRange { .. })
                ),
                "{c:?}"
            );
        }
        let upload = Message::new(None, "32", "2011", None, None, None)
            .with_cp(DataArea::new().param("DataTime", "20160801085857"));
        assert_eq!(Command::from_message(&upload), Ok(Command::StartRealtime));
        let history_without_times = Message::new(None, "32", "2051", None, None, None);
        assert!(matches!(
            Command::from_message(&history_without_times),
            Err(CommandError::Missing { .. })
        ));
        let reply = Message::new(None, "91", "9014", None, None, None);
        assert!(matches!(
            Command::from_message(&reply),
            Err(CommandError::NotACommand(_))
        ));
    }
}
