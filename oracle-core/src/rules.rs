//! The verification rules, as pure functions over what the verifier loaded: a beacon's and a
//! witness's checks in order, the physics bounds, the region rules and the signal consistency.
//! The service (the oracle's `verify`) loads, these decide, the service writes.
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

use crate::config::OracleConfig;
use crate::reason::{BeaconReason, WitnessReason};
use crate::reports::{BeaconRow, EntropyRow, GatewayRow, Status, WitnessRow};
use h3_coverage::{CellIndex, Resolution};
use poc::proto::Region;
use poc::{Beacon, RegionPlan};

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

/// The asserted cell of a gateway's stored location, if any.
pub fn cell(location: Option<u64>) -> Option<CellIndex> {
    location.and_then(|l| h3_coverage::cell_from_u64(l).ok())
}

/// A witness already matched to a beacon, as the checks across a beacon's witnesses need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedWitness {
    /// Row id.
    pub id: i64,
    /// The witness.
    pub pub_key: [u8; 32],
    /// When the oracle received it.
    pub received_ms: u64,
    /// Its verification state (this pass's verdicts included).
    pub status: Status,
    /// The RSSI it reported, tenths of dBm.
    pub rssi_ddbm: i32,
}

impl MatchedWitness {
    /// The matched view of a stored witness.
    pub fn of(witness: &WitnessRow) -> Self {
        Self {
            id: witness.id,
            pub_key: witness.pub_key,
            received_ms: witness.received_ms,
            status: witness.status,
            rssi_ddbm: witness.report.rssi_ddbm,
        }
    }
}

/// What a beacon's checks look at.
#[derive(Debug, Clone, Copy)]
pub struct BeaconContext<'a> {
    /// The beacon.
    pub beacon: &'a BeaconRow,
    /// Its beaconer's gateway, if known.
    pub gateway: Option<&'a GatewayRow>,
    /// The entropy it names, if the oracle published it.
    pub entropy: Option<&'a EntropyRow>,
    /// Receive time of the beaconer's latest valid beacon before this one.
    pub last_valid_ms: Option<u64>,
}

/// What a witness's checks look at.
#[derive(Debug, Clone, Copy)]
pub struct WitnessContext<'a> {
    /// The witness.
    pub witness: &'a WitnessRow,
    /// The beacon it was matched to.
    pub beacon: &'a BeaconRow,
    /// Whether its payload is exactly the beacon's (else nearly).
    pub exact: bool,
    /// The witness's gateway, if known.
    pub witness_gateway: Option<&'a GatewayRow>,
    /// The beaconer's gateway, if known.
    pub beacon_gateway: Option<&'a GatewayRow>,
    /// The entropy the beacon names, if published.
    pub entropy: Option<&'a EntropyRow>,
    /// The witnesses matched to the beacon so far (this one may be among them).
    pub matched: &'a [MatchedWitness],
}

/// A beacon's checks, in order: `unknown_gateway`, `not_asserted`, `denylisted`,
/// `entropy_unknown`, `entropy_expired`, `irregular_interval`, the region rules, then
/// `invalid_payload`.
pub fn check_beacon(ctx: &BeaconContext<'_>, config: &OracleConfig) -> Result<(), BeaconReason> {
    let beacon = ctx.beacon;
    let gateway = ctx.gateway.ok_or(BeaconReason::UnknownGateway)?;
    if cell(gateway.location).is_none() {
        return Err(BeaconReason::NotAsserted);
    }
    if config.denylist.has_hotspot(&beacon.pub_key) {
        return Err(BeaconReason::Denylisted);
    }
    let entropy = ctx.entropy.ok_or(BeaconReason::EntropyUnknown)?;
    if beacon.received_ms < entropy.timestamp_ms
        || beacon.received_ms > entropy.timestamp_ms + config.entropy_window_ms
    {
        return Err(BeaconReason::EntropyExpired);
    }
    if let Some(last_ms) = ctx.last_valid_ms {
        let interval = config.beacon_interval_ms;
        if last_ms / interval >= beacon.received_ms / interval {
            return Err(BeaconReason::IrregularInterval);
        }
    }
    check_beacon_payload(beacon, gateway)
}

