//! The group commit both stores store reports by: concurrent submissions queue up for one
//! writer task, which stores everything queued in one transaction and answers each submitter
//! only after the commit. A report is acknowledged once it is durable, and many reports share
//! one commit. A store supplies how a group and a single input are written ([`GroupWriter`]).

use crate::{Corrupt, StoreError, StoreResult};
use std::future::Future;
use tokio::sync::{mpsc, oneshot};

/// How a store writes what was queued.
pub(crate) trait GroupWriter: Send + 'static {
    /// What one submitter queues.
    type Input: Send + Sync + 'static;
    /// What it is answered once committed.
    type Output: Send + 'static;

    /// Stores every input in one transaction; the outputs in the same order.
    fn write_group(
        &mut self,
        inputs: &[&Self::Input],
    ) -> impl Future<Output = StoreResult<Vec<Self::Output>>> + Send;

    /// Stores one input alone (after a failed group, so that one bad input cannot fail the
    /// others).
    fn write_alone(
        &mut self,
        input: &Self::Input,
    ) -> impl Future<Output = StoreResult<Self::Output>> + Send;

    /// Called once a group has failed, before its inputs are stored one by one: a store that
    /// keeps a connection of its own replaces it, in case it is what failed.
    fn after_failure(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

struct Job<W: GroupWriter> {
    input: W::Input,
    reply: oneshot::Sender<StoreResult<W::Output>>,
}

/// The submitting end of a group commit; the writer task ends when every handle is dropped.
pub(crate) struct GroupCommit<W: GroupWriter> {
    queue: mpsc::Sender<Job<W>>,
    name: &'static str,
}

impl<W: GroupWriter> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            name: self.name,
        }
    }
}

impl<W: GroupWriter> std::fmt::Debug for GroupCommit<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("name", &self.name)
            .finish()
    }
}

impl<W: GroupWriter> GroupCommit<W> {
    /// Spawns the writer task of `writer`, which takes up to `max_group` submissions at a time;
    /// `name` names the store in errors.
    pub(crate) fn spawn(writer: W, max_group: usize, name: &'static str) -> Self {
        let (queue, jobs) = mpsc::channel(max_group * 4);
        tokio::spawn(run(writer, jobs, max_group));
        Self { queue, name }
    }

    /// Queues `input` and waits until it is committed.
    pub(crate) async fn submit(&self, input: W::Input) -> StoreResult<W::Output> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::WriterStopped(self.name);
        self.queue
            .send(Job { input, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writer task: takes every queued submission, stores them together and answers each.
async fn run<W: GroupWriter>(mut writer: W, mut queue: mpsc::Receiver<Job<W>>, max_group: usize) {
    let mut jobs = Vec::new();
    while queue.recv_many(&mut jobs, max_group).await > 0 {
        let inputs: Vec<&W::Input> = jobs.iter().map(|job| &job.input).collect();
        let stored = writer.write_group(&inputs).await;
        match stored {
            Ok(outputs) if outputs.len() == jobs.len() => {
                for (job, output) in jobs.drain(..).zip(outputs) {
                    let _ = job.reply.send(Ok(output));
                }
            }
            failed => {
                let error = failed.err().unwrap_or(Corrupt::NoRowId.into());
                tracing::warn!(%error, jobs = jobs.len(), "group commit failed; storing one by one");
                writer.after_failure().await;
                for job in jobs.drain(..) {
                    let result = writer.write_alone(&job.input).await;
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}
