//! Closing an epoch: valid beacons and their selected witnesses become reward shares.
//!
//! Epoch `n` covers reports received in `[n·epoch_ms, (n+1)·epoch_ms)`. It can be closed once it
//! has settled, i.e. `now >= (n+1)·epoch_ms + entropy_window_ms`, so that every report received in
//! it has been verified. Hex density scales come from the asserted locations of the hotspots
//! active in the epoch (a valid beacon or a valid witness of one of its beacons). A closed epoch
//! is stored once; closing it again returns the stored report.

use crate::error::OracleError;
use crate::rewards::{compute_rewards, PocEvent};
use crate::store::{RewardRow, Status};
use crate::Oracle;
use h3_coverage::density::{density_scales, hip104_levels};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One hotspot's rewards in an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotspotRewardRow {
    /// The hotspot's address.
    pub address: String,
    /// Valid beacons.
    pub beacons: u32,
    /// Selected (rewarded) witnesses.
    pub witnesses: u32,
    /// Share of the beacon pool.
    pub beacon_amount: u64,
    /// Share of the witness pool.
    pub witness_amount: u64,
    /// Sum of both.
    pub total: u64,
}

/// The outcome of a closed epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch number.
    pub epoch: u64,
    /// First millisecond of the epoch.
    pub start_ms: u64,
    /// First millisecond after the epoch.
    pub end_ms: u64,
    /// Proof-of-coverage emission of the epoch.
    pub emission: u64,
    /// Part of the emission for beaconers.
    pub beacon_pool: u64,
    /// Part of the emission for witnesses.
    pub witness_pool: u64,
    /// What could not be given out (no beacons or no witnesses).
    pub undistributed: u64,
    /// Rewards per hotspot, ordered by address.
    pub rewards: Vec<HotspotRewardRow>,
    /// Counts by reason code of invalid beacons, invalid witnesses and ingest rejections
    /// received in the epoch.
    pub rejections: BTreeMap<String, u64>,
    /// Valid beacons.
    pub beacons_valid: u64,
    /// Valid witnesses of those beacons.
    pub witnesses_valid: u64,
    /// Witnesses selected for reward.
    pub witnesses_selected: u64,
}

impl Oracle {
    /// When epoch `epoch` can be closed.
    pub fn epoch_ready_at_ms(&self, epoch: u64) -> u64 {
        let config = self.config();
        (epoch + 1)
            .saturating_mul(config.epoch_ms)
            .saturating_add(config.entropy_window_ms)
    }

    /// Whether epoch `epoch` can be closed now.
    pub fn epoch_settled(&self, epoch: u64) -> bool {
        self.now_ms() >= self.epoch_ready_at_ms(epoch)
    }

    /// The stored report of a closed epoch.
    pub async fn epoch_report(&self, epoch: u64) -> Result<Option<EpochReport>, OracleError> {
        self.store()
            .epoch_report(epoch)
            .await?
            .map(|json| {
                serde_json::from_str(&json).map_err(|e| OracleError::Corrupt(e.to_string()))
            })
            .transpose()
    }

    /// Closes an epoch: verifies pending reports, computes, stores and returns its rewards.
    /// Closing a closed epoch returns the stored report; an epoch that has not settled yet is
    /// refused with [`OracleError::EpochNotSettled`].
    pub async fn close_epoch(&self, epoch: u64) -> Result<EpochReport, OracleError> {
        let _guard = self.lock_verifier().await?;
        if let Some(report) = self.epoch_report(epoch).await? {
            return Ok(report);
        }
        let ready_at_ms = self.epoch_ready_at_ms(epoch);
        if self.now_ms() < ready_at_ms {
            return Err(OracleError::EpochNotSettled { epoch, ready_at_ms });
        }
        self.verify_pending_locked().await?;

        let config = self.config();
        let start_ms = epoch.saturating_mul(config.epoch_ms);
        let end_ms = start_ms.saturating_add(config.epoch_ms);
        let mut events = Vec::new();
        let mut active = BTreeSet::new();
        let mut witnesses_valid = 0;
        let mut witnesses_selected = 0;
        let beacons = self.store().valid_beacons_between(start_ms, end_ms).await?;
        for beacon in &beacons {
            active.insert(beacon.pub_key);
            let mut selected = Vec::new();
            for w in self.store().witnesses_of_beacon(beacon.id).await? {
                if w.status != Status::Valid {
                    continue;
                }
                witnesses_valid += 1;
                active.insert(w.pub_key);
                if w.selected {
                    selected.push(w.pub_key);
                }
            }
            witnesses_selected += selected.len() as u64;
            events.push(PocEvent {
                beaconer: beacon.pub_key,
                witnesses: selected,
            });
        }

        let mut located = Vec::new();
        for key in &active {
            if let Some(gateway) = self.store().gateway(key).await? {
                if let Some(cell) = gateway
                    .location
                    .and_then(|l| h3_coverage::cell_from_u64(l).ok())
                {
                    located.push((*key, cell));
                }
            }
        }
        let scales = density_scales(&located, &hip104_levels());
        let params = config.rewards.params();
        let rewards = compute_rewards(&events, &scales, &params)
            .map_err(|e| OracleError::Rewards(e.to_string()))?;

        let mut rows: Vec<RewardRow> = rewards
            .hotspots
            .iter()
            .map(|h| RewardRow {
                pub_key: h.hotspot,
                beacons: h.beacons,
                witnesses: h.witnesses,
                beacon_amount: h.beacon_amount,
                witness_amount: h.witness_amount,
            })
            .collect();
        rows.sort_by_key(|r| r.pub_key);
        let mut reward_rows: Vec<HotspotRewardRow> = rows
            .iter()
            .map(|r| HotspotRewardRow {
                address: poc::Address(r.pub_key).to_string(),
                beacons: r.beacons,
                witnesses: r.witnesses,
                beacon_amount: r.beacon_amount,
                witness_amount: r.witness_amount,
                total: r.beacon_amount + r.witness_amount,
            })
            .collect();
        reward_rows.sort_by(|a, b| a.address.cmp(&b.address));

        let report = EpochReport {
            epoch,
            start_ms,
            end_ms,
            emission: rewards.emission,
            beacon_pool: rewards.beacon_pool,
            witness_pool: rewards.witness_pool,
            undistributed: rewards.undistributed,
            rewards: reward_rows,
            rejections: self
                .store()
                .rejection_counts_between(start_ms, end_ms)
                .await?,
            beacons_valid: beacons.len() as u64,
            witnesses_valid,
            witnesses_selected,
        };
        let json =
            serde_json::to_string(&report).map_err(|e| OracleError::Corrupt(e.to_string()))?;
        self.store()
            .put_epoch(epoch, self.now_ms(), &json, &rows)
            .await?;
        Ok(report)
    }
}
