//! Framing: cutting `##LLLL<data>CCCC\r\n` frames out of a byte stream.
//!
//! [`FrameDecoder`] is a [`tokio_util::codec::Decoder`], but it is plain code over a
//! [`BytesMut`] and is used without a socket in tests, the fuzzer and the CLI.
//!
//! How a frame's end is found:
//!
//! 1. Skip to the next `##` (the bytes skipped are counted and reported on the next event).
//! 2. Read the four length digits. If the declared data segment is fully buffered and ends in
//!    `&&` (the end of `CP=&&…&&`), trust the length: this is the standard case and costs nothing.
//! 3. Otherwise the length lies, or the frame is still arriving. Scan the structure instead:
//!    the data segment ends at the first `&&` after `CP=&&` that is followed by four hex digits.
//!    When the declared length is already fully buffered (so it certainly lies), the structural end
//!    is used at once; when the frame might still be arriving, the structural end is used only if a
//!    terminator or the next `##` confirms it, so a lying length never makes the device wait.
//! 4. A `##` inside the frame before any end means the frame was cut short (two TCP reads glued
//!    together): the fragment is rejected and decoding resumes at that `##` without losing it.
//! 5. The CR LF terminator is optional. LF alone, CR alone, or nothing (the next frame or
//!    garbage follows) are accepted and reported. When the buffer ends right after the CRC the
//!    frame is delivered at once (devices that send no terminator wait for our reply) and a CR/LF
//!    arriving later is absorbed as its tail.
//!
//! Memory: after every call the decoder keeps at most one unfinished frame, and never more than
//! [`FrameConfig::max_frame_len`] bytes of it; anything longer is rejected and skipped.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::crc::{self, CrcVerdict};

/// The largest data-segment length the four-digit length field can express.
pub const MAX_DATA_LEN: usize = 9999;
/// The data-segment limit HJ 212-2017 sets; longer segments are accepted and reported.
pub const STANDARD_MAX_DATA_LEN: usize = 1024;
/// Bytes around the data segment: `##`, four length digits, four CRC digits, CR LF.
pub const FRAME_OVERHEAD: usize = 2 + 4 + 4 + 2;

/// Limits applied by the [`FrameDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameConfig {
    /// Largest data segment accepted (at most [`MAX_DATA_LEN`], the default).
    pub max_data_len: usize,
}

impl Default for FrameConfig {
    fn default() -> Self {
        Self {
            max_data_len: MAX_DATA_LEN,
        }
    }
}

impl FrameConfig {
    /// The most bytes one frame (and so one connection's buffer) may hold.
    pub fn max_frame_len(&self) -> usize {
        self.max_data_len.min(MAX_DATA_LEN) + FRAME_OVERHEAD
    }
}

/// How a frame ended after its CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Terminator {
    /// CR LF, as the standard prescribes.
    CrLf,
    /// LF only.
    Lf,
    /// CR only.
    Cr,
    /// Nothing: the next frame or other bytes followed the CRC directly, or the stream ended.
    Missing,
    /// The buffer ended right after the CRC; a CR/LF arriving later is absorbed silently.
    Unseen,
}

/// One frame cut from the stream: the data segment and the fields around it, as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    raw: Bytes,
    data_start: usize,
    data_end: usize,
    /// The length the frame declared in its four digits.
    pub declared_len: usize,
    /// How the frame ended.
    pub terminator: Terminator,
    /// Bytes skipped before this frame's `##` (garbage, or fragments of broken frames).
    pub skipped_before: usize,
}

impl Frame {
    /// Builds a frame from a complete, single frame given as bytes (for tests and tools).
    /// Returns `None` when `bytes` does not decode to exactly one frame.
    pub fn from_bytes(bytes: &[u8]) -> Option<Frame> {
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::from(bytes);
        match decoder.decode_eof(&mut buf) {
            Ok(Some(FrameEvent::Frame(f))) if buf.is_empty() => Some(f),
            _ => None,
        }
    }

