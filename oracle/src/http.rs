//! The explorer: a JSON API over HTTP (axum) and its pages, all served by the oracle.
//!
//! Every route is listed in [`route_paths`] and described in the OpenAPI 3 document
//! [`OPENAPI_JSON`], served at `/api/v1/openapi.json`:
//!
//! - `GET /`, `GET /map`, `GET /hotspot?address=`: the explorer's pages and `GET /assets/…`
//!   what they load ([`crate::explorer_pages`])
//! - `GET /healthz`
//! - `GET /api/v1/hotspots?limit=&offset=`: gateways with location, report counts and rewards
//! - `GET /api/v1/hotspots/search?q=&limit=`: hotspots whose three-word name contains `q`
//!   (ignoring case, dashes and spaces) or whose address starts with it ([`crate::names`])
//! - `GET /api/v1/hotspots/{address}`: one gateway, its recent reports and rejection reasons
//! - `GET /api/v1/hotspots/{address}/history?limit=&offset=`: its reports, newest first, each
//!   with status, reason code and explanation
//! - `GET /api/v1/hotspots/{address}/links?epoch=`: its witness links in an epoch
//!   ([`crate::links`])
//! - `GET /api/v1/hotspots/{address}/rewards?limit=&offset=`: what each closed epoch paid it,
//!   its flags and its verdicts ([`crate::reward_history`])
//! - `GET /api/v1/epochs?limit=&offset=`: closed epochs, newest first
//! - `GET /api/v1/epochs/{n}/rewards`: a closed epoch's [`crate::EpochReport`]
//! - `GET /api/v1/stats`: table counts, latest entropy and last closed epoch
//! - `GET /api/v1/coverage?resolution=`: GeoJSON of the H3 cells holding asserted hotspots
//! - `GET /api/v1/reasons`: every reason code with its explanation
//! - `GET /api/v1/makers`, `GET /api/v1/owners/{address}`: makers, owners and balances
//!   ([`crate::identity_routes`])
//!
//! Every hotspot address comes with its three-word `name` ([`crate::names::hotspot_name`]).
//!
//! Errors are JSON `{"error": "..."}` with a 4xx or 5xx status. Every route reads its
//! numbers and addresses with [`crate::params`] (400 with the reason); URIs longer than
//! [`MAX_URI`] are refused (414), bodies larger than [`MAX_BODY`] (413) or slower than the
//! configured body read timeout (408); a client beyond its token bucket gets 429 with
//! `Retry-After` ([`crate::client_limits`]).

use crate::client_limits::{client_of, RateLimiter};
use crate::error::OracleError;
use crate::names::{hotspot_name, SearchError, SearchQuery};
use crate::params::{self, ParamError, MAX_NUMBER};
use crate::reason::{BeaconReason, IngestReason, RewardReason, WitnessReason};
use crate::store::{BeaconRow, GatewayRow, ReportCounts, RewardTotals, Status, Store, WitnessRow};
use crate::Oracle;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use futures::StreamExt;
use h3_coverage::Resolution;
use poc::proto::Region;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many recent reports the hotspot page lists.
const RECENT: u32 = 50;
/// Default page size of the paginated lists.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of the paginated lists.
pub const MAX_LIMIT: u32 = 1000;
/// Coarsest H3 resolution `/api/v1/coverage` accepts.
pub const MIN_COVERAGE_RESOLUTION: u8 = 3;
/// Finest H3 resolution `/api/v1/coverage` accepts.
pub const MAX_COVERAGE_RESOLUTION: u8 = 10;
/// Default resolution of `/api/v1/coverage`.
pub const DEFAULT_COVERAGE_RESOLUTION: u8 = 8;
/// Longest request URI (path and query) accepted, in bytes.
pub const MAX_URI: usize = 2048;
/// Largest request body accepted, in bytes (every route is a `GET`).
pub const MAX_BODY: usize = 4096;

/// The OpenAPI 3 document describing every route, as served at `/api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// An API error: status and message, rendered as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<OracleError> for ApiError {
    fn from(error: OracleError) -> Self {
        tracing::error!(%error, "HTTP API");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        OracleError::from(error).into()
    }
}

