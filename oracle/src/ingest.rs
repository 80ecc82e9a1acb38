//! Ingest: the checks a report must pass before it is stored, and the tonic `PocLora` service.
//!
//! A report is refused (and the refusal recorded in `ingest_rejections`) when it is malformed
//! (wrong key length, a key that is not an ed25519 point, empty data, data over 255 bytes, wrong
//! entropy lengths), when its signature does not verify, or when its signer is not a known
//! gateway. Refusals of reports from keys that are not onboarded gateways are recorded up to
//! `max_stranger_rejections_per_minute` a minute and only counted in the log beyond it, so that
//! a flood of forged reports cannot fill the store; a gateway's own refusals are always
//! recorded. Accepted reports are committed to the store before the reply is sent. A replay of
//! a report (the same signed bytes again) is acknowledged with the same id and not stored again,
//! so a client that lost an acknowledgement can simply resend.
//!
//! Witness reports may also come in batches of up to [`MAX_BATCH`]
//! ([`Oracle::submit_witnesses`], the `SubmitWitnesses` call): each report of a batch gets the
//! decision it would get alone, with the same checks in the same order, and the same
//! rejection recorded; the accepted ones are stored in one group commit before the reply. The
//! signatures of a batch are checked together ([`poc::signing::verify_batch`]), on the
//! blocking pool, in one chunk per core. Beacon and witness reports submitted one by one have
//! their signatures checked together too when they arrive concurrently ([`SignatureQueue`]).

use crate::error::OracleError;
use crate::reason::IngestReason;
use crate::report_log::{entry_id, ReportLog};
use crate::store::identity::OnboardingWrite;
use crate::store::{GatewayRow, RejectionRow};
use crate::Oracle;
use oracle_core::identity::{self, Onboarding};
use poc::proto::{self, log_entry::Body, poc_lora_server::PocLora, Region};
use poc::Signable;
use prost::Message;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// Largest payload a report may carry (a LoRa frame's limit).
pub const MAX_PAYLOAD_LEN: usize = 255;
/// How far into the future an assertion's timestamp may lie.
pub const MAX_ASSERTION_SKEW_MS: u64 = 5 * 60_000;
/// Most reports in one batch ([`Oracle::submit_witnesses`]). 256 of the largest well-formed
/// witness reports (about 420 bytes each) fit in a [`crate::MAX_GRPC_MESSAGE`].
pub const MAX_BATCH: usize = 256;
/// Fewest signatures worth a chunk of their own on the blocking pool.
const MIN_VERIFY_CHUNK: usize = 32;

/// Why an ingest call failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The report was refused for `reason` (recorded as an ingest rejection).
    #[error("{reason}: {detail}")]
    Rejected {
        /// Reason code.
        reason: IngestReason,
        /// Human-readable detail.
        detail: String,
    },
    /// The request cannot be answered yet (no entropy published).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A batch holds more than [`MAX_BATCH`] reports; none of them was looked at.
    #[error("a batch of {0} reports, more than {MAX_BATCH}")]
    BatchTooLarge(usize),
    /// The thing asked about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The oracle failed internally.
    #[error(transparent)]
    Internal(#[from] OracleError),
}

impl From<crate::store::StoreError> for IngestError {
    fn from(error: crate::store::StoreError) -> Self {
        IngestError::Internal(error.into())
    }
}