    /// The whole frame as received, from `##` through the terminator.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The data segment: the bytes the length counts and the CRC covers.
    pub fn data(&self) -> &[u8] {
        &self.raw[self.data_start..self.data_end]
    }

    /// The data segment as a shared [`Bytes`] (no copy).
    pub fn data_bytes(&self) -> Bytes {
        self.raw.slice(self.data_start..self.data_end)
    }

    /// The four characters of the CRC field, as sent.
    pub fn crc_field(&self) -> &[u8] {
        &self.raw[self.data_end..self.data_end + 4]
    }

    /// The actual length of the data segment in bytes.
    pub fn data_len(&self) -> usize {
        self.data_end - self.data_start
    }

    /// True when the declared length equals the actual data-segment length.
    pub fn length_matches(&self) -> bool {
        self.declared_len == self.data_len()
    }

    /// Checks the CRC field against the data segment.
    pub fn verify_crc(&self) -> CrcVerdict {
        crc::verify(self.data(), self.crc_field())
    }
}

/// Why bytes that began with `##` could not be cut into a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "kind"))]
pub enum FrameError {
    /// The four characters after `##` are not decimal digits.
    #[error("length field {field:?} is not four decimal digits")]
    InvalidLengthField {
        /// The four characters as received (lossy UTF-8).
        field: String,
    },
    /// The declared length is above the configured cap.
    #[error("declared length {declared} is above the limit of {limit}")]
    LengthOverLimit {
        /// Declared data-segment length.
        declared: usize,
        /// The configured maximum.
        limit: usize,
    },
    /// Another `##` started before this frame ended: it was cut short.
    #[error("frame declared {declared} bytes but the next frame started after {received}")]
    Truncated {
        /// Declared data-segment length.
        declared: usize,
        /// Bytes of data segment received before the next `##`.
        received: usize,
    },
    /// No frame end was found within the frame size limit.
    #[error("no frame end found within {limit} bytes")]
    Unterminated {
        /// The maximum frame size.
        limit: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame after {received} bytes")]
    TruncatedAtEof {
        /// Bytes of the unfinished frame.
        received: usize,
    },
    /// The stream ended with bytes that were not part of any frame.
    #[error("{bytes} bytes of garbage at the end of the stream")]
    TrailingGarbage {
        /// How many bytes.
        bytes: usize,
    },
}

/// Bytes the decoder gave up on, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedBytes {
    /// The bytes skipped (at most one frame's worth).
    pub raw: Bytes,
    /// Why.
    pub error: FrameError,
    /// Garbage skipped before these bytes.
    pub skipped_before: usize,
}

/// What the decoder produces: a frame, or bytes it had to skip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// A frame (its CRC and contents are not judged here).
    Frame(Frame),
    /// Bytes starting with `##` that did not form a frame; decoding goes on after them.
    Rejected(RejectedBytes),
}

/// An I/O error from the underlying stream (the only error that ends decoding).
#[derive(Debug, thiserror::Error)]
#[error("stream error: {0}")]
pub struct StreamError(#[from] pub std::io::Error);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Tail {
    #[default]
    None,
    /// CR, LF or CR LF may still arrive for the previous frame.
    Any,
    /// A CR was seen at the end of the buffer; an LF may follow.
    Lf,
}

/// Cuts HJ 212 frames from a byte stream. See the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct FrameDecoder {
    config: FrameConfig,
    skipped: usize,
    tail: Tail,
}

