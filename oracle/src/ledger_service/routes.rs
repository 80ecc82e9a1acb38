//! HTTP routes of the ledger, listed with the explorer's:
//!
//! - `GET /api/v1/ledger`: every entry's header (no shares), oldest first
//! - `GET /api/v1/ledger/{epoch}`: one entry with its shares and its canonical encoding (hex)
//! - `GET /api/v1/ledger/{epoch}/proof/{address}`: a hotspot's [`Claim`] (share + Merkle proof)

use crate::Oracle;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Json;
use ledger::{Claim, LedgerEntry};
use serde_json::{json, Value};

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

fn internal(e: crate::OracleError) -> Response {
    tracing::error!(error = %e, "HTTP API");
    error(StatusCode::INTERNAL_SERVER_ERROR, e)
}

/// The JSON header of an entry (everything but the shares).
pub fn entry_header(entry: &LedgerEntry) -> Value {
    let m = &entry.manifest;
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
        "prev_hash": hex::encode(m.prev_hash),
        "merkle_root": hex::encode(entry.merkle_root),
        "hash": hex::encode(entry.hash()),
        "oracle": entry.signer(),
        "signature": hex::encode(entry.signature),
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

async fn list(State(oracle): State<Oracle>) -> Response {
    match oracle.ledger_entries() {
        Ok(entries) => {
            let list: Vec<Value> = entries.iter().map(entry_header).collect();
            Json(json!({ "oracle": oracle.address(), "entries": list })).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn entry(State(oracle): State<Oracle>, Path(epoch): Path<String>) -> Response {
    let Ok(epoch) = epoch.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, "epoch is not a number");
    };
    match oracle.ledger_entry(epoch) {
        Ok(Some(entry)) => {
            let mut body = entry_header(&entry);
            body["share_list"] = json!(entry.manifest.shares);
            body["encoding"] = json!(hex::encode(entry.encode()));
            Json(body).into_response()
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no ledger entry for epoch {epoch}"),
        ),
        Err(e) => internal(e),
    }
}

async fn proof(
    State(oracle): State<Oracle>,
    Path((epoch, address)): Path<(String, String)>,
) -> Response {
    let Ok(epoch) = epoch.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, "epoch is not a number");
    };
    let Ok(address) = address.parse::<poc::Address>() else {
        return error(StatusCode::BAD_REQUEST, "not a hotspot address");
    };
    match oracle.ledger_claim(epoch, &address) {
        Ok(Some(claim)) => Json::<Claim>(claim).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no share of {address} in the ledger entry of epoch {epoch}"),
        ),
        Err(e) => internal(e),
    }
}
