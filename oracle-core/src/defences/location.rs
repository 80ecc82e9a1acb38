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
//! A hotspot asserted where it stands fits about as well near its assertion as at that best
//! point; one asserted kilometres from its radio fits far worse there. The test is a likelihood
//! ratio against the hypothesis "the radio stands within `location_tolerance_m` of its
//! assertion": `deviance(best place within the tolerance) − deviance(best place)`, zero when
//! the best place lies within the tolerance. Shadowing alone moves an honest hotspot's best
//! place by up to a kilometre or two (more at the edge of the network, where its neighbours all
//! lie to one side), and the tolerance keeps that from counting as evidence, so that the
//! threshold can be low enough to catch a shift of a few kilometres from a handful of links.
//!
//! Terrain lifts or sinks every link of some sites together (a hill, a hollow). The prior of
//! the common offset is widened to the terrain part the epoch's links show
//! ([`terrain_offset_sigma`]), and the two places the test compares are judged with the offset
//! fitted to the silent pairs as well ([`Fit::profiled_deviance`]): a hotspot in a hollow is
//! heard weaker by everyone and not at all by some close neighbours, which a shift away from
//! them would also explain, but a common offset explains better.
//!
//! A misplaced hotspot also spoils one link of each of its neighbours, so the worst hotspot is
//! flagged first, its links are dropped and the others are tested again.

use super::{DefenceConfig, Evidence, Key};
pub(crate) use h3_coverage::space::{between, point_at, squared_between, Buckets, Point};
use std::collections::{BTreeMap, HashMap};

mod bounds;
use bounds::SilentPartners;

/// Fewest links (hotspot pairs) the network needs for its path-loss fit.
const MIN_NETWORK_PAIRS: usize = 10;
/// Points per side of the coarse search grid.
const GRID_POINTS: usize = 61;
/// Points per side of the grids searching the disc around the assertion, and of the finer
/// grids around the best point of a coarse grid (spacings of a few tens of metres, then a few
/// metres: far finer than any distance the test looks at).
const NEAR_GRID_POINTS: usize = 21;
/// Margin of the search area around a hotspot's neighbours and assertion, metres.
const SEARCH_MARGIN_M: f64 = 3_000.0;
/// Most rounds of the censored fit.
const EM_ROUNDS: usize = 50;
/// Pairs further apart than this are not counted as silent (nobody expects them to hear each
/// other), metres.
const MAX_SILENT_DISTANCE_M: f64 = 25_000.0;

/// The square of [`MAX_SILENT_DISTANCE_M`] with a margin for rounding: pairs further apart
/// are not looked at.
const MAX_SILENT_SQUARED: f64 = MAX_SILENT_DISTANCE_M * MAX_SILENT_DISTANCE_M * (1.0 + 1e-9);

/// The tangent plane at a place: a point `(east, north)` metres from it.
#[derive(Clone, Copy)]
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

/// Width of the bins of `x = 10·log10(d)` the silent pairs are grouped in for the path-law
/// fit: a bin stands for its pairs at their mean `x`, which changes the fit's sums by about
/// `h²/8` of their curvature, far below the fit's own tolerance.
const SILENT_BIN_X: f64 = 1e-3;

/// The silent pairs' `x` grouped in bins of [`SILENT_BIN_X`]: `(mean x, pairs)` per bin.
#[cfg(test)]
fn silent_bins(silent: &[f64]) -> Vec<(f64, f64)> {
    silent_bins_of(silent.iter().map(|&d| log_distance(d)))
}

/// [`silent_bins`] of the pairs' `x` (read twice: for their range, then into the bins).
fn silent_bins_of(xs: impl Iterator<Item = f64> + Clone) -> Vec<(f64, f64)> {
    let lowest = xs.clone().fold(f64::INFINITY, f64::min);
    let highest = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if xs.clone().next().is_none() {
        return Vec::new();
    }
    let bin_of = |x: f64| ((x - lowest) / SILENT_BIN_X) as usize;
    let mut bins = vec![(0.0, 0.0); bin_of(highest) + 1];
    for x in xs {
        let bin = &mut bins[bin_of(x)];
        bin.0 += x;
        bin.1 += 1.0;
    }
    bins.into_iter()
        .filter(|bin| bin.1 > 0.0)
        .map(|(sum, count)| (sum / count, count))
        .collect()
}

impl PathLaw {
    /// Censored regression over `heard` `(distance_m, gain_db)` pairs and the distances of the
    /// `silent` pairs, by expectation-maximisation; `T` is a low quantile of the heard gains
    /// and the exponent is kept within [2, 6]. `None` for too few pairs. The silent pairs
    /// enter by bins of `x` ([`silent_bins`]), so that a round costs the number of bins, not
    /// of pairs.
    #[cfg(test)]
    fn fit(heard: &[(f64, f64)], silent: &[f64]) -> Option<Self> {
        Self::fit_binned(heard, &silent_bins(silent))
    }

    /// [`PathLaw::fit`] with the silent pairs as `(x, pairs)` bins.
    fn fit_binned(heard: &[(f64, f64)], bins: &[(f64, f64)]) -> Option<Self> {
        if heard.len() < MIN_NETWORK_PAIRS {
            return None;
        }
        let heard_points: Vec<(f64, f64, f64)> = heard
            .iter()
            .map(|&(d, gain)| (log_distance(d), gain, 1.0))
            .collect();
        let mut sorted: Vec<f64> = heard.iter().map(|p| p.1).collect();
        sorted.sort_by(f64::total_cmp);
        let threshold_db = sorted[sorted.len() / 50];
        let mut law = Self::least_squares(&heard_points, None)?;
        law.threshold_db = threshold_db;
        let mut points = heard_points.clone();
        for round in 0..EM_ROUNDS {
            // E-step: the expected gain (and its variance) of each silent pair, given that it
            // stayed below the threshold.
            points.truncate(heard_points.len());
            let mut hidden_variance = 0.0;
            for &(x, count) in bins {
                let mean = law.intercept_db - law.exponent * x;
                let alpha = (threshold_db - mean) / law.sigma_db;
                let lambda = normal_pdf(alpha) / normal_cdf(alpha).max(1e-300);
                points.push((x, mean - law.sigma_db * lambda, count));
                hidden_variance += count
                    * law.sigma_db.powi(2)
                    * (1.0 - alpha * lambda - lambda * lambda).max(0.0);
            }
            // M-step: least squares on the completed gains.
            let next = Self::least_squares(&points, Some(hidden_variance))?;
            let converged = (next.exponent - law.exponent).abs() < 1e-4
                && (next.sigma_db - law.sigma_db).abs() < 1e-4;
            law = Self {
                threshold_db,
                ..next
            };
            if converged {
                tracing::debug!(
                    rounds = round + 1,
                    heard = heard.len(),
                    bins = bins.len(),
                    "path law fitted"
                );
                break;
            }
        }
        Some(law)
    }

