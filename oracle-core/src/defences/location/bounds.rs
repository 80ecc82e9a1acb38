//! Lower bounds of a hotspot's deviance over whole squares of places, and what they spare.
//!
//! From the range of distances its neighbours can have from anywhere in a square, each heard
//! link's residual lies in an interval, and each silent pair's distance below a most: the least
//! the deviance can be anywhere in the square follows ([`Fit::deviance_lower_bound`],
//! [`Fit::profiled_lower_bound`]). Squares whose bound is above what is sought are dropped
//! whole (branch and bound), in two places:
//!
//! - **The grids of a search** ([`search_grid`]) skip the squares of points whose bound is
//!   above the best point so far: they find the same least point as evaluating every point.
//! - **The screen** ([`cannot_be_flagged`]). In a dense network nearly every hotspot's
//!   deviance at its assertion is above `location_min_deviance` (each heard link adds about
//!   1, each close silent neighbour more), yet an honest hotspot's links fit far worse
//!   anywhere a couple of kilometres away. A flag needs a best place `p` at least
//!   `location_min_offset_m` from the assertion with `D'(w) − D'(p) > location_max_ratio`,
//!   where `D'` is the profiled deviance and `w` the best place within the tolerance, whose
//!   plain deviance is at most the one at the assertion. `D'(w)` is at most the unprofiled
//!   `Σr²/σ² + silence` there: the plain deviance plus the offset's term
//!   `(Σr)²/((k + σ²/τ²)σ²)`, bounded over the tolerance's disc ([`offset_term_bound`]).
//!   `D'(p)` is at least the least over the profile's offsets of the heard part and the
//!   silence together. A hotspot whose bound shows no such `p` could not have been flagged
//!   and is not searched: the verdicts are those of searching every candidate, but for one
//!   case between rounds. A candidate a flag touched is searched anew in the next round it is
//!   not screened, where without the screen its place found in the round it was screened
//!   would have been re-evaluated (the tests found no verdict that this changed).

use super::{between, log_distance, Fit, GRID_POINTS};

/// Half-side, metres, below which a square the bound cannot rule out is left to the search.
const SMALLEST_SQUARE_M: f64 = 25.0;
/// Most squares bounded for one hotspot before it is left to the search.
const MOST_SQUARES: usize = 2_048;
/// How far, in the offset's term, its bound may stay above the largest value found.
const OFFSET_TERM_SLACK: f64 = 0.25;
/// Most steps of the search for the least over the offset.
const OFFSET_STEPS_MOST: usize = 60;
/// What the least over the offset may lose, at most, when its search stops early.
const OFFSET_LOSS: f64 = 1e-3;
/// Squares of a larger radius, metres, are bounded by their heard part alone.
const SILENCE_RADIUS_M: f64 = 1_500.0;
/// Silent partners further from the assertion than this many times its farthest heard link
/// are counted in bins.
const NEAR_SILENT_FACTOR: f64 = 1.5;
/// Width of the far silent partners' bins in `x = 10·log10 d`, dB.
const FAR_BIN_X: f64 = 0.25;
/// Silent terms below this at every offset are left out of the bound's last step.
const NEGLIGIBLE_SILENCE: f64 = 1e-3;
/// Taken off every bound for the rounding of the sums and of the silence table.
const ROUNDING_MARGIN: f64 = 1e-6;

/// Whether `fit`'s hotspot, with deviance `at_assertion` at its assertion, provably cannot be
/// flagged: no place at least `min_offset_m` from its assertion, in the square its search
/// looks at (with the finer grids' reach beyond it), can fit `max_ratio` better than the best
/// place within `tolerance_m`.
pub(super) fn cannot_be_flagged(
    fit: &Fit,
    silent: &SilentPartners,
    at_assertion: f64,
    tolerance_m: f64,
    min_offset_m: f64,
    max_ratio: f64,
) -> bool {
    let threshold = at_assertion + offset_term_bound(fit, tolerance_m) - max_ratio;
    let (centre, half_side) = super::search_square(fit);
    // The finer grids reach two coarse steps beyond the square, and a fifth of one more.
    let step = 2.0 * half_side / (GRID_POINTS - 1) as f64;
    let square = (centre, half_side + 3.0 * step);
    !fits_below_somewhere_away(fit, silent, square, min_offset_m, threshold)
}

