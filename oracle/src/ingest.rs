//! Ingest: the checks a report must pass before it is stored, and the tonic `PocLora` service.
//!
//! A report is refused (and the refusal recorded in `ingest_rejections`) when it is malformed
//! (wrong key length, a key that is not an ed25519 point, empty data, data over 255 bytes, wrong
//! entropy lengths), when its signature does not verify, or when its signer is not a known
//! gateway. Accepted reports are committed to the store before the reply is sent. A replay of
//! a report (the same signed bytes again) is acknowledged with the same id and not stored again,
//! so a client that lost an acknowledgement can simply resend.

use crate::error::OracleError;
use crate::reason::IngestReason;
use crate::store::{GatewayRow, RejectionRow};
use crate::Oracle;
use poc::proto::{self, poc_lora_server::PocLora, Region};
use poc::Signable;
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

/// Largest payload a report may carry (a LoRa frame's limit).
pub const MAX_PAYLOAD_LEN: usize = 255;
/// How far into the future an assertion's timestamp may lie.
pub const MAX_ASSERTION_SKEW_MS: u64 = 5 * 60_000;

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
    /// The thing asked about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The oracle failed internally.
    #[error(transparent)]
    Internal(#[from] OracleError),
}

impl IngestError {
    /// The ingest reason, if the report was refused.
    pub fn reason(&self) -> Option<IngestReason> {
        match self {
            IngestError::Rejected { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

impl From<IngestError> for Status {
    fn from(error: IngestError) -> Self {
        let message = error.to_string();
        match error {
            IngestError::Rejected { reason, .. } => match reason {
                IngestReason::BadSignature => Status::unauthenticated(message),
                IngestReason::UnknownGateway => Status::not_found(message),
                IngestReason::StaleAssertion => Status::failed_precondition(message),
                IngestReason::Malformed
                | IngestReason::InvalidLocation
                | IngestReason::RegionUnspecified => Status::invalid_argument(message),
            },
            IngestError::FailedPrecondition(_) => Status::failed_precondition(message),
            IngestError::NotFound(_) => Status::not_found(message),
            IngestError::Internal(_) => Status::internal(message),
        }
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
    message
        .verify()
        .map_err(|e| rejected(IngestReason::BadSignature, e.to_string()))
}

/// Hex SHA-256 of a report's encoding: the id returned to the submitter.
pub fn report_id<M: Message>(message: &M) -> String {
    hex::encode(Sha256::digest(message.encode_to_vec()))
}

impl Oracle {
    async fn record_rejection(
        &self,
        kind: &str,
        claimed_key: &[u8],
        error: IngestError,
    ) -> IngestError {
        if let IngestError::Rejected { reason, detail } = &error {
            tracing::debug!(kind, reason = reason.code(), detail, "ingest rejection");
            let row = RejectionRow {
                kind: kind.to_string(),
                reason: reason.code().to_string(),
                claimed_key: claimed_key.iter().copied().take(64).collect(),
                received_ms: self.now_ms(),
                detail: detail.clone(),
            };
            if let Err(db) = self.store().insert_rejection(&row).await {
                return IngestError::Internal(db);
            }
        }
        error
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
        proto::Entropy::decode(row.raw.as_slice())
            .map_err(|e| IngestError::Internal(OracleError::Corrupt(e.to_string())))
    }

    /// Checks and stores a beacon report for later verification.
    pub async fn submit_beacon(
        &self,
        report: proto::BeaconReport,
    ) -> Result<proto::SubmitResp, IngestError> {
        match self.accept_beacon(&report).await {
            Ok(resp) => Ok(resp),
            Err(e) => Err(self.record_rejection("beacon", &report.pub_key, e).await),
        }
    }

    async fn accept_beacon(
        &self,
        report: &proto::BeaconReport,
    ) -> Result<proto::SubmitResp, IngestError> {
        let key = check_key(&report.pub_key)?;
        check_payload("data", &report.data)?;
        check_payload("remote_entropy", &report.remote_entropy)?;
        if report.local_entropy.len() != poc::beacon::LOCAL_ENTROPY_LEN {
            return Err(rejected(
                IngestReason::Malformed,
                format!("local_entropy is {} bytes", report.local_entropy.len()),
            ));
        }
        check_signature(report)?;
        self.known_gateway(&key).await?;
        let received_ms = self.now_ms();
        let id = report_id(report);
        self.store().insert_beacon(&id, received_ms, report).await?;
        Ok(proto::SubmitResp {
            id,
            received_timestamp_ms: received_ms,
        })
    }

    /// Checks and stores a witness report for later verification.
    pub async fn submit_witness(
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
        let key = check_key(&report.pub_key)?;
        check_payload("data", &report.data)?;
        check_signature(report)?;
        self.known_gateway(&key).await?;
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

    /// Checks and applies a location assertion. The signer becomes a known gateway; a
    /// `location` of 0 onboards it without a location (it stays "not asserted"). The timestamp
    /// must be newer than the gateway's last assertion and at most five minutes ahead of the
    /// oracle's clock; the location must be a resolution-12 H3 cell; the region must be set.
    pub async fn assert_location(
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

    async fn accept_assertion(
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
        if let Some(existing) = self.store().gateway(&key).await? {
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
        let raw = a.encode_to_vec();
        self.store()
            .put_gateway(&GatewayRow {
                pub_key: key,
                location,
                gain_ddbi: a.gain_ddbi,
                elevation_m: a.elevation_m,
                region: a.region,
                asserted_ms: a.timestamp_ms,
                raw,
            })
            .await?;
        Ok(proto::SubmitResp {
            id: report_id(a),
            received_timestamp_ms: now,
        })
    }

    /// What the oracle knows of a gateway.
    pub async fn gateway_info(&self, key: &[u8]) -> Result<proto::GatewayInfo, IngestError> {
        let key = check_key(key)?;
        let gateway = self.store().gateway(&key).await?.ok_or_else(|| {
            IngestError::NotFound(format!("{} is not a known gateway", poc::Address(key)))
        })?;
        Ok(proto::GatewayInfo {
            pub_key: key.to_vec(),
            asserted: gateway.location.is_some(),
            location: gateway.location.unwrap_or(0),
            gain_ddbi: gateway.gain_ddbi,
            elevation_m: gateway.elevation_m,
            region: gateway.region,
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

    async fn assert_location(
        &self,
        request: Request<proto::LocationAssertion>,
    ) -> Result<Response<proto::SubmitResp>, Status> {
        Ok(Response::new(
            self.oracle.assert_location(request.into_inner()).await?,
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
