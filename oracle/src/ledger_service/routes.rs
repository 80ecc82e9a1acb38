//! HTTP routes of the ledger, listed with the explorer's:
//!
//! - `GET /api/v1/ledger`: every entry's header (no shares), oldest first, and every operator
//!   they name with its three-word name
//! - `GET /api/v1/ledger/{epoch}`: one entry with its shares, its canonical encoding (hex) and
//!   the operators it names
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
use std::collections::BTreeSet;

/// The JSON header of an entry (everything but the shares), with the operators that this
/// oracle saw sign another entry for its epoch.
pub fn entry_header(entry: &LedgerEntry, dissenters: &[poc::Address]) -> Value {
    let m = &entry.manifest;
    let quorum = entry.quorum.as_ref();
    let signers: Vec<_> = quorum
        .map(|q| q.signatures.iter().map(|s| s.operator).collect())
        .unwrap_or_default();
    let declared = quorum.map_or(&[][..], |q| q.declared.operators());
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
        "declared": declared,
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

/// Who an entry names: its single oracle, or its signers and declared operators; and the
/// operators this oracle saw dissent.
fn named_by(entry: &LedgerEntry, dissenters: &[poc::Address]) -> Vec<poc::Address> {
    let mut named = dissenters.to_vec();
    match &entry.quorum {
        None => named.push(entry.signer()),
        Some(q) => {
            named.extend(q.signatures.iter().map(|s| s.operator));
            named.extend_from_slice(q.declared.operators());
        }
    }
    named
}

/// Each address with its three-word name and whether it is a hotspot this oracle knows (the
/// explorer links those to their hotspot pages).
async fn directory(
    oracle: &Oracle,
    addresses: BTreeSet<poc::Address>,
) -> Result<Vec<Value>, ApiError> {
    let mut known = Vec::with_capacity(addresses.len());
    for address in addresses {
        let hotspot = oracle.store().is_known_gateway(&address.0).await?;
        known.push(json!({
            "address": address,
            "name": crate::names::hotspot_name(&address),
            "hotspot": hotspot,
        }));
    }
    Ok(known)
}

async fn list(State(oracle): State<Oracle>) -> ApiResult {
    let mut named = BTreeSet::from([oracle.address()]);
    let mut list = Vec::new();
    for entry in oracle.ledger_entries()? {
        let dissenters = oracle.dissenters(entry.manifest.epoch);
        named.extend(named_by(&entry, &dissenters));
        list.push(entry_header(&entry, &dissenters));
    }
    let operators = directory(&oracle, named).await?;
    Ok(Json(
        json!({ "oracle": oracle.address(), "entries": list, "operators": operators }),
    ))
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
    let dissenters = oracle.dissenters(epoch);
    let named = named_by(&entry, &dissenters).into_iter().collect();
    let mut body = entry_header(&entry, &dissenters);
    body["operators"] = json!(directory(&oracle, named).await?);
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