/// A hotspot's silent partners as the bound reads them: the near ones one by one, the far
/// ones (further from the assertion than its farthest heard link, with a margin) counted in
/// bins of their distance from the assertion, rounded up.
pub(super) struct SilentPartners {
    /// `(east, north, height²)` of each near partner in the hotspot's tangent plane: its
    /// distance from a place `(e, n)` is `√((east − e)² + (north − n)² + height²)`.
    near: Vec<(f64, f64, f64)>,
    /// `(upper distance of the bin, partners)`.
    far: Vec<(f64, f64)>,
}

impl SilentPartners {
    pub(super) fn of(fit: &Fit) -> Self {
        let asserted = fit.plane.point((0.0, 0.0));
        let farthest_link = fit
            .links
            .iter()
            .map(|link| between(&asserted, &fit.positions[link.other]))
            .fold(0.0, f64::max);
        let near_m = farthest_link * NEAR_SILENT_FACTOR;
        let mut near = Vec::new();
        let mut bins: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
        for &other in fit.silent {
            let distance = between(&asserted, &fit.positions[other]);
            if distance <= near_m {
                let (east, north) = fit.plane.coordinates(&fit.positions[other]);
                let height_squared = (distance * distance - east * east - north * north).max(0.0);
                near.push((east, north, height_squared));
            } else {
                let bin = (log_distance(distance) / FAR_BIN_X).ceil() as i64;
                *bins.entry(bin).or_insert(0.0) += 1.0;
            }
        }
        let far = bins
            .into_iter()
            .map(|(bin, count)| (10f64.powf(bin as f64 * FAR_BIN_X / 10.0), count))
            .collect();
        Self { near, far }
    }

    /// The distance of each near partner from `place`.
    fn near_distances(&self, place: (f64, f64)) -> impl Iterator<Item = f64> + '_ {
        self.near.iter().map(move |&(east, north, height_squared)| {
            let (de, dn) = (east - place.0, north - place.1);
            (de * de + dn * dn + height_squared).sqrt()
        })
    }
}

/// Whether some place in `square` at least `min_offset_m` from the assertion may have a
/// profiled deviance below `threshold` (branch and bound over squares).
fn fits_below_somewhere_away(
    fit: &Fit,
    silent: &SilentPartners,
    square: ((f64, f64), f64),
    min_offset_m: f64,
    threshold: f64,
) -> bool {
    let mut squares = vec![square];
    let mut bounded = 0;
    while let Some((centre, half_side)) = squares.pop() {
        let radius = half_side * std::f64::consts::SQRT_2;
        if centre.0.hypot(centre.1) + radius < min_offset_m {
            continue;
        }
        bounded += 1;
        if fit.profiled_lower_bound(silent, centre, radius, threshold) >= threshold {
            continue;
        }
        if half_side <= SMALLEST_SQUARE_M || bounded >= MOST_SQUARES {
            return true;
        }
        let quarter = half_side / 2.0;
        for (dx, dy) in [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)] {
            squares.push(((centre.0 + dx * quarter, centre.1 + dy * quarter), quarter));
        }
    }
    false
}

/// The largest offset's term `(Σr)²/((k + σ²/τ²)σ²)` anywhere within `tolerance_m` of the
/// assertion, from above: the sum of the residuals is bounded over squares covering the disc,
/// and the squares that could hold a larger sum than found so far are split.
fn offset_term_bound(fit: &Fit, tolerance_m: f64) -> f64 {
    let scale = (fit.links.len() as f64 + fit.offset_shrink) * fit.law.sigma_db * fit.law.sigma_db;
    let term = |sum: f64| sum * sum / scale;
    let mut largest = term(
        fit.residual_intervals((0.0, 0.0), 0.0)
            .map(|(r, _)| r)
            .sum(),
    );
    let mut squares: Vec<((f64, f64), f64)> = vec![((0.0, 0.0), tolerance_m)];
    let mut bounded = 0;
    while let Some((centre, half_side)) = squares.pop() {
        let radius = half_side * std::f64::consts::SQRT_2;
        if centre.0.hypot(centre.1) - radius > tolerance_m {
            continue;
        }
        let (low, high) = fit.residual_sum_range(centre, radius);
        let above = term(f64::max(-low, high));
        bounded += 1;
        if above <= largest + OFFSET_TERM_SLACK {
            continue;
        }
        if half_side <= SMALLEST_SQUARE_M || bounded >= MOST_SQUARES {
            largest = largest.max(above);
            continue;
        }
        let at_centre = fit.residual_intervals(centre, 0.0).map(|(r, _)| r).sum();
        largest = largest.max(term(at_centre));
        let quarter = half_side / 2.0;
        for (dx, dy) in [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)] {
            squares.push(((centre.0 + dx * quarter, centre.1 + dy * quarter), quarter));
        }
    }
    largest + OFFSET_TERM_SLACK + ROUNDING_MARGIN
}

