//! Reward shares per epoch.
//!
//! Each valid beacon earns reward *units* for its beaconer and its selected witnesses (HIP-15),
//! multiplied by the beaconer's scale (HIP-17 hex density, times reputation); witnesses take the
//! beaconer's scale. The epoch's emission is split into a beacon pool and a witness pool by
//! weight, and each pool is apportioned to hotspots in proportion to their units.
//!
//! Everything that decides an amount is computed in integers: units are fixed-point numbers with
//! [`UNIT_SCALE`] (10¹²) per unit, `r^k` is computed by fixed-point multiplication, and pools are
//! apportioned by the largest-remainder method, so amounts are the same on every platform and
//! sum exactly to each pool.

use std::collections::BTreeMap;

/// Fixed-point scale of reward units: one unit is `UNIT_SCALE`.
pub const UNIT_SCALE: u128 = 1_000_000_000_000;

/// Largest scale a hotspot may have.
pub const MAX_SCALE: f64 = 1_000_000.0;

/// A valid beacon with the valid witnesses selected for reward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocEvent {
    /// The hotspot that transmitted the beacon.
    pub beaconer: [u8; 32],
    /// The witnesses selected for reward; each listing earns a witness unit.
    pub witnesses: Vec<[u8; 32]>,
}

/// Parameters of the reward computation.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardParams {
    /// Proof-of-coverage emission of the epoch, in the smallest token unit.
    pub emission: u64,
    /// Weight of the beacon pool (Helium: 1).
    pub beacon_weight: u64,
    /// Weight of the witness pool (Helium: 4).
    pub witness_weight: u64,
    /// HIP-15 `N`: the witness count up to which rewards grow linearly (Helium: 4).
    pub witness_target: u32,
    /// HIP-15 `r`: decay of the extra rewards beyond `N`, in [0, 1] (Helium: 0.8).
    pub witness_decay: f64,
}

impl Default for RewardParams {
    /// 100 000 000 000 per epoch, pools 1 : 4, `N` = 4, `r` = 0.8.
    fn default() -> Self {
        Self {
            emission: 100_000_000_000,
            beacon_weight: 1,
            witness_weight: 4,
            witness_target: 4,
            witness_decay: 0.8,
        }
    }
}

impl RewardParams {
    /// Checks the parameters: weights not both zero, `N` ≥ 1, `r` in [0, 1].
    pub fn validate(&self) -> Result<(), RewardError> {
        if self.beacon_weight == 0 && self.witness_weight == 0 {
            return Err(RewardError::ZeroWeights);
        }
        if self.witness_target == 0 {
            return Err(RewardError::ZeroWitnessTarget);
        }
        if !(0.0..=1.0).contains(&self.witness_decay) {
            return Err(RewardError::InvalidDecay(self.witness_decay));
        }
        Ok(())
    }

    /// `r` as a fixed-point number.
    fn decay_fp(&self) -> u128 {
        to_fixed(self.witness_decay)
    }
}

/// One hotspot's reward for the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct HotspotReward {
    /// The hotspot's key.
    pub hotspot: [u8; 32],
    /// Valid beacons it transmitted (with or without witnesses).
    pub beacons: u32,
    /// Times it was a selected witness.
    pub witnesses: u32,
    /// Its beacon units, scaled (informative; amounts come from the fixed-point values).
    pub beacon_units: f64,
    /// Its witness units, scaled (informative; amounts come from the fixed-point values).
    pub witness_units: f64,
    /// Its share of the beacon pool.
    pub beacon_amount: u64,
    /// Its share of the witness pool.
    pub witness_amount: u64,
}

impl HotspotReward {
    /// Beacon and witness amounts together.
    pub fn total(&self) -> u64 {
        // Both are parts of one emission, so they cannot overflow; saturate all the same.
        self.beacon_amount.saturating_add(self.witness_amount)
    }
}

