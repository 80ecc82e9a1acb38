//! Witness links in the explorer API: for a hotspot and an epoch, every beacon it sent with
//! each witness that heard it, and every beacon it heard with its beaconer; each link with both
//! addresses and names, where they asserted, RSSI and SNR, the distance, and the verdict with
//! its reason code explained.
//!
//! `GET /api/v1/hotspots/{address}/links?epoch=`: without `epoch`, the epoch of the hotspot's
//! newest report (the current epoch when it has none). At most [`MAX_LINKS`] links are given,
//! newest first (`truncated` says when more exist).

use crate::http::{explain, gateway_cell, known_gateway, parse_address, ApiError, ApiResult};
use crate::names::hotspot_name;
use crate::params;
use crate::store::{BeaconRow, GatewayRow, WitnessRow};
use crate::Oracle;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// Most links one answer lists.
pub const MAX_LINKS: usize = 500;
/// Rows read from a history per store query.
const BATCH: u32 = 200;
/// Most history rows read for one answer, newest first: a hotspot's reports newer than the
/// epoch asked for count too.
const MAX_SCANNED: u64 = 20_000;

/// The route of this module.
pub fn routes() -> Vec<(&'static str, MethodRouter<Oracle>)> {
    vec![("/api/v1/hotspots/{address}/links", get(links))]
}

/// The query of the links route, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinksQuery {
    epoch: Option<String>,
}

async fn links(
    State(oracle): State<Oracle>,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<LinksQuery>, QueryRejection>,
) -> ApiResult {
    let address = parse_address(address)?;
    let Query(query) = query?;
    let requested = query
        .epoch
        .as_deref()
        .map(params::parse_epoch)
        .transpose()?;
    known_gateway(&oracle, &address).await?;
    let key = address.0;
    let epoch_ms = oracle.config().epoch_ms;
    let epoch = match requested {
        Some(epoch) => epoch,
        None => {
            newest_report_ms(&oracle, &key)
                .await?
                .unwrap_or_else(|| oracle.now_ms())
                / epoch_ms
        }
    };
    let from_ms = epoch.saturating_mul(epoch_ms);
    let to_ms = from_ms.saturating_add(epoch_ms);
    let beacons = history_in(&oracle, &key, (from_ms, to_ms), true).await?;
    let heard = history_in(&oracle, &key, (from_ms, to_ms), false).await?;
    let mut pairs = sent_links(&oracle, beacons.beacons).await?;
    let sent: HashSet<i64> = pairs.iter().map(|(_, w)| w.id).collect();
    let own = heard
        .witnesses
        .into_iter()
        .filter(|w| !sent.contains(&w.id));
    pairs.extend(heard_links(&oracle, own.collect()).await?);
    pairs.sort_by(|a, b| {
        b.1.received_ms
            .cmp(&a.1.received_ms)
            .then(b.1.id.cmp(&a.1.id))
    });
    let truncated = beacons.truncated || heard.truncated || pairs.len() > MAX_LINKS;
    pairs.truncate(MAX_LINKS);

    let places = places_of(&oracle, &pairs).await?;
    let paid = oracle
        .store()
        .paid_witnesses(&pairs.iter().map(|(b, _)| b.id).collect::<Vec<_>>())
        .await?;
    let list: Vec<Value> = pairs
        .iter()
        .map(|(b, w)| link_json(b, w, &places, paid.contains(&w.id), key))
        .collect();
    Ok(Json(json!({
        "address": address,
        "name": hotspot_name(&address),
        "epoch": epoch,
        "from_ms": from_ms,
        "to_ms": to_ms,
        "truncated": truncated,
        "links": list,
    })))
}

/// Receive time of the hotspot's newest beacon or witness report.
async fn newest_report_ms(oracle: &Oracle, key: &[u8; 32]) -> Result<Option<u64>, ApiError> {
    let store = oracle.store();
    let beacon = store.beacon_history(key, 0, 1).await?;
    let witness = store.witness_history(key, 0, 1).await?;
    Ok(beacon
        .first()
        .map(|b| b.received_ms)
        .max(witness.first().map(|w| w.received_ms)))
}

/// A hotspot's reports received in an epoch.
#[derive(Default)]
struct InEpoch {
    beacons: Vec<BeaconRow>,
    witnesses: Vec<WitnessRow>,
    truncated: bool,
}

