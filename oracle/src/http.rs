//! The explorer API: JSON over HTTP (axum).
//!
//! - `GET /healthz`
//! - `GET /api/v1/hotspots`: every gateway with its location and report counts
//! - `GET /api/v1/hotspots/{address}`: one gateway, its recent reports and every rejection reason
//! - `GET /api/v1/epochs/{n}/rewards`: a closed epoch's [`crate::EpochReport`]
//! - `GET /api/v1/stats`: table counts and the latest entropy
//! - `GET /api/v1/coverage`: GeoJSON of the resolution-8 cells holding asserted hotspots
//!
//! Errors are JSON `{"error": "..."}` with a 4xx or 5xx status.

use crate::error::OracleError;
use crate::store::{BeaconRow, GatewayRow, ReportCounts, WitnessRow};
use crate::Oracle;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use h3_coverage::Resolution;
use poc::proto::Region;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How many recent reports the hotspot page lists.
const RECENT: u32 = 50;

/// An API error: status and message, rendered as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<OracleError> for ApiError {
    fn from(error: OracleError) -> Self {
        tracing::error!(%error, "HTTP API");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// The API's routes over `oracle`.
pub fn router(oracle: Oracle) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/hotspots", get(hotspots))
        .route("/api/v1/hotspots/{address}", get(hotspot))
        .route("/api/v1/epochs/{epoch}/rewards", get(epoch_rewards))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/coverage", get(coverage))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such path") })
        .with_state(oracle)
}

async fn healthz(State(oracle): State<Oracle>) -> Json<Value> {
    Json(json!({ "status": "ok", "oracle": oracle.address(), "now_ms": oracle.now_ms() }))
}

fn region_name(region: i32) -> &'static str {
    Region::try_from(region)
        .map(|r| r.as_str_name())
        .unwrap_or("UNKNOWN")
}

fn gateway_json(g: &GatewayRow, counts: ReportCounts) -> Value {
    let cell = g.location.and_then(|l| h3_coverage::cell_from_u64(l).ok());
    let (lat, lon) = match cell {
        Some(c) => {
            let (lat, lon) = h3_coverage::centre(c);
            (json!(lat), json!(lon))
        }
        None => (Value::Null, Value::Null),
    };
    json!({
        "address": poc::Address(g.pub_key),
        "asserted": cell.is_some(),
        "location": cell.map(|c| c.to_string()),
        "lat": lat,
        "lon": lon,
        "gain_ddbi": g.gain_ddbi,
        "elevation_m": g.elevation_m,
        "region": region_name(g.region),
        "asserted_ms": g.asserted_ms,
        "counts": counts,
    })
}

fn beacon_json(b: &BeaconRow) -> Value {
    json!({
        "id": b.id,
        "report_id": b.report_id,
        "received_ms": b.received_ms,
        "frequency_hz": b.report.frequency_hz,
        "status": b.status,
        "reason": b.reason,
    })
}

fn witness_json(w: &WitnessRow) -> Value {
    json!({
        "id": w.id,
        "report_id": w.report_id,
        "received_ms": w.received_ms,
        "frequency_hz": w.report.frequency_hz,
        "rssi_ddbm": w.report.rssi_ddbm,
        "snr_ddb": w.report.snr_ddb,
        "beacon_id": w.beacon_id,
        "selected": w.selected,
        "status": w.status,
        "reason": w.reason,
    })
}

async fn hotspots(State(oracle): State<Oracle>) -> ApiResult {
    let counts = oracle.store().report_counts().await?;
    let list: Vec<Value> = oracle
        .store()
        .gateways()
        .await?
        .iter()
        .map(|g| gateway_json(g, counts.get(&g.pub_key).copied().unwrap_or_default()))
        .collect();
    Ok(Json(json!({ "hotspots": list })))
}

async fn hotspot(State(oracle): State<Oracle>, Path(address): Path<String>) -> ApiResult {
    let address: poc::Address = address
        .parse()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("{e}")))?;
    let key = address.0;
    let store = oracle.store();
    let gateway = store.gateway(&key).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{address} is not a known hotspot"),
        )
    })?;
    let counts = store
        .report_counts()
        .await?
        .get(&key)
        .copied()
        .unwrap_or_default();
    let mut body = gateway_json(&gateway, counts);
    let beacons: Vec<Value> = store
        .recent_beacons(&key, RECENT)
        .await?
        .iter()
        .map(beacon_json)
        .collect();
    let witnesses: Vec<Value> = store
        .recent_witnesses(&key, RECENT)
        .await?
        .iter()
        .map(witness_json)
        .collect();
    let rejections = store.recent_rejections(&key, RECENT).await?;
    let reasons = store.reason_counts(&key).await?;
    body["recent_beacons"] = json!(beacons);
    body["recent_witnesses"] = json!(witnesses);
    body["ingest_rejections"] = json!(rejections);
    body["rejection_reasons"] = json!(reasons);
    Ok(Json(body))
}

async fn epoch_rewards(State(oracle): State<Oracle>, Path(epoch): Path<String>) -> ApiResult {
    let epoch: u64 = epoch.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{epoch:?} is not an epoch number"),
        )
    })?;
    let report = oracle.epoch_report(epoch).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("epoch {epoch} is not closed"),
        )
    })?;
    Ok(Json(json!(report)))
}

async fn stats(State(oracle): State<Oracle>) -> ApiResult {
    let counts = oracle.store().table_counts().await?;
    let latest = oracle.store().latest_entropy().await?;
    let last_epoch = oracle.store().last_closed_epoch().await?;
    Ok(Json(json!({
        "oracle": oracle.address(),
        "now_ms": oracle.now_ms(),
        "counts": counts,
        "latest_entropy_ms": latest.map(|e| e.timestamp_ms),
        "last_closed_epoch": last_epoch,
    })))
}

async fn coverage(State(oracle): State<Oracle>) -> ApiResult {
    let mut cells: BTreeMap<h3_coverage::CellIndex, Vec<String>> = BTreeMap::new();
    for g in oracle.store().gateways().await? {
        let Some(cell) = g.location.and_then(|l| h3_coverage::cell_from_u64(l).ok()) else {
            continue;
        };
        let Ok(parent) = h3_coverage::parent(cell, Resolution::Eight) else {
            continue;
        };
        cells
            .entry(parent)
            .or_default()
            .push(poc::Address(g.pub_key).to_string());
    }
    let features: Vec<(h3_coverage::CellIndex, Value)> = cells
        .into_iter()
        .map(|(cell, hotspots)| {
            (
                cell,
                json!({ "hotspots": hotspots.len(), "addresses": hotspots }),
            )
        })
        .collect();
    Ok(Json(h3_coverage::coverage_geojson(&features)))
}
