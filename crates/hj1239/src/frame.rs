//! The packet header and its checks (HJ 1239 / GB 17691; `../shared/docs/obd.md` §2):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | start `##` |
//! | 2 | 1 | command unit |
//! | 3 | 17 | VIN (ASCII) |
//! | 20 | 1 | terminal software version |
//! | 21 | 1 | encryption (`01` none, `02` RSA, `03` SM2, `FE` abnormal, `FF` invalid) |
//! | 22 | 2 | data-unit length N (0–65531) |
//! | 24 | N | data unit |
//! | 24+N | 1 | BCC: XOR of bytes 2 .. 24+N |
//!
//! There is no response flag: a platform's reply reuses the header with the same command.

/// Bytes of a frame besides its data unit.
pub const OVERHEAD: usize = 25;

/// The largest data unit the length field may announce.
pub const MAX_DATA: usize = 65_531;

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// It does not start with `##`.
    #[error("a frame starts with ## (23 23)")]
    Start,
    /// Fewer bytes than the header and BCC.
    #[error("{0} bytes: a frame has at least 25")]
    Short(usize),
    /// The length field announces more than the protocol allows.
    #[error("data-unit length {0} is above 65531")]
    TooLong(usize),
    /// The bytes are not as many as the length field says.
    #[error("{got} bytes, the length field says {want}")]
    Length {
        /// Bytes given.
        got: usize,
        /// 25 plus the announced data unit.
        want: usize,
    },
    /// The check byte does not match.
    #[error("BCC {given:02X}, computed {computed:02X}")]
    Bcc {
        /// The frame's last byte.
        given: u8,
        /// XOR of command unit through data unit.
        computed: u8,
    },
    /// The VIN field is not ASCII (letters and digits, for the framer).
    #[error("the VIN field is not ASCII letters and digits: {0:02X?}")]
    VinNotAscii(Vec<u8>),
    /// An unknown command unit or encryption byte after a `##` in a stream.
    #[error("no header: command unit {command:02X}, encryption {encryption:02X}")]
    Header {
        /// The byte after `##`.
        command: u8,
        /// The encryption byte.
        encryption: u8,
    },
}

/// One checked frame, borrowing its data unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Command unit (see [`crate::Command`]).
    pub command: u8,
    /// The VIN as sent (its syntax and check digit are [`crate::vin::check`]'s business).
    pub vin: String,
    /// Terminal software version.
    pub software_version: u8,
    /// Encryption byte.
    pub encryption: u8,
    /// The data unit (ciphertext when encrypted).
    pub data: &'a [u8],
}

/// Text that is not hexadecimal bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not hexadecimal bytes: {0}")]
pub struct HexError(pub String);

/// Bytes written as hexadecimal text (whitespace ignored), as frames are quoted in documents
/// and logs.
pub fn from_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(HexError("an odd number of digits".into()));
    }
    digits
        .chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| HexError(format!("{:?}", String::from_utf8_lossy(p))))
        })
        .collect()
}

/// XOR of `bytes`.
pub fn bcc(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

impl<'a> Frame<'a> {
    /// Checks and reads exactly one frame: start, length, BCC, ASCII VIN.
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        if bytes.len() < 2 || &bytes[..2] != b"##" {
            return Err(FrameError::Start);
        }
        if bytes.len() < OVERHEAD {
            return Err(FrameError::Short(bytes.len()));
        }
        let n = usize::from(u16::from_be_bytes([bytes[22], bytes[23]]));
        if n > MAX_DATA {
            return Err(FrameError::TooLong(n));
        }
        if bytes.len() != n + OVERHEAD {
            return Err(FrameError::Length {
                got: bytes.len(),
                want: n + OVERHEAD,
            });
        }
        let computed = bcc(&bytes[2..24 + n]);
        let given = bytes[24 + n];
        if computed != given {
            return Err(FrameError::Bcc { given, computed });
        }
        let vin = &bytes[3..20];
        if !vin.is_ascii() {
            return Err(FrameError::VinNotAscii(vin.to_vec()));
        }
        Ok(Frame {
            command: bytes[2],
            vin: String::from_utf8_lossy(vin).into_owned(),
            software_version: bytes[20],
            encryption: bytes[21],
            data: &bytes[24..24 + n],
        })
    }

    /// The frame's bytes, with its BCC. The VIN is written as 17 bytes: cut or padded with
    /// spaces if it is not 17 long; a data unit above [`MAX_DATA`] is an error.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        if self.data.len() > MAX_DATA {
            return Err(FrameError::TooLong(self.data.len()));
        }
        let mut out = Vec::with_capacity(self.data.len() + OVERHEAD);
        out.extend_from_slice(b"##");
        out.push(self.command);
        let mut vin = [b' '; 17];
        for (d, s) in vin.iter_mut().zip(self.vin.bytes()) {
            *d = s;
        }
        out.extend_from_slice(&vin);
        out.push(self.software_version);
        out.push(self.encryption);
        out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
        out.extend_from_slice(self.data);
        out.push(bcc(&out[2..]));
        Ok(out)
    }
}