    /// Weighted least squares of `(x, y, weight)` points; `extra_variance` adds the expected
    /// spread of values that were not observed. The exponent is kept within [2, 6].
    fn least_squares(points: &[(f64, f64, f64)], extra_variance: Option<f64>) -> Option<Self> {
        let count: f64 = points.iter().map(|p| p.2).sum();
        if points.is_empty() || count <= 0.0 {
            return None;
        }
        let mean_x = points.iter().map(|p| p.0 * p.2).sum::<f64>() / count;
        let mean_y = points.iter().map(|p| p.1 * p.2).sum::<f64>() / count;
        let (var, cov) = points.iter().fold((0.0, 0.0), |(var, cov), &(x, y, w)| {
            (
                var + w * (x - mean_x).powi(2),
                cov + w * (x - mean_x) * (y - mean_y),
            )
        });
        let exponent = if var > 1e-9 {
            (-cov / var).clamp(2.0, 6.0)
        } else {
            2.0
        };
        let intercept_db = mean_y + exponent * mean_x;
        let squares: f64 = points
            .iter()
            .map(|&(x, y, w)| w * (y - (intercept_db - exponent * x)).powi(2))
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
    #[cfg(test)]
    fn silence_deviance(&self, distance_m: f64) -> f64 {
        self.silence_deviance_at(log_distance(distance_m))
    }

    /// `−2 ln P(not heard)` at `x = 10·log10 d`.
    fn silence_deviance_at(&self, x: f64) -> f64 {
        let alpha = (self.threshold_db - (self.intercept_db - self.exponent * x)) / self.sigma_db;
        -2.0 * normal_cdf(alpha).max(1e-300).ln()
    }

    /// The slope by `x` of [`PathLaw::silence_deviance_at`]: `−2 φ(α)/Φ(α) · n/σ`, with
    /// `φ(α)/Φ(α) → −α` where `Φ` underflows.
    fn silence_slope_at(&self, x: f64) -> f64 {
        let alpha = (self.threshold_db - (self.intercept_db - self.exponent * x)) / self.sigma_db;
        let p = normal_cdf(alpha);
        let ratio = if p > 1e-290 {
            normal_pdf(alpha) / p
        } else {
            -alpha
        };
        -2.0 * ratio * self.exponent / self.sigma_db
    }
}

/// Step of the silence table in `x = 10·log10(d)`.
const TABLE_STEP_X: f64 = 1.0 / 256.0;
/// The silence table covers `x` from 0 to this (1 000 km); further pairs are computed.
const TABLE_MAX_X: f64 = 60.0;

/// `−2 ln P(not heard)` of a law as a function of `x`, tabulated with its derivative and read by
/// cubic Hermite interpolation: a few multiplications instead of an `erfc` and a logarithm,
/// within about 1e-9 of the exact value (points where the probability underflows are computed
/// exactly).
struct SilenceTable {
    law: PathLaw,
    /// `(value, derivative by x)` at `i · TABLE_STEP_X`; `None` where `P` underflows.
    nodes: Vec<Option<(f64, f64)>>,
}

impl SilenceTable {
    fn new(law: PathLaw) -> Self {
        let slope = law.exponent / law.sigma_db;
        let count = (TABLE_MAX_X / TABLE_STEP_X) as usize + 1;
        let nodes = (0..count)
            .map(|i| {
                let x = i as f64 * TABLE_STEP_X;
                let alpha =
                    (law.threshold_db - (law.intercept_db - law.exponent * x)) / law.sigma_db;
                let p = normal_cdf(alpha);
                (p > 1e-290).then(|| (-2.0 * p.ln(), -2.0 * normal_pdf(alpha) / p * slope))
            })
            .collect();
        Self { law, nodes }
    }

    /// `−2 ln P(not heard)` at a distance.
    fn silence_deviance(&self, distance_m: f64) -> f64 {
        self.silence_deviance_at(log_distance(distance_m))
    }

    /// `−2 ln P(not heard)` at `x = 10·log10 d`, and its slope by `x`.
    fn silence_value_and_slope_at(&self, x_db: f64) -> (f64, f64) {
        let x = x_db / TABLE_STEP_X;
        let i = x.floor();
        if let (true, Some(Some((g0, d0))), Some(Some((g1, d1)))) = (
            x_db >= 0.0,
            self.nodes.get(i as usize),
            self.nodes.get(i as usize + 1),
        ) {
            let t = x - i;
            let (t2, t3) = (t * t, t * t * t);
            let value = (2.0 * t3 - 3.0 * t2 + 1.0) * g0
                + (t3 - 2.0 * t2 + t) * TABLE_STEP_X * d0
                + (3.0 * t2 - 2.0 * t3) * g1
                + (t3 - t2) * TABLE_STEP_X * d1;
            let slope = (6.0 * t2 - 6.0 * t) * (g0 - g1) / TABLE_STEP_X
                + (3.0 * t2 - 4.0 * t + 1.0) * d0
                + (3.0 * t2 - 2.0 * t) * d1;
            return (value, slope);
        }
        (
            self.law.silence_deviance_at(x_db),
            self.law.silence_slope_at(x_db),
        )
    }

    /// `−2 ln P(not heard)` at `x = 10·log10 d`.
    fn silence_deviance_at(&self, x_db: f64) -> f64 {
        if x_db < 0.0 {
            return self.law.silence_deviance_at(x_db);
        }
        let x = x_db / TABLE_STEP_X;
        let i = x.floor();
        if let (Some(Some((g0, d0))), Some(Some((g1, d1)))) =
            (self.nodes.get(i as usize), self.nodes.get(i as usize + 1))
        {
            let t = x - i;
            let (t2, t3) = (t * t, t * t * t);
            return (2.0 * t3 - 3.0 * t2 + 1.0) * g0
                + (t3 - 2.0 * t2 + t) * TABLE_STEP_X * d0
                + (3.0 * t2 - 2.0 * t3) * g1
                + (t3 - t2) * TABLE_STEP_X * d1;
        }
        self.law.silence_deviance_at(x_db)
    }
}

/// What a hotspot's links look like from one point.
struct Fit<'a> {
    law: PathLaw,
    /// The law's silence deviance.
    silence: &'a SilenceTable,
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
        self.deviance_up_to(place, f64::INFINITY)
    }

    /// [`Fit::deviance`], or some value at least `limit` once it is clear that the deviance
    /// is (every term is non-negative, so the sum stops when it passes `limit`).
    fn deviance_up_to(&self, place: (f64, f64), limit: f64) -> f64 {
        let point = self.plane.point(place);
        let distance = |other: usize| between(&point, &self.positions[other]);
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for link in self.links {
            let residual = link.gain_db - self.law.expected_gain_db(distance(link.other));
            sum += residual;
            sum_sq += residual * residual;
        }
        let count = self.links.len() as f64;
        let variance = self.law.sigma_db * self.law.sigma_db;
        let mut deviance = (sum_sq - sum * sum / (count + self.offset_shrink)) / variance;
        for chunk in self.silent.chunks(32) {
            if deviance >= limit {
                return deviance;
            }
            for &other in chunk {
                deviance += self.silence.silence_deviance(distance(other));
            }
        }
        deviance
    }
}

/// Golden-section steps of [`Fit::profiled_deviance`]'s search for the offset.
const OFFSET_STEPS: usize = 40;

impl Fit<'_> {
    /// The deviance at `place` with the hotspot's common gain offset `b` fitted to its silent
    /// pairs as well as its heard gains: the least over `b` of `Σ(rᵢ − b)²/σ²`, the prior's
    /// `(σ²/τ²)·b²/σ²` and `−2 ln P(gain + b < T)` for each silent pair. A hotspot in a hollow
    /// is heard weaker by everyone and not heard by some close neighbours; [`Fit::deviance`]
    /// lets the offset explain only the first, which makes such a hotspot look as if it stood
    /// away from its neighbours. Convex in `b`, minimised by golden section over ±6 prior
    /// deviations. Used where two places are compared, not in the search.
    fn profiled_deviance(&self, place: (f64, f64)) -> f64 {
        let point = self.plane.point(place);
        let distance = |other: usize| between(&point, &self.positions[other]);
        let residuals: Vec<f64> = self
            .links
            .iter()
            .map(|link| link.gain_db - self.law.expected_gain_db(distance(link.other)))
            .collect();
        let silent_x: Vec<f64> = self
            .silent
            .iter()
            .map(|&other| log_distance(distance(other)))
            .collect();
        let variance = self.law.sigma_db * self.law.sigma_db;
        let at = |b: f64| {
            let heard: f64 = residuals.iter().map(|r| (r - b) * (r - b)).sum::<f64>();
            let silence: f64 = silent_x
                .iter()
                .map(|x| self.silence.silence_deviance_at(x - b / self.law.exponent))
                .sum();
            (heard + self.offset_shrink * b * b) / variance + silence
        };
        let reach = self.offset_reach();
        let ratio = (5f64.sqrt() - 1.0) / 2.0;
        let (mut low, mut high) = (-reach, reach);
        let (mut c, mut d) = (high - ratio * (high - low), low + ratio * (high - low));
        let (mut at_c, mut at_d) = (at(c), at(d));
        for _ in 0..OFFSET_STEPS {
            if at_c < at_d {
                high = d;
                (d, at_d) = (c, at_c);
                c = high - ratio * (high - low);
                at_c = at(c);
            } else {
                low = c;
                (c, at_c) = (d, at_d);
                d = low + ratio * (high - low);
                at_d = at(d);
            }
        }
        at_c.min(at_d).min(at(0.0))
    }

    /// How far, dB, [`Fit::profiled_deviance`] looks for the offset either side of 0: six
    /// deviations of its prior.
    fn offset_reach(&self) -> f64 {
        6.0 * self.law.sigma_db / self.offset_shrink.max(1e-6).sqrt()
    }
}