/// A square grid of `points × points` places `step` apart, `corner` the first.
#[derive(Clone, Copy)]
pub(super) struct Grid {
    pub corner: (f64, f64),
    pub step: f64,
    pub points: usize,
}

impl Grid {
    fn place(&self, i: usize, j: usize) -> (f64, f64) {
        (
            self.corner.0 + i as f64 * self.step,
            self.corner.1 + j as f64 * self.step,
        )
    }
}

/// Points a block of a grid has, at most, for its points to be evaluated one by one.
const LEAF_POINTS: usize = 16;

/// The least deviance on `grid` among the places `allowed` lets through, where below `best`
/// (the best place known before), into `best`: the place [`Fit::deviance_up_to`] finds least
/// point by point in the grid's order (the first among equals), with the blocks of points
/// whose bound is above the best so far skipped.
pub(super) fn search_grid(
    fit: &Fit,
    silent: &SilentPartners,
    grid: Grid,
    allowed: &impl Fn((f64, f64)) -> bool,
    best: &mut ((f64, f64), f64),
) {
    let mut found: Option<usize> = None;
    let all = (0..grid.points, 0..grid.points);
    search_block(fit, silent, grid, all, allowed, best, &mut found);
}

/// [`search_grid`] over the points `rows × columns` of the grid; `found` is the index, in
/// the grid's order, of the best place when it lies on the grid.
fn search_block(
    fit: &Fit,
    silent: &SilentPartners,
    grid: Grid,
    (rows, columns): (std::ops::Range<usize>, std::ops::Range<usize>),
    allowed: &impl Fn((f64, f64)) -> bool,
    best: &mut ((f64, f64), f64),
    found: &mut Option<usize>,
) {
    if rows.len() * columns.len() <= LEAF_POINTS {
        for i in rows {
            for j in columns.clone() {
                let place = grid.place(i, j);
                if !allowed(place) {
                    continue;
                }
                let value = fit.deviance_up_to(place, best.1);
                let index = i * grid.points + j;
                let earlier = found.is_some_and(|at| index < at);
                if value < best.1 || (value == best.1 && earlier) {
                    *best = (place, value);
                    *found = Some(index);
                }
            }
        }
        return;
    }
    let (first, last) = (
        grid.place(rows.start, columns.start),
        grid.place(rows.end - 1, columns.end - 1),
    );
    let centre = ((first.0 + last.0) / 2.0, (first.1 + last.1) / 2.0);
    let radius = (last.0 - first.0).hypot(last.1 - first.1) / 2.0;
    if fit.deviance_lower_bound(silent, centre, radius, best.1) > best.1 {
        return;
    }
    let (row_middle, column_middle) = (
        rows.start + rows.len() / 2,
        columns.start + columns.len() / 2,
    );
    for rows in [rows.start..row_middle, row_middle..rows.end] {
        for columns in [columns.start..column_middle, column_middle..columns.end] {
            if !rows.is_empty() && !columns.is_empty() {
                let block = (rows.clone(), columns);
                search_block(fit, silent, grid, block, allowed, best, found);
            }
        }
    }
}

