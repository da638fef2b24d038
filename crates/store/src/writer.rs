//! The write path: one writer thread commits frames in batches (group commit), answers each
//! frame's sender once it is durable, and then publishes what it committed on the commit
//! stream.
//!
//! Front doors hand frames to a [`Handoff`] and wait for its answer before acknowledging the
//! device; [`Writer`] is the embedded implementation over a [`Store`]. A message bus (NATS
//! JetStream) is to implement the same trait. [`LocalCommits`] is the in-process commit stream
//! (a bounded broadcast: a subscriber that falls behind is told how many commits it missed).

use std::sync::Arc;

use domain::{BoxFuture, CommitReceiver, CommitStream, Committed, Received};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{Ingest, IngestResult, Store};

/// The hand-off between a front door and durable storage: a frame goes in, and the future
/// resolves once it is durable (committed to the store, or persisted by a bus), with what
/// became of it. The front door answers the device only then.
pub trait Handoff: Send + Sync + 'static {
    /// Makes `ingest` durable.
    fn submit(&self, ingest: Ingest) -> BoxFuture<'_, Result<IngestResult, String>>;
}

struct Job {
    ingest: Ingest,
    done: oneshot::Sender<Result<IngestResult, String>>,
}

/// The single writer: commits frames from all connections in batches.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Handoff for Writer {
    fn submit(&self, ingest: Ingest) -> BoxFuture<'_, Result<IngestResult, String>> {
        Box::pin(self.commit(ingest))
    }
}

impl Writer {
    /// Starts the writer thread over `store`, publishing to `commits`; it ends when every
    /// `Writer` clone is dropped, after committing what was queued.
    pub fn start(
        store: Arc<dyn Store>,
        max_batch: usize,
        commits: Arc<dyn CommitStream>,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, mut rx) = mpsc::channel::<Job>(max_batch.max(1) * 4);
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < max_batch {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let (ingests, dones): (Vec<Ingest>, Vec<_>) =
                        batch.into_iter().map(|j| (j.ingest, j.done)).unzip();
                    match store.commit(&ingests) {
                        Ok(results) => {
                            let mut published = Vec::new();
                            for ((ingest, done), result) in ingests.into_iter().zip(dones).zip(results)
                            {
                                if result.inserted + result.replaced > 0
                                    && let Some(first) = ingest.observations.first()
                                {
                                    published.push(Committed {
                                        point_id: first.point_id.clone(),
                                        received_ms: ingest.record.received_ms,
                                        observations: ingest.observations,
                                    });
                                }
                                let _ = done.send(Ok(result));
                            }
                            if !published.is_empty() {
                                commits.publish(published);
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, frames = dones.len(), "commit failed; frames not acknowledged");
                            for done in dones {
                                let _ = done.send(Err(e.to_string()));
                            }
                        }
                    }
                }
            })?;
        Ok((Self { jobs }, handle))
    }

    /// Queues a frame and waits until it is durably committed.
    pub async fn commit(&self, ingest: Ingest) -> Result<IngestResult, String> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job { ingest, done })
            .await
            .map_err(|_| "writer stopped".to_owned())?;
        wait.await.map_err(|_| "writer stopped".to_owned())?
    }
}

/// The in-process commit stream.
pub struct LocalCommits {
    tx: broadcast::Sender<Committed>,
}

impl LocalCommits {
    /// A stream holding up to `capacity` commits for a subscriber that has not read them yet.
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity.max(1)).0,
        }
    }
}

impl Default for LocalCommits {
    fn default() -> Self {
        Self::new(65_536)
    }
}

impl CommitStream for LocalCommits {
    fn publish(&self, commits: Vec<Committed>) {
        for c in commits {
            // No subscriber yet is not an error: nothing reacts to data then.
            let _ = self.tx.send(c);
        }
    }

    fn subscribe(&self) -> Box<dyn CommitReceiver> {
        Box::new(LocalReceiver(self.tx.subscribe()))
    }
}

struct LocalReceiver(broadcast::Receiver<Committed>);

fn received(r: Result<Committed, broadcast::error::RecvError>) -> Received {
    match r {
        Ok(c) => Received::Commit(c),
        Err(broadcast::error::RecvError::Lagged(n)) => Received::Missed(n),
        Err(broadcast::error::RecvError::Closed) => Received::Closed,
    }
}

impl CommitReceiver for LocalReceiver {
    fn recv(&mut self) -> BoxFuture<'_, Received> {
        Box::pin(async move { received(self.0.recv().await) })
    }

    fn try_recv(&mut self) -> Option<Received> {
        match self.0.try_recv() {
            Ok(c) => Some(Received::Commit(c)),
            Err(broadcast::error::TryRecvError::Empty) => None,
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Received::Missed(n)),
            Err(broadcast::error::TryRecvError::Closed) => Some(Received::Closed),
        }
    }
}