/// The hotspot's beacons (`beacons`) or witnesses received in `[from_ms, to_ms)`, read newest
/// first until older than that, [`MAX_LINKS`] of them or [`MAX_SCANNED`] rows read.
async fn history_in(
    oracle: &Oracle,
    key: &[u8; 32],
    (from_ms, to_ms): (u64, u64),
    beacons: bool,
) -> Result<InEpoch, ApiError> {
    let window = |t: u64| t >= from_ms && t < to_ms;
    let store = oracle.store();
    let mut found = InEpoch::default();
    let mut offset = 0u64;
    loop {
        let (times, count) = if beacons {
            let rows = store.beacon_history(key, offset, BATCH).await?;
            let times: Vec<u64> = rows.iter().map(|b| b.received_ms).collect();
            found
                .beacons
                .extend(rows.into_iter().filter(|b| window(b.received_ms)));
            (times, found.beacons.len())
        } else {
            let rows = store.witness_history(key, offset, BATCH).await?;
            let times: Vec<u64> = rows.iter().map(|w| w.received_ms).collect();
            found
                .witnesses
                .extend(rows.into_iter().filter(|w| window(w.received_ms)));
            (times, found.witnesses.len())
        };
        let older = times.last().is_some_and(|t| *t < from_ms);
        if count >= MAX_LINKS || offset + u64::from(BATCH) >= MAX_SCANNED {
            found.truncated = true;
            return Ok(found);
        }
        if times.len() < BATCH as usize || older {
            return Ok(found);
        }
        offset += u64::from(BATCH);
    }
}

/// Each of the hotspot's beacons with each witness matched to it.
async fn sent_links(
    oracle: &Oracle,
    beacons: Vec<BeaconRow>,
) -> Result<Vec<(BeaconRow, WitnessRow)>, ApiError> {
    let ids: Vec<i64> = beacons.iter().map(|b| b.id).collect();
    let witnesses = oracle.store().witnesses_of_beacons(&ids).await?;
    let by_id: BTreeMap<i64, &BeaconRow> = beacons.iter().map(|b| (b.id, b)).collect();
    Ok(witnesses
        .into_iter()
        .filter_map(|w| {
            let beacon = by_id.get(&w.beacon_id?)?;
            Some(((*beacon).clone(), w))
        })
        .collect())
}

/// Each of the hotspot's witness reports matched to a beacon, with that beacon.
async fn heard_links(
    oracle: &Oracle,
    witnesses: Vec<WitnessRow>,
) -> Result<Vec<(BeaconRow, WitnessRow)>, ApiError> {
    let mut pairs = Vec::new();
    for w in witnesses {
        let Some(id) = w.beacon_id else {
            continue;
        };
        if let Some(beacon) = oracle.store().beacon(id).await? {
            pairs.push((beacon, w));
        }
    }
    Ok(pairs)
}

/// The gateways of every beaconer and witness of `pairs`, by key.
async fn places_of(
    oracle: &Oracle,
    pairs: &[(BeaconRow, WitnessRow)],
) -> Result<BTreeMap<[u8; 32], GatewayRow>, ApiError> {
    let keys: HashSet<[u8; 32]> = pairs
        .iter()
        .flat_map(|(b, w)| [b.pub_key, w.pub_key])
        .collect();
    let keys: Vec<[u8; 32]> = keys.into_iter().collect();
    Ok(oracle
        .store()
        .gateways_with_keys(&keys)
        .await?
        .into_iter()
        .map(|g| (g.pub_key, g))
        .collect())
}

/// Where a gateway asserted: its H3 cell's centre.
fn place(places: &BTreeMap<[u8; 32], GatewayRow>, key: &[u8; 32]) -> Option<(f64, f64)> {
    gateway_cell(places.get(key)?).map(h3_coverage::centre)
}

fn end_json(places: &BTreeMap<[u8; 32], GatewayRow>, key: &[u8; 32]) -> Value {
    let address = poc::Address(*key);
    let at = place(places, key);
    json!({
        "address": address,
        "name": hotspot_name(&address),
        "lat": at.map(|(lat, _)| lat),
        "lon": at.map(|(_, lon)| lon),
    })
}

fn link_json(
    b: &BeaconRow,
    w: &WitnessRow,
    places: &BTreeMap<[u8; 32], GatewayRow>,
    selected: bool,
    key: [u8; 32],
) -> Value {
    let distance = place(places, &b.pub_key)
        .zip(place(places, &w.pub_key))
        .map(|(a, c)| h3_coverage::distance_between_m(a, c).round());
    let reason = w.reason.as_deref();
    json!({
        "role": if b.pub_key == key { "beaconer" } else { "witness" },
        "beacon_id": b.id,
        "witness_id": w.id,
        "received_ms": w.received_ms,
        "beaconer": end_json(places, &b.pub_key),
        "witness": end_json(places, &w.pub_key),
        "rssi_ddbm": w.report.rssi_ddbm,
        "snr_ddb": w.report.snr_ddb,
        "distance_m": distance,
        "status": w.status,
        "reason": reason,
        "explanation": reason.map(|code| explain("witness", code).unwrap_or("Unknown reason code.")),
        "selected": selected,
    })
}
