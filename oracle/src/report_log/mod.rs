//! The report log that several oracle operators share: a NATS JetStream stream.
//!
//! With `[report_log] url` set, an operator's ingest no longer stores what hotspots submit.
//! It checks each report as far as it can alone (key, payload, signature, known gateway),
//! publishes it as a [`proto::LogEntry`] stamped with its own clock and signed with its key,
//! and answers the hotspot once JetStream has stored the entry (the stream's acknowledgement).
//! Every `tick_ms`, a tick goes into the log the same way.
//!
//! Beacon entropy is made by the operators together, in rounds of commit and reveal over the
//! log ([`poc::entropy`], [`entropy`]): every `entropy_period_ms` each operator commits to a
//! secret for the next round; once the first `threshold` commitments of a round are applied,
//! those operators reveal, and the last reveal applied makes the round's entropy, which every
//! operator stores at the same entry. No single operator chooses or foresees it.
//!
//! Every operator then *follows* the log ([`Oracle::follow_log`]): it applies every entry in
//! the stream's order through the same ingest checks as a lone oracle, with the entry's time.
//! The log's time is the greatest stamp applied so far, and it is the operator's clock: the
//! verifier runs at each multiple of `verify_period_ms` of log time that the log passes, and
//! each epoch closes at the first such pass after it settles. Operators that apply the same
//! log therefore hold the same reports with the same receive times and row ids, verify them
//! at the same moments, and close every epoch to the same shares.
//!
//! The position applied so far is recorded in the store ([`LogPosition`]) after each entry, with
//! the entropy rounds in progress, so a restarted operator resumes after its last applied
//! entry and catches up. An entry signed
//! by a key that is not one of the configured operators is skipped by every operator alike.

use crate::ingest::IngestError;
use crate::store::{EntropyRow, LogPosition, RejectionRow};
use crate::{Clock, ManualClock, Oracle, OracleError};
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use oracle_core::config::ReportLogConfig;
use poc::proto::{self, log_entry::Body};
use poc::Signable;
use prost::Message;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

mod credits;
mod entropy;
mod quorum;
use credits::Credits;
use entropy::{EntropyRounds, RoundRules};
use quorum::SeenSignature;
pub(crate) use quorum::Signing;

/// How long JetStream keeps an entry's id to drop a second publication of it (a hotspot's
/// retry reaching another operator, or this one again).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Why the shared report log failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportLogError {
    /// The NATS server could not be reached.
    #[error("connecting to NATS at {url}: {detail}")]
    Connect {
        /// The server's address.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The stream could not be created or opened.
    #[error("report log stream {stream}: {detail}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// What went wrong.
        detail: String,
    },
    /// An entry could not be published, or JetStream did not acknowledge it.
    #[error("publishing to the report log: {0}")]
    Publish(String),
    /// The log could not be read.
    #[error("reading the report log: {0}")]
    Consume(String),
    /// A configured operator address does not parse.
    #[error("report log operator {0:?} is not an address")]
    Operator(String),
    /// The follower's state stored with its position does not decode.
    #[error("the report log follower's stored state does not decode: {0}")]
    State(String),
    /// Entropy was asked of one operator: operators sharing a log make it together.
    #[error("operators sharing a report log make entropy together (commit_entropy), not alone")]
    OwnEntropy,
}

/// A connection to the shared report log, with the clocks it stamps and keeps.
pub struct ReportLog {
    jetstream: jetstream::Context,
    stream: String,
    subject: String,
    operators: BTreeSet<[u8; 32]>,
    threshold: usize,
    tick_ms: u64,
    /// The operator's own clock, which stamps what it publishes.
    wall: Arc<dyn Clock>,
    /// The log's time: the oracle's clock.
    time: Arc<ManualClock>,
}

impl std::fmt::Debug for ReportLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportLog")
            .field("stream", &self.stream)
            .field("operators", &self.operators.len())
            .finish_non_exhaustive()
    }
}

