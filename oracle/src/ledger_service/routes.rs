//! HTTP routes of the ledger, listed with the explorer's:
//!
//! - `GET /api/v1/ledger`: every entry's header (no shares), oldest first
//! - `GET /api/v1/ledger/{epoch}`: one entry with its shares and its canonical encoding (hex)
//! - `GET /api/v1/ledger/{epoch}/proof/{address}`: a hotspot's [`Claim`] (share + Merkle proof)

use crate::http::{parse_epoch, ApiError, ApiResult};
use crate::{params, Oracle};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, MethodRouter};
use axum::Json;
use ledger::{Claim, LedgerEntry};
use serde_json::{json, Value};

/// The JSON header of an entry (everything but the shares), with the operators that this
/// oracle saw sign another entry for its epoch.
pub fn entry_header(entry: &LedgerEntry, dissenters: &[poc::Address]) -> Value {
    let m = &entry.manifest;
    let quorum = entry.quorum.as_ref();
    let signers: Vec<_> = quorum
        .map(|q| q.signatures.iter().map(|s| s.operator).collect())
        .unwrap_or_default();
    json!({
        "epoch": m.epoch,
        "start_ms": m.start_ms,
        "end_ms": m.end_ms,
        "emission": m.emission,
        "beacon_pool": m.beacon_pool,
        "witness_pool": m.witness_pool,
        "undistributed": m.undistributed,
        "shares": m.shares.len(),
        "inputs_digest": hex::encode(m.inputs_digest),
        "dc_journal": m.journal,
        "archive": m.archive.map(hex::encode),
        "prev_hash": hex::encode(m.prev_hash),
        "merkle_root": hex::encode(entry.merkle_root),
        "hash": hex::encode(entry.hash()),
        "oracle": entry.signer(),
        "signature": hex::encode(entry.signature),
        "signers": signers,
        "threshold": quorum.map(|q| q.declared.threshold()),
        "dissenters": dissenters,
    })
}

/// The ledger's routes, listed with the explorer's in [`crate::http::router`].
pub fn routes() -> Vec<(&'static str, MethodRouter<Oracle>)> {
    vec![
        ("/api/v1/ledger", get(list)),
        ("/api/v1/ledger/{epoch}", get(entry)),
        ("/api/v1/ledger/{epoch}/proof/{address}", get(proof)),
    ]
}

async fn list(State(oracle): State<Oracle>) -> ApiResult {
    let list: Vec<Value> = oracle
        .ledger_entries()?
        .iter()
        .map(|entry| entry_header(entry, &oracle.dissenters(entry.manifest.epoch)))
        .collect();
    Ok(Json(json!({ "oracle": oracle.address(), "entries": list })))
}

async fn entry(
    State(oracle): State<Oracle>,
    epoch: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let epoch = parse_epoch(epoch)?;
    let entry = oracle.ledger_entry(epoch)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no ledger entry for epoch {epoch}"),
        )
    })?;
    let mut body = entry_header(&entry, &oracle.dissenters(epoch));
    body["share_list"] = json!(entry.manifest.shares);
    body["encoding"] = json!(hex::encode(entry.encode()));
    Ok(Json(body))
}

async fn proof(
    State(oracle): State<Oracle>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let Path((epoch, address)) = path?;
    let epoch = params::parse_epoch(&epoch)?;
    let address = params::parse_address(&address)?;
    let claim: Claim = oracle.ledger_claim(epoch, &address)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no share of {address} in the ledger entry of epoch {epoch}"),
        )
    })?;
    Ok(Json(json!(claim)))
}
