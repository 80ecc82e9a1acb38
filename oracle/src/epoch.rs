//! Closing an epoch: valid beacons and their selected witnesses become reward shares.
//!
//! Epoch `n` covers reports received in `[n·epoch_ms, (n+1)·epoch_ms)`. It can be closed once it
//! has settled, i.e. `now >= (n+1)·epoch_ms + entropy_window_ms`, so that every report received in
//! it has been verified. Hex density scales come from the asserted locations of the hotspots
//! with a valid beacon in the epoch that the epoch-wide defences ([`crate::defences`]) did not
//! flag. A closed epoch is stored once; closing it again returns the stored report.
//!
//! Two rules decide rewards beyond validity. HIP-106 reciprocity: a valid beacon earns only if
//! its beaconer has a valid witness report received from `reciprocity_window_ms` before the
//! beacon to the epoch's end (else `gateway_no_valid_witnesses`, and its witnesses earn nothing
//! from it either), and a selected witness earns only if its hotspot has a valid beacon in the
//! same span (else `gateway_no_valid_beacons`). Only eligible witnesses (valid, not flagged,
//! reciprocal) compete for the `max_witnesses_per_beacon` rewarded places of a beacon, in
//! selection-key order. Reputation ([`crate::reputation`]) as of the
//! epoch's end multiplies each hotspot's density scale and its own witness units. The closed
//! epoch is then appended to the signed reward ledger ([`crate::ledger`]).

use crate::defences::{self, BeaconEvidence, Evidence, Flags};
use crate::error::OracleError;
use crate::reason::RewardReason;
use crate::reputation;
use crate::rewards::{compute_rewards_weighted, PocEvent};
use crate::store::{BeaconRow, EpochWitness, ReportKind, ReportTally, RewardRow, Status};
use crate::verify::selection_key;
use crate::Oracle;
use h3_coverage::density::{density_scales, hip104_levels};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// Valid beacons and selected witnesses that earned nothing, by reason code
    /// ([`RewardReason`], HIP-106 reciprocity).
    #[serde(default)]
    pub ineligible: BTreeMap<String, u64>,
    /// Reputation reward factor of every active hotspot as of the epoch's end, by address
    /// (applied only when reputation is enabled).
    #[serde(default)]
    pub reputation: BTreeMap<String, f64>,
    /// Hotspots the epoch-wide defences ([`crate::defences`]) flagged, by address, with the
    /// reason codes; they earn nothing in the epoch.
    #[serde(default)]
    pub flagged: BTreeMap<String, Vec<String>>,
}

/// How long each phase of an epoch close or a verification pass took, for the log.
#[derive(Debug, Default)]
pub(crate) struct PhaseTimes {
    phases: Vec<(&'static str, std::time::Duration)>,
    last: std::time::Duration,
}

impl PhaseTimes {
    /// Ends phase `name`: the time since the previous mark of `timer`.
    pub(crate) fn mark(&mut self, name: &'static str, timer: &std::time::Instant) {
        let now = timer.elapsed();
        self.phases.push((name, now.saturating_sub(self.last)));
        self.last = now;
    }
}

impl std::fmt::Display for PhaseTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, time)) in self.phases.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name}={:.3}s", time.as_secs_f64())?;
        }
        Ok(())
    }
}

/// Receive time of each hotspot's latest valid report of a kind, among its latest
/// `reputation.max_reports` reports of that kind, in a span ending at the epoch's end.
type LatestValid = HashMap<[u8; 32], u64>;

/// Each valid beacon with its valid witnesses (`witnesses` ordered by beacon), in the beacons'
/// order.
fn by_beacon<'a>(
    beacons: &'a [BeaconRow],
    witnesses: &'a [EpochWitness],
) -> Vec<(&'a BeaconRow, &'a [EpochWitness])> {
    let of_beacon: HashMap<i64, &[EpochWitness]> = witnesses
        .chunk_by(|a, b| a.beacon_id == b.beacon_id)
        .map(|same| (same[0].beacon_id, same))
        .collect();
    beacons
        .iter()
        .map(|beacon| {
            (
                beacon,
                of_beacon.get(&beacon.id).copied().unwrap_or_default(),
            )
        })
        .collect()
}

