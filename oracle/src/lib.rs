//! The proof-of-coverage oracle.

pub mod rewards;
