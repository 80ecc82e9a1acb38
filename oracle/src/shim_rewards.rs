//! TEMPORARY stand-in for `rewards.rs` (being written by another engineer); same names.
#![allow(missing_docs, clippy::manual_checked_ops)]

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct PocEvent {
    pub beaconer: [u8; 32],
    pub witnesses: Vec<[u8; 32]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RewardParams {
    pub emission: u64,
    pub beacon_weight: u64,
    pub witness_weight: u64,
    pub witness_target: u32,
    pub witness_decay: f64,
}

impl Default for RewardParams {
    fn default() -> Self {
        Self {
            emission: 1_000_000_000,
            beacon_weight: 1,
            witness_weight: 4,
            witness_target: 4,
            witness_decay: 0.8,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HotspotReward {
    pub hotspot: [u8; 32],
    pub beacons: u32,
    pub witnesses: u32,
    pub beacon_units: f64,
    pub witness_units: f64,
    pub beacon_amount: u64,
    pub witness_amount: u64,
}

#[derive(Debug, Clone)]
pub struct EpochRewards {
    pub emission: u64,
    pub beacon_pool: u64,
    pub witness_pool: u64,
    pub hotspots: Vec<HotspotReward>,
    pub undistributed: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("reward error")]
pub struct RewardError;

pub fn compute_rewards(
    events: &[PocEvent],
    _scales: &BTreeMap<[u8; 32], f64>,
    params: &RewardParams,
) -> Result<EpochRewards, RewardError> {
    let mut map: BTreeMap<[u8; 32], HotspotReward> = BTreeMap::new();
    let blank = |k: [u8; 32]| HotspotReward {
        hotspot: k,
        beacons: 0,
        witnesses: 0,
        beacon_units: 0.0,
        witness_units: 0.0,
        beacon_amount: 0,
        witness_amount: 0,
    };
    for e in events {
        map.entry(e.beaconer)
            .or_insert_with(|| blank(e.beaconer))
            .beacons += 1;
        for w in &e.witnesses {
            map.entry(*w).or_insert_with(|| blank(*w)).witnesses += 1;
        }
    }
    let total_b: u64 = map.values().map(|h| h.beacons as u64).sum();
    let total_w: u64 = map.values().map(|h| h.witnesses as u64).sum();
    let weight = params.beacon_weight + params.witness_weight;
    let beacon_pool = params.emission * params.beacon_weight / weight.max(1);
    let witness_pool = params.emission - beacon_pool;
    let mut given = 0;
    for h in map.values_mut() {
        if total_b > 0 {
            h.beacon_amount = beacon_pool * h.beacons as u64 / total_b;
        }
        if total_w > 0 {
            h.witness_amount = witness_pool * h.witnesses as u64 / total_w;
        }
        given += h.beacon_amount + h.witness_amount;
    }
    if let Some(h) = map.values_mut().next() {
        h.beacon_amount += params.emission - given;
        given = params.emission;
    }
    Ok(EpochRewards {
        emission: params.emission,
        beacon_pool,
        witness_pool,
        hotspots: map.into_values().collect(),
        undistributed: params.emission - given,
    })
}
