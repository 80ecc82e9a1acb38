//! An epoch's report, and the epoch close's decisions as pure functions over what the close loaded: which beacons
//! and witnesses are paid (reciprocity, the defences' flags, one selection), the hex density
//! and reputation scales, the data-transfer rewards paid ahead of proof of coverage, and the
//! integer shares. No store, no clock: the same inputs give the same report on any machine.

use crate::config::{DensityConfig, OracleConfig};
use crate::data_transfer::{
    data_transfer_rewards, settle, DataTransferRewards, PayerBalances, RouteCopies, Settlement,
};
use crate::defences::{BeaconEvidence, Evidence, Flags};
use crate::reason::RewardReason;
use crate::reports::{
    BeaconHearing, BeaconRow, EpochWitness, GatewayRow, PacketRow, PaidBeacon, ReportTally,
    RewardRow, Status,
};
use crate::reputation;
use crate::rewards::{compute_rewards_weighted, EpochRewards, PocEvent, RewardError};
use crate::selection;
use h3_coverage::CellIndex;
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
    /// Sum of the three amounts: beacon, witness and data transfer.
    pub total: u64,
    /// Data credits burned for the hotspot's paid packets ([`crate::data_transfer`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data_credits: u64,
    /// Its data-transfer reward.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data_amount: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// Proof-of-coverage emission of the epoch: the configured emission less what data
    /// transfer paid (`data_paid`).
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
    /// Witnesses paid: those the close selected for the beacons that earned.
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
    /// Hex of the digest of what was paid ([`ledger::inputs_digest`]), which the
    /// epoch's ledger entry pins; absent in reports stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_digest: Option<String>,
    /// Active hotspots whose coverage nobody independent corroborated
    /// ([`crate::corroboration`]), by address: their units were scaled by
    /// `corroboration.uncorroborated_rate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncorroborated: Vec<String>,
    /// Part of the configured emission offered to data transfer
    /// (`data_transfer.share_percent`); 0 in reports stored before it existed.
    #[serde(default)]
    pub data_pool: u64,
    /// What data transfer paid out of `data_pool`; the rest went to proof of coverage.
    #[serde(default)]
    pub data_paid: u64,
    /// Packets paid for.
    #[serde(default)]
    pub packets_paid: u64,
    /// Data credits burned per payer, by address.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data_burned: BTreeMap<String, u64>,
    /// Packet reports that earned nothing, by reason code ([`crate::reason::PacketReason`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packet_refusals: BTreeMap<String, u64>,
}

/// Receive time of each hotspot's latest valid report of a kind, among its latest
/// `reputation.max_reports` reports of that kind, in a span ending at the epoch's end.
pub type LatestValid = HashMap<[u8; 32], u64>;

/// Where each hotspot of the epoch asserted (its cell and antenna gain, tenths of dBi), `None`
/// for a hotspot not asserted or not known.
pub type Placements = BTreeMap<[u8; 32], Option<(CellIndex, i32)>>;

/// Everything an epoch close decides from, loaded by the service.
#[derive(Debug, Clone, Default)]
pub struct EpochInputs {
    /// Epoch number.
    pub epoch: u64,
    /// First millisecond of the epoch.
    pub start_ms: u64,
    /// First millisecond after the epoch.
    pub end_ms: u64,
    /// The valid beacons received in the epoch, oldest first.
    pub beacons: Vec<BeaconRow>,
    /// Their valid witnesses, ordered by beacon row id, receive time and row id.
    pub witnesses: Vec<EpochWitness>,
    /// Where the hotspots of those reports asserted.
    pub placements: Placements,
    /// The hotspots the epoch-wide defences flagged.
    pub flags: Flags,
    /// Each hotspot's latest reports of each kind in the reputation span, tallied.
    pub recent: Vec<ReportTally>,
    /// HIP-106: each hotspot's latest valid beacon that a valid witness heard, in the
    /// reciprocity span ([`latest_heard`]; empty when the window is 0). A beacon nobody heard
    /// does not make its beaconer a reciprocal witness.
    pub active_beacons: LatestValid,
    /// HIP-106: each hotspot's latest valid witness in the reciprocity span.
    pub active_witnesses: LatestValid,
    /// Counts by reason code of the epoch's invalid reports and ingest rejections.
    pub rejections: BTreeMap<String, u64>,
    /// The owner of each onboarded hotspot among the epoch's reports (none on an open
    /// network): an owner's hotspots earn nothing for witnessing each other.
    pub owners: HashMap<[u8; 32], [u8; 32]>,
    /// The packet reports received in the epoch, priced in data credits
    /// ([`crate::data_transfer::settle`]).
    pub packets: Vec<PacketRow>,
    /// Each payer's data-credit balance at the epoch's start.
    pub payer_balances: PayerBalances,
    /// The registered routes' `max_copies`, by route id.
    pub route_copies: RouteCopies,
}

