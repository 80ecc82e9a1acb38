//! Hex density scaling (HIP-17) with the parameters of HIP-104.
//!
//! Hotspots are counted per H3 cell at the finest configured level. Walking from the finest
//! level up to the coarsest, each cell's *unclipped* count is the sum of the clipped counts of
//! its children (at the finest level: the number of hotspots inside it). A cell may hold at most
//! `limit = min(max, target · max(occupied − N + 1, 1))`, where `occupied` is the number of
//! cells in its k = 1 grid disk (itself included) whose count reaches `target`; its *clipped*
//! count is `min(unclipped, limit)`. A hotspot's scale is the product, over the levels, of
//! `clipped / unclipped` of its ancestor cell at that level.
//!
//! Occupancy is tested against unclipped counts. This gives exactly the result of testing
//! clipped counts whatever order cells are visited in: when `max ≥ target`, clipping never takes
//! a count that reaches the target below it; when `max < target`, the limit is `max` whatever
//! the occupancy.

use std::collections::BTreeMap;

use crate::space::{self, Buckets, Point};

use h3o::{CellIndex, Resolution};

/// Density parameters of one H3 resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DensityLevel {
    /// The H3 resolution the parameters apply to.
    pub resolution: Resolution,
    /// `N`: how many occupied cells of a k = 1 disk are tolerated before the limit grows.
    pub neighbours: u32,
    /// The count at which a cell counts as occupied, and the unit the limit grows by.
    pub target: u32,
    /// The largest limit a cell can have.
    pub max: u32,
}

impl DensityLevel {
    /// A cell's limit given the number of occupied cells in its k = 1 disk.
    pub fn limit(&self, occupied: u64) -> u64 {
        let above = occupied.saturating_sub(u64::from(self.neighbours)) + 1;
        u64::from(self.max).min(u64::from(self.target).saturating_mul(above))
    }
}

/// The HIP-104 parameters, resolutions 4 to 10.
pub fn hip104_levels() -> Vec<DensityLevel> {
    let level = |resolution, neighbours, target, max| DensityLevel {
        resolution,
        neighbours,
        target,
        max,
    };
    vec![
        level(Resolution::Four, 2, 500, 1000),
        level(Resolution::Five, 4, 100, 200),
        level(Resolution::Six, 4, 25, 50),
        level(Resolution::Seven, 4, 5, 10),
        level(Resolution::Eight, 2, 1, 1),
        level(Resolution::Nine, 2, 1, 1),
        level(Resolution::Ten, 2, 1, 1),
    ]
}

/// Clipped and unclipped counts of the cells of one level. A count is a sum of weights: each
/// hotspot weighs 1 in the hexes' own scaling, less where it shares its place by distance.
#[derive(Debug, Default)]
struct LevelCounts {
    unclipped: BTreeMap<CellIndex, f64>,
    clipped: BTreeMap<CellIndex, f64>,
}

impl LevelCounts {
    /// `clipped / unclipped` of `cell`; 1 for a cell not counted or counted as empty.
    fn ratio(&self, cell: CellIndex) -> f64 {
        match (self.unclipped.get(&cell), self.clipped.get(&cell)) {
            (Some(&unclipped), Some(&clipped)) if unclipped > 0.0 => clipped / unclipped,
            _ => 1.0,
        }
    }
}

/// Clips the unclipped counts of one level.
fn clip(level: &DensityLevel, unclipped: BTreeMap<CellIndex, f64>) -> LevelCounts {
    let target = f64::from(level.target);
    let clipped = unclipped
        .iter()
        .map(|(&cell, &count)| {
            let occupied = cell
                .grid_disk::<Vec<_>>(1)
                .into_iter()
                .filter(|c| unclipped.get(c).is_some_and(|&n| n >= target))
                .count() as u64;
            (cell, count.min(level.limit(occupied) as f64))
        })
        .collect();
    LevelCounts { unclipped, clipped }
}

