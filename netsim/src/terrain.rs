//! Terrain-correlated shadowing: the shadowing of a link is part terrain around its two ends,
//! which nearby links share, and part the link's own.
//!
//! The terrain is a Gaussian random field over the plane with unit variance: white noise on a
//! square lattice (one standard normal per lattice point, drawn from the seed and the point's
//! coordinates) smoothed by a Gaussian kernel of width `correlation_m / 2`, so that the field's
//! correlation between two places `d` apart is about `exp(-(d / correlation_m)²)` — 1/e at
//! the correlation distance, in the spirit of Gudmundson's decorrelation distance. A link
//! between places `a` and `b` is shadowed by
//!
//! ```text
//! σ · ( √ρ · (F(a) + F(b)) / √(2 + 2·R(a, b))  +  √(1 − ρ) · Z(a, b) )
//! ```
//!
//! where `F` is the field, `R` its correlation between the two ends, `Z` the link's own
//! standard normal (the same both ways), `ρ` the shared fraction and `σ` the world's
//! shadowing: each link's shadowing has standard deviation `σ`, and two links whose ends are
//! close share about `ρ` of it. Every number is drawn from the seed and the places involved,
//! never from the order of draws, so the honest hotspots' links are the same whichever
//! hotspots are added.

use crate::network::{event_rng, RadioSite};
use rand::Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_320.0;
/// Lattice points per kernel width.
const POINTS_PER_WIDTH: f64 = 2.0;
/// The kernel is cut off this many widths away.
const CUTOFF_WIDTHS: f64 = 3.0;

/// How much of the shadowing nearby links share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Terrain {
    /// Distance at which the terrain field's correlation falls to 1/e, metres.
    pub correlation_m: f64,
    /// Share of the shadowing's variance from the terrain around the two ends, in [0, 1].
    pub shared_fraction: f64,
    /// Where the terrain's lattice is anchored `(lat, lon)`; distances east–west are scaled
    /// by the cosine of its latitude.
    pub origin: (f64, f64),
}

impl Default for Terrain {
    /// No shared part: every link's shadowing is its own, as before worlds had terrain.
    fn default() -> Self {
        Self {
            correlation_m: 500.0,
            shared_fraction: 0.0,
            origin: (0.0, 0.0),
        }
    }
}

/// The shadowing of every link of a world for one seed.
#[derive(Debug)]
pub struct Shadowing {
    seed: u64,
    sigma_db: f64,
    terrain: Terrain,
    /// The terrain field at each place asked for, by the bits of its coordinates.
    field: Mutex<HashMap<(u64, u64), f64>>,
}

impl Shadowing {
    /// The shadowing of standard deviation `sigma_db` for `seed` over `terrain`.
    pub fn new(seed: u64, sigma_db: f64, terrain: Terrain) -> Self {
        Self {
            seed,
            sigma_db,
            terrain,
            field: Mutex::new(HashMap::new()),
        }
    }

    /// The shadowing of the link between `a` and `b`, dB: the same both ways and for the
    /// whole run. Radios with the same site number share the link's own part (one roof).
    pub fn link_db(&self, a: &RadioSite, b: &RadioSite) -> f64 {
        let mut own = event_rng(
            self.seed,
            b"shadowing",
            a.site.min(b.site),
            a.site.max(b.site),
        );
        let own: f64 = own.sample(rand_distr::StandardNormal);
        let rho = self.terrain.shared_fraction;
        if rho <= 0.0 {
            return own * self.sigma_db;
        }
        let (fa, fb) = (self.field_at(a.lat, a.lon), self.field_at(b.lat, b.lon));
        let r = self.correlation(self.distance_m((a.lat, a.lon), (b.lat, b.lon)));
        let shared = (fa + fb) / (2.0 + 2.0 * r).sqrt();
        self.sigma_db * (rho.sqrt() * shared + (1.0 - rho).sqrt() * own)
    }

    /// The terrain field (unit variance) at `(lat, lon)`.
    pub fn field_at(&self, lat: f64, lon: f64) -> f64 {
        let key = (lat.to_bits(), lon.to_bits());
        let mut field = self
            .field
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *field
            .entry(key)
            .or_insert_with(|| self.compute_field(lat, lon))
    }

    /// The field's correlation between two places `distance_m` apart.
    pub fn correlation(&self, distance_m: f64) -> f64 {
        let c = self.terrain.correlation_m.max(1e-9);
        (-(distance_m / c).powi(2)).exp()
    }

    /// Planar coordinates of `(lat, lon)` in metres from the terrain's origin.
    fn planar(&self, (lat, lon): (f64, f64)) -> (f64, f64) {
        let (lat0, lon0) = self.terrain.origin;
        (
            (lon - lon0) * lat0.to_radians().cos() * METRES_PER_DEGREE,
            (lat - lat0) * METRES_PER_DEGREE,
        )
    }

