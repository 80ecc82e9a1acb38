//! Epoch-wide defences: checks that look at a whole epoch of valid reports at once, where a
//! single report looks fine but the pattern does not.
//!
//! Four checks, each naming the hotspots it flags with a [`RewardReason`]:
//!
//! - [`implausible_links`] (`implausible_links`): the witness graph against the asserted
//!   locations. The epoch's valid reports give, for every pair (beaconer, listener) of active
//!   hotspots, whether the listener heard the beaconer; the fraction heard by distance is the
//!   network's own hearing curve `p(d)` (binned by distance, made non-increasing). A hotspot's
//!   links are scored by their surprise (`−ln p` for a link heard, `−ln (1 − p)` for one not
//!   heard) and the total compared to what an honest hotspot at that place would score (mean and
//!   variance of the same sum under `p`). A ring of colluders that invents reports of each
//!   other's beacons is not heard by, and does not hear, the active hotspots around its asserted
//!   locations; a spoofed location is heard by hotspots far from it and not by those near it;
//!   keys fed by a replaying receiver hear beacons far from where they claim to be. All score far
//!   above honest hotspots.
//!   Each score is judged against the epoch's own honest spread ([`EmpiricalNull`]): where
//!   terrain shadows nearby links alike, honest scores spread wider than independent links
//!   would.
//! - [`inflated_signals`] (`inflated_signal`): a listener whose RSSI is, on average over the
//!   epoch, much louder than the path-loss fit of the other witnesses of the same beacons. One
//!   report can be loud by shadowing; a listener loud on every report forges its signal.
//! - [`misplaced_locations`] (`misplaced_location`): where the path gains of a hotspot's links
//!   place it against where it asserted (see [`location`]). A radio asserted kilometres from
//!   where it stands hears and is heard at strengths that fit another place.
//! - [`shared_radios`] (`shared_radio`): two listeners asserted apart whose signals of the same
//!   beaconers are nearly identical. Radios at different places see independent shadowing
//!   (several dB apart); equal readings mean one roof (a farm asserted apart) or one receiver
//!   whose reports are replayed under several keys.
//!
//! A flagged hotspot earns nothing in the epoch: its beacons earn nothing (nor do their
//! witnesses), its witnesses are dropped before the witness selection, and it is left out of the
//! hex density count.

pub mod location;
pub mod record;

pub use location::misplaced_locations;
pub use record::EvidenceRecord;

use crate::reason::RewardReason;
use h3_coverage::CellIndex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A hotspot's key.
pub type Key = [u8; 32];

/// Thresholds of the epoch-wide defences.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefenceConfig {
    /// Whether the defences run when an epoch closes.
    pub enabled: bool,
    /// `implausible_links`: how many spreads of the epoch's z-scores above their median
    /// ([`EmpiricalNull`]) a hotspot's z-score of link surprise must be.
    pub links_max_z: f64,
    /// `implausible_links`: fewest (beaconer, listener) pairs a hotspot must take part in.
    pub links_min_pairs: usize,
    /// `implausible_links`: largest site offset, in logits of the hearing curve, a hotspot's
    /// score is profiled over: a site on a hill is heard further than the network's curve
    /// says, one in a hollow less far, at every distance alike; 0 judges every hotspot on the
    /// network's curve as it is.
    pub links_site_logits: f64,
    /// `inflated_signal`: mean excess over the fit of the other witnesses, dB.
    pub inflated_margin_db: f64,
    /// `inflated_signal`: fewest reports with a fit (beacons with at least 4 valid witnesses).
    pub inflated_min_reports: usize,
    /// `inflated_signal`: how many spreads of the listeners' mean excesses (robustly measured,
    /// [`EmpiricalNull`]) above their median a listener's mean excess must also be: where
    /// terrain lifts or sinks every link of a site, honest listeners' excesses spread wide.
    pub inflated_max_z: f64,
    /// `misplaced_location`: least displacement statistic for a flag: the deviance (−2
    /// log-likelihood) of the best place within `location_tolerance_m` of the assertion less
    /// that of the best place anywhere.
    pub location_max_ratio: f64,
    /// `misplaced_location`: how far from its assertion a hotspot may stand and still count as
    /// where it asserted, metres: the statistic tests "the radio stands within this distance
    /// of its assertion".
    pub location_tolerance_m: f64,
    /// `misplaced_location`: least deviance of a hotspot's links at its assertion for its
    /// best place to be searched at all (a search costs thousands of evaluations of its
    /// links; an honest hotspot's deviance at its assertion is about its number of links plus
    /// a term per silent pair).
    pub location_min_deviance: f64,
    /// `misplaced_location`: least distance between the assertion and the best-fitting place
    /// for a flag, metres: a shift must be large as well as sure.
    pub location_min_offset_m: f64,
    /// `misplaced_location`: least standard deviation of the prior of a hotspot's common gain
    /// offset (antenna gain or transmit power off by a few dB), dB; the epoch's terrain part
    /// widens it where its links show one.
    pub location_offset_sigma_db: f64,
    /// `misplaced_location`: pairs asserted closer than this, metres, do not count as silent when
    /// they have no valid report (the verifier rejects reports between them as `too_close`).
    pub location_silent_min_m: f64,
    /// `misplaced_location`: fewest neighbours (hotspot pairs with a valid report) a hotspot
    /// must have.
    pub location_min_links: usize,
    /// `shared_radio`: largest root-mean-square difference of two listeners' signals of the
    /// same beaconers, dB.
    pub shared_max_rms_db: f64,
    /// `shared_radio`: fewest beaconers both listeners heard.
    pub shared_min_beaconers: usize,
    /// `shared_radio`: fewest beaconers a pair that heard fewer than `shared_min_beaconers` in
    /// common must share to be judged, against `shared_few_max_rms_db`; equal to
    /// `shared_min_beaconers`: no such pair is judged. An archive's rules recorded before this
    /// field existed read as that.
    pub shared_few_min_beaconers: usize,
    /// `shared_radio`: largest root-mean-square difference, dB, of the readings beacon by
    /// beacon of a pair that heard fewer than `shared_min_beaconers` beaconers in common.
    pub shared_few_max_rms_db: f64,
    /// `shared_radio`: least distance between the two assertions for equal signals to
    /// contradict them, metres (closer pairs are HIP-17's business).
    pub shared_min_separation_m: f64,
    /// `suspected`: weight left of a flag per epoch since it ([`crate::suspicion`]).
    pub suspicion_decay: f64,
    /// `suspected`: the suspicion at which a hotspot earns nothing in an epoch.
    pub suspicion_threshold: f64,
    /// `suspected`: how many earlier epochs' flags count.
    pub suspicion_epochs: u32,
    /// Whether one source alone is excused: `misplaced_location` judges a hotspot without the
    /// one neighbour that explains most of its displacement when that neighbour cannot vouch
    /// for its own place, and `inflated_signal` a listener without the beaconer it is loudest
    /// on. An archive's rules recorded before this field existed were decided without it.
    pub single_source_excused: bool,
}