/// What a [`Framer`] gives: a frame's bytes (checked by [`Frame::parse`]), or bytes it skipped
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// A whole frame whose start, length and BCC are right.
    Frame(Vec<u8>),
    /// Bytes that are not a frame, skipped up to the next `##`.
    Skipped {
        /// The bytes skipped.
        bytes: Vec<u8>,
        /// Why the first of them did not start a frame.
        reason: FrameError,
    },
}

/// Cuts a byte stream into frames. Garbage before a `##`, and a `##` whose length or BCC is
/// wrong, are skipped up to the next `##` (the search goes byte by byte, so a start at an odd
/// offset is not missed) and reported, so one bad frame costs that frame only.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes held (what is left of a stream that ended inside a frame).
    pub fn take(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes held that are not a whole frame yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next frame or skipped run; `None` until more bytes are needed.
    pub fn next_cut(&mut self) -> Option<Cut> {
        let start = find_start(&self.buf, 0);
        match start {
            Some(0) => {}
            Some(s) => return Some(self.skip(s, FrameError::Start)),
            None => {
                // Keep a last '#' that may begin the next start.
                let keep = usize::from(self.buf.last() == Some(&b'#'));
                let cut = self.buf.len() - keep;
                return (cut > 0).then(|| self.skip(cut, FrameError::Start));
            }
        }
        if self.buf.len() < OVERHEAD {
            return None;
        }
        // A `##` inside garbage or a frame's body must not make the framer wait for the length
        // its next bytes happen to spell: the header is checked first.
        if let Err(e) = plausible_header(&self.buf[..24]) {
            return Some(self.skip_to_next_start(e));
        }
        let n = usize::from(u16::from_be_bytes([self.buf[22], self.buf[23]]));
        if n > MAX_DATA {
            return Some(self.skip_to_next_start(FrameError::TooLong(n)));
        }
        if self.buf.len() < n + OVERHEAD {
            return None;
        }
        match Frame::parse(&self.buf[..n + OVERHEAD]) {
            Ok(_) => {
                let rest = self.buf.split_off(n + OVERHEAD);
                Some(Cut::Frame(std::mem::replace(&mut self.buf, rest)))
            }
            Err(e) => Some(self.skip_to_next_start(e)),
        }
    }

    fn skip(&mut self, n: usize, reason: FrameError) -> Cut {
        let rest = self.buf.split_off(n);
        Cut::Skipped {
            bytes: std::mem::replace(&mut self.buf, rest),
            reason,
        }
    }

    /// Skips this `##` and what follows up to the next one (or all but a trailing `#`).
    fn skip_to_next_start(&mut self, reason: FrameError) -> Cut {
        let next = find_start(&self.buf, 1).unwrap_or_else(|| {
            self.buf.len() - usize::from(self.buf.last() == Some(&b'#') && self.buf.len() > 2)
        });
        self.skip(next.max(1), reason)
    }
}

/// Whether 24 bytes can be a header: a known command unit, an ASCII alphanumeric VIN field and
/// a known encryption byte.
fn plausible_header(h: &[u8]) -> Result<(), FrameError> {
    let command_known = matches!(h[2], 0x01..=0x08 | 0x80);
    let vin = &h[3..20];
    let encryption_known = matches!(h[21], 0x01 | 0x02 | 0x03 | 0xFE | 0xFF);
    if !vin.iter().all(u8::is_ascii_alphanumeric) {
        return Err(FrameError::VinNotAscii(vin.to_vec()));
    }
    if !command_known || !encryption_known {
        return Err(FrameError::Header {
            command: h[2],
            encryption: h[21],
        });
    }
    Ok(())
}