/// The defences' evidence: where each located hotspot asserted, and each beacon's witnesses
/// with the path gain of their reports, dB.
fn evidence(
    epoch_reports: &[(&BeaconRow, &[EpochWitness])],
    gateways: &BTreeMap<[u8; 32], Option<(h3_coverage::CellIndex, i32)>>,
) -> Evidence {
    let mut evidence = Evidence::default();
    for (key, placed) in gateways {
        if let Some((cell, _)) = placed {
            evidence.locations.insert(*key, *cell);
        }
    }
    for (beacon, valid) in epoch_reports {
        let Some(Some((_, b_gain))) = gateways.get(&beacon.pub_key) else {
            continue;
        };
        let witnesses = valid
            .iter()
            .filter_map(|w| {
                let (_, w_gain) = gateways.get(&w.pub_key).copied().flatten()?;
                let gain_ddb = i64::from(w.rssi_ddbm)
                    - i64::from(beacon.report.tx_power_ddbm)
                    - i64::from(*b_gain)
                    - i64::from(w_gain);
                Some((w.pub_key, gain_ddb as f64 / 10.0))
            })
            .collect();
        evidence.beacons.push(BeaconEvidence {
            beaconer: beacon.pub_key,
            witnesses,
        });
    }
    evidence
}

/// The latest valid receive time of each hotspot in `tallies`.
fn latest_valid(tallies: &[ReportTally]) -> LatestValid {
    let mut latest = LatestValid::new();
    for t in tallies.iter().filter(|t| t.status == Status::Valid) {
        let entry = latest.entry(t.pub_key).or_default();
        *entry = (*entry).max(t.latest_ms);
    }
    latest
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
            // A crash between storing the epoch and appending its ledger entry leaves the entry
            // missing; it is appended now, from the same stored inputs.
            self.append_ledger_entry(&report).await?;
            return Ok(report);
        }
        let ready_at_ms = self.epoch_ready_at_ms(epoch);
        if self.now_ms() < ready_at_ms {
            return Err(OracleError::EpochNotSettled { epoch, ready_at_ms });
        }
        let timer = std::time::Instant::now();
        let mut phases = PhaseTimes::default();
        self.verify_pending_locked().await?;
        phases.mark("verify", &timer);

        let config = self.config();
        let start_ms = epoch.saturating_mul(config.epoch_ms);
        let end_ms = start_ms.saturating_add(config.epoch_ms);
        // Reputation and HIP-106 activity both look at each hotspot's latest
        // `reputation.max_reports` reports of a kind, tallied in one query per kind; the
        // store runs those queries while the beacons and their witnesses are read and the
        // defences run.
        let limit = config.reputation.max_reports;
        let reputation_start = end_ms.saturating_sub(config.reputation.window_ms);
        let tallies = async {
            futures::try_join!(
                self.store()
                    .report_tallies(ReportKind::Beacons, reputation_start, end_ms, limit),
                self.store()
                    .report_tallies(ReportKind::Witnesses, reputation_start, end_ms, limit),
            )
        };
        let reports_and_flags = async {
            let (beacons, matched) = futures::try_join!(
                self.store().valid_beacons_between(start_ms, end_ms),
                self.store().epoch_witnesses(start_ms, end_ms),
            )?;
            phases.mark("read_reports", &timer);
            let mut keys: Vec<[u8; 32]> = by_beacon(&beacons, &matched)
                .into_iter()
                .flat_map(|(beacon, valid)| {
                    std::iter::once(beacon.pub_key).chain(valid.iter().map(|w| w.pub_key))
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let mut gateways: BTreeMap<[u8; 32], Option<(h3_coverage::CellIndex, i32)>> =
                keys.iter().map(|key| (*key, None)).collect();
            for g in self.store().gateways_with_keys(&keys).await? {
                let placed = g
                    .location
                    .and_then(|l| h3_coverage::cell_from_u64(l).ok())
                    .map(|cell| (cell, g.gain_ddbi));
                if let Some(slot) = gateways.get_mut(&g.pub_key) {
                    *slot = placed;
                }
            }
            phases.mark("read_gateways", &timer);
            // The epoch-wide defences flag hotspots for the whole epoch; they run on a thread
            // of their own (and on every core), while the tallies arrive.
            let flags = if config.defences.enabled {
                let evidence = evidence(&by_beacon(&beacons, &matched), &gateways);
                let defence_config = config.defences.clone();
                match tokio::task::spawn_blocking(move || {
                    defences::analyse(&evidence, &defence_config)
                })
                .await
                {
                    Ok(flags) => flags,
                    Err(failed) => std::panic::resume_unwind(failed.into_panic()),
                }
            } else {
                Flags::new()
            };
            phases.mark("defences", &timer);
            Ok::<_, OracleError>((beacons, matched, gateways, flags))
        };
        let (tallies, reports_and_flags) = futures::join!(tallies, reports_and_flags);
        let (beacons, matched, gateways, flags) = reports_and_flags?;
        let (beacon_tallies, witness_tallies) = tallies?;
        phases.mark("tallies", &timer);
        let recent = [beacon_tallies, witness_tallies];
        let epoch_reports = by_beacon(&beacons, &matched);
        let witnesses_valid = matched.len() as u64;
        let flag_code = |key: &[u8; 32]| {
            flags
                .get(key)
                .and_then(|reasons| reasons.iter().next())
                .map(|reason| reason.code().to_string())
        };

        let mut events = Vec::new();
        let mut active = BTreeSet::new();
        let mut witnesses_selected = 0;
        let mut ineligible: BTreeMap<String, u64> = BTreeMap::new();
        let window = config.reciprocity_window_ms;
        let reciprocity_start = start_ms.saturating_sub(window);
        let (active_beacons, active_witnesses) = if window == 0 {
            (LatestValid::new(), LatestValid::new())
        } else if reputation_start <= reciprocity_start {
            // The reputation span covers every reciprocity span: its latest valid report of a
            // hotspot is in a beacon's span exactly when it is no older than the span's start.
            (latest_valid(&recent[0]), latest_valid(&recent[1]))
        } else {
            let mut latest = Vec::with_capacity(2);
            for kind in [ReportKind::Beacons, ReportKind::Witnesses] {
                let tallies = self
                    .store()
                    .report_tallies(kind, reciprocity_start, end_ms, limit)
                    .await?;
                latest.push(latest_valid(&tallies));
            }
            let witnesses = latest.pop().unwrap_or_default();
            (latest.pop().unwrap_or_default(), witnesses)
        };
        // Whether a hotspot has a valid report of a kind received from `from` to the epoch's
        // end (every `from` here is at or after `reciprocity_start`).
        let has_valid = |latest: &LatestValid, key: &[u8; 32], from: u64| {
            latest.get(key).is_some_and(|&t| t >= from)
        };
        let max_selected = config.max_witnesses_per_beacon as usize;
        // Each beacon's event (`None` for a beacon that earns nothing) and the reason codes of
        // its reports that earn nothing, decided on every core, then gathered in order.
        let decided = crate::parallel::map(&epoch_reports, |(beacon, valid)| {
            let mut unpaid: Vec<String> = Vec::new();
            if let Some(code) = flag_code(&beacon.pub_key) {
                unpaid.push(code);
                return (None, unpaid);
            }
            // HIP-106 reciprocity: from `window` before the beacon to the epoch's end.
            let from = beacon.received_ms.saturating_sub(window);
            if window > 0 && !has_valid(&active_witnesses, &beacon.pub_key, from) {
                unpaid.push(RewardReason::GatewayNoValidWitnesses.code().to_string());
                return (None, unpaid);
            }
            // Only eligible witnesses compete for the selection, so that ineligible ones
            // neither take a rewarded place nor dilute the others' units.
            let mut eligible = Vec::new();
            for w in valid.iter() {
                if let Some(code) = flag_code(&w.pub_key) {
                    unpaid.push(code);
                } else if window > 0 && !has_valid(&active_beacons, &w.pub_key, from) {
                    unpaid.push(RewardReason::GatewayNoValidBeacons.code().to_string());
                } else {
                    eligible.push((
                        selection_key(&beacon.report.remote_entropy, &w.pub_key),
                        w.pub_key,
                    ));
                }
            }
            eligible.sort();
            let selected: Vec<[u8; 32]> = eligible
                .into_iter()
                .take(max_selected)
                .map(|(_, key)| key)
                .collect();
            let event = PocEvent {
                beaconer: beacon.pub_key,
                witnesses: selected,
            };
            (Some(event), unpaid)
        });
        for ((beacon, valid), (event, unpaid)) in epoch_reports.iter().zip(decided) {
            active.insert(beacon.pub_key);
            active.extend(valid.iter().map(|w| w.pub_key));
            for code in unpaid {
                *ineligible.entry(code).or_default() += 1;
            }
            if let Some(event) = event {
                witnesses_selected += event.witnesses.len() as u64;
                events.push(event);
            }
        }

        // Hex density counts the hotspots that proved coverage: a valid beacon, not flagged.
        let beaconers: BTreeSet<[u8; 32]> = beacons.iter().map(|b| b.pub_key).collect();
        let mut located = Vec::new();
        for key in &beaconers {
            if flags.contains_key(key) {
                continue;
            }
            if let Some(Some((cell, _))) = gateways.get(key) {
                located.push((*key, *cell));
            }
        }
        let mut scales = density_scales(&located, &hip104_levels());
        // Reputation as of the epoch's end scales each hotspot's beacons (and so its
        // witnesses' units for them, like density) and, separately, its own witness units.
        let mut reputation = BTreeMap::new();
        let mut witness_factors = BTreeMap::new();
        let mut valid_reports: HashMap<[u8; 32], u64> = HashMap::new();
        let mut invalid_reports: HashMap<[u8; 32], BTreeMap<String, u64>> = HashMap::new();
        for tally in recent.iter().flatten() {
            match tally.status {
                Status::Valid => *valid_reports.entry(tally.pub_key).or_default() += tally.count,
                Status::Invalid => {
                    let reason = tally.reason.clone().unwrap_or_else(|| "unknown".into());
                    *invalid_reports
                        .entry(tally.pub_key)
                        .or_default()
                        .entry(reason)
                        .or_default() += tally.count;
                }
                Status::Pending => {}
            }
        }
        let no_invalid = BTreeMap::new();
        // Every active hotspot's address, encoded on every core (base58 is slow enough to
        // show at 100 000 hotspots).
        let active_keys: Vec<[u8; 32]> = active.iter().copied().collect();
        let addresses: HashMap<[u8; 32], String> = active_keys
            .iter()
            .copied()
            .zip(crate::parallel::map(&active_keys, |key| {
                poc::Address(*key).to_string()
            }))
            .collect();
        let address = |key: &[u8; 32]| {
            addresses
                .get(key)
                .cloned()
                .unwrap_or_else(|| poc::Address(*key).to_string())
        };
        for key in &active {
            let valid = valid_reports.get(key).copied().unwrap_or(0);
            let invalid = invalid_reports.get(key).unwrap_or(&no_invalid);
            let (_, _, _, factor) = reputation::score(valid, invalid, &config.reputation);
            reputation.insert(address(key), factor);
            if config.reputation.enabled && factor < 1.0 {
                let density = scales.get(key).copied().unwrap_or(1.0);
                scales.insert(*key, density * factor);
                witness_factors.insert(*key, factor);
            }
        }
        let params = config.rewards.params();
        let rewards = compute_rewards_weighted(&events, &scales, &witness_factors, &params)
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
                address: address(&r.pub_key),
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
            ineligible,
            reputation,
            flagged: flags
                .iter()
                .map(|(key, reasons)| {
                    (
                        poc::Address(*key).to_string(),
                        reasons.iter().map(|r| r.code().to_string()).collect(),
                    )
                })
                .collect(),
        };
        phases.mark("rewards", &timer);
        let json =
            serde_json::to_string(&report).map_err(|e| OracleError::Corrupt(e.to_string()))?;
        self.store()
            .put_epoch(epoch, self.now_ms(), &json, &rows)
            .await?;
        phases.mark("store", &timer);
        self.append_ledger_entry(&report).await?;
        phases.mark("ledger", &timer);
        tracing::info!(epoch, phases = %phases, "epoch closed");
        Ok(report)
    }
}