/// The place of least deviance in the hotspot's tangent plane (its assertion at the origin): a
/// grid over the neighbours and the assertion, then two finer grids around the best place.
/// `at_assertion` is the deviance at the origin.
fn best_point(fit: &Fit, silent: &SilentPartners, at_assertion: f64) -> ((f64, f64), f64) {
    let (centre, half_side) = search_square(fit);
    search_grids(
        fit,
        silent,
        centre,
        half_side,
        (GRID_POINTS, NEAR_GRID_POINTS),
        |_| true,
        ((0.0, 0.0), at_assertion),
    )
}

/// The centre and half-side of the square [`best_point`]'s coarse grid covers: the
/// neighbours and the assertion, with a margin.
fn search_square(fit: &Fit) -> ((f64, f64), f64) {
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
    (centre, half_side)
}

/// The least deviance found on a grid of `coarse × coarse` points over the square of half-side
/// `half_side` around `centre`, then on two finer grids of `fine × fine` points, each over two
/// steps of the grid before around the best point so far, among the points `allowed` lets
/// through; `start` is the best point known before. `silent` is the fit's silent partners as
/// the grids' bounds read them, built once per fit.
fn search_grids(
    fit: &Fit,
    silent: &SilentPartners,
    centre: (f64, f64),
    half_side: f64,
    (coarse, fine): (usize, usize),
    allowed: impl Fn((f64, f64)) -> bool,
    start: ((f64, f64), f64),
) -> ((f64, f64), f64) {
    let mut best = start;
    let search = |centre: (f64, f64), half_side: f64, points: usize, best: &mut _| {
        let step = 2.0 * half_side / (points - 1) as f64;
        let corner = (centre.0 - half_side, centre.1 - half_side);
        let grid = bounds::Grid {
            corner,
            step,
            points,
        };
        bounds::search_grid(fit, silent, grid, &allowed, best);
        step
    };
    let mut step = search(centre, half_side, coarse, &mut best);
    for _ in 0..2 {
        let around = best.0;
        step = search(around, 2.0 * step, fine, &mut best);
    }
    best
}

/// The displacement statistic of a hotspot whose best place is `best`: how much better the
/// best place fits than the best place within `location_tolerance_m` of the assertion, both
/// with the offset profiled ([`Fit::profiled_deviance`]; 0 when the best place lies within
/// the tolerance), and that place within. It tests the hypothesis "the radio stands
/// within the tolerance of its assertion", not "exactly at it": shadowing moves an honest
/// hotspot's best place by up to a kilometre or so, and that alone is no evidence.
fn displacement(
    fit: &Fit,
    silent: &SilentPartners,
    config: &DefenceConfig,
    (place, _): ((f64, f64), f64),
    at_assertion: f64,
) -> (f64, (f64, f64)) {
    if place.0.hypot(place.1) <= config.location_tolerance_m {
        return (0.0, place);
    }
    let (within, _) = best_point_within(fit, silent, config.location_tolerance_m, at_assertion);
    let statistic = (fit.profiled_deviance(within) - fit.profiled_deviance(place)).max(0.0);
    (statistic, within)
}

/// Whether a displacement statistic and a best place `place` are enough to flag.
fn is_flaggable(statistic: f64, place: (f64, f64), config: &DefenceConfig) -> bool {
    statistic > config.location_max_ratio && place.0.hypot(place.1) >= config.location_min_offset_m
}

/// One neighbour of a hotspot in its [`Fit`]: a heard link's index (`heard`) or a silent
/// partner's, and the neighbour's hotspot index.
#[derive(Debug, Clone, Copy)]
struct Neighbour {
    heard: bool,
    at: usize,
    other: usize,
}

/// The neighbour whose deviance term favours `best` over `within` the most: the one
/// neighbour that, were it the one misplaced, would explain most of the displacement.
fn most_influential(fit: &Fit, best: (f64, f64), within: (f64, f64)) -> Option<Neighbour> {
    let (best, within) = (fit.plane.point(best), fit.plane.point(within));
    let variance = fit.law.sigma_db * fit.law.sigma_db;
    let term = |point: &Point, link: &Link| {
        let distance = between(point, &fit.positions[link.other]);
        (link.gain_db - fit.law.expected_gain_db(distance)).powi(2) / variance
    };
    let heard = fit.links.iter().enumerate().map(|(at, link)| {
        let neighbour = Neighbour {
            heard: true,
            at,
            other: link.other,
        };
        (neighbour, term(&within, link) - term(&best, link))
    });
    let silence = |point: &Point, other: usize| {
        fit.silence
            .silence_deviance(between(point, &fit.positions[other]))
    };
    let silent = fit.silent.iter().enumerate().map(|(at, &other)| {
        let neighbour = Neighbour {
            heard: false,
            at,
            other,
        };
        (neighbour, silence(&within, other) - silence(&best, other))
    });
    heard
        .chain(silent)
        .filter(|(_, influence)| *influence > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(neighbour, _)| neighbour)
}

/// The displacement statistic of a hotspot without one `neighbour`, searched anew, or 0 when
/// that leaves it unflaggable.
fn displacement_without_one(
    fit: &Fit,
    config: &DefenceConfig,
    place: (f64, f64),
    neighbour: Neighbour,
) -> f64 {
    let links: Vec<Link> = fit
        .links
        .iter()
        .enumerate()
        .filter(|&(at, _)| !(neighbour.heard && at == neighbour.at))
        .map(|(_, link)| *link)
        .collect();
    let silent: Vec<usize> = fit
        .silent
        .iter()
        .enumerate()
        .filter(|&(at, _)| neighbour.heard || at != neighbour.at)
        .map(|(_, &other)| other)
        .collect();
    let reduced = Fit {
        links: &links,
        silent: &silent,
        ..*fit
    };
    let at_assertion = reduced.deviance((0.0, 0.0));
    let silent = SilentPartners::of(&reduced);
    let searched = best_point(&reduced, &silent, at_assertion);
    let at_place = reduced.deviance(place);
    let best = if at_place < searched.1 {
        (place, at_place)
    } else {
        searched
    };
    let (statistic, _) = displacement(&reduced, &silent, config, best, at_assertion);
    if is_flaggable(statistic, best.0, config) {
        statistic
    } else {
        0.0
    }
}

