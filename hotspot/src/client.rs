//! gRPC client of the oracle's `PocLora` ingest service.

use poc::proto::{self, poc_lora_client::PocLoraClient};
use tonic::transport::Channel;

/// Errors talking to the oracle.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not a valid URI.
    #[error("invalid oracle endpoint {endpoint}: {message}")]
    Endpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// Why it is invalid.
        message: String,
    },
    /// The connection failed.
    #[error("cannot connect to the oracle at {endpoint}: {source}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The transport error.
        source: tonic::transport::Error,
    },
    /// The oracle answered with an error.
    #[error("oracle refused {call}: {status}")]
    Status {
        /// The call that failed.
        call: &'static str,
        /// The oracle's status.
        status: Box<tonic::Status>,
    },
}

impl ClientError {
    /// The gRPC status code, when the oracle answered.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Status { status, .. } => Some(status.code()),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: the oracle was unreachable, overloaded or failed
    /// internally. Refusals of the report itself (bad signature, malformed, unknown gateway)
    /// are not transient.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Endpoint { .. } => false,
            ClientError::Connect { .. } => true,
            ClientError::Status { status, .. } => matches!(
                status.code(),
                tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::ResourceExhausted
                    | tonic::Code::Aborted
                    | tonic::Code::Internal
                    | tonic::Code::Unknown
                    | tonic::Code::Cancelled
            ),
        }
    }
}

/// A connection to the oracle.
#[derive(Debug, Clone)]
pub struct OracleClient {
    inner: PocLoraClient<Channel>,
}

fn status(call: &'static str) -> impl FnOnce(tonic::Status) -> ClientError {
    move |status| ClientError::Status {
        call,
        status: Box::new(status),
    }
}

impl OracleClient {
    /// Connects to the oracle at `endpoint`, e.g. `http://127.0.0.1:50051`.
    pub async fn connect(endpoint: &str) -> Result<Self, ClientError> {
        let channel = Channel::from_shared(endpoint.to_string())
            .map_err(|error| ClientError::Endpoint {
                endpoint: endpoint.to_string(),
                message: error.to_string(),
            })?
            .connect()
            .await
            .map_err(|source| ClientError::Connect {
                endpoint: endpoint.to_string(),
                source,
            })?;
        Ok(Self {
            inner: PocLoraClient::new(channel),
        })
    }

    /// A client of the oracle at `endpoint` that connects on first use and reconnects after
    /// outages by itself; each call times out after `timeout`. Fails only on a malformed
    /// endpoint.
    pub fn connect_lazy(endpoint: &str, timeout: std::time::Duration) -> Result<Self, ClientError> {
        let channel = Channel::from_shared(endpoint.to_string())
            .map_err(|error| ClientError::Endpoint {
                endpoint: endpoint.to_string(),
                message: error.to_string(),
            })?
            .connect_timeout(timeout)
            .timeout(timeout)
            .connect_lazy();
        Ok(Self {
            inner: PocLoraClient::new(channel),
        })
    }

    /// A client of the oracle operators at `endpoints` (one or more that share a report log)
    /// that sends each call to one of those that are reachable, spreading calls over them, and
    /// leaves out one that is down until it reconnects; each call times out after `timeout`.
    /// Fails only on a malformed endpoint or an empty list.
    pub fn connect_any(
        endpoints: &[String],
        timeout: std::time::Duration,
    ) -> Result<Self, ClientError> {
        let [only] = endpoints else {
            let list = endpoints
                .iter()
                .map(|endpoint| {
                    Channel::from_shared(endpoint.clone())
                        .map(|e| e.connect_timeout(timeout).timeout(timeout))
                        .map_err(|error| ClientError::Endpoint {
                            endpoint: endpoint.clone(),
                            message: error.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if list.is_empty() {
                return Err(ClientError::Endpoint {
                    endpoint: String::new(),
                    message: "no oracle endpoint".into(),
                });
            }
            return Ok(Self {
                inner: PocLoraClient::new(Channel::balance_list(list.into_iter())),
            });
        };
        Self::connect_lazy(only, timeout)
    }

    /// The oracle's current entropy.
    pub async fn entropy(&mut self) -> Result<proto::Entropy, ClientError> {
        let response = self
            .inner
            .get_entropy(proto::EntropyReq {})
            .await
            .map_err(status("GetEntropy"))?;
        Ok(response.into_inner())
    }

    /// Submits a signed beacon report.
    pub async fn submit_beacon(
        &mut self,
        report: proto::BeaconReport,
    ) -> Result<proto::SubmitResp, ClientError> {
        let response = self
            .inner
            .submit_beacon(report)
            .await
            .map_err(status("SubmitBeacon"))?;
        Ok(response.into_inner())
    }

    /// Submits a signed witness report.
    pub async fn submit_witness(
        &mut self,
        report: proto::WitnessReport,
    ) -> Result<proto::SubmitResp, ClientError> {
        let response = self
            .inner
            .submit_witness(report)
            .await
            .map_err(status("SubmitWitness"))?;
        Ok(response.into_inner())
    }

    /// Submits a signed location assertion.
    pub async fn assert_location(
        &mut self,
        assertion: proto::LocationAssertion,
    ) -> Result<proto::SubmitResp, ClientError> {
        let response = self
            .inner
            .assert_location(assertion)
            .await
            .map_err(status("AssertLocation"))?;
        Ok(response.into_inner())
    }

    /// Submits an onboarding request (the maker's record, signed by the hotspot and its owner).
    pub async fn onboard(
        &mut self,
        request: proto::OnboardRequest,
    ) -> Result<proto::SubmitResp, ClientError> {
        let response = self
            .inner
            .onboard(request)
            .await
            .map_err(status("Onboard"))?;
        Ok(response.into_inner())
    }

    /// What the oracle knows of a hotspot.
    pub async fn gateway_info(
        &mut self,
        pub_key: &[u8],
    ) -> Result<proto::GatewayInfo, ClientError> {
        let response = self
            .inner
            .get_gateway_info(proto::GatewayInfoReq {
                pub_key: pub_key.to_vec(),
            })
            .await
            .map_err(status("GetGatewayInfo"))?;
        Ok(response.into_inner())
    }
}
