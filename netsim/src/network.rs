//! The simulated network: an oracle, hotspots and the air between them.

use crate::air::SimRadio;
use crate::city;
use crate::link::OracleLink;
use crate::operators::{Operators, OperatorsConfig, OperatorsEpoch};
use crate::terrain::{Shadowing, Terrain};
use hotspot::node::PreparedBeacon;
use hotspot::{Backoff, Daemon, Delivery, Hotspot, Metrics, OracleClient, Outbox, Refusal};
use oracle::clock::{Clock, ManualClock};
use oracle::identity::{IdentityConfig, MakerConfig, Onboarding};
use oracle::{EpochReport, Oracle, OracleConfig};
use poc::onboarding::{issue_record, onboard_request};
use poc::proto::{BeaconReport, Region, WitnessReport};
use poc::Keypair;
use radio::channel::{propagate, thermal_noise_dbm, ChannelConditions, PathLoss};
use radio::demod::RxFrame;
use radio_io::Reception;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{self, error::TryRecvError};

/// 2026-01-01T00:00:00Z, where simulated time starts.
pub const START_MS: u64 = 1_767_225_600_000;

/// From the end of a beacon's transmission until its witnesses' reports leave, milliseconds.
const WITNESS_DELAY_MS: u64 = 250;
/// Longest a hotspot's delivery waits for the oracle's answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// The hotspots' delivery backoff: short, as it runs in real time while the simulated clock
/// stands still.
const DELIVERY_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(5),
    max: Duration::from_millis(100),
};
/// Longest real time a step waits for a hotspot's spool to drain (or, in an outage, for its
/// delivery to fail) before the simulation gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Errors of the simulation.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The oracle failed.
    #[error("oracle: {0}")]
    Oracle(#[from] oracle::OracleError),
    /// The oracle's store failed.
    #[error("oracle store: {0}")]
    Store(#[from] oracle::store::StoreError),
    /// A hotspot failed.
    #[error("hotspot: {0}")]
    Hotspot(#[from] hotspot::HotspotError),
    /// A gRPC call failed.
    #[error("gRPC: {0}")]
    Client(#[from] hotspot::ClientError),
    /// The oracle's ingest failed (the in-process transport).
    #[error("ingest: {0}")]
    Ingest(#[from] oracle::IngestError),
    /// A hotspot's daemon failed.
    #[error("daemon: {0}")]
    Daemon(#[from] hotspot::DaemonError),
    /// A hotspot's spool could not be opened.
    #[error(transparent)]
    Spool(#[from] hotspot::SpoolError),
    /// A hotspot's link to the oracle could not be opened.
    #[error("oracle link: {0}")]
    Link(#[from] std::io::Error),
    /// A hotspot's daemon skipped a beacon it was told to send.
    #[error("hotspot {0} skipped its beacon")]
    BeaconSkipped(usize),
    /// A hotspot's spool did not drain in time.
    #[error("hotspot {hotspot}: {waiting} reports still undelivered after {timeout:?}")]
    Undelivered {
        /// Index of the hotspot.
        hotspot: usize,
        /// Reports still in its spool.
        waiting: usize,
        /// How long the step waited.
        timeout: Duration,
    },
    /// Refusals of a hotspot's reports went by unseen.
    #[error("hotspot {hotspot}: {missed} refusals missed")]
    RefusalsMissed {
        /// Index of the hotspot.
        hotspot: usize,
        /// How many.
        missed: u64,
    },
    /// The configuration is unusable.
    #[error("invalid network configuration: {0}")]
    Config(String),
    /// The oracle operators sharing a report log did not apply it, or disagree.
    #[error("oracle operators: {0}")]
    Operators(String),
}

/// Owner numbers of hotspots with an owner of their own start here (index added), far above
/// any number a scenario gives its attackers' owners.
const OWN_OWNER: u64 = 1 << 40;
/// Owner keys derive from the seed and `OWNER_KEYS + owner number`, far from hotspot indices.
const OWNER_KEYS: u64 = 1 << 48;
/// The network's maker key derives from the seed and this number.
const MAKER_KEY: u64 = 1 << 50;

/// The key of owner `owner` in a network seeded with `seed`.
pub fn owner_key(seed: u64, owner: u64) -> Keypair {
    Keypair::from_seed(seed, OWNER_KEYS.saturating_add(owner))
}

/// The key of the maker that built every hotspot of a network seeded with `seed`.
pub fn maker_key(seed: u64) -> Keypair {
    Keypair::from_seed(seed, MAKER_KEY)
}

/// How the simulated network is laid out and how radio waves travel in it.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Number of hotspots.
    pub hotspots: usize,
    /// How many of them (the last ones) never assert a location.
    pub unasserted: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Where the oracle keeps its store.
    pub data_dir: PathBuf,
    /// Where each hotspot keeps its spool (`<spool_dir>/<index>`). `None`: a temporary
    /// directory on the memory file system `/dev/shm` when the machine has one, else
    /// `<data_dir>/spools`. Every report is written and synced to its spool before it is
    /// delivered, as on a hotspot; on a memory file system the syncs cost nothing, which keeps
    /// runs of tens of thousands of reports quick.
    pub spool_dir: Option<PathBuf>,
    /// The oracle's settings.
    pub oracle: OracleConfig,
    /// The region all hotspots operate in.
    pub region: Region,
    /// Antenna gain of every hotspot, tenths of dBi, unless [`NetworkConfig::antennas`] or
    /// its [`NodeSpec`] gives its own.
    pub gain_ddbi: i32,
    /// Path loss by distance.
    pub path_loss: PathLoss,
    /// Path loss at the reference distance of [`PathLoss::LogDistance`], dB; `None`: the
    /// free-space loss there.
    pub reference_loss_db: Option<f64>,
    /// Standard deviation of log-normal shadowing per link, dB.
    pub shadowing_db: f64,
    /// How much of the shadowing nearby links share ([`crate::terrain`]); by default none.
    pub terrain: Terrain,
    /// Gain of an antenna per decade of height above 10 m, dB.
    pub height_gain_db_per_decade: f64,
    /// The antennas of the first hotspots, by index; the others have [`NetworkConfig::gain_ddbi`]
    /// at 10 m.
    pub antennas: Vec<Antenna>,
    /// Receiver noise figure, dB.
    pub noise_figure_db: f64,
    /// Largest crystal error of a hotspot, parts per million.
    pub crystal_ppm: f64,
    /// Where the hotspots stand, `(name, lat, lon)`; empty means San Francisco's sites.
    pub sites: Vec<(String, f64, f64)>,
    /// Hotspots added after the `hotspots` honest ones (attackers of a scenario).
    pub extra: Vec<NodeSpec>,
    /// A receiver with no key of its own whose frames the [`Behaviour::Replay`] hotspots
    /// submit as their own.
    pub replay_receiver: Option<RadioSite>,
    /// Skip the IQ samples: a beacon is decoded when the link's SNR (with a measurement error
    /// of `measurement_db`) reaches its spreading factor's demodulation floor, and the witness
    /// reports that RSSI and SNR. Much faster; the same propagation model.
    pub link_budget: bool,
    /// Standard deviation of the RSSI/SNR measurement error in link-budget mode, dB.
    pub measurement_db: f64,
    /// Simulated time (ms since the Unix epoch) during which the oracle is unreachable for
    /// every hotspot. A step of the simulation (a beacon's transmission, its witnesses'
    /// receptions) in it cuts the hotspots' links before their reports are spooled, waits until
    /// every hotspot with reports has failed to deliver them, then restores the links one
    /// hotspot at a time in the order the reports were made and waits for each spool to drain.
    /// The simulated clock stands still meanwhile, so the oracle receives the same reports at
    /// the same simulated times, in the same order, as without the outage.
    pub outage: Option<Range<u64>>,
    /// Write what the oracle's defences judged each epoch on, with who is honest, to
    /// `<evidence_dir>/epoch-<n>.json` ([`crate::evidence`]).
    pub evidence_dir: Option<PathBuf>,
    /// How the hotspots' reports reach the oracle.
    pub transport: Transport,
    /// Several oracle operators sharing a report log instead of one oracle
    /// ([`crate::operators`]).
    pub operators: Option<OperatorsConfig>,
}

/// How the hotspots' reports reach the oracle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// The daemon's way: each report is written to the hotspot's spool and delivered by its
    /// delivery task over gRPC.
    #[default]
    Daemon,
    /// Straight into the oracle's ingest in this process ([`Oracle::submit_beacon`],
    /// [`Oracle::submit_witnesses`]): the same reports at the same simulated times, in the
    /// same order, without the spools and the network. Link-budget beacons are not
    /// modulated. Sweeps run this way; it cannot simulate an outage.
    InProcess,
}

impl NetworkConfig {
    /// Defaults for `hotspots` hotspots in San Francisco: US915, 3 dBi antennas, an urban
    /// log-distance path loss (exponent 3.7 from 1 m) with 6 dB shadowing, a 6 dB noise figure
    /// and ±2 ppm crystals.
    pub fn new(hotspots: usize, seed: u64, data_dir: PathBuf) -> Self {
        Self {
            hotspots,
            unasserted: 0,
            seed,
            data_dir,
            oracle: OracleConfig::open(),
            region: Region::Us915,
            gain_ddbi: 30,
            path_loss: PathLoss::LogDistance {
                exponent: 3.7,
                reference_m: 1.0,
            },
            reference_loss_db: None,
            shadowing_db: 6.0,
            terrain: Terrain::default(),
            height_gain_db_per_decade: 0.0,
            antennas: Vec::new(),
            noise_figure_db: 6.0,
            crystal_ppm: 2.0,
            sites: Vec::new(),
            extra: Vec::new(),
            replay_receiver: None,
            link_budget: false,
            measurement_db: 1.0,
            spool_dir: None,
            outage: None,
            evidence_dir: None,
            transport: Transport::Daemon,
            operators: None,
        }
    }

    /// Makes identities cost what Helium's did: the oracle onboards only hotspots with the
    /// record of a registered maker (the network's, [`maker_key`], with an allowance of a
    /// million hotspots) and charges their owners its default fees (4 000 000 DC to onboard,
    /// 1 000 000 DC per assertion). The network credits each owner exactly the fees of its
    /// hotspots and onboards each hotspot through the oracle's `Onboard` RPC before it asserts.
    pub fn charge_identities(&mut self) {
        let maker = maker_key(self.seed);
        self.oracle.identity = IdentityConfig {
            onboarding: Onboarding::Makers,
            makers: vec![MakerConfig {
                name: "netsim".into(),
                key: maker.address().to_string(),
                allowance: 1_000_000,
            }],
            ..IdentityConfig::default()
        };
    }

    /// Whether the oracle onboards only hotspots with a maker's record (and charges fees).
    pub fn charges_identities(&self) -> bool {
        self.oracle.identity.onboarding == Onboarding::Makers
    }
}

/// How a simulated hotspot behaves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Behaviour {
    /// Beacons and reports what its radio decodes.
    Honest,
    /// Colluder without a radio on air: invents plausible witness reports of the other ring
    /// members' beacons.
    Ring,
    /// Radio somewhere else than its asserted location; otherwise honest.
    Spoof,
    /// Adds `offset_db` to the RSSI and SNR of every witness report.
    ForgeRssi {
        /// Inflation, dB.
        offset_db: f64,
    },
    /// One of several radios on one roof, asserted apart; drops reports of its fellow farm
    /// members' beacons (they would be far too loud).
    Farm,
    /// No radio: submits the frames of the network's replay receiver as its own witnesses.
    Replay,
    /// Listens and reports like an honest hotspot but never beacons.
    WitnessOnly,
    /// Radio somewhere else than its asserted location that reports, for each beacon it truly
    /// decodes, the RSSI and SNR its asserted place would give (the world's path law at the
    /// asserted distance, a shadowing drawn once per link and measurement noise), and drops
    /// the beacons its asserted place would not decode.
    ShapingSpoof,
    /// Key without a radio in a sybil island: beacons, and witnesses its fellow islanders'
    /// beacons with what real radios at their asserted places would measure (the network's own
    /// path loss, shadowing and measurement noise), so the island's reports are mutually
    /// consistent.
    Island,
    /// The one real radio of a relay ring: honest on air, and forwards every beacon it
    /// decodes over the internet to the ring's colluders.
    Relay,
    /// Key without a radio in a relay ring: witnesses each beacon the ring's relay decoded, as
    /// heard at its own asserted place (RSSI and SNR shaped for the asserted distance, dropped
    /// where that place would not decode it).
    RelayColluder,
    /// Honest for its first `honest_epochs` epochs of the run, then also invents witness
    /// reports of its fellow patient attackers' beacons as the ring does.
    Patient {
        /// Epochs of the run it stays honest.
        honest_epochs: u64,
    },
    /// Onboarded and asserted, then silent: neither beacons nor reports.
    Idle,
}

impl Behaviour {
    /// Whether this is anything but [`Behaviour::Honest`].
    pub fn is_attacker(&self) -> bool {
        *self != Behaviour::Honest
    }

    /// Whether the hotspot transmits beacons (every behaviour but witness-only and idle).
    pub fn beacons(&self) -> bool {
        !matches!(self, Behaviour::WitnessOnly | Behaviour::Idle)
    }
}

/// A hotspot's antenna.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Antenna {
    /// Gain, tenths of dBi (as asserted).
    pub gain_ddbi: i32,
    /// Height above ground, metres.
    pub height_m: f64,
}

impl Default for Antenna {
    /// 3 dBi at 10 m.
    fn default() -> Self {
        Self {
            gain_ddbi: 30,
            height_m: 10.0,
        }
    }
}

/// Where a radio really stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RadioSite {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Radios with the same site number share their shadowing (one roof).
    pub site: u64,
    /// Its antenna.
    pub antenna: Antenna,
}

/// A hotspot to add to the network.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// Place name.
    pub name: String,
    /// Asserted location `(lat, lon)`.
    pub asserted: (f64, f64),
    /// Where its radio stands; `None` for a key with no radio on air.
    pub radio: Option<RadioSite>,
    /// What it does.
    pub behaviour: Behaviour,
    /// The antenna it asserts (its radio's is [`RadioSite::antenna`]).
    pub antenna: Antenna,
    /// Its owner, by number (owner keys derive from the seed and the number); `None`: an owner
    /// of its own. Only networks whose oracle onboards with makers use owners.
    pub owner: Option<u64>,
    /// The number its key and its own draws (beacon moments, local entropy) derive from, with
    /// the seed; `None`: its index in the network. A baseline that runs an attacker's radio
    /// honestly gives it the attacker's number, so that it is the same hotspot to the oracle:
    /// its key takes the same places among a beacon's witnesses and it beacons at the same
    /// moments.
    pub number: Option<u64>,
}

/// A hotspot of the simulation as the report names it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    /// Place name.
    pub name: String,
    /// Address of its key.
    pub address: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Whether it asserted its location.
    pub asserted: bool,
    /// Where its radio really stands (`None`: no radio on air).
    pub radio: Option<RadioSite>,
    /// What it does.
    pub behaviour: Behaviour,
    /// The antenna it asserted.
    pub antenna: Antenna,
    /// Address of its owner's key.
    pub owner: String,
}