/// The least deviance within `radius_m` of the assertion: a grid over the disc, then two finer
/// grids around the best place, every point kept inside the disc. `at_assertion` is the
/// deviance at the origin.
fn best_point_within(
    fit: &Fit,
    silent: &SilentPartners,
    radius_m: f64,
    at_assertion: f64,
) -> ((f64, f64), f64) {
    let inside = |(x, y): (f64, f64)| x.hypot(y) <= radius_m;
    let start = ((0.0, 0.0), at_assertion);
    let points = (NEAR_GRID_POINTS, NEAR_GRID_POINTS);
    search_grids(fit, silent, (0.0, 0.0), radius_m, points, inside, start)
}

/// `misplaced_location`: the hotspots whose signals place them at least
/// `location_min_offset_m` from their assertion, with a likelihood ratio against standing
/// within `location_tolerance_m` of it (the displacement statistic) above
/// `location_max_ratio`, with that statistic.
pub fn misplaced_locations(evidence: &Evidence, config: &DefenceConfig) -> BTreeMap<Key, f64> {
    misplaced_locations_in_rounds(evidence, config, true).0
}

/// The epoch's network as `misplaced_location` sees it: the located hotspots, the mean gain of
/// each heard pair, and the silent pairs.
struct PairNetwork {
    keys: Vec<Key>,
    positions: Vec<Point>,
    /// `(a, b, mean gain dB)`, `a < b`, of every pair with a valid report (either direction).
    heard: Vec<(usize, usize, f64)>,
    silent: SilentPairs,
}

impl PairNetwork {
    /// The mean gain of each pair of hotspots, over both directions of the link, and the
    /// pairs that could have had a valid report (one beaconed, the other listened, asserted
    /// neither so close that the verifier rejects their reports as too close nor too far to
    /// expect any) and had none, found through a grid of `MAX_SILENT_DISTANCE_M` buckets.
    fn of(evidence: &Evidence, config: &DefenceConfig) -> Self {
        let keys: Vec<Key> = evidence.locations.keys().copied().collect();
        let index: HashMap<&Key, usize> = keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let positions: Vec<Point> = evidence
            .locations
            .values()
            .map(|cell| point_at(h3_coverage::centre(*cell)))
            .collect();
        // A beaconer can be heard, a listener (a hotspot with a valid witness report) can hear.
        let mut reports: Vec<(usize, usize, f64)> = Vec::new();
        let mut beaconer = vec![false; keys.len()];
        let mut listener = vec![false; keys.len()];
        for beacon in &evidence.beacons {
            let Some(&b) = index.get(&beacon.beaconer) else {
                continue;
            };
            beaconer[b] = true;
            for (witness, gain) in &beacon.witnesses {
                match index.get(witness) {
                    Some(&w) if w != b => {
                        listener[w] = true;
                        reports.push((b.min(w), b.max(w), *gain));
                    }
                    _ => {}
                }
            }
        }
        // A stable sort keeps each pair's reports in their order, so that the sums are added
        // up as report by report.
        reports.sort_by_key(|&(a, b, _)| (a, b));
        let heard: Vec<(usize, usize, f64)> = reports
            .chunk_by(|x, y| (x.0, x.1) == (y.0, y.1))
            .map(|same_pair| {
                let sum = same_pair.iter().fold(0.0, |sum, report| sum + report.2);
                let (a, b, _) = same_pair[0];
                (a, b, sum / same_pair.len() as f64)
            })
            .collect();
        let mut heard_with: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
        for &(a, b, _) in &heard {
            heard_with[a].push(b);
        }
        let in_play: Vec<bool> = (0..keys.len())
            .map(|hotspot| beaconer[hotspot] || listener[hotspot])
            .collect();
        let buckets = Buckets::new(&positions, MAX_SILENT_DISTANCE_M, |hotspot| {
            in_play[hotspot]
        });
        let silent = SilentPairs::find(&positions, &buckets, &in_play, config, |a, b| {
            let testable = (beaconer[a] && listener[b]) || (beaconer[b] && listener[a]);
            testable && !heard_with[a].contains(&b)
        });
        Self {
            keys,
            positions,
            heard,
            silent,
        }
    }
}

/// The spread of the hotspots' common gain offsets that the epoch's links show, dB: where
/// terrain lifts or sinks every link of a site (a hill, a hollow), a hotspot's heard gains sit
/// above or below the law together, by more than its own antenna's error. Estimated from each
/// hotspot's mean residual at its assertion, `m = u + (mean of k link terms)`, robustly (the
/// median absolute deviation, so that a minority of misplaced hotspots does not widen it):
/// `τ² = (spread(m)² − σ²·median(1/k)) / (1 − median(1/k))`, 0 when the spread is no more
/// than the links' own.
fn terrain_offset_sigma(
    net: &PairNetwork,
    links: &[Vec<Link>],
    law: PathLaw,
    config: &DefenceConfig,
) -> f64 {
    let mut means = Vec::new();
    let mut inverse_counts = Vec::new();
    for (hotspot, links) in links.iter().enumerate() {
        if links.len() < config.location_min_links.max(2) {
            continue;
        }
        let sum: f64 = links
            .iter()
            .map(|link| {
                let distance = between(&net.positions[hotspot], &net.positions[link.other]);
                link.gain_db - law.expected_gain_db(distance)
            })
            .sum();
        means.push(sum / links.len() as f64);
        inverse_counts.push(1.0 / links.len() as f64);
    }
    if means.len() < super::MIN_NULL_SCORES {
        return 0.0;
    }
    let spread = super::EmpiricalNull::of(means, 0.0).scale;
    let inverse = super::median(&mut inverse_counts);
    let variance = (spread * spread - law.sigma_db * law.sigma_db * inverse) / (1.0 - inverse);
    variance.max(0.0).sqrt()
}

/// What the rounds carry from one to the next.
struct Rounds {
    /// Hotspots not flagged yet: a flag drops every pair of the flagged hotspot.
    active: Vec<bool>,
    /// The best place each hotspot's last search found, and whether a flagged hotspot shared a
    /// pair with it since: a flag drops a few of a neighbour's pairs, which can move its best
    /// place, while elsewhere it only nudges the law, and the place found is re-evaluated
    /// instead of searched for again.
    searched: Vec<Option<(f64, f64)>>,
    touched: Vec<bool>,
    flagged: BTreeMap<Key, f64>,
    count: usize,
}

/// One round's fit of the path-loss law and what follows from it for every hotspot.
struct Round {
    law: PathLaw,
    table: SilenceTable,
    links: Vec<Vec<Link>>,
    offset_shrink: f64,
    /// The silence part of each hotspot's deviance at its assertion.
    silence_at_assertion: Vec<f64>,
}

impl Round {
    /// Fits the law to the active pairs; `None` when it cannot be fitted.
    fn fit(net: &PairNetwork, active: &[bool], config: &DefenceConfig) -> Option<Self> {
        let distance = |a: usize, b: usize| between(&net.positions[a], &net.positions[b]);
        let heard_points: Vec<(f64, f64)> = net
            .heard
            .iter()
            .map(|&(a, b, gain)| (distance(a, b), gain))
            .collect();
        let bins = silent_bins_of(net.silent.active(active).map(|(_, _, x)| x));
        let law = PathLaw::fit_binned(&heard_points, &bins)?;
        let table = SilenceTable::new(law);
        let mut links: Vec<Vec<Link>> = vec![Vec::new(); net.keys.len()];
        for &(a, b, gain_db) in &net.heard {
            links[a].push(Link { other: b, gain_db });
            links[b].push(Link { other: a, gain_db });
        }
        let offset_sigma = config
            .location_offset_sigma_db
            .max(terrain_offset_sigma(net, &links, law, config));
        let offset_shrink = (law.sigma_db / offset_sigma.max(0.1)).powi(2);
        // Each pair's term computed once for both of its hotspots (on every core), then added
        // up in the pairs' order.
        let terms: Vec<Vec<f64>> = crate::parallel::map(&net.silent.pieces, |piece| {
            piece
                .pairs
                .iter()
                .zip(&piece.xs)
                .filter(|((a, b), _)| active[*a as usize] && active[*b as usize])
                .map(|(_, &x)| table.silence_deviance_at(x))
                .collect()
        });
        let mut silence_at_assertion = vec![0.0; net.keys.len()];
        for ((a, b, _), term) in net.silent.active(active).zip(terms.iter().flatten()) {
            silence_at_assertion[a] += term;
            silence_at_assertion[b] += term;
        }
        Some(Self {
            law,
            table,
            links,
            offset_shrink,
            silence_at_assertion,
        })
    }