/// The offset of the first `##` at or after `from`.
fn find_start(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"##")
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        from_hex(s).expect("hex")
    }

    const LOGIN: &str = "2323014C47444348393147384B413134313236390101001C1401080E0806000338393836313131393232323033353530373837373A";
    const LOGOUT: &str = "2323044C47365A44414E4837455932303831383202010008140911132E34001A5E";

    #[test]
    fn the_worked_frames_parse_and_encode_back() {
        for (text, command, vin, n) in [
            (LOGIN, 1, "LGDCH91G8KA141269", 28),
            (LOGOUT, 4, "LG6ZDANH7EY208182", 8),
        ] {
            let bytes = hex(text);
            let f = Frame::parse(&bytes).expect("frame");
            assert_eq!(
                (f.command, f.vin.as_str(), f.encryption, f.data.len()),
                (command, vin, 1, n)
            );
            assert_eq!(f.encode().expect("encode"), bytes);
        }
    }

    #[test]
    fn bad_frames_say_what_is_wrong() {
        let mut b = hex(LOGOUT);
        let last = b.len() - 1;
        b[last] ^= 0xFF;
        assert!(matches!(Frame::parse(&b), Err(FrameError::Bcc { .. })));
        assert_eq!(Frame::parse(&b[..20]), Err(FrameError::Short(20)));
        assert_eq!(
            Frame::parse(&hex(LOGOUT)[..32]),
            Err(FrameError::Length { got: 32, want: 33 })
        );
        assert_eq!(Frame::parse(b"$$"), Err(FrameError::Start));
        assert_eq!(from_hex("23 23\n01"), Ok(vec![0x23, 0x23, 0x01]));
        assert!(from_hex("232").is_err());
        assert!(from_hex("23ZZ").is_err());
    }

    #[test]
    fn the_framer_resynchronises_after_garbage_and_bad_frames() {
        let (login, logout) = (hex(LOGIN), hex(LOGOUT));
        let mut bad = logout.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut stream = b"noise#".to_vec();
        stream.extend_from_slice(&login);
        stream.extend_from_slice(&bad);
        stream.extend_from_slice(&logout);
        let mut f = Framer::default();
        // Fed a byte at a time, as a slow link would.
        let mut cuts = Vec::new();
        for b in &stream {
            f.push(&[*b]);
            while let Some(c) = f.next_cut() {
                cuts.push(c);
            }
        }
        let frames: Vec<&Vec<u8>> = cuts
            .iter()
            .filter_map(|c| match c {
                Cut::Frame(b) => Some(b),
                Cut::Skipped { .. } => None,
            })
            .collect();
        assert_eq!(frames, [&login, &logout]);
        let skipped: usize = cuts
            .iter()
            .map(|c| match c {
                Cut::Skipped { bytes, .. } => bytes.len(),
                Cut::Frame(_) => 0,
            })
            .sum();
        assert_eq!(
            skipped,
            6 + bad.len(),
            "the noise and the bad frame, nothing else"
        );
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn frames_between_random_garbage_in_random_chunks_all_come_out_in_order() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut stream = Vec::new();
        let mut frames = Vec::new();
        for k in 0..200u32 {
            for _ in 0..next() % 40 {
                // Garbage, with single '#'s but no "##".
                let b = (next() % 256) as u8;
                if !(b == b'#' && stream.last() == Some(&b'#')) {
                    stream.push(b);
                }
            }
            if stream.last() == Some(&b'#') {
                stream.push(0);
            }
            let data: Vec<u8> = (0..next() % 300).map(|_| (next() % 256) as u8).collect();
            let f = Frame {
                command: 0x02,
                vin: "LGDCHA1G8MA127733".into(),
                software_version: (k % 256) as u8,
                encryption: 0x01,
                data: &data,
            }
            .encode()
            .expect("encode");
            stream.extend_from_slice(&f);
            frames.push(f);
        }
        let mut framer = Framer::default();
        let mut got = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            let n = (1 + next() % 700) as usize;
            let end = (at + n).min(stream.len());
            framer.push(&stream[at..end]);
            at = end;
            while let Some(c) = framer.next_cut() {
                if let Cut::Frame(b) = c {
                    got.push(b);
                }
            }
        }
        assert_eq!(got.len(), frames.len());
        assert_eq!(got, frames);
    }
}
