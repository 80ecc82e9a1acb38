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