/// The number of the owner of hotspot `index` made from `spec`.
fn owner_number(spec: &NodeSpec, index: usize) -> u64 {
    spec.owner
        .unwrap_or_else(|| OWN_OWNER.saturating_add(index as u64))
}

/// Whether hotspot `index` asserts its location: every attacker and every honest hotspot but
/// the last `unasserted`.
fn is_asserted(config: &NetworkConfig, index: usize) -> bool {
    index >= config.hotspots || index < config.hotspots - config.unasserted
}

/// A simulated hotspot: the daemon's beacon and receive steps on a simulated radio, its spool
/// and delivery task, and its link to the oracle.
struct Node {
    info: NodeInfo,
    /// See [`NodeSpec::number`].
    number: u64,
    hotspot: Hotspot,
    /// A connection of its own to the oracle, which outages leave alone: the location
    /// assertion and the beacon entropy go over it.
    client: OracleClient,
    /// The daemon, its spool and its delivery task; `None` with [`Transport::InProcess`].
    daemon: Option<Box<DaemonNode>>,
    crystal_ppm: f64,
    rejections_seen: BTreeMap<String, u64>,
}

/// A simulated hotspot's daemon with its spool and delivery task.
struct DaemonNode {
    daemon: Daemon<SimRadio>,
    /// The delivery's way to the oracle when the run has an outage; without one the delivery
    /// connects to the oracle directly.
    link: Option<OracleLink>,
    _delivery: Delivery,
    refusals: broadcast::Receiver<Refusal>,
}

