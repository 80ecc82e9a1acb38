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

/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_320.0;
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
    positions: &'a [(f64, f64)],
    /// `σ² / τ²`: the shadowing variance over the prior variance of a hotspot's gain offset.
    offset_shrink: f64,
}

impl Fit<'_> {
    /// The deviance (−2 log-likelihood, up to a constant) of the hotspot's links seen from
    /// `point`: the heard gains' residual sum of squares over σ², less the best common gain
    /// offset `b` under its prior (`min_b Σ(rᵢ − b)² + (σ²/τ²)·b² = Σrᵢ² − (Σrᵢ)²/(k + σ²/τ²)`),
    /// plus `−2 ln P(gain < T)` for every silent pair.
    fn deviance(&self, point: (f64, f64)) -> f64 {
        let distance = |other: usize| {
            let (x, y) = self.positions[other];
            (point.0 - x).hypot(point.1 - y)
        };
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

/// The point of least deviance: a grid over the neighbours and the assertion, then two finer
/// grids around the best point.
fn best_point(fit: &Fit, asserted: (f64, f64)) -> ((f64, f64), f64) {
    let (mut min_x, mut max_x, mut min_y, mut max_y) =
        (asserted.0, asserted.0, asserted.1, asserted.1);
    for link in fit.links {
        let (x, y) = fit.positions[link.other];
        min_x = min_x.min(x);
        max_x = max_x.max(x);
        min_y = min_y.min(y);
        max_y = max_y.max(y);
    }
    let centre = ((min_x + max_x) / 2.0, (min_y + max_y) / 2.0);
    let half_side = (max_x - min_x).max(max_y - min_y) / 2.0 + SEARCH_MARGIN_M;
    let mut best = (asserted, fit.deviance(asserted));
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
    let degrees: Vec<(f64, f64)> = evidence
        .locations
        .values()
        .map(|cell| h3_coverage::centre(*cell))
        .collect();
    let Some(&(lat0, lon0)) = degrees.first() else {
        return BTreeMap::new();
    };
    let cos_lat0 = lat0.to_radians().cos();
    let positions: Vec<(f64, f64)> = degrees
        .iter()
        .map(|&(lat, lon)| {
            (
                (lon - lon0) * METRES_PER_DEGREE * cos_lat0,
                (lat - lat0) * METRES_PER_DEGREE,
            )
        })
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
    let bucket_of = |(x, y): (f64, f64)| {
        (
            (x / MAX_SILENT_DISTANCE_M).floor() as i64,
            (y / MAX_SILENT_DISTANCE_M).floor() as i64,
        )
    };
    let mut buckets: BTreeMap<(i64, i64), Vec<usize>> = BTreeMap::new();
    for (hotspot, &position) in positions.iter().enumerate() {
        if beaconer[hotspot] || listener[hotspot] {
            buckets
                .entry(bucket_of(position))
                .or_default()
                .push(hotspot);
        }
    }
    let mut silent: Vec<(usize, usize)> = Vec::new();
    for (&(bx, by), members) in &buckets {
        for &a in members {
            for (dx, dy) in (-1..=1).flat_map(|dx| (-1..=1).map(move |dy| (dx, dy))) {
                for &b in buckets.get(&(bx + dx, by + dy)).into_iter().flatten() {
                    let testable = (beaconer[a] && listener[b]) || (beaconer[b] && listener[a]);
                    let (pa, pb) = (positions[a], positions[b]);
                    let apart = (pa.0 - pb.0).hypot(pa.1 - pb.1);
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

    let distance = |a: usize, b: usize| {
        let (pa, pb) = (positions[a], positions[b]);
        (pa.0 - pb.0).hypot(pa.1 - pb.1)
    };
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
                let asserted = positions[hotspot];
                let fit = Fit {
                    law,
                    links: &links[hotspot],
                    silent: &unheard[hotspot],
                    positions: &positions,
                    offset_shrink,
                };
                let at_assertion = fit.deviance(asserted);
                // No point's deviance is negative, so a hotspot that fits its assertion this
                // well cannot be flagged: skip the search.
                if at_assertion <= config.location_max_ratio {
                    return None;
                }
                let (point, at_best) = best_point(&fit, asserted);
                let ratio = at_assertion - at_best;
                let offset = (point.0 - asserted.0).hypot(point.1 - asserted.1);
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
        let mut rng = StdRng::seed_from_u64(seed);
        let side = 7;
        let radios: Vec<(f64, f64)> = (0..side * side)
            .map(|k| {
                let (i, j) = ((k / side) as f64, (k % side) as f64);
                (52.50 + i * 1_200.0 / METRES_PER_DEGREE, 13.35 + j * 0.0177)
            })
            .collect();
        let keys: Vec<Key> = (0..radios.len()).map(|k| [k as u8; 32]).collect();
        let mut evidence = Evidence::default();
        for (k, &(lat, lon)) in radios.iter().enumerate() {
            let lat = if spoofed.contains(&k) {
                lat + offset_m / METRES_PER_DEGREE
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
            let (evidence, keys) = network(&spoofed, 3_000.0, seed);
            let flagged = misplaced_locations(&evidence, &DefenceConfig::default());
            let expected: Vec<Key> = spoofed.iter().map(|&k| keys[k]).collect();
            let found: Vec<Key> = flagged.keys().copied().collect();
            assert_eq!(found, expected, "seed {seed}: {flagged:?}");
        }
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