impl From<ParamError> for ApiError {
    fn from(error: ParamError) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(format!("bad query: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(format!("bad path: {}", rejection.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

pub(crate) type ApiResult = Result<Json<Value>, ApiError>;

/// Every route of the HTTP API: path (axum and OpenAPI share the `{param}` syntax) and handler.
fn explorer_routes() -> Vec<(&'static str, MethodRouter<Oracle>)> {
    crate::explorer_pages::routes()
        .into_iter()
        .chain([
            ("/healthz", get(healthz)),
            ("/api/v1/openapi.json", get(openapi)),
            ("/api/v1/hotspots", get(hotspots)),
            ("/api/v1/hotspots/search", get(search)),
            ("/api/v1/hotspots/{address}", get(hotspot)),
            ("/api/v1/hotspots/{address}/history", get(history)),
            ("/api/v1/epochs", get(epochs)),
            ("/api/v1/epochs/{epoch}/rewards", get(epoch_rewards)),
            ("/api/v1/stats", get(stats)),
            ("/api/v1/coverage", get(coverage)),
            ("/api/v1/reasons", get(reasons)),
        ])
        .chain(crate::ledger_service::routes())
        .chain(crate::archive::routes::routes())
        .chain(crate::reputation::routes())
        .chain(crate::links::routes())
        .chain(crate::reward_history::routes())
        .chain(crate::identity_routes::routes())
        .collect()
}

/// The paths of every route, as registered in [`router`].
pub fn route_paths() -> Vec<&'static str> {
    explorer_routes()
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

/// The explorer's routes over `oracle`, with JSON errors for unknown paths and methods, the
/// URI and body limits, the body read timeout and the per-client rate limit of the
/// configuration's `[http]`.
pub fn router(oracle: Oracle) -> Router {
    let config = &oracle.config().http;
    let limiter = RateLimiter::new(config).map(Arc::new);
    let body_timeout = Duration::from_millis(config.body_read_timeout_ms);
    let mut router = Router::new();
    for (path, route) in explorer_routes() {
        router = router.route(path, route);
    }
    router
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such path") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(from_fn_with_state(body_timeout, read_body))
        .layer(from_fn_with_state(limiter, rate_limit))
        .layer(from_fn(limits))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(oracle)
}

/// Answers 429 with `Retry-After` (whole seconds) when the request's client has emptied its
/// token bucket. Requests without a peer address (not from the server) are not limited.
async fn rate_limit(
    State(limiter): State<Option<Arc<RateLimiter>>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let (Some(limiter), Some(peer)) = (limiter, peer) else {
        return next.run(request).await;
    };
    let Err(wait) = limiter.check(client_of(peer.ip()), Instant::now()) else {
        return next.run(request).await;
    };
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many requests from this client; retry in {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Reads the whole body (at most [`MAX_BODY`] bytes) before the handler runs, within `timeout`
/// of the headers: 408 and the connection closed when the client is slower, 413 when the body
/// is larger.
async fn read_body(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, collect_body(body)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(error)) => error.into_response(),
        Err(_) => {
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} ms",
                    timeout.as_millis()
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// The body's bytes, refused when they are more than [`MAX_BODY`] or the stream breaks.
async fn collect_body(body: Body) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("bad request body: {e}")))?;
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {MAX_BODY} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Refuses oversized URIs and bodies before any handler runs, and marks every response
/// `nosniff`.
async fn limits(request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the request URI is longer than {MAX_URI} bytes"),
        )
        .into_response();
    }
    let body_len = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if body_len.is_some_and(|n| n > MAX_BODY as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {MAX_BODY} bytes"),
        )
        .into_response();
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page of a list: `limit` items after skipping `offset`, as sent (read by
/// [`params::parse_number`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    limit: Option<String>,
    offset: Option<String>,
}

/// A validated page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub(crate) limit: u32,
    pub(crate) offset: u64,
}

/// A page size as sent: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn parse_limit(text: Option<&str>) -> Result<u32, ParamError> {
    let limit = match text {
        Some(text) => params::parse_number("limit", text, 1, MAX_LIMIT.into())?,
        None => DEFAULT_LIMIT.into(),
    };
    Ok(u32::try_from(limit).unwrap_or(MAX_LIMIT))
}

impl PageQuery {
    fn page(&self) -> Result<Page, ParamError> {
        let limit = parse_limit(self.limit.as_deref())?;
        let offset = match &self.offset {
            Some(text) => params::parse_number("offset", text, 0, MAX_NUMBER)?,
            None => 0,
        };
        Ok(Page { limit, offset })
    }
}

