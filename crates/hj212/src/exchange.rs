//! The exchange rules of HJ 212-2017 §6.5 and Appendix C as pure state machines (no I/O, no
//! clock: the caller passes the time in milliseconds).
//!
//! * [`owed`]: given a received packet and which side we are, which answer the protocol owes.
//!   Replies (9011–9014) are never answered, whatever their A bit says, so two peers cannot
//!   loop acknowledging acknowledgements (seen in the wild: platforms that send 9014 with Flag=5).
//! * [`host_decide`]: the host's verdict on a received packet: accept it (and the answer owed
//!   once it is durable), or reject it with the `QnRtn` the standard names (9 for CRC, 4 for MN,
//!   3 for PW, 8 for CN).
//! * [`CommandExchange`]: the host side of one command: request → 9011 → data → 9012 (or
//!   notification → 9013), with the request timeout and retry count of 2017 Table 1 and an
//!   execution timeout; every timeout and retry is an explicit [`Step`].

use crate::codes::{self, CommandKind, ExeRtn, QnRtn};
use crate::command::{Command, CommandError, Target};
use crate::crc::CrcVariant;
use crate::message::{Message, ReplyTo};
use crate::packet::{Deviation, Packet};
use crate::time::LocalTime;

/// Which side of the link we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The platform (上位机).
    Host,
    /// The data logger (现场机).
    Device,
}

/// The answer a received packet is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owed {
    /// None: a reply, or data whose sender did not ask for an answer.
    Nothing,
    /// 9014, the data answer (uploads with the A bit set; unknown CNs with the A bit set).
    DataAck,
    /// 9013, the notification answer.
    NotificationAck,
    /// 9011 with a QnRtn, then the execution and a 9012 (a host request received by a device).
    RequestAnswer,
}

/// Which answer `packet` is owed by the side `role`.
pub fn owed(packet: &Packet, role: Role) -> Owed {
    let kind = codes::command(packet.cn()).map(|(k, _)| k);
    match (role, kind) {
        (_, Some(CommandKind::Reply)) => Owed::Nothing,
        (Role::Host, Some(CommandKind::Notification)) => Owed::NotificationAck,
        (Role::Host, _) if packet.wants_ack() => Owed::DataAck,
        (Role::Host, _) => Owed::Nothing,
        (Role::Device, Some(CommandKind::Notification)) => Owed::NotificationAck,
        (Role::Device, _) => Owed::RequestAnswer,
    }
}

/// How the host's registry judged the packet's MN and PW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// Known MN, right password.
    Ok,
    /// No monitoring point with this MN.
    UnknownMn,
    /// Known MN, wrong password.
    WrongPassword,
}

/// What the host accepts beyond the strict standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPolicy {
    /// CRC variants accepted for this device (the standard one by default).
    pub accepted_crc: Vec<CrcVariant>,
    /// Whether a packet whose declared length is wrong is still accepted (CRC permitting).
    pub accept_length_mismatch: bool,
    /// Whether rejected packets are answered with 9011 and a QnRtn.
    pub answer_rejections: bool,
    /// The latest DataTime a data upload may carry (the host's clock plus the drift it
    /// tolerates); a later one describes a time that has not happened yet. `None`: no limit.
    pub latest_data_time: Option<LocalTime>,
}

impl Default for HostPolicy {
    fn default() -> Self {
        Self {
            accepted_crc: vec![CrcVariant::Hj212],
            accept_length_mismatch: false,
            answer_rejections: true,
            latest_data_time: None,
        }
    }
}

/// Why the host rejects a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The CRC matched no accepted variant.
    #[error("CRC does not match an accepted variant")]
    Crc,
    /// The declared length is wrong.
    #[error("declared length does not match the data")]
    Length,
    /// CN is malformed.
    #[error("malformed CN")]
    Command,
    /// MN unknown to the registry.
    #[error("unknown MN")]
    UnknownMn,
    /// Wrong password.
    #[error("wrong password")]
    WrongPassword,
    /// A data upload without a valid DataTime (missing, not a calendar time, or later than
    /// the host's clock allows): its values belong to no time that can be judged.
    #[error("data upload without a possible DataTime")]
    DataTime,
    /// A data upload in which every pollutant group has a value outside its type's syntax
    /// (a number that is not one, a flag the standard does not define): nothing to store.
    #[error("no pollutant group with well-formed values")]
    Values,
}

