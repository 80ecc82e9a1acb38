//! Verification of stored reports once their entropy window has closed.
//!
//! **Beacons** are checked in Helium's order: `unknown_gateway`, `not_asserted`,
//! `entropy_unknown`, `entropy_expired` (received outside `[entropy ts, ts + window]`),
//! `irregular_interval`, `invalid_payload`. The interval rule uses buckets like Helium: the time
//! line is cut into `beacon_interval_ms` buckets (`received_ms / beacon_interval_ms`), and a
//! beacon is irregular when the hotspot already has a valid beacon in the same or a later bucket.
//! A beacon is verified once `entropy ts + window <= now` (or `received + window <= now` when its
//! entropy is unknown).
//!
//! **Witnesses** attach to the earliest valid beacon whose payload equals theirs (the earliest
//! such beacon if none is valid) and are verified once every such beacon is. Checks, in order:
//! `unknown_gateway`, `not_asserted`, `duplicate`,
//! `self_witness`, `entropy_expired`, `too_late`, `payload_mismatch`, `frequency_mismatch`,
//! `region_mismatch`, `too_close`, `too_far`, `rssi_too_high`, `snr_too_high`, `snr_too_low`,
//! `invalid_beacon`; then, over all valid witnesses of a beacon, `inconsistent_signal`
//! ([`signal_outliers`]). `denylisted` and `denylisted_edge` follow `duplicate`, and
//! `too_late_after_first` follows `too_late`. Beacons additionally get `denylisted` after
//! `not_asserted`, and `frequency_not_allowed`, `datarate_not_allowed`, `power_not_allowed`
//! ([`region_violation`]) before `invalid_payload`. `oracle/RULES.md` lists every rule. A witness matching no beacon waits one entropy window after its arrival;
//! it is then a `payload_mismatch` if a verified beacon within `max_frequency_offset_hz` and
//! `witness_late_ms` of it carries a payload of the same length differing in at most a quarter of
//! its bytes (nearly, but not exactly, that beacon), and otherwise an `unknown_beacon`.
//!
//! Physics: the RSSI bound is `tx_power + beaconer_gain − FSPL(d, f) + witness_gain` in tenths
//! of dB (gains kept in tenths), with `FSPL = 20·log10(d_km) + 20·log10(f_MHz) + 32.44` and `d`
//! at least 1 m, plus the configured `rssi_margin_ddb`. The SNR bound is the RSSI above the
//! receiver noise floor `−174 + 10·log10(BW) + noise_figure_db` (default 3 dB, below the 6 dB of
//! a typical gateway front end, so an honest receiver always passes): no receiver can measure a
//! signal further above the noise than that.
//!
//! Verification selects nothing: which valid witnesses are paid is decided once, by the epoch
//! close ([`crate::selection`]), among the witnesses eligible then.

use crate::error::OracleError;
use crate::reason::{BeaconReason, WitnessReason};
use crate::store::{
    BeaconRow, BeaconVerdict, EntropyRow, GatewayRow, Status, Verdicts, WitnessRow, WitnessVerdict,
};
use crate::Oracle;
use h3_coverage::{CellIndex, Resolution};
use poc::proto::Region;
use poc::{Beacon, RegionPlan};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// Counts of one verification pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerifySummary {
    /// Beacons found valid.
    pub beacons_valid: u64,
    /// Beacons found invalid.
    pub beacons_invalid: u64,
    /// Beacons whose window has not closed yet.
    pub beacons_waiting: u64,
    /// Witnesses found valid.
    pub witnesses_valid: u64,
    /// Witnesses found invalid.
    pub witnesses_invalid: u64,
    /// Witnesses still waiting for their beacon or window.
    pub witnesses_waiting: u64,
}

impl VerifySummary {
    /// Whether the pass decided nothing.
    pub fn is_empty(&self) -> bool {
        self.beacons_valid + self.beacons_invalid + self.witnesses_valid + self.witnesses_invalid
            == 0
    }
}

/// Free-space path loss in dB at `distance_m` (at least 1 m) and `frequency_hz`.
pub fn fspl_db(distance_m: f64, frequency_hz: u64) -> f64 {
    let d_km = distance_m.max(1.0) / 1000.0;
    let f_mhz = frequency_hz.max(1) as f64 / 1e6;
    20.0 * d_km.log10() + 20.0 * f_mhz.log10() + 32.44
}

