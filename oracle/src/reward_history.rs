//! A hotspot's rewards and verdicts over time in the explorer API, so that an owner can see
//! why an epoch paid them nothing: `GET /api/v1/hotspots/{address}/rewards?limit=&offset=`.
//!
//! For each closed epoch (newest first, one page): what it paid the hotspot in the token's
//! smallest unit (`token` gives the symbol and the decimals), the epoch-wide flags it got with
//! their explanations, and its beacons and witnesses received in the epoch by verdict, with
//! the reason codes of the invalid ones. The counts come from the hotspot's newest
//! [`MAX_SCANNED`] reports of each kind.

use crate::http::{explain, known_gateway, page_of, parse_address, ApiResult, PageQuery};
use crate::names::hotspot_name;
use crate::store::Status;
use crate::Oracle;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Most reports of each kind read to count verdicts per epoch.
pub const MAX_SCANNED: u32 = 5_000;

/// The route of this module.
pub fn routes() -> Vec<(&'static str, MethodRouter<Oracle>)> {
    vec![("/api/v1/hotspots/{address}/rewards", get(rewards))]
}

/// The token amounts are stated in: symbol and decimal places.
pub fn token_json(oracle: &Oracle) -> Value {
    let rewards = &oracle.config().rewards;
    json!({ "symbol": rewards.token, "decimals": rewards.decimals })
}

/// A hotspot's reports of one epoch, by verdict.
#[derive(Debug, Default, Serialize)]
struct Verdicts {
    beacons_valid: u64,
    beacons_invalid: u64,
    witnesses_valid: u64,
    witnesses_invalid: u64,
    /// Invalid reports by reason code.
    invalid: BTreeMap<String, u64>,
}

impl Verdicts {
    fn count(&mut self, beacon: bool, status: Status, reason: Option<&str>) {
        let (valid, invalid) = if beacon {
            (&mut self.beacons_valid, &mut self.beacons_invalid)
        } else {
            (&mut self.witnesses_valid, &mut self.witnesses_invalid)
        };
        match status {
            Status::Valid => *valid += 1,
            Status::Invalid => {
                *invalid += 1;
                *self
                    .invalid
                    .entry(reason.unwrap_or("unknown").to_string())
                    .or_default() += 1;
            }
            Status::Pending => {}
        }
    }
}

/// The hotspot's newest reports counted by epoch and verdict.
async fn verdicts_by_epoch(
    oracle: &Oracle,
    key: &[u8; 32],
) -> Result<BTreeMap<u64, Verdicts>, crate::http::ApiError> {
    let epoch_ms = oracle.config().epoch_ms;
    let store = oracle.store();
    let mut by_epoch: BTreeMap<u64, Verdicts> = BTreeMap::new();
    for b in store.beacon_history(key, 0, MAX_SCANNED).await? {
        by_epoch.entry(b.received_ms / epoch_ms).or_default().count(
            true,
            b.status,
            b.reason.as_deref(),
        );
    }
    for w in store.witness_history(key, 0, MAX_SCANNED).await? {
        by_epoch.entry(w.received_ms / epoch_ms).or_default().count(
            false,
            w.status,
            w.reason.as_deref(),
        );
    }
    Ok(by_epoch)
}

fn explained(kind: &str, codes: impl IntoIterator<Item = String>) -> Vec<Value> {
    codes
        .into_iter()
        .map(|code| {
            let explanation = explain(kind, &code)
                .or_else(|| explain("beacon", &code))
                .unwrap_or("Unknown reason code.");
            json!({ "code": code, "explanation": explanation })
        })
        .collect()
}

async fn rewards(
    State(oracle): State<Oracle>,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    let address = parse_address(address)?;
    let page = page_of(query)?;
    known_gateway(&oracle, &address).await?;
    let text = address.to_string();
    let mut verdicts = verdicts_by_epoch(&oracle, &address.0).await?;
    let closed = oracle
        .store()
        .closed_epochs(page.offset, page.limit)
        .await?;
    let mut epochs = Vec::with_capacity(closed.len());
    for summary in closed {
        let Some(report) = oracle.epoch_report(summary.epoch).await? else {
            continue;
        };
        let row = report.rewards.iter().find(|r| r.address == text);
        let flags = report.flagged.get(&text).cloned().unwrap_or_default();
        let counts = verdicts.remove(&summary.epoch).unwrap_or_default();
        let invalid = explained("witness", counts.invalid.keys().cloned());
        epochs.push(json!({
            "epoch": summary.epoch,
            "start_ms": report.start_ms,
            "end_ms": report.end_ms,
            "closed_ms": summary.closed_ms,
            "beacon_amount": row.map_or(0, |r| r.beacon_amount),
            "witness_amount": row.map_or(0, |r| r.witness_amount),
            "total": row.map_or(0, |r| r.total),
            "flags": explained("reward", flags),
            "uncorroborated": report.uncorroborated.contains(&text),
            "reports": counts,
            "invalid_reasons": invalid,
        }));
    }
    Ok(Json(json!({
        "address": address,
        "name": hotspot_name(&address),
        "token": token_json(&oracle),
        "limit": page.limit,
        "offset": page.offset,
        "epochs": epochs,
    })))
}