impl Rejection {
    /// The QnRtn that reports this rejection.
    pub fn qn_rtn(self) -> QnRtn {
        match self {
            Self::Crc => QnRtn::CrcError,
            Self::Length => QnRtn::Unknown,
            Self::Command => QnRtn::CnError,
            Self::UnknownMn => QnRtn::MnError,
            Self::WrongPassword => QnRtn::PasswordError,
            Self::DataTime | Self::Values => QnRtn::Refused,
        }
    }

    /// A stable snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc => "crc",
            Self::Length => "length",
            Self::Command => "command",
            Self::UnknownMn => "unknown_mn",
            Self::WrongPassword => "wrong_password",
            Self::DataTime => "data_time",
            Self::Values => "invalid_values",
        }
    }
}

/// The host's verdict on one received packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostDecision {
    /// Keep the packet; send `reply` (if any) only once the data is durable.
    Accept {
        /// The answer owed (9014 or 9013), to send after the commit.
        reply: Option<Message>,
        /// The CRC variant to use for the reply (the one the device used).
        crc: CrcVariant,
    },
    /// Do not store the packet as data (quarantine it); send `reply` (9011 with the QnRtn) now.
    Reject {
        /// Why.
        reason: Rejection,
        /// The answer to send, if the policy answers rejections and the packet is not a reply.
        reply: Option<Message>,
        /// The CRC variant to use for the reply.
        crc: CrcVariant,
    },
}

/// Decides what the host does with a received packet.
pub fn host_decide(packet: &Packet, auth: Authentication, policy: &HostPolicy) -> HostDecision {
    let crc = packet.crc().variant.unwrap_or(CrcVariant::Hj212);
    let reason = if !packet.crc().is_accepted_by(&policy.accepted_crc) {
        Some(Rejection::Crc)
    } else if !policy.accept_length_mismatch
        && packet
            .deviations()
            .iter()
            .any(|d| matches!(d, Deviation::LengthMismatch { .. }))
    {
        Some(Rejection::Length)
    } else if packet.deviations().contains(&Deviation::CnFormat) {
        Some(Rejection::Command)
    } else {
        match auth {
            Authentication::Ok => data_rejection(packet, policy.latest_data_time),
            Authentication::UnknownMn => Some(Rejection::UnknownMn),
            Authentication::WrongPassword => Some(Rejection::WrongPassword),
        }
    };
    let to = ReplyTo::from_packet(packet);
    match reason {
        Some(reason) => {
            let is_reply = matches!(codes::command(packet.cn()), Some((CommandKind::Reply, _)));
            let reply =
                (policy.answer_rejections && !is_reply).then(|| to.request_answer(reason.qn_rtn()));
            HostDecision::Reject { reason, reply, crc }
        }
        None => {
            let reply = match owed(packet, Role::Host) {
                Owed::DataAck => Some(to.data_ack()),
                Owed::NotificationAck => Some(to.notification_ack()),
                Owed::Nothing | Owed::RequestAnswer => None,
            };
            HostDecision::Accept { reply, crc }
        }
    }
}