/// The highest RSSI, in tenths of dBm, a witness can receive in free space.
pub fn max_rssi_ddbm(
    tx_power_ddbm: i32,
    beaconer_gain_ddbi: i32,
    witness_gain_ddbi: i32,
    distance_m: f64,
    frequency_hz: u64,
) -> f64 {
    f64::from(tx_power_ddbm) + f64::from(beaconer_gain_ddbi) + f64::from(witness_gain_ddbi)
        - 10.0 * fspl_db(distance_m, frequency_hz)
}

/// Receiver noise floor in dBm over `bandwidth_hz` with a noise figure of `noise_figure_db`.
pub fn noise_floor_dbm(bandwidth_hz: u32, noise_figure_db: f64) -> f64 {
    -174.0 + 10.0 * f64::from(bandwidth_hz.max(1)).log10() + noise_figure_db
}

/// The highest SNR, in tenths of dB, that an RSSI of `rssi_ddbm` allows.
pub fn max_snr_ddb(rssi_ddbm: i32, bandwidth_hz: u32, noise_figure_db: f64) -> f64 {
    f64::from(rssi_ddbm) - 10.0 * noise_floor_dbm(bandwidth_hz, noise_figure_db)
}

/// The lowest SNR, in dB, at which a LoRa receiver demodulates spreading factor `sf`
/// (Semtech SX126x/SX130x datasheets: −7.5 dB at SF7, 2.5 dB lower per step, −20 dB at SF12);
/// `None` outside SF5–SF12.
pub fn demod_floor_db(sf: u32) -> Option<f64> {
    (5..=12).contains(&sf).then(|| 10.0 - 2.5 * f64::from(sf))
}

/// Which region rule a beacon breaks, if any: its frequency must be one of the plan's beacon
/// channels, its spreading factor and bandwidth a data rate of the plan able to carry its
/// payload, and its power plus the antenna gain within the plan's EIRP limit.
pub fn region_violation(
    plan: &RegionPlan,
    report: &poc::proto::BeaconReport,
    gain_ddbi: i32,
) -> Option<BeaconReason> {
    if !plan.has_channel(report.frequency_hz) {
        return Some(BeaconReason::FrequencyNotAllowed);
    }
    let rate_ok = plan.datarates.iter().any(|rate| {
        u32::from(rate.spreading_factor) == report.spreading_factor
            && rate.bandwidth_hz == report.bandwidth_hz
            && rate.max_payload >= report.data.len()
    });
    if !rate_ok {
        return Some(BeaconReason::DatarateNotAllowed);
    }
    if i64::from(report.tx_power_ddbm) + i64::from(gain_ddbi.max(0)) > i64::from(plan.max_eirp_ddbm)
    {
        return Some(BeaconReason::PowerNotAllowed);
    }
    None
}

/// The witnesses much louder than a log-distance path-loss model fitted to the others.
///
/// `points` are `(distance_m, rssi_dbm)` of one beacon's witnesses (RSSI less the witness's
/// antenna gain). For each witness, leaving it out, `rssi = A − 10·n·log10(d)` is fitted to the
/// others by least squares with the exponent `n` clamped to [2, 6] (free space to dense clutter;
/// it falls back to 2 when the others' distances do not differ); the witness is an outlier when
/// its RSSI exceeds the fit by more than `margin_db`. Only louder is suspect: obstacles make a
/// signal weaker, never stronger. Needs `min_points` points (the suspect included), else none.
pub fn signal_outliers(points: &[(f64, f64)], margin_db: f64, min_points: usize) -> Vec<usize> {
    if points.len() < min_points.max(3) {
        return Vec::new();
    }
    let x = |d: f64| 10.0 * d.max(1.0).log10();
    let mut outliers = Vec::new();
    for (i, &(d_i, rssi_i)) in points.iter().enumerate() {
        let others: Vec<(f64, f64)> = points
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, &(d, r))| (x(d), r))
            .collect();
        let count = others.len() as f64;
        let mean_x = others.iter().map(|p| p.0).sum::<f64>() / count;
        let mean_y = others.iter().map(|p| p.1).sum::<f64>() / count;
        let var: f64 = others.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
        let cov: f64 = others.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
        let exponent = if var > 1e-9 {
            (-cov / var).clamp(2.0, 6.0)
        } else {
            2.0
        };
        let intercept = mean_y + exponent * mean_x;
        let predicted = intercept - exponent * x(d_i);
        if rssi_i - predicted > margin_db {
            outliers.push(i);
        }
    }
    outliers
}

