//! `misplaced_location`: where a hotspot's signals say it stands, against where it asserted.
//!
//! Every valid witness report measures the path gain of one link, and every pair of active
//! hotspots without a report says that its gain stayed below what a receiver can hear. Over an
//! epoch these give the network's own path-loss law, `gain = A − 10·n·log10(d) + ε` with
//! shadowing `ε ~ N(0, σ²)`, fitted as a censored (Tobit) regression: a link is heard only when
//! its gain is above a threshold `T`, so the far links that are heard are the lucky ones and an
//! ordinary fit of them would flatten the law.
//!
//! A hotspot's links then locate it: the point of least deviance (−2 log-likelihood) of its
//! heard gains and its silent pairs, allowing a common gain offset of a few dB (a wrong antenna
//! gain or transmit power, under a prior) without letting that offset explain away a real shift.
//! A hotspot asserted where it stands fits about as well at its assertion as at that best point;
//! one asserted kilometres from its radio fits far worse there. The test is the likelihood ratio
//! of the two places, `deviance(asserted) − deviance(best)`, about χ² with two degrees of
//! freedom for an honest hotspot.
//!
//! A misplaced hotspot also spoils one link of each of its neighbours, so the worst hotspot is
//! flagged first, its links are dropped and the others are tested again.

use super::{DefenceConfig, Evidence, Key};
use std::collections::{BTreeMap, BTreeSet};

/// Mean Earth radius, metres.
const EARTH_RADIUS_M: f64 = 6_371_000.0;
/// Fewest links (hotspot pairs) the network needs for its path-loss fit.
const MIN_NETWORK_PAIRS: usize = 10;
/// Points per side of the coarse search grid.
const GRID_POINTS: usize = 61;
/// Margin of the search area around a hotspot's neighbours and assertion, metres.
const SEARCH_MARGIN_M: f64 = 3_000.0;
/// Most rounds of the censored fit.
const EM_ROUNDS: usize = 50;
/// Pairs further apart than this are not counted as silent (nobody expects them to hear each
/// other), metres.
const MAX_SILENT_DISTANCE_M: f64 = 25_000.0;

/// A place as a point in space (Earth-centred, metres): distances between places are chords,
/// which differ from great-circle distances by less than a millimetre over 25 km, and every
/// hotspot has its own tangent plane to search in wherever it is on Earth.
type Point = [f64; 3];

fn point_at((lat, lon): (f64, f64)) -> Point {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [
        EARTH_RADIUS_M * lat.cos() * lon.cos(),
        EARTH_RADIUS_M * lat.cos() * lon.sin(),
        EARTH_RADIUS_M * lat.sin(),
    ]
}

fn between(a: &Point, b: &Point) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The tangent plane at a place: a point `(east, north)` metres from it.
struct Plane {
    origin: Point,
    east: Point,
    north: Point,
}

impl Plane {
    fn at(origin: Point) -> Self {
        let r = between(&origin, &[0.0; 3]).max(1.0);
        let up = [origin[0] / r, origin[1] / r, origin[2] / r];
        let horizontal = (up[0] * up[0] + up[1] * up[1]).sqrt();
        let east = if horizontal > 1e-12 {
            [-up[1] / horizontal, up[0] / horizontal, 0.0]
        } else {
            [0.0, 1.0, 0.0]
        };
        let north = [
            up[1] * east[2] - up[2] * east[1],
            up[2] * east[0] - up[0] * east[2],
            up[0] * east[1] - up[1] * east[0],
        ];
        Self {
            origin,
            east,
            north,
        }
    }

    fn point(&self, (e, n): (f64, f64)) -> Point {
        std::array::from_fn(|i| self.origin[i] + e * self.east[i] + n * self.north[i])
    }

    fn coordinates(&self, point: &Point) -> (f64, f64) {
        let d: Point = std::array::from_fn(|i| point[i] - self.origin[i]);
        let dot = |v: &Point| d[0] * v[0] + d[1] * v[1] + d[2] * v[2];
        (dot(&self.east), dot(&self.north))
    }
}

/// A hotspot's link to a neighbour: the neighbour's index and the mean path gain, dB.
#[derive(Debug, Clone, Copy)]
struct Link {
    other: usize,
    gain_db: f64,
}