impl Default for DefenceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            links_max_z: 6.0,
            links_min_pairs: 10,
            links_site_logits: 0.5,
            inflated_margin_db: 8.0,
            inflated_min_reports: 6,
            inflated_max_z: 4.0,
            location_max_ratio: 9.0,
            location_tolerance_m: 1_000.0,
            location_min_deviance: 20.0,
            location_min_offset_m: 2_000.0,
            location_offset_sigma_db: 1.5,
            location_silent_min_m: 500.0,
            location_min_links: 5,
            shared_max_rms_db: 1.5,
            shared_min_beaconers: 8,
            shared_few_min_beaconers: 3,
            shared_few_max_rms_db: 0.3,
            shared_min_separation_m: 300.0,
            suspicion_decay: 0.7,
            suspicion_threshold: 0.5,
            suspicion_epochs: 8,
            single_source_excused: true,
        }
    }
}

/// One valid beacon of the epoch with its valid witnesses.
#[derive(Debug, Clone, PartialEq)]
pub struct BeaconEvidence {
    /// The beaconer.
    pub beaconer: Key,
    /// Each valid witness with its path gain in dB: RSSI − transmit power − both antenna gains
    /// (the negative of the path loss it claims).
    pub witnesses: Vec<(Key, f64)>,
}

/// An epoch's valid reports and where their hotspots asserted to be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Asserted cell of every hotspot in `beacons`.
    pub locations: BTreeMap<Key, CellIndex>,
    /// The valid beacons.
    pub beacons: Vec<BeaconEvidence>,
}

/// What the defences found, by hotspot.
pub type Flags = BTreeMap<Key, BTreeSet<RewardReason>>;

/// Runs every defence and collects the reasons each flagged hotspot was flagged for.
///
/// `inflated_signal` runs on the evidence without the hotspots `implausible_links` and
/// `shared_radio` flagged (a farm's keys beacon from one roof while asserted apart, so the
/// listeners near the roof would sound loud on their beacons), and `misplaced_location` last,
/// on the evidence without every hotspot the others flagged: invented or replayed links would
/// bend the path-loss law it locates hotspots with.
pub fn analyse(evidence: &Evidence, config: &DefenceConfig) -> Flags {
    fn note(flags: &mut Flags, reason: RewardReason, keys: BTreeMap<Key, f64>) {
        tracing::debug!(reason = reason.code(), flagged = keys.len(), "defence");
        for key in keys.into_keys() {
            flags.entry(key).or_default().insert(reason);
        }
    }
    let mut flags = Flags::new();
    let timer = std::time::Instant::now();
    note(
        &mut flags,
        RewardReason::ImplausibleLinks,
        implausible_links(evidence, config),
    );
    let links_s = timer.elapsed().as_secs_f64();
    note(
        &mut flags,
        RewardReason::SharedRadio,
        shared_radios(evidence, config),
    );
    let shared_s = timer.elapsed().as_secs_f64() - links_s;
    // A key whose links are invented or whose radio stands elsewhere beacons from another
    // place than it asserts: its beacons make the listeners near its radio sound loud.
    let without_fakes = evidence.without(&flags.keys().copied().collect());
    let inflated = inflated_signals(&without_fakes, config);
    let inflated_s = timer.elapsed().as_secs_f64() - links_s - shared_s;
    // Removing the newly flagged from the evidence already cleared is removing every flagged
    // hotspot from the whole: `without` filters each report on its own.
    let newly_flagged: BTreeSet<Key> = inflated
        .keys()
        .filter(|key| !flags.contains_key(*key))
        .copied()
        .collect();
    note(&mut flags, RewardReason::InflatedSignal, inflated);
    let cleared = if newly_flagged.is_empty() {
        without_fakes
    } else {
        without_fakes.without(&newly_flagged)
    };
    let located_from_s = timer.elapsed().as_secs_f64();
    note(
        &mut flags,
        RewardReason::MisplacedLocation,
        misplaced_locations(&cleared, config),
    );
    tracing::info!(
        implausible_links_s = links_s,
        inflated_signal_s = inflated_s,
        shared_radio_s = shared_s,
        misplaced_location_s = timer.elapsed().as_secs_f64() - located_from_s,
        flagged = flags.len(),
        "epoch-wide defences"
    );
    flags
}