impl FrameDecoder {
    /// A decoder with the given limits.
    pub fn new(config: FrameConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The limits in force.
    pub fn config(&self) -> FrameConfig {
        self.config
    }

    fn absorb_tail(&mut self, buf: &mut BytesMut) -> bool {
        loop {
            match (self.tail, buf.first()) {
                (Tail::None, _) => return true,
                (_, None) => return false,
                (Tail::Any, Some(b'\r')) => {
                    buf.advance(1);
                    self.tail = Tail::Lf;
                }
                (_, Some(b'\n')) => {
                    buf.advance(1);
                    self.tail = Tail::None;
                }
                _ => self.tail = Tail::None,
            }
        }
    }

    fn reject(&mut self, buf: &mut BytesMut, consume: usize, error: FrameError) -> FrameEvent {
        let raw = buf.split_to(consume).freeze();
        FrameEvent::Rejected(RejectedBytes {
            raw,
            error,
            skipped_before: std::mem::take(&mut self.skipped),
        })
    }
}

/// Position of the first `##` in `buf`.
fn find_start(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'#') {
        let at = from + i;
        match buf.get(at + 1) {
            Some(b'#') => return Some(at),
            Some(_) => from = at + 1,
            None => return None,
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_len(field: &[u8]) -> Option<usize> {
    field.iter().try_fold(0usize, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + usize::from(c - b'0'))
    })
}

fn is_hex4(bytes: &[u8]) -> bool {
    bytes.len() == 4 && bytes.iter().all(u8::is_ascii_hexdigit)
}

enum Scan {
    /// The data segment ends at this offset (the CRC follows).
    End(usize),
    /// Another `##` starts at this offset before any end.
    Interrupted(usize),
    /// Neither yet.
    Incomplete,
}

/// Finds the structural end of the data segment of the frame at the start of `buf`
/// (the first `&&` after `CP=&&` that is followed by four hex digits), or the next `##`.
fn scan_structure(buf: &[u8], confirm: bool) -> Scan {
    let body = &buf[6..];
    let next_start = find_start(body).map(|p| p + 6);
    let limit = next_start.unwrap_or(buf.len());
    if let Some(cp) = find(&buf[6..limit], b"CP=&&") {
        let mut from = 6 + cp + 5;
        while let Some(p) = find(&buf[from..limit], b"&&") {
            let end = from + p + 2;
            if end + 4 <= buf.len() && is_hex4(&buf[end..end + 4]) {
                if !confirm {
                    return Scan::End(end);
                }
                let after = &buf[end + 4..];
                let confirmed = after.starts_with(b"\r\n")
                    || after.starts_with(b"\n")
                    || after.starts_with(b"##")
                    || (after.len() >= 2 && after[0] == b'\r');
                if confirmed {
                    return Scan::End(end);
                }
                return match next_start {
                    Some(n) if n > end + 4 => Scan::Interrupted(n),
                    _ => Scan::Incomplete,
                };
            }
            if end + 4 > buf.len() {
                break;
            }
            from = end - 1;
        }
    }
    match next_start {
        Some(n) => Scan::Interrupted(n),
        None => Scan::Incomplete,
    }
}

impl FrameDecoder {
    /// One decoding step; at the end of the stream (`eof`) nothing more can arrive, so a
    /// structural frame end needs no confirmation by a following terminator.
    fn step(&mut self, buf: &mut BytesMut, eof: bool) -> Option<FrameEvent> {
        if !self.absorb_tail(buf) {
            return None;
        }
        match find_start(buf) {
            Some(i) => {
                self.skipped += i;
                buf.advance(i);
            }
            None => {
                let keep = usize::from(buf.last() == Some(&b'#'));
                self.skipped += buf.len() - keep;
                buf.advance(buf.len() - keep);
                return None;
            }
        }
        if buf.len() < 6 {
            return None;
        }
        let Some(declared) = parse_len(&buf[2..6]) else {
            let field = String::from_utf8_lossy(&buf[2..6]).into_owned();
            return Some(self.reject(buf, 2, FrameError::InvalidLengthField { field }));
        };
        let limit = self.config.max_data_len.min(MAX_DATA_LEN);
        if declared > limit {
            return Some(self.reject(buf, 2, FrameError::LengthOverLimit { declared, limit }));
        }
        let declared_end = 6 + declared;
        let length_fits = buf.len() >= declared_end + 4;
        let end = if length_fits && declared >= 2 && &buf[declared_end - 2..declared_end] == b"&&" {
            declared_end
        } else {
            match scan_structure(buf, !length_fits && !eof) {
                Scan::End(end) => end,
                Scan::Interrupted(at) => {
                    let error = FrameError::Truncated {
                        declared,
                        received: at - 6,
                    };
                    return Some(self.reject(buf, at, error));
                }
                Scan::Incomplete => {
                    let max = self.config.max_frame_len();
                    if buf.len() >= max {
                        return Some(self.reject(buf, 2, FrameError::Unterminated { limit: max }));
                    }
                    buf.reserve((declared_end + 6).min(max).saturating_sub(buf.len()));
                    return None;
                }
            }
        };
        let crc_end = end + 4;
        let (terminator, consumed, tail) = match &buf[crc_end..] {
            [b'\r', b'\n', ..] => (Terminator::CrLf, 2, Tail::None),
            [b'\n', ..] => (Terminator::Lf, 1, Tail::None),
            [b'\r'] => (Terminator::Unseen, 1, Tail::Lf),
            [b'\r', ..] => (Terminator::Cr, 1, Tail::None),
            [] if eof => (Terminator::Missing, 0, Tail::None),
            [] => (Terminator::Unseen, 0, Tail::Any),
            _ => (Terminator::Missing, 0, Tail::None),
        };
        self.tail = tail;
        let raw = buf.split_to(crc_end + consumed).freeze();
        Some(FrameEvent::Frame(Frame {
            raw,
            data_start: 6,
            data_end: end,
            declared_len: declared,
            terminator,
            skipped_before: std::mem::take(&mut self.skipped),
        }))
    }
}

impl Decoder for FrameDecoder {
    type Item = FrameEvent;
    type Error = StreamError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<FrameEvent>, StreamError> {
        Ok(self.step(buf, false))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<FrameEvent>, StreamError> {
        if let Some(event) = self.step(buf, true) {
            return Ok(Some(event));
        }
        self.tail = Tail::None;
        if buf.is_empty() {
            if self.skipped > 0 {
                let bytes = std::mem::take(&mut self.skipped);
                return Ok(Some(FrameEvent::Rejected(RejectedBytes {
                    raw: Bytes::new(),
                    error: FrameError::TrailingGarbage { bytes },
                    skipped_before: 0,
                })));
            }
            return Ok(None);
        }
        let received = buf.len();
        let error = if buf.starts_with(b"##") {
            FrameError::TruncatedAtEof { received }
        } else {
            FrameError::TrailingGarbage {
                bytes: received + self.skipped,
            }
        };
        Ok(Some(self.reject(buf, received, error)))
    }
}

/// Writes one complete frame around `data`: `##`, the length, `data`, the HJ 212 CRC in upper-case
/// hex and CR LF. Fails when `data` is longer than the length field can express.
pub fn write_frame(data: &[u8], out: &mut BytesMut) -> Result<(), DataTooLong> {
    write_frame_with(data, crc::CrcVariant::Hj212, out)
}

/// As [`write_frame`], with the CRC computed by `variant` (to answer a device that needs it).
pub fn write_frame_with(
    data: &[u8],
    variant: crc::CrcVariant,
    out: &mut BytesMut,
) -> Result<(), DataTooLong> {
    if data.len() > MAX_DATA_LEN {
        return Err(DataTooLong { len: data.len() });
    }
    out.reserve(data.len() + FRAME_OVERHEAD);
    out.extend_from_slice(b"##");
    let len = data.len();
    let digits = [
        b'0' + (len / 1000) as u8,
        b'0' + (len / 100 % 10) as u8,
        b'0' + (len / 10 % 10) as u8,
        b'0' + (len % 10) as u8,
    ];
    out.extend_from_slice(&digits);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc::format_hex4(variant.compute(data)));
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// A data segment longer than the four-digit length field can express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("data segment of {len} bytes is longer than the maximum of 9999")]
pub struct DataTooLong {
    /// The length that was asked for.
    pub len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: &[u8] = b"##0107QN=20160801085857223;ST=32;CN=1000;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&OverTime=5;ReCount=3&&CAC1\r\n";

