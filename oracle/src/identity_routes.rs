//! The explorer's identity routes: the registered makers with their onboarded hotspots and
//! allowances, and each owner's hotspots, data-credit balance and journal of credits and fees.

use crate::http::{page_of, parse_address, ApiResult, PageQuery};
use crate::names::hotspot_name;
use crate::Oracle;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde_json::json;

/// The identity routes, for the explorer's router.
pub fn routes() -> Vec<(&'static str, MethodRouter<Oracle>)> {
    vec![
        ("/api/v1/makers", get(makers)),
        ("/api/v1/owners/{address}", get(owner)),
    ]
}

/// Every registered maker: name, address, allowance and hotspots onboarded so far.
async fn makers(State(oracle): State<Oracle>) -> ApiResult {
    let counts = oracle.store().maker_counts().await?;
    let identity = &oracle.config().identity;
    let makers: Vec<_> = identity
        .makers
        .iter()
        .map(|m| {
            let onboarded = m
                .key
                .parse::<poc::Address>()
                .ok()
                .and_then(|a| counts.get(&a.0).copied())
                .unwrap_or(0);
            json!({
                "name": m.name,
                "address": m.key,
                "allowance": m.allowance,
                "onboarded": onboarded,
            })
        })
        .collect();
    Ok(Json(json!({
        "onboarding": identity.onboarding,
        "onboarding_fee_dc": identity.onboarding_fee_dc,
        "assertion_fee_dc": identity.assertion_fee_dc,
        "makers": makers,
    })))
}

/// An owner's balance in data credits, its hotspots and its journal (oldest first, paged).
async fn owner(
    State(oracle): State<Oracle>,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    let address = parse_address(address)?;
    let page = page_of(query)?;
    let store = oracle.store();
    let balance = store.balance(&address.0).await?;
    let hotspots: Vec<poc::Address> = store
        .owner_bindings(&address.0)
        .await?
        .iter()
        .map(|b| poc::Address(b.hotspot))
        .collect();
    let names: Vec<String> = hotspots.iter().map(hotspot_name).collect();
    let journal = store
        .dc_journal(Some(&address.0), (0, u64::MAX), page.limit, page.offset)
        .await?;
    Ok(Json(json!({
        "address": address.to_string(),
        "balance_dc": balance,
        "hotspots": hotspots.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "hotspot_names": names,
        "journal": journal,
    })))
}
