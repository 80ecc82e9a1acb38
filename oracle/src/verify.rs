//! Verification of stored reports once their entropy window has closed: the service side.
//!
//! A beacon is verified once `entropy ts + window <= now` (or `received + window <= now` when
//! its entropy is unknown). A witness attaches to the earliest valid beacon whose payload
//! equals its own (the earliest such beacon if none is valid) and is verified once every such
//! beacon is; a witness matching no beacon waits one entropy window after its arrival and is
//! then matched to a verified beacon it nearly equals ([`nearly_equal`], a `payload_mismatch`)
//! or is an orphan. A pass loads what each check looks at (mostly in bulk, kept in a
//! [`Cache`]), the pure rules of [`oracle_core::rules`] decide (the rule order is written
//! there, and in `oracle/RULES.md`), then over all valid witnesses of each touched beacon
//! `inconsistent_signal` ([`signal_outliers`]), and the pass's verdicts are written at once.
//! Then each block of the report archive that the pass completed is written
//! ([`crate::archive`]: the epoch's reports archived as they are verified).
//!
//! Verification selects nothing: which valid witnesses are paid is decided once, by the epoch
//! close ([`oracle_core::selection`]), among the witnesses eligible then.

use crate::error::OracleError;
use crate::store::{
    BeaconRow, BeaconVerdict, EntropyRow, GatewayRow, ReportKind, Status, Verdicts, WitnessRow,
    WitnessVerdict,
};
use crate::Oracle;
use oracle_core::reason::{BeaconReason, WitnessReason};
use oracle_core::rules::{
    self, cell, nearly_equal, signal_outliers, BeaconContext, MatchedWitness, WitnessContext,
};
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
    witnesses: HashMap<i64, Vec<MatchedWitness>>,
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
            let row = MatchedWitness {
                status,
                ..MatchedWitness::of(witness)
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

/// One verification pass: what it has looked up, what it decided so far, and its counts.
struct Pass {
    now_ms: u64,
    cache: Cache,
    verdicts: Verdicts,
    summary: VerifySummary,
    /// Beacons that got a witness verdict in this pass.
    touched: BTreeSet<i64>,
    /// Witnesses found valid in this pass (only they can still turn `inconsistent_signal`).
    decided_valid: BTreeSet<i64>,
    /// The blocks of the report archive this pass decided reports in.
    archive: crate::archive::Touched,
}

impl Pass {
    fn new(now_ms: u64) -> Self {
        Self {
            now_ms,
            cache: Cache::default(),
            verdicts: Verdicts {
                now_ms,
                ..Verdicts::default()
            },
            summary: VerifySummary::default(),
            touched: BTreeSet::new(),
            decided_valid: BTreeSet::new(),
            archive: Default::default(),
        }
    }

    /// Records a witness's verdict (against `beacon`, or an orphan's).
    fn record_witness(
        &mut self,
        witness: &WitnessRow,
        beacon: Option<Arc<BeaconRow>>,
        verdict: Result<(), WitnessReason>,
    ) {
        let (status, reason) = match verdict {
            Ok(()) => {
                self.summary.witnesses_valid += 1;
                self.decided_valid.insert(witness.id);
                (Status::Valid, None)
            }
            Err(reason) => {
                self.summary.witnesses_invalid += 1;
                (Status::Invalid, Some(reason.code()))
            }
        };
        self.cache
            .witness_verdicts
            .insert(witness.id, self.verdicts.witnesses.len());
        self.verdicts.witnesses.push(WitnessVerdict {
            id: witness.id,
            status,
            reason,
            beacon_id: beacon.as_ref().map(|b| b.id),
        });
        if let Some(b) = beacon {
            self.cache.note_verdict(witness, status, b.id);
            self.touched.insert(b.id);
            self.cache.beacons.entry(b.id).or_insert(b);
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
                list.push(MatchedWitness::of(&witness));
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
    ) -> Result<&'c [MatchedWitness], OracleError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.witnesses.entry(beacon_id) {
            let stored = self.store().witnesses_of_beacon(beacon_id).await?;
            slot.insert(stored.iter().map(MatchedWitness::of).collect());
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
        let mut pass = Pass::new(self.now_ms());
        let mut phases = crate::phases::PhaseTimes::start();
        self.verify_beacons(&mut pass, &mut phases).await?;
        self.verify_witnesses(&mut pass, &mut phases).await?;
        let touched = std::mem::take(&mut pass.touched);
        for beacon_id in touched {
            let flagged = self
                .check_consistency(
                    &mut pass.cache,
                    &mut pass.verdicts,
                    beacon_id,
                    &pass.decided_valid,
                )
                .await?;
            pass.summary.witnesses_valid -= flagged;
            pass.summary.witnesses_invalid += flagged;
        }
        phases.mark("consistency");
        let verdicts = &pass.verdicts;
        if !verdicts.is_empty() {
            self.store().write_verdicts(verdicts).await?;
            phases.mark("write_verdicts");
            // The close writes whatever this leaves out (it checks what the archive covers).
            if let Err(error) = self.archive_verified(&pass.archive, pass.now_ms).await {
                tracing::warn!(%error, "archiving the verified reports failed");
            }
            phases.mark("archive");
            tracing::info!(
                beacons = verdicts.beacons.len(),
                witnesses = verdicts.witnesses.len(),
                phases = %phases,
                "verification pass"
            );
        }
        Ok(pass.summary)
    }

    /// Decides every pending beacon whose entropy window has closed.
    async fn verify_beacons(
        &self,
        pass: &mut Pass,
        phases: &mut crate::phases::PhaseTimes,
    ) -> Result<(), OracleError> {
        let window = self.config().entropy_window_ms;
        let cache = &mut pass.cache;
        let beacons = self.store().pending_beacons().await?;
        let beaconers = distinct(beacons.iter().map(|b| b.pub_key));
        self.preload_gateways(cache, beaconers.iter().copied())
            .await?;
        let last_valid = self.store().last_valid_beacon_times(&beaconers).await?;
        for key in beaconers {
            cache.last_valid.insert(key, last_valid.get(&key).copied());
        }
        phases.mark("read_beacons");
        for beacon in beacons {
            let entropy = self
                .cached_entropy(cache, &beacon.report.remote_entropy)
                .await?;
            let ready_at = match &entropy {
                Some(e) => e.timestamp_ms.saturating_add(window),
                None => beacon.received_ms.saturating_add(window),
            };
            if pass.now_ms < ready_at {
                pass.summary.beacons_waiting += 1;
                continue;
            }
            let (status, reason) = match self.check_beacon(cache, &beacon, entropy.as_ref()).await?
            {
                Ok(()) => {
                    pass.summary.beacons_valid += 1;
                    let latest = cache.last_valid.entry(beacon.pub_key).or_default();
                    *latest =
                        Some(latest.map_or(beacon.received_ms, |t| t.max(beacon.received_ms)));
                    (Status::Valid, None)
                }
                Err(reason) => {
                    pass.summary.beacons_invalid += 1;
                    (Status::Invalid, Some(reason.code()))
                }
            };
            cache.beacon_verdicts.insert(beacon.id, (status, reason));
            self.touch_block(
                &mut pass.archive,
                ReportKind::Beacons,
                beacon.id,
                beacon.received_ms,
            );
            pass.verdicts.beacons.push(BeaconVerdict {
                id: beacon.id,
                status,
                reason,
            });
        }
        phases.mark("beacons");
        Ok(())
    }

    /// Decides every pending witness whose beacon is decided (or that waited its window).
    async fn verify_witnesses(
        &self,
        pass: &mut Pass,
        phases: &mut crate::phases::PhaseTimes,
    ) -> Result<(), OracleError> {
        let witnesses = self.store().pending_witnesses().await?;
        phases.mark("read_witnesses");
        self.preload_gateways(&mut pass.cache, witnesses.iter().map(|w| w.pub_key))
            .await?;
        self.preload_beacons(&mut pass.cache, &witnesses).await?;
        phases.mark("read_their_beacons");
        for witness in witnesses {
            let Some((beacon, exact)) = self.beacon_of(pass, &witness).await? else {
                pass.summary.witnesses_waiting += 1;
                continue;
            };
            let verdict = match &beacon {
                Some(b) => {
                    self.check_witness(&mut pass.cache, &witness, b, exact)
                        .await?
                }
                None => Err(rules::check_orphan(
                    self.cached_gateway(&mut pass.cache, &witness.pub_key)
                        .await?
                        .as_deref(),
                )),
            };
            self.touch_block(
                &mut pass.archive,
                ReportKind::Witnesses,
                witness.id,
                witness.received_ms,
            );
            pass.record_witness(&witness, beacon, verdict);
        }
        phases.mark("witnesses");
        Ok(())
    }

    /// The beacon a witness is checked against, and whether its payload is exactly the
    /// beacon's: `None` while the witness must wait (a matching beacon is pending, or it
    /// matches none and its window is open); `Some((None, _))` for an orphan.
    async fn beacon_of(
        &self,
        pass: &mut Pass,
        witness: &WitnessRow,
    ) -> Result<Option<(Option<Arc<BeaconRow>>, bool)>, OracleError> {
        // Among beacons with this payload, wait while any is pending, then prefer the first
        // valid one, so that a copied beacon reported first cannot void honest witnesses.
        let matches = self
            .cached_beacons_with_data(&mut pass.cache, &witness.report.data)
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
                let window = self.config().entropy_window_ms;
                if pass.now_ms < witness.received_ms.saturating_add(window) {
                    return Ok(None);
                }
                let near = self.near_beacon(witness).await?;
                (near.map(|b| Arc::new(pass.cache.with_verdict(b))), false)
            }
        };
        if beacon.as_ref().is_some_and(|b| b.status == Status::Pending) {
            return Ok(None);
        }
        Ok(Some((beacon, is_exact)))
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

    /// A beacon's verdict: loads what [`rules::check_beacon`] looks at, which decides.
    async fn check_beacon(
        &self,
        cache: &mut Cache,
        beacon: &BeaconRow,
        entropy: Option<&EntropyRow>,
    ) -> Result<Result<(), BeaconReason>, OracleError> {
        let gateway = self.cached_gateway(cache, &beacon.pub_key).await?;
        let last_valid_ms = self.cached_last_valid(cache, &beacon.pub_key).await?;
        let ctx = BeaconContext {
            beacon,
            gateway: gateway.as_deref(),
            entropy,
            last_valid_ms,
        };
        Ok(rules::check_beacon(&ctx, self.config()))
    }

    /// A witness's verdict: loads what [`rules::check_witness`] looks at, which decides.
    async fn check_witness(
        &self,
        cache: &mut Cache,
        witness: &WitnessRow,
        beacon: &BeaconRow,
        exact: bool,
    ) -> Result<Result<(), WitnessReason>, OracleError> {
        let witness_gateway = self.cached_gateway(cache, &witness.pub_key).await?;
        let beacon_gateway = self.cached_gateway(cache, &beacon.pub_key).await?;
        let entropy = self
            .cached_entropy(cache, &beacon.report.remote_entropy)
            .await?;
        let matched = self.cached_witnesses_of_beacon(cache, beacon.id).await?;
        let ctx = WitnessContext {
            witness,
            beacon,
            exact,
            witness_gateway: witness_gateway.as_deref(),
            beacon_gateway: beacon_gateway.as_deref(),
            entropy: entropy.as_ref(),
            matched,
        };
        Ok(rules::check_witness(&ctx, self.config()))
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
        let valid: Vec<MatchedWitness> = self
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
