//! Where alarm events go once written: the live stream (Server-Sent Events in the server) and
//! the packet → alarm latency figures.

use std::sync::Mutex;

use domain::AlarmEvent;
use hdrhistogram::Histogram;
use tokio::sync::{broadcast, watch};

/// Live alarm events and the engine's latency figures.
pub struct AlarmHub {
    events: broadcast::Sender<AlarmEvent>,
    /// Turns true at shutdown: live streams end so the HTTP server can stop.
    closing: watch::Sender<bool>,
    /// Packet receive → alarm event published, ms, since the start (1 ms to an hour, 3
    /// significant digits: a fixed few kilobytes however many events).
    latencies_ms: Mutex<Histogram<u64>>,
}

impl Default for AlarmHub {
    fn default() -> Self {
        Self {
            events: broadcast::channel(16_384).0,
            closing: watch::channel(false).0,
            latencies_ms: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000, 3).expect("constant bounds are valid"),
            ),
        }
    }
}

impl AlarmHub {
    /// Ends every live stream (shutdown).
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }

    /// Events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AlarmEvent> {
        self.events.subscribe()
    }

    /// Turns true when live streams are to end.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Publishes an event; `received_ms` is when the data that caused it were received, for the
    /// latency figures (none for a user's action).
    pub fn publish(&self, e: AlarmEvent, received_ms: Option<i64>, now_ms: i64) {
        if let Some(r) = received_ms
            && let Ok(mut l) = self.latencies_ms.lock()
        {
            l.saturating_record((now_ms - r).max(1) as u64);
        }
        let _ = self.events.send(e);
    }

    /// p50 and p99 of packet → alarm latency, ms.
    pub fn latency_percentiles(&self) -> Option<(u64, u64)> {
        let l = self.latencies_ms.lock().ok()?;
        if l.is_empty() {
            return None;
        }
        Some((l.value_at_quantile(0.5), l.value_at_quantile(0.99)))
    }
}
