//! Three `oracle serve` processes (the built binary), each with its own key file, SQLite store
//! and configuration, sharing one fresh JetStream stream (`NATS_URL` or 127.0.0.1:4222) with a
//! threshold of 2 and epochs of a few seconds. Hotspots assert their locations and submit
//! beacons and witnesses to different operators over gRPC, with entropy from `GetEntropy`
//! (whichever operator made it). Each process's `/api/v1/ledger` then shows the same entry for
//! the hotspots' epoch, signed by at least two operators; one process, killed (SIGKILL) in the
//! middle of that epoch and started again, catches up to the same entry and log position.

use crate::common::*;
use poc::proto::poc_lora_client::PocLoraClient;
use poc::proto::{self, Region};
use poc::Keypair;
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;

/// Epochs this long let the test end within a minute.
const EPOCH_MS: u64 = 10_000;
/// How long entropy stays usable; an epoch closes this long after its end.
const ENTROPY_WINDOW_MS: u64 = 5_000;
/// Room left in the epoch for the hotspots' round: less, and the round waits for the next.
const ROUND_ROOM_MS: u64 = 5_000;
/// Longest wait for anything the operators do.
const PATIENCE: Duration = Duration::from_secs(45);

fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn wall_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

/// Calls `probe` every 100 ms until it gives a value; panics naming `what` after `PATIENCE`.
async fn poll<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The configuration every operator runs with: short periods, the shared stream, threshold 2.
fn config_toml(stream: &str, operators: &[String]) -> String {
    let operators = operators
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "epoch_ms = {EPOCH_MS}\n\
         beacon_interval_ms = {EPOCH_MS}\n\
         entropy_period_ms = 1000\n\
         entropy_window_ms = {ENTROPY_WINDOW_MS}\n\
         verify_period_ms = 500\n\
         \n\
         [identity]\n\
         onboarding = \"open\"\n\
         \n\
         [http]\n\
         requests_per_second = 0\n\
         \n\
         [report_log]\n\
         url = \"{}\"\n\
         stream = \"{stream}\"\n\
         operators = [{operators}]\n\
         tick_ms = 250\n\
         threshold = 2\n",
        nats_url()
    )
}

/// Text without its ANSI colour sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The gRPC and HTTP addresses of the log's `serving` line, once it is there.
fn serving_addresses(log: &Path) -> Option<(SocketAddr, SocketAddr)> {
    let text = strip_ansi(&std::fs::read_to_string(log).ok()?);
    let line = text.lines().find(|l| l.contains("serving"))?;
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(name))
            .and_then(|value| value.parse().ok())
    };
    Some((field("grpc=")?, field("http=")?))
}

/// One operator: its data directory (key file, store, ledger, archive), configuration and,
/// while it runs, its `oracle serve` process.
struct Operator {
    dir: PathBuf,
    address: String,
    process: Option<tokio::process::Child>,
    runs: u32,
    grpc: SocketAddr,
    http: SocketAddr,
}

impl Operator {
    /// A data directory under `root` holding a fresh key file.
    fn new(root: &Path, index: usize) -> Self {
        let dir = root.join(format!("operator-{index}"));
        std::fs::create_dir_all(&dir).unwrap();
        let key = Keypair::generate();
        key.write_file(&dir.join(oracle::KEY_FILE)).unwrap();
        let unset: SocketAddr = "127.0.0.1:0".parse().unwrap();
        Self {
            dir,
            address: key.address().to_string(),
            process: None,
            runs: 0,
            grpc: unset,
            http: unset,
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.join(format!("serve-{}.log", self.runs))
    }

    /// Starts `oracle serve` on free loopback ports, its output in a log file of its own run.
    fn start(&mut self) {
        self.runs += 1;
        let log = std::fs::File::create(self.log()).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_oracle"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--config")
            .arg(self.dir.join("oracle.toml"))
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("the oracle binary starts");
        self.process = Some(child);
    }

    /// Waits for the process to say where it serves.
    async fn serving(&mut self) {
        let log = self.log();
        let (grpc, http) = poll("an operator to serve", || {
            let found = serving_addresses(&log);
            async move { found }
        })
        .await;
        self.grpc = grpc;
        self.http = http;
    }

