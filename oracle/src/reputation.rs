//! Reputation in the service: a hotspot's score as of now from its stored reports, and its
//! route in the explorer API. The model is [`oracle_core::reputation`].

pub use oracle_core::reputation::*;

use crate::error::OracleError;
use crate::http::{parse_address, ApiError, ApiResult};
use crate::store::Status;
use crate::Oracle;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde_json::json;
use std::collections::BTreeMap;

impl Oracle {
    /// A hotspot's reputation from its reports received in `[at_ms − window, at_ms)`.
    pub async fn reputation(&self, key: &[u8; 32], at_ms: u64) -> Result<Reputation, OracleError> {
        let config = &self.config().reputation;
        let start = at_ms.saturating_sub(config.window_ms);
        let in_window = |t: u64| t >= start && t < at_ms;
        let mut valid_beacons = 0;
        let mut valid_witnesses = 0;
        let mut invalid: BTreeMap<String, u64> = BTreeMap::new();
        let mut count = |status: Status, reason: Option<String>, valid: &mut u64| match status {
            Status::Valid => *valid += 1,
            Status::Invalid => {
                *invalid
                    .entry(reason.unwrap_or_else(|| "unknown".into()))
                    .or_default() += 1
            }
            Status::Pending => {}
        };
        for b in self.store().recent_beacons(key, config.max_reports).await? {
            if in_window(b.received_ms) {
                count(b.status, b.reason, &mut valid_beacons);
            }
        }
        for w in self
            .store()
            .recent_witnesses(key, config.max_reports)
            .await?
        {
            if in_window(w.received_ms) {
                count(w.status, w.reason, &mut valid_witnesses);
            }
        }
        Ok(explain(
            poc::Address(*key),
            (start, at_ms),
            valid_beacons,
            valid_witnesses,
            invalid,
            config,
        ))
    }
}

/// `GET /api/v1/hotspots/{address}/reputation`, listed with the explorer's routes.
pub fn routes() -> Vec<(&'static str, MethodRouter<Oracle>)> {
    vec![("/api/v1/hotspots/{address}/reputation", get(reputation))]
}

async fn reputation(
    State(oracle): State<Oracle>,
    address: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let address = parse_address(address)?;
    if oracle.store().gateway(&address.0).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{address} is not a known hotspot"),
        ));
    }
    let reputation = oracle.reputation(&address.0, oracle.now_ms()).await?;
    Ok(Json(json!(reputation)))
}