/// A decided epoch: its report, its reward rows (by key), what was paid for each beacon, and
/// the data-transfer settlement with its amounts.
#[derive(Debug, Clone)]
pub struct DecidedEpoch {
    /// The report (amounts, counts, flags, reputation, the inputs digest).
    pub report: EpochReport,
    /// Proof-of-coverage reward rows ordered by public key.
    pub rows: Vec<RewardRow>,
    /// Each paid beacon with its paid witnesses, in the beacons' order.
    pub paid: Vec<PaidBeacon>,
    /// Which packets were paid, which refused, the credits burned.
    pub settlement: Settlement,
    /// The data-transfer pool handed out by those credits.
    pub data: DataTransferRewards,
}

/// Where each hotspot of `beacons` and `witnesses` asserted, from the gateway rows read for
/// them (a hotspot without a row, or without a valid cell, is `None`).
pub fn placements(
    beacons: &[BeaconRow],
    witnesses: &[EpochWitness],
    gateways: &[GatewayRow],
) -> Placements {
    let mut placements: Placements = beacons
        .iter()
        .map(|b| (b.pub_key, None))
        .chain(witnesses.iter().map(|w| (w.pub_key, None)))
        .collect();
    for g in gateways {
        let placed = g
            .location
            .and_then(|l| h3_coverage::cell_from_u64(l).ok())
            .map(|cell| (cell, g.gain_ddbi));
        if let Some(slot) = placements.get_mut(&g.pub_key) {
            *slot = placed;
        }
    }
    placements
}

/// Each valid beacon with its valid witnesses (`witnesses` ordered by beacon), in the beacons'
/// order.
pub fn by_beacon<'a>(
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
pub fn evidence(
    beacons: &[BeaconRow],
    witnesses: &[EpochWitness],
    placements: &Placements,
) -> Evidence {
    let mut evidence = Evidence::default();
    for (key, placed) in placements {
        if let Some((cell, _)) = placed {
            evidence.locations.insert(*key, *cell);
        }
    }
    for (beacon, valid) in by_beacon(beacons, witnesses) {
        let Some(Some((_, b_gain))) = placements.get(&beacon.pub_key) else {
            continue;
        };
        let witnesses = valid
            .iter()
            .filter_map(|w| {
                let (_, w_gain) = placements.get(&w.pub_key).copied().flatten()?;
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
pub fn latest_valid<'a>(tallies: impl IntoIterator<Item = &'a ReportTally>) -> LatestValid {
    let mut latest = LatestValid::new();
    for t in tallies.into_iter().filter(|t| t.status == Status::Valid) {
        let entry = latest.entry(t.pub_key).or_default();
        *entry = (*entry).max(t.latest_ms);
    }
    latest
}

/// Receive time of each hotspot's latest valid beacon that at least one valid witness heard.
/// A beacon nobody heard proves no transmitter, so it does not satisfy a witness's HIP-106
/// reciprocity (Helium's oracles closed the same hole).
pub fn latest_heard<'a>(beacons: impl IntoIterator<Item = &'a BeaconHearing>) -> LatestValid {
    let mut latest = LatestValid::new();
    for b in beacons.into_iter().filter(|b| b.heard) {
        let entry = latest.entry(b.pub_key).or_default();
        *entry = (*entry).max(b.latest_ms);
    }
    latest
}

/// Whether each of `beacons` was heard by one of `witnesses` (valid witnesses matched to them,
/// as the epoch close loads them), for [`latest_heard`].
pub fn hearings(beacons: &[BeaconRow], witnesses: &[EpochWitness]) -> Vec<BeaconHearing> {
    let heard: std::collections::HashSet<i64> = witnesses.iter().map(|w| w.beacon_id).collect();
    beacons
        .iter()
        .map(|b| BeaconHearing {
            pub_key: b.pub_key,
            heard: heard.contains(&b.id),
            latest_ms: b.received_ms,
        })
        .collect()
}

/// What one beacon pays: nothing (`None`), or its beaconer and the witnesses selected among
/// the eligible ones; and the reason codes of its reports that earn nothing.
struct BeaconDecision<'a> {
    paid: Option<(&'a BeaconRow, Vec<&'a EpochWitness>)>,
    unpaid: Vec<&'static str>,
}

/// Decides one beacon: the beaconer must be unflagged and reciprocal (HIP-106: a valid witness
/// from `reciprocity_window_ms` before the beacon to the epoch's end), and only eligible
/// witnesses (unflagged, of another owner, with a valid beacon in the same span) compete for the
/// `max_witnesses_per_beacon` paid places, so that ineligible ones neither take a place nor
/// dilute the others' units.
fn decide_beacon<'a>(
    beacon: &'a BeaconRow,
    valid: &'a [EpochWitness],
    inputs: &EpochInputs,
    config: &OracleConfig,
) -> BeaconDecision<'a> {
    let window = config.reciprocity_window_ms;
    let flag_code = |key: &[u8; 32]| {
        inputs
            .flags
            .get(key)
            .and_then(|reasons| reasons.iter().next())
            .map(RewardReason::code)
    };
    let active = |latest: &LatestValid, key: &[u8; 32], from: u64| {
        window == 0 || latest.get(key).is_some_and(|&t| t >= from)
    };
    let mut unpaid = Vec::new();
    if let Some(code) = flag_code(&beacon.pub_key) {
        unpaid.push(code);
        return BeaconDecision { paid: None, unpaid };
    }
    let from = beacon.received_ms.saturating_sub(window);
    if !active(&inputs.active_witnesses, &beacon.pub_key, from) {
        unpaid.push(RewardReason::GatewayNoValidWitnesses.code());
        return BeaconDecision { paid: None, unpaid };
    }
    let beaconer_owner = inputs.owners.get(&beacon.pub_key);
    let mut eligible = Vec::new();
    for w in valid {
        if let Some(code) = flag_code(&w.pub_key) {
            unpaid.push(code);
        } else if beaconer_owner.is_some() && inputs.owners.get(&w.pub_key) == beaconer_owner {
            unpaid.push(RewardReason::SameOwner.code());
        } else if !active(&inputs.active_beacons, &w.pub_key, from) {
            unpaid.push(RewardReason::GatewayNoValidBeacons.code());
        } else {
            eligible.push(w);
        }
    }
    let selected = selection::select(
        &beacon.report.remote_entropy,
        eligible,
        |w| w.pub_key,
        config.max_witnesses_per_beacon as usize,
    );
    BeaconDecision {
        paid: Some((beacon, selected)),
        unpaid,
    }
}

