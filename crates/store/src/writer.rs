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

/// A job for a group-commit thread: what to make durable and where to say what became of it.
struct Job<I, R> {
    item: I,
    done: oneshot::Sender<Result<R, String>>,
}

/// The group-commit thread both writers are: it takes whatever jobs are waiting (at most
/// `max_batch`), commits them with `commit` in one transaction, and answers each job's sender
/// with its result, or every sender with the error. It ends when every sender is dropped,
/// after committing what was queued.
pub(crate) struct GroupCommit<I, R> {
    jobs: mpsc::Sender<Job<I, R>>,
}

impl<I, R> Clone for GroupCommit<I, R> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

impl<I: Send + 'static, R: Send + 'static> GroupCommit<I, R> {
    /// Starts the thread `name`; `commit` gets a batch and returns one result per item.
    pub(crate) fn start(
        name: &str,
        max_batch: usize,
        mut commit: impl FnMut(Vec<I>) -> Result<Vec<R>, String> + Send + 'static,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, mut rx) = mpsc::channel::<Job<I, R>>(max_batch.max(1) * 4);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < max_batch {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let (items, dones): (Vec<I>, Vec<_>) =
                        batch.into_iter().map(|j| (j.item, j.done)).unzip();
                    let n = dones.len();
                    match commit(items) {
                        Ok(results) => {
                            for (done, result) in dones.into_iter().zip(results) {
                                let _ = done.send(Ok(result));
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, frames = n, "commit failed; frames not acknowledged");
                            for done in dones {
                                let _ = done.send(Err(e.clone()));
                            }
                        }
                    }
                }
            })?;
        Ok((Self { jobs }, handle))
    }

    /// Queues `item` and waits until it is durably committed.
    pub(crate) async fn submit(&self, item: I) -> Result<R, String> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job { item, done })
            .await
            .map_err(|_| "writer stopped".to_owned())?;
        wait.await.map_err(|_| "writer stopped".to_owned())?
    }
}

/// The single writer: commits frames from all connections in batches, then publishes what it
/// committed on the commit stream.
#[derive(Clone)]
pub struct Writer {
    inner: GroupCommit<Ingest, IngestResult>,
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
        let (inner, handle) =
            GroupCommit::start("store-writer", max_batch, move |ingests: Vec<Ingest>| {
                let results = store.commit(&ingests).map_err(|e| e.to_string())?;
                let published: Vec<Committed> = ingests
                    .into_iter()
                    .zip(&results)
                    .filter(|(_, r)| r.inserted + r.replaced > 0)
                    .filter_map(|(ingest, _)| {
                        let point_id = ingest.observations.first()?.point_id.clone();
                        Some(Committed {
                            point_id,
                            received_ms: ingest.record.received_ms,
                            observations: ingest.observations,
                        })
                    })
                    .collect();
                if !published.is_empty() {
                    commits.publish(published);
                }
                Ok(results)
            })?;
        Ok((Self { inner }, handle))
    }

    /// Queues a frame and waits until it is durably committed.
    pub async fn commit(&self, ingest: Ingest) -> Result<IngestResult, String> {
        self.inner.submit(ingest).await
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