pub(crate) fn page_of(query: Result<Query<PageQuery>, QueryRejection>) -> Result<Page, ApiError> {
    let Query(query) = query?;
    Ok(query.page()?)
}

/// Explanations, for people, of the reason codes of invalid beacons.
const BEACON_EXPLANATIONS: &[(&str, &str)] = &[
    (
        "unknown_gateway",
        "The beaconer is not a known gateway: it never sent a location assertion.",
    ),
    (
        "not_asserted",
        "The beaconer was onboarded without a location, so its coverage cannot be placed.",
    ),
    ("denylisted", "The beaconer is on the denylist."),
    (
        "entropy_unknown",
        "The beacon was built from entropy that this oracle never published.",
    ),
    (
        "entropy_expired",
        "The beacon arrived outside the validity window of the entropy it was built from.",
    ),
    (
        "irregular_interval",
        "The hotspot already had a valid beacon in the same beacon interval.",
    ),
    (
        "frequency_not_allowed",
        "The beacon was sent on a frequency that is not one of the region's beacon channels.",
    ),
    (
        "datarate_not_allowed",
        "The spreading factor and bandwidth are not a data rate of the region that carries the \
         beacon payload.",
    ),
    (
        "power_not_allowed",
        "The transmit power plus the antenna gain exceeds the region's EIRP limit.",
    ),
    (
        "invalid_payload",
        "Deriving the beacon again from the entropy and the hotspot's key does not give the \
         reported payload, frequency or data rate (any transmit power up to the region's limit \
         is accepted: see power_not_allowed).",
    ),
];

/// Explanations, for people, of the reason codes of invalid witnesses.
const WITNESS_EXPLANATIONS: &[(&str, &str)] = &[
    (
        "unknown_gateway",
        "The witness is not a known gateway: it never sent a location assertion.",
    ),
    (
        "not_asserted",
        "The witness was onboarded without a location, so the distance to the beaconer cannot \
         be checked.",
    ),
    (
        "duplicate",
        "The same witness already reported this beacon.",
    ),
    ("denylisted", "The witness is on the denylist."),
    (
        "denylisted_edge",
        "The pair of this beaconer and this witness is on the denylist.",
    ),
    ("self_witness", "A hotspot cannot witness its own beacon."),
    (
        "entropy_expired",
        "The witness report arrived outside the validity window of the beacon's entropy.",
    ),
    (
        "too_late",
        "The witness report arrived too long after the beacon report.",
    ),
    (
        "too_late_after_first",
        "The witness report arrived too long after the first valid witness of the same beacon.",
    ),
    (
        "payload_mismatch",
        "A beacon was sent on this channel at this time, but the witness reported a different \
         payload.",
    ),
    (
        "frequency_mismatch",
        "The witness heard the beacon on a frequency too far from the one it was sent on.",
    ),
    (
        "region_mismatch",
        "The witness asserted a different LoRa region than the beaconer.",
    ),
    (
        "too_close",
        "The witness stands too close to the beaconer for the witness to prove coverage.",
    ),
    (
        "too_far",
        "The witness stands farther from the beaconer than a LoRa signal can plausibly reach.",
    ),
    (
        "rssi_too_high",
        "The reported signal strength is higher than free-space propagation over the asserted \
         distance allows.",
    ),
    (
        "snr_too_high",
        "The reported signal-to-noise ratio is higher than the signal strength allows over the \
         noise floor.",
    ),
    (
        "snr_too_low",
        "The reported signal-to-noise ratio is far below what the spreading factor can \
         demodulate.",
    ),
    (
        "inconsistent_signal",
        "The witness heard the beacon much louder than the path-loss model fitted to the \
         beacon's other witnesses predicts.",
    ),
    (
        "invalid_beacon",
        "The beacon this witness heard was itself invalid.",
    ),
    (
        "unknown_beacon",
        "No beacon with this payload reached the oracle within the entropy window.",
    ),
];