impl Evidence {
    /// The same evidence without the beacons and witness reports of `excluded` hotspots.
    pub fn without(&self, excluded: &BTreeSet<Key>) -> Evidence {
        Evidence {
            locations: self
                .locations
                .iter()
                .filter(|(key, _)| !excluded.contains(*key))
                .map(|(key, cell)| (*key, *cell))
                .collect(),
            beacons: self
                .beacons
                .iter()
                .filter(|beacon| !excluded.contains(&beacon.beaconer))
                .map(|beacon| BeaconEvidence {
                    beaconer: beacon.beaconer,
                    witnesses: beacon
                        .witnesses
                        .iter()
                        .filter(|(key, _)| !excluded.contains(key))
                        .copied()
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Upper edges of the distance bins of the hearing curve, metres (the last bin is open).
const DISTANCE_BINS_M: [f64; 14] = [
    300.0, 600.0, 1_000.0, 1_500.0, 2_000.0, 2_500.0, 3_000.0, 4_000.0, 5_000.0, 6_500.0, 8_000.0,
    10_000.0, 15_000.0, 25_000.0,
];

fn bin_of(distance_m: f64) -> usize {
    DISTANCE_BINS_M
        .iter()
        .position(|&edge| distance_m < edge)
        .unwrap_or(DISTANCE_BINS_M.len())
}

/// Non-increasing least-squares fit of `values` weighted by `weights` (pool adjacent
/// violators).
fn non_increasing(values: &[f64], weights: &[f64]) -> Vec<f64> {
    // Blocks of (mean, weight, length).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for (&v, &w) in values.iter().zip(weights) {
        blocks.push((v, w, 1));
        while blocks.len() >= 2 {
            let last = blocks[blocks.len() - 1];
            let prev = blocks[blocks.len() - 2];
            if prev.0 >= last.0 {
                break;
            }
            let weight = prev.1 + last.1;
            let mean = if weight > 0.0 {
                (prev.0 * prev.1 + last.0 * last.1) / weight
            } else {
                (prev.0 + last.0) / 2.0
            };
            blocks.pop();
            blocks.pop();
            blocks.push((mean, weight, prev.2 + last.2));
        }
    }
    blocks
        .into_iter()
        .flat_map(|(mean, _, len)| std::iter::repeat_n(mean, len))
        .collect()
}

/// The hearing curve of pairs counted by distance bin: the fraction heard by bin
/// (Laplace-smoothed, so empty bins start at one half), non-increasing with distance and kept
/// within [0.02, 0.98].
fn hearing_curve(bins: &BinCounts) -> Vec<f64> {
    let heard: Vec<f64> = bins.iter().map(|counts| counts[1] as f64).collect();
    let total: Vec<f64> = bins
        .iter()
        .map(|counts| (counts[0] + counts[1]) as f64)
        .collect();
    let raw: Vec<f64> = heard
        .iter()
        .zip(&total)
        .map(|(h, t)| (h + 0.5) / (t + 1.0))
        .collect();
    non_increasing(&raw, &total)
        .into_iter()
        .map(|p| p.clamp(0.02, 0.98))
        .collect()
}

/// How far the great-circle distance of two places may be from their chord (between the
/// points of [`location::point_at`]), relative: the arc exceeds the chord by less than 1e-6 at
/// 25 km, and the radius of [`h3_coverage::distance_between_m`] may differ from the points' by
/// up to this (0.1 %: any mean Earth radius from 6 365 to 6 378 km).
const CHORD_TOLERANCE: f64 = 1e-3;

/// The distance bin of a pair from its chord alone, when every distance within
/// [`CHORD_TOLERANCE`] of the chord falls in the same bin; `None` near a bin's edge, where
/// the great-circle distance decides.
fn bin_of_chord(chord_m: f64) -> Option<usize> {
    let low = bin_of(chord_m * (1.0 - CHORD_TOLERANCE));
    (low == bin_of(chord_m * (1.0 + CHORD_TOLERANCE) + 1e-6)).then_some(low)
}

/// Pairs asserted at least this far apart fall in the last (open) distance bin, metres.
const FAR_M: f64 = DISTANCE_BINS_M[DISTANCE_BINS_M.len() - 1];

/// Number of distance bins of the hearing curve.
const BINS: usize = DISTANCE_BINS_M.len() + 1;

/// Counts of (beaconer, listener) pairs by distance bin, unheard (`[0]`) and heard (`[1]`).
type BinCounts = [[u64; 2]; BINS];

/// Adds `part` to `total`.
fn add_bins(total: &mut BinCounts, part: &BinCounts) {
    for (total, part) in total.iter_mut().zip(part) {
        total[0] += part[0];
        total[1] += part[1];
    }
}

/// Every (beaconer, listener) pair of active hotspots, counted rather than listed: the pairs
/// asserted closer than [`FAR_M`] and the heard ones are counted by distance bin per hotspot
/// (found through [`FAR_M`] buckets in space); every other pair is an unheard one in the last
/// bin, whose number follows from how many beaconers and listeners are active.
struct LinkCounts {
    /// Hotspots with a location that beaconed or listened, by place.
    keys: Vec<Key>,
    /// Their indices in key order.
    by_key: Vec<usize>,
    /// Great-circle coordinates `(lat, lon)` of each hotspot's asserted cell centre.
    centres: Vec<(f64, f64)>,
    /// The same as points in space, for the buckets.
    points: Vec<location::Point>,
    beaconer: Vec<bool>,
    listener: Vec<bool>,
    /// Listeners each beaconer was heard by, and beaconers each listener heard.
    heard_by: Vec<Vec<usize>>,
    heard: Vec<Vec<usize>>,
    buckets: location::Buckets,
    /// Still taking part (not flagged yet).
    active: Vec<bool>,
    /// Per hotspot, its counted pairs (close or heard) by bin.
    counted: Vec<BinCounts>,
    /// Every counted pair once, by bin.
    network: BinCounts,
    /// Active beaconers, listeners, and hotspots that are both.
    beaconers: u64,
    listeners: u64,
    both: u64,
}

impl LinkCounts {
    fn new(evidence: &Evidence) -> Self {
        let mut roles: HashMap<&Key, (bool, bool)> = HashMap::new();
        for beacon in &evidence.beacons {
            roles.entry(&beacon.beaconer).or_default().0 = true;
            for (witness, _) in &beacon.witnesses {
                roles.entry(witness).or_default().1 = true;
            }
        }
        let mut roles: Vec<(&Key, (bool, bool))> = roles.into_iter().collect();
        roles.sort_unstable_by_key(|(key, _)| *key);
        // Hotspots are numbered by place (their bucket), so that neighbours in space are
        // neighbours in memory; `by_key` keeps the key order.
        // (point, key, centre, beacons, listens)
        type Located<'a> = (location::Point, &'a Key, (f64, f64), bool, bool);
        let mut located: Vec<Located> = roles
            .into_iter()
            .filter_map(|(key, (b, l))| {
                let centre = h3_coverage::centre(*evidence.locations.get(key)?);
                Some((location::point_at(centre), key, centre, b, l))
            })
            .collect();
        let cube = |point: &location::Point| point.map(|c| (c / FAR_M).floor() as i64);
        located.sort_by(|a, b| (cube(&a.0), a.1).cmp(&(cube(&b.0), b.1)));
        let mut keys = Vec::new();
        let mut centres = Vec::new();
        let (mut beaconer, mut listener) = (Vec::new(), Vec::new());
        for (_, key, centre, b, l) in located {
            keys.push(*key);
            centres.push(centre);
            beaconer.push(b);
            listener.push(l);
        }
        let mut by_key: Vec<usize> = (0..keys.len()).collect();
        by_key.sort_by_key(|&i| keys[i]);
        let index: HashMap<&Key, usize> = keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let mut heard_pairs = Vec::new();
        for beacon in &evidence.beacons {
            let Some(&b) = index.get(&beacon.beaconer) else {
                continue;
            };
            for (witness, _) in &beacon.witnesses {
                if let Some(&l) = index.get(witness) {
                    if b != l {
                        heard_pairs.push((b, l));
                    }
                }
            }
        }
        heard_pairs.sort_unstable();
        heard_pairs.dedup();
        let mut heard_by = vec![Vec::new(); keys.len()];
        let mut heard = vec![Vec::new(); keys.len()];
        for (b, l) in heard_pairs {
            heard_by[b].push(l);
            heard[l].push(b);
        }
        let points: Vec<location::Point> = centres.iter().map(|&c| location::point_at(c)).collect();
        let buckets = location::Buckets::new(&points, FAR_M, |_| true);
        let count = |flags: &[bool]| flags.iter().filter(|&&f| f).count() as u64;
        let mut table = Self {
            by_key,
            beaconers: count(&beaconer),
            listeners: count(&listener),
            both: beaconer
                .iter()
                .zip(&listener)
                .filter(|(b, l)| **b && **l)
                .count() as u64,
            active: vec![true; keys.len()],
            counted: Vec::new(),
            network: [[0; 2]; BINS],
            keys,
            centres,
            points,
            beaconer,
            listener,
            heard_by,
            heard,
            buckets,
        };
        // Every pair once (from its lower-numbered hotspot), on every core, each core
        // counting into tables of its own, which are then added up.
        let n = table.keys.len();
        let per_core =
            crate::parallel::map_ranges(n, n.div_ceil(crate::parallel::threads()), |range| {
                let mut counted = vec![[[0; 2]; BINS]; n];
                let mut network = [[0; 2]; BINS];
                let mut near = Vec::new();
                for a in range {
                    table.count_pairs_from(a, &mut near, |b, bin, was_heard| {
                        let heard = usize::from(was_heard);
                        counted[a][bin][heard] += 1;
                        counted[b][bin][heard] += 1;
                        network[bin][heard] += 1;
                    });
                }
                (counted, network)
            });
        for (counted, network) in per_core {
            if table.counted.is_empty() {
                table.counted = counted;
            } else {
                for (total, part) in table.counted.iter_mut().zip(&counted) {
                    add_bins(total, part);
                }
            }
            add_bins(&mut table.network, &network);
        }
        table.counted.resize(n, [[0; 2]; BINS]);
        table
    }

    /// Calls `count(b, bin, heard)` for each pair of `a` with a hotspot `b` numbered higher:
    /// those closer than [`FAR_M`] and the heard ones further away. `near` is scratch space.
    fn count_pairs_from(
        &self,
        a: usize,
        near: &mut Vec<usize>,
        mut count: impl FnMut(usize, usize, bool),
    ) {
        near.clear();
        self.buckets
            .within_with_points(&self.points[a], FAR_M, |b, _| {
                if b > a {
                    near.push(b);
                }
            });
        for &b in near.iter() {
            let Some(bin) = self.near_bin(a, b) else {
                continue;
            };
            if self.beaconer[a] && self.listener[b] {
                count(b, bin, self.heard_by[a].contains(&b));
            }
            if self.beaconer[b] && self.listener[a] {
                count(b, bin, self.heard_by[b].contains(&a));
            }
        }
        for &b in &self.heard_by[a] {
            if self.near_bin(a, b).is_none() {
                count(b, BINS - 1, true);
            }
        }
    }

    /// The distance bin of two hotspots asserted closer than [`FAR_M`], `None` for others.
    fn near_bin(&self, a: usize, b: usize) -> Option<usize> {
        // A chord at least FAR_M long is an arc at least as long: the last bin.
        let squared = location::squared_between(&self.points[a], &self.points[b]);
        if squared >= FAR_M * FAR_M {
            return None;
        }
        let chord = squared.sqrt();
        let bin = bin_of_chord(chord).unwrap_or_else(|| {
            bin_of(h3_coverage::distance_between_m(
                self.centres[a],
                self.centres[b],
            ))
        });
        (bin < BINS - 1).then_some(bin)
    }

    /// Calls `f(self, other, bin, heard)` for each counted pair (closer than [`FAR_M`], or
    /// heard) of `hotspot` with an active hotspot, once per pair (a hotspot that beacons and
    /// listens can share two pairs with another).
    fn for_counted_pairs(
        &mut self,
        hotspot: usize,
        mut f: impl FnMut(&mut Self, usize, usize, bool),
    ) {
        let mut near = Vec::new();
        self.buckets
            .around(&self.points[hotspot], |other| near.push(other));
        for other in near {
            if other == hotspot || !self.active[other] {
                continue;
            }
            let Some(bin) = self.near_bin(hotspot, other) else {
                continue;
            };
            if self.beaconer[hotspot] && self.listener[other] {
                let was_heard = self.heard_by[hotspot].contains(&other);
                f(self, other, bin, was_heard);
            }
            if self.beaconer[other] && self.listener[hotspot] {
                let was_heard = self.heard[hotspot].contains(&other);
                f(self, other, bin, was_heard);
            }
        }
        // Heard pairs at least FAR_M apart.
        let partners: Vec<usize> = self.heard_by[hotspot]
            .iter()
            .chain(&self.heard[hotspot])
            .copied()
            .collect();
        for other in partners {
            if self.active[other] && self.near_bin(hotspot, other).is_none() {
                f(self, other, BINS - 1, true);
            }
        }
    }

    /// Pairs `hotspot` takes part in.
    fn pairs_of(&self, hotspot: usize) -> u64 {
        let (b, l) = (self.beaconer[hotspot], self.listener[hotspot]);
        let mut pairs = 0;
        if b {
            pairs += self.listeners - u64::from(l);
        }
        if l {
            pairs += self.beaconers - u64::from(b);
        }
        pairs
    }

    /// A hotspot's pairs by bin: the counted ones and, in the last bin, the far unheard rest.
    fn bins_of(&self, hotspot: usize) -> BinCounts {
        let mut bins = self.counted[hotspot];
        let counted: u64 = bins.iter().flatten().sum();
        bins[BINS - 1][0] += self.pairs_of(hotspot).saturating_sub(counted);
        bins
    }

    /// The network's pairs by bin.
    fn network_bins(&self) -> BinCounts {
        let mut bins = self.network;
        let counted: u64 = bins.iter().flatten().sum();
        let pairs = self.beaconers * self.listeners - self.both;
        bins[BINS - 1][0] += pairs.saturating_sub(counted);
        bins
    }

    /// Takes a hotspot's pairs out of the counts.
    fn remove(&mut self, hotspot: usize) {
        self.for_counted_pairs(hotspot, |table, other, bin, was_heard| {
            table.counted[other][bin][usize::from(was_heard)] -= 1;
            table.network[bin][usize::from(was_heard)] -= 1;
        });
        self.active[hotspot] = false;
        self.counted[hotspot] = [[0; 2]; BINS];
        let (b, l) = (self.beaconer[hotspot], self.listener[hotspot]);
        self.beaconers -= u64::from(b);
        self.listeners -= u64::from(l);
        self.both -= u64::from(b && l);
    }
}

/// `implausible_links`: the hotspots whose links (who hears them, whom they hear) are too
/// improbable for their asserted locations, with their z-scores.
///
/// Every (beaconer, listener) pair of active hotspots counts: the fraction heard by distance is
/// the network's hearing curve, and each pair adds its surprise to both of its hotspots. The
/// pairs are counted by distance bin, not listed (at 100 000 hotspots there are 10¹⁰ of them).
///
/// A missing link is surprising at both of its ends, so the honest neighbours of a cheat share
/// some of its surprise. The worst hotspot above the threshold is flagged first, its pairs are
/// removed, and the scores (and the hearing curve) are computed again without it, until nobody
/// is above the threshold.
pub fn implausible_links(evidence: &Evidence, config: &DefenceConfig) -> BTreeMap<Key, f64> {
    let mut table = LinkCounts::new(evidence);
    let mut flagged = BTreeMap::new();
    let mut null: Option<EmpiricalNull> = None;
    loop {
        let scores = link_scores(&table, config);
        let null = *null.get_or_insert_with(|| {
            EmpiricalNull::of(scores.iter().map(|&(_, z)| z).collect(), 1.0)
        });
        let worst = scores
            .into_iter()
            .map(|(hotspot, z)| (hotspot, null.standardise(z)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match worst {
            Some((hotspot, z)) if z > config.links_max_z => {
                flagged.insert(table.keys[hotspot], z);
                table.remove(hotspot);
            }
            _ => return flagged,
        }
    }
}

/// Each active hotspot's z-score of link surprise (with at least `links_min_pairs` pairs),
/// under the hearing curve of the active pairs, in key order.
fn link_scores(table: &LinkCounts, config: &DefenceConfig) -> Vec<(usize, f64)> {
    let curve = hearing_curve(&table.network_bins());
    let offsets = site_offsets(config.links_site_logits);
    let terms: Vec<Vec<SurpriseTerms>> = offsets
        .iter()
        .map(|&offset| {
            curve
                .iter()
                .map(|&p| SurpriseTerms::at(shifted(p, offset)))
                .collect()
        })
        .collect();
    table
        .by_key
        .iter()
        .copied()
        .filter(|&hotspot| table.active[hotspot])
        .filter_map(|hotspot| {
            let pairs = table.pairs_of(hotspot);
            if pairs == 0 || pairs < config.links_min_pairs as u64 {
                return None;
            }
            let bins = table.bins_of(hotspot);
            let z = terms
                .iter()
                .map(|terms| surprise_z(&bins, terms))
                .fold(f64::INFINITY, f64::min);
            Some((hotspot, z))
        })
        .collect()
}

/// Site offsets a hotspot's link score is profiled over: `max_logits` either way in steps of
/// at most a sixth of a logit (a coarser step changes a score by little against the
/// threshold); only 0 when `max_logits` is 0.
fn site_offsets(max_logits: f64) -> Vec<f64> {
    if max_logits.is_nan() || max_logits <= 0.0 || max_logits.is_infinite() {
        return vec![0.0];
    }
    let steps = (max_logits * 6.0).ceil().min(60.0) as i32;
    (-steps..=steps)
        .map(|i| max_logits * f64::from(i) / f64::from(steps))
        .collect()
}

/// `p` moved by `offset` on the logit scale, kept in the hearing curve's [0.02, 0.98].
fn shifted(p: f64, offset: f64) -> f64 {
    if offset == 0.0 {
        return p;
    }
    let logit = (p / (1.0 - p)).ln() + offset;
    (1.0 / (1.0 + (-logit).exp())).clamp(0.02, 0.98)
}

/// Surprise of one pair heard with probability `p`: if unheard and if heard, its mean and its
/// variance.
#[derive(Debug, Clone, Copy)]
struct SurpriseTerms {
    surprise: [f64; 2],
    mean: f64,
    variance: f64,
}

impl SurpriseTerms {
    fn at(p: f64) -> Self {
        Self {
            surprise: [-(1.0 - p).ln(), -p.ln()],
            mean: -p * p.ln() - (1.0 - p) * (1.0 - p).ln(),
            variance: p * (1.0 - p) * (p / (1.0 - p)).ln().powi(2),
        }
    }
}

/// The z-score of a hotspot's link surprise, its pairs counted by bin, under per-bin terms.
fn surprise_z(bins: &BinCounts, terms: &[SurpriseTerms]) -> f64 {
    let (mut surprise, mut mean, mut variance) = (0.0, 0.0, 0.0);
    for (counts, term) in bins.iter().zip(terms) {
        let total = (counts[0] + counts[1]) as f64;
        surprise += counts[0] as f64 * term.surprise[0] + counts[1] as f64 * term.surprise[1];
        mean += total * term.mean;
        variance += total * term.variance;
    }
    // Both directions of a pair share one path, so count the variance twice.
    (surprise - mean) / (2.0 * variance).sqrt().max(1e-9)
}

/// Fewest scores an [`EmpiricalNull`] is estimated from; with fewer, the theoretical null
/// stands.
pub(crate) const MIN_NULL_SCORES: usize = 12;

/// What a score looks like on an honest hotspot of this epoch: the median and spread of the
/// scores of all hotspots (most are honest), measured robustly (median absolute deviation), so
/// that a minority of cheats does not move it. Where shadowing is shared by nearby links
/// (terrain), a hotspot's links are not independent draws and honest scores spread wider than
/// the independent model says; the spread is never taken narrower than the model's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmpiricalNull {
    /// The median score.
    pub centre: f64,
    /// The spread (1.4826 × the median absolute deviation, at least the model's).
    pub scale: f64,
}

impl EmpiricalNull {
    /// The null of `scores`, with `model_scale` the spread the independent model gives.
    pub fn of(mut scores: Vec<f64>, model_scale: f64) -> Self {
        let theoretical = Self {
            centre: 0.0,
            scale: model_scale,
        };
        if scores.len() < MIN_NULL_SCORES {
            return theoretical;
        }
        let centre = median(&mut scores);
        let mut deviations: Vec<f64> = scores.iter().map(|s| (s - centre).abs()).collect();
        let spread = 1.4826 * median(&mut deviations);
        Self {
            centre,
            scale: spread.max(model_scale),
        }
    }

    /// `score` in spreads above the centre.
    pub fn standardise(&self, score: f64) -> f64 {
        (score - self.centre) / self.scale.max(1e-9)
    }
}

/// The median of `values` (reordered); 0 for none.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    let (_, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if values.len() % 2 == 1 {
        return upper;
    }
    let lower = values[..mid]
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .unwrap_or(upper);
    (lower + upper) / 2.0
}

/// Leave-one-out residuals of a log-distance fit: for each point `(distance_m, gain_db)`, how
/// much louder it is than `A − 10·n·log10(d)` fitted to the other points (`n` clamped to
/// [2, 6], 2 when their distances do not differ). `None` for fewer than 4 points.
pub fn leave_one_out_residuals(points: &[(f64, f64)]) -> Option<Vec<f64>> {
    if points.len() < 4 {
        return None;
    }
    let x = |d: f64| 10.0 * d.max(1.0).log10();
    // Each point's `x` once, not once for every fit it is in.
    let xs: Vec<f64> = points.iter().map(|&(d, _)| x(d)).collect();
    let residuals = points
        .iter()
        .zip(&xs)
        .enumerate()
        .map(|(i, (&(_, g_i), &x_i))| {
            let others = points
                .iter()
                .zip(&xs)
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (&(_, g), &x))| (x, g));
            let count = (points.len() - 1) as f64;
            let (sum_x, sum_y) = others
                .clone()
                .fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
            let (mean_x, mean_y) = (sum_x / count, sum_y / count);
            let (var, cov) = others.fold((0.0, 0.0), |s, p| {
                (
                    s.0 + (p.0 - mean_x).powi(2),
                    s.1 + (p.0 - mean_x) * (p.1 - mean_y),
                )
            });
            let exponent = if var > 1e-9 {
                (-cov / var).clamp(2.0, 6.0)
            } else {
                2.0
            };
            g_i - (mean_y + exponent * mean_x - exponent * x_i)
        })
        .collect();
    Some(residuals)
}

