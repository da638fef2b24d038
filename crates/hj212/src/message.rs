//! Building and encoding messages: [`Message`] is the owned, editable form of a packet
//! (header fields in wire order and the CP data area as groups of items), with constructors for
//! the uploads, replies and commands of HJ 212-2017 Appendix C.
//!
//! A decoded [`Packet`] is read-only and borrows its text; a `Message` is what is built, edited
//! and sent. `Message::from_packet(&p).encode()` reproduces a well-formed packet byte for byte
//! (delimiters, header order and trailing `;` are kept; spaces are trimmed), and decoding an
//! encoded message gives the same message back.
//!
//! Replies take the shape of the version the device speaks (`ReplyTo`): HJ 212-2017 and 2025
//! echo QN in the header with ST=91 and Flag=4 (or 8); HJ/T 212-2005 puts the request's QN (and
//! for 9014 the acknowledged CN and packet numbers) inside CP, as its Appendix C shows.

use bytes::BytesMut;

use crate::codes::{self, ExeRtn, QnRtn};
use crate::cp::{self, FieldKind};
use crate::crc::CrcVariant;
use crate::frame::{self, DataTooLong};
use crate::packet::{Flag, Packet, Version};
use crate::time::LocalTime;

/// The CP data area: groups separated by `;`, each a list of `name=value` items separated by `,`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataArea {
    /// The groups in order. An empty group encodes as nothing (so a trailing empty group gives
    /// the trailing `;` some devices send).
    pub groups: Vec<Vec<(String, String)>>,
}

impl DataArea {
    /// An empty data area (`CP=&&&&`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a data area from its text (without the surrounding `&&`).
    pub fn parse(text: &str) -> Self {
        let mut groups: Vec<Vec<(String, String)>> = Vec::new();
        let mut ended_with_semicolon = false;
        cp::tokenize(text, 0, text.len(), |t| {
            if t.delimiter != b',' || groups.is_empty() {
                groups.push(Vec::new());
            }
            if let Some(g) = groups.last_mut() {
                g.push((t.name.get(text).to_owned(), t.value.get(text).to_owned()));
            }
        });
        if text.trim_end().ends_with(';') && !groups.is_empty() {
            ended_with_semicolon = true;
        }
        if ended_with_semicolon {
            groups.push(Vec::new());
        }
        Self { groups }
    }

