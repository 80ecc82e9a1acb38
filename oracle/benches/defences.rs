//! Time of each epoch-wide defence (`oracle::defences`) on a synthetic epoch, without a store:
//! the network of the `throughput` benchmark (hotspots on a 2 km grid, each beacon heard by its
//! nearest neighbours) built directly as [`Evidence`].
//!
//! ```text
//! cargo bench -p oracle --bench defences -- [--hotspots N] [--witnesses N] [--shadowing DB]
//! ```
//!
//! `--shadowing` adds that standard deviation of per-link shadowing to the path gains (0: every
//! gain equal, as the `throughput` benchmark's reports have).

use oracle::defences::{
    implausible_links, inflated_signals, misplaced_locations, shared_radios, BeaconEvidence,
    DefenceConfig, Evidence, Key,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::Instant;

mod grid;
use grid::NEAR;

fn main() {
    // The defences' own timings: RUST_LOG=oracle=debug.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let argv: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: f64| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let hotspots = value("--hotspots", 100_000.0) as usize;
    let witnesses = value("--witnesses", 1_000_000.0) as usize;
    let shadowing = value("--shadowing", 0.0);
    let per_beacon = (witnesses / hotspots.max(1)).min(NEAR.len());
    let side = (hotspots as f64).sqrt().ceil() as usize;
    let mut rng = StdRng::seed_from_u64(1);
    let key = |i: usize| -> Key {
        let mut k = [0u8; 32];
        // Keys in no spatial order, like real keys.
        k[..8].copy_from_slice(&(i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        k
    };
    let t = Instant::now();
    let mut evidence = Evidence::default();
    for i in 0..hotspots {
        let (r, c) = (i / side, i % side);
        let cell = h3_coverage::cell_at(26.0 + r as f64 * 0.02, -100.0 + c as f64 * 0.02)
            .expect("valid coordinates");
        evidence.locations.insert(key(i), cell);
    }
    for i in 0..hotspots {
        let (r, c) = (i / side, i % side);
        let witnesses = NEAR
            .iter()
            .filter_map(|(dr, dc)| {
                let (r2, c2) = (r as i64 + dr, c as i64 + dc);
                let j = usize::try_from(r2).ok()? * side + usize::try_from(c2).ok()?;
                (c2 >= 0 && (c2 as usize) < side && j < hotspots).then_some(j)
            })
            .take(per_beacon)
            .map(|j| {
                let shadow: f64 = if shadowing > 0.0 {
                    rng.sample::<f64, _>(rand_distr::StandardNormal) * shadowing
                } else {
                    0.0
                };
                (key(j), -148.0 + shadow)
            })
            .collect();
        evidence.beacons.push(BeaconEvidence {
            beaconer: key(i),
            witnesses,
        });
    }
    let links: usize = evidence.beacons.iter().map(|b| b.witnesses.len()).sum();
    println!(
        "built {hotspots} hotspots, {links} links in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let config = DefenceConfig::default();
    let time = |name: &str, f: &dyn Fn() -> usize| {
        let t = Instant::now();
        let flagged = f();
        println!(
            "{name}: {flagged} flagged in {:.2} s",
            t.elapsed().as_secs_f64()
        );
    };
    time("implausible_links", &|| {
        implausible_links(&evidence, &config).len()
    });
    time("inflated_signal", &|| {
        inflated_signals(&evidence, &config).len()
    });
    time("shared_radio", &|| shared_radios(&evidence, &config).len());
    time("misplaced_location", &|| {
        misplaced_locations(&evidence, &config).len()
    });
}