impl IngestError {
    /// The ingest reason, if the report was refused.
    pub fn reason(&self) -> Option<IngestReason> {
        match self {
            IngestError::Rejected { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// The gRPC status code the error is answered with.
    pub fn code(&self) -> tonic::Code {
        match self {
            IngestError::Rejected { reason, .. } => match reason {
                IngestReason::BadSignature
                | IngestReason::BadOwnerSignature
                | IngestReason::BadMakerSignature
                | IngestReason::NoMakerSignature => tonic::Code::Unauthenticated,
                IngestReason::UnknownGateway | IngestReason::NotOnboarded => tonic::Code::NotFound,
                IngestReason::UnknownMaker => tonic::Code::PermissionDenied,
                IngestReason::StaleAssertion
                | IngestReason::AlreadyOnboarded
                | IngestReason::MakerAllowanceExhausted
                | IngestReason::InsufficientBalance => tonic::Code::FailedPrecondition,
                IngestReason::Malformed
                | IngestReason::InvalidLocation
                | IngestReason::RegionUnspecified
                | IngestReason::RecordMismatch => tonic::Code::InvalidArgument,
            },
            IngestError::FailedPrecondition(_) => tonic::Code::FailedPrecondition,
            IngestError::BatchTooLarge(_) => tonic::Code::InvalidArgument,
            IngestError::NotFound(_) => tonic::Code::NotFound,
            IngestError::Internal(OracleError::ReportLog(_)) => tonic::Code::Unavailable,
            IngestError::Internal(_) => tonic::Code::Internal,
        }
    }
}

impl From<IngestError> for Status {
    fn from(error: IngestError) -> Self {
        Status::new(error.code(), error.to_string())
    }
}

fn rejected(reason: IngestReason, detail: impl Into<String>) -> IngestError {
    IngestError::Rejected {
        reason,
        detail: detail.into(),
    }
}

/// Checks a public key's length and that it is an ed25519 point.
fn check_key(key: &[u8]) -> Result<[u8; 32], IngestError> {
    let address = poc::Address::from_public_key(key).map_err(|_| {
        rejected(
            IngestReason::Malformed,
            format!("pub_key is {} bytes, not a valid ed25519 key", key.len()),
        )
    })?;
    Ok(address.0)
}

fn check_payload(what: &str, data: &[u8]) -> Result<(), IngestError> {
    if data.is_empty() {
        return Err(rejected(
            IngestReason::Malformed,
            format!("{what} is empty"),
        ));
    }
    if data.len() > MAX_PAYLOAD_LEN {
        return Err(rejected(
            IngestReason::Malformed,
            format!(
                "{what} is {} bytes, more than {MAX_PAYLOAD_LEN}",
                data.len()
            ),
        ));
    }
    Ok(())
}

fn check_signature<M: Signable>(message: &M) -> Result<(), IngestError> {
    message.verify().map_err(bad_signature)
}

fn bad_signature(error: poc::SignatureError) -> IngestError {
    rejected(IngestReason::BadSignature, error.to_string())
}

/// The checks of a witness report before its signature, in [`Oracle::submit_witness`]'s order.
fn check_witness_fields(report: &proto::WitnessReport) -> Result<[u8; 32], IngestError> {
    let key = check_key(&report.pub_key)?;
    check_payload("data", &report.data)?;
    Ok(key)
}

/// The signature decisions of `reports[i]` for each `i` of `indices`, in order: checked
/// together, in one chunk per core on the blocking pool when there are enough of them.
async fn verify_signatures<M: Signable + Send + Sync + 'static>(
    reports: &Arc<Vec<M>>,
    indices: Vec<usize>,
) -> Result<Vec<Result<(), poc::SignatureError>>, IngestError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = indices.len().div_ceil(cores).max(MIN_VERIFY_CHUNK).max(1);
    let mut tasks = Vec::new();
    for part in indices.chunks(chunk) {
        let permit = verify_permits()
            .acquire_owned()
            .await
            .map_err(|e| internal(format!("signature check permits: {e}")))?;
        let part = part.to_vec();
        let reports = reports.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let batch: Vec<&M> = part.iter().filter_map(|&i| reports.get(i)).collect();
            poc::signing::verify_batch(&batch)
        }));
    }
    let mut decisions = Vec::with_capacity(indices.len());
    for task in tasks {
        let part = task
            .await
            .map_err(|e| internal(format!("signature check task failed: {e}")))?;
        decisions.extend(part);
    }
    Ok(decisions)
}

/// Permits for signature-check chunks running at once, one per core: however many batches
/// arrive, the checks never take more threads than there are cores (the others wait).
fn verify_permits() -> Arc<tokio::sync::Semaphore> {
    static PERMITS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    PERMITS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Arc::new(tokio::sync::Semaphore::new(cores))
        })
        .clone()
}

fn internal(message: String) -> IngestError {
    IngestError::Internal(OracleError::Io(std::io::Error::other(message)))
}

/// A report waiting for its signature check, and where its decision goes.
type Waiting<M> = (M, oneshot::Sender<Result<(), poc::SignatureError>>);

/// Signature checks of reports submitted one by one but concurrently, done together: each
/// caller queues its report; whoever finds no check running starts a task that takes every
/// queued report, checks them with [`verify_signatures`] (the decision each would get alone,
/// at a batch's cost) and answers each, until the queue is empty. Nobody waits for a batch
/// to fill: a report arriving at an idle queue is checked at once, alone.
pub(crate) struct SignatureQueue<M> {
    state: Mutex<QueueState<M>>,
}

struct QueueState<M> {
    waiting: Vec<Waiting<M>>,
    /// Whether a task is taking the queue.
    draining: bool,
}

/// Marks the queue idle when its draining task ends, however it ends.
struct Draining<'a, M>(&'a SignatureQueue<M>);

impl<M> Drop for Draining<'_, M> {
    fn drop(&mut self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .draining = false;
    }
}

impl<M: Signable + Send + Sync + 'static> SignatureQueue<M> {
    /// An idle queue.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(QueueState {
                waiting: Vec::new(),
                draining: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState<M>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The signature decision on `report`, the one [`Signable::verify`] gives.
    pub(crate) async fn check(
        self: &Arc<Self>,
        report: M,
    ) -> Result<Result<(), poc::SignatureError>, IngestError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut state = self.lock();
            state.waiting.push((report, reply));
            !std::mem::replace(&mut state.draining, true)
        };
        if start {
            tokio::spawn(self.clone().drain());
        }
        answer
            .await
            .map_err(|_| internal("the signature check stopped".into()))
    }

    async fn drain(self: Arc<Self>) {
        // Should the task end otherwise (a panic), the next caller starts another.
        let _idle_at_end = Draining(&self);
        loop {
            let waiting = {
                let mut state = self.lock();
                if state.waiting.is_empty() {
                    // Under the lock: a report queued from now on starts a new task.
                    state.draining = false;
                    return;
                }
                std::mem::take(&mut state.waiting)
            };
            let (reports, replies): (Vec<M>, Vec<_>) = waiting.into_iter().unzip();
            let indices = (0..reports.len()).collect();
            // On failure the replies are dropped: their callers get an internal error.
            if let Ok(decisions) = verify_signatures(&Arc::new(reports), indices).await {
                for (reply, decision) in replies.into_iter().zip(decisions) {
                    let _ = reply.send(decision);
                }
            }
        }
    }
}