/// Why a data upload (2011, 2051, 2061, 2031, ...) cannot be stored at all: it has no valid
/// DataTime, a DataTime after `latest`, or every pollutant group in it is malformed. An upload with some well-formed
/// groups is accepted; the host stores those and keeps the rest aside
/// ([`Pollutant::malformed_fields`](crate::Pollutant::malformed_fields)).
fn data_rejection(packet: &Packet, latest: Option<LocalTime>) -> Option<Rejection> {
    if !matches!(codes::command(packet.cn()), Some((CommandKind::Data, _))) {
        return None;
    }
    match (packet.data_time(), latest) {
        (None, _) => return Some(Rejection::DataTime),
        (Some(t), Some(latest)) if t > latest => return Some(Rejection::DataTime),
        _ => {}
    }
    let mut groups = packet.pollutants().peekable();
    let all_malformed =
        groups.peek().is_some() && groups.all(|g| g.malformed_fields().next().is_some());
    all_malformed.then_some(Rejection::Values)
}

/// Timeouts and retries of a command exchange (HJ 212-2017 Table 1: 10 s and 3 retries over
/// mobile networks, 5 s over ADSL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long to wait for the 9011 (or 9013) before resending, in milliseconds.
    pub over_time_ms: u64,
    /// How many times to resend before declaring a request timeout.
    pub re_count: u8,
    /// How long to wait after 9011 for the data and the 9012. Not fixed by the standard
    /// (history requests can take minutes); a platform setting.
    pub execution_timeout_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            over_time_ms: 10_000,
            re_count: 3,
            execution_timeout_ms: 120_000,
        }
    }
}

/// How a command exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 9012 with ExeRtn=1.
    Succeeded,
    /// 9012 with another ExeRtn (the raw code; known codes map to [`ExeRtn`]).
    Failed {
        /// The code.
        exe_rtn: u16,
    },
    /// 9011 with QnRtn other than 1.
    Refused {
        /// The code.
        qn_rtn: u16,
    },
    /// The notification was answered with 9013.
    Acknowledged,
    /// No 9011/9013 after all retries.
    RequestTimeout {
        /// Sends made, the first included.
        attempts: u8,
    },
    /// 9011 came, but not the 9012 in time.
    ExecutionTimeout,
}

impl Outcome {
    /// The ExeRtn of a failed execution, when it is a known code.
    pub fn exe_rtn(&self) -> Option<ExeRtn> {
        match self {
            Self::Succeeded => Some(ExeRtn::Success),
            Self::Failed { exe_rtn } => ExeRtn::from_code(*exe_rtn),
            _ => None,
        }
    }
}

/// What the caller must do after feeding the exchange an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing; wait (the packet was not part of this exchange, or nothing is due yet).
    Wait,
    /// Send this message (a retry of the request).
    Send(Message),
    /// 9011 with QnRtn=1 arrived: the device is executing.
    Accepted,
    /// A data packet of this exchange arrived (for get and history commands).
    Data,
    /// The exchange is over.
    Finished(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingAnswer { attempts: u8, deadline: u64 },
    Executing { deadline: u64 },
    Finished(Outcome),
}

/// The host side of one command exchange. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct CommandExchange {
    request: Message,
    qn: String,
    cn: String,
    mn: String,
    kind: CommandKind,
    timing: Timing,
    state: State,
    data_packets: u32,
}

impl CommandExchange {
    /// Starts an exchange at `now_ms`: returns it and the request to send.
    pub fn start(
        command: &Command,
        target: &Target,
        qn: &str,
        timing: Timing,
        now_ms: u64,
    ) -> Result<(Self, Message), CommandError> {
        let request = command.to_message(target, qn)?;
        let exchange = Self {
            request: request.clone(),
            qn: qn.to_owned(),
            cn: command.cn().to_owned(),
            mn: target.mn.clone(),
            kind: command.kind(),
            timing,
            state: State::AwaitingAnswer {
                attempts: 1,
                deadline: now_ms + timing.over_time_ms,
            },
            data_packets: 0,
        };
        Ok((exchange, request))
    }

    /// The QN identifying the exchange.
    pub fn qn(&self) -> &str {
        &self.qn
    }

    /// When [`CommandExchange::on_tick`] must next be called, if the exchange is not over.
    pub fn deadline(&self) -> Option<u64> {
        match self.state {
            State::AwaitingAnswer { deadline, .. } | State::Executing { deadline } => {
                Some(deadline)
            }
            State::Finished(_) => None,
        }
    }

