//! Delivery of spooled reports to the oracle: oldest first, one at a time, each removed from the
//! spool only after the oracle acknowledged it; outages are retried with exponential backoff
//! and jitter.
//!
//! Exactly once, as the oracle sees it: a report is resent only when its previous attempt
//! failed without an acknowledgement. An in-flight submission is never abandoned on shutdown
//! (each call has a timeout instead), so the only window for a duplicate is a crash between
//! the oracle's acknowledgement and the removal of the spool file, or a connection lost after
//! the oracle stored the report but before its answer arrived.

use crate::client::{ClientError, OracleClient};
use crate::metrics::{label, Metrics};
use crate::spool::{Report, Spool, SpoolError};
use rand::{Rng, SeedableRng};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, watch, Notify};
use tokio::task::JoinHandle;

/// How many refusals a slow [`Outbox::refusals`] subscriber may fall behind by.
const REFUSALS_KEPT: usize = 256;

/// Exponential backoff with jitter: attempt `n` (from 0) waits a random time between half and
/// all of `min(max, initial × 2ⁿ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0 for the first retry).
    pub fn delay<R: Rng>(&self, attempt: u32, rng: &mut R) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt.min(31)))
            .min(self.max);
        let half = ceiling / 2;
        half + ceiling.saturating_sub(half).mul_f64(rng.gen::<f64>())
    }
}

/// A report the oracle refused for good, set aside in the spool's `rejected/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Its sequence number in the spool.
    pub seq: u64,
    /// `beacon` or `witness`.
    pub kind: &'static str,
    /// The oracle's answer.
    pub reason: String,
}

/// The hotspot's outbox: a spool of reports shared by the producers (beaconing, witnessing) and
/// the one delivery task.
#[derive(Debug, Clone)]
pub struct Outbox {
    spool: Arc<Mutex<Spool>>,
    wake: Arc<Notify>,
    /// Reports waiting, updated with every change of the spool.
    depth: Arc<watch::Sender<usize>>,
    refused: broadcast::Sender<Refusal>,
    metrics: Metrics,
}

/// A delivery task running in the background (see [`Outbox::spawn_delivery`]). Dropping it
/// stops the task as [`Delivery::stop`] does, without waiting for it.
#[derive(Debug)]
pub struct Delivery {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), SpoolError>>,
}

impl Delivery {
    /// Stops delivering once the submission in flight, if any, is answered; undelivered reports
    /// stay spooled.
    pub async fn stop(self) -> Result<(), SpoolError> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_else(|join| {
            Err(SpoolError::Io {
                path: "delivery task".into(),
                source: std::io::Error::other(join.to_string()),
            })
        })
    }
}

fn lock(spool: &Mutex<Spool>) -> MutexGuard<'_, Spool> {
    spool
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What became of one delivery attempt.
enum Attempt {
    Delivered,
    Retry(ClientError),
    Refused(ClientError),
}

impl Outbox {
    /// Opens the spool in `dir`; reports left by an earlier run are delivered first.
    pub fn open(dir: &Path, metrics: Metrics) -> Result<Self, SpoolError> {
        let spool = Spool::open(dir)?;
        metrics.queue_depth.set(spool.len() as i64);
        if !spool.is_empty() {
            tracing::info!(reports = spool.len(), "resuming the report queue");
        }
        let (depth, _) = watch::channel(spool.len());
        Ok(Self {
            spool: Arc::new(Mutex::new(spool)),
            wake: Arc::new(Notify::new()),
            depth: Arc::new(depth),
            refused: broadcast::channel(REFUSALS_KEPT).0,
            metrics,
        })
    }

    /// Reports waiting for the oracle.
    pub fn depth(&self) -> usize {
        lock(&self.spool).len()
    }

    /// Completes once no report waits: every report queued so far has been acknowledged or
    /// refused.
    pub async fn wait_until_empty(&self) {
        let mut depth = self.depth.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = depth.wait_for(|&waiting| waiting == 0).await;
    }

    /// The reports the oracle refuses from now on, as the delivery task sets them aside. A
    /// refusal is announced before [`Outbox::wait_until_empty`] can see the report gone.
    pub fn refusals(&self) -> broadcast::Receiver<Refusal> {
        self.refused.subscribe()
    }