/// The located hotspots of an epoch by number (in key order), with their cell centres.
struct Located<'a> {
    keys: Vec<&'a Key>,
    index: HashMap<&'a Key, usize>,
    centres: Vec<(f64, f64)>,
}

impl<'a> Located<'a> {
    fn new(evidence: &'a Evidence) -> Self {
        let keys: Vec<&Key> = evidence.locations.keys().collect();
        let index = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let centres = evidence
            .locations
            .values()
            .map(|cell| h3_coverage::centre(*cell))
            .collect();
        Self {
            keys,
            index,
            centres,
        }
    }
}

/// `inflated_signal`: the listeners louder than the other witnesses' fit by more than the
/// margin on average, with their mean excess in dB, also without the beaconer whose beacons
/// they were loudest on ([`loud_without_one_beaconer`]).
pub fn inflated_signals(evidence: &Evidence, config: &DefenceConfig) -> BTreeMap<Key, f64> {
    let located = Located::new(evidence);
    // Each beacon's located witnesses with their residuals, on every core.
    let residuals = crate::parallel::map(&evidence.beacons, |beacon| {
        let &b = located.index.get(&beacon.beaconer)?;
        let mut listeners = Vec::new();
        let mut points = Vec::new();
        for (witness, gain) in &beacon.witnesses {
            if let Some(&w) = located.index.get(witness) {
                listeners.push(w);
                let distance =
                    h3_coverage::distance_between_m(located.centres[b], located.centres[w]);
                points.push((distance, *gain));
            }
        }
        Some((b, listeners, leave_one_out_residuals(&points)?))
    });
    // Each listener's residuals with their beaconers, in the beacons' order.
    let mut per_listener: Vec<Vec<(usize, f64)>> = vec![Vec::new(); located.keys.len()];
    for (beaconer, listeners, residuals) in residuals.into_iter().flatten() {
        for (listener, residual) in listeners.into_iter().zip(residuals) {
            per_listener[listener].push((beaconer, residual));
        }
    }
    let min_reports = config.inflated_min_reports.max(1);
    let means: Vec<(usize, f64)> = per_listener
        .iter()
        .enumerate()
        .filter(|(_, reports)| reports.len() >= min_reports)
        .map(|(listener, reports)| (listener, mean_residual(reports.iter()).0))
        .collect();
    let null = EmpiricalNull::of(means.iter().map(|&(_, mean)| mean).collect(), 0.0);
    let loud = |mean: f64| {
        mean > config.inflated_margin_db && null.standardise(mean) > config.inflated_max_z
    };
    means
        .into_iter()
        .filter(|&(listener, mean)| {
            loud(mean)
                && (!config.single_source_excused
                    || loud_without_one_beaconer(&per_listener[listener], min_reports, loud))
        })
        .map(|(listener, mean)| (*located.keys[listener], mean))
        .collect()
}

