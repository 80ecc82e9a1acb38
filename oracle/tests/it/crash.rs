//! Crash durability: the `oracle` binary is killed with SIGKILL while several gRPC clients
//! submit signed reports; after a restart on the same data directory every report it
//! acknowledged must be in the store. The hotspots join as on a production network: a maker's
//! record, an owner credited with `oracle credit`, onboarding and paid assertions.

use oracle::store::{ExplorerStore, SqliteStore};
use poc::proto::poc_lora_client::PocLoraClient;
use poc::proto::{self, Region};
use poc::{testkit, Keypair, Signable};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Concurrent clients, each with its own asserted hotspot.
const CLIENTS: u64 = 8;

/// Removes ANSI colour escapes (`ESC [ … letter`) from a log line.
fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The maker of the test's hotspots and their owner.
fn maker() -> Keypair {
    Keypair::from_seed(78, 0)
}

fn owner() -> Keypair {
    Keypair::from_seed(78, 1)
}

/// Writes the oracle's configuration (the test's maker registered) into `dir` and credits the
/// owner with `oracle credit`.
fn configure(dir: &Path) {
    let config = format!(
        "[identity]\nmakers = [{{ name = \"crash-test\", key = \"{}\", allowance = {CLIENTS} }}]\n\
         onboarding_fee_dc = 100\nassertion_fee_dc = 10\n",
        maker().address()
    );
    std::fs::write(dir.join("oracle.toml"), config).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_oracle"))
        .args(["credit", "--amount", "10000"])
        .arg("--owner")
        .arg(owner().address().to_string())
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(dir.join("oracle.toml"))
        .env_remove("DATABASE_URL")
        .output()
        .expect("oracle credit runs");
    assert!(output.status.success(), "oracle credit: {output:?}");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(printed.trim(), format!("{}: 10000 DC", owner().address()));
}

/// Starts `oracle serve` on `dir` and returns it with its gRPC address (read from its log).
fn start(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oracle"))
        .args([
            "serve",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(dir.join("oracle.toml"))
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the oracle binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let line = strip_ansi(&line);
            if !sent && line.contains("gRPC ingest listening") {
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("bound="))
                    .and_then(|a| a.parse::<SocketAddr>().ok())
                {
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
            // Keep draining so the oracle never blocks on a full pipe.
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(addr) => (child, addr),
        Err(_) => {
            let _ = child.kill();
            panic!("the oracle did not report its gRPC address");
        }
    }
}

async fn client(addr: SocketAddr) -> PocLoraClient<tonic::transport::Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match PocLoraClient::connect(format!("http://{addr}")).await {
            Ok(c) => return c,
            Err(e) if Instant::now() > deadline => panic!("connecting to {addr}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn assertion(key: &Keypair, n: u64) -> proto::LocationAssertion {
    let cell = h3_coverage::cell_at(30.0 + n as f64 * 0.05, -97.0).unwrap();
    testkit::assertion(key, u64::from(cell), 30, Region::Us915, now_ms())
}

/// The `n`th beacon of a run (a fixed channel and payload: ingest checks neither).
fn beacon(key: &Keypair, i: u64) -> proto::BeaconReport {
    let mut b = proto::BeaconReport {
        pub_key: key.public_key().to_vec(),
        local_entropy: (i as u32).to_le_bytes().to_vec(),
        remote_entropy: vec![7; 32],
        data: vec![(i % 251) as u8; 51],
        frequency_hz: 904_100_000,
        spreading_factor: 10,
        bandwidth_hz: 125_000,
        tx_power_ddbm: 270,
        timestamp_ns: i,
        signature: Vec::new(),
    };
    b.sign_with(key);
    b
}

/// Witness `i` of hotspot `n`: a frame of its own on `beacon(…)`'s channel.
fn witness(key: &Keypair, n: u64, i: u64) -> proto::WitnessReport {
    let mut data = [0u8; 51];
    data[..8].copy_from_slice(&n.to_le_bytes());
    data[8..16].copy_from_slice(&i.to_le_bytes());
    let signal = testkit::Signal::new(-1100, -50);
    testkit::witness_of_data(key, data.to_vec(), &beacon(key, 0), signal, i)
}

/// Every report id (witness and beacon) in the store of `dir`.
async fn stored_ids(dir: &Path, keys: &[Keypair]) -> BTreeSet<String> {
    let store = SqliteStore::open(&dir.join(oracle::DB_FILE)).await.unwrap();
    let mut ids = BTreeSet::new();
    for key in keys {
        let pk = key.public_key();
        for w in store.recent_witnesses(&pk, u32::MAX).await.unwrap() {
            ids.insert(w.report_id);
        }
        for b in store.recent_beacons(&pk, u32::MAX).await.unwrap() {
            ids.insert(b.report_id);
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_report_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<Keypair> = (0..CLIENTS).map(|n| Keypair::from_seed(77, n)).collect();

    configure(dir.path());
    let (mut oracle, addr) = start(dir.path());
    let mut setup = client(addr).await;
    for (n, key) in keys.iter().enumerate() {
        let record = poc::onboarding::issue_record(&maker(), key.public_key(), now_ms());
        setup
            .onboard(poc::onboarding::onboard_request(
                record,
                key,
                &owner(),
                now_ms(),
            ))
            .await
            .expect("onboarding accepted");
        setup
            .assert_location(assertion(key, n as u64))
            .await
            .expect("assertion accepted");
    }

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (n, key) in keys.iter().cloned().enumerate() {
        let acked = acked.clone();
        let failed = failed.clone();
        tasks.push(tokio::spawn(async move {
            let mut grpc = client(addr).await;
            for i in 0u64.. {
                let result = if i % 10 == 0 {
                    grpc.submit_beacon(beacon(&key, i)).await
                } else {
                    grpc.submit_witness(witness(&key, n as u64, i)).await
                };
                match result {
                    Ok(resp) => acked.lock().unwrap().push(resp.into_inner().id),
                    // The oracle is gone: stop.
                    Err(_) => {
                        failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        break;
                    }
                }
            }
        }));
    }

    // Let the load run, then kill the oracle mid-load.
    let start_load = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let n = acked.lock().unwrap().len();
        if n >= 400 || start_load.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    oracle.kill().expect("SIGKILL");
    oracle.wait().unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.len() >= 50, "too little load: {} acks", acked.len());
    assert_eq!(
        failed.load(std::sync::atomic::Ordering::SeqCst),
        CLIENTS,
        "every client was still submitting when the oracle died"
    );

    // Restart on the same directory: it serves again, and keeps what it acknowledged.
    let (mut oracle, addr) = start(dir.path());
    let mut grpc = client(addr).await;
    let info = grpc
        .get_gateway_info(proto::GatewayInfoReq {
            pub_key: keys[0].public_key().to_vec(),
        })
        .await
        .expect("the gateway survived the crash")
        .into_inner();
    assert!(info.asserted);
    let after = grpc
        .submit_witness(witness(&keys[0], 0, u64::MAX))
        .await
        .expect("ingest works after the restart")
        .into_inner()
        .id;
    oracle.kill().unwrap();
    oracle.wait().unwrap();

    let stored = stored_ids(dir.path(), &keys).await;
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    println!(
        "crash test: {} reports acknowledged before SIGKILL, {} stored, {} lost",
        acked.len(),
        stored.len() - 1,
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(stored.contains(&after));
}
