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

/// Clipped and unclipped counts of the cells of one level.
#[derive(Debug, Default)]
struct LevelCounts {
    unclipped: BTreeMap<CellIndex, u64>,
    clipped: BTreeMap<CellIndex, u64>,
}

impl LevelCounts {
    /// `clipped / unclipped` of `cell`; 1 for a cell not counted or counted as empty.
    fn ratio(&self, cell: CellIndex) -> f64 {
        match (self.unclipped.get(&cell), self.clipped.get(&cell)) {
            (Some(&unclipped), Some(&clipped)) if unclipped > 0 => {
                clipped as f64 / unclipped as f64
            }
            _ => 1.0,
        }
    }
}

/// Clips the unclipped counts of one level.
fn clip(level: &DensityLevel, unclipped: BTreeMap<CellIndex, u64>) -> LevelCounts {
    let target = u64::from(level.target);
    let clipped = unclipped
        .iter()
        .map(|(&cell, &count)| {
            let occupied = cell
                .grid_disk::<Vec<_>>(1)
                .into_iter()
                .filter(|c| unclipped.get(c).is_some_and(|&n| n >= target))
                .count() as u64;
            (cell, count.min(level.limit(occupied)))
        })
        .collect();
    LevelCounts { unclipped, clipped }
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
    let mut levels: Vec<DensityLevel> = levels.to_vec();
    // Stable sort: the first listed of equal resolutions comes first and is kept.
    levels.sort_by_key(|level| std::cmp::Reverse(level.resolution));
    levels.dedup_by(|later, earlier| later.resolution == earlier.resolution);

    // Each hotspot's ancestors, finest level first; `None` when it cannot be placed.
    let ancestors: Vec<Option<Vec<CellIndex>>> = hotspots
        .iter()
        .map(|(_, cell)| {
            levels
                .iter()
                .map(|level| cell.parent(level.resolution))
                .collect()
        })
        .collect();

    let mut counts: Vec<LevelCounts> = Vec::with_capacity(levels.len());
    for (i, level) in levels.iter().enumerate() {
        let mut unclipped: BTreeMap<CellIndex, u64> = BTreeMap::new();
        match counts.last() {
            None => {
                for cells in ancestors.iter().flatten() {
                    *unclipped.entry(cells[i]).or_default() += 1;
                }
            }
            Some(finer) => {
                for (&child, &count) in &finer.clipped {
                    if let Some(parent) = child.parent(level.resolution) {
                        let entry = unclipped.entry(parent).or_default();
                        *entry = entry.saturating_add(count);
                    }
                }
            }
        }
        counts.push(clip(level, unclipped));
    }

    let mut scales: BTreeMap<K, f64> = BTreeMap::new();
    for ((key, _), cells) in hotspots.iter().zip(&ancestors) {
        let scale = match cells {
            None => 0.0,
            Some(cells) => cells
                .iter()
                .zip(&counts)
                .fold(1.0, |scale, (&cell, level)| scale * level.ratio(cell)),
        };
        scales
            .entry(key.clone())
            .and_modify(|s| *s = s.min(scale))
            .or_insert(scale);
    }
    scales
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