    /// Adds `name=value` as a group of its own.
    pub fn param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.groups.push(vec![(name.to_owned(), value.into())]);
        self
    }

    /// Adds `DataTime=` as a group of its own.
    pub fn data_time(self, t: LocalTime) -> Self {
        self.param("DataTime", t.to_protocol())
    }

    /// Adds one pollutant's fields as a group (`code-Rtd=…,code-Flag=…`).
    pub fn pollutant<S: AsRef<str>>(mut self, code: &str, fields: &[(FieldKind, S)]) -> Self {
        self.groups.push(
            fields
                .iter()
                .map(|(k, v)| (format!("{code}-{}", k.name()), v.as_ref().to_owned()))
                .collect(),
        );
        self
    }

    /// Adds a group of arbitrary items.
    pub fn group(mut self, items: Vec<(String, String)>) -> Self {
        self.groups.push(items);
        self
    }

    /// The first value of an item with this name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.items().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every item in order.
    pub fn items(&self) -> impl Iterator<Item = (&str, &str)> {
        self.groups
            .iter()
            .flatten()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The text between the `&&`s.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (gi, group) in self.groups.iter().enumerate() {
            if gi > 0 {
                out.push(';');
            }
            for (ii, (name, value)) in group.iter().enumerate() {
                if ii > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push('=');
                out.push_str(value);
            }
        }
        out
    }

    fn check(&self) -> Result<(), EncodeError> {
        for (name, value) in self.items() {
            if name.is_empty() || name.contains(['=', ';', ',', '&']) || name.trim() != name {
                return Err(EncodeError::InvalidName {
                    name: name.to_owned(),
                });
            }
            let log_text = value.starts_with("//") && value.ends_with("//") && value.len() >= 4;
            let inner = if log_text {
                &value[2..value.len() - 2]
            } else {
                value
            };
            if inner.contains("&&")
                || inner.contains(['\r', '\n'])
                || (!log_text && (value.contains([';', ',', '=']) || value.trim() != value))
                || (log_text && inner.contains("//"))
            {
                return Err(EncodeError::InvalidValue {
                    name: name.to_owned(),
                    value: value.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Why a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A name that is empty or holds a delimiter.
    #[error("item name {name:?} is empty or contains a delimiter")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// A value holding a delimiter (outside `//…//` log text), `&&`, or a line break.
    #[error("value {value:?} of {name} contains a delimiter or line break")]
    InvalidValue {
        /// The item or header field name.
        name: String,
        /// The value.
        value: String,
    },
    /// No CN in the header.
    #[error("message has no CN")]
    NoCommand,
    /// The data segment is longer than 9999 bytes.
    #[error(transparent)]
    TooLong(#[from] DataTooLong),
    /// A message cannot be split to fit: one pollutant group alone is too long.
    #[error("cannot split: a single group needs {needed} bytes, limit is {limit}")]
    CannotSplit {
        /// Bytes the smallest piece needs.
        needed: usize,
        /// The limit asked for.
        limit: usize,
    },
}

const CANONICAL_ORDER: [&str; 8] = ["QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"];

/// An HJ 212 message: header fields in wire order and the data area.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Header fields (`QN`, `ST`, `CN`, `PW`, `MN`, `Flag`, `PNUM`, `PNO`) in the order sent.
    pub header: Vec<(String, String)>,
    /// The CP data area.
    pub cp: DataArea,
}

impl Message {
    /// A message with the standard header order; `None` fields are left out.
    pub fn new(
        qn: Option<&str>,
        st: &str,
        cn: &str,
        pw: Option<&str>,
        mn: Option<&str>,
        flag: Option<Flag>,
    ) -> Self {
        let mut m = Message::default();
        if let Some(qn) = qn {
            m.set("QN", qn);
        }
        m.set("ST", st);
        m.set("CN", cn);
        if let Some(pw) = pw {
            m.set("PW", pw);
        }
        if let Some(mn) = mn {
            m.set("MN", mn);
        }
        if let Some(flag) = flag {
            m.set("Flag", flag.0.to_string());
        }
        m
    }

    /// Sets the data area.
    pub fn with_cp(mut self, cp: DataArea) -> Self {
        self.cp = cp;
        self
    }

    /// Re-reads a decoded packet as a message (header order and CP grouping kept).
    pub fn from_packet(packet: &Packet) -> Self {
        let text = packet.text();
        let cp_at = crate::packet::find_cp(text.as_bytes()).unwrap_or(text.len());
        let mut header = Vec::new();
        cp::tokenize(text, 0, cp_at, |t| {
            header.push((t.name.get(text).to_owned(), t.value.get(text).to_owned()));
        });
        Self {
            header,
            cp: DataArea::parse(packet.cp_text()),
        }
    }

    /// A header field's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a header field, in place if present, else at its standard position.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(slot) = self.header.iter_mut().find(|(n, _)| n == name) {
            slot.1 = value;
            return;
        }
        let rank = |n: &str| CANONICAL_ORDER.iter().position(|c| *c == n);
        let at = match rank(name) {
            Some(r) => self
                .header
                .iter()
                .position(|(n, _)| rank(n).is_none_or(|x| x > r))
                .unwrap_or(self.header.len()),
            None => self.header.len(),
        };
        self.header.insert(at, (name.to_owned(), value));
    }

    /// Removes a header field.
    pub fn remove(&mut self, name: &str) {
        self.header.retain(|(n, _)| n != name);
    }

    /// CN.
    pub fn cn(&self) -> Option<&str> {
        self.get("CN")
    }

    /// QN.
    pub fn qn(&self) -> Option<&str> {
        self.get("QN")
    }

    /// The Flag, if present and numeric.
    pub fn flag(&self) -> Option<Flag> {
        self.get("Flag").and_then(|f| f.parse().ok()).map(Flag)
    }

    /// The data segment text: `QN=…;ST=…;…;CP=&&…&&`.
    pub fn data_segment(&self) -> Result<String, EncodeError> {
        if self.cn().is_none() {
            return Err(EncodeError::NoCommand);
        }
        for (name, value) in &self.header {
            if name.is_empty() || name.contains(['=', ';', ',', '&']) || name == "CP" {
                return Err(EncodeError::InvalidName { name: name.clone() });
            }
            if value.contains([';', ',', '=', '\r', '\n']) || value.contains("&&") {
                return Err(EncodeError::InvalidValue {
                    name: name.clone(),
                    value: value.clone(),
                });
            }
        }
        self.cp.check()?;
        let mut out = String::with_capacity(128);
        for (name, value) in &self.header {
            out.push_str(name);
            out.push('=');
            out.push_str(value);
            out.push(';');
        }
        // A header that itself contains `CP=` (a name like `FlagCP` written as `FlagCP=`)
        // would be read back with the data area starting there: refuse it.
        if let Some(at) = out.find("CP=") {
            let name = out[..at + 2]
                .rsplit(';')
                .next()
                .unwrap_or_default()
                .to_owned();
            return Err(EncodeError::InvalidName { name });
        }
        out.push_str("CP=&&");
        out.push_str(&self.cp.to_text());
        out.push_str("&&");
        Ok(out)
    }

    /// Encodes the complete frame with the standard CRC.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        self.encode_with(CrcVariant::Hj212)
    }

    /// Encodes the complete frame with the CRC of `variant`.
    pub fn encode_with(&self, variant: CrcVariant) -> Result<Vec<u8>, EncodeError> {
        let mut out = BytesMut::new();
        self.encode_into(variant, &mut out)?;
        Ok(out.to_vec())
    }

    /// Appends the complete frame to `out`.
    pub fn encode_into(&self, variant: CrcVariant, out: &mut BytesMut) -> Result<(), EncodeError> {
        let data = self.data_segment()?;
        frame::write_frame_with(data.as_bytes(), variant, out)?;
        Ok(())
    }

    /// Splits the message into PNUM/PNO pieces whose data segments fit `max_data_len`
    /// (HJ 212-2017 §6.3.2). Plain parameters (`DataTime`, ...) go into every piece; pollutant
    /// groups are distributed in order. Each piece gets the D flag, `PNUM`/`PNO`, and a QN from
    /// `next_qn` (the standard gives every piece its own QN). A message that fits is returned
    /// unchanged.
    pub fn split(
        &self,
        max_data_len: usize,
        mut next_qn: impl FnMut(u16) -> String,
    ) -> Result<Vec<Message>, EncodeError> {
        if self.data_segment()?.len() <= max_data_len {
            return Ok(vec![self.clone()]);
        }
        let is_pollutant = |g: &Vec<(String, String)>| g.iter().any(|(n, _)| n.contains('-'));
        let common: Vec<_> = self
            .cp
            .groups
            .iter()
            .filter(|g| !g.is_empty() && !is_pollutant(g))
            .cloned()
            .collect();
        let parts: Vec<_> = self
            .cp
            .groups
            .iter()
            .filter(|g| is_pollutant(g))
            .cloned()
            .collect();
        let flag = self
            .flag()
            .unwrap_or(Flag::new(Version::V2017, false, false));
        let flag = Flag(flag.0 | Flag::SPLIT);
        let piece = |groups: Vec<Vec<(String, String)>>, pnum: u16, pno: u16, qn: String| {
            let mut m = self.clone();
            m.set("QN", qn);
            m.set("Flag", flag.0.to_string());
            m.set("PNUM", pnum.to_string());
            m.set("PNO", pno.to_string());
            let mut all = common.clone();
            all.extend(groups);
            m.cp = DataArea { groups: all };
            m
        };
        // Pack greedily with a placeholder header sized for 4-digit packet numbers.
        let mut pieces: Vec<Vec<Vec<(String, String)>>> = vec![Vec::new()];
        for group in parts {
            let mut trial = pieces.last().cloned().unwrap_or_default();
            trial.push(group.clone());
            let len = piece(trial, 9999, 9999, "0".repeat(17))
                .data_segment()?
                .len();
            let current = pieces.last_mut().expect("never empty");
            if len <= max_data_len {
                current.push(group);
            } else if current.is_empty() {
                return Err(EncodeError::CannotSplit {
                    needed: len,
                    limit: max_data_len,
                });
            } else {
                let alone = piece(vec![group.clone()], 9999, 9999, "0".repeat(17))
                    .data_segment()?
                    .len();
                if alone > max_data_len {
                    return Err(EncodeError::CannotSplit {
                        needed: alone,
                        limit: max_data_len,
                    });
                }
                pieces.push(vec![group]);
            }
        }
        let pnum = pieces.len() as u16;
        Ok(pieces
            .into_iter()
            .enumerate()
            .map(|(i, groups)| {
                let pno = i as u16 + 1;
                piece(groups, pnum, pno, next_qn(pno))
            })
            .collect())
    }
}

/// What a reply needs from the packet it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    /// The version the peer speaks.
    pub version: Version,
    /// The QN of the exchange, if the packet had one.
    pub qn: Option<String>,
    /// PW of the packet.
    pub pw: Option<String>,
    /// MN of the packet.
    pub mn: Option<String>,
    /// CN of the packet (2005 data answers name it).
    pub cn: String,
    /// PNUM and PNO of the packet, if split.
    pub packet_numbers: Option<(u16, u16)>,
}