/// `levels` finest first, one per resolution (the first listed of equal resolutions).
fn finest_first(levels: &[DensityLevel]) -> Vec<DensityLevel> {
    let mut levels: Vec<DensityLevel> = levels.to_vec();
    // Stable sort: the first listed of equal resolutions comes first and is kept.
    levels.sort_by_key(|level| std::cmp::Reverse(level.resolution));
    levels.dedup_by(|later, earlier| later.resolution == earlier.resolution);
    levels
}

/// The hierarchical clipping of `levels` (finest first) over hotspots of the given weights:
/// each hotspot's product of `clipped / unclipped` of its ancestors, in input order; 0 for a
/// hotspot whose cell is coarser than the finest level.
fn clipped_ratios(cells: &[CellIndex], weights: &[f64], levels: &[DensityLevel]) -> Vec<f64> {
    // Each hotspot's ancestors, finest level first; `None` when it cannot be placed.
    let ancestors: Vec<Option<Vec<CellIndex>>> = cells
        .iter()
        .map(|cell| {
            levels
                .iter()
                .map(|level| cell.parent(level.resolution))
                .collect()
        })
        .collect();

    let mut counts: Vec<LevelCounts> = Vec::with_capacity(levels.len());
    for (i, level) in levels.iter().enumerate() {
        let mut unclipped: BTreeMap<CellIndex, f64> = BTreeMap::new();
        match counts.last() {
            None => {
                // Summed in one order whatever the input's, so that the sums are the same.
                let mut weighted: Vec<(CellIndex, f64)> = ancestors
                    .iter()
                    .zip(weights)
                    .filter_map(|(cells, &weight)| Some((cells.as_ref()?[i], weight)))
                    .collect();
                weighted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
                for (cell, weight) in weighted {
                    *unclipped.entry(cell).or_default() += weight;
                }
            }
            Some(finer) => {
                for (&child, &count) in &finer.clipped {
                    if let Some(parent) = child.parent(level.resolution) {
                        *unclipped.entry(parent).or_default() += count;
                    }
                }
            }
        }
        counts.push(clip(level, unclipped));
    }

    ancestors
        .iter()
        .map(|cells| match cells {
            None => 0.0,
            Some(cells) => cells
                .iter()
                .zip(&counts)
                .fold(1.0, |scale, (&cell, level)| scale * level.ratio(cell)),
        })
        .collect()
}

/// One scale per key: the smallest of a key listed more than once.
fn by_key<K: Ord + Clone>(hotspots: &[(K, CellIndex)], scales: Vec<f64>) -> BTreeMap<K, f64> {
    let mut by_key: BTreeMap<K, f64> = BTreeMap::new();
    for ((key, _), scale) in hotspots.iter().zip(scales) {
        by_key
            .entry(key.clone())
            .and_modify(|s| *s = s.min(scale))
            .or_insert(scale);
    }
    by_key
}

/// The HIP-17 density scale of each hotspot, given its asserted cell.
///
/// `levels` may come in any order; they are applied from the finest resolution to the coarsest,
/// and of two levels with the same resolution only the first listed is used. A hotspot whose
/// cell is coarser than the finest level cannot be placed and gets scale 0. A key listed more
/// than once is counted once per listing and gets the smallest of its scales. When every level
/// has `target` and `max` of at least 1 (as HIP-104's do), every other scale lies in (0, 1];
/// with no levels every hotspot scales 1.
pub fn density_scales<K: Ord + Clone>(
    hotspots: &[(K, CellIndex)],
    levels: &[DensityLevel],
) -> BTreeMap<K, f64> {
    let cells: Vec<CellIndex> = hotspots.iter().map(|(_, cell)| *cell).collect();
    let weights = vec![1.0; cells.len()];
    by_key(
        hotspots,
        clipped_ratios(&cells, &weights, &finest_first(levels)),
    )
}

/// The finest resolution a hotspot's cell must have to be placed by [`shared_density_scales`]
/// (that of HIP-104's finest level).
pub const SHARING_RESOLUTION: Resolution = Resolution::Ten;

