//! Helpers shared by the oracle's integration tests: a manual clock, a temporary data
//! directory, asserted hotspots and correctly derived, signed reports.
#![allow(dead_code)]

use h3_coverage::CellIndex;
use oracle::store::Status;
use oracle::{ManualClock, Oracle, OracleConfig};
use poc::proto::{self, Region};
use poc::{testkit, Keypair, RegionPlan, Signable};
use std::sync::Arc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// The PostgreSQL server of the PostgreSQL half of a test (`DATABASE_URL`), or `None` after a
/// note that `what` is skipped; with `CI` set, a missing `DATABASE_URL` fails the test instead.
pub fn database_url(what: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but DATABASE_URL is not: {what} must run"
            );
            eprintln!("note: DATABASE_URL is not set; skipping {what}");
            None
        }
    }
}

pub const DAY_MS: u64 = 86_400_000;
/// One hour into a day, so that a test's reports stay in one epoch and one beacon bucket.
pub const START_MS: u64 = 20_800 * DAY_MS + 3_600_000;
/// Austin, Texas (US915).
pub const AUSTIN: (f64, f64) = (30.2672, -97.7431);
/// About 2.2 km north of [`AUSTIN`].
pub const AUSTIN_NORTH: (f64, f64) = (30.2872, -97.7431);
/// Default antenna gain, tenths of dBi.
pub const GAIN: i32 = 30;
/// A plausible RSSI 2 km away in a city (tenths of dBm).
pub const RSSI: i32 = -1000;
/// A plausible SNR (tenths of dB).
pub const SNR: i32 = 50;

pub struct Net {
    pub oracle: Oracle,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

#[derive(Clone)]
pub struct Hotspot {
    pub key: Keypair,
    pub location: u64,
    pub gain: i32,
    pub region: Region,
}

impl Hotspot {
    pub fn pub_key(&self) -> [u8; 32] {
        self.key.public_key()
    }
}

pub fn cell(at: (f64, f64)) -> CellIndex {
    h3_coverage::cell_at(at.0, at.1).unwrap()
}

pub fn assertion(
    key: &Keypair,
    location: u64,
    gain: i32,
    region: Region,
    ts: u64,
) -> proto::LocationAssertion {
    testkit::assertion(key, location, gain, region, ts)
}

impl Net {
    pub async fn new() -> Self {
        Self::with_config(OracleConfig::open()).await
    }

    /// Serves the oracle's HTTP API on a free loopback port, with the server's task.
    pub async fn serve_http(&self) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
        self.oracle
            .serve_http("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }

    pub async fn with_config(config: OracleConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(START_MS));
        let oracle = Oracle::open(config, dir.path(), clock.clone())
            .await
            .unwrap();
        Self { oracle, clock, dir }
    }

    /// A network whose oracle keeps its reports in `store` (the default configuration).
    pub fn over_store(store: Arc<dyn oracle::store::Store>) -> Self {
        let clock = Arc::new(ManualClock::new(START_MS));
        let oracle = Oracle::with_store(
            OracleConfig::open(),
            store,
            Keypair::from_seed(7, 7),
            clock.clone(),
        );
        Self {
            oracle,
            clock,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A hotspot asserted at `at` in `region`.
    pub async fn hotspot_in(&self, index: u64, at: (f64, f64), region: Region) -> Hotspot {
        let key = Keypair::from_seed(42, index);
        let location = u64::from(cell(at));
        self.oracle
            .assert_location(assertion(&key, location, GAIN, region, self.clock.now_ms()))
            .await
            .unwrap();
        Hotspot {
            key,
            location,
            gain: GAIN,
            region,
        }
    }

    /// A US915 hotspot asserted at `at`.
    pub async fn hotspot(&self, index: u64, at: (f64, f64)) -> Hotspot {
        self.hotspot_in(index, at, Region::Us915).await
    }

    /// A hotspot onboarded without a location.
    pub async fn unasserted(&self, index: u64) -> Hotspot {
        let key = Keypair::from_seed(42, index);
        self.oracle
            .assert_location(assertion(&key, 0, GAIN, Region::Us915, self.clock.now_ms()))
            .await
            .unwrap();
        Hotspot {
            key,
            location: 0,
            gain: GAIN,
            region: Region::Us915,
        }
    }

    pub fn advance(&self, ms: u64) {
        self.clock.advance(ms);
    }

    /// Moves past every entropy window and verifies.
    pub async fn settle(&self) {
        self.advance(self.oracle.config().entropy_window_ms + 1_000);
        self.oracle.verify_pending().await.unwrap();
    }

    /// Status and reason of the latest beacon of `h`.
    pub async fn beacon_verdict(&self, h: &Hotspot) -> (Status, Option<String>) {
        let rows = self
            .oracle
            .store()
            .recent_beacons(&h.pub_key(), 1)
            .await
            .unwrap();
        let row = rows.first().expect("a beacon");
        (row.status, row.reason.clone())
    }

    /// Status and reason of the latest witness of `h`.
    pub async fn witness_verdict(&self, h: &Hotspot) -> (Status, Option<String>) {
        let rows = self
            .oracle
            .store()
            .recent_witnesses(&h.pub_key(), 1)
            .await
            .unwrap();
        let row = rows.first().expect("a witness");
        (row.status, row.reason.clone())
    }

    /// A beacon and a witness heard 2 km away, both submitted; returns the reports.
    pub async fn baseline(&self) -> (Hotspot, Hotspot, proto::BeaconReport, proto::WitnessReport) {
        let beaconer = self.hotspot(1, AUSTIN).await;
        let witness = self.hotspot(2, AUSTIN_NORTH).await;
        let entropy = self.oracle.publish_entropy().await.unwrap();
        self.advance(1_000);
        let beacon = beacon_report(&beaconer, &entropy.data, [1, 2, 3, 4]);
        self.oracle.submit_beacon(beacon.clone()).await.unwrap();
        self.advance(500);
        let report = witness_report(&witness, &beacon, RSSI, SNR);
        self.oracle.submit_witness(report.clone()).await.unwrap();
        (beaconer, witness, beacon, report)
    }
}

/// A correctly derived, signed beacon report.
pub fn beacon_report(h: &Hotspot, remote: &[u8], local: [u8; 4]) -> proto::BeaconReport {
    let plan = RegionPlan::for_region(h.region).unwrap();
    testkit::beacon(&h.key, remote, local, plan, h.gain, 1).unwrap()
}

/// A signed witness report of `beacon`.
pub fn witness_report(
    h: &Hotspot,
    beacon: &proto::BeaconReport,
    rssi: i32,
    snr: i32,
) -> proto::WitnessReport {
    testkit::witness(&h.key, beacon, testkit::Signal::new(rssi, snr), 2)
}

/// Re-signs a report after a test changed it.
pub fn resign<M: Signable>(mut m: M, key: &Keypair) -> M {
    m.sign_with(key);
    m
}

/// A gRPC codec that sends and receives raw bytes, to put arbitrary bytes on the wire.
#[derive(Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// A gRPC channel to the oracle at `addr`.
pub async fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Sends `body` as the request of `method`; the status of the refusal.
pub async fn raw_call(
    addr: std::net::SocketAddr,
    method: &'static str,
    body: Vec<u8>,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel(addr).await);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(body),
        tonic::codegen::http::uri::PathAndQuery::from_static(method),
        RawCodec,
    )
    .await
    .expect_err("bad bytes must be refused")
}

/// GETs `path` from the HTTP API at `addr`; the status and the JSON body (`Null` if not JSON).
pub async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let status: u16 = text[9..12].parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}