impl ReplyTo {
    /// Takes what a reply needs from a received packet.
    pub fn from_packet(p: &Packet) -> Self {
        Self {
            version: match p.version() {
                Version::Unknown(_) => Version::V2017,
                v => v,
            },
            qn: p.exchange_qn().map(str::to_owned),
            pw: p.pw().map(str::to_owned),
            mn: p.mn().map(str::to_owned),
            cn: p.cn().to_owned(),
            packet_numbers: p.pnum().zip(p.pno()),
        }
    }

    fn reply(&self, cn: &str, cp: DataArea, with_identity: bool, flag_2005: bool) -> Message {
        match self.version {
            Version::V2005 => {
                let mut m = Message::new(
                    None,
                    codes::ST_SYSTEM,
                    cn,
                    self.pw.as_deref().filter(|_| with_identity),
                    self.mn.as_deref().filter(|_| with_identity),
                    flag_2005.then_some(Flag(0)),
                );
                let mut groups = Vec::new();
                if let Some(qn) = &self.qn {
                    groups.push(vec![("QN".to_owned(), qn.clone())]);
                }
                groups.extend(cp.groups);
                m.cp = DataArea { groups };
                m
            }
            v => Message::new(
                self.qn.as_deref(),
                codes::ST_SYSTEM,
                cn,
                self.pw.as_deref(),
                self.mn.as_deref(),
                Some(Flag::new(v, false, false)),
            )
            .with_cp(cp),
        }
    }