/// Explanations, for people, of the reason codes of reports refused at ingest.
const INGEST_EXPLANATIONS: &[(&str, &str)] = &[
    (
        "malformed",
        "The report was malformed: a key of the wrong length, empty or oversized data, or \
         entropy of the wrong length.",
    ),
    (
        "bad_signature",
        "The report's signature does not verify against the key it claims.",
    ),
    (
        "unknown_gateway",
        "The report was signed by a key that is not a known gateway.",
    ),
    (
        "stale_assertion",
        "The location assertion is not newer than the gateway's last one.",
    ),
    (
        "invalid_location",
        "The asserted location is not a valid H3 cell.",
    ),
    (
        "region_unspecified",
        "The location assertion names no LoRa region.",
    ),
    (
        "not_onboarded",
        "The location assertion came from a hotspot that was never onboarded with a maker's \
         record.",
    ),
    (
        "no_maker_signature",
        "The onboarding request carries no record signed by the hotspot's maker.",
    ),
    (
        "bad_owner_signature",
        "The owner's signature on the onboarding request does not verify.",
    ),
    (
        "record_mismatch",
        "The maker's record names another hotspot than the one onboarding.",
    ),
    (
        "unknown_maker",
        "The record's maker is not registered with this oracle.",
    ),
    (
        "bad_maker_signature",
        "The maker's signature on the onboarding record does not verify.",
    ),
    (
        "already_onboarded",
        "The hotspot is already onboarded, bound to another owner or maker.",
    ),
    (
        "maker_allowance_exhausted",
        "The maker has onboarded as many hotspots as its allowance permits.",
    ),
    (
        "insufficient_balance",
        "The owner's data-credit balance does not cover the fee.",
    ),
];

/// Explanations, for people, of why a valid report earned nothing when its epoch closed.
const REWARD_EXPLANATIONS: &[(&str, &str)] = &[
    (
        "gateway_no_valid_witnesses",
        "The beaconer had no valid witness report of its own in the reciprocity window, so its \
         beacon and the beacon's witnesses earn nothing.",
    ),
    (
        "gateway_no_valid_beacons",
        "The witness had no valid beacon of its own in the reciprocity window, so its witness \
         reports earn nothing.",
    ),
    (
        "same_owner",
        "The witness has the same owner as the beaconer: an owner's hotspots earn nothing for \
         witnessing each other.",
    ),
    (
        "implausible_links",
        "Over the epoch, who heard the hotspot and whom it heard are far too improbable for \
         where it asserted: the hotspots near it did not hear it, or it heard and was heard by \
         hotspots far away. A ring of hotspots inventing each other's reports, a spoofed \
         location or a replayed receiver scores so.",
    ),
    (
        "inflated_signal",
        "Over the epoch, the hotspot reported signals much louder than the other witnesses of \
         the same beacons allow for its distance: one loud report can be luck, a hotspot loud \
         on every report forges its signal strength.",
    ),
    (
        "misplaced_location",
        "The signal strengths of the hotspot's links over the epoch place it far from the \
         location it asserted.",
    ),
    (
        "shared_radio",
        "Another hotspot asserted elsewhere reported nearly the same signals of the same \
         beacons: one roof or one receiver replayed under several keys.",
    ),
    (
        "suspected",
        "The epoch-wide defences flagged the hotspot in recent epochs; its suspicion decays \
         epoch by epoch and it earns again once it falls below the threshold.",
    ),
];

