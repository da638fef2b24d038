//! # hj1239: the heavy-duty vehicle remote emission monitoring protocol (HJ 1239 / GB 17691)
//!
//! Pure, no I/O, like `hj212`: bytes in, typed messages out, and back. Three layers:
//!
//! - [`frame`]: the packet header (`##`, command unit, VIN, software version, encryption,
//!   data-unit length, data unit, BCC), its checks in the order a receiver should make them
//!   (cheapest first: start, length, BCC), and a [`frame::Framer`] that cuts a TCP byte stream
//!   into frames and resynchronises on the next `##` after garbage, reporting what it skipped;
//! - [`message`]: the command units (vehicle login and logout, real-time and reissued reports,
//!   time calibration, the anti-removal alarm, activation and its reply) decoded from a frame's
//!   data unit and encoded back, for the front door, the simulator and the tests;
//! - [`report`]: a report's information items in its three layouts (GB 17691 Annex Q,
//!   HJ 1239-2021 with the packet signature, the 2019 draft with one signature per item), chosen
//!   per terminal or detected; the OBD body with typed DTCs and monitor maps, the diesel, gas
//!   and hybrid streams and the vendor supplement, invalid markers as `None`;
//! - [`sign`]: SM2 signature verification (and signing, for the simulator) with the signer ID
//!   as a setting;
//! - [`vin`]: VIN syntax and the GB 16735 check digit, and [`time`]: the protocol's six-byte
//!   Beijing time.
//!
//! Every multi-byte integer is big-endian. A frame's data unit is kept as bytes until asked
//! for: a front door can store the raw frame durably before decoding its body.

pub mod frame;
#[cfg(feature = "serde")]
pub mod json;
pub mod message;
pub mod report;
pub mod sign;
pub mod time;
pub mod vin;

#[cfg(test)]
mod proptests;

pub use frame::{Frame, FrameError, Framer};
pub use message::{Activation, Command, Message, MessageError};
pub use time::Time;
pub use vin::VinError;
