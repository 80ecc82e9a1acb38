//! The synthetic networks' grid, shared by the oracle benchmarks.

/// Offsets of grid neighbours, nearest first.
pub const NEAR: [(i64, i64); 24] = [
    (0, 1),
    (1, 0),
    (0, -1),
    (-1, 0),
    (1, 1),
    (1, -1),
    (-1, 1),
    (-1, -1),
    (0, 2),
    (2, 0),
    (0, -2),
    (-2, 0),
    (1, 2),
    (2, 1),
    (-1, 2),
    (2, -1),
    (1, -2),
    (-2, 1),
    (-1, -2),
    (-2, -1),
    (2, 2),
    (2, -2),
    (-2, 2),
    (-2, -2),
];

/// The shadowing of the link from grid hotspot `beaconer` to grid hotspot `witness`, in dB: a
/// normal draw of standard deviation `sigma_db`, fixed per link whatever order the links are
/// built in.
pub fn link_shadowing_db(beaconer: usize, witness: usize, sigma_db: f64) -> f64 {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    if sigma_db == 0.0 {
        return 0.0;
    }
    let mut rng = StdRng::seed_from_u64(((beaconer as u64) << 32) ^ witness as u64);
    rng.sample::<f64, _>(rand_distr::StandardNormal) * sigma_db
}