impl Fit<'_> {
    /// A lower bound of [`Fit::deviance`] anywhere within `radius` of `centre`, or some value
    /// at least `limit` once it is clear that the bound is.
    fn deviance_lower_bound(
        &self,
        silent: &SilentPartners,
        centre: (f64, f64),
        radius: f64,
        limit: f64,
    ) -> f64 {
        let (_, mut bound, _) = self.least_heard(centre, radius);
        if bound - ROUNDING_MARGIN >= limit {
            return bound - ROUNDING_MARGIN;
        }
        for distance in silent.near_distances(centre) {
            bound += self.silence.silence_deviance(distance + radius);
        }
        let moved = centre.0.hypot(centre.1) + radius;
        for &(distance, count) in &silent.far {
            bound += count * self.silence.silence_deviance(distance + moved);
        }
        bound - ROUNDING_MARGIN
    }

    /// The range of the sum of the heard links' residuals anywhere within `radius` of
    /// `centre`, from its value and gradient at the centre and a bound of its curvature:
    /// a residual is `g − A + (10n/ln 10)·ln d`, whose second derivative along any line in
    /// the plane is at most `(10n/ln 10)/d²` in size. A link whose neighbour stands within
    /// twice the radius adds its own range instead.
    pub(super) fn residual_sum_range(&self, centre: (f64, f64), radius: f64) -> (f64, f64) {
        let point = self.plane.point(centre);
        let scale = 10.0 * self.law.exponent / std::f64::consts::LN_10;
        let (mut sum, mut gradient, mut curvature) = (0.0, (0.0, 0.0), 0.0);
        let (mut below, mut above) = (0.0, 0.0);
        for link in self.links {
            let position = &self.positions[link.other];
            let distance = between(&point, position);
            let residual = |d: f64| link.gain_db - self.law.expected_gain_db(d);
            let at_centre = residual(distance);
            sum += at_centre;
            if distance > 2.0 * radius {
                let (east, north) = self.plane.coordinates(position);
                let squared = distance * distance;
                gradient.0 += scale * (centre.0 - east) / squared;
                gradient.1 += scale * (centre.1 - north) / squared;
                curvature += scale / ((distance - radius) * (distance - radius));
            } else {
                below += residual((distance - radius).max(0.0)) - at_centre;
                above += residual(distance + radius) - at_centre;
            }
        }
        let spread = gradient.0.hypot(gradient.1) * radius + curvature * radius * radius / 2.0;
        (sum - spread + below, sum + spread + above)
    }

    /// The heard links' residual ranges within `radius` of `centre`, the least heard part of
    /// the deviance they allow (over σ², the offset free) and the offset where it is.
    fn least_heard(&self, centre: (f64, f64), radius: f64) -> (Vec<(f64, f64)>, f64, f64) {
        let intervals: Vec<(f64, f64)> = self.residual_intervals(centre, radius).collect();
        let (least, at) = least_heard_part(&intervals, self.offset_shrink);
        let variance = self.law.sigma_db * self.law.sigma_db;
        (intervals, least / variance, at)
    }

    /// The range of each heard link's residual anywhere within `radius` of `centre`: a gain's
    /// residual grows with the distance, which lies within `radius` of the centre's.
    pub(super) fn residual_intervals(
        &self,
        centre: (f64, f64),
        radius: f64,
    ) -> impl Iterator<Item = (f64, f64)> + '_ {
        let point = self.plane.point(centre);
        self.links.iter().map(move |link| {
            let distance = between(&point, &self.positions[link.other]);
            let residual = |d: f64| link.gain_db - self.law.expected_gain_db(d);
            (
                residual((distance - radius).max(0.0)),
                residual(distance + radius),
            )
        })
    }

    /// A lower bound of [`Fit::profiled_deviance`] anywhere within `radius` of `centre`, or
    /// some value at least `limit` once it is clear that the bound is. In three steps, each
    /// tighter and dearer, until one reaches `limit`: the heard part with the offset free; the
    /// profile's offsets in three pieces, each with its least heard part and the silence at
    /// its lowest offset; the least over the profile's offsets of the two together.
    ///
    /// Squares wider than [`SILENCE_RADIUS_M`] are bounded by their heard part alone: their
    /// residuals' ranges leave that near 0, and they are split in any case.
    fn profiled_lower_bound(
        &self,
        silent: &SilentPartners,
        centre: (f64, f64),
        radius: f64,
        limit: f64,
    ) -> f64 {
        let variance = self.law.sigma_db * self.law.sigma_db;
        let (intervals, free, at_least) = self.least_heard(centre, radius);
        if free - ROUNDING_MARGIN >= limit || radius > SILENCE_RADIUS_M {
            return free - ROUNDING_MARGIN;
        }
        let reach = self.offset_reach();
        let (exponent, table) = (self.law.exponent, self.silence);
        // The profile's offsets in pieces, each bounded by its least heard part and the
        // silence at its start: a silent pair is likelier the lower the offset.
        let starts = [-reach, -reach / 3.0, 0.0];
        let ends = [-reach / 3.0, 0.0, reach];
        let mut silences = [0.0; 3];
        // Every silent term is positive, so leaving out the ones that stay below a small
        // value at every offset keeps a lower bound, and spares the last step most of them.
        let mut farthest_x: Vec<(f64, f64)> = Vec::new();
        let mut add = |x: f64, count: f64| {
            for (silence, start) in silences.iter_mut().zip(starts) {
                *silence += count * table.silence_deviance_at(x - start / exponent);
            }
            if table.silence_deviance_at(x - reach / exponent) >= NEGLIGIBLE_SILENCE {
                farthest_x.push((x, count));
            }
        };
        for distance in silent.near_distances(centre) {
            add(log_distance(distance + radius), 1.0);
        }
        let moved = centre.0.hypot(centre.1) + radius;
        for &(distance, count) in &silent.far {
            add(log_distance(distance + moved), count);
        }
        let quick = (0..3)
            .map(|piece| {
                let offset = at_least.clamp(starts[piece], ends[piece]);
                heard_part(&intervals, self.offset_shrink, offset).0 / variance + silences[piece]
            })
            .fold(f64::INFINITY, f64::min);
        if quick - ROUNDING_MARGIN >= limit {
            return quick - ROUNDING_MARGIN;
        }
        let joint = |b: f64| {
            let (mut value, mut slope) = heard_part(&intervals, self.offset_shrink, b);
            (value, slope) = (value / variance, slope / variance);
            for &(x, count) in &farthest_x {
                let (v, s) = table.silence_value_and_slope_at(x - b / exponent);
                value += count * v;
                slope -= count * s / exponent;
            }
            (value, slope)
        };
        least_of_convex(joint, -reach, reach).max(quick) - ROUNDING_MARGIN
    }
}