/// Hex SHA-256 of a report's encoding: the id returned to the submitter.
pub fn report_id<M: Message>(message: &M) -> String {
    hex::encode(Sha256::digest(message.encode_to_vec()))
}

/// A batch's decisions no longer match its reports (a bug, never the client's doing).
fn lost_track() -> IngestError {
    IngestError::Internal(OracleError::Invariant(
        "batch decisions out of step with its reports",
    ))
}

/// How many refusals of strangers' reports (keys that are not onboarded gateways) have been
/// recorded in the current minute, and how many were only counted.
#[derive(Debug, Default)]
pub(crate) struct RejectionBudget {
    minute: u64,
    recorded: u32,
    suppressed: u64,
}

impl RejectionBudget {
    /// Whether one more refusal at `now_ms` may be recorded with at most `per_minute` a minute;
    /// logs how many were not when a minute with suppressed refusals ends.
    fn admit(&mut self, now_ms: u64, per_minute: u32) -> bool {
        let minute = now_ms / 60_000;
        if minute != self.minute {
            if self.suppressed > 0 {
                tracing::warn!(
                    suppressed = self.suppressed,
                    recorded = self.recorded,
                    "refusals of reports from unknown keys not recorded (over the limit a minute)"
                );
            }
            *self = Self {
                minute,
                ..Self::default()
            };
        }
        if self.recorded < per_minute {
            self.recorded += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

impl Oracle {
    /// Records refusal `error` of a `kind` report claiming `claimed_key` (see
    /// [`Oracle::rejection_row`]) and gives it back; a failing store is the error instead.
    async fn record_rejection(
        &self,
        kind: &str,
        claimed_key: &[u8],
        error: IngestError,
    ) -> IngestError {
        let recorded = match self.rejection_row(kind, claimed_key, &error).await {
            Ok(Some(row)) => self.store().insert_rejection(&row).await,
            Ok(None) => Ok(()),
            Err(internal) => return internal.into(),
        };
        match recorded {
            Ok(()) => error,
            Err(db) => IngestError::Internal(db.into()),
        }
    }

    /// The row that records refusal `error` of a `kind` report claiming `claimed_key`, at the
    /// oracle's clock; `None` when `error` is no refusal, or refuses a stranger (a key that is
    /// not an onboarded gateway) beyond this minute's budget of recorded refusals.
    pub(crate) async fn rejection_row(
        &self,
        kind: &str,
        claimed_key: &[u8],
        error: &IngestError,
    ) -> Result<Option<RejectionRow>, OracleError> {
        let IngestError::Rejected { reason, detail } = error else {
            return Ok(None);
        };
        tracing::debug!(kind, reason = reason.code(), detail, "ingest rejection");
        let gateway = match <[u8; 32]>::try_from(claimed_key) {
            Ok(key) => self.store().is_known_gateway(&key).await?,
            Err(_) => false,
        };
        if !gateway {
            let per_minute = self.config().max_stranger_rejections_per_minute;
            let admitted = self
                .inner
                .stranger_rejections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .admit(self.now_ms(), per_minute);
            if !admitted {
                return Ok(None);
            }
        }
        Ok(Some(RejectionRow {
            kind: kind.to_string(),
            reason: reason.code().to_string(),
            claimed_key: claimed_key.iter().copied().take(64).collect(),
            received_ms: self.now_ms(),
            detail: detail.clone(),
        }))
    }

    /// [`check_key`] of a report's key, and whether it is an onboarded gateway's. A gateway's
    /// key passed `check_key` when it was asserted, so it is not decompressed again (about
    /// 5 µs a report); any other key is checked, and asked about again after the signature
    /// (it may be onboarded meanwhile), as before.
    async fn checked_key(&self, key: &[u8]) -> Result<([u8; 32], bool), IngestError> {
        if let Ok(bytes) = <[u8; 32]>::try_from(key) {
            if self.store().is_known_gateway(&bytes).await? {
                return Ok((bytes, true));
            }
        }
        Ok((check_key(key)?, false))
    }

    async fn known_gateway(&self, key: &[u8; 32]) -> Result<(), IngestError> {
        if self.store().is_known_gateway(key).await? {
            return Ok(());
        }
        Err(rejected(
            IngestReason::UnknownGateway,
            format!("{} is not a known gateway", poc::Address(*key)),
        ))
    }

    /// The latest entropy; `FailedPrecondition` if none has been published.
    pub async fn get_entropy(&self) -> Result<proto::Entropy, IngestError> {
        let row =
            self.store().latest_entropy().await?.ok_or_else(|| {
                IngestError::FailedPrecondition("no entropy published yet".into())
            })?;
        let mut entropy = proto::Entropy::decode(row.raw.as_slice())
            .map_err(|e| IngestError::Internal(e.into()))?;
        // Entropy the operators made together is stored unsigned; each operator signs what it
        // serves, over the contributions too.
        if entropy.oracle_key.is_empty() {
            entropy.oracle_key = self.inner.key.public_key().to_vec();
            entropy.sign_with(&self.inner.key);
        }
        Ok(entropy)
    }

    /// Checks and stores a beacon report for later verification; an operator that shares a
    /// report log publishes it there instead ([`crate::report_log`]).
    pub async fn submit_beacon(
        &self,
        report: proto::BeaconReport,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.report_log() {
            Some(log) => {
                self.screen_beacon(&report).await?;
                let id = report_id(&report);
                self.publish_report(log, Body::Beacon(report), id).await
            }
            None => self.store_beacon(report).await,
        }
    }

    /// Checks and stores a beacon report at the oracle's clock; a refusal is recorded.
    async fn store_beacon(
        &self,
        report: proto::BeaconReport,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.accept_beacon(&report).await {
            Ok(resp) => Ok(resp),
            Err(e) => Err(self.record_rejection("beacon", &report.pub_key, e).await),
        }
    }

    pub(crate) async fn accept_beacon(
        &self,
        report: &proto::BeaconReport,
    ) -> Result<proto::SubmitResp, IngestError> {
        self.screen_beacon(report).await?;
        let received_ms = self.now_ms();
        let id = report_id(report);
        self.store().insert_beacon(&id, received_ms, report).await?;
        Ok(proto::SubmitResp {
            id,
            received_timestamp_ms: received_ms,
        })
    }

    /// Every check of a beacon report before it is stored.
    async fn screen_beacon(&self, report: &proto::BeaconReport) -> Result<(), IngestError> {
        let (key, known) = self.checked_key(&report.pub_key).await?;
        check_payload("data", &report.data)?;
        check_payload("remote_entropy", &report.remote_entropy)?;
        if report.local_entropy.len() != poc::beacon::LOCAL_ENTROPY_LEN {
            return Err(rejected(
                IngestReason::Malformed,
                format!("local_entropy is {} bytes", report.local_entropy.len()),
            ));
        }
        self.inner
            .beacon_signatures
            .check(report.clone())
            .await?
            .map_err(bad_signature)?;
        if !known {
            self.known_gateway(&key).await?;
        }
        Ok(())
    }

    /// Checks and stores a witness report for later verification; an operator that shares a
    /// report log publishes it there instead.
    pub async fn submit_witness(
        &self,
        report: proto::WitnessReport,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.report_log() {
            Some(log) => {
                self.screen_witness(&report).await?;
                let id = report_id(&report);
                let batch = proto::WitnessBatch {
                    reports: vec![report],
                };
                self.publish_report(log, Body::Witnesses(batch), id).await
            }
            None => self.store_witness(report).await,
        }
    }

    /// Checks and stores a witness report at the oracle's clock; a refusal is recorded.
    async fn store_witness(
        &self,
        report: proto::WitnessReport,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.accept_witness(&report).await {
            Ok(resp) => Ok(resp),
            Err(e) => Err(self.record_rejection("witness", &report.pub_key, e).await),
        }
    }

    async fn accept_witness(
        &self,
        report: &proto::WitnessReport,
    ) -> Result<proto::SubmitResp, IngestError> {
        self.screen_witness(report).await?;
        let received_ms = self.now_ms();
        let id = report_id(report);
        self.store()
            .insert_witness(&id, received_ms, report)
            .await?;
        Ok(proto::SubmitResp {
            id,
            received_timestamp_ms: received_ms,
        })
    }

    /// Every check of a witness report before it is stored.
    async fn screen_witness(&self, report: &proto::WitnessReport) -> Result<(), IngestError> {
        let (key, known) = self.checked_key(&report.pub_key).await?;
        check_payload("data", &report.data)?;
        self.inner
            .witness_signatures
            .check(report.clone())
            .await?
            .map_err(bad_signature)?;
        if !known {
            self.known_gateway(&key).await?;
        }
        Ok(())
    }

    /// Checks and stores a batch of witness reports (at most [`MAX_BATCH`], else
    /// [`IngestError::BatchTooLarge`] and nothing is looked at): one decision per report, in
    /// order, each the one [`Oracle::submit_witness`] gives that report alone (the same
    /// checks in the same order, the same rejection recorded; a replay, also within the batch,
    /// gets the stored report's id and is stored once). The accepted reports are committed
    /// together before this returns. An `Err` (the store failing) acknowledges nothing.
    ///
    /// An operator that shares a report log checks each report alone and publishes the
    /// accepted ones there as one entry; its refusals are answered, not recorded.
    pub async fn submit_witnesses(
        &self,
        reports: Vec<proto::WitnessReport>,
    ) -> Result<Vec<Result<proto::SubmitResp, IngestError>>, IngestError> {
        match self.report_log() {
            Some(log) => self.log_witnesses(log, reports).await,
            None => self.store_witnesses(reports).await,
        }
    }

    /// [`Oracle::submit_witnesses`] of an operator sharing a report log.
    async fn log_witnesses(
        &self,
        log: &ReportLog,
        reports: Vec<proto::WitnessReport>,
    ) -> Result<Vec<Result<proto::SubmitResp, IngestError>>, IngestError> {
        if reports.len() > MAX_BATCH {
            return Err(IngestError::BatchTooLarge(reports.len()));
        }
        let mut checks =
            futures::future::join_all(reports.iter().map(|report| self.screen_witness(report)))
                .await;
        if let Some(i) = checks
            .iter()
            .position(|check| matches!(check, Err(IngestError::Internal(_))))
        {
            return Err(checks.swap_remove(i).unwrap_err());
        }
        let ids: Vec<Option<String>> = checks
            .iter()
            .zip(&reports)
            .map(|(check, report)| check.is_ok().then(|| report_id(report)))
            .collect();
        let accepted: Vec<proto::WitnessReport> = checks
            .iter()
            .zip(reports)
            .filter(|(check, _)| check.is_ok())
            .map(|(_, report)| report)
            .collect();
        let received_ms = if accepted.is_empty() {
            0
        } else {
            let batch = Body::Witnesses(proto::WitnessBatch { reports: accepted });
            let batch_id = hex::encode(Sha256::digest(
                ids.iter().flatten().cloned().collect::<String>(),
            ));
            self.publish_to_log(log, batch, entry_id("witnesses", &batch_id))
                .await?
        };
        Ok(checks
            .into_iter()
            .zip(ids)
            .map(|(check, id)| {
                check.map(|()| proto::SubmitResp {
                    id: id.unwrap_or_default(),
                    received_timestamp_ms: received_ms,
                })
            })
            .collect())
    }

    /// Publishes one report into the shared log; its answer carries the operator's stamp.
    async fn publish_report(
        &self,
        log: &ReportLog,
        body: Body,
        id: String,
    ) -> Result<proto::SubmitResp, IngestError> {
        let kind = match &body {
            Body::Beacon(_) => "beacon",
            Body::Witnesses(_) => "witnesses",
            Body::Assertion(_) => "assertion",
            Body::Onboarding(_) => "onboarding",
            Body::Entropy(_) => "entropy",
            Body::Tick(_) => "tick",
            Body::EntrySignature(_) => "signature",
            Body::EntropyCommit(_) => "commit",
            Body::EntropyReveal(_) => "reveal",
            Body::Credit(_) => "credit",
        };
        let received_ms = self.publish_to_log(log, body, entry_id(kind, &id)).await?;
        Ok(proto::SubmitResp {
            id,
            received_timestamp_ms: received_ms,
        })
    }

    /// Checks and stores a batch of witness reports at the oracle's clock (see
    /// [`Oracle::submit_witnesses`]); each refusal is recorded.
    async fn store_witnesses(
        &self,
        reports: Vec<proto::WitnessReport>,
    ) -> Result<Vec<Result<proto::SubmitResp, IngestError>>, IngestError> {
        let reports = Arc::new(reports);
        let outcomes = self.accept_witnesses(reports.clone()).await?;
        let recorded =
            outcomes
                .into_iter()
                .zip(reports.iter())
                .map(|(outcome, report)| async move {
                    match outcome {
                        Err(error) => Err(self
                            .record_rejection("witness", &report.pub_key, error)
                            .await),
                        accepted => accepted,
                    }
                });
        let mut results = Vec::with_capacity(reports.len());
        for outcome in futures::future::join_all(recorded).await {
            if let Err(IngestError::Internal(error)) = outcome {
                return Err(IngestError::Internal(error));
            }
            results.push(outcome);
        }
        Ok(results)
    }

    /// Checks and stores a batch of witness reports at the oracle's clock; what each refusal
    /// was is given back, not recorded.
    pub(crate) async fn accept_witnesses(
        &self,
        reports: Arc<Vec<proto::WitnessReport>>,
    ) -> Result<Vec<Result<proto::SubmitResp, IngestError>>, IngestError> {
        if reports.len() > MAX_BATCH {
            return Err(IngestError::BatchTooLarge(reports.len()));
        }
        // Key and payload checks; a key's decoding is done once per distinct key.
        let mut keys: HashMap<&[u8], Result<[u8; 32], String>> = HashMap::new();
        let mut decided: Vec<Result<[u8; 32], IngestError>> = reports
            .iter()
            .map(|report| {
                let key = keys
                    .entry(report.pub_key.as_slice())
                    .or_insert_with(|| check_key(&report.pub_key).map_err(|e| e.to_string()))
                    .clone();
                match key {
                    Ok(key) => check_payload("data", &report.data).map(|()| key),
                    // The same refusal check_key gives: redo it for its error.
                    Err(_) => check_witness_fields(report),
                }
            })
            .collect();
        drop(keys);
        // Signatures, together.
        let to_verify: Vec<usize> = (0..reports.len())
            .filter(|&i| decided.get(i).is_some_and(Result::is_ok))
            .collect();
        let signatures = verify_signatures(&reports, to_verify.clone()).await?;
        for (i, signature) in to_verify.into_iter().zip(signatures) {
            if let (Err(e), Some(decision)) = (signature, decided.get_mut(i)) {
                *decision = Err(bad_signature(e));
            }
        }
        // Known gateways, asked once per distinct key.
        let mut known: HashMap<[u8; 32], bool> = HashMap::new();
        for decision in decided.iter_mut() {
            let Ok(key) = decision else { continue };
            let key = *key;
            let is_known = match known.get(&key) {
                Some(&k) => k,
                None => {
                    let k = self.store().is_known_gateway(&key).await?;
                    known.insert(key, k);
                    k
                }
            };
            if !is_known {
                *decision = Err(rejected(
                    IngestReason::UnknownGateway,
                    format!("{} is not a known gateway", poc::Address(key)),
                ));
            }
        }
        // Store the accepted ones in one group.
        let received_ms = self.now_ms();
        let accepted: Vec<(String, &proto::WitnessReport)> = decided
            .iter()
            .zip(reports.iter())
            .filter(|(decision, _)| decision.is_ok())
            .map(|(_, report)| (report_id(report), report))
            .collect();
        self.store()
            .insert_witnesses(received_ms, &accepted)
            .await?;
        let mut accepted = accepted.into_iter();
        let mut results = Vec::with_capacity(decided.len());
        for decision in decided {
            results.push(match decision {
                Ok(_) => match accepted.next() {
                    Some((id, _)) => Ok(proto::SubmitResp {
                        id,
                        received_timestamp_ms: received_ms,
                    }),
                    None => return Err(lost_track()),
                },
                Err(refusal) => Err(refusal),
            });
        }
        Ok(results)
    }

    /// Checks and applies a location assertion. The signer becomes a known gateway; a
    /// `location` of 0 onboards it without a location (it stays "not asserted"). The timestamp
    /// must be newer than the gateway's last assertion and at most five minutes ahead of the
    /// oracle's clock; the location must be a resolution-12 H3 cell; the region must be set.
    ///
    /// An operator that shares a report log checks the key and signature and publishes the
    /// assertion there; the other checks are made when the log is applied.
    pub async fn assert_location(
        &self,
        assertion: proto::LocationAssertion,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.report_log() {
            Some(log) => {
                check_key(&assertion.pub_key)?;
                check_signature(&assertion)?;
                let id = report_id(&assertion);
                self.publish_report(log, Body::Assertion(assertion), id)
                    .await
            }
            None => self.store_assertion(assertion).await,
        }
    }

    /// Checks and applies a location assertion at the oracle's clock; a refusal is recorded.
    async fn store_assertion(
        &self,
        assertion: proto::LocationAssertion,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.accept_assertion(&assertion).await {
            Ok(resp) => Ok(resp),
            Err(e) => Err(self
                .record_rejection("assertion", &assertion.pub_key, e)
                .await),
        }
    }

    pub(crate) async fn accept_assertion(
        &self,
        a: &proto::LocationAssertion,
    ) -> Result<proto::SubmitResp, IngestError> {
        let key = check_key(&a.pub_key)?;
        check_signature(a)?;
        let location = if a.location == 0 {
            None
        } else {
            let cell = h3_coverage::cell_from_u64(a.location)
                .map_err(|e| rejected(IngestReason::InvalidLocation, e.to_string()))?;
            if cell.resolution() != h3_coverage::ASSERT_RESOLUTION {
                return Err(rejected(
                    IngestReason::InvalidLocation,
                    format!(
                        "cell resolution {} is not {}",
                        u8::from(cell.resolution()),
                        u8::from(h3_coverage::ASSERT_RESOLUTION)
                    ),
                ));
            }
            Some(a.location)
        };
        match Region::try_from(a.region) {
            Ok(region) if poc::RegionPlan::for_region(region).is_some() => {}
            _ => {
                return Err(rejected(
                    IngestReason::RegionUnspecified,
                    format!("region {} is not a known region", a.region),
                ))
            }
        }
        let now = self.now_ms();
        if a.timestamp_ms > now.saturating_add(MAX_ASSERTION_SKEW_MS) {
            return Err(rejected(
                IngestReason::Malformed,
                format!("timestamp {} lies in the future", a.timestamp_ms),
            ));
        }
        let raw = a.encode_to_vec();
        let existing = self.store().gateway(&key).await?;
        if let Some(existing) = existing {
            if existing.raw == raw {
                // A replay of the assertion in force: acknowledged again, paid once.
                return Ok(proto::SubmitResp {
                    id: report_id(a),
                    received_timestamp_ms: now,
                });
            }
            if a.timestamp_ms <= existing.asserted_ms {
                return Err(rejected(
                    IngestReason::StaleAssertion,
                    format!(
                        "timestamp {} is not newer than the last assertion at {}",
                        a.timestamp_ms, existing.asserted_ms
                    ),
                ));
            }
        }
        let gateway = GatewayRow {
            pub_key: key,
            location,
            gain_ddbi: a.gain_ddbi,
            elevation_m: a.elevation_m,
            region: a.region,
            asserted_ms: a.timestamp_ms,
            raw,
        };
        let identity = &self.config().identity;
        match identity.onboarding {
            Onboarding::Open => self.store().put_gateway(&gateway).await?,
            Onboarding::Makers => self
                .store()
                .put_paid_gateway(&gateway, identity.assertion_fee_dc, now)
                .await?
                .map_err(|r| rejected(r.reason, r.detail))?,
        }
        Ok(proto::SubmitResp {
            id: report_id(a),
            received_timestamp_ms: now,
        })
    }

    /// Checks and applies an onboarding request ([`oracle_core::identity`]): the maker's record,
    /// the hotspot's and the owner's signatures, the maker's allowance and the owner's balance.
    /// The hotspot becomes a known gateway without a location, and the owner pays the fee. A
    /// replay of an accepted request is acknowledged again, without a fee.
    ///
    /// An operator that shares a report log checks the hotspot's key and publishes the request
    /// there; the other checks are made when the log is applied.
    pub async fn onboard(
        &self,
        request: proto::OnboardRequest,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.report_log() {
            Some(log) => {
                check_key(&request.pub_key)?;
                let id = report_id(&request);
                self.publish_report(log, Body::Onboarding(request), id)
                    .await
            }
            None => self.store_onboarding(request).await,
        }
    }

    /// Checks and applies an onboarding request at the oracle's clock; a refusal is recorded.
    async fn store_onboarding(
        &self,
        request: proto::OnboardRequest,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.accept_onboarding(&request).await {
            Ok(resp) => Ok(resp),
            Err(e) => Err(self
                .record_rejection("onboarding", &request.pub_key, e)
                .await),
        }
    }

    pub(crate) async fn accept_onboarding(
        &self,
        request: &proto::OnboardRequest,
    ) -> Result<proto::SubmitResp, IngestError> {
        let identity = &self.config().identity;
        if identity.onboarding == Onboarding::Open {
            return Err(rejected(
                IngestReason::Malformed,
                "this network is open: hotspots join by asserting a location",
            ));
        }
        check_key(&request.pub_key)?;
        let makers = identity.makers().map_err(OracleError::Config)?;
        let now = self.now_ms();
        let binding = identity::check_request(request, &makers, now)
            .map_err(|r| rejected(r.reason, r.detail))?;
        self.store()
            .onboard(OnboardingWrite {
                binding,
                makers: &makers,
                fee_dc: identity.onboarding_fee_dc,
                at_ms: now,
                raw: request.encode_to_vec(),
            })
            .await?
            .map_err(|r| rejected(r.reason, r.detail))?;
        Ok(proto::SubmitResp {
            id: report_id(request),
            received_timestamp_ms: now,
        })
    }

    /// What the oracle knows of a gateway.
    pub async fn gateway_info(&self, key: &[u8]) -> Result<proto::GatewayInfo, IngestError> {
        let key = check_key(key)?;
        let gateway = self.store().gateway(&key).await?.ok_or_else(|| {
            IngestError::NotFound(format!("{} is not a known gateway", poc::Address(key)))
        })?;
        let binding = self.store().binding(&key).await?;
        Ok(proto::GatewayInfo {
            pub_key: key.to_vec(),
            asserted: gateway.location.is_some(),
            location: gateway.location.unwrap_or(0),
            gain_ddbi: gateway.gain_ddbi,
            elevation_m: gateway.elevation_m,
            region: gateway.region,
            owner_key: binding.map(|b| b.owner.to_vec()).unwrap_or_default(),
            maker_key: binding.map(|b| b.maker.to_vec()).unwrap_or_default(),
        })
    }
}

/// The tonic `PocLora` service over an [`Oracle`].
#[derive(Debug, Clone)]
pub struct GrpcService {
    oracle: Oracle,
}

impl GrpcService {
    /// A service backed by `oracle`.
    pub fn new(oracle: Oracle) -> Self {
        Self { oracle }
    }
}

#[tonic::async_trait]
impl PocLora for GrpcService {
    async fn get_entropy(
        &self,
        _request: Request<proto::EntropyReq>,
    ) -> Result<Response<proto::Entropy>, Status> {
        Ok(Response::new(self.oracle.get_entropy().await?))
    }

    async fn submit_beacon(
        &self,
        request: Request<proto::BeaconReport>,
    ) -> Result<Response<proto::SubmitResp>, Status> {
        Ok(Response::new(
            self.oracle.submit_beacon(request.into_inner()).await?,
        ))
    }

    async fn submit_witness(
        &self,
        request: Request<proto::WitnessReport>,
    ) -> Result<Response<proto::SubmitResp>, Status> {
        Ok(Response::new(
            self.oracle.submit_witness(request.into_inner()).await?,
        ))
    }

    async fn submit_witnesses(
        &self,
        request: Request<proto::WitnessBatch>,
    ) -> Result<Response<proto::BatchResp>, Status> {
        let results = self
            .oracle
            .submit_witnesses(request.into_inner().reports)
            .await?;
        let results = results
            .into_iter()
            .map(|result| proto::BatchResult {
                result: Some(match result {
                    Ok(ack) => proto::batch_result::Result::Accepted(ack),
                    Err(error) => {
                        let code = error.code() as i32;
                        let (reason, detail) = match error {
                            IngestError::Rejected { reason, detail } => {
                                (reason.code().to_string(), detail)
                            }
                            other => (String::new(), other.to_string()),
                        };
                        proto::batch_result::Result::Refused(proto::Refusal {
                            reason,
                            detail,
                            code,
                        })
                    }
                }),
            })
            .collect();
        Ok(Response::new(proto::BatchResp { results }))
    }

    async fn assert_location(
        &self,
        request: Request<proto::LocationAssertion>,
    ) -> Result<Response<proto::SubmitResp>, Status> {
        Ok(Response::new(
            self.oracle.assert_location(request.into_inner()).await?,
        ))
    }

    async fn onboard(
        &self,
        request: Request<proto::OnboardRequest>,
    ) -> Result<Response<proto::SubmitResp>, Status> {
        Ok(Response::new(
            self.oracle.onboard(request.into_inner()).await?,
        ))
    }

    async fn get_gateway_info(
        &self,
        request: Request<proto::GatewayInfoReq>,
    ) -> Result<Response<proto::GatewayInfo>, Status> {
        Ok(Response::new(
            self.oracle
                .gateway_info(&request.into_inner().pub_key)
                .await?,
        ))
    }
}

/// Wraps the generated server so that requests tonic cannot decode (a truncated or garbled
/// protobuf, a frame cut short) are answered with `InvalidArgument` instead of tonic's
/// `Internal`: the client sent bad bytes, the oracle did not fail.
#[derive(Debug, Clone)]
pub struct DecodeErrorsAsInvalidArgument<S>(pub S);

impl<S: tonic::server::NamedService> tonic::server::NamedService
    for DecodeErrorsAsInvalidArgument<S>
{
    const NAME: &'static str = S::NAME;
}

/// Whether a `grpc-message` (percent-encoded) reports a request that could not be decoded.
fn is_decode_failure(message: &[u8]) -> bool {
    let message = String::from_utf8_lossy(message).replace("%20", " ");
    message.starts_with("failed to decode Protobuf message")
        || message.starts_with("Unexpected EOF decoding stream")
}

type HttpRequest = tonic::codegen::http::Request<tonic::body::Body>;
type HttpResponse = tonic::codegen::http::Response<tonic::body::Body>;

impl<S> tonic::codegen::Service<HttpRequest> for DecodeErrorsAsInvalidArgument<S>
where
    S: tonic::codegen::Service<
        HttpRequest,
        Response = HttpResponse,
        Error = std::convert::Infallible,
    >,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<HttpResponse, std::convert::Infallible>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let future = self.0.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            let headers = response.headers_mut();
            let internal = headers
                .get("grpc-status")
                .is_some_and(|v| v.as_bytes() == b"13");
            let decode = headers
                .get("grpc-message")
                .is_some_and(|v| is_decode_failure(v.as_bytes()));
            if internal && decode {
                headers.insert(
                    "grpc-status",
                    tonic::codegen::http::HeaderValue::from_static("3"),
                );
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_signature_checks_give_each_report_its_own_decision() {
        let queue = SignatureQueue::<proto::WitnessReport>::new();
        let reports: Vec<proto::WitnessReport> = (0..300u32)
            .map(|i| {
                let key = poc::Keypair::from_seed(11, u64::from(i % 7));
                let mut report = proto::WitnessReport {
                    pub_key: key.public_key().to_vec(),
                    data: i.to_le_bytes().to_vec(),
                    rssi_ddbm: -1000,
                    ..Default::default()
                };
                report.sign_with(&key);
                match i % 5 {
                    // Altered after signing.
                    1 => report.rssi_ddbm += 1,
                    // Signed by another key.
                    2 => report.sign_with(&poc::Keypair::from_seed(12, 0)),
                    // Cut short.
                    3 => {
                        report.signature.pop();
                    }
                    _ => {}
                }
                report
            })
            .collect();
        let checks = reports.iter().map(|r| {
            let queue = queue.clone();
            let r = r.clone();
            tokio::spawn(async move { queue.check(r).await.unwrap() })
        });
        let decisions = futures::future::join_all(checks).await;
        for (report, decision) in reports.iter().zip(decisions) {
            assert_eq!(decision.unwrap(), report.verify());
        }
        // Two of five are accepted: the decisions are not all alike.
        let accepted = reports.iter().filter(|r| r.verify().is_ok()).count();
        assert_eq!(accepted, 120);
        // The queue still answers afterwards.
        assert_eq!(queue.check(reports[0].clone()).await.unwrap(), Ok(()));
    }
}
