//! # simulator: data loggers that speak HJ 212 to a real server
//!
//! A [`Logger`] produces the packets a pollution-source data logger sends: minute data (2051)
//! for a set of factors, each a bounded random walk with the logger's decimals, DataTime
//! advancing by the report interval, a fresh QN per packet, and `Flag` asking for an answer.
//! A [`Link`] is the logger's TCP connection: it sends a frame and waits for the answer,
//! reading with the same [`hj212::FrameDecoder`] the server uses, and checks that the answer
//! is the data acknowledgement (9014) of that QN.
//!
//! `huanghe bench ingest` drives thousands of these against a server; the end-to-end tests use
//! them to know exactly which packets were acknowledged. Randomness is seeded (`fastrand`), so a
//! run is reproducible.
//!
//! The fleet ([`fleet`], [`run`], [`scenario`]) is the whole-city simulator behind
//! `huanghe simulate` and `huanghe demo`: every registered point as a device of its kind with
//! value models, scripted incidents with a label file, a simulated clock with a speed factor,
//! backfill, loggers' retry and re-send behaviour, and answers to the platform's commands.

pub mod fleet;
pub mod run;
pub mod scenario;
pub mod truck;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hj212::packet::Version;
use hj212::{DataArea, FieldKind, Flag, FrameDecoder, FrameEvent, LocalTime, Message, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

/// A simulated exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The connection failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// No answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// The answer was not the expected one.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// A packet could not be built.
    #[error("encoding: {0}")]
    Encode(#[from] hj212::EncodeError),
}

/// Factors of a flue-gas outlet (CEMS): code, typical value, spread, decimals.
pub const GAS_FACTORS: &[(&str, f64, f64, u32)] = &[
    ("a21026", 35.0, 8.0, 2),         // SO2, mg/m3
    ("a21002", 80.0, 15.0, 2),        // NOx
    ("a34013", 6.0, 2.0, 2),          // particulate matter
    ("a19001", 9.5, 1.0, 2),          // O2, %
    ("a01011", 12.0, 1.5, 2),         // flue-gas velocity, m/s
    ("a01012", 55.0, 3.0, 1),         // temperature, degC
    ("a01013", -0.3, 0.2, 3),         // static pressure, kPa
    ("a01014", 8.0, 1.0, 2),          // humidity, %
    ("a00000", 52_000.0, 3_000.0, 1), // flue-gas flow, m3/h
    ("a21005", 0.4, 0.2, 3),          // CO
];

/// One simulated data logger.
#[derive(Debug, Clone)]
pub struct Logger {
    /// MN.
    pub mn: String,
    /// PW.
    pub password: String,
    /// ST (31: flue gas).
    pub st: String,
    /// Factors: code, centre, spread, decimals.
    pub factors: Vec<(String, f64, f64, u32)>,
    /// DataTime of the next packet, Unix seconds.
    pub next_time: i64,
    /// Seconds between DataTimes.
    pub interval_s: i64,
    rng: fastrand::Rng,
    walk: Vec<f64>,
}

impl Logger {
    /// A flue-gas logger with the first `factors` of [`GAS_FACTORS`], minute data from
    /// `start` (Unix seconds), random walk seeded by `seed`.
    pub fn gas(mn: &str, password: &str, factors: usize, start: i64, seed: u64) -> Self {
        let factors: Vec<(String, f64, f64, u32)> = GAS_FACTORS
            .iter()
            .cycle()
            .take(factors)
            .enumerate()
            .map(|(i, (c, centre, spread, d))| {
                // More factors than the table: repeat its shapes under made-up codes.
                let code = if i < GAS_FACTORS.len() {
                    (*c).to_owned()
                } else {
                    format!("a99{i:03}")
                };
                (code, *centre, *spread, *d)
            })
            .collect();
        let walk = factors.iter().map(|f| f.1).collect();
        Self {
            mn: mn.to_owned(),
            password: password.to_owned(),
            st: "31".to_owned(),
            factors,
            next_time: start,
            interval_s: 60,
            rng: fastrand::Rng::with_seed(seed),
            walk,
        }
    }

    fn random(&mut self) -> f64 {
        self.rng.f64()
    }

    /// Values stored per packet (Min, Avg, Max and Flag of every factor).
    pub fn values_per_packet(&self) -> usize {
        self.factors.len() * 4
    }

    /// The next minute-data packet (2051) as a message, with its QN and DataTime; `now_ms` is
    /// the QN's clock.
    pub fn next_message(&mut self, now_ms: i64) -> (String, i64, Message) {
        let qn = LocalTime::from_unix_millis(now_ms).to_qn();
        let t = self.next_time;
        self.next_time += self.interval_s;
        let mut cp = DataArea::new().data_time(LocalTime::from_unix_millis(t * 1000));
        for i in 0..self.factors.len() {
            let (code, centre, spread, decimals) = self.factors[i].clone();
            let step = (self.random() - 0.5) * spread * 0.2;
            let pull = (centre - self.walk[i]) * 0.05;
            self.walk[i] += step + pull;
            let avg = self.walk[i];
            let lo = avg - self.random() * spread * 0.1;
            let hi = avg + self.random() * spread * 0.1;
            let d = decimals as usize;
            let fmt = |v: f64| format!("{v:.d$}");
            let flag = if self.random() < 0.001 { "D" } else { "N" };
            cp = cp.pollutant(
                &code,
                &[
                    (FieldKind::Min, fmt(lo)),
                    (FieldKind::Avg, fmt(avg)),
                    (FieldKind::Max, fmt(hi)),
                    (FieldKind::Flag, flag.to_owned()),
                ],
            );
        }
        let message = Message::new(
            Some(&qn),
            &self.st,
            "2051",
            Some(&self.password),
            Some(&self.mn),
            Some(Flag::new(Version::V2017, false, true)),
        )
        .with_cp(cp);
        (qn, t, message)
    }
}

/// A logger's TCP connection to the server.
pub struct Link {
    stream: TcpStream,
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl Link {
    /// Connects.
    pub async fn connect(addr: SocketAddr) -> Result<Self, SimError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            decoder: FrameDecoder::default(),
            buf: BytesMut::with_capacity(1024),
        })
    }

    /// Wraps an accepted connection (a test playing the platform's side).
    pub fn from_stream(stream: TcpStream) -> Self {
        Self {
            stream,
            decoder: FrameDecoder::default(),
            buf: BytesMut::with_capacity(1024),
        }
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), SimError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Reads the next frame the server sends, within `timeout`.
    pub async fn read_packet(&mut self, timeout: Duration) -> Result<Packet, SimError> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(event) = self
                .decoder
                .decode(&mut self.buf)
                .map_err(|e| SimError::Unexpected(e.to_string()))?
            {
                if let FrameEvent::Frame(f) = event {
                    return Packet::decode(&f).map_err(|e| SimError::Unexpected(e.to_string()));
                }
            }
            self.buf.reserve(1024);
            let read =
                tokio::time::timeout_at(deadline.into(), self.stream.read_buf(&mut self.buf))
                    .await
                    .map_err(|_| SimError::Timeout(timeout))??;
            if read == 0 {
                return Err(SimError::Closed);
            }
        }
    }

    /// Sends a data packet and waits for its acknowledgement (9014 with the same QN);
    /// returns the time from sending to the answer.
    pub async fn send_data(
        &mut self,
        message: &Message,
        qn: &str,
        timeout: Duration,
    ) -> Result<Duration, SimError> {
        let bytes = message.encode()?;
        let sent = Instant::now();
        self.send(&bytes).await?;
        let answer = self.read_packet(timeout).await?;
        let elapsed = sent.elapsed();
        if answer.cn() != "9014" || answer.exchange_qn() != Some(qn) {
            return Err(SimError::Unexpected(format!(
                "CN={} QN={:?} for QN={qn}",
                answer.cn(),
                answer.exchange_qn()
            )));
        }
        Ok(elapsed)
    }

    /// Waits until the server closes the connection (or `timeout` passes); bytes it sends
    /// meanwhile are returned.
    pub async fn closed_within(&mut self, timeout: Duration) -> Result<Vec<u8>, SimError> {
        let deadline = Instant::now() + timeout;
        let mut got = self.buf.split().to_vec();
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline.into(), self.stream.read(&mut chunk)).await {
                Err(_) => return Err(SimError::Timeout(timeout)),
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
                Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_valid_minute_data_with_advancing_times() {
        let mut logger = Logger::gas("MN0001", "123456", 8, 1_700_000_000, 7);
        let (qn1, t1, m1) = logger.next_message(1_700_000_000_123);
        let (_, t2, m2) = logger.next_message(1_700_000_000_456);
        assert_eq!(t2 - t1, 60);
        let frame = m1.encode().expect("encodes");
        let mut buf = BytesMut::from(&frame[..]);
        let Some(FrameEvent::Frame(f)) = FrameDecoder::default().decode(&mut buf).expect("frame")
        else {
            panic!("one frame");
        };
        let p = Packet::decode(&f).expect("decodes");
        assert!(p.is_valid(), "{:?}", p.deviations());
        assert_eq!(p.cn(), "2051");
        assert_eq!(p.exchange_qn(), Some(qn1.as_str()));
        assert_eq!(p.pollutants().count(), 8);
        assert_eq!(logger.values_per_packet(), 32);
        assert_ne!(m1.cp, m2.cp);
    }
}