    fn decode_all(input: &[u8], chunk: usize) -> Vec<FrameEvent> {
        let mut d = FrameDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(e) = d.decode(&mut buf).expect("no io") {
                out.push(e);
            }
        }
        while let Some(e) = d.decode_eof(&mut buf).expect("no io") {
            out.push(e);
        }
        out
    }

    fn frames(events: &[FrameEvent]) -> Vec<&Frame> {
        events
            .iter()
            .filter_map(|e| match e {
                FrameEvent::Frame(f) => Some(f),
                FrameEvent::Rejected(_) => None,
            })
            .collect()
    }

    #[test]
    fn one_frame_any_split() {
        for chunk in 1..C1.len() + 1 {
            let events = decode_all(C1, chunk);
            assert_eq!(events.len(), 1, "chunk {chunk}: {events:?}");
            let f = frames(&events)[0];
            assert_eq!(f.data_len(), 107);
            assert!(f.length_matches());
            // A read boundary right after the CRC delivers the frame before its CR LF.
            let split_after_crc =
                (C1.len() - 2).is_multiple_of(chunk) || (C1.len() - 1).is_multiple_of(chunk);
            if split_after_crc {
                assert_eq!(f.terminator, Terminator::Unseen, "chunk {chunk}");
            } else {
                assert_eq!(f.terminator, Terminator::CrLf, "chunk {chunk}");
            }
            assert!(f.verify_crc().is_standard());
        }
    }