/// `Σ dist(b, [loᵢ, hiᵢ])² + shrink·b²` and its slope by `b`: the heard part of the deviance
/// (times σ²) with offset `b` when each residual may lie anywhere in its interval, at its
/// least.
fn heard_part(intervals: &[(f64, f64)], shrink: f64, b: f64) -> (f64, f64) {
    let (mut value, mut slope) = (shrink * b * b, 2.0 * shrink * b);
    for &(lo, hi) in intervals {
        let outside = (b - hi).max(0.0) - (lo - b).max(0.0);
        value += outside * outside;
        slope += 2.0 * outside;
    }
    (value, slope)
}

/// The least over all `b` of [`heard_part`], exactly, and the `b` where it is: between two consecutive ends of the
/// intervals its slope is `2(b·(shrink + above + below) − (Σ hi above + Σ lo below))`, with
/// `above` the intervals wholly below `b` and `below` those wholly above it, and the segment
/// that holds the slope's zero holds the least.
fn least_heard_part(intervals: &[(f64, f64)], shrink: f64) -> (f64, f64) {
    let mut ends: Vec<(f64, bool)> = intervals
        .iter()
        .flat_map(|&(lo, hi)| [(lo, false), (hi, true)])
        .collect();
    ends.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let (mut passed, mut passed_sum) = (0.0, 0.0);
    let mut ahead = intervals.len() as f64;
    let mut ahead_sum: f64 = intervals.iter().map(|&(lo, _)| lo).sum();
    let mut start = f64::NEG_INFINITY;
    for &(end, is_high) in ends.iter().chain(std::iter::once(&(f64::INFINITY, false))) {
        let weight = shrink + passed + ahead;
        let zero = if weight > 0.0 {
            (passed_sum + ahead_sum) / weight
        } else {
            0.0
        };
        if zero <= end {
            let at = zero.max(start);
            return (heard_part(intervals, shrink, at).0, at);
        }
        if is_high {
            passed += 1.0;
            passed_sum += end;
        } else {
            ahead -= 1.0;
            ahead_sum -= end;
        }
        start = end;
    }
    (heard_part(intervals, shrink, start).0, start)
}

