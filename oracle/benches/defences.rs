//! Time of each epoch-wide defence (`oracle::defences`) on a synthetic epoch, without a store:
//! the network of the `throughput` benchmark (hotspots on a 2 km grid, each beacon heard by its
//! nearest neighbours) built directly as [`Evidence`].
//!
//! ```text
//! cargo bench -p oracle --bench defences -- [--hotspots N] [--witnesses N] [--shadowing DB]
//! ```
//!
//! `--shadowing` adds that standard deviation of per-link shadowing to the path gains (0: every
//! gain equal; the `throughput` benchmark's network hears by a path law with 4 dB of shadowing,
//! drawn per link alike). `--spoof N` moves the assertions of every N-th hotspot 5 km north of
//! its radio (0: none), so that the defences have something to flag. Each defence's line ends
//! with a digest of what it flagged (keys and values, bit for bit), to compare two builds.

use oracle::defences::{
    analyse, implausible_links, inflated_signals, misplaced_locations, shared_radios,
    BeaconEvidence, DefenceConfig, Evidence, Key,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
    let spoof = value("--spoof", 0.0) as usize;
    let per_beacon = (witnesses / hotspots.max(1)).min(NEAR.len());
    let side = (hotspots as f64).sqrt().ceil() as usize;
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
        let north = if spoof > 0 && i % spoof == spoof - 1 {
            0.045
        } else {
            0.0
        };
        let cell = h3_coverage::cell_at(26.0 + r as f64 * 0.02 + north, -100.0 + c as f64 * 0.02)
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
            .map(|j| (key(j), -148.0 + grid::link_shadowing_db(i, j, shadowing)))
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
    let time = |name: &str, f: &dyn Fn() -> BTreeMap<Key, f64>| {
        let t = Instant::now();
        let flagged = f();
        let s = t.elapsed().as_secs_f64();
        let mut digest = Sha256::new();
        for (key, value) in &flagged {
            digest.update(key);
            digest.update(value.to_bits().to_le_bytes());
        }
        println!(
            "{name}: {} flagged in {s:.2} s (digest {})",
            flagged.len(),
            hex::encode(&digest.finalize()[..8])
        );
    };
    time("implausible_links", &|| {
        implausible_links(&evidence, &config)
    });
    time("inflated_signal", &|| inflated_signals(&evidence, &config));
    time("shared_radio", &|| shared_radios(&evidence, &config));
    time("misplaced_location", &|| {
        misplaced_locations(&evidence, &config)
    });
    let t = Instant::now();
    let flags = analyse(&evidence, &config);
    let mut digest = Sha256::new();
    for (key, reasons) in &flags {
        digest.update(key);
        for reason in reasons {
            digest.update(reason.code());
        }
    }
    println!(
        "analyse (all four, misplaced_location without the others' flags): {} flagged in {:.2} s (digest {})",
        flags.len(),
        t.elapsed().as_secs_f64(),
        hex::encode(&digest.finalize()[..8])
    );
}