/// Whether a listener's reports `(beaconer, residual)` are still `loud` on average without the
/// beaconer whose residuals sum highest (and still number `min_reports`). A beaconer standing
/// away from its assertion makes the honest listeners near its radio loud on its beacons
/// alone; a listener that inflates its reports is loud on everyone's.
fn loud_without_one_beaconer(
    reports: &[(usize, f64)],
    min_reports: usize,
    loud: impl Fn(f64) -> bool,
) -> bool {
    let mut by_beaconer: BTreeMap<usize, f64> = BTreeMap::new();
    for &(beaconer, residual) in reports {
        *by_beaconer.entry(beaconer).or_default() += residual;
    }
    let Some(loudest) = by_beaconer
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(beaconer, _)| *beaconer)
    else {
        return false;
    };
    let rest = reports.iter().filter(|(beaconer, _)| *beaconer != loudest);
    let (mean, count) = mean_residual(rest);
    count >= min_reports && loud(mean)
}

/// The mean of reports' residuals `(beaconer, residual)`, added up in their order, and how many
/// there are.
fn mean_residual<'a>(reports: impl Iterator<Item = &'a (usize, f64)>) -> (f64, usize) {
    let (sum, count) = reports.fold((0.0, 0), |(sum, count), (_, residual)| {
        (sum + residual, count + 1)
    });
    (sum / count as f64, count)
}