    /// 9014, the data answer.
    pub fn data_ack(&self) -> Message {
        let cp = if self.version == Version::V2005 {
            let mut d = DataArea::new().param("CN", self.cn.clone());
            if let Some((pnum, pno)) = self.packet_numbers {
                d = d
                    .param("PNO", pno.to_string())
                    .param("PNUM", pnum.to_string());
                d.groups.push(Vec::new());
            }
            d
        } else {
            DataArea::new()
        };
        self.reply("9014", cp, false, false)
    }

    /// 9013, the notification answer.
    pub fn notification_ack(&self) -> Message {
        self.reply("9013", DataArea::new(), true, false)
    }

    /// 9011, the request answer.
    pub fn request_answer(&self, rtn: QnRtn) -> Message {
        self.reply(
            "9011",
            DataArea::new().param("QnRtn", rtn.code().to_string()),
            true,
            true,
        )
    }

    /// 9012, the execution result.
    pub fn execution_result(&self, rtn: ExeRtn) -> Message {
        self.reply(
            "9012",
            DataArea::new().param("ExeRtn", rtn.code().to_string()),
            true,
            false,
        )
    }
}

impl Message {
    /// For 9014 replies in 2005 form the standard leaves out PW and MN; this fills them in from
    /// a `ReplyTo` for peers that insist on them.
    pub fn with_identity(mut self, to: &ReplyTo) -> Self {
        if let Some(pw) = &to.pw {
            self.set("PW", pw.clone());
        }
        if let Some(mn) = &to.mn {
            self.set("MN", mn.clone());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &str) -> Vec<u8> {
        let mut out = BytesMut::new();
        frame::write_frame(data.as_bytes(), &mut out).expect("short");
        out.to_vec()
    }

    fn packet(data: &str) -> Packet {
        Packet::from_frame_bytes(&frame(data)).expect("decodes")
    }

    #[test]
    fn round_trip_keeps_order_and_trailing_semicolon() {
        for data in [
            "ST=32;CN=2051;QN=20040516010101001;PW=123456;MN=88888880000001;PNO=1;PNUM=1;CP=&&DataTime=20040516021000;B01-Cou=200;101-Cou=2.5,101-Min=1.1&&",
            "ST=91;CN=9014;CP=&&QN=20040516010101001;CN=2051;PNO=1;PNUM=1;&&",
            "QN=20160801085857223;ST=32;CN=3020;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20100301145000;PolId=w01018;i11001-Info=//清洗;管路//&&",
            "QN=20160801085857223;ST=91;CN=9013;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&",
        ] {
            let m = Message::from_packet(&packet(data));
            assert_eq!(m.data_segment().expect("encodes"), data);
            assert_eq!(Message::from_packet(&packet(data)), m);
        }
    }

    #[test]
    fn replies_2017() {
        let p = packet(
            "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857;w01001-Rtd=7.1&&",
        );
        let to = ReplyTo::from_packet(&p);
        assert_eq!(
            to.data_ack().data_segment().expect("ok"),
            "QN=20160801085857223;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&"
        );
        assert_eq!(
            to.request_answer(QnRtn::Ready).data_segment().expect("ok"),
            "QN=20160801085857223;ST=91;CN=9011;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&QnRtn=1&&"
        );
        assert_eq!(
            to.execution_result(ExeRtn::Success)
                .data_segment()
                .expect("ok"),
            "QN=20160801085857223;ST=91;CN=9012;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&ExeRtn=1&&"
        );
        assert_eq!(
            to.notification_ack().encode().expect("ok"),
            b"##0087QN=20160801085857223;ST=91;CN=9013;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&2A80\r\n"
        );
    }

    #[test]
    fn replies_2005_follow_appendix_c() {
        let p = packet(
            "ST=32;CN=2051;QN=20040516010101001;PW=123456;MN=88888880000001;PNO=1;PNUM=1;CP=&&DataTime=20040516021000;B01-Cou=200&&",
        );
        let to = ReplyTo::from_packet(&p);
        assert_eq!(
            to.data_ack().encode().expect("ok"),
            b"##0063ST=91;CN=9014;CP=&&QN=20040516010101001;CN=2051;PNO=1;PNUM=1;&&2700\r\n"
        );
        assert_eq!(
            to.request_answer(QnRtn::Ready).encode().expect("ok"),
            b"##0084ST=91;CN=9011;PW=123456;MN=88888880000001;Flag=0;CP=&&QN=20040516010101001;QnRtn=1&&7200\r\n"
        );
        assert_eq!(
            to.execution_result(ExeRtn::Success).encode().expect("ok"),
            b"##0078ST=91;CN=9012;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001;ExeRtn=1&&C601\r\n"
        );
        assert_eq!(
            to.notification_ack().encode().expect("ok"),
            b"##0069ST=91;CN=9013;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001&&0500\r\n"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let m = Message::new(None, "32", "2011", None, None, None)
            .with_cp(DataArea::new().param("a-Rtd", "1;2"));
        assert!(matches!(
            m.data_segment(),
            Err(EncodeError::InvalidValue { .. })
        ));
        let m = Message::new(None, "32", "2011", Some("12;3"), None, None);
        assert!(matches!(
            m.data_segment(),
            Err(EncodeError::InvalidValue { .. })
        ));
        assert_eq!(
            Message::default().data_segment(),
            Err(EncodeError::NoCommand)
        );
        // Fuzz finding: a header name ending in "CP" would re-read as the data area.
        let mut m = Message::new(None, "32", "2011", None, None, None);
        m.header.push(("FlagCP".into(), String::new()));
        assert!(matches!(
            m.data_segment(),
            Err(EncodeError::InvalidName { .. })
        ));
    }

    #[test]
    fn split_and_fit() {
        let mut cp = DataArea::new().param("DataTime", "20160801080000");
        for i in 0..40 {
            cp = cp.pollutant(
                &format!("w{:05}", 1000 + i),
                &[(FieldKind::Avg, "12.345"), (FieldKind::Flag, "N")],
            );
        }
        let m = Message::new(
            Some("20160801085857534"),
            "32",
            "2061",
            Some("123456"),
            Some("010000A8900016F000169DC0"),
            Some(Flag(5)),
        )
        .with_cp(cp);
        let pieces = m
            .split(400, |pno| format!("20160801085857{:03}", 533 + pno))
            .expect("splits");
        assert!(pieces.len() > 1);
        let pnum = pieces.len().to_string();
        let mut codes = 0;
        for (i, piece) in pieces.iter().enumerate() {
            let bytes = piece.encode().expect("encodes");
            let p = Packet::from_frame_bytes(&bytes).expect("decodes");
            assert!(p.data_len() <= 400);
            assert!(p.is_valid(), "{:?}", p.deviations());
            assert_eq!(p.flag(), Some(Flag(7)));
            assert_eq!(piece.get("PNUM"), Some(pnum.as_str()));
            assert_eq!(p.pno(), Some(i as u16 + 1));
            assert_eq!(p.param("DataTime"), Some("20160801080000"));
            codes += p.pollutants().len();
        }
        assert_eq!(codes, 40);
        assert!(matches!(
            m.split(60, |_| "1".into()),
            Err(EncodeError::CannotSplit { .. })
        ));
    }
}