    /// Kills the process with SIGKILL and reaps it.
    async fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
        }
    }

    async fn client(&self) -> PocLoraClient<Channel> {
        PocLoraClient::connect(format!("http://{}", self.grpc))
            .await
            .unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = get(self.http, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The header of this operator's ledger entry for `epoch`, once it has one.
    async fn entry(&self, epoch: u64) -> Option<Value> {
        let ledger = self.json("/api/v1/ledger").await;
        ledger["entries"]
            .as_array()?
            .iter()
            .find(|e| e["epoch"] == epoch)
            .cloned()
    }

    async fn applied_seq(&self) -> u64 {
        let stats = self.json("/api/v1/stats").await;
        stats["report_log"]["applied_seq"].as_u64().unwrap()
    }

    /// The tail of its latest log, to read when the test fails.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// The operators sharing one stream, deleted when they are dropped; on a failing test their
/// logs' tails are printed and their data directories kept.
struct Operators {
    ops: Vec<Operator>,
    stream: String,
    root: Option<tempfile::TempDir>,
}

impl Operators {
    fn new(n: usize) -> Self {
        let root = tempfile::tempdir().unwrap();
        let stream = format!("TEST_SERVE_OPERATORS_{:016x}", rand::random::<u64>());
        let ops: Vec<Operator> = (0..n).map(|i| Operator::new(root.path(), i)).collect();
        let addresses: Vec<String> = ops.iter().map(|o| o.address.clone()).collect();
        for op in &ops {
            std::fs::write(op.dir.join("oracle.toml"), config_toml(&stream, &addresses)).unwrap();
        }
        Self {
            ops,
            stream,
            root: Some(root),
        }
    }
}

/// Deletes the stream, with a runtime of its own: [`Drop`] may run inside the test's.
fn delete_stream(stream: String) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            if let Ok(client) = async_nats::connect(nats_url()).await {
                let _ = async_nats::jetstream::new(client)
                    .delete_stream(&stream)
                    .await;
            }
        });
    })
    .join();
}

impl Drop for Operators {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (i, op) in self.ops.iter().enumerate() {
                eprintln!("--- operator {i} ({}) log:\n{}", op.address, op.log_tail());
            }
            if let Some(root) = self.root.take() {
                eprintln!("data directories kept in {}", root.keep().display());
            }
        }
        for op in &mut self.ops {
            if let Some(mut child) = op.process.take() {
                let _ = child.start_kill();
            }
        }
        delete_stream(self.stream.clone());
    }
}

fn hotspots() -> [Hotspot; 3] {
    let at = [AUSTIN, AUSTIN_NORTH, (AUSTIN.0, AUSTIN.1 + 0.03)];
    std::array::from_fn(|i| Hotspot {
        key: Keypair::from_seed(42, i as u64 + 1),
        location: u64::from(cell(at[i])),
        gain: GAIN,
        region: Region::Us915,
    })
}

/// The latest entropy `client`'s operator serves, once it serves one.
async fn entropy(client: &PocLoraClient<Channel>) -> proto::Entropy {
    poll("entropy from GetEntropy", || {
        let mut client = client.clone();
        async move {
            let answer = client.get_entropy(proto::EntropyReq {}).await;
            answer.ok().map(tonic::Response::into_inner)
        }
    })
    .await
}

/// Waits until `client`'s operator has applied the assertion of `h`.
async fn known(client: &PocLoraClient<Channel>, h: &Hotspot) {
    poll("an asserted hotspot to be known", || {
        let mut client = client.clone();
        let request = proto::GatewayInfoReq {
            pub_key: h.pub_key().to_vec(),
        };
        async move { client.get_gateway_info(request).await.ok().map(|_| ()) }
    })
    .await;
}

/// Sleeps into the next epoch when fewer than `ROUND_ROOM_MS` of this one are left, so the
/// hotspots' round falls in one epoch; returns that epoch.
async fn epoch_with_room() -> u64 {
    let now = wall_ms();
    let left = EPOCH_MS - now % EPOCH_MS;
    if left >= ROUND_ROOM_MS {
        return now / EPOCH_MS;
    }
    tokio::time::sleep(Duration::from_millis(left + 100)).await;
    wall_ms() / EPOCH_MS
}

