//! Durable reporting end to end: witnesses heard while the oracle is down are spooled, survive a
//! restart of the hotspot, and reach the oracle exactly once when it comes back.

use hotspot::{Backoff, Daemon, Hotspot, Metrics, OracleClient, Outbox};
use oracle::{Oracle, OracleConfig, SystemClock};
use poc::proto::Region;
use poc::Keypair;
use radio::RxFrame;
use radio_io::{Backend, BackendError, Reception, Transmission, Transmitted};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A radio fed by the test: every reception sent on the channel is "heard".
struct ScriptedRadio {
    heard: mpsc::UnboundedReceiver<Reception>,
}

impl Backend for ScriptedRadio {
    async fn transmit(&mut self, _: &Transmission) -> Result<Transmitted, BackendError> {
        Err(BackendError::Refused("receive-only test radio".into()))
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        Ok(self.heard.recv().await)
    }
}

fn beacon_heard(n: u8) -> Reception {
    Reception {
        frame: RxFrame {
            payload: [&[poc::BEACON_MHDR][..], &[n; poc::BEACON_PAYLOAD_LEN - 1]].concat(),
            crc_ok: Some(true),
            spreading_factor: 9,
            bandwidth_hz: 125_000,
            coding_rate: 1,
            snr_db: 4.5,
            rssi_dbm: -101.0,
            cfo_hz: 120.0,
            sample_offset: 0,
        },
        frequency_hz: 904_100_000,
        timestamp_ns: 1_800_000_000_000_000_000 + u64::from(n),
    }
}

/// An oracle in its own runtime, so that stopping it closes every connection it holds, as
/// stopping its process would.
struct OracleProcess {
    runtime: tokio::runtime::Runtime,
}

fn start_oracle(dir: &Path, addr: SocketAddr) -> (OracleProcess, SocketAddr) {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let bound = runtime.block_on(async {
            let oracle = Oracle::open(OracleConfig::open(), &dir, Arc::new(SystemClock))
                .await
                .unwrap();
            let (bound, _server) = oracle.serve_grpc(addr).await.unwrap();
            bound
        });
        (OracleProcess { runtime }, bound)
    })
    .join()
    .unwrap()
}