impl Node {
    /// Hotspot `index` of the network: its key, its onboarding and location assertion
    /// (unless it is one of the unasserted), and with [`Transport::Daemon`] its spool in
    /// `spool`, its daemon on a simulated radio and its delivery task, which reaches the
    /// oracle over a link of its own.
    async fn start(
        config: &NetworkConfig,
        index: usize,
        spec: NodeSpec,
        oracle: (&Oracle, SocketAddr),
        clock: &Arc<ManualClock>,
        spool: &std::path::Path,
    ) -> Result<Self, NetworkError> {
        let number = spec.number.unwrap_or(index as u64);
        let key = Keypair::from_seed(config.seed, number);
        let owner = owner_key(config.seed, owner_number(&spec, index));
        let (gain_ddbi, elevation_m) = (spec.antenna.gain_ddbi, spec.antenna.height_m.round());
        let hotspot = Hotspot::new(
            key.clone(),
            config.region,
            spec.asserted,
            gain_ddbi,
            elevation_m as i32,
        )?;
        let onboarding = config.charges_identities().then(|| {
            onboard_request(
                issue_record(&maker_key(config.seed), key.public_key(), START_MS),
                &key,
                &owner,
                START_MS,
            )
        });
        let assertion = is_asserted(config, index).then(|| hotspot.assertion(START_MS));
        let endpoint = format!("http://{}", oracle.1);
        let mut client = OracleClient::connect_lazy(&endpoint, DELIVERY_TIMEOUT)?;
        match config.transport {
            Transport::Daemon => {
                if let Some(request) = onboarding {
                    client.onboard(request).await?;
                }
                if let Some(assertion) = assertion.clone() {
                    client.assert_location(assertion).await?;
                }
            }
            Transport::InProcess => {
                if let Some(request) = onboarding {
                    oracle.0.onboard(request).await?;
                }
                if let Some(assertion) = assertion.clone() {
                    oracle.0.assert_location(assertion).await?;
                }
            }
        }
        let info = NodeInfo {
            name: spec.name,
            address: hotspot.address().to_string(),
            lat: spec.asserted.0,
            lon: spec.asserted.1,
            asserted: assertion.is_some(),
            radio: spec.radio,
            behaviour: spec.behaviour,
            antenna: spec.antenna,
            owner: owner.address().to_string(),
        };
        let daemon = match config.transport {
            Transport::Daemon => Some(Box::new(
                DaemonNode::start(config, hotspot.clone(), oracle.1, clock, spool).await?,
            )),
            Transport::InProcess => None,
        };
        Ok(Self {
            info,
            number,
            hotspot,
            client,
            daemon,
            crystal_ppm: 0.0,
            rejections_seen: BTreeMap::new(),
        })
    }

    /// The same hotspot with a crystal `ppm` parts per million off.
    fn with_crystal(mut self, ppm: f64) -> Self {
        self.crystal_ppm = ppm;
        self
    }
}

impl DaemonNode {
    /// The daemon of `hotspot` on a simulated radio, its spool in `spool` and its delivery
    /// task, which reaches the oracle at `oracle` over a link of its own when the run has an
    /// outage.
    async fn start(
        config: &NetworkConfig,
        hotspot: Hotspot,
        oracle: SocketAddr,
        clock: &Arc<ManualClock>,
        spool: &std::path::Path,
    ) -> Result<Self, NetworkError> {
        let link = match config.outage {
            Some(_) => Some(OracleLink::open(oracle).await?),
            None => None,
        };
        let endpoint = link
            .as_ref()
            .map_or_else(|| format!("http://{oracle}"), OracleLink::endpoint);
        let metrics = Metrics::new();
        let outbox = Outbox::open(spool, metrics.clone())?;
        let delivery_client = OracleClient::connect_lazy(&endpoint, DELIVERY_TIMEOUT)?;
        let delivery = outbox.spawn_delivery(delivery_client.clone(), DELIVERY_BACKOFF);
        let refusals = outbox.refusals();
        let interval = Duration::from_millis(config.oracle.beacon_interval_ms);
        let radio = SimRadio::new(clock.clone());
        let daemon = Daemon::new(hotspot, delivery_client, radio, outbox, interval)
            .with_metrics(metrics)
            .with_backoff(DELIVERY_BACKOFF);
        Ok(Self {
            daemon,
            link,
            _delivery: delivery,
            refusals,
        })
    }

    /// Waits until the hotspot's spool has drained, then moves the reports the oracle refused
    /// meanwhile into `refused`.
    async fn settle(
        &mut self,
        index: usize,
        refused: &mut Vec<(usize, String)>,
    ) -> Result<(), NetworkError> {
        let outbox = self.daemon.outbox();
        if tokio::time::timeout(STEP_TIMEOUT, outbox.wait_until_empty())
            .await
            .is_err()
        {
            return Err(NetworkError::Undelivered {
                hotspot: index,
                waiting: outbox.depth(),
                timeout: STEP_TIMEOUT,
            });
        }
        loop {
            match self.refusals.try_recv() {
                Ok(refusal) => refused.push((index, refusal.reason)),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return Ok(()),
                Err(TryRecvError::Lagged(missed)) => {
                    return Err(NetworkError::RefusalsMissed {
                        hotspot: index,
                        missed,
                    })
                }
            }
        }
    }
}

/// The radio link between two hotspots.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Link {
    /// Great-circle distance, metres.
    pub distance_m: f64,
    /// Path loss including shadowing, dB.
    pub path_loss_db: f64,
    /// Received signal power, dBm.
    pub rx_power_dbm: f64,
    /// Signal-to-noise ratio at the receiver, dB.
    pub snr_db: f64,
}

/// What came of one beacon.
#[derive(Debug, Clone)]
pub struct BeaconOutcome {
    /// Index of the beaconer.
    pub beaconer: usize,
    /// Simulated transmission time, ms since the Unix epoch.
    pub at_ms: u64,
    /// The beacon report the beaconer submitted.
    pub report: BeaconReport,
    /// The witness reports submitted, with the index of the hotspot that sent each.
    pub witnesses: Vec<(usize, WitnessReport)>,
    /// Reports (the beacon's or witnesses') the oracle refused at ingest, with the sender and
    /// the oracle's reason, as the senders' delivery set them aside.
    pub refused: Vec<(usize, String)>,
}

impl BeaconOutcome {
    /// Indices of the hotspots that decoded the beacon and reported it.
    pub fn heard_by(&self) -> Vec<usize> {
        self.witnesses.iter().map(|(index, _)| *index).collect()
    }
}

/// What the outages of a run did (see [`NetworkConfig::outage`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutageStats {
    /// Steps of the simulation that ran during an outage.
    pub steps: u64,
    /// Reports that waited in the spools for the oracle to come back, over all those steps.
    pub reports_held: u64,
    /// Most reports waiting at once.
    pub most_held: u64,
}

/// One hotspot's rejected reports in an epoch.
#[derive(Debug, Clone, Serialize)]
pub struct HotspotRejections {
    /// Address of the hotspot.
    pub address: String,
    /// Counts by reason code.
    pub rejections: BTreeMap<String, u64>,
}