/// The region rules and `invalid_payload`: the beacon must be the one its entropy, its local
/// entropy and its key derive in its gateway's region, at any power up to the derived one (the
/// region's limit less the antenna gain, which `power_not_allowed` enforces first): a radio
/// with less power than the region allows (an SX1302 board's 27 dBm against US915's 33 dBm with
/// a 3 dBi antenna) reports what it sent. The physics bounds then use the reported power, and
/// no reward depends on it, so reporting a power gains an owner nothing.
fn check_beacon_payload(beacon: &BeaconRow, gateway: &GatewayRow) -> Result<(), BeaconReason> {
    let report = &beacon.report;
    let plan = Region::try_from(gateway.region)
        .ok()
        .and_then(RegionPlan::for_region)
        .ok_or(BeaconReason::InvalidPayload)?;
    if let Some(reason) = region_violation(plan, report, gateway.gain_ddbi) {
        return Err(reason);
    }
    let expected = Beacon::derive(
        &report.remote_entropy,
        &report.local_entropy,
        &beacon.pub_key,
        plan,
        gateway.gain_ddbi,
    )
    .map_err(|_| BeaconReason::InvalidPayload)?;
    let matches = expected.payload == report.data
        && expected.frequency_hz == report.frequency_hz
        && u32::from(expected.datarate.spreading_factor) == report.spreading_factor
        && expected.datarate.bandwidth_hz == report.bandwidth_hz
        && report.tx_power_ddbm <= expected.tx_power_ddbm;
    if matches {
        Ok(())
    } else {
        Err(BeaconReason::InvalidPayload)
    }
}

/// The checks of a witness whose payload matches no beacon: `unknown_gateway`,
/// `not_asserted`, else `unknown_beacon`.
pub fn check_orphan(gateway: Option<&GatewayRow>) -> WitnessReason {
    match gateway {
        None => WitnessReason::UnknownGateway,
        Some(g) if cell(g.location).is_none() => WitnessReason::NotAsserted,
        Some(_) => WitnessReason::UnknownBeacon,
    }
}

/// A witness's checks, in order: `unknown_gateway`, `not_asserted`, `duplicate`,
/// `denylisted`, `denylisted_edge`, `self_witness`, `entropy_expired`, `too_late`,
/// `too_late_after_first`, `payload_mismatch`, `frequency_mismatch`, then the physics of the
/// pair ([`check_witness_physics`]), then `invalid_beacon`.
pub fn check_witness(ctx: &WitnessContext<'_>, config: &OracleConfig) -> Result<(), WitnessReason> {
    let (witness, beacon) = (ctx.witness, ctx.beacon);
    let w_gateway = ctx.witness_gateway.ok_or(WitnessReason::UnknownGateway)?;
    let w_cell = cell(w_gateway.location).ok_or(WitnessReason::NotAsserted)?;
    let others = || ctx.matched.iter().filter(|e| e.id != witness.id);
    if others().any(|e| e.pub_key == witness.pub_key) {
        return Err(WitnessReason::Duplicate);
    }
    if config.denylist.has_hotspot(&witness.pub_key) {
        return Err(WitnessReason::Denylisted);
    }
    if config.denylist.has_edge(&beacon.pub_key, &witness.pub_key) {
        return Err(WitnessReason::DenylistedEdge);
    }
    if witness.pub_key == beacon.pub_key {
        return Err(WitnessReason::SelfWitness);
    }
    if let Some(entropy) = ctx.entropy {
        if witness.received_ms < entropy.timestamp_ms
            || witness.received_ms > entropy.timestamp_ms + config.entropy_window_ms
        {
            return Err(WitnessReason::EntropyExpired);
        }
    }
    if witness.received_ms > beacon.received_ms + config.witness_late_ms {
        return Err(WitnessReason::TooLate);
    }
    // Helium's lag rule: when a witness reached the oracle before the beacon report, the later
    // witnesses are timed from that first witness instead of from the beacon.
    let first_valid = others()
        .filter(|e| e.status == Status::Valid)
        .map(|e| e.received_ms)
        .min();
    if first_valid.is_some_and(|first| {
        first < beacon.received_ms
            && witness.received_ms > first.saturating_add(config.witness_after_first_ms)
    }) {
        return Err(WitnessReason::TooLateAfterFirst);
    }
    if !ctx.exact {
        return Err(WitnessReason::PayloadMismatch);
    }
    if witness
        .report
        .frequency_hz
        .abs_diff(beacon.report.frequency_hz)
        > config.max_frequency_offset_hz
    {
        return Err(WitnessReason::FrequencyMismatch);
    }
    if let Some((b_gateway, b_cell)) = ctx
        .beacon_gateway
        .and_then(|g| cell(g.location).map(|c| (g, c)))
    {
        check_witness_physics(ctx, (w_gateway, w_cell), (b_gateway, b_cell), config)?;
    }
    if beacon.status != Status::Valid {
        return Err(WitnessReason::InvalidBeacon);
    }
    Ok(())
}