    #[test]
    fn garbage_between_frames_is_skipped_and_counted() {
        let mut input = b"xx#junk".to_vec();
        input.extend_from_slice(C1);
        input.extend_from_slice(b"\0\0##");
        input.extend_from_slice(C1);
        let events = decode_all(&input, 5);
        let fs = frames(&events);
        assert_eq!(fs.len(), 2, "{events:?}");
        assert_eq!(fs[0].skipped_before, 7);
        let rejected: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, FrameEvent::Rejected(_)))
            .collect();
        assert_eq!(rejected.len(), 1, "the stray ## is reported: {events:?}");
    }

    #[test]
    fn lf_only_and_missing_terminators() {
        let lf = b"##0087QN=20160801085000001;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&C241\n";
        let events = decode_all(lf, 1000);
        assert_eq!(frames(&events)[0].terminator, Terminator::Lf);
        let none = b"##0113QN=20210111180219000;ST=32;CN=3032;PW=123456;MN=20210107123456;Flag=5;CP=&&PolId=a34004,MB_BgnAddr=192,MB_Wrt=3&&0780";
        let mut two = none.to_vec();
        two.extend_from_slice(none);
        let events = decode_all(&two, 1000);
        let fs = frames(&events);
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[0].terminator, Terminator::Missing);
        // The last frame is delivered as soon as its CRC is in; the stream's end comes later.
        assert_eq!(fs[1].terminator, Terminator::Unseen);
        let single = Frame::from_bytes(none).expect("one frame");
        assert_eq!(single.terminator, Terminator::Missing);
    }

    #[test]
    fn frame_is_delivered_before_its_terminator_arrives() {
        let mut d = FrameDecoder::default();
        let mut buf = BytesMut::from(&C1[..C1.len() - 2]);
        let Some(FrameEvent::Frame(f)) = d.decode(&mut buf).expect("no io") else {
            panic!("frame expected")
        };
        assert_eq!(f.terminator, Terminator::Unseen);
        buf.extend_from_slice(b"\r");
        assert!(d.decode(&mut buf).expect("no io").is_none());
        buf.extend_from_slice(b"\n");
        buf.extend_from_slice(C1);
        let Some(FrameEvent::Frame(f)) = d.decode(&mut buf).expect("no io") else {
            panic!("second frame expected")
        };
        assert_eq!(f.skipped_before, 0, "the late CR LF is not garbage");
    }

    #[test]
    fn length_too_long_is_detected_without_waiting() {
        // skylakezf: declared 596, 496 bytes actually sent, LF terminated.
        let mut frame = b"##0596".to_vec();
        let data = b"QN=20210320163106355;ST=32;CN=2051;PW=123456;MN=81733553213013;Flag=4;CP=&&DataTime=20210320155000;w01018-Flag=N&&";
        frame.extend_from_slice(data);
        frame.extend_from_slice(b"42C0\n");
        let mut d = FrameDecoder::default();
        let mut buf = BytesMut::from(&frame[..]);
        let Some(FrameEvent::Frame(f)) = d.decode(&mut buf).expect("no io") else {
            panic!("frame expected")
        };
        assert_eq!(f.declared_len, 596);
        assert_eq!(f.data_len(), data.len());
        assert!(!f.length_matches());
        assert!(buf.is_empty());
    }

    #[test]
    fn length_too_short_uses_the_structure() {
        let data = b"QN=20160801085857223;ST=32;CN=1000;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&OverTime=5;ReCount=3&&";
        let mut frame = b"##0050".to_vec();
        frame.extend_from_slice(data);
        frame.extend_from_slice(b"CAC1\r\n");
        frame.extend_from_slice(C1);
        let events = decode_all(&frame, 3);
        let fs = frames(&events);
        assert_eq!(fs.len(), 2, "{events:?}");
        assert_eq!(fs[0].data_len(), data.len());
        assert_eq!(fs[0].declared_len, 50);
        assert!(fs[0].verify_crc().is_standard());
    }

    #[test]
    fn glued_fragment_is_rejected_and_next_frame_kept() {
        let mut input = C1[..60].to_vec();
        input.extend_from_slice(C1);
        let events = decode_all(&input, 7);
        assert!(matches!(
            &events[0],
            FrameEvent::Rejected(RejectedBytes {
                error: FrameError::Truncated { .. },
                ..
            })
        ));
        assert_eq!(frames(&events).len(), 1);
    }

    #[test]
    fn bad_length_fields() {
        let events = decode_all(b"##ABCD##12", 100);
        assert!(matches!(
            &events[0],
            FrameEvent::Rejected(RejectedBytes {
                error: FrameError::InvalidLengthField { .. },
                ..
            })
        ));
        let mut d = FrameDecoder::new(FrameConfig { max_data_len: 100 });
        let mut buf = BytesMut::from(C1);
        assert!(matches!(
            d.decode(&mut buf).expect("no io"),
            Some(FrameEvent::Rejected(RejectedBytes {
                error: FrameError::LengthOverLimit {
                    declared: 107,
                    limit: 100
                },
                ..
            }))
        ));
    }

    #[test]
    fn never_holds_more_than_the_cap() {
        let config = FrameConfig { max_data_len: 200 };
        let mut d = FrameDecoder::new(config);
        let mut buf = BytesMut::new();
        let mut noise = b"##0150QN=1;CP=&&".to_vec();
        noise.extend(std::iter::repeat_n(b'a', 5000));
        for piece in noise.chunks(64) {
            buf.extend_from_slice(piece);
            while d.decode(&mut buf).expect("no io").is_some() {}
            assert!(buf.len() < config.max_frame_len(), "{}", buf.len());
        }
    }

    #[test]
    fn write_frame_round_trips() {
        let data = b"QN=20160801085857223;ST=32;CN=1000;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&OverTime=5;ReCount=3&&";
        let mut out = BytesMut::new();
        write_frame(data, &mut out).expect("short");
        assert_eq!(&out[..], C1);
        let long = vec![b'a'; 10_000];
        assert_eq!(
            write_frame(&long, &mut out),
            Err(DataTooLong { len: 10_000 })
        );
    }
}
