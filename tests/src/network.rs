//! The simulated network: an oracle, hotspots and the air between them.

use crate::city;
use hotspot::{Hotspot, OracleClient};
use oracle::clock::{Clock, ManualClock};
use oracle::{EpochReport, Oracle, OracleConfig};
use poc::proto::{BeaconReport, Region, WitnessReport};
use poc::Keypair;
use radio::channel::{propagate, thermal_noise_dbm, ChannelConditions, PathLoss};
use radio::demod::{Calibration, Receiver, RxFrame};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// 2026-01-01T00:00:00Z, where simulated time starts.
pub const START_MS: u64 = 1_767_225_600_000;

/// Errors of the simulation.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The oracle failed.
    #[error("oracle: {0}")]
    Oracle(#[from] oracle::OracleError),
    /// A hotspot failed.
    #[error("hotspot: {0}")]
    Hotspot(#[from] hotspot::HotspotError),
    /// A gRPC call failed.
    #[error("gRPC: {0}")]
    Client(#[from] hotspot::ClientError),
    /// The configuration is unusable.
    #[error("invalid network configuration: {0}")]
    Config(String),
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
    /// The oracle's settings.
    pub oracle: OracleConfig,
    /// The region all hotspots operate in.
    pub region: Region,
    /// Antenna gain of every hotspot, tenths of dBi.
    pub gain_ddbi: i32,
    /// Path loss by distance.
    pub path_loss: PathLoss,
    /// Standard deviation of log-normal shadowing per link, dB.
    pub shadowing_db: f64,
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
            oracle: OracleConfig::default(),
            region: Region::Us915,
            gain_ddbi: 30,
            path_loss: PathLoss::LogDistance {
                exponent: 3.7,
                reference_m: 1.0,
            },
            shadowing_db: 6.0,
            noise_figure_db: 6.0,
            crystal_ppm: 2.0,
            sites: Vec::new(),
            extra: Vec::new(),
            replay_receiver: None,
            link_budget: false,
            measurement_db: 1.0,
        }
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
}

impl Behaviour {
    /// Whether this is anything but [`Behaviour::Honest`].
    pub fn is_attacker(&self) -> bool {
        *self != Behaviour::Honest
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
}

struct Node {
    info: NodeInfo,
    hotspot: Hotspot,
    client: OracleClient,
    crystal_ppm: f64,
    rejections_seen: BTreeMap<String, u64>,
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
    /// the oracle's reason.
    pub refused: Vec<(usize, String)>,
}

impl BeaconOutcome {
    /// Indices of the hotspots that decoded the beacon and reported it.
    pub fn heard_by(&self) -> Vec<usize> {
        self.witnesses.iter().map(|(index, _)| *index).collect()
    }
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
}

/// The running simulation.
pub struct Network {
    config: NetworkConfig,
    oracle: Oracle,
    clock: Arc<ManualClock>,
    grpc_addr: SocketAddr,
    nodes: Vec<Node>,
    rng: ChaCha8Rng,
    last_entropy_ms: Option<u64>,
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
        let clock = Arc::new(ManualClock::new(START_MS));
        let shared_clock: Arc<dyn Clock> = clock.clone();
        let oracle = Oracle::open(config.oracle.clone(), &config.data_dir, shared_clock).await?;
        let (grpc_addr, _server) = oracle
            .serve_grpc(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await?;
        let endpoint = format!("http://{grpc_addr}");
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let total = config.hotspots + config.extra.len();
        let mut nodes = Vec::with_capacity(total);
        for index in 0..total {
            let spec = match config.extra.get(index.wrapping_sub(config.hotspots)) {
                Some(spec) if index >= config.hotspots => spec.clone(),
                _ => {
                    let (name, lat, lon) = config
                        .sites
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| city::site(index));
                    NodeSpec {
                        name,
                        asserted: (lat, lon),
                        radio: Some(RadioSite {
                            lat,
                            lon,
                            site: index as u64,
                        }),
                        behaviour: Behaviour::Honest,
                    }
                }
            };
            let key = Keypair::from_seed(config.seed, index as u64);
            let hotspot = Hotspot::new(key, config.region, spec.asserted, config.gain_ddbi, 10)?;
            let asserted = index >= config.hotspots || index < config.hotspots - config.unasserted;
            let mut client = OracleClient::connect(&endpoint).await?;
            if asserted {
                client.assert_location(hotspot.assertion(START_MS)).await?;
            }
            nodes.push(Node {
                info: NodeInfo {
                    name: spec.name,
                    address: hotspot.address().to_string(),
                    lat: spec.asserted.0,
                    lon: spec.asserted.1,
                    asserted,
                    radio: spec.radio,
                    behaviour: spec.behaviour,
                },
                hotspot,
                client,
                crystal_ppm: rng.gen_range(-config.crystal_ppm..=config.crystal_ppm),
                rejections_seen: BTreeMap::new(),
            });
        }
        Ok(Self {
            config,
            oracle,
            clock,
            grpc_addr,
            nodes,
            rng,
            last_entropy_ms: None,
        })
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

    /// A gRPC client of the oracle, as hotspot `index` holds it.
    pub fn client(&self, index: usize) -> OracleClient {
        self.nodes[index].client.clone()
    }

    /// A random generator for one event, derived from the seed and the event's identity, so
    /// that runs with and without extra hotspots draw the same numbers for the same events.
    pub fn event_rng(&self, tag: &[u8], a: u64, b: u64) -> ChaCha8Rng {
        let digest = Sha256::new()
            .chain_update(b"netsim-event")
            .chain_update(tag)
            .chain_update(self.config.seed.to_le_bytes())
            .chain_update(a.to_le_bytes())
            .chain_update(b.to_le_bytes())
            .finalize();
        ChaCha8Rng::from_seed(digest.into())
    }

    /// Shadowing of the link between two radio sites: the same both ways and for the whole run.
    fn shadowing_db(&self, a: u64, b: u64) -> f64 {
        let mut link_rng = self.event_rng(b"shadowing", a.min(b), a.max(b));
        let normal: f64 = link_rng.sample(rand_distr::StandardNormal);
        normal * self.config.shadowing_db
    }

    /// Where hotspot `index`'s radio stands, or where it claims to when it has none.
    fn radio_of(&self, index: usize) -> RadioSite {
        let info = &self.nodes[index].info;
        info.radio.unwrap_or(RadioSite {
            lat: info.lat,
            lon: info.lon,
            site: index as u64,
        })
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
        let path_loss_db = self.config.path_loss.loss_db(distance_m, frequency_hz)
            + self.shadowing_db(tx.site, rx.site);
        let gains_db = f64::from(self.config.gain_ddbi) / 10.0 * 2.0;
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
    /// stamped at the period's start and drawn from the seed and the period's number.
    async fn fresh_entropy(&mut self, at_ms: u64) -> Result<(), NetworkError> {
        let period = self.config.oracle.entropy_period_ms.max(1);
        let start = at_ms / period * period;
        if self.last_entropy_ms.is_some_and(|last| last >= start) {
            return Ok(());
        }
        let random: [u8; 32] = self.event_rng(b"entropy", start, 0).gen();
        let now = self.clock.now_ms();
        self.clock.set(start);
        let published = self.oracle.publish_entropy_from(random).await;
        self.clock.set(now.max(start));
        published?;
        self.last_entropy_ms = Some(start);
        Ok(())
    }

    /// The frames hotspot `receiver`'s radio decodes of a beacon from `tx`: demodulated from
    /// IQ samples, or from the link budget in link-budget mode.
    fn receive(
        &mut self,
        tx: RadioSite,
        rx: RadioSite,
        rx_crystal_ppm: f64,
        tx_crystal_ppm: f64,
        prepared: &hotspot::node::PreparedBeacon,
        at_ms: u64,
    ) -> Result<Vec<(RxFrame, u64)>, NetworkError> {
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
            return Ok(vec![(frame, at_ms * 1_000_000)]);
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
        let mut receiver = Receiver::new(prepared.params, Calibration::default())
            .map_err(hotspot::HotspotError::from)?;
        let mut frames = receiver.process(&samples);
        frames.extend(receiver.flush());
        let sample_period_ns = 1e9 / sample_rate;
        Ok(frames
            .into_iter()
            .map(|frame| {
                let at_ns = start_ns + (frame.sample_offset as f64 * sample_period_ns) as u64;
                (frame, at_ns)
            })
            .collect())
    }

    /// A ring member's invented frame of a fellow member's beacon: the signal a log-distance
    /// model with shadowing gives at the asserted distance, raised to just above the
    /// demodulation floor when the model says it would not decode.
    fn invented_frame(
        &self,
        beaconer: usize,
        member: usize,
        prepared: &hotspot::node::PreparedBeacon,
        at_ms: u64,
    ) -> RxFrame {
        let (b, m) = (&self.nodes[beaconer].info, &self.nodes[member].info);
        let distance_m = h3_coverage::distance_between_m((b.lat, b.lon), (m.lat, m.lon));
        let frequency_hz = prepared.beacon.frequency_hz as f64;
        let bandwidth_hz = f64::from(prepared.params.bandwidth_hz);
        let mut rng = self.event_rng(b"invented", at_ms, member as u64);
        let shadow: f64 = rng.sample::<f64, _>(rand_distr::StandardNormal) * 6.0;
        let gains_db = f64::from(self.config.gain_ddbi) / 10.0 * 2.0;
        let noise_dbm = thermal_noise_dbm(bandwidth_hz, self.config.noise_figure_db);
        let mut rssi = f64::from(prepared.beacon.tx_power_ddbm) / 10.0 + gains_db
            - self.config.path_loss.loss_db(distance_m, frequency_hz)
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
    /// says.
    pub async fn beacon(
        &mut self,
        beaconer: usize,
        at_ms: u64,
    ) -> Result<BeaconOutcome, NetworkError> {
        self.clock.set(at_ms);
        self.fresh_entropy(at_ms).await?;
        let entropy = self.nodes[beaconer].client.entropy().await?;
        let local_entropy: [u8; 4] = self.event_rng(b"local", beaconer as u64, at_ms).gen();
        let prepared = self.nodes[beaconer].hotspot.prepare_beacon(
            &entropy,
            local_entropy,
            at_ms * 1_000_000,
        )?;
        let airtime_ms = prepared
            .params
            .time_on_air(prepared.beacon.payload.len())
            .as_millis();
        self.clock.set(at_ms + airtime_ms as u64 + 50);
        let mut refused = Vec::new();
        let submitted = self.nodes[beaconer]
            .client
            .submit_beacon(prepared.report.clone())
            .await;
        match submitted {
            Ok(_) => {}
            Err(error) if error.code().is_some() => refused.push((beaconer, error.to_string())),
            Err(error) => return Err(error.into()),
        }

        let beaconer_behaviour = self.nodes[beaconer].info.behaviour;
        let frequency_hz = prepared.beacon.frequency_hz;
        let mut frames: Vec<(usize, RxFrame, u64)> = Vec::new();
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
                for (mut frame, at_ns) in self.receive(tx, rx, rx_ppm, tx_ppm, &prepared, at_ms)? {
                    if let Behaviour::ForgeRssi { offset_db } = behaviour {
                        frame.rssi_dbm += offset_db as f32;
                        frame.snr_db += offset_db as f32;
                    }
                    frames.push((receiver, frame, at_ns));
                }
            }
            if let Some(hidden) = self.config.replay_receiver {
                let heard = self.receive(tx, hidden, 0.0, tx_ppm, &prepared, at_ms)?;
                for replayer in 0..self.nodes.len() {
                    if self.nodes[replayer].info.behaviour == Behaviour::Replay {
                        for (frame, at_ns) in &heard {
                            frames.push((replayer, frame.clone(), *at_ns));
                        }
                    }
                }
            }
        }
        if beaconer_behaviour == Behaviour::Ring {
            for member in 0..self.nodes.len() {
                if member != beaconer && self.nodes[member].info.behaviour == Behaviour::Ring {
                    let frame = self.invented_frame(beaconer, member, &prepared, at_ms);
                    frames.push((member, frame, at_ms * 1_000_000));
                }
            }
        }
        let reports: Vec<(usize, WitnessReport)> = frames
            .into_iter()
            .filter_map(|(receiver, frame, at_ns)| {
                self.nodes[receiver]
                    .hotspot
                    .witness(&frame, frequency_hz, at_ns)
                    .map(|report| (receiver, report))
            })
            .collect();
        self.clock.set(at_ms + airtime_ms as u64 + 250);
        for (receiver, report) in &reports {
            let submitted = self.nodes[*receiver]
                .client
                .submit_witness(report.clone())
                .await;
            match submitted {
                Ok(_) => {}
                Err(error) if error.code().is_some() => {
                    refused.push((*receiver, error.to_string()))
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(BeaconOutcome {
            beaconer,
            at_ms,
            report: prepared.report,
            witnesses: reports,
            refused,
        })
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
                if self.nodes[node].info.behaviour == Behaviour::WitnessOnly {
                    continue;
                }
                let bucket = bucket_start / interval_ms;
                let mut rng = self.event_rng(b"schedule", node as u64, bucket);
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
        let report = self.oracle.close_epoch(epoch).await?;
        let hotspot_rejections = self.rejections_since_last_epoch().await?;
        Ok(EpochOutcome {
            report,
            beacons_sent: total,
            witnesses_sent,
            reports_refused,
            hotspot_rejections,
        })
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
