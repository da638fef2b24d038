//! The commit stream: what the write path made durable, told to whoever reacts to data.
//!
//! The store's writer publishes a [`Committed`] for every frame whose observations it stored
//! (new or replacing earlier values), after the transaction commits; the alarm engine (and
//! anything else that reacts to data) subscribes. The trait is small so that a message bus
//! (NATS JetStream) can carry the same stream between processes: publishing never blocks the
//! writer, and a subscriber that fell behind is told how much it missed ([`Received::Missed`])
//! rather than silently skipping, so it can re-read the store.

use std::future::Future;
use std::pin::Pin;

use crate::Observation;

/// Data made durable: which (series, code, DataTime) of which point changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The monitoring point the frame's MN belongs to.
    pub point_id: String,
    /// The observations stored (new or replacing earlier values).
    pub observations: Vec<Observation>,
    /// When the frame was received (Unix ms), for the packet → alarm latency.
    pub received_ms: i64,
}

/// What a subscriber receives next.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A commit.
    Commit(Committed),
    /// The subscriber fell behind and this many commits were dropped for it: what it derived
    /// from the stream must be re-read from the store.
    Missed(u64),
    /// The stream ended (the writer stopped).
    Closed,
}

/// A boxed future, for object-safe async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One subscription to a [`CommitStream`].
pub trait CommitReceiver: Send {
    /// Waits for the next commit.
    fn recv(&mut self) -> BoxFuture<'_, Received>;
    /// The next commit if one is waiting (for batching what has queued up).
    fn try_recv(&mut self) -> Option<Received>;
}

/// Where the write path publishes what it committed.
pub trait CommitStream: Send + Sync + 'static {
    /// Publishes commits, in commit order; never blocks.
    fn publish(&self, commits: Vec<Committed>);
    /// Commits published from now on.
    fn subscribe(&self) -> Box<dyn CommitReceiver>;
}