/// The least of a convex function on `[low, high]`, from below: the zero of its slope is
/// bracketed by regula falsi (the Illinois variant), and the value at the last point less
/// the slope there times the bracket's width bounds it.
fn least_of_convex(value_and_slope: impl Fn(f64) -> (f64, f64), low: f64, high: f64) -> f64 {
    let (at_low, slope_low) = value_and_slope(low);
    if slope_low >= 0.0 {
        return at_low;
    }
    let (at_high, slope_high) = value_and_slope(high);
    if slope_high <= 0.0 {
        return at_high;
    }
    let (mut left, mut right) = ((low, slope_low), (high, slope_high));
    let mut kept_side = 0;
    let mut bound = at_low.min(at_high) - slope_low.abs().max(slope_high) * (high - low);
    for _ in 0..OFFSET_STEPS_MOST {
        let x = (left.0 * right.1 - right.0 * left.1) / (right.1 - left.1);
        let x = if x > left.0 && x < right.0 {
            x
        } else {
            (left.0 + right.0) / 2.0
        };
        let (value, slope) = value_and_slope(x);
        if slope > 0.0 {
            right = (x, slope);
            if kept_side == -1 {
                left.1 /= 2.0;
            }
            kept_side = -1;
        } else {
            left = (x, slope);
            if kept_side == 1 {
                right.1 /= 2.0;
            }
            kept_side = 1;
        }
        let loss = slope.abs() * (right.0 - left.0);
        bound = value - loss;
        if loss < OFFSET_LOSS {
            break;
        }
    }
    bound
}

#[cfg(test)]
mod tests {
    use super::{heard_part, least_heard_part, least_of_convex};

    #[test]
    fn the_least_over_the_offset_bounds_every_choice_of_residuals_from_below() {
        // Residuals at the ends and middles of their intervals, the offset term minimised
        // exactly: `Σr² − (Σr)²/(k + s)`.
        let intervals = [(-3.0, 1.0), (2.0, 5.0), (-8.0, -6.0), (0.5, 0.7)];
        let shrink = 2.0;
        let least = |intervals: &[(f64, f64)]| {
            let exact = least_heard_part(intervals, shrink).0;
            let searched = least_of_convex(|b| heard_part(intervals, shrink, b), -10.0, 10.0);
            assert!(searched <= exact + 1e-9, "{searched} above {exact}");
            assert!(searched >= exact - 1e-3, "{searched} far below {exact}");
            exact
        };
        let bound = least(&intervals);
        for pick in 0..3usize.pow(intervals.len() as u32) {
            let residuals: Vec<f64> = intervals
                .iter()
                .enumerate()
                .map(|(i, &(lo, hi))| {
                    lo + (hi - lo) * ((pick / 3usize.pow(i as u32)) % 3) as f64 / 2.0
                })
                .collect();
            let sum: f64 = residuals.iter().sum();
            let sum_sq: f64 = residuals.iter().map(|r| r * r).sum();
            let exact = sum_sq - sum * sum / (residuals.len() as f64 + shrink);
            assert!(bound <= exact + 1e-9, "{bound} > {exact} for {residuals:?}");
        }
        // Intervals that all hold 0 allow a perfect fit.
        assert!(least(&[(-1.0, 1.0), (-0.5, 2.0)]).abs() < 1e-9);
        // Points: the bound is the exact value.
        let exact = 1.0 + 4.0 - 9.0 / (2.0 + shrink);
        let points = least(&[(1.0, 1.0), (2.0, 2.0)]);
        assert!((points - exact).abs() < 1e-6, "{points} against {exact}");
    }

    #[test]
    fn the_least_of_a_convex_function_is_found_at_an_end_or_inside() {
        let parabola = |b: f64| ((b - 1.5) * (b - 1.5) + 2.0, 2.0 * (b - 1.5));
        assert!((least_of_convex(parabola, -4.0, 4.0) - 2.0).abs() < 1e-9);
        assert_eq!(least_of_convex(parabola, 2.0, 4.0), 2.25);
        assert_eq!(least_of_convex(parabola, -4.0, 0.5), 3.0);
    }
}