/// The epoch's paid beacons and witnesses.
struct Selection {
    /// One reward event per paid beacon, in the beacons' order.
    events: Vec<PocEvent>,
    /// The same, by row ids, for the store.
    paid: Vec<PaidBeacon>,
    /// The same, by report id and witness keys, for the ledger's inputs digest.
    pinned: Vec<([u8; 32], Vec<[u8; 32]>)>,
    /// Valid beacons and witnesses that earn nothing, by reason code.
    ineligible: BTreeMap<String, u64>,
    /// Every hotspot with a valid beacon or a valid witness of one.
    active: BTreeSet<[u8; 32]>,
}

/// Decides every beacon (on every core, gathered in order).
fn select_paid(inputs: &EpochInputs, config: &OracleConfig) -> Selection {
    let epoch_reports = by_beacon(&inputs.beacons, &inputs.witnesses);
    let decided = crate::parallel::map(&epoch_reports, |(beacon, valid)| {
        decide_beacon(beacon, valid, inputs, config)
    });
    let mut selection = Selection {
        events: Vec::new(),
        paid: Vec::new(),
        pinned: Vec::new(),
        ineligible: BTreeMap::new(),
        active: BTreeSet::new(),
    };
    for ((beacon, valid), decision) in epoch_reports.iter().zip(decided) {
        selection.active.insert(beacon.pub_key);
        selection.active.extend(valid.iter().map(|w| w.pub_key));
        for code in decision.unpaid {
            *selection.ineligible.entry(code.to_string()).or_default() += 1;
        }
        let Some((beacon, witnesses)) = decision.paid else {
            continue;
        };
        let keys: Vec<[u8; 32]> = witnesses.iter().map(|w| w.pub_key).collect();
        selection.paid.push(PaidBeacon {
            beacon_id: beacon.id,
            witness_ids: witnesses.iter().map(|w| w.id).collect(),
        });
        selection
            .pinned
            .push((report_id_bytes(&beacon.report_id), keys.clone()));
        selection.events.push(PocEvent {
            beaconer: beacon.pub_key,
            witnesses: keys,
        });
    }
    selection
}

/// A report id (hex SHA-256) as 32 bytes; an id that is not 64 hex digits is hashed instead.
pub fn report_id_bytes(id: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    hex::decode(id)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .unwrap_or_else(|| Sha256::digest(id.as_bytes()).into())
}

/// Hex density scales of the hotspots that proved coverage: a valid beacon, not flagged, and
/// an asserted location. Coverage nobody independent corroborates (`isolated`) does not crowd
/// out coverage that is corroborated: a corroborated hotspot's scale counts only the
/// corroborated hotspots around it, while an isolated one's counts every hotspot, so it gains
/// nothing by its neighbours not counting it.
fn density(
    inputs: &EpochInputs,
    isolated: &BTreeSet<[u8; 32]>,
    rule: &DensityConfig,
) -> BTreeMap<[u8; 32], f64> {
    let beaconers: BTreeSet<[u8; 32]> = inputs.beacons.iter().map(|b| b.pub_key).collect();
    let located: Vec<([u8; 32], CellIndex)> = beaconers
        .into_iter()
        .filter(|key| !inputs.flags.contains_key(key))
        .filter_map(|key| match inputs.placements.get(&key) {
            Some(Some((cell, _))) => Some((key, *cell)),
            _ => None,
        })
        .collect();
    let mut scales = rule.scales(&located);
    if isolated.is_empty() {
        return scales;
    }
    let corroborated: Vec<([u8; 32], CellIndex)> = located
        .into_iter()
        .filter(|(key, _)| !isolated.contains(key))
        .collect();
    scales.extend(rule.scales(&corroborated));
    scales
}