/// Density scales with a hotspot's own place shared by distance instead of by small hexes.
///
/// HIP-104's resolution-8 to 10 levels (a few hundred metres and less) let one hotspot alone
/// in its hex earn a whole share and two in one hex half each, so moving an asserted location
/// a few hundred metres across a hex edge doubles or halves a share: finer than any location
/// check can verify. Here each hotspot instead weighs `1 / crowd`, where its crowd sums, over
/// every placed hotspot within `radius_m` (itself included), `1 − distance / radius_m`: a
/// share that changes by at most `moved / radius_m` per neighbour when a hotspot moves. The
/// weights then go through `coarse` (HIP-104's resolutions 4 to 7) as the hexes' counts do,
/// and a hotspot's scale is its weight times its clipping ratios. A cone of radius
/// √(3 · area / π) ≈ 840 m covers the area of a resolution-8 hex (0.74 km²), so on evenly
/// spread hotspots the two rules crowd alike. Cells coarser than [`SHARING_RESOLUTION`] get 0;
/// a key listed more than once gets the smallest of its scales.
pub fn shared_density_scales<K: Ord + Clone>(
    hotspots: &[(K, CellIndex)],
    coarse: &[DensityLevel],
    radius_m: f64,
) -> BTreeMap<K, f64> {
    let cells: Vec<CellIndex> = hotspots.iter().map(|(_, cell)| *cell).collect();
    let weights: Vec<f64> = crowds(&cells, radius_m)
        .into_iter()
        .map(|crowd| crowd.map_or(0.0, |crowd| 1.0 / crowd))
        .collect();
    let ratios = clipped_ratios(&cells, &weights, &finest_first(coarse));
    let scales = weights.iter().zip(ratios).map(|(w, r)| w * r).collect();
    by_key(hotspots, scales)
}

/// Each placed hotspot's crowd: `Σ max(0, 1 − d / radius_m)` over the placed hotspots, itself
/// included (so at least 1), with `d` the chord between cell centres (within a millimetre of
/// the great-circle distance at these ranges); `None` for a cell coarser than
/// [`SHARING_RESOLUTION`]. Each crowd is summed in one order whatever the input's.
fn crowds(cells: &[CellIndex], radius_m: f64) -> Vec<Option<f64>> {
    let radius_m = if radius_m.is_finite() {
        radius_m.max(0.0)
    } else {
        0.0
    };
    let placed = |cell: &CellIndex| cell.parent(SHARING_RESOLUTION).is_some();
    let points: Vec<Point> = cells
        .iter()
        .map(|cell| space::point_at(crate::centre(*cell)))
        .collect();
    let mut buckets = Buckets::new(&points, radius_m.max(1.0), |i| placed(&cells[i]));
    buckets.sort_by_place();
    cells
        .iter()
        .zip(&points)
        .map(|(cell, point)| {
            placed(cell).then(|| {
                let mut crowd = 0.0;
                buckets.within_with_points(point, radius_m, |_, other| {
                    crowd += cone(space::between(point, other), radius_m);
                });
                crowd
            })
        })
        .collect()
}

/// `1 − distance / radius`, or 0 beyond the radius; 1 at distance 0 whatever the radius.
fn cone(distance_m: f64, radius_m: f64) -> f64 {
    if distance_m <= 0.0 {
        1.0
    } else if distance_m >= radius_m {
        0.0
    } else {
        1.0 - distance_m / radius_m
    }
}