/// Whether two payloads are nearly, but not exactly, equal: same length, at most a quarter of
/// the bytes differ.
pub fn nearly_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a == b {
        return false;
    }
    let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
    differing * 4 <= a.len()
}

fn cell(location: Option<u64>) -> Option<CellIndex> {
    location.and_then(|l| h3_coverage::cell_from_u64(l).ok())
}

/// A witness matched to a beacon, as far as the checks across a beacon's witnesses need it.
#[derive(Debug, Clone, Copy)]
struct Matched {
    id: i64,
    pub_key: [u8; 32],
    received_ms: u64,
    status: Status,
    rssi_ddbm: i32,
}

impl Matched {
    fn of(witness: &WitnessRow) -> Self {
        Self {
            id: witness.id,
            pub_key: witness.pub_key,
            received_ms: witness.received_ms,
            status: witness.status,
            rssi_ddbm: witness.report.rssi_ddbm,
        }
    }
}

/// What one pass has looked up, so that each is read from the store once, mostly in bulk
/// before the checks start. Within a pass the verifier alone changes verdicts (it holds the
/// verifier lock) and writes them all at the end ([`Store::write_verdicts`]), so these stay
/// exact when kept up to date with the pass's own verdicts: entropy never changes once
/// published (only found entropy is kept), beacons are all decided before the first witness
/// is (loaded beacons get this pass's verdicts), and a beacon's witness list and a hotspot's
/// latest valid beacon are updated with every verdict of the pass.
///
/// [`Store::write_verdicts`]: crate::store::Store::write_verdicts
#[derive(Default)]
struct Cache {
    gateways: HashMap<[u8; 32], Option<Arc<GatewayRow>>>,
    entropy: HashMap<Vec<u8>, EntropyRow>,
    /// Receive time of each beaconer's latest valid beacon (`None`: it has none).
    last_valid: HashMap<[u8; 32], Option<u64>>,
    /// This pass's beacon verdicts, by id.
    beacon_verdicts: HashMap<i64, (Status, Option<&'static str>)>,
    /// Beacons by payload (witness loop only).
    beacons_by_data: HashMap<Vec<u8>, Vec<Arc<BeaconRow>>>,
    /// Beacons witnesses were matched to in this pass, by id.
    beacons: HashMap<i64, Arc<BeaconRow>>,
    /// Witnesses matched to a beacon, by beacon id, oldest first.
    witnesses: HashMap<i64, Vec<Matched>>,
    /// Where each witness decided in this pass sits in the pass's verdicts, by id.
    witness_verdicts: HashMap<i64, usize>,
}

impl Cache {
    /// A stored beacon as this pass has decided it.
    fn with_verdict(&self, mut beacon: BeaconRow) -> BeaconRow {
        if let Some(&(status, reason)) = self.beacon_verdicts.get(&beacon.id) {
            beacon.status = status;
            beacon.reason = reason.map(str::to_string);
        }
        beacon
    }

    /// Records a verdict of this pass in the beacon's witness list.
    fn note_verdict(&mut self, witness: &WitnessRow, status: Status, beacon_id: i64) {
        if let Some(list) = self.witnesses.get_mut(&beacon_id) {
            let row = Matched {
                status,
                ..Matched::of(witness)
            };
            match list.iter_mut().find(|w| w.id == witness.id) {
                Some(existing) => *existing = row,
                None => {
                    list.push(row);
                    list.sort_by_key(|w| (w.received_ms, w.id));
                }
            }
        }
    }
}

/// The distinct items of `items`, in first-seen order.
fn distinct<T: Clone + Eq + std::hash::Hash>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

impl Oracle {
    /// Looks up in one go the gateways of `keys` not looked up yet.
    async fn preload_gateways(
        &self,
        cache: &mut Cache,
        keys: impl IntoIterator<Item = [u8; 32]>,
    ) -> Result<(), OracleError> {
        let missing = distinct(keys.into_iter().filter(|k| !cache.gateways.contains_key(k)));
        if missing.is_empty() {
            return Ok(());
        }
        for key in &missing {
            cache.gateways.insert(*key, None);
        }
        for gateway in self.store().gateways_with_keys(&missing).await? {
            cache
                .gateways
                .insert(gateway.pub_key, Some(Arc::new(gateway)));
        }
        Ok(())
    }