impl ReportLog {
    /// Connects to the configured NATS server and opens the stream (creating it if missing).
    /// `wall` stamps what this operator publishes.
    pub async fn connect(
        config: &ReportLogConfig,
        wall: Arc<dyn Clock>,
    ) -> Result<Self, ReportLogError> {
        let url = config.url.clone().unwrap_or_default();
        let client =
            async_nats::connect(url.as_str())
                .await
                .map_err(|e| ReportLogError::Connect {
                    url: url.clone(),
                    detail: e.to_string(),
                })?;
        let jetstream = jetstream::new(client);
        let subject = format!("{}.entries", config.stream);
        jetstream
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![subject.clone()],
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|e| ReportLogError::Stream {
                stream: config.stream.clone(),
                detail: e.to_string(),
            })?;
        let operators = config
            .operators
            .iter()
            .map(|a| {
                a.parse::<poc::Address>()
                    .map(|address| address.0)
                    .map_err(|_| ReportLogError::Operator(a.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            jetstream,
            stream: config.stream.clone(),
            subject,
            operators,
            threshold: config.quorum_threshold() as usize,
            tick_ms: config.tick_ms,
            wall,
            time: Arc::new(ManualClock::new(0)),
        })
    }

    /// The log's time, to be the oracle's clock ([`Oracle::with_store`]).
    pub fn clock(&self) -> Arc<ManualClock> {
        self.time.clone()
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    async fn publish(&self, entry: &proto::LogEntry, id: String) -> Result<u64, ReportLogError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        let ack = self
            .jetstream
            .publish_with_headers(self.subject.clone(), headers, entry.encode_to_vec().into())
            .await
            .map_err(|e| ReportLogError::Publish(e.to_string()))?
            .await
            .map_err(|e| ReportLogError::Publish(e.to_string()))?;
        Ok(ack.sequence)
    }

    /// The sequence number of the log's last entry (0 for an empty log): with an operator's
    /// [`LogPosition`], how far behind it is.
    pub async fn last_seq(&self) -> Result<u64, ReportLogError> {
        let mut stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|e| ReportLogError::Consume(e.to_string()))?;
        let info = stream
            .info()
            .await
            .map_err(|e| ReportLogError::Consume(e.to_string()))?;
        Ok(info.state.last_sequence)
    }

    async fn entries_after(&self, seq: u64) -> Result<consumer::pull::Ordered, ReportLogError> {
        let stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|e| ReportLogError::Consume(e.to_string()))?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: seq + 1,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| ReportLogError::Consume(e.to_string()))?;
        consumer
            .messages()
            .await
            .map_err(|e| ReportLogError::Consume(e.to_string()))
    }
}

/// Where the follower stands: the next verification moment and epoch to close.
struct Follower {
    /// The next multiple of `verify_period_ms` of log time at which to verify; `None` before
    /// the first entry.
    next_pass_ms: Option<u64>,
    /// The next epoch to close.
    next_epoch: Option<u64>,
    /// Whether the last verification left nothing waiting and no report has been applied
    /// since: the moments until the next report then verify nothing, and only closes run.
    idle: bool,
    /// What the follower keeps between entries, stored with its position.
    state: FollowerState,
}

/// What a follower keeps between entries besides its position: the entropy rounds in
/// progress and the credits waiting for operators. Stored as JSON with the position.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct FollowerState {
    #[serde(default)]
    rounds: EntropyRounds,
    #[serde(default)]
    credits: Credits,
    /// Signatures seen for epochs not yet in the ledger.
    #[serde(default)]
    signatures: Vec<SeenSignature>,
}

impl Oracle {
    /// The shared report log, when this oracle is one of several operators.
    pub fn report_log(&self) -> Option<&ReportLog> {
        self.inner.log.as_ref()
    }