/// Reputation factors as of the epoch's end, of every active hotspot, by key.
fn reputation_factors(
    recent: &[ReportTally],
    active: &BTreeSet<[u8; 32]>,
    config: &OracleConfig,
) -> BTreeMap<[u8; 32], f64> {
    let mut valid_reports: HashMap<[u8; 32], u64> = HashMap::new();
    let mut invalid_reports: HashMap<[u8; 32], BTreeMap<String, u64>> = HashMap::new();
    for tally in recent {
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
    active
        .iter()
        .map(|key| {
            let valid = valid_reports.get(key).copied().unwrap_or(0);
            let invalid = invalid_reports.get(key).unwrap_or(&no_invalid);
            (
                *key,
                reputation::score(valid, invalid, &config.reputation).factor,
            )
        })
        .collect()
}

/// The active hotspots that no chain of independently owned links ties to the network's
/// anchors ([`crate::corroboration`]): none when no anchors are configured. Corroboration is
/// decided on the epoch's valid reports before any flag, as the defences' core is
/// ([`defence_flags`]): a flag costs the flagged hotspot its rewards, never its neighbours'
/// corroboration (one false flag must not cascade through a sparse network).
fn uncorroborated(
    inputs: &EpochInputs,
    active: &BTreeSet<[u8; 32]>,
    config: &OracleConfig,
) -> BTreeSet<[u8; 32]> {
    let rule = &config.corroboration;
    let Ok(anchors) = rule.anchor_keys() else {
        return BTreeSet::new();
    };
    if anchors.is_empty() {
        return BTreeSet::new();
    }
    let beaconers: HashMap<i64, [u8; 32]> =
        inputs.beacons.iter().map(|b| (b.id, b.pub_key)).collect();
    let links = inputs
        .witnesses
        .iter()
        .filter_map(|w| Some((*beaconers.get(&w.beacon_id)?, w.pub_key)));
    let done = crate::corroboration::corroborated(links, &anchors, &inputs.owners, rule.min_links);
    active
        .iter()
        .filter(|k| !done.contains(*k))
        .copied()
        .collect()
}

/// The epoch-wide defences' flags ([`crate::defences::analyse`]). With anchors configured
/// ([`crate::corroboration`]), the defences judge the hotspots that the epoch's valid links
/// (before any flag) tie to the anchors, on their evidence alone: what hotspots nobody
/// independent corroborates report (a sybil island's fabrications) cannot bend the network's
/// hearing curve and path-loss law and so get honest hotspots flagged. Those others earn at
/// the uncorroborated rate; when that rate is above 0 they are judged on all of the evidence.
pub fn defence_flags(
    evidence: &Evidence,
    owners: &HashMap<[u8; 32], [u8; 32]>,
    config: &OracleConfig,
) -> Flags {
    let rule = &config.corroboration;
    let anchors = rule.anchor_keys().unwrap_or_default();
    if anchors.is_empty() {
        return crate::defences::analyse(evidence, &config.defences);
    }
    let links = evidence.beacons.iter().flat_map(|beacon| {
        beacon
            .witnesses
            .iter()
            .map(move |(witness, _)| (beacon.beaconer, *witness))
    });
    let core = crate::corroboration::corroborated(links, &anchors, owners, rule.min_links);
    let outside: BTreeSet<[u8; 32]> = evidence
        .locations
        .keys()
        .filter(|key| !core.contains(*key))
        .copied()
        .collect();
    let mut flags = crate::defences::analyse(&evidence.without(&outside), &config.defences);
    if rule.uncorroborated_rate > 0.0 && !outside.is_empty() {
        let all = crate::defences::analyse(evidence, &config.defences);
        flags.extend(all.into_iter().filter(|(key, _)| outside.contains(key)));
    }
    flags
}

/// Decides a closed epoch from its loaded inputs.
pub fn decide(inputs: &EpochInputs, config: &OracleConfig) -> Result<DecidedEpoch, RewardError> {
    let selection = select_paid(inputs, config);
    let isolated = uncorroborated(inputs, &selection.active, config);
    let mut scales = density(inputs, &isolated, &config.density);
    // Reputation scales each hotspot's beacons (and so its witnesses' units for them, like
    // density) and, separately, its own witness units.
    let factors = reputation_factors(&inputs.recent, &selection.active, config);
    let mut witness_factors = BTreeMap::new();
    if config.reputation.enabled {
        for (key, &factor) in factors.iter().filter(|(_, f)| **f < 1.0) {
            let density = scales.get(key).copied().unwrap_or(1.0);
            scales.insert(*key, density * factor);
            witness_factors.insert(*key, factor);
        }
    }
    let rate = config.corroboration.uncorroborated_rate;
    for key in &isolated {
        *scales.entry(*key).or_insert(1.0) *= rate;
        *witness_factors.entry(*key).or_insert(1.0) *= rate;
    }
    // Data transfer is paid first; what it leaves of its pool goes to proof of coverage, so
    // with no packets proof of coverage splits the whole emission as it always did.
    let (settlement, data) = data_transfer(inputs, config)?;
    let mut params = config.rewards.params();
    params.emission = params
        .emission
        .checked_sub(data.paid_total)
        .ok_or(RewardError::Overflow)?;
    let rewards = compute_rewards_weighted(&selection.events, &scales, &witness_factors, &params)?;
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
    let mut report = report_of(inputs, &selection, &factors, &rewards, &rows);
    report.uncorroborated = isolated
        .iter()
        .map(|key| poc::Address(*key).to_string())
        .collect();
    add_data_transfer(&mut report, &settlement, &data, config);
    Ok(DecidedEpoch {
        report,
        rows,
        paid: selection.paid,
        settlement,
        data,
    })
}

/// The epoch's packets settled, and the data-transfer pool handed out by their credits.
fn data_transfer(
    inputs: &EpochInputs,
    config: &OracleConfig,
) -> Result<(Settlement, DataTransferRewards), RewardError> {
    let rule = &config.data_transfer;
    let settlement = settle(
        &inputs.packets,
        &inputs.payer_balances,
        &inputs.route_copies,
    );
    let pool = rule.pool(config.rewards.emission);
    let data = data_transfer_rewards(pool, &settlement.credits_by_hotspot, rule.credit_value)?;
    Ok((settlement, data))
}

/// Adds data transfer to the report: the pool, what it paid, the refusals, and each paid
/// hotspot's credits and amount in its row (a row of its own for a hotspot that earned
/// nothing else).
fn add_data_transfer(
    report: &mut EpochReport,
    settlement: &Settlement,
    data: &DataTransferRewards,
    config: &OracleConfig,
) {
    report.data_pool = config.data_transfer.pool(config.rewards.emission);
    report.data_paid = data.paid_total;
    report.packets_paid = settlement.paid.len() as u64;
    report.packet_refusals = settlement.refusal_counts();
    report.data_burned = settlement
        .burned
        .iter()
        .map(|(payer, credits)| (poc::Address(*payer).to_string(), *credits))
        .collect();
    if settlement.credits_by_hotspot.is_empty() {
        return;
    }
    let mut rows: BTreeMap<String, HotspotRewardRow> = std::mem::take(&mut report.rewards)
        .into_iter()
        .map(|row| (row.address.clone(), row))
        .collect();
    for (key, &credits) in &settlement.credits_by_hotspot {
        let address = poc::Address(*key).to_string();
        let row = rows.entry(address.clone()).or_insert(HotspotRewardRow {
            address,
            beacons: 0,
            witnesses: 0,
            beacon_amount: 0,
            witness_amount: 0,
            total: 0,
            data_credits: 0,
            data_amount: 0,
        });
        row.data_credits = credits;
        row.data_amount = data.amounts.get(key).copied().unwrap_or(0);
        // All three are parts of one emission.
        row.total = row
            .beacon_amount
            .saturating_add(row.witness_amount)
            .saturating_add(row.data_amount);
    }
    report.rewards = rows.into_values().collect();
}

/// The epoch's report, with every hotspot named by its address.
fn report_of(
    inputs: &EpochInputs,
    selection: &Selection,
    factors: &BTreeMap<[u8; 32], f64>,
    rewards: &EpochRewards,
    rows: &[RewardRow],
) -> EpochReport {
    // Addresses encoded on every core (base58 is slow enough to show at 100 000 hotspots).
    let active: Vec<[u8; 32]> = selection.active.iter().copied().collect();
    let addresses: HashMap<[u8; 32], String> = active
        .iter()
        .copied()
        .zip(crate::parallel::map(&active, |key| {
            poc::Address(*key).to_string()
        }))
        .collect();
    let address = |key: &[u8; 32]| {
        addresses
            .get(key)
            .cloned()
            .unwrap_or_else(|| poc::Address(*key).to_string())
    };
    let mut reward_rows: Vec<HotspotRewardRow> = rows
        .iter()
        .map(|r| HotspotRewardRow {
            address: address(&r.pub_key),
            beacons: r.beacons,
            witnesses: r.witnesses,
            beacon_amount: r.beacon_amount,
            witness_amount: r.witness_amount,
            total: r.beacon_amount + r.witness_amount,
            data_credits: 0,
            data_amount: 0,
        })
        .collect();
    reward_rows.sort_by(|a, b| a.address.cmp(&b.address));
    EpochReport {
        epoch: inputs.epoch,
        start_ms: inputs.start_ms,
        end_ms: inputs.end_ms,
        emission: rewards.emission,
        beacon_pool: rewards.beacon_pool,
        witness_pool: rewards.witness_pool,
        undistributed: rewards.undistributed,
        rewards: reward_rows,
        rejections: inputs.rejections.clone(),
        beacons_valid: inputs.beacons.len() as u64,
        witnesses_valid: inputs.witnesses.len() as u64,
        witnesses_selected: selection
            .events
            .iter()
            .map(|e| e.witnesses.len() as u64)
            .sum(),
        ineligible: selection.ineligible.clone(),
        reputation: factors
            .iter()
            .map(|(key, factor)| (address(key), *factor))
            .collect(),
        flagged: inputs
            .flags
            .iter()
            .map(|(key, reasons)| {
                (
                    poc::Address(*key).to_string(),
                    reasons.iter().map(|r| r.code().to_string()).collect(),
                )
            })
            .collect(),
        inputs_digest: Some(hex::encode(ledger::inputs_digest(&selection.pinned))),
        uncorroborated: Vec::new(),
        data_pool: 0,
        data_paid: 0,
        packets_paid: 0,
        data_burned: BTreeMap::new(),
        packet_refusals: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poc::proto;

    const HOUR_MS: u64 = 3_600_000;

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    fn beacon(id: i64, by: u8, at_ms: u64) -> BeaconRow {
        BeaconRow {
            id,
            report_id: format!("{id:064x}"),
            pub_key: key(by),
            received_ms: at_ms,
            report: proto::BeaconReport {
                remote_entropy: vec![id as u8; 32],
                ..Default::default()
            },
            status: Status::Valid,
            reason: None,
        }
    }

    fn witness(id: i64, of: i64, by: u8, at_ms: u64) -> EpochWitness {
        EpochWitness {
            id,
            beacon_id: of,
            pub_key: key(by),
            received_ms: at_ms,
            rssi_ddbm: -1_000,
        }
    }

    /// Hotspot 1 beacons and 2 witnesses it; 2's own beacon, earlier in the reciprocity
    /// window, was `heard` or not.
    fn inputs(heard: bool) -> EpochInputs {
        let start_ms = 100 * 24 * HOUR_MS;
        let own_beacon = [BeaconHearing {
            pub_key: key(2),
            heard,
            latest_ms: start_ms - HOUR_MS,
        }];
        EpochInputs {
            epoch: 100,
            start_ms,
            end_ms: start_ms + 24 * HOUR_MS,
            beacons: vec![beacon(1, 1, start_ms + HOUR_MS)],
            witnesses: vec![witness(10, 1, 2, start_ms + HOUR_MS + 1)],
            active_beacons: latest_heard(&own_beacon),
            active_witnesses: [(key(1), start_ms - 2 * HOUR_MS), (key(2), start_ms)]
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn isolated_hotspots_do_not_crowd_out_a_corroborated_one_in_its_hex() {
        let cell = h3_coverage::cell_at(37.77, -122.42).unwrap();
        let mut inputs = EpochInputs::default();
        for n in 1..=4u8 {
            inputs.beacons.push(beacon(i64::from(n), n, 0));
            inputs.placements.insert(key(n), Some((cell, 0)));
        }
        let isolated: BTreeSet<[u8; 32]> = (2..=4).map(key).collect();
        for rule in [DensityConfig::hexes(), DensityConfig::default()] {
            let all = density(&inputs, &BTreeSet::new(), &rule);
            let split = density(&inputs, &isolated, &rule);
            assert!(all[&key(1)] < 1.0, "four in one place share it: {all:?}");
            assert_eq!(split[&key(1)], 1.0, "alone among the corroborated");
            for n in 2..=4 {
                assert_eq!(split[&key(n)], all[&key(n)], "isolated {n} counts everyone");
            }
        }
    }

    #[test]
    fn latest_heard_skips_beacons_nobody_heard() {
        let rows = [
            BeaconHearing {
                pub_key: key(1),
                heard: true,
                latest_ms: 5,
            },
            BeaconHearing {
                pub_key: key(1),
                heard: false,
                latest_ms: 9,
            },
            BeaconHearing {
                pub_key: key(2),
                heard: false,
                latest_ms: 7,
            },
        ];
        let latest = latest_heard(&rows);
        assert_eq!(latest.get(&key(1)), Some(&5));
        assert_eq!(latest.get(&key(2)), None);
    }

    #[test]
    fn an_unheard_beacon_does_not_make_its_beaconer_reciprocal() {
        let config = OracleConfig::default();
        let unheard = decide(&inputs(false), &config).unwrap();
        assert_eq!(unheard.report.witnesses_selected, 0);
        assert_eq!(
            unheard.report.ineligible.get("gateway_no_valid_beacons"),
            Some(&1)
        );
        assert!(unheard.rows.iter().all(|r| r.pub_key != key(2)));

        let heard = decide(&inputs(true), &config).unwrap();
        assert_eq!(heard.report.witnesses_selected, 1);
        assert!(heard
            .rows
            .iter()
            .any(|r| r.pub_key == key(2) && r.witness_amount > 0));
    }

    /// The public key of hotspot `n` (anchors must be valid keys).
    fn hotspot(n: u8) -> [u8; 32] {
        poc::Keypair::from_seed(1, u64::from(n)).public_key()
    }

    /// A cell `north_m` and `east_m` from a point in San Francisco.
    fn cell_at(north_m: f64, east_m: f64) -> CellIndex {
        let (lat, lon) = (37.77 + north_m / 111_320.0, -122.42 + east_m / 88_000.0);
        h3_coverage::cell_at(lat, lon).unwrap()
    }

    /// Evidence of a core of hotspots 1–6 (1–3 anchors) that hear one another, and an island
    /// of keys 20–29 far away whose two listeners 28 and 29 hear the same eight beaconers
    /// with the same gains (what `shared_radio` flags).
    fn core_and_island() -> (Evidence, OracleConfig) {
        let mut evidence = Evidence::default();
        for n in 1..=6u8 {
            evidence
                .locations
                .insert(hotspot(n), cell_at(0.0, f64::from(n) * 1_500.0));
        }
        for n in 20..=29u8 {
            evidence
                .locations
                .insert(hotspot(n), cell_at(60_000.0, f64::from(n - 20) * 1_000.0));
        }
        for b in 1..=6u8 {
            let witnesses = (1..=6u8)
                .filter(|&w| w != b)
                .map(|w| (hotspot(w), -100.0 - 5.0 * f64::from(w.abs_diff(b))))
                .collect();
            evidence.beacons.push(BeaconEvidence {
                beaconer: hotspot(b),
                witnesses,
            });
        }
        for b in 20..=27u8 {
            evidence.beacons.push(BeaconEvidence {
                beaconer: hotspot(b),
                witnesses: vec![(hotspot(28), -110.0), (hotspot(29), -110.0)],
            });
        }
        let mut config = OracleConfig::default();
        config.corroboration.anchors = (1..=3u8)
            .map(|n| poc::Address(hotspot(n)).to_string())
            .collect();
        (evidence, config)
    }

    #[test]
    fn the_defences_judge_the_corroborated_hotspots_on_their_own_evidence() {
        let (evidence, mut config) = core_and_island();
        let owners = HashMap::new();
        let island: BTreeSet<[u8; 32]> = (20..=29u8).map(hotspot).collect();
        let everything = crate::defences::analyse(&evidence, &config.defences);
        assert!(
            everything.contains_key(&hotspot(28)) && everything.contains_key(&hotspot(29)),
            "the island's shared radio shows on all of the evidence: {everything:?}"
        );
        let flags = defence_flags(&evidence, &owners, &config);
        assert_eq!(
            flags,
            crate::defences::analyse(&evidence.without(&island), &config.defences),
            "the core is judged on its own evidence, the island not at all"
        );
        config.corroboration.uncorroborated_rate = 0.5;
        let flags = defence_flags(&evidence, &owners, &config);
        assert!(
            flags.contains_key(&hotspot(28)) && flags.contains_key(&hotspot(29)),
            "paid at a reduced rate, the island is judged on all of the evidence: {flags:?}"
        );
        config.corroboration.anchors.clear();
        assert_eq!(defence_flags(&evidence, &owners, &config), everything);
    }

    fn packet(id: u8, hotspot: u8, payload: u8, credits: u64) -> PacketRow {
        PacketRow {
            report_id: [id; 32],
            hotspot: key(hotspot),
            route_id: "r".into(),
            payer: key(100),
            payload_hash: [payload; 32],
            credits,
            received_ms: u64::from(id),
            acked: true,
        }
    }

    /// `inputs(true)` with `packets` on route "r" (3 copies), paid by payer 100 holding
    /// `balance` credits.
    fn with_packets(packets: Vec<PacketRow>, balance: u64) -> EpochInputs {
        EpochInputs {
            packets,
            payer_balances: [(key(100), balance)].into_iter().collect(),
            route_copies: [("r".to_string(), 3)].into_iter().collect(),
            ..inputs(true)
        }
    }

    #[test]
    fn without_paid_packets_proof_of_coverage_splits_the_whole_emission() {
        let base = OracleConfig::default();
        let inputs = inputs(true);
        let direct = compute_rewards_weighted(
            &select_paid(&inputs, &base).events,
            &density(&inputs, &BTreeSet::new(), &base.density),
            &BTreeMap::new(),
            &base.rewards.params(),
        )
        .unwrap();
        let expected: Vec<(u64, u64)> = direct
            .hotspots
            .iter()
            .map(|h| (h.beacon_amount, h.witness_amount))
            .collect();
        assert!(expected.iter().all(|&(b, w)| b + w > 0));
        // Every data-transfer setting, with no packets or only refused ones.
        let refused = with_packets(vec![packet(1, 5, 1, 2)], 0);
        let unknown = EpochInputs {
            route_copies: RouteCopies::new(),
            ..with_packets(vec![packet(1, 5, 1, 2)], 1_000)
        };
        for (share_percent, credit_value) in [(50, 10_000), (0, 1), (100, u64::MAX), (100, 0)] {
            let mut config = base.clone();
            config.data_transfer.share_percent = share_percent;
            config.data_transfer.credit_value = credit_value;
            for inputs in [&inputs, &refused, &unknown] {
                let decided = decide(inputs, &config).unwrap();
                let r = &decided.report;
                let shares: Vec<(u64, u64)> = decided
                    .rows
                    .iter()
                    .map(|row| (row.beacon_amount, row.witness_amount))
                    .collect();
                assert_eq!(shares, expected);
                assert_eq!(
                    (r.emission, r.beacon_pool, r.witness_pool, r.undistributed),
                    (
                        direct.emission,
                        direct.beacon_pool,
                        direct.witness_pool,
                        direct.undistributed
                    )
                );
                assert_eq!((r.data_paid, r.packets_paid), (0, 0));
                assert!(r.rewards.iter().all(|row| row.data_amount == 0
                    && row.total == row.beacon_amount + row.witness_amount));
                assert_eq!(
                    r.data_pool,
                    base.rewards.emission / 100 * u64::from(share_percent)
                );
            }
        }
        let json = serde_json::to_string(&decide(&inputs, &base).unwrap().report.rewards).unwrap();
        assert!(
            !json.contains("data_"),
            "rows without data keep their form: {json}"
        );
    }

    #[test]
    fn data_transfer_is_paid_ahead_of_proof_of_coverage() {
        let mut config = OracleConfig::default();
        config.rewards.emission = 1_000_000;
        config.data_transfer.credit_value = 1_000;
        // Hotspot 2 (a witness) and hotspot 7 (nothing else) forward packets: 30 credits.
        let packets = vec![
            packet(1, 2, 1, 10),
            packet(2, 7, 1, 10),
            packet(3, 7, 2, 10),
        ];
        let decided = decide(&with_packets(packets.clone(), 1_000), &config).unwrap();
        let r = &decided.report;
        assert_eq!(
            (r.data_pool, r.data_paid, r.packets_paid),
            (500_000, 30_000, 3)
        );
        assert_eq!(r.emission, 970_000, "what data transfer left flows back");
        assert_eq!(r.data_burned.values().sum::<u64>(), 30);
        let row = |k: u8| {
            let address = poc::Address(key(k)).to_string();
            r.rewards.iter().find(|row| row.address == address).unwrap()
        };
        assert_eq!((row(2).data_credits, row(2).data_amount), (10, 10_000));
        assert!(row(2).witness_amount > 0);
        assert_eq!(
            row(2).total,
            row(2).beacon_amount + row(2).witness_amount + row(2).data_amount
        );
        assert_eq!(
            (row(7).beacons, row(7).witnesses, row(7).total),
            (0, 0, 20_000)
        );
        let sorted = r.rewards.windows(2).all(|w| w[0].address < w[1].address);
        assert!(sorted, "rows stay ordered by address");

        // A flood of credits fills the pool exactly and no more; the payer runs dry mid-epoch.
        let many: Vec<PacketRow> = (1..=60u8).map(|n| packet(n, 2 + n % 5, n, 100)).collect();
        let decided = decide(&with_packets(many, 5_500), &config).unwrap();
        let r = &decided.report;
        assert_eq!(r.packets_paid, 55);
        assert_eq!(r.packet_refusals.get("payer_exhausted"), Some(&5));
        assert_eq!((r.data_paid, r.emission), (500_000, 500_000));
        let total: u64 = r.rewards.iter().map(|row| row.total).sum();
        assert_eq!(total + r.undistributed, config.rewards.emission);
    }

    proptest::proptest! {
        #[test]
        fn proof_of_coverage_and_data_transfer_sum_to_the_emission(
            emission in 0..u64::MAX / 2,
            share_percent in 0..=100u8,
            credit_value in 0..1_000_000_000u64,
            balance in 0..2_000u64,
            packets in proptest::collection::vec((1..6u8, 0..4u8, 1..200u64, proptest::bool::ANY), 0..40),
        ) {
            let mut config = OracleConfig::default();
            config.rewards.emission = emission;
            config.data_transfer.share_percent = share_percent;
            config.data_transfer.credit_value = credit_value;
            let packets: Vec<PacketRow> = packets
                .iter()
                .enumerate()
                .map(|(i, &(hotspot, payload, credits, acked))| PacketRow {
                    acked,
                    ..packet(i as u8, hotspot, payload, credits)
                })
                .collect();
            let decided = decide(&with_packets(packets, balance), &config).unwrap();
            let r = &decided.report;
            let total: u128 = r.rewards.iter().map(|row| u128::from(row.total)).sum();
            let data: u128 = r.rewards.iter().map(|row| u128::from(row.data_amount)).sum();
            proptest::prop_assert_eq!(total + u128::from(r.undistributed), u128::from(emission));
            proptest::prop_assert_eq!(data, u128::from(r.data_paid));
            proptest::prop_assert_eq!(r.emission + r.data_paid, emission);
            proptest::prop_assert!(r.data_paid <= r.data_pool);
            // One payer paid for every packet: its hotspots earn at most what it burned.
            let burned: u64 = r.data_burned.values().sum();
            proptest::prop_assert!(data <= u128::from(burned) * u128::from(credit_value));
        }
    }
}