    /// A hotspot's fit with the given silent partners.
    fn fit_of<'a>(&'a self, net: &'a PairNetwork, hotspot: usize, silent: &'a [usize]) -> Fit<'a> {
        Fit {
            law: self.law,
            silence: &self.table,
            links: &self.links[hotspot],
            silent,
            positions: &net.positions,
            plane: Plane::at(net.positions[hotspot]),
            offset_shrink: self.offset_shrink,
        }
    }

    /// The hotspots worth a search, with their deviance at the assertion. No point's deviance
    /// is negative, so a hotspot that fits its assertion no worse than the ratio cannot be
    /// flagged, and one that fits it no worse than the least deviance is taken to fit it.
    fn candidates(&self, net: &PairNetwork, config: &DefenceConfig) -> Vec<(usize, f64)> {
        (0..net.keys.len())
            .filter(|&hotspot| self.links[hotspot].len() >= config.location_min_links)
            .map(|hotspot| {
                let at = self.fit_of(net, hotspot, &[]).deviance((0.0, 0.0));
                (hotspot, at + self.silence_at_assertion[hotspot])
            })
            .filter(|&(_, at_assertion)| {
                at_assertion > config.location_max_ratio.max(config.location_min_deviance)
            })
            .collect()
    }

    /// Each candidate's best place on every core (a new search, or the last one's place
    /// re-evaluated), its displacement statistic and the best place within the tolerance;
    /// with `screen`, no search for a candidate [`bounds::cannot_be_flagged`] rules out.
    fn search(
        &self,
        net: &PairNetwork,
        rounds: &Rounds,
        candidates: &[(usize, f64)],
        unheard: &[Vec<usize>],
        config: &DefenceConfig,
        screen: bool,
    ) -> Vec<Searched> {
        crate::parallel::map(
            &candidates.iter().zip(unheard).collect::<Vec<_>>(),
            |&(&(hotspot, at_assertion), unheard)| {
                let fit = self.fit_of(net, hotspot, unheard);
                let silent = SilentPartners::of(&fit);
                if screen
                    && bounds::cannot_be_flagged(
                        &fit,
                        &silent,
                        at_assertion,
                        config.location_tolerance_m,
                        config.location_min_offset_m,
                        config.location_max_ratio,
                    )
                {
                    return Searched::SCREENED;
                }
                let (best, new_search) = match rounds.searched[hotspot] {
                    Some(place) if !rounds.touched[hotspot] => {
                        let at_place = fit.deviance(place);
                        if at_place < at_assertion {
                            ((place, at_place), false)
                        } else {
                            (((0.0, 0.0), at_assertion), false)
                        }
                    }
                    _ => (best_point(&fit, &silent, at_assertion), true),
                };
                let (statistic, within) = displacement(&fit, &silent, config, best, at_assertion);
                Searched {
                    place: best.0,
                    new_search,
                    statistic,
                    within,
                    screened: false,
                }
            },
        )
    }

    /// Lowers the statistic of each flaggable candidate whose most influential neighbour
    /// ([`most_influential`]) cannot vouch for its own place to the statistic without that
    /// neighbour ([`displacement_without_one`]). A neighbour vouches when it has the links to
    /// be judged and fits within the tolerance of its assertion (not a candidate, or a
    /// candidate with a statistic of 0). One neighbour that cannot, a spoofer not caught yet
    /// or one with too few links to be judged, must not be able to get an honest hotspot
    /// flagged alone; a neighbour that vouches keeps the blame on the hotspot.
    ///
    /// A screened candidate's statistic is not known; where it is asked to vouch, it is
    /// searched now.
    fn excuse_by_one_neighbour(
        &self,
        net: &PairNetwork,
        rounds: &Rounds,
        candidates: &[(usize, f64)],
        unheard: &[Vec<usize>],
        outcomes: &mut [Searched],
        config: &DefenceConfig,
    ) {
        let flaggable: Vec<usize> = (0..candidates.len())
            .filter(|&i| is_flaggable(outcomes[i].statistic, outcomes[i].place, config))
            .collect();
        let influential = crate::parallel::map(&flaggable, |&i| {
            let fit = self.fit_of(net, candidates[i].0, &unheard[i]);
            most_influential(&fit, outcomes[i].place, outcomes[i].within)
        });
        let slot: HashMap<usize, usize> = candidates
            .iter()
            .enumerate()
            .map(|(i, &(hotspot, _))| (hotspot, i))
            .collect();
        let mut asked: Vec<usize> = influential
            .iter()
            .flatten()
            .filter_map(|neighbour| slot.get(&neighbour.other).copied())
            .filter(|&i| outcomes[i].screened)
            .collect();
        asked.sort_unstable();
        asked.dedup();
        let chosen: Vec<(usize, f64)> = asked.iter().map(|&i| candidates[i]).collect();
        let partners: Vec<Vec<usize>> = asked.iter().map(|&i| unheard[i].clone()).collect();
        let searched = self.search(net, rounds, &chosen, &partners, config, false);
        for (i, outcome) in asked.into_iter().zip(searched) {
            outcomes[i] = outcome;
        }
        let vouches = |other: usize| {
            self.links[other].len() >= config.location_min_links
                && slot
                    .get(&other)
                    .is_none_or(|&i| outcomes[i].statistic <= 0.0)
        };
        let lowered = crate::parallel::map(
            &flaggable.iter().zip(&influential).collect::<Vec<_>>(),
            |&(&i, neighbour)| match neighbour {
                Some(neighbour) if !vouches(neighbour.other) => {
                    let fit = self.fit_of(net, candidates[i].0, &unheard[i]);
                    displacement_without_one(&fit, config, outcomes[i].place, *neighbour)
                }
                _ => outcomes[i].statistic,
            },
        );
        for (i, statistic) in flaggable.into_iter().zip(lowered) {
            outcomes[i].statistic = outcomes[i].statistic.min(statistic);
        }
    }
}

/// A candidate's search: its best place, whether it was searched anew (or the last round's
/// place re-evaluated), its displacement statistic and the best place within the tolerance.
struct Searched {
    place: (f64, f64),
    new_search: bool,
    statistic: f64,
    within: (f64, f64),
    /// Ruled out by the screen, not searched: its statistic is not known.
    screened: bool,
}

impl Searched {
    /// A candidate the screen ruled out.
    const SCREENED: Self = Self {
        place: (0.0, 0.0),
        new_search: false,
        statistic: 0.0,
        within: (0.0, 0.0),
        screened: true,
    };
}

/// Each candidate's silent partners, in the pairs' order.
fn silent_partners(
    net: &PairNetwork,
    active: &[bool],
    candidates: &[(usize, f64)],
) -> Vec<Vec<usize>> {
    let mut slot = vec![usize::MAX; net.keys.len()];
    for (i, &(hotspot, _)) in candidates.iter().enumerate() {
        slot[hotspot] = i;
    }
    let mut unheard: Vec<Vec<usize>> = vec![Vec::new(); candidates.len()];
    for (a, b, _) in net.silent.active(active) {
        if let Some(list) = unheard.get_mut(slot[a]) {
            list.push(b);
        }
        if let Some(list) = unheard.get_mut(slot[b]) {
            list.push(a);
        }
    }
    unheard
}