/// The network's path-loss law, the spread of gains around it and the hearing threshold.
#[derive(Debug, Clone, Copy)]
struct PathLaw {
    /// Gain at 1 m, dB.
    intercept_db: f64,
    /// Path-loss exponent.
    exponent: f64,
    /// Standard deviation of gains around the law (shadowing), dB.
    sigma_db: f64,
    /// The gain below which a link is not heard, dB.
    threshold_db: f64,
}

/// The standard normal density.
fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal distribution function.
fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// `x` of the law for a distance: `10·log10(d)`, d at least 1 m.
fn log_distance(distance_m: f64) -> f64 {
    10.0 * distance_m.max(1.0).log10()
}

impl PathLaw {
    /// Censored regression over `heard` `(distance_m, gain_db)` pairs and the distances of the
    /// `silent` pairs, by expectation-maximisation; `T` is a low quantile of the heard gains
    /// and the exponent is kept within [2, 6]. `None` for too few pairs.
    fn fit(heard: &[(f64, f64)], silent: &[f64]) -> Option<Self> {
        if heard.len() < MIN_NETWORK_PAIRS {
            return None;
        }
        let heard_gains: Vec<f64> = heard.iter().map(|p| p.1).collect();
        let mut sorted = heard_gains.clone();
        sorted.sort_by(f64::total_cmp);
        let threshold_db = sorted[sorted.len() / 50];
        let xs: Vec<f64> = heard
            .iter()
            .map(|p| log_distance(p.0))
            .chain(silent.iter().map(|&d| log_distance(d)))
            .collect();
        let mut law = Self::least_squares(&xs[..heard.len()], &heard_gains, None)?;
        law.threshold_db = threshold_db;
        for _ in 0..EM_ROUNDS {
            // E-step: the expected gain (and its variance) of each silent pair, given that it
            // stayed below the threshold.
            let mut ys = heard_gains.clone();
            let mut hidden_variance = 0.0;
            for &x in &xs[heard.len()..] {
                let mean = law.intercept_db - law.exponent * x;
                let alpha = (threshold_db - mean) / law.sigma_db;
                let lambda = normal_pdf(alpha) / normal_cdf(alpha).max(1e-300);
                ys.push(mean - law.sigma_db * lambda);
                hidden_variance +=
                    law.sigma_db.powi(2) * (1.0 - alpha * lambda - lambda * lambda).max(0.0);
            }
            // M-step: least squares on the completed gains.
            let next = Self::least_squares(&xs, &ys, Some(hidden_variance))?;
            let converged = (next.exponent - law.exponent).abs() < 1e-4
                && (next.sigma_db - law.sigma_db).abs() < 1e-4;
            law = Self {
                threshold_db,
                ..next
            };
            if converged {
                break;
            }
        }
        Some(law)
    }

    /// Least squares of `ys` on `xs`; `extra_variance` adds the expected spread of values that
    /// were not observed. The exponent is kept within [2, 6].
    fn least_squares(xs: &[f64], ys: &[f64], extra_variance: Option<f64>) -> Option<Self> {
        let count = xs.len() as f64;
        if xs.is_empty() {
            return None;
        }
        let mean_x = xs.iter().sum::<f64>() / count;
        let mean_y = ys.iter().sum::<f64>() / count;
        let (var, cov) = xs.iter().zip(ys).fold((0.0, 0.0), |(var, cov), (x, y)| {
            (
                var + (x - mean_x).powi(2),
                cov + (x - mean_x) * (y - mean_y),
            )
        });
        let exponent = if var > 1e-9 {
            (-cov / var).clamp(2.0, 6.0)
        } else {
            2.0
        };
        let intercept_db = mean_y + exponent * mean_x;
        let squares: f64 = xs
            .iter()
            .zip(ys)
            .map(|(x, y)| (y - (intercept_db - exponent * x)).powi(2))
            .sum();
        let sigma_db = ((squares + extra_variance.unwrap_or(0.0)) / count)
            .sqrt()
            .max(1.0);
        Some(Self {
            intercept_db,
            exponent,
            sigma_db,
            threshold_db: f64::NEG_INFINITY,
        })
    }

    fn expected_gain_db(&self, distance_m: f64) -> f64 {
        self.intercept_db - self.exponent * log_distance(distance_m)
    }

    /// `−2 ln P(not heard)` at a distance.
    fn silence_deviance(&self, distance_m: f64) -> f64 {
        let alpha = (self.threshold_db - self.expected_gain_db(distance_m)) / self.sigma_db;
        -2.0 * normal_cdf(alpha).max(1e-300).ln()
    }
}