    /// Publishes `body` as a signed entry stamped with this operator's clock; returns the
    /// stamp once JetStream has stored it. `id` identifies the entry for JetStream's
    /// duplicate check.
    pub(crate) async fn publish_to_log(
        &self,
        log: &ReportLog,
        body: Body,
        id: String,
    ) -> Result<u64, OracleError> {
        let received_ms = log.wall.now_ms();
        let mut entry = proto::LogEntry {
            operator_key: self.inner.key.public_key().to_vec(),
            received_ms,
            body: Some(body),
            signature: Vec::new(),
        };
        entry.sign_with(&self.inner.key);
        log.publish(&entry, id).await?;
        Ok(received_ms)
    }

    /// The time this oracle stamps what it publishes: its own clock when it shares a report
    /// log (whose time may lag), otherwise its one clock.
    pub(crate) fn stamp_ms(&self) -> u64 {
        match self.report_log() {
            Some(log) => log.wall.now_ms(),
            None => self.now_ms(),
        }
    }

    /// Who an archive manifest names as its writer: this oracle's address, or nothing when it
    /// is one of several operators sharing a report log, each writing the same archive.
    pub(crate) fn archive_writer(&self) -> String {
        match self.report_log() {
            Some(_) => String::new(),
            None => self.address().to_string(),
        }
    }

    /// Publishes a tick: the log's time moves on to this operator's clock.
    pub async fn publish_tick(&self) -> Result<(), OracleError> {
        let Some(log) = self.report_log() else {
            return Ok(());
        };
        let id = entry_id("tick", &format!("{}-{}", self.address(), log.wall.now_ms()));
        self.publish_to_log(log, Body::Tick(proto::LogTick {}), id)
            .await
            .map(|_| ())
    }