fn lookup(table: &[(&str, &'static str)], code: &str) -> Option<&'static str> {
    table.iter().find(|(c, _)| *c == code).map(|(_, e)| *e)
}

/// The explanation, for people, of the reason code `code` of a report of `kind`: `beacon`,
/// `witness`, `reward`, or the kind of an ingest rejection (`beacon`, `witness`, `assertion`
/// and `gateway_info` rejections use the ingest codes, looked up after the verifier's).
/// `None` for a code this oracle does not know.
pub fn explain(kind: &str, code: &str) -> Option<&'static str> {
    match kind {
        "beacon" => lookup(BEACON_EXPLANATIONS, code),
        "witness" => lookup(WITNESS_EXPLANATIONS, code),
        "reward" => lookup(REWARD_EXPLANATIONS, code),
        _ => None,
    }
    .or_else(|| lookup(INGEST_EXPLANATIONS, code))
}

/// The explanation of an ingest rejection's reason code.
pub fn explain_ingest(code: &str) -> Option<&'static str> {
    lookup(INGEST_EXPLANATIONS, code)
}

fn explanation_json(kind: &str, code: Option<&str>) -> Value {
    match code {
        Some(code) => json!(explain(kind, code).unwrap_or("Unknown reason code.")),
        None => Value::Null,
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn healthz(State(oracle): State<Oracle>) -> Json<Value> {
    Json(json!({ "status": "ok", "oracle": oracle.address(), "now_ms": oracle.now_ms() }))
}

fn region_name(region: i32) -> &'static str {
    Region::try_from(region)
        .map(|r| r.as_str_name())
        .unwrap_or("UNKNOWN")
}

/// The gateway's asserted H3 cell, `None` when it asserted none.
pub(crate) fn gateway_cell(g: &GatewayRow) -> Option<h3_coverage::CellIndex> {
    g.location.and_then(|l| h3_coverage::cell_from_u64(l).ok())
}

fn gateway_json(g: &GatewayRow, counts: ReportCounts, rewards: RewardTotals) -> Value {
    let cell = gateway_cell(g);
    let (lat, lon) = match cell {
        Some(c) => {
            let (lat, lon) = h3_coverage::centre(c);
            (json!(lat), json!(lon))
        }
        None => (Value::Null, Value::Null),
    };
    let address = poc::Address(g.pub_key);
    json!({
        "name": hotspot_name(&address),
        "address": address,
        "asserted": cell.is_some(),
        "location": cell.map(|c| c.to_string()),
        "lat": lat,
        "lon": lon,
        "gain_ddbi": g.gain_ddbi,
        "elevation_m": g.elevation_m,
        "region": region_name(g.region),
        "asserted_ms": g.asserted_ms,
        "counts": counts,
        "rewards": rewards,
    })
}

fn beacon_json(b: &BeaconRow) -> Value {
    json!({
        "kind": "beacon",
        "id": b.id,
        "report_id": b.report_id,
        "received_ms": b.received_ms,
        "frequency_hz": b.report.frequency_hz,
        "status": b.status,
        "reason": b.reason,
        "explanation": explanation_json("beacon", b.reason.as_deref()),
    })
}

/// Witness rows as JSON, each marked `selected` when a closed epoch paid it.
async fn witnesses_json(store: &dyn Store, rows: &[WitnessRow]) -> Result<Vec<Value>, ApiError> {
    let beacons: Vec<i64> = rows.iter().filter_map(|w| w.beacon_id).collect();
    let paid = store.paid_witnesses(&beacons).await?;
    Ok(rows
        .iter()
        .map(|w| witness_json(w, paid.contains(&w.id)))
        .collect())
}

fn witness_json(w: &WitnessRow, selected: bool) -> Value {
    json!({
        "kind": "witness",
        "id": w.id,
        "report_id": w.report_id,
        "received_ms": w.received_ms,
        "frequency_hz": w.report.frequency_hz,
        "rssi_ddbm": w.report.rssi_ddbm,
        "snr_ddb": w.report.snr_ddb,
        "beacon_id": w.beacon_id,
        "selected": selected,
        "status": w.status,
        "reason": w.reason,
        "explanation": explanation_json("witness", w.reason.as_deref()),
    })
}

/// The `{address}` of a path, read by [`params::parse_address`].
pub(crate) fn parse_address(
    address: Result<Path<String>, PathRejection>,
) -> Result<poc::Address, ApiError> {
    let Path(address) = address?;
    Ok(params::parse_address(&address)?)
}

/// The `{epoch}` of a path, read by [`params::parse_epoch`].
pub(crate) fn parse_epoch(epoch: Result<Path<String>, PathRejection>) -> Result<u64, ApiError> {
    let Path(epoch) = epoch?;
    Ok(params::parse_epoch(&epoch)?)
}

pub(crate) async fn known_gateway(
    oracle: &Oracle,
    address: &poc::Address,
) -> Result<GatewayRow, ApiError> {
    oracle.store().gateway(&address.0).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{address} is not a known hotspot"),
        )
    })
}

/// The list entries of `gateways` with their report counts and reward totals.
async fn gateway_list<'a>(
    oracle: &Oracle,
    gateways: impl Iterator<Item = &'a GatewayRow>,
) -> Result<Vec<Value>, ApiError> {
    let store = oracle.store();
    let counts = store.report_counts().await?;
    let rewards = store.reward_totals().await?;
    Ok(gateways
        .map(|g| {
            gateway_json(
                g,
                counts.get(&g.pub_key).copied().unwrap_or_default(),
                rewards.get(&g.pub_key).copied().unwrap_or_default(),
            )
        })
        .collect())
}