/// What a hotspot's links look like from one point.
struct Fit<'a> {
    law: PathLaw,
    /// The neighbours it has a valid report with, and their gains.
    links: &'a [Link],
    /// The active hotspots it could have had a report with and has none.
    silent: &'a [usize],
    positions: &'a [Point],
    /// The hotspot's tangent plane, where its candidate places lie.
    plane: Plane,
    /// `σ² / τ²`: the shadowing variance over the prior variance of a hotspot's gain offset.
    offset_shrink: f64,
}

impl Fit<'_> {
    /// The deviance (−2 log-likelihood, up to a constant) of the hotspot's links seen from
    /// `point`: the heard gains' residual sum of squares over σ², less the best common gain
    /// offset `b` under its prior (`min_b Σ(rᵢ − b)² + (σ²/τ²)·b² = Σrᵢ² − (Σrᵢ)²/(k + σ²/τ²)`),
    /// plus `−2 ln P(gain < T)` for every silent pair.
    fn deviance(&self, place: (f64, f64)) -> f64 {
        let point = self.plane.point(place);
        let distance = |other: usize| between(&point, &self.positions[other]);
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for link in self.links {
            let residual = link.gain_db - self.law.expected_gain_db(distance(link.other));
            sum += residual;
            sum_sq += residual * residual;
        }
        let silence: f64 = self
            .silent
            .iter()
            .map(|&other| self.law.silence_deviance(distance(other)))
            .sum();
        let count = self.links.len() as f64;
        let variance = self.law.sigma_db * self.law.sigma_db;
        (sum_sq - sum * sum / (count + self.offset_shrink)) / variance + silence
    }
}

/// The place of least deviance in the hotspot's tangent plane (its assertion at the origin): a
/// grid over the neighbours and the assertion, then two finer grids around the best place.
/// `at_assertion` is the deviance at the origin.
fn best_point(fit: &Fit, at_assertion: f64) -> ((f64, f64), f64) {
    let asserted = (0.0, 0.0);
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for link in fit.links {
        let (x, y) = fit.plane.coordinates(&fit.positions[link.other]);
        min_x = min_x.min(x);
        max_x = max_x.max(x);
        min_y = min_y.min(y);
        max_y = max_y.max(y);
    }
    let centre = ((min_x + max_x) / 2.0, (min_y + max_y) / 2.0);
    let half_side = (max_x - min_x).max(max_y - min_y) / 2.0 + SEARCH_MARGIN_M;
    let mut best = (asserted, at_assertion);
    let search = |centre: (f64, f64), half_side: f64, best: &mut ((f64, f64), f64)| {
        let step = 2.0 * half_side / (GRID_POINTS - 1) as f64;
        for i in 0..GRID_POINTS {
            for j in 0..GRID_POINTS {
                let point = (
                    centre.0 - half_side + i as f64 * step,
                    centre.1 - half_side + j as f64 * step,
                );
                let value = fit.deviance(point);
                if value < best.1 {
                    *best = (point, value);
                }
            }
        }
        step
    };
    let mut step = search(centre, half_side, &mut best);
    for _ in 0..2 {
        let around = best.0;
        step = search(around, 2.0 * step, &mut best);
    }
    best
}