/// HIP-104's coarse levels, resolutions 4 to 7: those [`shared_density_scales`] clips with.
pub fn hip104_coarse_levels() -> Vec<DensityLevel> {
    hip104_levels()
        .into_iter()
        .filter(|level| level.resolution <= Resolution::Seven)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cell12(lat: f64, lon: f64) -> CellIndex {
        h3o::LatLng::new(lat, lon)
            .unwrap()
            .to_cell(Resolution::Twelve)
    }

    #[test]
    fn hip104_table() {
        let levels = hip104_levels();
        assert_eq!(levels.len(), 7);
        let r7 = levels
            .iter()
            .find(|l| l.resolution == Resolution::Seven)
            .unwrap();
        assert_eq!((r7.neighbours, r7.target, r7.max), (4, 5, 10));
        assert_eq!(r7.limit(0), 5);
        assert_eq!(r7.limit(4), 5);
        assert_eq!(r7.limit(5), 10);
        assert_eq!(r7.limit(7), 10);
    }

    #[test]
    fn a_lone_hotspot_scales_one() {
        let scales = density_scales(&[("a", cell12(48.85, 2.35))], &hip104_levels());
        assert_eq!(scales["a"], 1.0);
        let none: BTreeMap<&str, f64> = density_scales(&[], &hip104_levels());
        assert!(none.is_empty());
    }

    #[test]
    fn hotspots_in_one_res8_hex_share_its_limit() {
        // Ten hotspots in ten different resolution-11 cells of one resolution-8 hex.
        let res8 = cell12(40.0, -100.0).parent(Resolution::Eight).unwrap();
        let cells: Vec<CellIndex> = res8
            .children(Resolution::Twelve)
            .step_by(97)
            .take(10)
            .collect();
        let hotspots: Vec<(usize, CellIndex)> = cells.into_iter().enumerate().collect();
        let scales = density_scales(&hotspots, &hip104_levels());
        assert_eq!(scales.len(), 10);
        let sum: f64 = scales.values().sum();
        // An isolated resolution-8 hex holds at most one hotspot's worth.
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        assert!(scales.values().all(|&s| s > 0.0 && s <= 1.0));
    }

    #[test]
    fn two_hotspots_in_one_cell_halve() {
        let cell = cell12(10.0, 10.0);
        let scales = density_scales(&[(1, cell), (2, cell)], &hip104_levels());
        assert_eq!(scales[&1], 0.5);
        assert_eq!(scales[&2], 0.5);
    }

    #[test]
    fn unplaceable_hotspots_get_zero_and_no_levels_gives_one() {
        let coarse = cell12(10.0, 10.0).parent(Resolution::Five).unwrap();
        let fine = cell12(10.0, 10.0);
        let scales = density_scales(&[(1, coarse), (2, fine)], &hip104_levels());
        assert_eq!(scales[&1], 0.0);
        assert_eq!(scales[&2], 1.0);
        let scales = density_scales(&[(1, fine), (2, fine)], &[]);
        assert_eq!(scales[&1], 1.0);
    }

    /// Facts from Helium's `iot_verifier` test of its HIP-17 implementation: resolution-12
    /// cells in one resolution-8 hex (counted with multiplicity) and the scales it expects,
    /// rounded to four decimals.
    #[test]
    fn matches_heliums_published_example() {
        let input: &[(u64, usize)] = &[
            (631210990515536895, 3),
            (631210990515537919, 3),
            (631210990515538431, 1),
            (631210990515564031, 1),
            (631210990515589631, 1),
            (631210990515600383, 1),
            (631210990515601919, 1),
            (631210990515606527, 1),
            (631210990515722239, 2),
            (631210990515727359, 1),
            (631210990515728895, 1),
            (631210990515739647, 1),
            (631210990515874303, 1),
            (631210990515924479, 1),
            (631210990516363775, 1),
            (631210990515987455, 1),
            (631210990516590079, 1),
            (631210990516612607, 1),
            (631210990516613631, 1),
            (631210990516640767, 1),
            (631210990516876799, 1),
            (631210990516885503, 1),
            (631210990516888063, 1),
            (631210990516907007, 1),
            (631210990516912639, 1),
            (631210990516955647, 1),
            (631210990516996607, 1),
            (631210990517011455, 1),
            (631210990517016575, 1),
            (631210990517144063, 1),
            (631210990517264895, 1),
        ];
        let expected: &[(u64, f64)] = &[
            (631210990515537919, 0.0060),
            (631210990516955647, 0.0417),
            (631210990516885503, 0.0139),
            (631210990515601919, 0.0104),
            (631210990516590079, 0.0556),
            (631210990516888063, 0.0139),
            (631210990516640767, 0.0556),
            (631210990516907007, 0.0208),
            (631210990515874303, 0.0556),
            (631210990517011455, 0.0139),
            (631210990516363775, 0.1667),
            (631210990515589631, 0.0104),
            (631210990516996607, 0.0139),
            (631210990515600383, 0.0104),
            (631210990517016575, 0.0139),
            (631210990515606527, 0.0104),
            (631210990515739647, 0.0083),
            (631210990516613631, 0.0278),
            (631210990516876799, 0.0139),
            (631210990515924479, 0.0556),
            (631210990515538431, 0.0060),
            (631210990515536895, 0.0060),
            (631210990517144063, 0.0833),
            (631210990517264895, 0.0833),
            (631210990516612607, 0.0278),
            (631210990515722239, 0.0083),
            (631210990516912639, 0.0208),
            (631210990515727359, 0.0083),
            (631210990515564031, 0.0417),
            (631210990515728895, 0.0083),
            (631210990515987455, 0.0556),
        ];
        let mut hotspots = Vec::new();
        for &(index, n) in input {
            let cell = CellIndex::try_from(index).unwrap();
            for i in 0..n {
                hotspots.push(((index, i), cell));
            }
        }
        let scales = density_scales(&hotspots, &hip104_levels());
        for &(index, want) in expected {
            let got = scales[&(index, 0)];
            assert!(
                (got - want).abs() < 0.00005 + 1e-12,
                "{index}: {got} vs {want}"
            );
        }
        let total: f64 = scales.values().sum();
        // The resolution-8 hex is alone, so its hotspots share a single unit.
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn neighbouring_occupied_cells_raise_the_limit() {
        // HIP-104 at resolution 7: N = 4, target 5, max 10. A resolution-7 cell holding seven
        // hotspots (one per resolution-8 child) is limited to 5 when alone, and to 10 when four
        // of its neighbours also reach the target.
        let centre = cell12(30.0, 30.0).parent(Resolution::Seven).unwrap();
        let populate = |cell7: CellIndex, n: usize, hotspots: &mut Vec<(usize, CellIndex)>| {
            for child in cell7.children(Resolution::Eight).take(n) {
                let key = hotspots.len();
                hotspots.push((key, child.center_child(Resolution::Twelve).unwrap()));
            }
        };
        let mut alone = Vec::new();
        populate(centre, 7, &mut alone);
        let scales = density_scales(&alone, &hip104_levels());
        for s in scales.values() {
            assert!((s - 5.0 / 7.0).abs() < 1e-12, "{s}");
        }

        let mut crowded = Vec::new();
        populate(centre, 7, &mut crowded);
        for neighbour in centre
            .grid_disk::<Vec<_>>(1)
            .into_iter()
            .filter(|c| *c != centre)
            .take(4)
        {
            populate(neighbour, 5, &mut crowded);
        }
        let scales = density_scales(&crowded, &hip104_levels());
        // The centre's own factor is now 1; at most resolution 6 trims it (25 of 27).
        for key in 0..7 {
            assert!(scales[&key] >= 25.0 / 27.0 - 1e-12, "{}", scales[&key]);
        }
        assert!(scales.values().all(|&s| s > 0.0 && s <= 1.0));
    }

    fn offset_m(cell: CellIndex, north_m: f64, east_m: f64) -> CellIndex {
        let (lat, lon) = crate::centre(cell);
        let dlat = north_m / 111_195.0;
        let dlon = east_m / (111_195.0 * lat.to_radians().cos());
        cell12(lat + dlat, lon + dlon)
    }

    #[test]
    fn sharing_by_distance_halves_at_one_place_and_fades_with_distance() {
        let radius = 840.0;
        let coarse = hip104_coarse_levels();
        let a = cell12(37.7, -122.4);
        let lone = shared_density_scales(&[(1, a)], &coarse, radius);
        assert_eq!(lone[&1], 1.0);
        let together = shared_density_scales(&[(1, a), (2, a)], &coarse, radius);
        assert_eq!((together[&1], together[&2]), (0.5, 0.5));
        let far = shared_density_scales(&[(1, a), (2, offset_m(a, 900.0, 0.0))], &coarse, radius);
        assert_eq!((far[&1], far[&2]), (1.0, 1.0));
        // 420 m apart: each crowd is 1 + (1 − 420 / 840) = 1.5, give or take the cells' size.
        let half = shared_density_scales(&[(1, a), (2, offset_m(a, 420.0, 0.0))], &coarse, radius);
        assert!((half[&1] - 1.0 / 1.5).abs() < 0.01, "{}", half[&1]);
        assert_eq!(half[&1], half[&2]);
        let coarse_cell = a.parent(Resolution::Nine).unwrap();
        let unplaced = shared_density_scales(&[(1, a), (2, coarse_cell)], &coarse, radius);
        assert_eq!((unplaced[&1], unplaced[&2]), (1.0, 0.0));
    }

    #[test]
    fn a_short_move_across_a_hex_edge_jumps_with_hexes_and_not_with_distance() {
        // One hotspot at a resolution-8 hex's centre, another walking 850 m away from it in
        // 25 m steps: it leaves the hex within 461 m (the hex's circumradius).
        let centre = cell12(51.5, -0.12)
            .parent(Resolution::Eight)
            .unwrap()
            .center_child(Resolution::Twelve)
            .unwrap();
        let mut hex_jump = 0.0f64;
        let mut previous: Option<(CellIndex, f64, f64)> = None;
        for step in 0..=34 {
            let walker = offset_m(centre, step as f64 * 25.0, 0.0);
            let pair = [(0, centre), (1, walker)];
            let hexes = density_scales(&pair, &hip104_levels())[&0];
            let distance = shared_density_scales(&pair, &hip104_coarse_levels(), 840.0)[&0];
            if let Some((last, h, d)) = previous {
                hex_jump = hex_jump.max((hexes - h).abs());
                // 1 / crowd moves by at most the crowd's change: the step over the radius.
                let moved = crate::distance_m(last, walker);
                assert!(
                    (distance - d).abs() <= moved / 840.0 + 1e-9,
                    "{step}: {d} → {distance}"
                );
            }
            previous = Some((walker, hexes, distance));
        }
        assert_eq!(hex_jump, 0.5, "alone in the hex doubles the share");
        assert_eq!(
            previous.map(|(_, _, d)| d),
            Some(1.0),
            "850 m apart share nothing"
        );
    }

    #[test]
    fn sharing_by_distance_is_clipped_by_the_coarse_levels() {
        // Forty hotspots 1 km apart in one area: none shares its place, but resolution-7 hexes
        // hold at most 5 (or 10) of them, so every scale is below 1.
        let origin = cell12(-33.9, 18.4);
        let hotspots: Vec<(usize, CellIndex)> = (0..40)
            .map(|i| {
                (
                    i,
                    offset_m(origin, (i / 8) as f64 * 1_000.0, (i % 8) as f64 * 1_000.0),
                )
            })
            .collect();
        let scales = shared_density_scales(&hotspots, &hip104_coarse_levels(), 840.0);
        assert!(scales.values().all(|&s| s > 0.0 && s <= 1.0));
        assert!(scales.values().any(|&s| s < 1.0));
        let unclipped = shared_density_scales(&hotspots, &[], 840.0);
        assert!(unclipped.values().all(|&s| s == 1.0));
    }

    proptest! {
        #[test]
        fn crowds_match_every_pair_compared(
            points in prop::collection::vec((-300.0f64..3_000.0, -300.0f64..3_000.0), 1..40),
            lat in -70.0f64..70.0,
            radius in 0.0f64..5_000.0,
        ) {
            let origin = cell12(lat, 10.0);
            let cells: Vec<CellIndex> =
                points.iter().map(|&(n, e)| offset_m(origin, n, e)).collect();
            let got = crowds(&cells, radius);
            for (i, a) in cells.iter().enumerate() {
                let want: f64 = cells
                    .iter()
                    .map(|b| {
                        let (p, q) = (crate::centre(*a), crate::centre(*b));
                        cone(space::between(&space::point_at(p), &space::point_at(q)), radius)
                    })
                    .sum();
                let got = got[i].unwrap();
                prop_assert!((got - want).abs() < 1e-9, "{} vs {}", got, want);
            }
        }

        #[test]
        fn moving_one_hotspot_changes_a_crowd_by_at_most_the_move_over_the_radius(
            points in prop::collection::vec((0.0f64..2_000.0, 0.0f64..2_000.0), 2..20),
            moved in (0.0f64..800.0, 0.0f64..std::f64::consts::TAU),
        ) {
            let radius = 840.0;
            let origin = cell12(45.0, 7.0);
            let mut cells: Vec<CellIndex> =
                points.iter().map(|&(n, e)| offset_m(origin, n, e)).collect();
            let before = crowds(&cells, radius);
            let (distance, bearing) = moved;
            let old = cells[0];
            cells[0] = offset_m(old, distance * bearing.cos(), distance * bearing.sin());
            let actually_moved = crate::distance_m(old, cells[0]);
            let after = crowds(&cells, radius);
            for i in 1..cells.len() {
                let change = (after[i].unwrap() - before[i].unwrap()).abs();
                prop_assert!(change <= actually_moved / radius + 1e-9, "{} {}", change, actually_moved);
            }
        }

        #[test]
        fn shared_scales_are_in_range_and_ignore_order(
            points in prop::collection::vec((0.0f64..5_000.0, 0.0f64..5_000.0, 0u8..16), 0..40),
            radius in prop::num::f64::ANY,
        ) {
            let origin = cell12(52.0, 4.9);
            let hotspots: Vec<(usize, CellIndex)> = points
                .iter()
                .enumerate()
                .map(|(i, &(n, e, r))| {
                    let cell = offset_m(origin, n, e);
                    (i % 30, cell.parent(Resolution::try_from(r).unwrap()).unwrap_or(cell))
                })
                .collect();
            let levels = hip104_coarse_levels();
            let a = shared_density_scales(&hotspots, &levels, radius);
            for s in a.values() {
                prop_assert!((0.0..=1.0).contains(s), "{}", s);
            }
            let mut reversed = hotspots.clone();
            reversed.reverse();
            prop_assert_eq!(&shared_density_scales(&reversed, &levels, radius), &a);
        }
    }

    proptest! {
        #[test]
        fn scales_are_in_range_and_deterministic(
            points in prop::collection::vec((-60.0f64..60.0, -179.0f64..179.0, 0u8..4), 0..40),
            jitter in prop::collection::vec(0usize..64, 0..40),
        ) {
            // Cluster points around a few centres so that density actually bites.
            let mut hotspots = Vec::new();
            for (i, (lat, lon, cluster)) in points.iter().enumerate() {
                let (lat, lon) = if *cluster == 0 {
                    (*lat, *lon)
                } else {
                    (12.0 + f64::from(*cluster) * 0.001, 45.0 + lat * 1e-4)
                };
                let cell = cell12(lat, lon);
                let j = jitter.get(i).copied().unwrap_or(0);
                let cell = cell.parent(Resolution::Eleven).unwrap()
                    .children(Resolution::Twelve).nth(j % 7).unwrap();
                hotspots.push((i, cell));
            }
            let a = density_scales(&hotspots, &hip104_levels());
            let b = density_scales(&hotspots, &hip104_levels());
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(a.len(), hotspots.len());
            for s in a.values() {
                prop_assert!(*s > 0.0 && *s <= 1.0, "{}", s);
            }
            // Order of input does not matter.
            let mut reversed = hotspots.clone();
            reversed.reverse();
            prop_assert_eq!(&density_scales(&reversed, &hip104_levels()), &a);
        }

        #[test]
        fn arbitrary_cells_and_levels_never_panic(
            raw in prop::collection::vec((-90.0f64..90.0, -180.0f64..180.0, 0u8..16), 0..20),
            params in prop::collection::vec((0u8..16, any::<u32>(), any::<u32>(), any::<u32>()), 0..6),
        ) {
            let hotspots: Vec<(usize, CellIndex)> = raw
                .iter()
                .enumerate()
                .map(|(i, &(lat, lon, r))| {
                    let res = Resolution::try_from(r).unwrap();
                    (i % 7, h3o::LatLng::new(lat, lon).unwrap().to_cell(res))
                })
                .collect();
            let levels: Vec<DensityLevel> = params
                .iter()
                .map(|&(r, n, t, m)| DensityLevel {
                    resolution: Resolution::try_from(r).unwrap(),
                    neighbours: n,
                    target: t,
                    max: m,
                })
                .collect();
            let scales = density_scales(&hotspots, &levels);
            for s in scales.values() {
                prop_assert!((0.0..=1.0).contains(s));
            }
        }
    }
}