async fn hotspots(
    State(oracle): State<Oracle>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    let page = page_of(query)?;
    let gateways = oracle.store().gateways().await?;
    let total = gateways.len();
    let shown = gateways
        .iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(page.limit as usize);
    let list = gateway_list(&oracle, shown).await?;
    Ok(Json(json!({
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
        "hotspots": list,
    })))
}

/// The query of `/api/v1/hotspots/search`, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    q: Option<String>,
    limit: Option<String>,
}

/// Hotspots found by name or address prefix, in key order, at most `limit` of them.
async fn search(
    State(oracle): State<Oracle>,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult {
    let Query(params) = query?;
    let search = SearchQuery::parse(params.q.as_deref().unwrap_or(""))?;
    let limit = parse_limit(params.limit.as_deref())?;
    let found: Vec<GatewayRow> = oracle
        .store()
        .gateways()
        .await?
        .into_iter()
        .filter(|g| {
            let address = poc::Address(g.pub_key);
            search.matches(&address.to_string(), &hotspot_name(&address))
        })
        .collect();
    let list = gateway_list(&oracle, found.iter().take(limit as usize)).await?;
    Ok(Json(json!({
        "q": search.as_str(),
        "total": found.len(),
        "limit": limit,
        "hotspots": list,
    })))
}

async fn hotspot(
    State(oracle): State<Oracle>,
    address: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let address = parse_address(address)?;
    let gateway = known_gateway(&oracle, &address).await?;
    let key = address.0;
    let store = oracle.store();
    let counts = store
        .report_counts()
        .await?
        .get(&key)
        .copied()
        .unwrap_or_default();
    let rewards = store
        .reward_totals()
        .await?
        .get(&key)
        .copied()
        .unwrap_or_default();
    let mut body = gateway_json(&gateway, counts, rewards);
    let binding = store.binding(&key).await?;
    body["owner"] = json!(binding.map(|b| poc::Address(b.owner).to_string()));
    body["maker"] = json!(binding.map(|b| poc::Address(b.maker).to_string()));
    let beacons: Vec<Value> = store
        .recent_beacons(&key, RECENT)
        .await?
        .iter()
        .map(beacon_json)
        .collect();
    let witnesses = witnesses_json(store, &store.recent_witnesses(&key, RECENT).await?).await?;
    let rejections: Vec<Value> = store
        .recent_rejections(&key, RECENT)
        .await?
        .iter()
        .map(|r| {
            let mut v = json!(r);
            v["explanation"] = json!(explain_ingest(&r.reason).unwrap_or("Unknown reason code."));
            v
        })
        .collect();
    let reasons = store.reason_counts(&key).await?;
    body["recent_beacons"] = json!(beacons);
    body["recent_witnesses"] = json!(witnesses);
    body["ingest_rejections"] = json!(rejections);
    body["rejection_reasons"] = json!(reasons);
    Ok(Json(body))
}

async fn history(
    State(oracle): State<Oracle>,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    let address = parse_address(address)?;
    let page = page_of(query)?;
    known_gateway(&oracle, &address).await?;
    let key = address.0;
    let store = oracle.store();
    let counts = store
        .report_counts()
        .await?
        .get(&key)
        .copied()
        .unwrap_or_default();
    let beacons: Vec<Value> = store
        .beacon_history(&key, page.offset, page.limit)
        .await?
        .iter()
        .map(beacon_json)
        .collect();
    let rows = store.witness_history(&key, page.offset, page.limit).await?;
    let witnesses = witnesses_json(store, &rows).await?;
    let beacons_total = counts.beacons_valid + counts.beacons_invalid + counts.beacons_pending;
    let witnesses_total =
        counts.witnesses_valid + counts.witnesses_invalid + counts.witnesses_pending;
    Ok(Json(json!({
        "address": address,
        "limit": page.limit,
        "offset": page.offset,
        "beacons_total": beacons_total,
        "witnesses_total": witnesses_total,
        "beacons": beacons,
        "witnesses": witnesses,
    })))
}

async fn epochs(
    State(oracle): State<Oracle>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    let page = page_of(query)?;
    let store = oracle.store();
    let list = store.closed_epochs(page.offset, page.limit).await?;
    let total = store
        .table_counts()
        .await?
        .get("epochs_closed")
        .copied()
        .unwrap_or(0);
    Ok(Json(json!({
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
        "epochs": list,
    })))
}

async fn epoch_rewards(
    State(oracle): State<Oracle>,
    epoch: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let epoch = parse_epoch(epoch)?;
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
        "token": crate::reward_history::token_json(&oracle),
        "report_log": report_log_status(&oracle).await?,
    })))
}