/// The rewards of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRewards {
    /// The emission that was split.
    pub emission: u64,
    /// Part of the emission for beaconers.
    pub beacon_pool: u64,
    /// Part of the emission for witnesses (it takes the rounding remainder of the split).
    pub witness_pool: u64,
    /// Every hotspot that beaconed or witnessed, sorted by key.
    pub hotspots: Vec<HotspotReward>,
    /// Pool amounts nobody earned: a whole pool whose hotspots have no units at all.
    pub undistributed: u64,
}

/// Why rewards could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RewardError {
    /// Beacon and witness weights are both zero.
    #[error("beacon and witness weights are both zero")]
    ZeroWeights,
    /// The witness target `N` is zero.
    #[error("the witness target must be at least 1")]
    ZeroWitnessTarget,
    /// The witness decay `r` is outside [0, 1] or not a number.
    #[error("witness decay {0} is not in [0, 1]")]
    InvalidDecay(f64),
    /// A scale that is negative, not finite, or larger than [`MAX_SCALE`].
    #[error("scale {scale} of hotspot {hotspot} is not a number in [0, {MAX_SCALE}]")]
    InvalidScale {
        /// The hotspot's key, in hex.
        hotspot: String,
        /// The scale given.
        scale: f64,
    },
    /// Reward units too large to add up (not reachable with real inputs).
    #[error("reward units overflow")]
    Overflow,
}

/// A number in [0, `MAX_SCALE`] as a fixed-point number (rounded to nearest).
fn to_fixed(x: f64) -> u128 {
    // One correctly rounded IEEE multiplication and a rounding: the same on every platform.
    (x * UNIT_SCALE as f64).round() as u128
}

/// `base^k` for a fixed-point `base` ≤ 1, truncating after every multiplication.
fn pow_fp(base: u128, mut k: u64) -> u128 {
    let mut result = UNIT_SCALE;
    let mut base = base.min(UNIT_SCALE);
    while k > 0 && result > 0 {
        if k & 1 == 1 {
            result = result * base / UNIT_SCALE;
        }
        base = base * base / UNIT_SCALE;
        k >>= 1;
    }
    result
}

/// HIP-15 units, fixed-point, of a beacon with `w` selected witnesses: the beaconer's, and each
/// witness's.
///
/// Beaconer: 0 if `w` = 0, `w/N` if `w ≤ N`, else `2 − r^(w−N)` (which grows toward 2).
/// Each witness: 1 if `w ≤ N`, else `(N − (1 − r^(w−N))) / w`.
pub fn units_fp(w: u64, params: &RewardParams) -> Result<(u128, u128), RewardError> {
    params.validate()?;
    let n = u64::from(params.witness_target);
    if w <= n {
        let beaconer = u128::from(w) * UNIT_SCALE / u128::from(n);
        return Ok((beaconer, UNIT_SCALE));
    }
    let decayed = pow_fp(params.decay_fp(), w - n);
    let beaconer = 2 * UNIT_SCALE - decayed;
    let witness = (u128::from(n - 1) * UNIT_SCALE + decayed) / u128::from(w);
    Ok((beaconer, witness))
}

/// [`units_fp`] as floating-point numbers of units (for display).
pub fn units(w: u64, params: &RewardParams) -> Result<(f64, f64), RewardError> {
    let (beaconer, witness) = units_fp(w, params)?;
    Ok((from_fixed(beaconer), from_fixed(witness)))
}

fn from_fixed(x: u128) -> f64 {
    x as f64 / UNIT_SCALE as f64
}