    async fn cached_gateway(
        &self,
        cache: &mut Cache,
        key: &[u8; 32],
    ) -> Result<Option<Arc<GatewayRow>>, OracleError> {
        if let Some(g) = cache.gateways.get(key) {
            return Ok(g.clone());
        }
        let g = self.store().gateway(key).await?.map(Arc::new);
        cache.gateways.insert(*key, g.clone());
        Ok(g)
    }

    async fn cached_entropy(
        &self,
        cache: &mut Cache,
        data: &[u8],
    ) -> Result<Option<EntropyRow>, OracleError> {
        if let Some(e) = cache.entropy.get(data) {
            return Ok(Some(e.clone()));
        }
        let e = self.store().entropy_by_data(data).await?;
        if let Some(e) = &e {
            cache.entropy.insert(data.to_vec(), e.clone());
        }
        Ok(e)
    }

    /// Receive time of the latest valid beacon of `key`, this pass's verdicts included.
    async fn cached_last_valid(
        &self,
        cache: &mut Cache,
        key: &[u8; 32],
    ) -> Result<Option<u64>, OracleError> {
        if let Some(&t) = cache.last_valid.get(key) {
            return Ok(t);
        }
        let t = self
            .store()
            .last_valid_beacon(key)
            .await?
            .map(|b| b.received_ms);
        cache.last_valid.insert(*key, t);
        Ok(t)
    }

    /// Looks up in one go the beacons carrying the payloads of `witnesses` and the witnesses
    /// already matched to those beacons.
    async fn preload_beacons(
        &self,
        cache: &mut Cache,
        witnesses: &[WitnessRow],
    ) -> Result<(), OracleError> {
        let payloads = distinct(
            witnesses
                .iter()
                .map(|w| &w.report.data)
                .filter(|data| !cache.beacons_by_data.contains_key(*data))
                .cloned(),
        );
        if payloads.is_empty() {
            return Ok(());
        }
        let beacons = self.store().beacons_with_payloads(&payloads).await?;
        for data in payloads {
            cache.beacons_by_data.insert(data, Vec::new());
        }
        let mut ids = Vec::with_capacity(beacons.len());
        let mut keys = Vec::with_capacity(beacons.len());
        for beacon in beacons {
            let beacon = Arc::new(cache.with_verdict(beacon));
            if !cache.witnesses.contains_key(&beacon.id) {
                ids.push(beacon.id);
            }
            keys.push(beacon.pub_key);
            if let Some(list) = cache.beacons_by_data.get_mut(&beacon.report.data) {
                list.push(beacon);
            }
        }
        let ids = distinct(ids);
        for id in &ids {
            cache.witnesses.insert(*id, Vec::new());
        }
        for witness in self.store().witnesses_of_beacons(&ids).await? {
            if let Some(list) = witness.beacon_id.and_then(|b| cache.witnesses.get_mut(&b)) {
                list.push(Matched::of(&witness));
            }
        }
        self.preload_gateways(cache, keys).await
    }

    async fn cached_beacons_with_data(
        &self,
        cache: &mut Cache,
        data: &[u8],
    ) -> Result<Vec<Arc<BeaconRow>>, OracleError> {
        if let Some(b) = cache.beacons_by_data.get(data) {
            return Ok(b.clone());
        }
        let found = self.store().beacons_with_data(data).await?;
        let b: Vec<Arc<BeaconRow>> = found
            .into_iter()
            .map(|b| Arc::new(cache.with_verdict(b)))
            .collect();
        cache.beacons_by_data.insert(data.to_vec(), b.clone());
        Ok(b)
    }