    /// Applies the shared report log until `shutdown` resolves: every entry after the
    /// recorded position, in the log's order, then each new one as it arrives. Returns an
    /// error (and records nothing of the failing entry) when the store or the log fails; a
    /// caller restarts it to resume.
    pub async fn follow_log(&self, shutdown: impl Future<Output = ()>) -> Result<(), OracleError> {
        let Some(log) = self.report_log() else {
            return Ok(());
        };
        // A write that failed before this start (the reason for a restart) may have spent
        // row ids that the other operators did not.
        self.store().take_back_spent_row_ids().await?;
        let position = self
            .store()
            .log_position(log.stream())
            .await?
            .unwrap_or_default();
        log.time.set(position.time_ms);
        let state = match position.state.as_slice() {
            [] => FollowerState::default(),
            state => {
                serde_json::from_slice(state).map_err(|e| ReportLogError::State(e.to_string()))?
            }
        };
        let mut follower = Follower {
            next_pass_ms: (position.seq > 0).then(|| self.next_pass_after(position.time_ms)),
            next_epoch: None,
            idle: false,
            state,
        };
        self.resume_signing(std::mem::take(&mut follower.state.signatures))
            .await?;
        let mut entries = log.entries_after(position.seq).await?;
        tokio::pin!(shutdown);
        loop {
            let message = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                message = entries.next() => message,
            };
            let Some(message) = message else {
                return Err(ReportLogError::Consume("the stream ended".into()).into());
            };
            let message = message.map_err(|e| ReportLogError::Consume(e.to_string()))?;
            let seq = message
                .info()
                .map_err(|e| ReportLogError::Consume(e.to_string()))?
                .stream_sequence;
            let refusals = self
                .apply_entry(log, &mut follower, &message.payload)
                .await?;
            follower.state.signatures = self.seen_signatures();
            let state = serde_json::to_vec(&follower.state)
                .map_err(|e| ReportLogError::State(e.to_string()))?;
            let applied = LogPosition {
                seq,
                time_ms: log.time.now_ms(),
                state,
            };
            self.store()
                .set_log_position(log.stream(), applied, &refusals)
                .await?;
        }
    }

    /// The position this operator has applied the log to (0 when it follows none).
    pub async fn log_position(&self) -> Result<LogPosition, OracleError> {
        match self.report_log() {
            Some(log) => Ok(self
                .store()
                .log_position(log.stream())
                .await?
                .unwrap_or_default()),
            None => Ok(LogPosition::default()),
        }
    }

    fn next_pass_after(&self, time_ms: u64) -> u64 {
        let period = self.config().verify_period_ms;
        (time_ms / period + 1) * period
    }

    /// Applies one entry: an entry that does not decode, is not signed by a configured
    /// operator, or carries nothing is skipped; otherwise the log's time moves to its stamp
    /// (never back), the verification moments it passes are run, and its body is ingested.
    /// Returns the rows that record the body's refusals, for the caller to store with the
    /// position: everything else an entry stores is stored once however often it is applied.
    async fn apply_entry(
        &self,
        log: &ReportLog,
        follower: &mut Follower,
        payload: &[u8],
    ) -> Result<Vec<RejectionRow>, OracleError> {
        let Some((operator, received_ms, body)) = accepted_entry(log, payload) else {
            return Ok(Vec::new());
        };
        let time_ms = log.time.now_ms().max(received_ms);
        let next_pass = *follower
            .next_pass_ms
            .get_or_insert_with(|| self.next_pass_after(time_ms));
        if next_pass <= time_ms {
            self.pass_until(log, follower, time_ms).await?;
        }
        log.time.set(time_ms);
        match body {
            Body::EntropyCommit(commit) => {
                self.apply_commit(log, follower, operator, &commit).await?
            }
            Body::EntropyReveal(reveal) => {
                self.apply_reveal(log, follower, operator, &reveal).await?
            }
            Body::Credit(credit) => self.apply_credit(log, follower, operator, &credit).await?,
            Body::Tick(_) => {}
            Body::Entropy(_) => {
                tracing::warn!("report log: entropy made by one operator alone skipped")
            }
            Body::EntrySignature(signature) => self.record_signature(operator, signature)?,
            report => {
                follower.idle = false;
                return self.ingest_report(report).await;
            }
        }
        Ok(Vec::new())
    }

    /// Runs every verification moment up to `time_ms`, closing each epoch that has settled.
    async fn pass_until(
        &self,
        log: &ReportLog,
        follower: &mut Follower,
        time_ms: u64,
    ) -> Result<(), OracleError> {
        let period = self.config().verify_period_ms;
        while let Some(at) = follower.next_pass_ms.filter(|&at| at <= time_ms) {
            log.time.set(at);
            if !follower.idle {
                let summary = self.verify_pending().await?;
                follower.idle = summary.beacons_waiting + summary.witnesses_waiting == 0;
            }
            self.close_settled(&mut follower.next_epoch).await?;
            follower.next_pass_ms = Some(at + period);
        }
        Ok(())
    }

    /// Ingests a report entry's body as a lone oracle would at the log's time, and returns the
    /// rows that record its refusals; only a failing store is an error.
    async fn ingest_report(&self, body: Body) -> Result<Vec<RejectionRow>, OracleError> {
        let outcomes: Vec<(&str, Vec<u8>, Result<(), IngestError>)> = match body {
            Body::Beacon(report) => {
                let outcome = self.accept_beacon(&report).await.map(|_| ());
                vec![("beacon", report.pub_key, outcome)]
            }
            Body::Witnesses(batch) => {
                let reports = Arc::new(batch.reports);
                match self.accept_witnesses(reports.clone()).await {
                    Ok(outcomes) => reports
                        .iter()
                        .zip(outcomes)
                        .filter_map(|(report, outcome)| {
                            let refused = outcome.err()?;
                            Some(("witness", report.pub_key.clone(), Err(refused)))
                        })
                        .collect(),
                    Err(error) => vec![("witness", Vec::new(), Err(error))],
                }
            }
            Body::Assertion(assertion) => {
                let outcome = self.accept_assertion(&assertion).await.map(|_| ());
                vec![("assertion", assertion.pub_key, outcome)]
            }
            Body::Onboarding(request) => {
                let outcome = self.accept_onboarding(&request).await.map(|_| ());
                vec![("onboarding", request.pub_key, outcome)]
            }
            _ => Vec::new(),
        };
        let mut refusals = Vec::new();
        for (kind, key, outcome) in outcomes {
            match outcome {
                Err(IngestError::Internal(error)) => return Err(error),
                Err(refusal) => refusals.extend(self.rejection_row(kind, &key, &refusal).await?),
                Ok(()) => {}
            }
        }
        Ok(refusals)
    }

    /// How this operator's entropy rounds are timed and how many operators contribute.
    fn round_rules(&self, log: &ReportLog) -> RoundRules {
        RoundRules {
            period_ms: self.config().entropy_period_ms,
            threshold: log.threshold,
        }
    }

    /// Commits, in the log, to this operator's secret for the next round of shared entropy
    /// (the round after the one its own clock is in). Returns the round.
    pub async fn commit_entropy(&self) -> Result<u64, OracleError> {
        let log = self.report_log().ok_or(ReportLogError::OwnEntropy)?;
        let round = self.round_rules(log).round_at(log.wall.now_ms()) + 1;
        let secret = poc::entropy::secret(&self.inner.key, log.stream(), round);
        let commit = proto::EntropyCommit {
            round,
            commitment: poc::entropy::commitment(&secret).to_vec(),
        };
        let id = entry_id("commit", &format!("{}-{round}", self.address()));
        self.publish_to_log(log, Body::EntropyCommit(commit), id)
            .await?;
        Ok(round)
    }

    /// Applies a commitment; when it fixes the round's contributors and this operator is one,
    /// reveals its secret (unless the round is long past on its own clock, as when catching
    /// up).
    async fn apply_commit(
        &self,
        log: &ReportLog,
        follower: &mut Follower,
        operator: [u8; 32],
        commit: &proto::EntropyCommit,
    ) -> Result<(), OracleError> {
        let rules = self.round_rules(log);
        let time_ms = log.time.now_ms();
        let Some(contributors) = follower
            .state
            .rounds
            .commit(rules, time_ms, operator, commit)
        else {
            return Ok(());
        };
        let live = rules.round_at(log.wall.now_ms()) <= commit.round + 2;
        if !live || !contributors.contains(&self.inner.key.public_key()) {
            return Ok(());
        }
        let secret = poc::entropy::secret(&self.inner.key, log.stream(), commit.round);
        let reveal = poc::entropy::reveal(&self.inner.key, commit.round, secret);
        let id = entry_id("reveal", &format!("{}-{}", self.address(), commit.round));
        self.publish_to_log(log, Body::EntropyReveal(reveal), id)
            .await
            .map(|_| ())
    }

    /// Applies a reveal; the last of a round's makes its entropy, stored (unsigned; each
    /// operator signs what it serves) by every operator at this entry.
    async fn apply_reveal(
        &self,
        log: &ReportLog,
        follower: &mut Follower,
        operator: [u8; 32],
        reveal: &proto::EntropyReveal,
    ) -> Result<(), OracleError> {
        let rules = self.round_rules(log);
        let time_ms = log.time.now_ms();
        let Some(entropy) = follower
            .state
            .rounds
            .reveal(rules, time_ms, operator, reveal)
        else {
            return Ok(());
        };
        // Applied again after a restart between storing it and recording the position.
        if self.store().entropy_by_data(&entropy.data).await?.is_some() {
            return Ok(());
        }
        tracing::info!(round = entropy.round, "report log: shared entropy made");
        self.store()
            .put_entropy(&EntropyRow {
                data: entropy.data.clone(),
                timestamp_ms: entropy.timestamp_ms,
                raw: entropy.encode_to_vec(),
            })
            .await?;
        Ok(())
    }

    /// Publishes, in the log, this operator's request to add `amount` data credits to
    /// `owner`'s balance with `memo` as its reference. Every operator applies the credit once
    /// `threshold` operators have published the same owner, amount and memo.
    pub async fn publish_credit(
        &self,
        owner: &[u8; 32],
        amount: u64,
        memo: &str,
    ) -> Result<(), OracleError> {
        let log = self
            .report_log()
            .ok_or_else(|| ReportLogError::Publish("this oracle shares no report log".into()))?;
        let credit = proto::LogCredit {
            owner: owner.to_vec(),
            amount,
            memo: memo.to_string(),
        };
        let id = entry_id(
            "credit",
            &format!("{}-{}", self.address(), hex::encode(credit.encode_to_vec())),
        );
        self.publish_to_log(log, Body::Credit(credit), id)
            .await
            .map(|_| ())
    }

    /// Applies an operator's credit; the one that completes the threshold credits the owner
    /// at the log's time (once: a credit already in the journal at that moment, as after a
    /// crash before the position was recorded, is not added again).
    async fn apply_credit(
        &self,
        log: &ReportLog,
        follower: &mut Follower,
        operator: [u8; 32],
        credit: &proto::LogCredit,
    ) -> Result<(), OracleError> {
        let time_ms = log.time.now_ms();
        let Some(agreed) = follower
            .state
            .credits
            .publish(log.threshold, time_ms, operator, credit)
        else {
            return Ok(());
        };
        let journal = self
            .store()
            .dc_journal(Some(&agreed.owner), (time_ms, time_ms + 1), 1_000, 0)
            .await?;
        let amount = i64::try_from(agreed.amount).unwrap_or(i64::MAX);
        if journal
            .iter()
            .any(|e| e.amount == amount && e.memo == agreed.memo)
        {
            return Ok(());
        }
        self.store()
            .credit(&agreed.owner, agreed.amount, time_ms, &agreed.memo)
            .await?;
        Ok(())
    }

    /// The background work of an operator following the shared log: commits to its part of
    /// the next entropy round every `entropy_period_ms`, publishes a tick every `tick_ms`, and applies the log (which verifies and
    /// closes epochs), until `shutdown` resolves. A failing follower is restarted after a
    /// second, from its recorded position.
    pub(crate) async fn run_with_log(
        &self,
        log: &ReportLog,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), OracleError> {
        let mut entropy_tick = crate::ticker(self.config().entropy_period_ms);
        let mut log_tick = crate::ticker(log.tick_ms);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let follower = {
            let oracle = self.clone();
            tokio::spawn(async move { oracle.keep_following(stopped).await })
        };
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = entropy_tick.tick() => {
                    if let Err(error) = self.commit_entropy().await {
                        tracing::error!(%error, "committing to entropy");
                    }
                }
                _ = log_tick.tick() => {
                    if let Err(error) = self.publish_tick().await {
                        tracing::error!(%error, "publishing a tick");
                    }
                }
            }
        }
        let _ = stop.send(true);
        let _ = follower.await;
        Ok(())
    }

    async fn keep_following(&self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        loop {
            let mut stop = stopped.clone();
            let shutdown = async move {
                let _ = stop.wait_for(|&s| s).await;
            };
            match self.follow_log(shutdown).await {
                Ok(()) => return,
                Err(error) => tracing::error!(%error, "following the report log"),
            }
            tokio::select! {
                _ = stopped.wait_for(|&s| s) => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// The stamp and body of an entry the operators apply: one that decodes, has a body, and is
/// signed by a configured operator. Anything else is skipped, with a warning.
fn accepted_entry(log: &ReportLog, payload: &[u8]) -> Option<([u8; 32], u64, Body)> {
    let entry = match proto::LogEntry::decode(payload) {
        Ok(entry) => entry,
        Err(error) => {
            tracing::warn!(%error, "report log: an entry that does not decode skipped");
            return None;
        }
    };
    let operator = <[u8; 32]>::try_from(entry.operator_key.as_slice())
        .ok()
        .filter(|key| log.operators.contains(key));
    let Some(operator) = operator else {
        tracing::warn!("report log: an entry of a key that is not an operator skipped");
        return None;
    };
    if entry.verify().is_err() {
        tracing::warn!("report log: an entry with a bad signature skipped");
        return None;
    }
    Some((operator, entry.received_ms, entry.body?))
}

/// The id under which JetStream drops a second publication of an entry: its kind and the
/// report's (or batch's) id.
pub(crate) fn entry_id(kind: &str, id: &str) -> String {
    format!("{kind}-{id}")
}
