//! # hj212: the HJ 212 environmental monitoring protocol, without I/O
//!
//! HJ 212 is how China's pollution-source data loggers and air, water and noise stations talk to
//! monitoring platforms: ASCII packets `##LLLL<data>CCCC\r\n` over TCP. This crate implements
//! HJ/T 212-2005, HJ 212-2017 (the installed base) and HJ 212-2025 as far as it is known, and is
//! built for what real devices send rather than for what the standard prints.
//!
//! ## Layers
//!
//! Data flows one way through small layers, each usable on its own:
//!
//! 1. [`frame`]: a [`FrameDecoder`] (a `tokio_util` codec) cuts frames from a byte stream split
//!    anywhere, skips garbage, survives lying lengths, missing terminators and glued reads, and
//!    never buffers more than one frame's cap.
//! 2. [`crc`]: the Appendix A CRC (word-folded, see the module docs for why that is exact) and
//!    the MODBUS variants devices use instead; the verdict names the variant.
//! 3. [`packet`]: a [`Packet`] is the decoded frame: header, CP items grouped per pollutant with
//!    exact decimals, DataTime, and the list of named [`Deviation`]s. Parsing is tolerant;
//!    [`Packet::is_valid`] is strict.
//! 4. [`message`]: a [`Message`] is the owned, editable form used to build uploads, replies
//!    ([`ReplyTo`]) and to split long messages; [`command`] maps the host commands of Appendix C
//!    to and from messages; [`reassembly`] puts split messages back together.
//! 5. [`exchange`]: the exchange rules as pure state machines: which reply a received packet is
//!    owed, and the host side of a command exchange with its timeouts and retries as data.
//!
//! [`codes`] holds the code tables (factors, ST, CN, QnRtn, ExeRtn, data flags, the 2005 to
//! 2017 code mapping) and [`time`] the protocol timestamps (Beijing time, no zone on the wire).
//!
//! ## Bytes, not characters
//!
//! Length and CRC are computed over the transmitted bytes. The text is decoded as UTF-8 (2017
//! §6.3) and, failing that, as GBK, and the encoding is reported.
//!
//! ## Example
//!
//! ```
//! use hj212::{Packet, ReplyTo};
//! let frame = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
//! let packet = Packet::from_frame_bytes(frame).unwrap();
//! assert!(packet.is_valid());
//! assert_eq!(packet.param("RtdInterval"), Some("30"));
//! let answer = ReplyTo::from_packet(&packet).request_answer(hj212::codes::QnRtn::Ready);
//! assert_eq!(answer.cn(), Some("9011"));
//! ```

pub mod codes;
pub mod command;
pub mod cp;
pub mod crc;
pub mod exchange;
pub mod frame;
pub mod message;
pub mod number;
pub mod packet;
pub mod reassembly;
pub mod time;

pub use command::{Command, CommandError, HistoryKind, Target};
pub use cp::FieldKind;
pub use crc::{CrcVariant, CrcVerdict};
pub use frame::{Frame, FrameConfig, FrameDecoder, FrameError, FrameEvent, Terminator};
pub use message::{DataArea, EncodeError, Message, ReplyTo};
pub use number::Decimal;
pub use packet::{
    DecodeError, Deviation, Flag, Packet, Pollutant, Severity, TextEncoding, Value, Version,
    frame_text, mask_password,
};
pub use time::LocalTime;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod proptests;