/// The physics of a witness and its beacon, both asserted: `region_mismatch`, `too_close`,
/// `too_far`, `rssi_too_high`, `snr_too_high`, `snr_too_low`.
pub fn check_witness_physics(
    ctx: &WitnessContext<'_>,
    (w_gateway, w_cell): (&GatewayRow, CellIndex),
    (b_gateway, b_cell): (&GatewayRow, CellIndex),
    config: &OracleConfig,
) -> Result<(), WitnessReason> {
    let (w, b) = (&ctx.witness.report, &ctx.beacon.report);
    if w_gateway.region != b_gateway.region {
        return Err(WitnessReason::RegionMismatch);
    }
    if let Some(grid) = h3_coverage::grid_distance(w_cell, b_cell, Resolution::Eleven) {
        if grid < i32::try_from(config.min_witness_grid_distance).unwrap_or(i32::MAX) {
            return Err(WitnessReason::TooClose);
        }
    }
    let distance = h3_coverage::distance_m(w_cell, b_cell);
    if distance > config.max_witness_distance_m {
        return Err(WitnessReason::TooFar);
    }
    let bound = max_rssi_ddbm(
        b.tx_power_ddbm,
        b_gateway.gain_ddbi,
        w_gateway.gain_ddbi,
        distance,
        b.frequency_hz,
    ) + f64::from(config.rssi_margin_ddb);
    if f64::from(w.rssi_ddbm) > bound {
        return Err(WitnessReason::RssiTooHigh);
    }
    let bandwidth = if w.bandwidth_hz > 0 {
        w.bandwidth_hz
    } else {
        b.bandwidth_hz
    };
    if f64::from(w.snr_ddb) > max_snr_ddb(w.rssi_ddbm, bandwidth, config.noise_figure_db) {
        return Err(WitnessReason::SnrTooHigh);
    }
    if let Some(floor) = demod_floor_db(b.spreading_factor) {
        if f64::from(w.snr_ddb) < 10.0 * (floor - config.snr_floor_margin_db) {
            return Err(WitnessReason::SnrTooLow);
        }
    }
    Ok(())
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

    /// A US915 beacon of a hotspot with a 3 dBi antenna, derived, at `tx_power_ddbm`; with its
    /// gateway and entropy.
    fn us915_beacon(tx_power_ddbm: i32) -> (BeaconRow, GatewayRow, EntropyRow) {
        let pub_key = [5u8; 32];
        let plan = RegionPlan::for_region(Region::Us915).unwrap();
        let derived = Beacon::derive(&[7; 32], &[1, 2, 3, 4], &pub_key, plan, 30).unwrap();
        assert_eq!(derived.tx_power_ddbm, 330, "36 dBm EIRP less 3 dBi");
        let report = poc::proto::BeaconReport {
            pub_key: pub_key.to_vec(),
            local_entropy: vec![1, 2, 3, 4],
            remote_entropy: vec![7; 32],
            data: derived.payload,
            frequency_hz: derived.frequency_hz,
            spreading_factor: u32::from(derived.datarate.spreading_factor),
            bandwidth_hz: derived.datarate.bandwidth_hz,
            tx_power_ddbm,
            timestamp_ns: 0,
            signature: Vec::new(),
        };
        let beacon = BeaconRow {
            id: 1,
            report_id: String::new(),
            pub_key,
            received_ms: 1_000,
            report,
            status: Status::Pending,
            reason: None,
        };
        let gateway = GatewayRow {
            pub_key,
            location: h3_coverage::cell_at(30.27, -97.74).ok().map(u64::from),
            gain_ddbi: 30,
            elevation_m: 10,
            region: Region::Us915 as i32,
            asserted_ms: 0,
            raw: Vec::new(),
        };
        let entropy = EntropyRow {
            data: vec![7; 32],
            timestamp_ms: 500,
            raw: Vec::new(),
        };
        (beacon, gateway, entropy)
    }

    #[test]
    fn a_beacon_may_have_less_power_than_the_region_allows_never_more() {
        let config = OracleConfig::open();
        let verdict = |tx_power_ddbm| {
            let (beacon, gateway, entropy) = us915_beacon(tx_power_ddbm);
            check_beacon(
                &BeaconContext {
                    beacon: &beacon,
                    gateway: Some(&gateway),
                    entropy: Some(&entropy),
                    last_valid_ms: None,
                },
                &config,
            )
        };
        // An SX1302 board's 27 dBm, the limit itself, and less.
        assert_eq!(verdict(270), Ok(()));
        assert_eq!(verdict(330), Ok(()));
        assert_eq!(verdict(140), Ok(()));
        // Above the limit, by a tenth of a dB or more.
        assert_eq!(verdict(331), Err(BeaconReason::PowerNotAllowed));
        assert_eq!(verdict(360), Err(BeaconReason::PowerNotAllowed));
    }

    #[test]
    fn the_rssi_bound_follows_the_reported_power() {
        // The same link allows 6 dB less at 27 dBm than at 33 dBm.
        let at_33 = max_rssi_ddbm(330, 30, 30, 1_000.0, 915_000_000);
        let at_27 = max_rssi_ddbm(270, 30, 30, 1_000.0, 915_000_000);
        assert!((at_33 - at_27 - 60.0).abs() < 1e-9);
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