/// Notes the round's searches and returns the flaggable candidates, as (candidate index,
/// statistic), and how many new searches ran.
fn flaggable(
    net: &PairNetwork,
    round: &Round,
    rounds: &mut Rounds,
    candidates: &[(usize, f64)],
    outcomes: &[Searched],
    config: &DefenceConfig,
) -> (Vec<(usize, f64)>, usize) {
    let mut searches = 0;
    let mut flaggable = Vec::new();
    for (i, (&(hotspot, at_assertion), outcome)) in candidates.iter().zip(outcomes).enumerate() {
        let (place, displacement) = (outcome.place, outcome.statistic);
        let new_search = outcome.new_search;
        if new_search {
            searches += 1;
            rounds.searched[hotspot] = Some(place);
            rounds.touched[hotspot] = false;
        }
        tracing::trace!(
            hotspot = %poc::keys::Address(net.keys[hotspot]),
            links = round.links[hotspot].len(),
            at_assertion,
            displacement,
            offset_m = place.0.hypot(place.1),
            "misplaced_location candidate"
        );
        if is_flaggable(displacement, place, config) {
            flaggable.push((i, displacement));
        }
    }
    (flaggable, searches)
}

/// The hotspots flagged this round, worst first (the later hotspot first among equals). A
/// hotspot is flagged unless it shares a pair, heard or silent, with a worse one: flagging that
/// one drops the pair and changes its statistic, which is then computed again next round.
/// Hotspots that share no pair with a worse one are flagged together, as they would be one
/// after another (only the law's refit between them differs), so that many misplaced hotspots
/// take a few rounds rather than one round each.
fn choose(
    mut flaggable: Vec<(usize, f64)>,
    candidates: &[(usize, f64)],
    links: &[Vec<Link>],
    unheard: &[Vec<usize>],
) -> Vec<(usize, f64)> {
    flaggable.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(candidates[b.0].0.cmp(&candidates[a.0].0))
    });
    let mut waits = vec![false; links.len()];
    let mut chosen: Vec<(usize, f64)> = Vec::new();
    for (i, displacement) in flaggable {
        let hotspot = candidates[i].0;
        if !waits[hotspot] {
            chosen.push((hotspot, displacement));
        }
        // Whether flagged now or left for later, its fate can change its partners'.
        for link in &links[hotspot] {
            waits[link.other] = true;
        }
        for &other in &unheard[i] {
            waits[other] = true;
        }
    }
    chosen
}

/// Flags `chosen`, drops their pairs and marks their partners as touched.
fn flag(net: &mut PairNetwork, rounds: &mut Rounds, chosen: &[(usize, f64)]) {
    let mut dropped = vec![false; net.keys.len()];
    for &(hotspot, ratio) in chosen {
        rounds.flagged.insert(net.keys[hotspot], ratio);
        dropped[hotspot] = true;
    }
    let touched = &mut rounds.touched;
    net.heard.retain(|&(a, b, _)| {
        if dropped[a] || dropped[b] {
            touched[a] = true;
            touched[b] = true;
            false
        } else {
            true
        }
    });
    for (a, b, _) in net.silent.active(&rounds.active) {
        if dropped[a] || dropped[b] {
            touched[a] = true;
            touched[b] = true;
        }
    }
    for &(hotspot, _) in chosen {
        rounds.active[hotspot] = false;
    }
}

/// [`misplaced_locations`], and how many rounds (law fits) it took.
fn misplaced_locations_in_rounds(
    evidence: &Evidence,
    config: &DefenceConfig,
    screen: bool,
) -> (BTreeMap<Key, f64>, usize) {
    let mut net = PairNetwork::of(evidence, config);
    let n = net.keys.len();
    let mut rounds = Rounds {
        active: vec![true; n],
        searched: vec![None; n],
        touched: vec![false; n],
        flagged: BTreeMap::new(),
        count: 0,
    };
    loop {
        rounds.count += 1;
        let timer = std::time::Instant::now();
        let Some(round) = Round::fit(&net, &rounds.active, config) else {
            return (rounds.flagged, rounds.count);
        };
        let fitted_s = timer.elapsed().as_secs_f64();
        let candidates = round.candidates(&net, config);
        let unheard = silent_partners(&net, &rounds.active, &candidates);
        let mut outcomes = round.search(&net, &rounds, &candidates, &unheard, config, screen);
        if config.single_source_excused {
            let (net, rounds) = (&net, &rounds);
            round.excuse_by_one_neighbour(
                net,
                rounds,
                &candidates,
                &unheard,
                &mut outcomes,
                config,
            );
        }
        let screened = outcomes.iter().filter(|outcome| outcome.screened).count();
        let (flaggable, searches) =
            flaggable(&net, &round, &mut rounds, &candidates, &outcomes, config);
        let chosen = choose(flaggable, &candidates, &round.links, &unheard);
        tracing::debug!(
            fit_s = fitted_s,
            round_s = timer.elapsed().as_secs_f64(),
            heard = net.heard.len(),
            silent = net.silent.active(&rounds.active).count(),
            candidates = candidates.len(),
            screened,
            searches,
            flagged = chosen.len(),
            "misplaced_location round"
        );
        if chosen.is_empty() {
            return (rounds.flagged, rounds.count);
        }
        flag(&mut net, &mut rounds, &chosen);
    }
}

/// Hotspots a piece of [`SilentPairs`] covers.
const SILENT_PIECE: usize = 2_048;

/// Silent pairs `(a, b)`, `a < b`, of the hotspots `a` of one piece, in the order found, with
/// `x = 10·log10 d` of each.
struct SilentPiece {
    pairs: Vec<(u32, u32)>,
    xs: Vec<f64>,
}

/// Every silent pair once, by `a` and then in the order the buckets give, with its
/// `x = 10·log10 d` computed once.
struct SilentPairs {
    pieces: Vec<SilentPiece>,
}

impl SilentPairs {
    /// The pairs of hotspots in play (all of them in `buckets`) asserted from
    /// `location_silent_min_m` to [`MAX_SILENT_DISTANCE_M`] apart for which `silent(a, b)`
    /// holds (`a < b`), found on every core.
    fn find(
        positions: &[Point],
        buckets: &Buckets,
        in_play: &[bool],
        config: &DefenceConfig,
        silent: impl Fn(usize, usize) -> bool + Sync,
    ) -> Self {
        let pieces = crate::parallel::map_ranges(positions.len(), SILENT_PIECE, |range| {
            let mut piece = SilentPiece {
                pairs: Vec::new(),
                xs: Vec::new(),
            };
            for a in range.filter(|&a| in_play[a]) {
                buckets.within_with_points(&positions[a], MAX_SILENT_DISTANCE_M, |b, at| {
                    if a < b && squared_between(&positions[a], at) <= MAX_SILENT_SQUARED {
                        let apart = between(&positions[a], at);
                        if (config.location_silent_min_m..=MAX_SILENT_DISTANCE_M).contains(&apart)
                            && silent(a, b)
                        {
                            piece.pairs.push((a as u32, b as u32));
                            piece.xs.push(log_distance(apart));
                        }
                    }
                });
            }
            piece
        });
        Self { pieces }
    }