    /// The witnesses matched to `beacon_id` (see [`Cache::witnesses`]).
    async fn cached_witnesses_of_beacon<'c>(
        &self,
        cache: &'c mut Cache,
        beacon_id: i64,
    ) -> Result<&'c [Matched], OracleError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.witnesses.entry(beacon_id) {
            let stored = self.store().witnesses_of_beacon(beacon_id).await?;
            slot.insert(stored.iter().map(Matched::of).collect());
        }
        Ok(cache
            .witnesses
            .get(&beacon_id)
            .map(Vec::as_slice)
            .unwrap_or_default())
    }

    async fn cached_beacon(
        &self,
        cache: &mut Cache,
        beacon_id: i64,
    ) -> Result<Option<Arc<BeaconRow>>, OracleError> {
        if let Some(b) = cache.beacons.get(&beacon_id) {
            return Ok(Some(b.clone()));
        }
        let stored = self.store().beacon(beacon_id).await?;
        Ok(stored.map(|b| Arc::new(cache.with_verdict(b))))
    }

    /// Verifies every beacon whose entropy window has closed, and the witnesses of verified
    /// beacons. Reports already decided are left alone, so calling
    /// it again changes nothing.
    pub async fn verify_pending(&self) -> Result<VerifySummary, OracleError> {
        let _guard = self.lock_verifier().await?;
        self.verify_pending_locked().await
    }

    pub(crate) async fn verify_pending_locked(&self) -> Result<VerifySummary, OracleError> {
        let now = self.now_ms();
        let window = self.config().entropy_window_ms;
        let mut summary = VerifySummary::default();
        let mut cache = Cache::default();
        let mut verdicts = Verdicts {
            now_ms: now,
            ..Verdicts::default()
        };
        let mut phases = crate::phases::PhaseTimes::start();

        let beacons = self.store().pending_beacons().await?;
        let beaconers = distinct(beacons.iter().map(|b| b.pub_key));
        self.preload_gateways(&mut cache, beaconers.iter().copied())
            .await?;
        let last_valid = self.store().last_valid_beacon_times(&beaconers).await?;
        for key in beaconers {
            cache.last_valid.insert(key, last_valid.get(&key).copied());
        }
        phases.mark("read_beacons");
        for beacon in beacons {
            let entropy = self
                .cached_entropy(&mut cache, &beacon.report.remote_entropy)
                .await?;
            let ready_at = match &entropy {
                Some(e) => e.timestamp_ms.saturating_add(window),
                None => beacon.received_ms.saturating_add(window),
            };
            if now < ready_at {
                summary.beacons_waiting += 1;
                continue;
            }
            let (status, reason) = match self
                .check_beacon(&mut cache, &beacon, entropy.as_ref())
                .await?
            {
                Ok(()) => {
                    summary.beacons_valid += 1;
                    let latest = cache.last_valid.entry(beacon.pub_key).or_default();
                    *latest =
                        Some(latest.map_or(beacon.received_ms, |t| t.max(beacon.received_ms)));
                    (Status::Valid, None)
                }
                Err(reason) => {
                    summary.beacons_invalid += 1;
                    (Status::Invalid, Some(reason.code()))
                }
            };
            cache.beacon_verdicts.insert(beacon.id, (status, reason));
            verdicts.beacons.push(BeaconVerdict {
                id: beacon.id,
                status,
                reason,
            });
        }

        phases.mark("beacons");
        let mut touched = BTreeSet::new();
        let mut decided_valid = BTreeSet::new();
        let witnesses = self.store().pending_witnesses().await?;
        phases.mark("read_witnesses");
        self.preload_gateways(&mut cache, witnesses.iter().map(|w| w.pub_key))
            .await?;
        self.preload_beacons(&mut cache, &witnesses).await?;
        phases.mark("read_their_beacons");
        for witness in witnesses {
            // Among beacons with this payload, wait while any is pending, then prefer the first
            // valid one, so that a copied beacon reported first cannot void honest witnesses.
            let matches = self
                .cached_beacons_with_data(&mut cache, &witness.report.data)
                .await?;
            let exact = matches
                .iter()
                .find(|b| b.status == Status::Pending)
                .or_else(|| matches.iter().find(|b| b.status == Status::Valid))
                .or_else(|| matches.first())
                .cloned();
            let (beacon, is_exact) = match exact {
                Some(b) => (Some(b), true),
                None => {
                    if now < witness.received_ms.saturating_add(window) {
                        summary.witnesses_waiting += 1;
                        continue;
                    }
                    let near = self.near_beacon(&witness).await?;
                    (near.map(|b| Arc::new(cache.with_verdict(b))), false)
                }
            };
            if beacon.as_ref().is_some_and(|b| b.status == Status::Pending) {
                summary.witnesses_waiting += 1;
                continue;
            }
            let verdict = match &beacon {
                Some(b) => {
                    self.check_witness(&mut cache, &witness, b, is_exact)
                        .await?
                }
                None => self.check_orphan(&mut cache, &witness).await?,
            };
            let (status, reason) = match verdict {
                Ok(()) => {
                    summary.witnesses_valid += 1;
                    decided_valid.insert(witness.id);
                    (Status::Valid, None)
                }
                Err(reason) => {
                    summary.witnesses_invalid += 1;
                    (Status::Invalid, Some(reason.code()))
                }
            };
            cache
                .witness_verdicts
                .insert(witness.id, verdicts.witnesses.len());
            verdicts.witnesses.push(WitnessVerdict {
                id: witness.id,
                status,
                reason,
                beacon_id: beacon.as_ref().map(|b| b.id),
            });
            if let Some(b) = beacon {
                cache.note_verdict(&witness, status, b.id);
                touched.insert(b.id);
                cache.beacons.entry(b.id).or_insert(b);
            }
        }

        phases.mark("witnesses");
        for &beacon_id in &touched {
            let flagged = self
                .check_consistency(&mut cache, &mut verdicts, beacon_id, &decided_valid)
                .await?;
            summary.witnesses_valid -= flagged;
            summary.witnesses_invalid += flagged;
        }
        phases.mark("consistency");
        if !verdicts.is_empty() {
            self.store().write_verdicts(&verdicts).await?;
            phases.mark("write_verdicts");
            tracing::info!(
                beacons = verdicts.beacons.len(),
                witnesses = verdicts.witnesses.len(),
                phases = %phases,
                "verification pass"
            );
        }
        Ok(summary)
    }

    /// A verified beacon that the witness nearly matches, or `None`. A pending candidate is
    /// returned as is, so the caller waits for it.
    async fn near_beacon(&self, witness: &WitnessRow) -> Result<Option<BeaconRow>, OracleError> {
        let config = self.config();
        let freq = witness.report.frequency_hz;
        let candidates = self
            .store()
            .beacons_near(
                freq.saturating_sub(config.max_frequency_offset_hz),
                freq.saturating_add(config.max_frequency_offset_hz),
                witness.received_ms.saturating_sub(config.witness_late_ms),
                witness.received_ms.saturating_add(config.witness_late_ms),
            )
            .await?;
        Ok(candidates
            .into_iter()
            .find(|b| nearly_equal(&b.report.data, &witness.report.data)))
    }

    async fn check_beacon(
        &self,
        cache: &mut Cache,
        beacon: &BeaconRow,
        entropy: Option<&EntropyRow>,
    ) -> Result<Result<(), BeaconReason>, OracleError> {
        let config = self.config();
        let Some(gateway) = self.cached_gateway(cache, &beacon.pub_key).await? else {
            return Ok(Err(BeaconReason::UnknownGateway));
        };
        if cell(gateway.location).is_none() {
            return Ok(Err(BeaconReason::NotAsserted));
        }
        if config.denylist.has_hotspot(&beacon.pub_key) {
            return Ok(Err(BeaconReason::Denylisted));
        }
        let Some(entropy) = entropy else {
            return Ok(Err(BeaconReason::EntropyUnknown));
        };
        if beacon.received_ms < entropy.timestamp_ms
            || beacon.received_ms > entropy.timestamp_ms + config.entropy_window_ms
        {
            return Ok(Err(BeaconReason::EntropyExpired));
        }
        if let Some(last_ms) = self.cached_last_valid(cache, &beacon.pub_key).await? {
            let interval = config.beacon_interval_ms;
            if last_ms / interval >= beacon.received_ms / interval {
                return Ok(Err(BeaconReason::IrregularInterval));
            }
        }
        let report = &beacon.report;
        let plan = Region::try_from(gateway.region)
            .ok()
            .and_then(RegionPlan::for_region);
        let Some(plan) = plan else {
            return Ok(Err(BeaconReason::InvalidPayload));
        };
        if let Some(reason) = region_violation(plan, report, gateway.gain_ddbi) {
            return Ok(Err(reason));
        }
        let Ok(expected) = Beacon::derive(
            &report.remote_entropy,
            &report.local_entropy,
            &beacon.pub_key,
            plan,
            gateway.gain_ddbi,
        ) else {
            return Ok(Err(BeaconReason::InvalidPayload));
        };
        let matches = expected.payload == report.data
            && expected.frequency_hz == report.frequency_hz
            && u32::from(expected.datarate.spreading_factor) == report.spreading_factor
            && expected.datarate.bandwidth_hz == report.bandwidth_hz
            && expected.tx_power_ddbm == report.tx_power_ddbm;
        Ok(if matches {
            Ok(())
        } else {
            Err(BeaconReason::InvalidPayload)
        })
    }

    /// Checks of a witness whose payload matches no beacon.
    async fn check_orphan(
        &self,
        cache: &mut Cache,
        witness: &WitnessRow,
    ) -> Result<Result<(), WitnessReason>, OracleError> {
        let Some(gateway) = self.cached_gateway(cache, &witness.pub_key).await? else {
            return Ok(Err(WitnessReason::UnknownGateway));
        };
        if cell(gateway.location).is_none() {
            return Ok(Err(WitnessReason::NotAsserted));
        }
        Ok(Err(WitnessReason::UnknownBeacon))
    }

    async fn check_witness(
        &self,
        cache: &mut Cache,
        witness: &WitnessRow,
        beacon: &BeaconRow,
        exact: bool,
    ) -> Result<Result<(), WitnessReason>, OracleError> {
        let config = self.config();
        let Some(w_gateway) = self.cached_gateway(cache, &witness.pub_key).await? else {
            return Ok(Err(WitnessReason::UnknownGateway));
        };
        let Some(w_cell) = cell(w_gateway.location) else {
            return Ok(Err(WitnessReason::NotAsserted));
        };
        let earlier = self.cached_witnesses_of_beacon(cache, beacon.id).await?;
        let duplicate = earlier
            .iter()
            .any(|e| e.id != witness.id && e.pub_key == witness.pub_key);
        let first_valid = earlier
            .iter()
            .filter(|e| e.id != witness.id && e.status == Status::Valid)
            .map(|e| e.received_ms)
            .min();
        if duplicate {
            return Ok(Err(WitnessReason::Duplicate));
        }
        if config.denylist.has_hotspot(&witness.pub_key) {
            return Ok(Err(WitnessReason::Denylisted));
        }
        if config.denylist.has_edge(&beacon.pub_key, &witness.pub_key) {
            return Ok(Err(WitnessReason::DenylistedEdge));
        }
        if witness.pub_key == beacon.pub_key {
            return Ok(Err(WitnessReason::SelfWitness));
        }
        if let Some(entropy) = self
            .cached_entropy(cache, &beacon.report.remote_entropy)
            .await?
        {
            if witness.received_ms < entropy.timestamp_ms
                || witness.received_ms > entropy.timestamp_ms + config.entropy_window_ms
            {
                return Ok(Err(WitnessReason::EntropyExpired));
            }
        }
        if witness.received_ms > beacon.received_ms + config.witness_late_ms {
            return Ok(Err(WitnessReason::TooLate));
        }
        // Helium's lag rule: when a witness reached the oracle before the beacon report, the
        // later witnesses are timed from that first witness instead of from the beacon.
        if first_valid.is_some_and(|first| {
            first < beacon.received_ms
                && witness.received_ms > first.saturating_add(config.witness_after_first_ms)
        }) {
            return Ok(Err(WitnessReason::TooLateAfterFirst));
        }
        if !exact {
            return Ok(Err(WitnessReason::PayloadMismatch));
        }
        let w = &witness.report;
        let b = &beacon.report;
        if w.frequency_hz.abs_diff(b.frequency_hz) > config.max_frequency_offset_hz {
            return Ok(Err(WitnessReason::FrequencyMismatch));
        }
        let b_gateway = self.cached_gateway(cache, &beacon.pub_key).await?;
        if let Some((b_gateway, b_cell)) = b_gateway
            .as_ref()
            .and_then(|g| cell(g.location).map(|c| (g, c)))
        {
            if w_gateway.region != b_gateway.region {
                return Ok(Err(WitnessReason::RegionMismatch));
            }
            if let Some(grid) = h3_coverage::grid_distance(w_cell, b_cell, Resolution::Eleven) {
                if grid < i32::try_from(config.min_witness_grid_distance).unwrap_or(i32::MAX) {
                    return Ok(Err(WitnessReason::TooClose));
                }
            }
            let distance = h3_coverage::distance_m(w_cell, b_cell);
            if distance > config.max_witness_distance_m {
                return Ok(Err(WitnessReason::TooFar));
            }
            let bound = max_rssi_ddbm(
                b.tx_power_ddbm,
                b_gateway.gain_ddbi,
                w_gateway.gain_ddbi,
                distance,
                b.frequency_hz,
            ) + f64::from(config.rssi_margin_ddb);
            if f64::from(w.rssi_ddbm) > bound {
                return Ok(Err(WitnessReason::RssiTooHigh));
            }
            let bandwidth = if w.bandwidth_hz > 0 {
                w.bandwidth_hz
            } else {
                b.bandwidth_hz
            };
            if f64::from(w.snr_ddb) > max_snr_ddb(w.rssi_ddbm, bandwidth, config.noise_figure_db) {
                return Ok(Err(WitnessReason::SnrTooHigh));
            }
            if let Some(floor) = demod_floor_db(b.spreading_factor) {
                if f64::from(w.snr_ddb) < 10.0 * (floor - config.snr_floor_margin_db) {
                    return Ok(Err(WitnessReason::SnrTooLow));
                }
            }
        }
        if beacon.status != Status::Valid {
            return Ok(Err(WitnessReason::InvalidBeacon));
        }
        Ok(Ok(()))
    }

    /// Marks as `inconsistent_signal` the witnesses validated in this pass (`decided`) that are
    /// outliers of [`signal_outliers`] among the beacon's valid witnesses; returns how many.
    async fn check_consistency(
        &self,
        cache: &mut Cache,
        verdicts: &mut Verdicts,
        beacon_id: i64,
        decided: &BTreeSet<i64>,
    ) -> Result<u64, OracleError> {
        let config = self.config();
        let Some(beacon) = self.cached_beacon(cache, beacon_id).await? else {
            return Ok(0);
        };
        let Some(b_cell) = self
            .cached_gateway(cache, &beacon.pub_key)
            .await?
            .and_then(|g| cell(g.location))
        else {
            return Ok(0);
        };
        let mut ids = Vec::new();
        let mut points = Vec::new();
        let valid: Vec<Matched> = self
            .cached_witnesses_of_beacon(cache, beacon_id)
            .await?
            .iter()
            .filter(|w| w.status == Status::Valid)
            .copied()
            .collect();
        for w in valid {
            let Some(g) = self.cached_gateway(cache, &w.pub_key).await? else {
                continue;
            };
            let Some(w_cell) = cell(g.location) else {
                continue;
            };
            let distance = h3_coverage::distance_m(w_cell, b_cell);
            let rssi = f64::from(w.rssi_ddbm - g.gain_ddbi) / 10.0;
            ids.push(w.id);
            points.push((distance, rssi));
        }
        let mut flagged = 0;
        for i in signal_outliers(
            &points,
            config.consistency_margin_db,
            config.consistency_min_witnesses as usize,
        ) {
            if decided.contains(&ids[i]) {
                let reason = WitnessReason::InconsistentSignal.code();
                if let Some(verdict) = cache
                    .witness_verdicts
                    .get(&ids[i])
                    .and_then(|&at| verdicts.witnesses.get_mut(at))
                {
                    verdict.status = Status::Invalid;
                    verdict.reason = Some(reason);
                }
                if let Some(w) = cache
                    .witnesses
                    .get_mut(&beacon_id)
                    .and_then(|list| list.iter_mut().find(|w| w.id == ids[i]))
                {
                    w.status = Status::Invalid;
                }
                flagged += 1;
            }
        }
        Ok(flagged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fspl_matches_the_textbook_value() {
        // 1 km at 915 MHz: 91.67 dB.
        assert!((fspl_db(1_000.0, 915_000_000) - 91.67).abs() < 0.01);
        // Doubling the distance adds 6.02 dB.
        let d = fspl_db(2_000.0, 915_000_000) - fspl_db(1_000.0, 915_000_000);
        assert!((d - 6.0206).abs() < 0.001);
        // Below a metre counts as a metre.
        assert_eq!(fspl_db(0.0, 915_000_000), fspl_db(1.0, 915_000_000));
    }

    #[test]
    fn rssi_and_snr_bounds() {
        // 33 dBm + 3 dBi + 3 dBi − 91.67 dB ≈ −52.67 dBm.
        let bound = max_rssi_ddbm(330, 30, 30, 1_000.0, 915_000_000);
        assert!((bound - -526.7).abs() < 0.1, "{bound}");
        // 125 kHz with 3 dB NF: floor −120.03 dBm; −100 dBm allows 20 dB.
        let snr = max_snr_ddb(-1000, 125_000, 3.0);
        assert!((snr - 200.3).abs() < 0.1, "{snr}");
    }

    #[test]
    fn nearly_equal_needs_same_length_and_few_differences() {
        let a = vec![1u8; 40];
        let mut b = a.clone();
        assert!(!nearly_equal(&a, &b));
        b[0] = 2;
        assert!(nearly_equal(&a, &b));
        for x in b.iter_mut().take(11) {
            *x = 9;
        }
        assert!(!nearly_equal(&a, &b));
        assert!(!nearly_equal(&a, &a[..39]));
    }
}