/// Splits `pool` in proportion to `shares` (fixed-point units, in key order) by the
/// largest-remainder method; ties go to the smaller key, i.e. the earlier share. `None` when
/// the shares are all zero.
pub(crate) fn apportion(pool: u64, shares: &[u128]) -> Result<Option<Vec<u64>>, RewardError> {
    let total = shares
        .iter()
        .try_fold(0u128, |sum, &s| sum.checked_add(s))
        .ok_or(RewardError::Overflow)?;
    if total == 0 {
        return Ok(None);
    }
    // Drop low bits so that the total fits 64 bits and pool × share fits 128 bits.
    let shift = (128 - total.leading_zeros()).saturating_sub(64);
    let reduced: Vec<u128> = shares.iter().map(|&s| s >> shift).collect();
    let total: u128 = reduced.iter().sum();
    if total == 0 {
        return Ok(None);
    }
    let pool_wide = u128::from(pool);
    let mut amounts = Vec::with_capacity(reduced.len());
    let mut remainders = Vec::with_capacity(reduced.len());
    let mut given: u128 = 0;
    for (i, &share) in reduced.iter().enumerate() {
        let product = pool_wide * share;
        let base = product / total;
        given += base;
        amounts.push(base as u64);
        remainders.push((product % total, i));
    }
    let mut leftover = (pool_wide - given) as usize;
    // Largest remainder first; among equal remainders the earlier (smaller) key.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in &remainders {
        if leftover == 0 {
            break;
        }
        amounts[i] += 1;
        leftover -= 1;
    }
    Ok(Some(amounts))
}

#[derive(Default)]
struct Tally {
    beacons: u32,
    witnesses: u32,
    beacon_units: u128,
    witness_units: u128,
}

/// The rewards of an epoch's events.
///
/// `scales` holds each hotspot's scale (density scale × reputation); a hotspot missing from it
/// has scale 1. Every scale in the map must be a number in [0, [`MAX_SCALE`]]. A beacon's
/// units, its beaconer's and its witnesses', are multiplied by the beaconer's scale.
///
/// The pools always sum to the emission; each pool with any units is handed out exactly, and a
/// pool without units is `undistributed` whole.
pub fn compute_rewards(
    events: &[PocEvent],
    scales: &BTreeMap<[u8; 32], f64>,
    params: &RewardParams,
) -> Result<EpochRewards, RewardError> {
    compute_rewards_weighted(events, scales, &BTreeMap::new(), params)
}