    /// The outcome, once finished.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.state {
            State::Finished(o) => Some(o),
            _ => None,
        }
    }

    /// How many data packets of this exchange arrived.
    pub fn data_packets(&self) -> u32 {
        self.data_packets
    }

    fn finish(&mut self, outcome: Outcome) -> Step {
        self.state = State::Finished(outcome);
        Step::Finished(outcome)
    }

    /// Feeds a packet received from the device.
    pub fn on_packet(&mut self, p: &Packet, now_ms: u64) -> Step {
        if matches!(self.state, State::Finished(_)) || p.mn().is_some_and(|mn| mn != self.mn) {
            return Step::Wait;
        }
        let ours = p.exchange_qn() == Some(self.qn.as_str());
        let code = |name: &str| p.param(name).and_then(|v| v.trim().parse::<u16>().ok());
        match p.cn() {
            "9011" if ours => match code("QnRtn") {
                Some(1) => {
                    self.state = State::Executing {
                        deadline: now_ms + self.timing.execution_timeout_ms,
                    };
                    Step::Accepted
                }
                Some(rtn) => self.finish(Outcome::Refused { qn_rtn: rtn }),
                None => self.finish(Outcome::Refused {
                    qn_rtn: QnRtn::Unknown.code(),
                }),
            },
            "9012" if ours => match code("ExeRtn") {
                Some(1) => self.finish(Outcome::Succeeded),
                Some(rtn) => self.finish(Outcome::Failed { exe_rtn: rtn }),
                None => self.finish(Outcome::Failed {
                    exe_rtn: ExeRtn::Failed.code(),
                }),
            },
            "9013" if ours && self.kind == CommandKind::Notification => {
                self.finish(Outcome::Acknowledged)
            }
            cn if cn == self.cn && matches!(self.state, State::Executing { .. }) => {
                self.data_packets += 1;
                // Data keeps the execution alive (history can be long).
                self.state = State::Executing {
                    deadline: now_ms + self.timing.execution_timeout_ms,
                };
                Step::Data
            }
            _ => Step::Wait,
        }
    }

    /// Advances time: resends the request or times the exchange out when a deadline passed.
    pub fn on_tick(&mut self, now_ms: u64) -> Step {
        match self.state {
            State::AwaitingAnswer { attempts, deadline } if now_ms >= deadline => {
                if attempts > self.timing.re_count {
                    self.finish(Outcome::RequestTimeout { attempts })
                } else {
                    self.state = State::AwaitingAnswer {
                        attempts: attempts + 1,
                        deadline: now_ms + self.timing.over_time_ms,
                    };
                    Step::Send(self.request.clone())
                }
            }
            State::Executing { deadline } if now_ms >= deadline => {
                self.finish(Outcome::ExecutionTimeout)
            }
            _ => Step::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::DataArea;
    use crate::packet::{Flag, Version};
    use crate::time::LocalTime;

    fn packet(m: &Message) -> Packet {
        Packet::from_frame_bytes(&m.encode().expect("encodes")).expect("decodes")
    }

    fn upload(flag: u8) -> Packet {
        packet(
            &Message::new(
                Some("20160801085857223"),
                "32",
                "2011",
                Some("123456"),
                Some("010000A8900016F000169DC0"),
                Some(Flag(flag)),
            )
            .with_cp(DataArea::new().param("DataTime", "20160801085857")),
        )
    }

    fn reply(cn: &str, flag: u8) -> Packet {
        packet(
            &Message::new(
                Some("20160801085857223"),
                "91",
                cn,
                Some("123456"),
                Some("010000A8900016F000169DC0"),
                Some(Flag(flag)),
            )
            .with_cp(DataArea::new().param("QnRtn", "1")),
        )
    }

    #[test]
    fn what_is_owed() {
        assert_eq!(owed(&upload(5), Role::Host), Owed::DataAck);
        assert_eq!(owed(&upload(4), Role::Host), Owed::Nothing);
        assert_eq!(owed(&upload(9), Role::Host), Owed::DataAck);
        for cn in ["9011", "9012", "9013", "9014"] {
            assert_eq!(owed(&reply(cn, 5), Role::Host), Owed::Nothing, "{cn}");
            assert_eq!(owed(&reply(cn, 5), Role::Device), Owed::Nothing, "{cn}");
        }
        let mut calib = Message::from_packet(&upload(5));
        calib.set("CN", "1013");
        assert_eq!(owed(&packet(&calib), Role::Host), Owed::NotificationAck);
        let mut vendor = Message::from_packet(&upload(5));
        vendor.set("CN", "9021");
        assert_eq!(owed(&packet(&vendor), Role::Host), Owed::DataAck);
        let mut stop = Message::from_packet(&upload(5));
        stop.set("CN", "2012");
        assert_eq!(owed(&packet(&stop), Role::Device), Owed::NotificationAck);
        assert_eq!(owed(&upload(5), Role::Device), Owed::RequestAnswer);
    }

    #[test]
    fn host_accepts_and_acks_after_commit() {
        let d = host_decide(&upload(5), Authentication::Ok, &HostPolicy::default());
        let HostDecision::Accept {
            reply: Some(reply),
            crc: CrcVariant::Hj212,
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(reply.cn(), Some("9014"));
        assert_eq!(reply.qn(), Some("20160801085857223"));
        assert_eq!(reply.flag(), Some(Flag(4)));
        let p2025 = upload(9);
        let HostDecision::Accept {
            reply: Some(reply), ..
        } = host_decide(&p2025, Authentication::Ok, &HostPolicy::default())
        else {
            panic!()
        };
        assert_eq!(reply.flag(), Some(Flag(8)));
    }

    #[test]
    fn host_rejections_carry_the_right_qnrtn() {
        let p = upload(5);
        for (auth, rtn) in [
            (Authentication::UnknownMn, "4"),
            (Authentication::WrongPassword, "3"),
        ] {
            let HostDecision::Reject {
                reply: Some(reply), ..
            } = host_decide(&p, auth, &HostPolicy::default())
            else {
                panic!()
            };
            assert_eq!(reply.cn(), Some("9011"));
            assert_eq!(reply.cp.get("QnRtn"), Some(rtn));
        }
        // A MODBUS CRC: rejected by default, accepted when configured, replied in kind.
        let m = Message::from_packet(&p);
        let bytes = m.encode_with(CrcVariant::ModbusSwapped).expect("ok");
        let q = Packet::from_frame_bytes(&bytes).expect("decodes");
        let HostDecision::Reject {
            reason: Rejection::Crc,
            reply: Some(reply),
            ..
        } = host_decide(&q, Authentication::Ok, &HostPolicy::default())
        else {
            panic!()
        };
        assert_eq!(reply.cp.get("QnRtn"), Some("9"));
        let lenient = HostPolicy {
            accepted_crc: vec![CrcVariant::Hj212, CrcVariant::ModbusSwapped],
            ..HostPolicy::default()
        };
        assert!(matches!(
            host_decide(&q, Authentication::Ok, &lenient),
            HostDecision::Accept {
                crc: CrcVariant::ModbusSwapped,
                ..
            }
        ));
        // Replies are never answered, even rejected ones.
        assert!(matches!(
            host_decide(
                &reply_packet_with_bad_mn(),
                Authentication::UnknownMn,
                &HostPolicy::default()
            ),
            HostDecision::Reject { reply: None, .. }
        ));
    }

    /// A 2051 upload with this CP, framed with the right CRC.
    fn minute_upload(cp: &[u8]) -> Packet {
        let mut data = b"QN=20160801085857223;ST=31;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&".to_vec();
        data.extend_from_slice(cp);
        data.extend_from_slice(b"&&");
        let mut out = bytes::BytesMut::new();
        crate::frame::write_frame(&data, &mut out).expect("short");
        Packet::from_frame_bytes(&out).expect("decodes")
    }

    fn decide(p: &Packet, policy: &HostPolicy) -> Result<(), (Rejection, String)> {
        match host_decide(p, Authentication::Ok, policy) {
            HostDecision::Accept { reply, .. } => {
                assert_eq!(
                    reply.and_then(|r| r.cn().map(str::to_owned)).as_deref(),
                    Some("9014")
                );
                Ok(())
            }
            HostDecision::Reject { reason, reply, .. } => {
                let reply = reply.expect("answered");
                assert_eq!(reply.cn(), Some("9011"));
                Err((reason, reply.cp.get("QnRtn").unwrap_or_default().to_owned()))
            }
        }
    }

    #[test]
    fn malformed_values_are_named_and_an_upload_of_nothing_else_is_refused() {
        let good = b"a21026-Avg=35.2,a21026-Flag=N";
        for bad in [
            &b"a21002-Avg=abc,a21002-Flag=N"[..],
            b"a21002-Avg=NaN,a21002-Flag=N",
            b"a21002-Avg=inf,a21002-Flag=N",
            b"a21002-Avg=1e5,a21002-Flag=N",
            b"a21002-Avg=1.\x00 5,a21002-Flag=N",
            b"a21002-Avg=\xC9\xE8\xB1\xB8,a21002-Flag=N",
            b"a21002-Avg=\xFF\xFE\x80,a21002-Flag=N",
            b"a21002-Avg=12.5,a21002-Flag=\x00",
            b"a21002-Avg=12.5,a21002-Flag=X",
            b"a21002-Avg=12.5,a21002-Flag=NN",
            b"a21002-Avg=1234567890123456789,a21002-Flag=N",
        ] {
            let mut cp = b"DataTime=20160801084000;".to_vec();
            cp.extend_from_slice(bad);
            let only_bad = minute_upload(&cp);
            let g = only_bad.pollutant("a21002").expect("group");
            assert_eq!(
                g.malformed_fields().count(),
                1,
                "{}",
                String::from_utf8_lossy(bad)
            );
            assert_eq!(
                decide(&only_bad, &HostPolicy::default()),
                Err((Rejection::Values, "2".into())),
                "{}",
                String::from_utf8_lossy(bad)
            );
            cp.push(b';');
            cp.extend_from_slice(good);
            let mixed = minute_upload(&cp);
            assert_eq!(
                mixed
                    .pollutant("a21026")
                    .expect("good")
                    .malformed_fields()
                    .count(),
                0
            );
            assert_eq!(decide(&mixed, &HostPolicy::default()), Ok(()));
        }
        // Flags of both versions, and signed and fractional numbers, are well formed.
        let ok = minute_upload(
            b"DataTime=20160801084000;a21026-Avg=-.5,a21026-Flag=3;a21002-Rtd=+7.,a21002-Flag=T",
        );
        assert!(
            ok.pollutants()
                .all(|g| g.malformed_fields().next().is_none())
        );
    }

    #[test]
    fn uploads_without_a_possible_data_time_are_refused() {
        for cp in [
            &b"a21026-Avg=35.2,a21026-Flag=N"[..],
            b"DataTime=;a21026-Avg=35.2,a21026-Flag=N",
            b"DataTime=20161332084000;a21026-Avg=35.2,a21026-Flag=N",
            b"DataTime=20160231084000;a21026-Avg=35.2,a21026-Flag=N",
            b"DataTime=2016080108400;a21026-Avg=35.2,a21026-Flag=N",
        ] {
            assert_eq!(
                decide(&minute_upload(cp), &HostPolicy::default()),
                Err((Rejection::DataTime, "2".into())),
                "{}",
                String::from_utf8_lossy(cp)
            );
        }
        let p = minute_upload(b"DataTime=20160801084000;a21026-Avg=35.2,a21026-Flag=N");
        let t = p.data_time().expect("valid");
        let at = |latest| HostPolicy {
            latest_data_time: Some(latest),
            ..HostPolicy::default()
        };
        assert_eq!(decide(&p, &at(t)), Ok(()));
        let earlier = LocalTime::from_unix_millis(t.unix_seconds() * 1000 - 1000);
        assert_eq!(
            decide(&p, &at(earlier)),
            Err((Rejection::DataTime, "2".into()))
        );
    }

    fn reply_packet_with_bad_mn() -> Packet {
        reply("9014", 4)
    }

    fn exchange(command: &Command) -> (CommandExchange, Message) {
        let target = Target {
            st: "32".into(),
            pw: "123456".into(),
            mn: "010000A8900016F000169DC0".into(),
            version: Version::V2017,
        };
        CommandExchange::start(command, &target, "20160801085857223", Timing::default(), 0)
            .expect("valid")
    }

    fn device_reply(request: &Message, cn: &str, cp: DataArea) -> Packet {
        let to = ReplyTo::from_packet(&packet(request));
        let mut m = match cn {
            "9011" => to.request_answer(QnRtn::Ready),
            "9012" => to.execution_result(ExeRtn::Success),
            _ => to.notification_ack(),
        };
        m.set("ST", "32");
        if !cp.groups.is_empty() {
            m.cp = cp;
        }
        packet(&m)
    }

    #[test]
    fn history_request_full_flow() {
        let begin = LocalTime::parse("20160801084000").expect("valid");
        let cmd = Command::History {
            kind: crate::command::HistoryKind::Minute,
            begin,
            end: begin,
        };
        let (mut x, request) = exchange(&cmd);
        assert_eq!(x.deadline(), Some(10_000));
        assert_eq!(
            x.on_packet(&device_reply(&request, "9011", DataArea::new()), 1_000),
            Step::Accepted
        );
        let mut data = Message::from_packet(&upload(4));
        data.set("CN", "2051");
        data.set("QN", "20160801085857534");
        assert_eq!(x.on_packet(&packet(&data), 2_000), Step::Data);
        assert_eq!(
            x.on_packet(&upload(5), 2_000),
            Step::Wait,
            "2011 is not ours"
        );
        assert_eq!(
            x.on_packet(&device_reply(&request, "9012", DataArea::new()), 3_000),
            Step::Finished(Outcome::Succeeded)
        );
        assert_eq!(x.data_packets(), 1);
        assert_eq!(x.deadline(), None);
    }

    #[test]
    fn retries_then_request_timeout() {
        let (mut x, request) = exchange(&Command::GetRtdInterval);
        assert_eq!(x.on_tick(9_999), Step::Wait);
        for i in 1..=3u64 {
            assert_eq!(
                x.on_tick(i * 10_000),
                Step::Send(request.clone()),
                "retry {i}"
            );
        }
        assert_eq!(
            x.on_tick(40_000),
            Step::Finished(Outcome::RequestTimeout { attempts: 4 })
        );
    }

    #[test]
    fn refusal_and_execution_timeout() {
        let (mut x, request) = exchange(&Command::StartRealtime);
        let mut refuse = device_reply(&request, "9011", DataArea::new().param("QnRtn", "2"));
        assert_eq!(
            x.on_packet(&refuse, 5),
            Step::Finished(Outcome::Refused { qn_rtn: 2 })
        );
        let (mut x, request) = exchange(&Command::StartRealtime);
        refuse = device_reply(&request, "9011", DataArea::new());
        assert_eq!(x.on_packet(&refuse, 5), Step::Accepted);
        assert_eq!(x.on_tick(100_000), Step::Wait);
        assert_eq!(
            x.on_tick(120_005),
            Step::Finished(Outcome::ExecutionTimeout)
        );
    }

    #[test]
    fn notification_is_acknowledged_by_9013() {
        let (mut x, request) = exchange(&Command::StopRealtime);
        assert_eq!(
            x.on_packet(&device_reply(&request, "9013", DataArea::new()), 5),
            Step::Finished(Outcome::Acknowledged)
        );
    }
}