    fn distance_m(&self, a: (f64, f64), b: (f64, f64)) -> f64 {
        let (ax, ay) = self.planar(a);
        let (bx, by) = self.planar(b);
        (ax - bx).hypot(ay - by)
    }

    /// The smoothed lattice noise at a place, normalised to unit variance.
    fn compute_field(&self, lat: f64, lon: f64) -> f64 {
        let width = self.terrain.correlation_m.max(1.0) / 2.0;
        let spacing = width / POINTS_PER_WIDTH;
        let (x, y) = self.planar((lat, lon));
        let reach = (CUTOFF_WIDTHS * POINTS_PER_WIDTH).ceil() as i64;
        let (cx, cy) = ((x / spacing).round() as i64, (y / spacing).round() as i64);
        let (mut sum, mut weights) = (0.0, 0.0);
        for ix in cx - reach..=cx + reach {
            for iy in cy - reach..=cy + reach {
                let (dx, dy) = (ix as f64 * spacing - x, iy as f64 * spacing - y);
                let r2 = (dx * dx + dy * dy) / (width * width);
                if r2 > CUTOFF_WIDTHS * CUTOFF_WIDTHS {
                    continue;
                }
                let weight = (-r2 / 2.0).exp();
                let mut rng = event_rng(self.seed, b"terrain", ix as u64, iy as u64);
                let z: f64 = rng.sample(rand_distr::StandardNormal);
                sum += weight * z;
                weights += weight * weight;
            }
        }
        sum / weights.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Antenna;

    const ORIGIN: (f64, f64) = (38.4, -122.4);

    fn site(site: u64, (north_m, east_m): (f64, f64)) -> RadioSite {
        RadioSite {
            lat: ORIGIN.0 + north_m / METRES_PER_DEGREE,
            lon: ORIGIN.1 + east_m / (METRES_PER_DEGREE * ORIGIN.0.to_radians().cos()),
            site,
            antenna: Antenna::default(),
        }
    }

    fn shadowing(seed: u64) -> Shadowing {
        let terrain = Terrain {
            correlation_m: 1_000.0,
            shared_fraction: 0.6,
            origin: ORIGIN,
        };
        Shadowing::new(seed, 8.0, terrain)
    }

    fn correlation(pairs: &[(f64, f64)]) -> f64 {
        let n = pairs.len() as f64;
        let (mx, my) = (
            pairs.iter().map(|p| p.0).sum::<f64>() / n,
            pairs.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let cov = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>();
        let vx = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
        let vy = pairs.iter().map(|p| (p.1 - my).powi(2)).sum::<f64>();
        cov / (vx * vy).sqrt()
    }

    /// Links `k` with ends spread over 200 km; each paired with a link whose ends are
    /// `shift_m` away from the first link's ends.
    fn link_pairs(s: &Shadowing, shift_m: f64) -> Vec<(f64, f64)> {
        (0..400u64)
            .map(|k| {
                let base = (
                    k as f64 * 7_919.0 % 200_000.0,
                    k as f64 * 3_301.0 % 150_000.0,
                );
                let a = site(4 * k, base);
                let b = site(4 * k + 1, (base.0 + 2_500.0, base.1 + 1_500.0));
                let a2 = site(4 * k + 2, (base.0 + shift_m, base.1));
                let b2 = site(4 * k + 3, (base.0 + 2_500.0 + shift_m, base.1 + 1_500.0));
                (s.link_db(&a, &b), s.link_db(&a2, &b2))
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_shadowing() {
        let (a, b) = (site(1, (0.0, 0.0)), site(2, (1_200.0, 300.0)));
        let first = shadowing(9).link_db(&a, &b);
        assert_eq!(first, shadowing(9).link_db(&a, &b));
        assert_eq!(first, shadowing(9).link_db(&b, &a), "the same both ways");
        assert_ne!(first, shadowing(10).link_db(&a, &b));
    }

    #[test]
    fn nearby_links_correlate_more_than_distant_ones() {
        let s = shadowing(3);
        let all: Vec<f64> = link_pairs(&s, 50.0).iter().map(|p| p.0).collect();
        let sd = (all.iter().map(|x| x * x).sum::<f64>() / all.len() as f64).sqrt();
        assert!(
            (6.5..9.5).contains(&sd),
            "σ of the links {sd:.2} dB, not about 8"
        );
        let near = correlation(&link_pairs(&s, 50.0));
        let far = correlation(&link_pairs(&s, 20_000.0));
        // Ends 50 m apart share about ρ·0.997 ≈ 0.6; ends 20 km apart share nothing.
        assert!(near > 0.45, "nearby links correlate {near:.2}");
        assert!(far.abs() < 0.15, "distant links correlate {far:.2}");
    }

    #[test]
    fn without_a_shared_part_each_link_is_its_own() {
        let s = Shadowing::new(3, 8.0, Terrain::default());
        let near = correlation(&link_pairs(&s, 50.0));
        assert!(near.abs() < 0.15, "{near:.2}");
    }
}