/// [`compute_rewards`] where each witness's units are also multiplied by its own factor in
/// [0, 1] from `witness_factors` (missing: 1), e.g. its reputation, so that a witness with a
/// poor record earns less even when it witnesses a reputable beaconer. Sums stay exact.
pub fn compute_rewards_weighted(
    events: &[PocEvent],
    scales: &BTreeMap<[u8; 32], f64>,
    witness_factors: &BTreeMap<[u8; 32], f64>,
    params: &RewardParams,
) -> Result<EpochRewards, RewardError> {
    params.validate()?;
    for (hotspot, &scale) in scales {
        if !(0.0..=MAX_SCALE).contains(&scale) {
            return Err(RewardError::InvalidScale {
                hotspot: hex::encode(hotspot),
                scale,
            });
        }
    }
    for (hotspot, &factor) in witness_factors {
        if !(0.0..=1.0).contains(&factor) {
            return Err(RewardError::InvalidScale {
                hotspot: hex::encode(hotspot),
                scale: factor,
            });
        }
    }

    let mut tallies: BTreeMap<[u8; 32], Tally> = BTreeMap::new();
    let mut unit_cache: BTreeMap<u64, (u128, u128)> = BTreeMap::new();
    for event in events {
        let w = event.witnesses.len() as u64;
        let (beaconer_unit, witness_unit) = match unit_cache.get(&w) {
            Some(&units) => units,
            None => {
                let units = units_fp(w, params)?;
                unit_cache.insert(w, units);
                units
            }
        };
        let scale = scales
            .get(&event.beaconer)
            .map_or(UNIT_SCALE, |&s| to_fixed(s));
        let beaconer_units = beaconer_unit * scale / UNIT_SCALE;
        let witness_units = witness_unit * scale / UNIT_SCALE;

        let tally = tallies.entry(event.beaconer).or_default();
        tally.beacons = tally.beacons.saturating_add(1);
        tally.beacon_units = tally
            .beacon_units
            .checked_add(beaconer_units)
            .ok_or(RewardError::Overflow)?;
        for witness in &event.witnesses {
            let own = witness_factors
                .get(witness)
                .map_or(witness_units, |&f| witness_units * to_fixed(f) / UNIT_SCALE);
            let tally = tallies.entry(*witness).or_default();
            tally.witnesses = tally.witnesses.saturating_add(1);
            tally.witness_units = tally
                .witness_units
                .checked_add(own)
                .ok_or(RewardError::Overflow)?;
        }
    }

    let emission = u128::from(params.emission);
    let weights = u128::from(params.beacon_weight) + u128::from(params.witness_weight);
    let beacon_pool = (emission * u128::from(params.beacon_weight) / weights) as u64;
    let witness_pool = params.emission - beacon_pool;

    let beacon_shares: Vec<u128> = tallies.values().map(|t| t.beacon_units).collect();
    let witness_shares: Vec<u128> = tallies.values().map(|t| t.witness_units).collect();
    let mut undistributed = 0;
    let beacon_amounts = apportion(beacon_pool, &beacon_shares)?.unwrap_or_else(|| {
        undistributed += beacon_pool;
        vec![0; beacon_shares.len()]
    });
    let witness_amounts = apportion(witness_pool, &witness_shares)?.unwrap_or_else(|| {
        undistributed += witness_pool;
        vec![0; witness_shares.len()]
    });

    let hotspots = tallies
        .into_iter()
        .zip(beacon_amounts.into_iter().zip(witness_amounts))
        .map(
            |((hotspot, tally), (beacon_amount, witness_amount))| HotspotReward {
                hotspot,
                beacons: tally.beacons,
                witnesses: tally.witnesses,
                beacon_units: from_fixed(tally.beacon_units),
                witness_units: from_fixed(tally.witness_units),
                beacon_amount,
                witness_amount,
            },
        )
        .collect();

    Ok(EpochRewards {
        emission: params.emission,
        beacon_pool,
        witness_pool,
        hotspots,
        undistributed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(i: u8) -> [u8; 32] {
        [i; 32]
    }

    fn event(beaconer: u8, witnesses: &[u8]) -> PocEvent {
        PocEvent {
            beaconer: key(beaconer),
            witnesses: witnesses.iter().map(|&w| key(w)).collect(),
        }
    }

    fn distributed(r: &EpochRewards) -> u128 {
        r.hotspots.iter().map(|h| u128::from(h.total())).sum()
    }

    fn check_sums(r: &EpochRewards) {
        assert_eq!(
            u128::from(r.beacon_pool) + u128::from(r.witness_pool),
            u128::from(r.emission)
        );
        assert_eq!(
            distributed(r) + u128::from(r.undistributed),
            u128::from(r.emission)
        );
    }

    #[test]
    fn hip15_unit_values() {
        let p = RewardParams::default();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-10;
        let cases: &[(u64, f64, f64)] = &[
            (0, 0.0, 1.0),
            (1, 0.25, 1.0),
            (4, 1.0, 1.0),
            (5, 1.2, 0.76),
            (10, 2.0 - 0.262144, (3.0 + 0.262144) / 10.0),
            (14, 2.0 - 0.1073741824, (3.0 + 0.1073741824) / 14.0),
        ];
        for &(w, beaconer, witness) in cases {
            let (b, wi) = units(w, &p).unwrap();
            assert!(close(b, beaconer), "w={w}: beaconer {b} vs {beaconer}");
            assert!(close(wi, witness), "w={w}: witness {wi} vs {witness}");
        }
        // Exact fixed-point values where they are representable.
        assert_eq!(units_fp(0, &p).unwrap().0, 0);
        assert_eq!(units_fp(2, &p).unwrap(), (UNIT_SCALE / 2, UNIT_SCALE));
        assert_eq!(
            units_fp(5, &p).unwrap(),
            (1_200_000_000_000, 760_000_000_000)
        );
        // The HIP-15 table: beyond N a beacon hands out N + 1 units in all (to rounding).
        for w in 5..=40u64 {
            let (b, wi) = units_fp(w, &p).unwrap();
            let total = b + wi * u128::from(w);
            assert!(total.abs_diff(5 * UNIT_SCALE) <= u128::from(w), "w={w}");
            assert!(b > UNIT_SCALE && b < 2 * UNIT_SCALE);
        }
        // The beaconer's unit grows toward 2, the witness's shrinks.
        let mut last = units_fp(4, &p).unwrap();
        for w in 5..200u64 {
            let now = units_fp(w, &p).unwrap();
            assert!(now.0 >= last.0 && now.1 < last.1, "w={w}");
            last = now;
        }
        assert!(units_fp(u64::MAX, &p).unwrap().0 == 2 * UNIT_SCALE);
    }

    #[test]
    fn decay_edges() {
        let mut p = RewardParams {
            witness_decay: 1.0,
            ..RewardParams::default()
        };
        // r = 1: no bonus for the beaconer, witnesses share N units.
        assert_eq!(units_fp(8, &p).unwrap(), (UNIT_SCALE, UNIT_SCALE / 2));
        p.witness_decay = 0.0;
        assert_eq!(
            units_fp(5, &p).unwrap(),
            (2 * UNIT_SCALE, 3 * UNIT_SCALE / 5)
        );
        p.witness_decay = 0.999_999_999_999;
        assert!(units_fp(u64::MAX, &p).is_ok());
    }

    #[test]
    fn simple_epoch() {
        let p = RewardParams {
            emission: 1_000,
            ..RewardParams::default()
        };
        // Beacon from 1 heard by 2 and 3; beacon from 2 heard by 1.
        let events = vec![event(1, &[2, 3]), event(2, &[1])];
        let r = compute_rewards(&events, &BTreeMap::new(), &p).unwrap();
        assert_eq!(
            (r.beacon_pool, r.witness_pool, r.undistributed),
            (200, 800, 0)
        );
        check_sums(&r);
        let by = |k: u8| r.hotspots.iter().find(|h| h.hotspot == key(k)).unwrap();
        // Beacon units 0.5 and 0.25: 2/3 and 1/3 of 200, the odd unit to the larger remainder.
        assert_eq!(by(1).beacon_amount, 133);
        assert_eq!(by(2).beacon_amount, 67);
        assert_eq!(by(3).beacon_amount, 0);
        // Three witness units of 1 each: 800 / 3 = 266 r 2; ties go to the smaller keys.
        assert_eq!(by(1).witness_amount, 267);
        assert_eq!(by(2).witness_amount, 267);
        assert_eq!(by(3).witness_amount, 266);
        assert_eq!((by(1).beacons, by(1).witnesses), (1, 1));
        assert_eq!(by(1).total(), 400);
        let keys: Vec<_> = r.hotspots.iter().map(|h| h.hotspot).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn a_beacon_without_witnesses_earns_nothing() {
        let p = RewardParams::default();
        let r = compute_rewards(&[event(1, &[])], &BTreeMap::new(), &p).unwrap();
        assert_eq!(r.hotspots.len(), 1);
        assert_eq!(r.hotspots[0].beacons, 1);
        assert_eq!(r.hotspots[0].total(), 0);
        assert_eq!(r.undistributed, p.emission);
        check_sums(&r);

        let r = compute_rewards(&[event(1, &[]), event(2, &[3])], &BTreeMap::new(), &p).unwrap();
        assert_eq!(r.hotspots[0].beacon_amount, 0);
        assert_eq!(r.hotspots[1].beacon_amount, r.beacon_pool);
        assert_eq!(r.undistributed, 0);
        check_sums(&r);

        let r = compute_rewards(&[], &BTreeMap::new(), &p).unwrap();
        assert!(r.hotspots.is_empty());
        assert_eq!(r.undistributed, p.emission);
    }

    #[test]
    fn a_hotspot_with_scale_zero_gets_nothing() {
        let p = RewardParams::default();
        let scales = BTreeMap::from([(key(1), 0.0), (key(4), 0.5)]);
        // Hotspot 1 (scale 0) beacons; its witnesses take its scale.
        let events = vec![event(1, &[2, 3]), event(4, &[2, 5]), event(1, &[5])];
        let r = compute_rewards(&events, &scales, &p).unwrap();
        let by = |k: u8| r.hotspots.iter().find(|h| h.hotspot == key(k)).unwrap();
        assert_eq!(by(1).total(), 0);
        assert_eq!(by(1).beacons, 2);
        assert_eq!(by(3).total(), 0, "witnessed only a zero-scale beaconer");
        assert!(by(4).beacon_amount == r.beacon_pool);
        assert_eq!(by(2).witness_amount + by(5).witness_amount, r.witness_pool);
        check_sums(&r);

        // Every beaconer at scale 0: nothing to share.
        let all_zero = BTreeMap::from([(key(1), 0.0), (key(4), 0.0)]);
        let r = compute_rewards(&events, &all_zero, &p).unwrap();
        assert_eq!(r.undistributed, p.emission);
        assert!(r.hotspots.iter().all(|h| h.total() == 0));
    }

    #[test]
    fn scales_weigh_shares() {
        let p = RewardParams {
            emission: 3_000,
            beacon_weight: 1,
            witness_weight: 0,
            ..RewardParams::default()
        };
        let scales = BTreeMap::from([(key(1), 2.0)]);
        let r = compute_rewards(&[event(1, &[3]), event(2, &[3])], &scales, &p).unwrap();
        assert_eq!(r.beacon_pool, 3_000);
        assert_eq!(r.witness_pool, 0);
        assert_eq!(r.hotspots[0].beacon_amount, 2_000);
        assert_eq!(r.hotspots[1].beacon_amount, 1_000);
        // The witness pool is empty but has units: nothing undistributed.
        assert_eq!(r.undistributed, 0);
        check_sums(&r);
    }

    #[test]
    fn a_witness_factor_scales_only_that_witness() {
        let p = RewardParams::default();
        let events = vec![event(1, &[2, 3])];
        let factors = BTreeMap::from([(key(3), 0.5)]);
        let r = compute_rewards_weighted(&events, &BTreeMap::new(), &factors, &p).unwrap();
        check_sums(&r);
        let get = |k: u8| r.hotspots.iter().find(|h| h.hotspot == key(k)).unwrap();
        assert!((get(2).witness_units - 1.0).abs() < 1e-9);
        assert!((get(3).witness_units - 0.5).abs() < 1e-9);
        // The beaconer's units do not depend on its witnesses' factors.
        assert!((get(1).beacon_units - 0.5).abs() < 1e-9);
        assert!(get(2).witness_amount.abs_diff(2 * get(3).witness_amount) <= 2);
        let bad = BTreeMap::from([(key(3), 1.5)]);
        assert!(compute_rewards_weighted(&events, &BTreeMap::new(), &bad, &p).is_err());
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let ok = RewardParams::default();
        let events = vec![event(1, &[2])];
        let none = BTreeMap::new();
        let bad = |p: RewardParams| compute_rewards(&events, &none, &p).unwrap_err();
        assert_eq!(
            bad(RewardParams {
                beacon_weight: 0,
                witness_weight: 0,
                ..ok.clone()
            }),
            RewardError::ZeroWeights
        );
        assert_eq!(
            bad(RewardParams {
                witness_target: 0,
                ..ok.clone()
            }),
            RewardError::ZeroWitnessTarget
        );
        for decay in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
            assert!(matches!(
                bad(RewardParams {
                    witness_decay: decay,
                    ..ok.clone()
                }),
                RewardError::InvalidDecay(_)
            ));
        }
        for scale in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, 2e6] {
            let scales = BTreeMap::from([(key(9), scale)]);
            let err = compute_rewards(&events, &scales, &ok).unwrap_err();
            assert!(matches!(err, RewardError::InvalidScale { .. }), "{err}");
        }
        let scales = BTreeMap::from([(key(1), -0.0)]);
        assert!(compute_rewards(&events, &scales, &ok).is_ok());
    }

    #[test]
    fn huge_emissions_and_weights() {
        let p = RewardParams {
            emission: u64::MAX,
            beacon_weight: u64::MAX,
            witness_weight: u64::MAX,
            ..RewardParams::default()
        };
        let scales = BTreeMap::from([(key(1), MAX_SCALE), (key(2), 1e-12)]);
        let events = vec![event(1, &[2, 3, 4, 5, 6, 7]), event(2, &[1])];
        let r = compute_rewards(&events, &scales, &p).unwrap();
        assert_eq!(r.beacon_pool, u64::MAX / 2);
        assert_eq!(r.witness_pool, u64::MAX - u64::MAX / 2);
        check_sums(&r);
    }

    #[test]
    fn apportioning_wide_shares() {
        let shares = [u128::MAX / 4, u128::MAX / 4 + 1, 3, 0, u128::MAX / 2 - 7];
        for pool in [0, 1, 2, 3, 7, 1_000_000_007, u64::MAX] {
            let amounts = apportion(pool, &shares).unwrap().unwrap();
            assert_eq!(
                amounts.iter().map(|&a| u128::from(a)).sum::<u128>(),
                u128::from(pool)
            );
            assert_eq!(amounts[3], 0);
        }
        let amounts = apportion(u64::MAX, &shares).unwrap().unwrap();
        assert!(amounts[4].abs_diff(u64::MAX / 2) <= 2);
        assert_eq!(apportion(10, &[0, 0]).unwrap(), None);
        assert_eq!(apportion(10, &[]).unwrap(), None);
        assert_eq!(
            apportion(10, &[u128::MAX, 1]).unwrap_err(),
            RewardError::Overflow
        );
        // Many heavily scaled beacons: units beyond 64 bits still split exactly.
        let p = RewardParams {
            emission: u64::MAX,
            ..RewardParams::default()
        };
        let events: Vec<PocEvent> = (0..200u8).map(|i| event(i, &[i.wrapping_add(1)])).collect();
        let scales: BTreeMap<[u8; 32], f64> = (0..200u8).map(|i| (key(i), MAX_SCALE)).collect();
        let r = compute_rewards(&events, &scales, &p).unwrap();
        check_sums(&r);
        assert_eq!(r.undistributed, 0);
    }

    fn arb_params() -> impl Strategy<Value = RewardParams> {
        (
            prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0u64..1_000],
            prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 1u64..10],
            prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 1u64..10],
            1u32..8,
            prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0],
        )
            .prop_filter("weights", |(_, b, w, _, _)| *b != 0 || *w != 0)
            .prop_map(|(emission, b, w, n, r)| RewardParams {
                emission,
                beacon_weight: b,
                witness_weight: w,
                witness_target: n,
                witness_decay: r,
            })
    }

    fn arb_events() -> impl Strategy<Value = Vec<PocEvent>> {
        prop::collection::vec((0u8..12, prop::collection::vec(0u8..12, 0..20)), 0..30)
            .prop_map(|events| events.into_iter().map(|(b, ws)| event(b, &ws)).collect())
    }

    fn arb_scales() -> impl Strategy<Value = BTreeMap<[u8; 32], f64>> {
        prop::collection::btree_map(
            (0u8..12).prop_map(key),
            prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0, 0.0f64..=MAX_SCALE],
            0..12,
        )
    }

    proptest! {
        #[test]
        fn amounts_sum_exactly(events in arb_events(), scales in arb_scales(), p in arb_params()) {
            let r = compute_rewards(&events, &scales, &p).unwrap();
            prop_assert_eq!(
                u128::from(r.beacon_pool) + u128::from(r.witness_pool),
                u128::from(p.emission)
            );
            prop_assert_eq!(distributed(&r) + u128::from(r.undistributed), u128::from(p.emission));
            let beacon_sum: u128 = r.hotspots.iter().map(|h| u128::from(h.beacon_amount)).sum();
            let witness_sum: u128 = r.hotspots.iter().map(|h| u128::from(h.witness_amount)).sum();
            prop_assert!(beacon_sum == u128::from(r.beacon_pool) || beacon_sum == 0);
            prop_assert!(witness_sum == u128::from(r.witness_pool) || witness_sum == 0);
            for h in &r.hotspots {
                if h.beacon_units == 0.0 {
                    prop_assert_eq!(h.beacon_amount, 0);
                }
                if h.witness_units == 0.0 {
                    prop_assert_eq!(h.witness_amount, 0);
                }
            }
            // Deterministic, and independent of the order of events.
            prop_assert_eq!(&compute_rewards(&events, &scales, &p).unwrap(), &r);
            let mut reversed = events.clone();
            reversed.reverse();
            prop_assert_eq!(&compute_rewards(&reversed, &scales, &p).unwrap(), &r);
        }

        #[test]
        fn witness_factors_keep_exact_sums_and_never_raise_units(
            events in arb_events(),
            scales in arb_scales(),
            factors in prop::collection::btree_map(
                (0u8..12).prop_map(key),
                prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0],
                0..12,
            ),
            p in arb_params(),
        ) {
            let plain = compute_rewards(&events, &scales, &p).unwrap();
            let r = compute_rewards_weighted(&events, &scales, &factors, &p).unwrap();
            prop_assert_eq!(distributed(&r) + u128::from(r.undistributed), u128::from(p.emission));
            let witness_sum: u128 = r.hotspots.iter().map(|h| u128::from(h.witness_amount)).sum();
            prop_assert!(witness_sum == u128::from(r.witness_pool) || witness_sum == 0);
            for (a, b) in plain.hotspots.iter().zip(&r.hotspots) {
                prop_assert_eq!(a.hotspot, b.hotspot);
                prop_assert_eq!(a.beacon_amount, b.beacon_amount);
                prop_assert!(b.witness_units <= a.witness_units);
                if factors.get(&a.hotspot) == Some(&0.0) {
                    prop_assert_eq!(b.witness_amount, 0);
                }
            }
        }

        #[test]
        fn amounts_follow_units(events in arb_events(), p in arb_params()) {
            // With every scale 1, more units never means less reward (within one pool).
            let r = compute_rewards(&events, &BTreeMap::new(), &p).unwrap();
            for a in &r.hotspots {
                for b in &r.hotspots {
                    if a.witness_units > b.witness_units {
                        prop_assert!(a.witness_amount >= b.witness_amount);
                    }
                    if a.beacon_units > b.beacon_units {
                        prop_assert!(a.beacon_amount >= b.beacon_amount);
                    }
                }
            }
        }

        #[test]
        fn any_scale_never_panics(
            events in arb_events(),
            scale in any::<f64>(),
            p in arb_params(),
            decay in any::<f64>(),
        ) {
            let scales = BTreeMap::from([(key(1), scale)]);
            let _ = compute_rewards(&events, &scales, &p);
            let p = RewardParams { witness_decay: decay, ..p };
            let _ = compute_rewards(&events, &scales, &p);
        }
    }
}