/// Hotspots a piece of `shared_radio`'s parallel pair search covers.
const SHARED_PIECE: usize = 512;

/// `shared_radio`: the listeners that share their signals with another listener asserted at
/// least `shared_min_separation_m` away, with the root-mean-square difference in dB of the
/// closest such match.
pub fn shared_radios(evidence: &Evidence, config: &DefenceConfig) -> BTreeMap<Key, f64> {
    // Every hotspot of the reports, numbered in key order.
    let mut keys: Vec<&Key> = evidence
        .beacons
        .iter()
        .flat_map(|beacon| {
            std::iter::once(&beacon.beaconer).chain(beacon.witnesses.iter().map(|(key, _)| key))
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let index: HashMap<&Key, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    // Mean path gain of each (listener, beaconer), its reports added up in their order (a
    // stable sort keeps it).
    let mut reports: Vec<(usize, usize, f64)> = Vec::new();
    let mut beacons_of: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
    for (at, beacon) in evidence.beacons.iter().enumerate() {
        let beaconer = index[&beacon.beaconer];
        beacons_of[beaconer].push(at);
        for (witness, gain) in &beacon.witnesses {
            reports.push((index[witness], beaconer, *gain));
        }
    }
    reports.sort_by_key(|&(listener, beaconer, _)| (listener, beaconer));
    // Each listener's beaconers in key order, with the mean gain.
    let mut means: Vec<Vec<(usize, f64)>> = vec![Vec::new(); keys.len()];
    for same in reports.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
        let sum = same.iter().fold(0.0, |sum, report| sum + report.2);
        let (listener, beaconer, _) = same[0];
        means[listener].push((beaconer, sum / same.len() as f64));
    }
    drop(reports);
    // Only listeners that heard enough beaconers in common can match: count the beaconers each
    // pair shares through the listeners of each beaconer, instead of comparing every pair.
    let mut listeners_of: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
    for (listener, by_beaconer) in means.iter().enumerate() {
        for &(beaconer, _) in by_beaconer {
            listeners_of[beaconer].push(listener);
        }
    }
    // Each listener `i` and the later listeners `j` it shares enough beaconers with, on every
    // core: `(i, j, rms)` of the pairs that match.
    let matches = crate::parallel::map_ranges(keys.len(), SHARED_PIECE, |range| {
        let mut shared = vec![0usize; keys.len()];
        let mut partners = Vec::new();
        let mut found = Vec::new();
        for i in range {
            partners.clear();
            for &(beaconer, _) in &means[i] {
                for &j in &listeners_of[beaconer] {
                    if j > i {
                        if shared[j] == 0 {
                            partners.push(j);
                        }
                        shared[j] += 1;
                    }
                }
            }
            for &j in &partners {
                let count = std::mem::take(&mut shared[j]);
                if count
                    < config
                        .shared_few_min_beaconers
                        .min(config.shared_min_beaconers)
                {
                    continue;
                }
                if let Some(rms) = shared_rms(
                    evidence,
                    config,
                    (keys[i], &means[i]),
                    (keys[j], &means[j]),
                    (&keys, &beacons_of),
                ) {
                    found.push((i, j, rms));
                }
            }
        }
        found
    });
    let mut flagged: BTreeMap<Key, f64> = BTreeMap::new();
    for (i, j, rms) in matches.into_iter().flatten() {
        for key in [keys[i], keys[j]] {
            let best = flagged.entry(*key).or_insert(rms);
            *best = best.min(rms);
        }
    }
    flagged
}

/// The root-mean-square difference of two listeners' mean gains of the beaconers both heard
/// (other than themselves), when they are asserted apart and it is small enough to flag them:
/// at most `shared_max_rms_db` over `shared_min_beaconers` beaconers or more. Over fewer, down
/// to `shared_few_min_beaconers`, the readings themselves are compared, beacon by beacon
/// ([`per_beacon_rms`]), against `shared_few_max_rms_db`.
fn shared_rms(
    evidence: &Evidence,
    config: &DefenceConfig,
    (a, a_means): (&Key, &[(usize, f64)]),
    (b, b_means): (&Key, &[(usize, f64)]),
    (keys, beacons_of): (&[&Key], &[Vec<usize>]),
) -> Option<f64> {
    // Both lists are in the beaconers' key order: a merge finds the common ones.
    let mut differences = Vec::new();
    let mut common = Vec::new();
    let mut rest = b_means.iter().peekable();
    for &(beaconer, ga) in a_means {
        if keys[beaconer] == a || keys[beaconer] == b {
            continue;
        }
        while rest.next_if(|(other, _)| *other < beaconer).is_some() {}
        if let Some(&&(other, gb)) = rest.peek() {
            if other == beaconer {
                differences.push(ga - gb);
                common.push(beaconer);
            }
        }
    }
    let few = differences.len() < config.shared_min_beaconers;
    if few && differences.len() < config.shared_few_min_beaconers {
        return None;
    }
    let mut rms = root_mean_square(&differences);
    if rms > config.shared_max_rms_db {
        return None;
    }
    if few {
        // One receiver's copies agree on every beacon. The looser test of the means above
        // leaves out most pairs before their readings are compared.
        let heard = (&common[..], beacons_of);
        rms = per_beacon_rms(evidence, (a, b), heard, config.shared_few_min_beaconers)?;
        if rms > config.shared_few_max_rms_db {
            return None;
        }
    }
    let (Some(&a_cell), Some(&b_cell)) = (evidence.locations.get(a), evidence.locations.get(b))
    else {
        return None;
    };
    (h3_coverage::distance_m(a_cell, b_cell) >= config.shared_min_separation_m).then_some(rms)
}

/// The root-mean-square difference of listeners `a` and `b`'s gains of each beacon both heard
/// of the `common` beaconers (`beacons_of` each, indices into the evidence's); `None` unless
/// those beacons are of at least `min_beaconers` beaconers. One receiver's readings reported
/// under two keys differ by nothing; two receivers' differ by their own measurement noise on
/// every beacon, even where their shadowing is alike.
fn per_beacon_rms(
    evidence: &Evidence,
    (a, b): (&Key, &Key),
    (common, beacons_of): (&[usize], &[Vec<usize>]),
    min_beaconers: usize,
) -> Option<f64> {
    let mut differences = Vec::new();
    let mut beaconers = 0;
    for &beaconer in common {
        let before = differences.len();
        for beacon in beacons_of[beaconer]
            .iter()
            .filter_map(|&at| evidence.beacons.get(at))
        {
            let gain_of = |key: &Key| {
                let heard = beacon.witnesses.iter().find(|(k, _)| k == key);
                heard.map(|&(_, gain)| gain)
            };
            if let (Some(ga), Some(gb)) = (gain_of(a), gain_of(b)) {
                differences.push(ga - gb);
            }
        }
        beaconers += usize::from(differences.len() > before);
    }
    (beaconers >= min_beaconers.max(1)).then(|| root_mean_square(&differences))
}

fn root_mean_square(values: &[f64]) -> f64 {
    (values.iter().map(|v| v * v).sum::<f64>() / values.len().max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_loud_beaconer_does_not_make_an_inflater() {
        let loud = |mean: f64| mean > 8.0;
        // Loud on one beaconer's four beacons alone (a beaconer asserted away from its radio,
        // which stands next to this listener): 40 dB over 8 reports, but 0 on the others.
        let neighbour: Vec<(usize, f64)> = (0..8)
            .map(|k| if k % 2 == 0 { (9, 20.0) } else { (k, 0.0) })
            .collect();
        assert!(loud(neighbour.iter().map(|r| r.1).sum::<f64>() / 8.0));
        assert!(!loud_without_one_beaconer(&neighbour, 4, loud));
        // Loud on everyone's beacons: still loud without the loudest.
        let inflater: Vec<(usize, f64)> = (0..8).map(|k| (k, 12.0 + k as f64)).collect();
        assert!(loud_without_one_beaconer(&inflater, 4, loud));
        // Too few reports left to judge.
        assert!(!loud_without_one_beaconer(&inflater[..4], 4, loud));
        assert!(!loud_without_one_beaconer(&[], 1, loud));
    }

    #[test]
    fn the_monotone_fit_pools_violators() {
        let fitted = non_increasing(&[0.9, 0.5, 0.7, 0.1], &[1.0, 1.0, 1.0, 1.0]);
        assert_eq!(fitted, vec![0.9, 0.6, 0.6, 0.1]);
        assert_eq!(non_increasing(&[], &[]), Vec::<f64>::new());
    }

    #[test]
    fn the_empirical_null_is_robust_and_never_narrower_than_the_model() {
        // Honest scores spread twice as wide as the model says, and three cheats far out.
        let mut scores: Vec<f64> = (0..40).map(|i| (i as f64 - 19.5) / 10.0).collect();
        scores.extend([40.0, 50.0, 60.0]);
        let null = EmpiricalNull::of(scores.clone(), 0.5);
        assert!((null.centre - 0.15).abs() < 1e-9, "{null:?}");
        assert!(null.scale > 1.4 && null.scale < 1.8, "{null:?}");
        assert!(null.standardise(40.0) > 20.0);
        let tight = EmpiricalNull::of(scores, 5.0);
        assert_eq!(tight.scale, 5.0);
        let few = EmpiricalNull::of(vec![1.0, 2.0, 3.0], 1.0);
        assert_eq!((few.centre, few.scale), (0.0, 1.0));
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 4.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn bins_cover_every_distance() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(300.0), 1);
        assert_eq!(bin_of(1e9), DISTANCE_BINS_M.len());
    }

    /// The pair-by-pair `implausible_links` (every pair listed), the reference the counted one
    /// must agree with.
    fn implausible_links_listed(evidence: &Evidence, config: &DefenceConfig) -> BTreeMap<Key, f64> {
        let mut beaconers = BTreeSet::new();
        let mut listeners = BTreeSet::new();
        let mut heard = BTreeSet::new();
        for beacon in &evidence.beacons {
            beaconers.insert(beacon.beaconer);
            for (witness, _) in &beacon.witnesses {
                listeners.insert(*witness);
                heard.insert((beacon.beaconer, *witness));
            }
        }
        let mut pairs = Vec::new();
        for b in &beaconers {
            let Some(&b_cell) = evidence.locations.get(b) else {
                continue;
            };
            for l in &listeners {
                let Some(&l_cell) = evidence.locations.get(l) else {
                    continue;
                };
                if l != b {
                    let distance = h3_coverage::distance_m(b_cell, l_cell);
                    pairs.push((*b, *l, distance, heard.contains(&(*b, *l))));
                }
            }
        }
        let mut flagged = BTreeMap::new();
        let mut null: Option<EmpiricalNull> = None;
        loop {
            let mut bins = [[0u64; 2]; BINS];
            for &(_, _, d, was_heard) in &pairs {
                bins[bin_of(d)][usize::from(was_heard)] += 1;
            }
            let curve = hearing_curve(&bins);
            let offsets = site_offsets(config.links_site_logits);
            // Per key: surprise, mean and variance at each offset, and the pairs.
            let mut sums: BTreeMap<Key, (Vec<[f64; 3]>, usize)> = BTreeMap::new();
            for &(b, l, d, was_heard) in &pairs {
                for key in [b, l] {
                    let entry = sums
                        .entry(key)
                        .or_insert_with(|| (vec![[0.0; 3]; offsets.len()], 0));
                    for (sum, &offset) in entry.0.iter_mut().zip(&offsets) {
                        let p = shifted(curve[bin_of(d)], offset);
                        sum[0] += if was_heard { -p.ln() } else { -(1.0 - p).ln() };
                        sum[1] += -p * p.ln() - (1.0 - p) * (1.0 - p).ln();
                        sum[2] += p * (1.0 - p) * (p / (1.0 - p)).ln().powi(2);
                    }
                    entry.1 += 1;
                }
            }
            let scores: Vec<(Key, f64)> = sums
                .into_iter()
                .filter(|(_, (_, n))| *n >= config.links_min_pairs)
                .map(|(key, (at, _))| {
                    let z = at
                        .iter()
                        .map(|[s, m, v]| (s - m) / (2.0 * v).sqrt().max(1e-9))
                        .fold(f64::INFINITY, f64::min);
                    (key, z)
                })
                .collect();
            let null = *null.get_or_insert_with(|| {
                EmpiricalNull::of(scores.iter().map(|s| s.1).collect(), 1.0)
            });
            let worst = scores
                .into_iter()
                .map(|(key, z)| (key, null.standardise(z)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match worst {
                Some((key, z)) if z > config.links_max_z => {
                    flagged.insert(key, z);
                    pairs.retain(|&(b, l, _, _)| b != key && l != key);
                }
                _ => return flagged,
            }
        }
    }

    /// A random epoch: hotspots scattered over `spread_deg` (some pairs across the 25 km
    /// buckets), some beaconing, some listening, most both; links heard mostly by distance,
    /// plus some invented ones at any distance and a ring that hears only itself; a few hotspots
    /// without a location.
    fn random_epoch(seed: u64, hotspots: usize, spread_deg: f64) -> Evidence {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(seed);
        let mut evidence = Evidence::default();
        let keys: Vec<Key> = (0..hotspots)
            .map(|i| {
                let mut key = [0u8; 32];
                key[..8].copy_from_slice(&(i as u64 * 7919 % 1_000_003).to_le_bytes());
                key
            })
            .collect();
        let places: Vec<(f64, f64)> = (0..hotspots)
            .map(|_| {
                (
                    45.0 + rng.gen_range(0.0..spread_deg),
                    7.0 + rng.gen_range(0.0..spread_deg),
                )
            })
            .collect();
        for (key, &(lat, lon)) in keys.iter().zip(&places) {
            if rng.gen_bool(0.97) {
                let cell = h3_coverage::cell_at(lat, lon).expect("valid coordinates");
                evidence.locations.insert(*key, cell);
            }
        }
        let listens: Vec<bool> = (0..hotspots).map(|_| rng.gen_bool(0.85)).collect();
        // A ring: hotspots that hear only each other, wherever they are.
        let ring: Vec<bool> = (0..hotspots).map(|_| rng.gen_bool(0.05)).collect();
        for b in 0..hotspots {
            if !rng.gen_bool(0.8) {
                continue;
            }
            let mut witnesses = Vec::new();
            for w in 0..hotspots {
                if w == b || !listens[w] {
                    continue;
                }
                let d = h3_coverage::distance_between_m(places[b], places[w]);
                let p = if ring[b] || ring[w] {
                    if ring[b] && ring[w] {
                        0.9
                    } else {
                        0.0
                    }
                } else {
                    (1.0 - d / 12_000.0).clamp(0.0, 0.9)
                };
                if rng.gen_bool(p) || rng.gen_bool(0.004) {
                    witnesses.push((keys[w], -100.0));
                }
            }
            evidence.beacons.push(BeaconEvidence {
                beaconer: keys[b],
                witnesses,
            });
        }
        evidence
    }

    #[test]
    fn counted_links_agree_with_every_pair_listed() {
        let mut flags = 0;
        for seed in 0..6 {
            let evidence = random_epoch(seed, 150 + 30 * seed as usize, 0.3 + 0.15 * seed as f64);
            for max_z in [1.5, 2.5, 4.0] {
                let config = DefenceConfig {
                    links_max_z: max_z,
                    ..DefenceConfig::default()
                };
                let counted = implausible_links(&evidence, &config);
                let listed = implausible_links_listed(&evidence, &config);
                assert_eq!(
                    counted.keys().collect::<Vec<_>>(),
                    listed.keys().collect::<Vec<_>>(),
                    "seed {seed}, z {max_z}"
                );
                for (key, z) in &counted {
                    assert!(
                        (z - listed[key]).abs() < 1e-9 * z.abs().max(1.0),
                        "seed {seed}"
                    );
                }
                flags += counted.len();
            }
        }
        assert!(
            flags > 10,
            "the epochs must flag someone to compare: {flags}"
        );
    }
}