/// Where this operator stands in the shared report log: the entries it applied, the log's
/// last entry (null when the log cannot be reached) and how many it is behind; null for an
/// oracle alone.
async fn report_log_status(oracle: &Oracle) -> Result<Value, ApiError> {
    let Some(log) = oracle.report_log() else {
        return Ok(Value::Null);
    };
    let position = oracle.log_position().await?;
    let last = log.last_seq().await.ok();
    Ok(json!({
        "stream": log.stream(),
        "applied_seq": position.seq,
        "log_time_ms": position.time_ms,
        "last_seq": last,
        "behind": last.map(|last| last.saturating_sub(position.seq)),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoverageQuery {
    resolution: Option<String>,
}

/// One coverage cell being summed up.
#[derive(Default)]
struct CellSum {
    addresses: Vec<String>,
    names: Vec<String>,
    beacons_valid: u64,
    witnesses_valid: u64,
}

async fn coverage(
    State(oracle): State<Oracle>,
    query: Result<Query<CoverageQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query?;
    let resolution = match &query.resolution {
        Some(text) => params::parse_number(
            "resolution",
            text,
            MIN_COVERAGE_RESOLUTION.into(),
            MAX_COVERAGE_RESOLUTION.into(),
        )?,
        None => DEFAULT_COVERAGE_RESOLUTION.into(),
    };
    let resolution = u8::try_from(resolution)
        .ok()
        .and_then(|r| Resolution::try_from(r).ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!("resolution {resolution} is not an H3 one"))
        })?;
    let counts = oracle.store().report_counts().await?;
    let mut cells: BTreeMap<h3_coverage::CellIndex, CellSum> = BTreeMap::new();
    for g in oracle.store().gateways().await? {
        let Some(cell) = gateway_cell(&g) else {
            continue;
        };
        let Ok(parent) = h3_coverage::parent(cell, resolution) else {
            continue;
        };
        let c = counts.get(&g.pub_key).copied().unwrap_or_default();
        let sum = cells.entry(parent).or_default();
        let address = poc::Address(g.pub_key);
        sum.names.push(hotspot_name(&address));
        sum.addresses.push(address.to_string());
        sum.beacons_valid += c.beacons_valid;
        sum.witnesses_valid += c.witnesses_valid;
    }
    let features: Vec<(h3_coverage::CellIndex, Value)> = cells
        .into_iter()
        .map(|(cell, sum)| {
            (
                cell,
                json!({
                    "resolution": u8::from(resolution),
                    "hotspots": sum.addresses.len(),
                    "addresses": sum.addresses,
                    "names": sum.names,
                    "beacons_valid": sum.beacons_valid,
                    "witnesses_valid": sum.witnesses_valid,
                }),
            )
        })
        .collect();
    Ok(Json(h3_coverage::coverage_geojson(&features)))
}

fn reason_list<'a>(kind: &str, codes: impl Iterator<Item = &'a str>) -> Value {
    codes
        .map(|code| json!({ "code": code, "explanation": explain(kind, code) }))
        .collect()
}

async fn reasons() -> Json<Value> {
    Json(json!({
        "beacon": reason_list("beacon", BeaconReason::ALL.iter().map(BeaconReason::code)),
        "witness": reason_list("witness", WitnessReason::ALL.iter().map(WitnessReason::code)),
        "ingest": reason_list(
            "ingest",
            IngestReason::ALL.iter().map(IngestReason::code),
        ),
        "reward": reason_list("reward", RewardReason::ALL.iter().map(RewardReason::code)),
        "statuses": [Status::Pending.as_str(), Status::Valid.as_str(), Status::Invalid.as_str()],
    }))
}