/// Each hotspot beacons through "its" operator with the entropy that operator serves; the
/// other two witness it, each through the operator after the beaconer's.
async fn round(clients: &[PocLoraClient<Channel>]) {
    let hotspots = hotspots();
    for (i, beaconer) in hotspots.iter().enumerate() {
        let mut client = clients[i % clients.len()].clone();
        let entropy = entropy(&client).await;
        let beacon = beacon_report(beaconer, &entropy.data, [i as u8, 1, 2, 3]);
        client.submit_beacon(beacon.clone()).await.unwrap();
        let witnesses = hotspots
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, w)| witness_report(w, &beacon, -1100, 0))
            .collect();
        let mut other = clients[(i + 1) % clients.len()].clone();
        let answer = other
            .submit_witnesses(proto::WitnessBatch { reports: witnesses })
            .await
            .unwrap()
            .into_inner();
        let accepted = answer
            .results
            .iter()
            .filter(|r| matches!(r.result, Some(proto::batch_result::Result::Accepted(_))))
            .count();
        assert_eq!(accepted, 2, "{answer:?}");
    }
}

/// The entry every operator in `ops` holds for `epoch`, once each holds one; they must be the
/// same entry, signed by at least two operators of the set, with no dissent.
async fn agreed_entry(ops: &[&Operator], epoch: u64, addresses: &[String]) -> Value {
    let mut first: Option<Value> = None;
    for op in ops {
        let entry = poll("an operator's ledger entry for the epoch", || {
            op.entry(epoch)
        })
        .await;
        let signers: Vec<&str> = entry["signers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(signers.len() >= 2, "{entry}");
        assert!(signers.iter().all(|s| addresses.iter().any(|a| a == s)));
        assert_eq!(entry["threshold"], 2, "{entry}");
        assert_eq!(entry["dissenters"], Value::Array(Vec::new()), "{entry}");
        match &first {
            None => first = Some(entry),
            Some(first) => assert_eq!(entry["hash"], first["hash"], "{entry} vs {first}"),
        }
    }
    first.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serve_processes_sign_one_entry_and_a_killed_one_catches_up() {
    let started = Instant::now();
    let mut net = Operators::new(3);
    let addresses: Vec<String> = net.ops.iter().map(|o| o.address.clone()).collect();
    for op in &mut net.ops {
        op.start();
    }
    for op in &mut net.ops {
        op.serving().await;
    }
    let mut clients = Vec::new();
    for op in &net.ops {
        clients.push(op.client().await);
    }
    for client in &clients {
        entropy(client).await;
    }

    // Each hotspot asserts its location through another operator; every operator applies all.
    let hotspots = hotspots();
    for (i, h) in hotspots.iter().enumerate() {
        let a = assertion(&h.key, h.location, h.gain, h.region, wall_ms());
        clients[i].clone().assert_location(a).await.unwrap();
    }
    for client in &clients {
        for h in &hotspots {
            known(client, h).await;
        }
    }

    let epoch = epoch_with_room().await;
    round(&clients).await;
    assert_eq!(wall_ms() / EPOCH_MS, epoch, "the round stayed in its epoch");
    // The third operator dies in the middle of the epoch, its reports acknowledged by the log.
    net.ops[2].kill().await;

    // The two left close the epoch and sign the same entry: two of three, enough.
    let up = [&net.ops[0], &net.ops[1]];
    let entry = agreed_entry(&up, epoch, &addresses).await;
    assert_eq!(entry["shares"], 3, "{entry}");
    let signers = entry["signers"].as_array().unwrap();
    assert!(!signers.contains(&Value::from(addresses[2].as_str())));

    // Started again, the third catches up from the log to the same entry and position.
    net.ops[2].start();
    net.ops[2].serving().await;
    let all: Vec<&Operator> = net.ops.iter().collect();
    let caught_up = agreed_entry(&all, epoch, &addresses).await;
    assert_eq!(caught_up["hash"], entry["hash"]);
    let reached = net.ops[0].applied_seq().await;
    let behind = &net.ops[2];
    poll(
        "the restarted operator to reach the others' position",
        || async move { (behind.applied_seq().await >= reached).then_some(()) },
    )
    .await;
    eprintln!(
        "three oracle serve processes: epoch {epoch} agreed ({}), caught up at seq {reached}, {:.1} s",
        entry["hash"],
        started.elapsed().as_secs_f64()
    );
    for op in &mut net.ops {
        op.kill().await;
    }
}