    async fn with_spool<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Spool) -> Result<T, SpoolError> + Send + 'static,
    ) -> Result<T, SpoolError> {
        let spool = self.spool.clone();
        let metrics = self.metrics.clone();
        let depth = self.depth.clone();
        tokio::task::spawn_blocking(move || {
            let mut spool = lock(&spool);
            let result = work(&mut spool);
            metrics.queue_depth.set(spool.len() as i64);
            depth.send_replace(spool.len());
            result
        })
        .await
        .unwrap_or_else(|join| {
            Err(SpoolError::Io {
                path: "spool task".into(),
                source: std::io::Error::other(join.to_string()),
            })
        })
    }

    /// Writes a report durably to the spool and wakes the delivery task.
    pub async fn enqueue(&self, report: Report) -> Result<u64, SpoolError> {
        let seq = self.with_spool(move |spool| spool.push(&report)).await?;
        self.wake.notify_one();
        Ok(seq)
    }

    async fn attempt(client: &mut OracleClient, report: Report) -> Attempt {
        let result = match report {
            Report::Beacon(report) => client.submit_beacon(report).await,
            Report::Witness(report) => client.submit_witness(report).await,
        };
        match result {
            Ok(_) => Attempt::Delivered,
            Err(error) if error.is_transient() => Attempt::Retry(error),
            Err(error) => Attempt::Refused(error),
        }
    }

    /// Delivers spooled reports through `client` in a task of its own until it is stopped.
    pub fn spawn_delivery(&self, client: OracleClient, backoff: Backoff) -> Delivery {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.clone().deliver(client, backoff, async {
            let _ = stopped.await;
        }));
        Delivery { stop, task }
    }

    /// Delivers spooled reports through `client` until `shutdown` completes. Shutdown is noticed
    /// between submissions, never during one.
    pub async fn deliver(
        self,
        mut client: OracleClient,
        backoff: Backoff,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), SpoolError> {
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        let mut rng = rand::rngs::StdRng::from_entropy();
        loop {
            let Some((seq, report)) = self.with_spool(|spool| spool.front()).await? else {
                tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    _ = self.wake.notified() => continue,
                }
            };
            let kind = report.kind();
            match Self::attempt(&mut client, report).await {
                Attempt::Delivered => {
                    self.with_spool(move |spool| spool.remove(seq)).await?;
                    self.metrics
                        .reports_delivered
                        .get_or_create(&label("kind", kind))
                        .inc();
                    if failures > 0 {
                        tracing::info!(failures, "the oracle is reachable again");
                    }
                    failures = 0;
                    tracing::debug!(seq, kind, "report acknowledged");
                }
                Attempt::Refused(error) => {
                    tracing::warn!(seq, kind, %error, "the oracle refused a report; set aside in rejected/");
                    let refusal = Refusal {
                        seq,
                        kind,
                        reason: error.to_string(),
                    };
                    let refused = self.refused.clone();
                    self.with_spool(move |spool| {
                        spool.set_aside(seq, "rejected")?;
                        // Nobody listening is the usual case, not an error.
                        let _ = refused.send(refusal);
                        Ok(())
                    })
                    .await?;
                    self.metrics
                        .reports_refused
                        .get_or_create(&label("kind", kind))
                        .inc();
                }
                Attempt::Retry(error) => {
                    self.metrics.delivery_retries.inc();
                    let wait = backoff.delay(failures, &mut rng);
                    failures = failures.saturating_add(1);
                    tracing::warn!(seq, kind, %error, retry_in = ?wait, "report not delivered");
                    tokio::select! {
                        _ = &mut shutdown => return Ok(()),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_its_jitter_and_caps() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut distinct = std::collections::BTreeSet::new();
        for attempt in 0..40 {
            let ceiling = (100u64 << attempt.min(20)).min(2000);
            for _ in 0..20 {
                let wait = backoff.delay(attempt, &mut rng).as_millis() as u64;
                assert!(wait >= ceiling / 2 && wait <= ceiling, "{attempt}: {wait}");
                distinct.insert(wait);
            }
        }
        assert!(distinct.len() > 100, "the waits are jittered");
    }
}
