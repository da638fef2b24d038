//! # envstd: judging data by the Chinese standards
//!
//! Pure functions, no I/O, no clock: the caller passes the date that selects a standard's
//! version. Every number comes from `../shared/docs/standards.md`, which says where each one was
//! read; numbers marked there as recalled or proposed are parameters here, with the documented
//! value as the default.
//!
//! Arithmetic is exact where the standards demand it: concentrations are [`Dec`] (an integer
//! mantissa and a decimal scale), rounded half to even (GB/T 8170) where a standard says so, and
//! the AQI's "round up" is an integer ceiling division on exact values, never a float `ceil`
//! (a float gives CO 2.2 mg/m³ an IAQI of 56 instead of 55). Noise levels are logarithmic and
//! use `f64`, reported to 0.1 dB.
//!
//! - [`aqi`]: IAQI, AQI, primary pollutants, level, category, colour, for HJ 633-2012 and
//!   HJ 633-2026 (in force 2026-03-01), real-time and daily, with the over-800 rules; daily and
//!   8-hour means with the minimum valid hours.
//! - [`water`]: GB 3838-2002 item classes, the single-factor section class, the deciding items,
//!   inferior V, compliance with a target class.
//! - [`noise`]: GB 3096-2008 Ld, Ln, Ldn from hourly Leq and the zone verdict.
//! - [`codes`]: which HJ 212 factor code is which AQI pollutant or GB 3838 item.
//! - [`emission`]: O2-converted concentration, reference O2 by source type, hourly validity,
//!   exceedance, data transmission effective rate.

pub mod aqi;
pub mod codes;
pub mod dec;
pub mod emission;
pub mod noise;
pub mod water;

pub use dec::Dec;

/// Input that no standard can judge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not a decimal number.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// A name the standard does not know.
    #[error("unknown {what} {name:?} (known: {known})")]
    Unknown {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names known.
        known: String,
    },
    /// A value that cannot be (negative concentration, O2 ≥ 21 %, ...).
    #[error("{0}")]
    Impossible(String),
}