    /// `(a, b, x)` of each pair of two `active` hotspots, in order.
    fn active<'a>(
        &'a self,
        active: &'a [bool],
    ) -> impl Iterator<Item = (usize, usize, f64)> + Clone + 'a {
        self.pieces
            .iter()
            .flat_map(|piece| piece.pairs.iter().zip(&piece.xs))
            .map(|(&(a, b), &x)| (a as usize, b as usize, x))
            .filter(|&(a, b, _)| active[a] && active[b])
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
    fn an_edge_hotspot_asserted_outward_is_flagged() {
        // The middle of the northern row, asserted 3 km further north: away from every
        // neighbour at once, seen by the few that hear it across the grid.
        let edge = 6 * 7 + 3;
        for seed in 0..3 {
            let (evidence, keys) = network(&[edge], 3_000.0, seed);
            let flagged = misplaced_locations(&evidence, &DefenceConfig::default());
            assert_eq!(
                flagged.keys().collect::<Vec<_>>(),
                vec![&keys[edge]],
                "seed {seed}: {flagged:?}"
            );
        }
    }

    #[test]
    fn misplaced_hotspots_that_share_no_pair_are_flagged_in_one_round() {
        // Berlin and Munich, 500 km apart: no pair between the two grids.
        let (mut evidence, berlin) = network(&[17], 4_000.0, 3);
        let (munich, keys) = network_at((48.10, 11.50), 100, &[24], 4_000.0, 4);
        evidence.locations.extend(munich.locations);
        evidence.beacons.extend(munich.beacons);
        let (flagged, rounds) =
            misplaced_locations_in_rounds(&evidence, &DefenceConfig::default(), true);
        assert_eq!(
            flagged.keys().collect::<Vec<_>>(),
            vec![&berlin[17], &keys[24]],
            "{flagged:?}"
        );
        // One round flags both, the next finds nothing more.
        assert_eq!(rounds, 2);
        // Within one grid every hotspot shares a pair with every other: one flag a round.
        let spoofed = [8, 17, 22];
        let (evidence, _) = network(&spoofed, 4_000.0, 0);
        let (flagged, rounds) =
            misplaced_locations_in_rounds(&evidence, &DefenceConfig::default(), true);
        assert_eq!((flagged.len(), rounds), (3, 4), "{flagged:?}");
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
    fn an_edge_hotspot_in_a_hollow_is_not_taken_for_one_standing_outward() {
        // The middle of the northern row, where it asserted, in a hollow: every link 8 dB
        // weaker, and the links that fall below the law's reach at 6 km not heard at all.
        let edge = 6 * 7 + 3;
        let reach_db = -40.0 - 35.0 * 6_000f64.log10();
        for seed in 0..3 {
            let (mut evidence, keys) = network(&[], 0.0, seed);
            for beacon in &mut evidence.beacons {
                let hollow = beacon.beaconer == keys[edge];
                beacon.witnesses.retain_mut(|(witness, gain)| {
                    if hollow || *witness == keys[edge] {
                        *gain -= 8.0;
                        return *gain > reach_db;
                    }
                    true
                });
            }
            let flagged = misplaced_locations(&evidence, &DefenceConfig::default());
            assert!(flagged.is_empty(), "seed {seed}: {flagged:?}");
        }
    }

    /// [`network`] of honest hotspots where hotspot `next_to` hears and is heard only within
    /// `reach_m`, with one more key whose radio stands `apart_m` east of it and which asserts
    /// a place `asserted_m` further east. That key hears and is heard by `next_to` alone, too
    /// few links for it to be judged itself.
    fn network_with_a_lone_spoofer(
        next_to: usize,
        reach_m: f64,
        (apart_m, asserted_m): (f64, f64),
        seed: u64,
    ) -> (Evidence, Vec<Key>, Key) {
        let (mut evidence, keys) = network(&[], 0.0, seed);
        let place = |key: &Key| h3_coverage::centre(evidence.locations[key]);
        let within_reach =
            |a: &Key, b: &Key| h3_coverage::distance_between_m(place(a), place(b)) <= reach_m;
        let mut beacons = std::mem::take(&mut evidence.beacons);
        for beacon in &mut beacons {
            let beaconer = beacon.beaconer;
            beacon.witnesses.retain(|(witness, _)| {
                (beaconer != keys[next_to] && *witness != keys[next_to])
                    || within_reach(&beaconer, witness)
            });
        }
        evidence.beacons = beacons;
        let spoofer = [200u8; 32];
        let honest = h3_coverage::centre(evidence.locations[&keys[next_to]]);
        let east = |m: f64| 1.0 / (111_320.0 * honest.0.to_radians().cos()) * m;
        let asserted = (honest.0, honest.1 + east(apart_m + asserted_m));
        let cell = h3_coverage::cell_at(asserted.0, asserted.1).expect("valid coordinates");
        evidence.locations.insert(spoofer, cell);
        let gain = -40.0 - 35.0 * apart_m.log10();
        evidence.beacons.push(BeaconEvidence {
            beaconer: spoofer,
            witnesses: vec![(keys[next_to], gain)],
        });
        let beacon = evidence
            .beacons
            .iter_mut()
            .find(|b| b.beaconer == keys[next_to])
            .expect("every hotspot beacons");
        beacon.witnesses.push((spoofer, gain));
        (evidence, keys, spoofer)
    }

    #[test]
    fn a_hotspot_is_not_flagged_for_one_misplaced_neighbour() {
        // The north-east corner, whose neighbours all lie south and west and which hears
        // them to 2.5 km: its one loud link to a key 300 m east of it, asserted 3.5 km
        // further east, pulls its best place east, and without that neighbour it stands
        // where it asserted.
        let corner = 7 * 7 - 1;
        let config = DefenceConfig::default();
        for seed in 0..3 {
            let (evidence, keys, _) =
                network_with_a_lone_spoofer(corner, 2_500.0, (300.0, 3_500.0), seed);
            let flagged = misplaced_locations(&evidence, &config);
            assert!(
                !flagged.contains_key(&keys[corner]),
                "seed {seed}: {flagged:?}"
            );
            // The whole evidence alone would have flagged it.
            let net = PairNetwork::of(&evidence, &config);
            let active = vec![true; net.keys.len()];
            let round = Round::fit(&net, &active, &config).expect("enough pairs");
            let at = net
                .keys
                .iter()
                .position(|k| *k == keys[corner])
                .expect("located");
            let candidates = vec![(at, 0.0)];
            let unheard = silent_partners(&net, &active, &candidates);
            let fit = round.fit_of(&net, at, &unheard[0]);
            let at_assertion = fit.deviance((0.0, 0.0));
            let silent = SilentPartners::of(&fit);
            let best = best_point(&fit, &silent, at_assertion);
            let (statistic, _) = displacement(&fit, &silent, &config, best, at_assertion);
            assert!(
                is_flaggable(statistic, best.0, &config),
                "seed {seed}: {statistic} at {:?}",
                best.0
            );
        }
    }

    /// Networks honest and spoofed, with spoofs from 0.3 to 6 km, one or several spoofers,
    /// a lone spoofer and a hollow.
    fn networks_for_the_screen() -> Vec<Evidence> {
        let mut networks = Vec::new();
        for seed in 0..4 {
            networks.push(network(&[], 0.0, seed).0);
            networks.push(network(&[24], 300.0, seed).0);
            networks.push(network(&[3], 1_800.0, seed).0);
            networks.push(network(&[10, 11], 2_500.0, seed).0);
            networks.push(network(&[8, 17, 22], 4_000.0, seed).0);
            networks.push(network(&[6 * 7 + 3], 6_000.0, seed).0);
            let corner = 7 * 7 - 1;
            networks.push(network_with_a_lone_spoofer(corner, 2_500.0, (300.0, 3_500.0), seed).0);
        }
        networks
    }

    #[test]
    fn the_grids_skipping_blocks_find_the_point_every_point_finds() {
        let config = DefenceConfig::default();
        for (n, evidence) in networks_for_the_screen().iter().enumerate().step_by(3) {
            let net = PairNetwork::of(evidence, &config);
            let active = vec![true; net.keys.len()];
            let round = Round::fit(&net, &active, &config).expect("enough pairs");
            let all: Vec<(usize, f64)> = (0..net.keys.len()).map(|k| (k, 0.0)).collect();
            let unheard = silent_partners(&net, &active, &all);
            for (hotspot, unheard) in unheard.iter().enumerate() {
                let fit = round.fit_of(&net, hotspot, unheard);
                let silent = SilentPartners::of(&fit);
                let start = ((0.0, 0.0), fit.deviance((0.0, 0.0)));
                let grid = bounds::Grid {
                    corner: (-6_000.0, -5_000.0),
                    step: 400.0,
                    points: 31,
                };
                let mut skipping = start;
                bounds::search_grid(&fit, &silent, grid, &|_| true, &mut skipping);
                let mut every = start;
                for i in 0..grid.points {
                    for j in 0..grid.points {
                        let place = (
                            grid.corner.0 + i as f64 * grid.step,
                            grid.corner.1 + j as f64 * grid.step,
                        );
                        let value = fit.deviance(place);
                        if value < every.1 {
                            every = (place, value);
                        }
                    }
                }
                assert_eq!(skipping, every, "network {n}, hotspot {hotspot}");
            }
        }
    }

    #[test]
    fn the_range_of_the_residual_sum_holds_every_place_of_its_square() {
        let config = DefenceConfig::default();
        let (evidence, _) = network(&[8], 3_000.0, 5);
        let net = PairNetwork::of(&evidence, &config);
        let active = vec![true; net.keys.len()];
        let round = Round::fit(&net, &active, &config).expect("enough pairs");
        let mut rng = StdRng::seed_from_u64(9);
        for hotspot in 0..net.keys.len() {
            let fit = round.fit_of(&net, hotspot, &[]);
            for radius in [30.0, 300.0, 1_000.0, 3_000.0] {
                let centre = (rng.gen_range(-4e3..4e3), rng.gen_range(-4e3..4e3));
                let (low, high) = fit.residual_sum_range(centre, radius);
                for _ in 0..50 {
                    let angle: f64 = rng.gen_range(0.0..std::f64::consts::TAU);
                    let length = radius * rng.gen_range(0.0f64..1.0).sqrt();
                    let place = (
                        centre.0 + length * angle.cos(),
                        centre.1 + length * angle.sin(),
                    );
                    let sum: f64 = fit.residual_intervals(place, 0.0).map(|(r, _)| r).sum();
                    assert!(
                        low - 1e-9 <= sum && sum <= high + 1e-9,
                        "{low} {sum} {high}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_screen_changes_no_verdict() {
        let config = DefenceConfig::default();
        let strict = DefenceConfig {
            location_max_ratio: 4.0,
            location_min_offset_m: 1_200.0,
            ..config.clone()
        };
        for (n, evidence) in networks_for_the_screen().iter().enumerate() {
            for config in [&config, &strict] {
                let screened = misplaced_locations_in_rounds(evidence, config, true);
                let searched = misplaced_locations_in_rounds(evidence, config, false);
                assert_eq!(screened, searched, "network {n}");
            }
        }
    }

    #[test]
    fn the_screen_rules_out_most_honest_hotspots_and_no_spoofer() {
        let config = DefenceConfig::default();
        let (mut candidates, mut screened) = (0, 0);
        for seed in 0..4 {
            let spoofed = [8, 17, 22];
            let (evidence, keys) = network(&spoofed, 4_000.0, seed);
            let net = PairNetwork::of(&evidence, &config);
            let active = vec![true; net.keys.len()];
            let round = Round::fit(&net, &active, &config).expect("enough pairs");
            let listed = round.candidates(&net, &config);
            let unheard = silent_partners(&net, &active, &listed);
            for (&(hotspot, at_assertion), unheard) in listed.iter().zip(&unheard) {
                let fit = round.fit_of(&net, hotspot, unheard);
                let ruled_out = bounds::cannot_be_flagged(
                    &fit,
                    &SilentPartners::of(&fit),
                    at_assertion,
                    config.location_tolerance_m,
                    config.location_min_offset_m,
                    config.location_max_ratio,
                );
                let spoofer = spoofed.iter().any(|&k| keys[k] == net.keys[hotspot]);
                assert!(!(spoofer && ruled_out), "seed {seed}: a spoofer ruled out");
                candidates += 1;
                screened += usize::from(ruled_out);
            }
        }
        assert!(candidates > 100, "{candidates} candidates");
        assert!(
            screened * 100 >= candidates * 85,
            "{screened} of {candidates} ruled out"
        );
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

    #[test]
    fn binned_silent_pairs_fit_the_law_of_every_pair() {
        let mut rng = StdRng::seed_from_u64(5);
        let heard: Vec<(f64, f64)> = (0..2_000)
            .map(|_| {
                let d: f64 = rng.gen_range(300.0..6_000.0);
                let shadow = rng.sample::<f64, _>(rand_distr::StandardNormal) * 6.0;
                (d, -40.0 - 35.0 * d.log10() + shadow)
            })
            .collect();
        let silent: Vec<f64> = (0..20_000)
            .map(|_| rng.gen_range(500.0..25_000.0))
            .collect();
        let every_pair: Vec<(f64, f64)> = silent.iter().map(|&d| (log_distance(d), 1.0)).collect();
        let exact = PathLaw::fit_binned(&heard, &every_pair).expect("enough pairs");
        let binned = PathLaw::fit(&heard, &silent).expect("enough pairs");
        assert!(silent_bins(&silent).len() < silent.len() / 2);
        assert!(
            (exact.exponent - binned.exponent).abs() < 1e-6,
            "{exact:?} {binned:?}"
        );
        assert!(
            (exact.sigma_db - binned.sigma_db).abs() < 1e-6,
            "{exact:?} {binned:?}"
        );
        assert!(
            (exact.intercept_db - binned.intercept_db).abs() < 1e-5,
            "{exact:?} {binned:?}"
        );
        assert!(
            exact.exponent > 2.5,
            "the law must be fitted, not clamped: {exact:?}"
        );
    }

    #[test]
    fn the_silence_slope_agrees_with_the_values() {
        let law = PathLaw {
            intercept_db: -40.0,
            exponent: 3.5,
            sigma_db: 6.0,
            threshold_db: -165.0,
        };
        let table = SilenceTable::new(law);
        for i in 0..400 {
            let x = -2.0 + i as f64 * 0.173;
            let h = 1e-5;
            let numeric =
                (table.silence_deviance_at(x + h) - table.silence_deviance_at(x - h)) / (2.0 * h);
            let (value, slope) = table.silence_value_and_slope_at(x);
            assert!(
                (value - table.silence_deviance_at(x)).abs() < 1e-12,
                "x {x}"
            );
            assert!(
                (slope - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                "x {x}: {slope} against {numeric}"
            );
            assert!(
                (law.silence_slope_at(x) - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                "x {x}"
            );
        }
    }

    #[test]
    fn the_silence_table_agrees_with_the_law() {
        for law in [
            PathLaw {
                intercept_db: -40.0,
                exponent: 3.5,
                sigma_db: 6.0,
                threshold_db: -140.0,
            },
            PathLaw {
                intercept_db: -78.6,
                exponent: 2.0,
                sigma_db: 1.0,
                threshold_db: -148.0,
            },
            PathLaw {
                intercept_db: 10.0,
                exponent: 6.0,
                sigma_db: 1.0,
                threshold_db: -130.0,
            },
        ] {
            let table = SilenceTable::new(law);
            for i in 0..20_000 {
                let d = 1.0 + i as f64 * i as f64 * 0.01;
                let (exact, read) = (law.silence_deviance(d), table.silence_deviance(d));
                assert!(
                    (exact - read).abs() <= 1e-7 * exact.abs().max(1.0),
                    "{law:?} at {d} m: {exact} vs {read}"
                );
            }
        }
    }
}
