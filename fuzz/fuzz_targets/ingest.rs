//! Fuzz target: protobuf ingest. Arbitrary bytes are decoded as every wire type the oracle
//! receives (and must re-encode to the same value), then driven through a fresh oracle: a
//! beacon report and witness reports made from the fuzzed ones (some fields replaced so that
//! they reach the deep checks: a known signer, the published entropy, the derived payload,
//! re-signed) are submitted, verified, and their epoch closed. Ingest may only refuse with a
//! reason (never an internal error), and the epoch's shares must add up to its emission.
//!
//! Layout: `mode` byte, then length-prefixed chunks (one length byte each): the first is the
//! beacon report, the others witness reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oracle::store::SqliteStore;
use oracle::{IngestError, ManualClock, Oracle, OracleConfig};
use poc::proto::{self, Region};
use poc::{testkit, Beacon, Keypair, RegionPlan, Signable};
use prost::Message;
use std::sync::{Arc, OnceLock};

const DAY_MS: u64 = 86_400_000;
const START_MS: u64 = 20_800 * DAY_MS + 3_600_000;
/// Hotspots about 2.2 km apart, north of Austin.
const HOTSPOTS: u64 = 5;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// Decodes `bytes` as `M`; what decodes must survive a round trip.
fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<M> {
    let message = M::decode(bytes).ok()?;
    let again = M::decode(message.encode_to_vec().as_slice()).expect("re-decodes");
    assert_eq!(again, message);
    Some(message)
}

fn chunks(mut rest: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        out.push(&tail[..len]);
        rest = &tail[len..];
        if out.len() == 9 {
            break;
        }
    }
    out
}

fn no_internal_error<T>(result: Result<T, IngestError>) {
    if let Err(error) = result {
        assert!(error.reason().is_some(), "not a refusal: {error}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let parts = chunks(rest);
    for part in &parts {
        let _ = round_trip::<proto::BeaconReport>(part);
        let _ = round_trip::<proto::WitnessReport>(part);
        let _ = round_trip::<proto::LocationAssertion>(part);
        let _ = round_trip::<proto::Entropy>(part);
        let _ = round_trip::<proto::GatewayInfoReq>(part);
        let _ = round_trip::<proto::EntropyReq>(part);
        let _ = round_trip::<proto::LogEntry>(part);
        let _ = round_trip::<proto::EntrySignature>(part);
    }
    let Some((first, others)) = parts.split_first() else {
        return;
    };
    let Some(mut beacon) = proto::BeaconReport::decode(*first).ok() else {
        return;
    };
    let witnesses: Vec<proto::WitnessReport> = others
        .iter()
        .filter_map(|w| proto::WitnessReport::decode(*w).ok())
        .collect();

    let Ok(dir) = tempfile_dir() else {
        return;
    };
    runtime().block_on(async {
        let store = SqliteStore::open(&dir.join("oracle.sqlite"))
            .await
            .expect("a store");
        let clock = Arc::new(ManualClock::new(START_MS));
        let oracle = Oracle::with_store(
            OracleConfig::open(),
            Arc::new(store),
            Keypair::from_seed(1, 1),
            clock.clone(),
        );
        let keys: Vec<Keypair> = (0..HOTSPOTS).map(|i| Keypair::from_seed(7, i)).collect();
        for (i, key) in keys.iter().enumerate() {
            let cell = h3_coverage::cell_at(30.2672 + 0.02 * i as f64, -97.7431).expect("a cell");
            let assertion = testkit::assertion(key, u64::from(cell), 30, Region::Us915, START_MS);
            oracle.assert_location(assertion).await.expect("asserted");
        }
        let entropy = oracle
            .publish_entropy_from([mode; 32])
            .await
            .expect("entropy");
        clock.advance(1_000);

        // As received: most refused at the signature.
        no_internal_error(oracle.submit_beacon(beacon.clone()).await);
        for w in &witnesses {
            no_internal_error(oracle.submit_witness(w.clone()).await);
        }

        // Made to reach the verifier.
        let beaconer = &keys[0];
        if mode & 1 == 0 {
            beacon.pub_key = beaconer.public_key().to_vec();
        }
        if mode & 2 == 0 {
            beacon.remote_entropy = entropy.data.clone();
        }
        if mode & 4 == 0 && beacon.local_entropy.len() == 4 {
            let plan = RegionPlan::for_region(Region::Us915).expect("US915");
            if let Ok(derived) = Beacon::derive(
                &beacon.remote_entropy,
                &beacon.local_entropy,
                &beaconer.public_key(),
                plan,
                30,
            ) {
                beacon.data = derived.payload;
                beacon.frequency_hz = derived.frequency_hz;
                beacon.spreading_factor = u32::from(derived.datarate.spreading_factor);
                beacon.bandwidth_hz = derived.datarate.bandwidth_hz;
                beacon.tx_power_ddbm = derived.tx_power_ddbm;
            }
        }
        beacon.sign_with(beaconer);
        no_internal_error(oracle.submit_beacon(beacon.clone()).await);
        for (i, mut w) in witnesses.into_iter().enumerate() {
            clock.advance(u64::from(mode >> 4) * 100);
            let key = &keys[i % keys.len()];
            w.pub_key = key.public_key().to_vec();
            if mode & 8 == 0 {
                w.data = beacon.data.clone();
                w.frequency_hz = beacon.frequency_hz;
            }
            w.sign_with(key);
            no_internal_error(oracle.submit_witness(w).await);
        }

        clock.advance(oracle.config().entropy_window_ms + 1_000);
        oracle.verify_pending().await.expect("verification");
        let epoch = START_MS / DAY_MS;
        clock.set(oracle.epoch_ready_at_ms(epoch));
        let report = oracle.close_epoch(epoch).await.expect("an epoch");
        let paid: u64 = report.rewards.iter().map(|r| r.total).sum();
        assert_eq!(paid + report.undistributed, report.emission);
    });
    let _ = std::fs::remove_dir_all(&dir);
});

/// A fresh directory for this input's database (in memory when /dev/shm exists).
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = base.join(format!("oracle-fuzz-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