impl OracleProcess {
    fn stop(self) {
        self.runtime.shutdown_background();
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn delivered(metrics: &Metrics) -> u64 {
    metrics
        .reports_delivered
        .get_or_create(&hotspot::metrics::label("kind", "witness"))
        .get()
}

struct Running {
    heard: mpsc::UnboundedSender<Reception>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<hotspot::DaemonStats, hotspot::DaemonError>>,
    outbox: Outbox,
    metrics: Metrics,
}

fn start_hotspot(key: &Keypair, spool: &Path, endpoint: &str) -> Running {
    start_hotspot_of(key, spool, &[endpoint.to_string()])
}

/// A hotspot delivering to any of the oracles at `endpoints`.
fn start_hotspot_of(key: &Keypair, spool: &Path, endpoints: &[String]) -> Running {
    let metrics = Metrics::new();
    let outbox = Outbox::open(spool, metrics.clone()).unwrap();
    let hotspot = Hotspot::new(key.clone(), Region::Us915, (37.7793, -122.4192), 30, 10).unwrap();
    let client = OracleClient::connect_any(endpoints, Duration::from_secs(2)).unwrap();
    let (heard, rx) = mpsc::unbounded_channel();
    let daemon = Daemon::new(
        hotspot,
        client,
        ScriptedRadio { heard: rx },
        outbox.clone(),
        Duration::from_secs(3600),
    )
    .without_beacons()
    .with_metrics(metrics.clone())
    .with_backoff(Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));
    Running {
        heard,
        stop,
        task,
        outbox,
        metrics,
    }
}

/// Asserts `key`'s hotspot with the oracle at `endpoint`.
async fn assert_with(key: &Keypair, endpoint: &str) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let assertion = Hotspot::new(key.clone(), Region::Us915, (37.7793, -122.4192), 30, 10)
        .unwrap()
        .assertion(now_ms);
    OracleClient::connect(endpoint)
        .await
        .unwrap()
        .assert_location(assertion)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_go_to_another_oracle_while_one_is_down() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let spool_dir = tempfile::tempdir().unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let (first, first_addr) = start_oracle(dirs[0].path(), any);
    let (second, second_addr) = start_oracle(dirs[1].path(), any);
    let endpoints = [
        format!("http://{first_addr}"),
        format!("http://{second_addr}"),
    ];
    let key = Keypair::generate();
    for endpoint in &endpoints {
        assert_with(&key, endpoint).await;
    }
    // Both up: reports flow. Then the first goes away, and the second takes every report.
    let running = start_hotspot_of(&key, spool_dir.path(), &endpoints);
    for n in 0..4 {
        running.heard.send(beacon_heard(n)).unwrap();
    }
    wait_for("four witnesses", || delivered(&running.metrics) == 4).await;
    first.stop();
    for n in 4..10 {
        running.heard.send(beacon_heard(n)).unwrap();
    }
    wait_for("ten witnesses", || {
        running.outbox.depth() == 0 && delivered(&running.metrics) == 10
    })
    .await;
    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();
    second.stop();
    // Every witness is stored by one of the two, each once; all those sent after the first
    // stopped are with the second.
    let mut payloads = Vec::new();
    for dir in &dirs {
        let oracle = Oracle::open(OracleConfig::open(), dir.path(), Arc::new(SystemClock))
            .await
            .unwrap();
        let stored = oracle.store().pending_witnesses().await.unwrap();
        payloads.push(
            stored
                .iter()
                .map(|row| row.report.data[1])
                .collect::<Vec<u8>>(),
        );
    }
    let mut all: Vec<u8> = payloads.concat();
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<u8>>());
    assert!((4..10).all(|n| payloads[1].contains(&n)), "{payloads:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_queued_during_an_outage_are_delivered_exactly_once_after_restarts() {
    let oracle_dir = tempfile::tempdir().unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let (oracle, addr) = start_oracle(oracle_dir.path(), "127.0.0.1:0".parse().unwrap());
    let endpoint = format!("http://{addr}");

    let key = Keypair::generate();
    let assertion = Hotspot::new(key.clone(), Region::Us915, (37.7793, -122.4192), 30, 10)
        .unwrap()
        .assertion(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
        );
    OracleClient::connect(&endpoint)
        .await
        .unwrap()
        .assert_location(assertion)
        .await
        .unwrap();

    // The oracle is up: reports flow straight through.
    let first = start_hotspot(&key, spool_dir.path(), &endpoint);
    for n in 0..3 {
        first.heard.send(beacon_heard(n)).unwrap();
    }
    wait_for("the first three witnesses", || {
        delivered(&first.metrics) == 3
    })
    .await;
    assert_eq!(first.outbox.depth(), 0);

    // The oracle goes away: witnesses pile up in the spool and delivery backs off.
    oracle.stop();
    for n in 3..7 {
        first.heard.send(beacon_heard(n)).unwrap();
    }
    wait_for("four witnesses queued", || {
        first.outbox.depth() == 4 && first.metrics.delivery_retries.get() >= 2
    })
    .await;

    // The hotspot restarts while the oracle is still down; the queue is still there.
    first.stop.send(()).unwrap();
    let stats = first.task.await.unwrap().unwrap();
    assert_eq!(stats.witnesses_queued, 7);
    assert_eq!(stats.frames_heard, 7);
    let second = start_hotspot(&key, spool_dir.path(), &endpoint);
    assert_eq!(second.outbox.depth(), 4);
    second.heard.send(beacon_heard(7)).unwrap();
    wait_for("five witnesses queued", || {
        second.outbox.depth() == 5 && second.metrics.delivery_retries.get() >= 1
    })
    .await;

    // The oracle comes back on the same address with the same data.
    let (oracle, _) = start_oracle(oracle_dir.path(), addr);
    // An entry leaves the spool before the delivered counter moves: wait for both.
    wait_for(
        "the queue to drain and five deliveries to be counted",
        || second.outbox.depth() == 0 && delivered(&second.metrics) >= 5,
    )
    .await;
    assert_eq!(delivered(&second.metrics), 5);
    second.stop.send(()).unwrap();
    second.task.await.unwrap().unwrap();
    oracle.stop();

    // The oracle holds each of the eight witnesses exactly once.
    let oracle = Oracle::open(
        OracleConfig::open(),
        oracle_dir.path(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let stored = oracle.store().pending_witnesses().await.unwrap();
    let payloads: Vec<u8> = stored.iter().map(|row| row.report.data[1]).collect();
    assert_eq!(stored.len(), 8, "payloads stored: {payloads:?}");
    let distinct: BTreeSet<u8> = payloads.iter().copied().collect();
    assert_eq!(distinct, (0..8).collect::<BTreeSet<u8>>());
    let ids: BTreeSet<&str> = stored.iter().map(|row| row.report_id.as_str()).collect();
    assert_eq!(ids.len(), 8);
    assert!(std::fs::read_dir(spool_dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .all(|entry| entry.path().is_dir()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_report_is_announced_and_set_aside_and_the_outbox_drains() {
    let oracle_dir = tempfile::tempdir().unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let (oracle, addr) = start_oracle(oracle_dir.path(), "127.0.0.1:0".parse().unwrap());
    // The key never asserted a location: the oracle does not know it and refuses its reports.
    let stranger = start_hotspot(
        &Keypair::generate(),
        spool_dir.path(),
        &format!("http://{addr}"),
    );
    let mut refusals = stranger.outbox.refusals();
    stranger.heard.send(beacon_heard(1)).unwrap();
    wait_for("the witness to be queued", || {
        stranger.metrics.witnesses_accepted.get() == 1
    })
    .await;
    tokio::time::timeout(Duration::from_secs(30), stranger.outbox.wait_until_empty())
        .await
        .expect("the outbox drains");
    let refusal = refusals
        .try_recv()
        .expect("the refusal was announced first");
    assert_eq!(refusal.kind, "witness");
    assert!(refusal.reason.contains("SubmitWitness"), "{refusal:?}");
    let rejected = spool_dir
        .path()
        .join(format!("rejected/{:020}.witness", refusal.seq));
    assert!(rejected.exists(), "{} set aside", rejected.display());
    stranger.stop.send(()).unwrap();
    stranger.task.await.unwrap().unwrap();
    oracle.stop();
}