/// What came of one epoch.
#[derive(Debug, Clone, Serialize)]
pub struct EpochOutcome {
    /// The oracle's reward report.
    pub report: EpochReport,
    /// Beacons transmitted.
    pub beacons_sent: usize,
    /// Witness reports submitted.
    pub witnesses_sent: usize,
    /// Reports the oracle refused at ingest.
    pub reports_refused: usize,
    /// Each hotspot's rejected reports (at ingest or by validation), in index order.
    pub hotspot_rejections: Vec<HotspotRejections>,
    /// With several oracle operators: the epoch's ledger entry, its signers and dissenters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operators: Option<OperatorsEpoch>,
}

/// The running simulation.
pub struct Network {
    config: NetworkConfig,
    /// The oracle, or the first of several operators.
    oracle: Oracle,
    clock: Arc<ManualClock>,
    grpc_addr: SocketAddr,
    /// The oracle's gRPC server task, stopped when the network is dropped: it holds the
    /// oracle (its store's open files), and a sweep runs many networks on one runtime.
    server: Option<tokio::task::JoinHandle<()>>,
    /// Several operators sharing a report log, when the configuration asks for them.
    operators: Option<Operators>,
    nodes: Vec<Node>,
    rng: ChaCha8Rng,
    shadowing: Shadowing,
    last_entropy_ms: Option<u64>,
    /// Each hotspot's delivery retries when its link was last cut, while the links are cut.
    retries_at_cut: Option<Vec<u64>>,
    outage_stats: OutageStats,
    spool_dir: PathBuf,
    /// The temporary directory of the spools, when the network made one.
    _spools: Option<tempfile::TempDir>,
    /// Data credits each owner paid, by address.
    fees_paid: BTreeMap<String, u64>,
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// Hotspot `index` of the network `config` describes: an honest one on its site, or one of
/// the extra hotspots.
fn spec_of(config: &NetworkConfig, index: usize) -> NodeSpec {
    if let Some(spec) = index
        .checked_sub(config.hotspots)
        .and_then(|k| config.extra.get(k))
    {
        return spec.clone();
    }
    let (name, lat, lon) = config
        .sites
        .get(index)
        .cloned()
        .unwrap_or_else(|| city::site(index));
    let antenna = config.antennas.get(index).copied().unwrap_or(Antenna {
        gain_ddbi: config.gain_ddbi,
        height_m: 10.0,
    });
    NodeSpec {
        name,
        asserted: (lat, lon),
        radio: Some(RadioSite {
            lat,
            lon,
            site: index as u64,
            antenna,
        }),
        behaviour: Behaviour::Honest,
        antenna,
        owner: None,
        number: None,
    }
}

/// When identities cost something, credits each owner of `specs` exactly the fees of its
/// hotspots (onboarding, and an assertion for those that assert). Returns what each owner
/// (by address, with its key) was credited.
async fn credit_owners(
    config: &NetworkConfig,
    oracles: &[&Oracle],
    specs: &[NodeSpec],
) -> Result<BTreeMap<String, ([u8; 32], u64)>, NetworkError> {
    let mut credited: BTreeMap<String, ([u8; 32], u64)> = BTreeMap::new();
    if !config.charges_identities() {
        return Ok(credited);
    }
    let fees = &config.oracle.identity;
    for (index, spec) in specs.iter().enumerate() {
        let owner = owner_key(config.seed, owner_number(spec, index));
        let assertion = if is_asserted(config, index) {
            fees.assertion_fee_dc
        } else {
            0
        };
        let entry = credited
            .entry(owner.address().to_string())
            .or_insert((owner.public_key(), 0));
        entry.1 = entry.1.saturating_add(fees.onboarding_fee_dc + assertion);
    }
    for (owner, (key, amount)) in &credited {
        let memo = format!("netsim fees of {owner}");
        for oracle in oracles {
            oracle.store().credit(key, *amount, START_MS, &memo).await?;
        }
    }
    Ok(credited)
}

/// The directory of the hotspots' spools (see [`NetworkConfig::spool_dir`]), and the temporary
/// directory to remove when the network ends, if one was made.
fn spool_dir(config: &NetworkConfig) -> (PathBuf, Option<tempfile::TempDir>) {
    if let Some(dir) = &config.spool_dir {
        return (dir.clone(), None);
    }
    let memory = std::path::Path::new("/dev/shm");
    if memory.is_dir() {
        if let Ok(temp) = tempfile::Builder::new()
            .prefix("netsim-spools-")
            .tempdir_in(memory)
        {
            return (temp.path().to_path_buf(), Some(temp));
        }
    }
    (config.data_dir.join("spools"), None)
}

/// The oracle serving gRPC on loopback, or the operators sharing a report log with the first
/// of them standing for the oracle.
async fn start_oracles(
    config: &NetworkConfig,
    clock: &Arc<ManualClock>,
) -> Result<
    (
        Oracle,
        SocketAddr,
        Option<tokio::task::JoinHandle<()>>,
        Option<Operators>,
    ),
    NetworkError,
> {
    let shared_clock: Arc<dyn Clock> = clock.clone();
    if let Some(operators) = &config.operators {
        if config.outage.is_some() {
            return Err(NetworkError::Config(
                "an outage with several operators is not simulated".into(),
            ));
        }
        let operators =
            Operators::start(operators, &config.oracle, &config.data_dir, shared_clock).await?;
        let (oracle, grpc) = operators.of_node(0);
        return Ok((oracle.clone(), grpc, None, Some(operators)));
    }
    let oracle = Oracle::open(config.oracle.clone(), &config.data_dir, shared_clock).await?;
    let (grpc_addr, server) = oracle
        .serve_grpc(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await?;
    Ok((oracle, grpc_addr, Some(server), None))
}

impl Network {
    /// Starts the oracle on loopback, creates the hotspots and asserts their locations.
    pub async fn start(config: NetworkConfig) -> Result<Self, NetworkError> {
        if config.hotspots < 2 {
            return Err(NetworkError::Config("at least 2 hotspots".into()));
        }
        if config.unasserted >= config.hotspots.max(1) {
            return Err(NetworkError::Config(
                "unasserted must be fewer than hotspots".into(),
            ));
        }
        if config.outage.is_some() && config.transport == Transport::InProcess {
            return Err(NetworkError::Config(
                "an outage needs the daemon transport".into(),
            ));
        }
        let clock = Arc::new(ManualClock::new(START_MS));
        let (oracle, grpc_addr, server, operators) = start_oracles(&config, &clock).await?;
        let (spool_dir, spools) = spool_dir(&config);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let total = config.hotspots + config.extra.len();
        let specs: Vec<NodeSpec> = (0..total).map(|index| spec_of(&config, index)).collect();
        let every_oracle: Vec<&Oracle> = match &operators {
            Some(operators) => operators.oracles().collect(),
            None => vec![&oracle],
        };
        let credited = credit_owners(&config, &every_oracle, &specs).await?;
        let mut nodes = Vec::with_capacity(total);
        for (index, spec) in specs.into_iter().enumerate() {
            let crystal_ppm = rng.gen_range(-config.crystal_ppm..=config.crystal_ppm);
            let spool = spool_dir.join(index.to_string());
            let endpoint = match &operators {
                Some(operators) => operators.of_node(index),
                None => (&oracle, grpc_addr),
            };
            let node = Node::start(&config, index, spec, endpoint, &clock, &spool).await?;
            nodes.push(node.with_crystal(crystal_ppm));
        }
        if let Some(operators) = &operators {
            operators.sync().await?;
        }
        let mut fees_paid = BTreeMap::new();
        for (owner, (key, amount)) in credited {
            let left = oracle.store().balance(&key).await?;
            fees_paid.insert(owner, amount.saturating_sub(left));
        }
        let shadowing = Shadowing::new(config.seed, config.shadowing_db, config.terrain);
        Ok(Self {
            config,
            oracle,
            clock,
            grpc_addr,
            server,
            operators,
            nodes,
            rng,
            shadowing,
            last_entropy_ms: None,
            retries_at_cut: None,
            outage_stats: OutageStats::default(),
            spool_dir,
            _spools: spools,
            fees_paid,
        })
    }

    /// Data credits each owner (by address) paid the oracle to onboard its hotspots and assert
    /// their locations; empty when identities are free.
    pub fn fees_paid(&self) -> &BTreeMap<String, u64> {
        &self.fees_paid
    }

    /// The oracle.
    pub fn oracle(&self) -> &Oracle {
        &self.oracle
    }

    /// The simulation's clock.
    pub fn clock(&self) -> &Arc<ManualClock> {
        &self.clock
    }

    /// The oracle's gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The hotspots, in index order.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes.iter().map(|node| node.info.clone()).collect()
    }

    /// The hotspot at `index`.
    pub fn hotspot(&self, index: usize) -> &Hotspot {
        &self.nodes[index].hotspot
    }

    /// A gRPC client of the oracle, as hotspot `index` holds it, on a connection that outages
    /// leave alone.
    pub fn client(&self, index: usize) -> OracleClient {
        self.nodes[index].client.clone()
    }

    /// The outbox (spool) of hotspot `index`; `None` with [`Transport::InProcess`].
    pub fn outbox(&self, index: usize) -> Option<&Outbox> {
        self.nodes[index].daemon.as_ref().map(|d| d.daemon.outbox())
    }

    /// The spool directory of hotspot `index`.
    pub fn spool_dir(&self, index: usize) -> PathBuf {
        self.spool_dir.join(index.to_string())
    }

    /// The daemon metrics of hotspot `index`: reports delivered and refused, delivery
    /// retries; `None` with [`Transport::InProcess`].
    pub fn metrics(&self, index: usize) -> Option<&Metrics> {
        self.nodes[index]
            .daemon
            .as_ref()
            .map(|d| d.daemon.metrics())
    }

    /// What the outages did so far.
    pub fn outage_stats(&self) -> OutageStats {
        self.outage_stats
    }

    /// A random generator for one event, derived from the seed and the event's identity, so
    /// that runs with and without extra hotspots draw the same numbers for the same events.
    pub fn event_rng(&self, tag: &[u8], a: u64, b: u64) -> ChaCha8Rng {
        event_rng(self.config.seed, tag, a, b)
    }

    /// Where hotspot `index`'s radio stands, or where it claims to when it has none.
    fn radio_of(&self, index: usize) -> RadioSite {
        let info = &self.nodes[index].info;
        info.radio.unwrap_or(RadioSite {
            lat: info.lat,
            lon: info.lon,
            site: index as u64,
            antenna: info.antenna,
        })
    }

    /// Path loss by distance without shadowing, dB.
    pub fn path_loss_db(&self, distance_m: f64, frequency_hz: f64) -> f64 {
        match (self.config.reference_loss_db, self.config.path_loss) {
            (
                Some(reference_loss_db),
                PathLoss::LogDistance {
                    exponent,
                    reference_m,
                },
            ) => {
                reference_loss_db
                    + 10.0 * exponent * (distance_m.max(reference_m) / reference_m).log10()
            }
            _ => self.config.path_loss.loss_db(distance_m, frequency_hz),
        }
    }

    /// What an antenna adds to a link: its gain and its height's.
    fn antenna_gain_db(&self, antenna: &Antenna) -> f64 {
        let height = if self.config.height_gain_db_per_decade == 0.0 {
            0.0
        } else {
            self.config.height_gain_db_per_decade * (antenna.height_m / 10.0).log10()
        };
        f64::from(antenna.gain_ddbi) / 10.0 + height
    }

    /// The radio link from hotspot `tx` to hotspot `rx` for a transmission of `tx_power_dbm`
    /// at `frequency_hz` over `bandwidth_hz`.
    pub fn link(
        &self,
        tx: usize,
        rx: usize,
        tx_power_dbm: f64,
        frequency_hz: f64,
        bandwidth_hz: f64,
    ) -> Link {
        self.link_between(
            self.radio_of(tx),
            self.radio_of(rx),
            tx_power_dbm,
            frequency_hz,
            bandwidth_hz,
        )
    }

    /// The radio link between two radio sites.
    pub fn link_between(
        &self,
        tx: RadioSite,
        rx: RadioSite,
        tx_power_dbm: f64,
        frequency_hz: f64,
        bandwidth_hz: f64,
    ) -> Link {
        let distance_m = h3_coverage::distance_between_m((tx.lat, tx.lon), (rx.lat, rx.lon));
        let path_loss_db =
            self.path_loss_db(distance_m, frequency_hz) + self.shadowing.link_db(&tx, &rx);
        let gains_db = self.antenna_gain_db(&tx.antenna) + self.antenna_gain_db(&rx.antenna);
        let rx_power_dbm = tx_power_dbm + gains_db - path_loss_db;
        let noise_dbm = thermal_noise_dbm(bandwidth_hz, self.config.noise_figure_db);
        Link {
            distance_m,
            path_loss_db,
            rx_power_dbm,
            snr_db: rx_power_dbm - noise_dbm,
        }
    }

    /// Publishes the entropy of the entropy period holding `at_ms` if it is not out yet,
    /// stamped at the period's start and drawn from the seed and the period's number; with
    /// several operators, they make it together at the period's start.
    async fn fresh_entropy(&mut self, at_ms: u64) -> Result<(), NetworkError> {
        let period = self.config.oracle.entropy_period_ms.max(1);
        let start = at_ms / period * period;
        if self.last_entropy_ms.is_some_and(|last| last >= start) {
            return Ok(());
        }
        let random: [u8; 32] = self.event_rng(b"entropy", start, 0).gen();
        let now = self.clock.now_ms();
        self.clock.set(start);
        let published = match &self.operators {
            Some(operators) => operators.make_entropy().await,
            None => self
                .oracle
                .publish_entropy_from(random)
                .await
                .map(|_| ())
                .map_err(NetworkError::from),
        };
        self.clock.set(now.max(start));
        published?;
        self.last_entropy_ms = Some(start);
        Ok(())
    }

    /// What radio `rx` decodes of a beacon from radio `tx`: demodulated from IQ samples by
    /// `demodulator` (the hotspot whose radio it is), or from the link budget in link-budget
    /// mode.
    fn receive(
        &mut self,
        (tx, tx_crystal_ppm): (RadioSite, f64),
        (rx, rx_crystal_ppm): (RadioSite, f64),
        prepared: &PreparedBeacon,
        at_ms: u64,
        demodulator: usize,
    ) -> Result<Vec<Reception>, NetworkError> {
        let frequency_hz = prepared.beacon.frequency_hz as f64;
        let bandwidth_hz = f64::from(prepared.params.bandwidth_hz);
        let tx_power_dbm = f64::from(prepared.beacon.tx_power_ddbm) / 10.0;
        let link = self.link_between(tx, rx, tx_power_dbm, frequency_hz, bandwidth_hz);
        if self.config.link_budget {
            let mut rng = self.event_rng(b"reception", at_ms, rx.site);
            let error: f64 =
                rng.sample::<f64, _>(rand_distr::StandardNormal) * self.config.measurement_db;
            let snr_db = link.snr_db + error;
            let sf = prepared.params.spreading_factor;
            if snr_db < 10.0 - 2.5 * f64::from(sf) {
                return Ok(Vec::new());
            }
            let frame = RxFrame {
                payload: prepared.beacon.payload.clone(),
                crc_ok: Some(true),
                spreading_factor: sf,
                bandwidth_hz: prepared.params.bandwidth_hz,
                coding_rate: 1,
                snr_db: snr_db as f32,
                rssi_dbm: (link.rx_power_dbm + error) as f32,
                cfo_hz: 0.0,
                sample_offset: 0,
            };
            return Ok(vec![Reception {
                frame,
                frequency_hz: prepared.beacon.frequency_hz,
                timestamp_ns: at_ms * 1_000_000,
            }]);
        }
        let sample_rate = prepared.params.sample_rate();
        let symbol_samples = prepared.params.samples_per_symbol();
        let cfo_hz = (tx_crystal_ppm - rx_crystal_ppm) * 1e-6 * frequency_hz;
        let delay_samples = self.rng.gen_range(symbol_samples..4 * symbol_samples);
        let conditions = ChannelConditions {
            rx_power_dbm: link.rx_power_dbm,
            noise_floor_dbm: thermal_noise_dbm(bandwidth_hz, self.config.noise_figure_db),
            cfo_hz,
            delay_samples,
            trailing_samples: 2 * symbol_samples,
        };
        let samples = propagate(&prepared.samples, sample_rate, &conditions, &mut self.rng);
        let start_ns = at_ms * 1_000_000 - (delay_samples as f64 / sample_rate * 1e9) as u64;
        Ok(self.nodes[demodulator].hotspot.demodulate(
            prepared.beacon.frequency_hz,
            &prepared.params,
            &samples,
            start_ns,
        )?)
    }

    /// A ring member's invented frame of a fellow member's beacon: the signal a log-distance
    /// model with shadowing gives at the asserted distance, raised to just above the
    /// demodulation floor when the model says it would not decode.
    fn invented_frame(
        &self,
        beaconer: usize,
        member: usize,
        prepared: &PreparedBeacon,
        at_ms: u64,
    ) -> RxFrame {
        let (b, m) = (&self.nodes[beaconer].info, &self.nodes[member].info);
        let distance_m = h3_coverage::distance_between_m((b.lat, b.lon), (m.lat, m.lon));
        let frequency_hz = prepared.beacon.frequency_hz as f64;
        let bandwidth_hz = f64::from(prepared.params.bandwidth_hz);
        let mut rng = self.event_rng(b"invented", at_ms, member as u64);
        let shadow: f64 = rng.sample::<f64, _>(rand_distr::StandardNormal) * 6.0;
        let gains_db = f64::from(b.antenna.gain_ddbi + m.antenna.gain_ddbi) / 10.0;
        let noise_dbm = thermal_noise_dbm(bandwidth_hz, self.config.noise_figure_db);
        let mut rssi = f64::from(prepared.beacon.tx_power_ddbm) / 10.0 + gains_db
            - self.path_loss_db(distance_m, frequency_hz)
            + shadow;
        let floor = 10.0 - 2.5 * f64::from(prepared.params.spreading_factor);
        if rssi - noise_dbm < floor + 1.0 {
            rssi = noise_dbm + floor + 1.0 + rng.gen_range(0.0..3.0);
        }
        RxFrame {
            payload: prepared.beacon.payload.clone(),
            crc_ok: Some(true),
            spreading_factor: prepared.params.spreading_factor,
            bandwidth_hz: prepared.params.bandwidth_hz,
            coding_rate: 1,
            snr_db: (rssi - noise_dbm) as f32,
            rssi_dbm: rssi as f32,
            cfo_hz: 0.0,
            sample_offset: 0,
        }
    }

    /// Hotspot `beaconer` transmits its beacon at `at_ms`; every other hotspot demodulates
    /// what reaches it and reports what it decoded. Attackers do what their [`Behaviour`]
    /// says. Every report goes the daemon's way: the beacon's and each witness's report are
    /// written to the sender's spool and delivered by its delivery task, and the simulated
    /// clock waits until they are delivered.
    pub async fn beacon(
        &mut self,
        beaconer: usize,
        at_ms: u64,
    ) -> Result<BeaconOutcome, NetworkError> {
        self.clock.set(at_ms);
        self.fresh_entropy(at_ms).await?;
        let entropy = match self.config.transport {
            Transport::Daemon => self.nodes[beaconer].client.entropy().await?,
            Transport::InProcess => self.oracle.get_entropy().await?,
        };
        let number = self.nodes[beaconer].number;
        let local_entropy: [u8; 4] = self.event_rng(b"local", number, at_ms).gen();
        match self.config.transport {
            Transport::Daemon => {
                self.beacon_through_daemons(beaconer, at_ms, &entropy, local_entropy)
                    .await
            }
            Transport::InProcess => {
                self.beacon_in_process(beaconer, at_ms, &entropy, local_entropy)
                    .await
            }
        }
    }

    /// [`Network::beacon`] the daemons' way: spools, delivery tasks and gRPC.
    async fn beacon_through_daemons(
        &mut self,
        beaconer: usize,
        at_ms: u64,
        entropy: &poc::proto::Entropy,
        local_entropy: [u8; 4],
    ) -> Result<BeaconOutcome, NetworkError> {
        let mut refused = Vec::new();
        let outage = self.begin_step();
        // The radio returns once the beacon is on air, and its report leaves then.
        let prepared = self
            .daemon_mut(beaconer)?
            .beacon_with(entropy, local_entropy, at_ms)
            .await?
            .ok_or(NetworkError::BeaconSkipped(beaconer))?;
        self.deliver(&[beaconer], outage, &mut refused).await?;

        let receptions = self.receptions(beaconer, &prepared, at_ms)?;
        self.clock.set(at_ms + witness_delay_ms(&prepared));
        let outage = self.begin_step();
        let mut witnesses = Vec::new();
        for (receiver, reception) in receptions {
            if let Some(report) = self.daemon_mut(receiver)?.hear(reception).await? {
                witnesses.push((receiver, report));
                if !outage {
                    self.deliver(&[receiver], false, &mut refused).await?;
                }
            }
        }
        if outage {
            let senders: Vec<usize> = witnesses.iter().map(|(sender, _)| *sender).collect();
            self.deliver(&senders, true, &mut refused).await?;
        }
        Ok(BeaconOutcome {
            beaconer,
            at_ms,
            report: prepared.report,
            witnesses,
            refused,
        })
    }

    /// [`Network::beacon`] straight into the oracle's ingest, at the simulated moments the
    /// daemons' way gives: the beacon's report once the radio has sent it, the witnesses'
    /// together [`WITNESS_DELAY_MS`] after the beacon's end, in hotspot order.
    async fn beacon_in_process(
        &mut self,
        beaconer: usize,
        at_ms: u64,
        entropy: &poc::proto::Entropy,
        local_entropy: [u8; 4],
    ) -> Result<BeaconOutcome, NetworkError> {
        let hotspot = &self.nodes[beaconer].hotspot;
        let timestamp_ns = at_ms * 1_000_000;
        let prepared = if self.config.link_budget {
            hotspot.prepare_beacon_unmodulated(entropy, local_entropy, timestamp_ns)?
        } else {
            hotspot.prepare_beacon(entropy, local_entropy, timestamp_ns)?
        };
        let mut refused = Vec::new();
        self.clock
            .set(at_ms + airtime_ms(&prepared) + crate::air::TX_DONE_MS);
        let ingest = self.ingest_of(beaconer);
        if let Err(error) = ingest.submit_beacon(prepared.report.clone()).await {
            refused.push((beaconer, error.to_string()));
        }
        let receptions = self.receptions(beaconer, &prepared, at_ms)?;
        self.clock.set(at_ms + witness_delay_ms(&prepared));
        let witnesses: Vec<(usize, WitnessReport)> = receptions
            .into_iter()
            .filter_map(|(receiver, reception)| {
                self.nodes[receiver]
                    .hotspot
                    .witness(
                        &reception.frame,
                        reception.frequency_hz,
                        reception.timestamp_ns,
                    )
                    .map(|report| (receiver, report))
            })
            .collect();
        for (k, chunk) in witnesses.chunks(oracle::ingest::MAX_BATCH).enumerate() {
            let reports = chunk.iter().map(|(_, report)| report.clone()).collect();
            let ingest = self.ingest_of(beaconer + 1 + k);
            let decisions = ingest.submit_witnesses(reports).await?;
            for ((sender, _), decision) in chunk.iter().zip(decisions) {
                if let Err(error) = decision {
                    refused.push((*sender, error.to_string()));
                }
            }
        }
        Ok(BeaconOutcome {
            beaconer,
            at_ms,
            report: prepared.report,
            witnesses,
            refused,
        })
    }

    /// The oracle that hotspot `index` submits to in process: its operator, when there are
    /// several (witness batches go to the beaconer's next operators in turn).
    fn ingest_of(&self, index: usize) -> &Oracle {
        match &self.operators {
            Some(operators) => operators.of_node(index).0,
            None => &self.oracle,
        }
    }

    /// The daemon of hotspot `index`.
    fn daemon_mut(&mut self, index: usize) -> Result<&mut Daemon<SimRadio>, NetworkError> {
        self.nodes[index]
            .daemon
            .as_deref_mut()
            .map(|d| &mut d.daemon)
            .ok_or_else(|| NetworkError::Config("the in-process transport has no daemons".into()))
    }

    /// What each hotspot's radio hears of `beaconer`'s beacon, in hotspot order: the
    /// propagated signal for radios on air (a farm's radios ignore each other), the hidden
    /// receiver's frames for the replaying keys, and the ring's invented frames.
    fn receptions(
        &mut self,
        beaconer: usize,
        prepared: &PreparedBeacon,
        at_ms: u64,
    ) -> Result<Vec<(usize, Reception)>, NetworkError> {
        let beaconer_behaviour = self.nodes[beaconer].info.behaviour;
        let mut heard: Vec<(usize, Reception)> = Vec::new();
        if let Some(tx) = self.nodes[beaconer].info.radio {
            let tx_ppm = self.nodes[beaconer].crystal_ppm;
            for receiver in 0..self.nodes.len() {
                let info = &self.nodes[receiver].info;
                let Some(rx) = info.radio else { continue };
                if receiver == beaconer
                    || (info.behaviour == Behaviour::Farm && beaconer_behaviour == Behaviour::Farm)
                {
                    continue;
                }
                let behaviour = info.behaviour;
                let rx_ppm = self.nodes[receiver].crystal_ppm;
                for mut reception in
                    self.receive((tx, tx_ppm), (rx, rx_ppm), prepared, at_ms, receiver)?
                {
                    match behaviour {
                        Behaviour::ForgeRssi { offset_db } => {
                            reception.frame.rssi_dbm += offset_db as f32;
                            reception.frame.snr_db += offset_db as f32;
                        }
                        Behaviour::ShapingSpoof => {
                            match self.shaped_frame(beaconer, receiver, prepared, at_ms) {
                                Some(frame) => reception.frame = frame,
                                None => continue,
                            }
                        }
                        _ => {}
                    }
                    heard.push((receiver, reception));
                }
            }
            if let Some(hidden) = self.config.replay_receiver {
                let replayers: Vec<usize> = (0..self.nodes.len())
                    .filter(|&node| self.nodes[node].info.behaviour == Behaviour::Replay)
                    .collect();
                let radio_of = replayers.first().copied().unwrap_or(beaconer);
                let hidden = (hidden, 0.0);
                let frames = self.receive((tx, tx_ppm), hidden, prepared, at_ms, radio_of)?;
                for replayer in replayers {
                    heard.extend(frames.iter().map(|frame| (replayer, frame.clone())));
                }
            }
        }
        let relayed = heard
            .iter()
            .any(|(receiver, _)| self.nodes[*receiver].info.behaviour == Behaviour::Relay);
        self.fabricated(beaconer, prepared, at_ms, relayed, &mut heard)?;
        Ok(heard)
    }

    /// The receptions the attackers without a radio (or beyond it) invent of `beaconer`'s
    /// beacon, added to `heard`: the ring's and the patient attackers' invented frames, the
    /// island's mutually consistent ones, and the relay ring's colluders' when the relay
    /// decoded the beacon (`relayed`).
    fn fabricated(
        &mut self,
        beaconer: usize,
        prepared: &PreparedBeacon,
        at_ms: u64,
        relayed: bool,
        heard: &mut Vec<(usize, Reception)>,
    ) -> Result<(), NetworkError> {
        let reception = |frame| Reception {
            frame,
            frequency_hz: prepared.beacon.frequency_hz,
            timestamp_ns: at_ms * 1_000_000,
        };
        let beaconer_behaviour = self.nodes[beaconer].info.behaviour;
        let cheating = self.patient_cheats(beaconer_behaviour, at_ms);
        for member in 0..self.nodes.len() {
            if member == beaconer {
                continue;
            }
            let behaviour = self.nodes[member].info.behaviour;
            let already = heard.iter().any(|(receiver, _)| *receiver == member);
            match (beaconer_behaviour, behaviour) {
                (Behaviour::Ring, Behaviour::Ring) => {
                    let frame = self.invented_frame(beaconer, member, prepared, at_ms);
                    heard.push((member, reception(frame)));
                }
                (Behaviour::Patient { .. }, Behaviour::Patient { .. }) if cheating && !already => {
                    let frame = self.invented_frame(beaconer, member, prepared, at_ms);
                    heard.push((member, reception(frame)));
                }
                (Behaviour::Island, Behaviour::Island) => {
                    let (tx, rx) = (self.radio_of(beaconer), self.radio_of(member));
                    for frame in self.receive((tx, 0.0), (rx, 0.0), prepared, at_ms, member)? {
                        heard.push((member, frame));
                    }
                }
                (_, Behaviour::RelayColluder) if relayed => {
                    if let Some(frame) = self.shaped_frame(beaconer, member, prepared, at_ms) {
                        heard.push((member, reception(frame)));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether a beaconer behaving as `behaviour` is a patient attacker past its honest epochs
    /// at `at_ms`.
    fn patient_cheats(&self, behaviour: Behaviour, at_ms: u64) -> bool {
        let Behaviour::Patient { honest_epochs } = behaviour else {
            return false;
        };
        let epoch_ms = self.config.oracle.epoch_ms.max(1);
        at_ms / epoch_ms >= self.first_epoch().saturating_add(honest_epochs)
    }

    /// The frame `receiver` would decode of `beaconer`'s beacon if it stood at its asserted
    /// place: the world's path law between the two asserted places and the asserted antennas,
    /// a shadowing drawn once per link from the world's spread, and measurement noise. `None`
    /// when that signal would not decode.
    fn shaped_frame(
        &self,
        beaconer: usize,
        receiver: usize,
        prepared: &PreparedBeacon,
        at_ms: u64,
    ) -> Option<RxFrame> {
        let (b, r) = (&self.nodes[beaconer].info, &self.nodes[receiver].info);
        let distance_m = h3_coverage::distance_between_m((b.lat, b.lon), (r.lat, r.lon));
        let frequency_hz = prepared.beacon.frequency_hz as f64;
        let bandwidth_hz = f64::from(prepared.params.bandwidth_hz);
        let link = (beaconer.min(receiver) as u64, beaconer.max(receiver) as u64);
        let mut link_rng = self.event_rng(b"shaped-link", link.0, link.1);
        let shadow: f64 =
            link_rng.sample::<f64, _>(rand_distr::StandardNormal) * self.config.shadowing_db;
        let mut rng = self.event_rng(b"shaped", at_ms, receiver as u64);
        let error: f64 =
            rng.sample::<f64, _>(rand_distr::StandardNormal) * self.config.measurement_db;
        let gains_db = self.antenna_gain_db(&b.antenna) + self.antenna_gain_db(&r.antenna);
        let rssi = f64::from(prepared.beacon.tx_power_ddbm) / 10.0 + gains_db
            - self.path_loss_db(distance_m, frequency_hz)
            - shadow
            + error;
        let snr = rssi - thermal_noise_dbm(bandwidth_hz, self.config.noise_figure_db);
        let sf = prepared.params.spreading_factor;
        if snr < 10.0 - 2.5 * f64::from(sf) {
            return None;
        }
        Some(RxFrame {
            payload: prepared.beacon.payload.clone(),
            crc_ok: Some(true),
            spreading_factor: sf,
            bandwidth_hz: prepared.params.bandwidth_hz,
            coding_rate: 1,
            snr_db: snr as f32,
            rssi_dbm: rssi as f32,
            cfo_hz: 0.0,
            sample_offset: 0,
        })
    }

    /// Starts a step of the simulation at the clock's time: cuts every hotspot's link to the
    /// oracle if the time is in the outage, restores them otherwise. Returns whether it is.
    fn begin_step(&mut self) -> bool {
        let now = self.clock.now_ms();
        let outage = self
            .config
            .outage
            .as_ref()
            .is_some_and(|span| span.contains(&now));
        let daemons = || self.nodes.iter().filter_map(|node| node.daemon.as_deref());
        if outage {
            for link in daemons().filter_map(|d| d.link.as_ref()) {
                link.cut();
            }
            let retries = daemons().map(|d| d.daemon.metrics().delivery_retries.get());
            self.retries_at_cut = Some(retries.collect());
        } else if self.retries_at_cut.is_some() {
            for link in daemons().filter_map(|d| d.link.as_ref()) {
                link.restore();
            }
            self.retries_at_cut = None;
        }
        outage
    }

    /// Waits until the reports just spooled by `senders` (in the order they were made) are
    /// delivered. In an outage, first waits until each sender's delivery has failed, then
    /// restores the senders' links one at a time in that order.
    async fn deliver(
        &mut self,
        senders: &[usize],
        outage: bool,
        refused: &mut Vec<(usize, String)>,
    ) -> Result<(), NetworkError> {
        let mut order: Vec<usize> = Vec::with_capacity(senders.len());
        for &sender in senders {
            if !order.contains(&sender) {
                order.push(sender);
            }
        }
        if outage {
            self.wait_for_failed_deliveries(&order).await?;
            let held: u64 = order
                .iter()
                .filter_map(|&sender| self.nodes[sender].daemon.as_deref())
                .map(|d| d.daemon.outbox().depth() as u64)
                .sum();
            self.outage_stats.steps += 1;
            self.outage_stats.reports_held += held;
            self.outage_stats.most_held = self.outage_stats.most_held.max(held);
        }
        for sender in order {
            let Some(daemon) = self.nodes[sender].daemon.as_deref_mut() else {
                continue;
            };
            if outage {
                if let Some(link) = &daemon.link {
                    link.restore();
                }
            }
            daemon.settle(sender, refused).await?;
        }
        Ok(())
    }

    /// Waits until each of `senders` has retried a delivery since the links were cut.
    async fn wait_for_failed_deliveries(&self, senders: &[usize]) -> Result<(), NetworkError> {
        let at_cut = self.retries_at_cut.as_deref().unwrap_or_default();
        let started = Instant::now();
        for &sender in senders {
            let before = at_cut.get(sender).copied().unwrap_or(0);
            let Some(DaemonNode { daemon, .. }) = self.nodes[sender].daemon.as_deref() else {
                continue;
            };
            while daemon.metrics().delivery_retries.get() <= before {
                if started.elapsed() > STEP_TIMEOUT {
                    return Err(NetworkError::Undelivered {
                        hotspot: sender,
                        waiting: daemon.outbox().depth(),
                        timeout: STEP_TIMEOUT,
                    });
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        Ok(())
    }

    /// Runs one epoch (by the oracle's numbering): every hotspot beacons once per beacon
    /// interval at a random moment (witness-only attackers never do), then the oracle closes
    /// the epoch. `progress` is called after each beacon with (done, total).
    pub async fn run_epoch(
        &mut self,
        epoch: u64,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<EpochOutcome, NetworkError> {
        let epoch_ms = self.config.oracle.epoch_ms;
        let interval_ms = self.config.oracle.beacon_interval_ms;
        let window_ms = self.config.oracle.entropy_window_ms;
        let start = epoch * epoch_ms;
        let mut schedule = Vec::new();
        let mut bucket_start = start;
        while bucket_start < start + epoch_ms {
            for node in 0..self.nodes.len() {
                if !self.nodes[node].info.behaviour.beacons() {
                    continue;
                }
                let bucket = bucket_start / interval_ms;
                let mut rng = self.event_rng(b"schedule", self.nodes[node].number, bucket);
                let at = hotspot::schedule::moment_in_bucket(
                    bucket,
                    interval_ms,
                    window_ms + 60_000,
                    &mut rng,
                );
                if at < start + epoch_ms {
                    schedule.push((at, node));
                }
            }
            bucket_start += interval_ms;
        }
        schedule.sort_unstable();
        let total = schedule.len();
        let mut witnesses_sent = 0;
        let mut reports_refused = 0;
        for (done, (at, node)) in schedule.into_iter().enumerate() {
            let outcome = self.beacon(node, at).await?;
            witnesses_sent += outcome.witnesses.len();
            reports_refused += outcome.refused.len();
            progress(done + 1, total);
        }
        self.clock.set(start + epoch_ms + window_ms + 60_000);
        let (report, operators) = match &self.operators {
            Some(operators) => {
                let (report, ledger) = operators.close(epoch, &self.clock).await?;
                (report, Some(ledger))
            }
            None => (self.oracle.close_epoch(epoch).await?, None),
        };
        self.write_evidence(epoch).await?;
        let hotspot_rejections = self.rejections_since_last_epoch().await?;
        Ok(EpochOutcome {
            report,
            beacons_sent: total,
            witnesses_sent,
            reports_refused,
            hotspot_rejections,
            operators,
        })
    }

    /// Writes what the defences judged `epoch` on to the evidence directory, if one is set.
    async fn write_evidence(&self, epoch: u64) -> Result<(), NetworkError> {
        let Some(dir) = &self.config.evidence_dir else {
            return Ok(());
        };
        let attackers = self
            .nodes
            .iter()
            .filter(|node| node.info.behaviour.is_attacker())
            .map(|node| hex::encode(node.hotspot.public_key()))
            .collect();
        let file = crate::evidence::EvidenceFile {
            seed: self.config.seed,
            epoch,
            corroboration: self.config.oracle.corroboration.clone(),
            attackers,
            evidence: self.oracle.epoch_evidence(epoch).await?,
        };
        file.write(&dir.join(format!("epoch-{epoch}.json")))
            .map_err(|e| NetworkError::Config(e.to_string()))
    }

    /// Each hotspot's rejections since the previous call (epochs run one after another, so
    /// the difference of the oracle's running counts is exactly the last epoch's).
    async fn rejections_since_last_epoch(
        &mut self,
    ) -> Result<Vec<HotspotRejections>, NetworkError> {
        let mut per_hotspot = Vec::with_capacity(self.nodes.len());
        for node in &mut self.nodes {
            let totals = self
                .oracle
                .store()
                .reason_counts(&node.hotspot.public_key())
                .await?;
            let mut since = BTreeMap::new();
            for (reason, count) in &totals {
                let before = node.rejections_seen.get(reason).copied().unwrap_or(0);
                if *count > before {
                    since.insert(reason.clone(), count - before);
                }
            }
            node.rejections_seen = totals;
            per_hotspot.push(HotspotRejections {
                address: node.info.address.clone(),
                rejections: since,
            });
        }
        Ok(per_hotspot)
    }

    /// The oracle's number of the first epoch of the simulation.
    pub fn first_epoch(&self) -> u64 {
        START_MS / self.config.oracle.epoch_ms
    }
}

/// How long `prepared` is on air, milliseconds.
fn airtime_ms(prepared: &PreparedBeacon) -> u64 {
    prepared
        .params
        .time_on_air(prepared.beacon.payload.len())
        .as_millis() as u64
}

/// From a beacon's start until its witnesses' reports leave, milliseconds.
fn witness_delay_ms(prepared: &PreparedBeacon) -> u64 {
    airtime_ms(prepared) + WITNESS_DELAY_MS
}

/// A random generator for one event of the run seeded with `seed`, derived from the seed and
/// the event's identity (`tag`, `a`, `b`).
pub fn event_rng(seed: u64, tag: &[u8], a: u64, b: u64) -> ChaCha8Rng {
    let digest = Sha256::new()
        .chain_update(b"netsim-event")
        .chain_update(tag)
        .chain_update(seed.to_le_bytes())
        .chain_update(a.to_le_bytes())
        .chain_update(b.to_le_bytes())
        .finalize();
    ChaCha8Rng::from_seed(digest.into())
}