/// `misplaced_location`: the hotspots whose signals place them at least
/// `location_min_offset_m` from their assertion with a likelihood ratio above
/// `location_max_ratio`, with that ratio.
pub fn misplaced_locations(evidence: &Evidence, config: &DefenceConfig) -> BTreeMap<Key, f64> {
    let keys: Vec<Key> = evidence.locations.keys().copied().collect();
    let index: BTreeMap<Key, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let positions: Vec<Point> = evidence
        .locations
        .values()
        .map(|cell| point_at(h3_coverage::centre(*cell)))
        .collect();

    // Mean gain of each pair of hotspots, over both directions of the link, and who was
    // active: a beaconer can be heard, a listener (a hotspot with a valid witness report) can
    // hear.
    let mut pair_sums: BTreeMap<(usize, usize), (f64, usize)> = BTreeMap::new();
    let mut beaconer = vec![false; keys.len()];
    let mut listener = vec![false; keys.len()];
    for beacon in &evidence.beacons {
        let Some(&b) = index.get(&beacon.beaconer) else {
            continue;
        };
        beaconer[b] = true;
        for (witness, gain) in &beacon.witnesses {
            let Some(&w) = index.get(witness) else {
                continue;
            };
            if w == b {
                continue;
            }
            listener[w] = true;
            let entry = pair_sums.entry((b.min(w), b.max(w))).or_default();
            entry.0 += gain;
            entry.1 += 1;
        }
    }
    let mut heard: Vec<(usize, usize, f64)> = pair_sums
        .into_iter()
        .map(|((a, b), (sum, count))| (a, b, sum / count as f64))
        .collect();
    // Pairs that could have had a valid report (one beaconed, the other listened, asserted
    // neither so close that the verifier rejects their reports as too close nor too far to
    // expect any) and had none, found through a grid of MAX_SILENT_DISTANCE_M buckets.
    let heard_set: BTreeSet<(usize, usize)> = heard.iter().map(|&(a, b, _)| (a, b)).collect();
    let bucket_of =
        |point: &Point| point.map(|coordinate| (coordinate / MAX_SILENT_DISTANCE_M).floor() as i64);
    let mut buckets: BTreeMap<[i64; 3], Vec<usize>> = BTreeMap::new();
    for (hotspot, position) in positions.iter().enumerate() {
        if beaconer[hotspot] || listener[hotspot] {
            buckets
                .entry(bucket_of(position))
                .or_default()
                .push(hotspot);
        }
    }
    let mut silent: Vec<(usize, usize)> = Vec::new();
    let around = |[x, y, z]: [i64; 3]| {
        (-1..=1).flat_map(move |dx| {
            (-1..=1).flat_map(move |dy| (-1..=1).map(move |dz| [x + dx, y + dy, z + dz]))
        })
    };
    for (&bucket, members) in &buckets {
        for &a in members {
            for next in around(bucket) {
                for &b in buckets.get(&next).into_iter().flatten() {
                    let testable = (beaconer[a] && listener[b]) || (beaconer[b] && listener[a]);
                    let apart = between(&positions[a], &positions[b]);
                    if a < b
                        && testable
                        && (config.location_silent_min_m..=MAX_SILENT_DISTANCE_M).contains(&apart)
                        && !heard_set.contains(&(a, b))
                    {
                        silent.push((a, b));
                    }
                }
            }
        }
    }

    let distance = |a: usize, b: usize| between(&positions[a], &positions[b]);
    let mut flagged = BTreeMap::new();
    loop {
        let heard_points: Vec<(f64, f64)> = heard
            .iter()
            .map(|&(a, b, gain)| (distance(a, b), gain))
            .collect();
        let silent_distances: Vec<f64> = silent.iter().map(|&(a, b)| distance(a, b)).collect();
        let Some(law) = PathLaw::fit(&heard_points, &silent_distances) else {
            return flagged;
        };
        let mut links: Vec<Vec<Link>> = vec![Vec::new(); keys.len()];
        for &(a, b, gain_db) in &heard {
            links[a].push(Link { other: b, gain_db });
            links[b].push(Link { other: a, gain_db });
        }
        let mut unheard: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
        for &(a, b) in &silent {
            unheard[a].push(b);
            unheard[b].push(a);
        }
        let offset_shrink = (law.sigma_db / config.location_offset_sigma_db.max(0.1)).powi(2);
        let worst = (0..keys.len())
            .filter(|&hotspot| links[hotspot].len() >= config.location_min_links)
            .filter_map(|hotspot| {
                let fit = Fit {
                    law,
                    links: &links[hotspot],
                    silent: &unheard[hotspot],
                    positions: &positions,
                    plane: Plane::at(positions[hotspot]),
                    offset_shrink,
                };
                let at_assertion = fit.deviance((0.0, 0.0));
                // No point's deviance is negative, so a hotspot that fits its assertion this
                // well cannot be flagged: skip the search.
                if at_assertion <= config.location_max_ratio {
                    return None;
                }
                let (place, at_best) = best_point(&fit, at_assertion);
                let ratio = at_assertion - at_best;
                let offset = place.0.hypot(place.1);
                (ratio > config.location_max_ratio && offset >= config.location_min_offset_m)
                    .then_some((hotspot, ratio))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match worst {
            Some((hotspot, ratio)) => {
                flagged.insert(keys[hotspot], ratio);
                heard.retain(|&(a, b, _)| a != hotspot && b != hotspot);
                silent.retain(|&(a, b)| a != hotspot && b != hotspot);
            }
            None => return flagged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defences::BeaconEvidence;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// A grid of hotspots 1.2 km apart around central Berlin, of which the ones in `spoofed`
    /// assert a place `offset_m` north of their radio; gains follow a log-distance law with
    /// exponent 3.5 and 6 dB of shadowing per link, heard to 6 km.
    fn network(spoofed: &[usize], offset_m: f64, seed: u64) -> (Evidence, Vec<Key>) {
        network_at((52.50, 13.35), 0, spoofed, offset_m, seed)
    }

    /// [`network`] with its south-west corner at `corner` and keys from `first_key` on.
    fn network_at(
        corner: (f64, f64),
        first_key: u8,
        spoofed: &[usize],
        offset_m: f64,
        seed: u64,
    ) -> (Evidence, Vec<Key>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let side = 7;
        let lon_step = 1_200.0 / (111_320.0 * corner.0.to_radians().cos());
        let radios: Vec<(f64, f64)> = (0..side * side)
            .map(|k| {
                let (i, j) = ((k / side) as f64, (k % side) as f64);
                (corner.0 + i * 1_200.0 / 111_320.0, corner.1 + j * lon_step)
            })
            .collect();
        let keys: Vec<Key> = (0..radios.len())
            .map(|k| [first_key + k as u8; 32])
            .collect();
        let mut evidence = Evidence::default();
        for (k, &(lat, lon)) in radios.iter().enumerate() {
            let lat = if spoofed.contains(&k) {
                lat + offset_m / 111_320.0
            } else {
                lat
            };
            let cell = h3_coverage::cell_at(lat, lon).expect("valid coordinates");
            evidence.locations.insert(keys[k], cell);
        }
        let mut shadowing = BTreeMap::new();
        for (b, &radio_b) in radios.iter().enumerate() {
            let mut witnesses = Vec::new();
            for (w, &radio_w) in radios.iter().enumerate() {
                let d = h3_coverage::distance_between_m(radio_b, radio_w);
                if w == b || d > 6_000.0 {
                    continue;
                }
                let shadow: f64 = *shadowing
                    .entry((b.min(w), b.max(w)))
                    .or_insert_with(|| rng.sample::<f64, _>(rand_distr::StandardNormal) * 6.0);
                witnesses.push((keys[w], -40.0 - 35.0 * d.log10() + shadow));
            }
            evidence.beacons.push(BeaconEvidence {
                beaconer: keys[b],
                witnesses,
            });
        }
        (evidence, keys)
    }

    #[test]
    fn honest_networks_raise_no_flag() {
        for seed in 0..3 {
            let (evidence, _) = network(&[], 0.0, seed);
            let flagged = misplaced_locations(&evidence, &DefenceConfig::default());
            assert!(flagged.is_empty(), "seed {seed}: {flagged:?}");
        }
    }

    #[test]
    fn hotspots_asserted_kilometres_away_are_flagged() {
        let spoofed = [8, 17, 22];
        for seed in 0..3 {
            let (evidence, keys) = network(&spoofed, 4_000.0, seed);
            let flagged = misplaced_locations(&evidence, &DefenceConfig::default());
            let expected: Vec<Key> = spoofed.iter().map(|&k| keys[k]).collect();
            let found: Vec<Key> = flagged.keys().copied().collect();
            assert_eq!(found, expected, "seed {seed}: {flagged:?}");
        }
    }

    #[test]
    fn networks_on_two_continents_are_judged_each_in_its_own_place() {
        let (mut evidence, _) = network(&[], 0.0, 11);
        let (sydney, keys) = network_at((-33.90, 151.15), 100, &[17], 4_000.0, 12);
        evidence.locations.extend(sydney.locations);
        evidence.beacons.extend(sydney.beacons);
        let flagged = misplaced_locations(&evidence, &DefenceConfig::default());
        assert_eq!(flagged.keys().collect::<Vec<_>>(), vec![&keys[17]]);
    }

    #[test]
    fn a_small_error_in_the_assertion_is_tolerated() {
        let (evidence, _) = network(&[24], 300.0, 3);
        assert!(misplaced_locations(&evidence, &DefenceConfig::default()).is_empty());
    }

    #[test]
    fn too_few_links_are_not_judged() {
        assert!(misplaced_locations(&Evidence::default(), &DefenceConfig::default()).is_empty());
    }
}
