//! Places as points in space (Earth-centred, metres) and a spatial index of them: distances
//! between places are chords, which differ from great-circle distances by less than a millimetre
//! over 25 km, and finding the places near one costs a few lookups wherever it is on Earth.

use std::collections::HashMap;

/// Mean Earth radius, metres.
pub const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// A place as a point in space (Earth-centred, metres).
pub type Point = [f64; 3];

/// A `(lat, lon)` place in degrees as a point in space.
pub fn point_at((lat, lon): (f64, f64)) -> Point {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [
        EARTH_RADIUS_M * lat.cos() * lon.cos(),
        EARTH_RADIUS_M * lat.cos() * lon.sin(),
        EARTH_RADIUS_M * lat.sin(),
    ]
}

/// The straight-line (chord) distance between two points, metres.
pub fn between(a: &Point, b: &Point) -> f64 {
    squared_between(a, b).sqrt()
}

/// The square of [`between`].
pub fn squared_between(a: &Point, b: &Point) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

/// Points sorted into cubes of a given side in space: every point within that distance of a
/// place lies in the place's cube or one of the 26 around it.
pub struct Buckets {
    side_m: f64,
    /// The points of each cube, by index, with the point (kept beside the index, so that a
    /// cube's points are read from one place in memory).
    cubes: HashMap<[i64; 3], Vec<(usize, Point)>>,
}

impl Buckets {
    /// The points (by index) for which `keep` holds, in cubes of `side_m` metres.
    pub fn new(points: &[Point], side_m: f64, keep: impl Fn(usize) -> bool) -> Self {
        let mut buckets = Self {
            side_m,
            cubes: HashMap::new(),
        };
        for (index, point) in points.iter().enumerate() {
            if keep(index) {
                let cube = buckets.cube_of(point);
                buckets.cubes.entry(cube).or_default().push((index, *point));
            }
        }
        buckets
    }

    /// Orders each cube's points by place (then by index), so that what is visited around a
    /// place comes in one order whatever order the points were given in.
    pub fn sort_by_place(&mut self) {
        for members in self.cubes.values_mut() {
            members.sort_by(|(i, a), (j, b)| {
                (a.iter().zip(b))
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(i.cmp(j))
            });
        }
    }

    fn cube_of(&self, point: &Point) -> [i64; 3] {
        point.map(|coordinate| (coordinate / self.side_m).floor() as i64)
    }

    /// Calls `f` with every kept point in the cubes around `point` (a superset of those closer
    /// than the side).
    pub fn around(&self, point: &Point, mut f: impl FnMut(usize)) {
        self.around_with_points(point, |index, _| f(index));
    }

    /// [`Buckets::around`], with each point too.
    pub fn around_with_points(&self, point: &Point, f: impl FnMut(usize, &Point)) {
        self.within_with_points(point, f64::INFINITY, f);
    }

    /// [`Buckets::around`], with each point too, leaving out the cubes that hold no place
    /// closer than `radius_m` to `point`.
    pub fn within_with_points(
        &self,
        point: &Point,
        radius_m: f64,
        mut f: impl FnMut(usize, &Point),
    ) {
        let cube = self.cube_of(point);
        // A metre of margin against rounding: a cube left out is surely too far.
        let radius_squared = (radius_m + 1.0) * (radius_m + 1.0);
        for dx in -1..=1 {
            for dy in -1..=1 {
                for dz in -1..=1 {
                    let other = [cube[0] + dx, cube[1] + dy, cube[2] + dz];
                    if self.gap_squared(point, &other) > radius_squared {
                        continue;
                    }
                    if let Some(members) = self.cubes.get(&other) {
                        members.iter().for_each(|(m, p)| f(*m, p));
                    }
                }
            }
        }
    }

    /// The square of the distance from `point` to the nearest place of `cube`.
    fn gap_squared(&self, point: &Point, cube: &[i64; 3]) -> f64 {
        (0..3)
            .map(|axis| {
                let low = cube[axis] as f64 * self.side_m;
                let high = low + self.side_m;
                let gap = (low - point[axis]).max(point[axis] - high).max(0.0);
                gap * gap
            })
            .sum()
    }
}
