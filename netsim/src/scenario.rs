//! Named attack scenarios: the same network run with only its honest hotspots, with the
//! attackers' radios run honestly (each asserted where it stands; none for keys without a
//! radio), and with the attackers added (10 % of the hotspots). What the attack gains is what
//! the attackers earn beyond their radios' honest earnings; what the honest hotspots lose is
//! measured against the run with those radios honest; the rules that caught the attackers are
//! counted.
//!
//! Every run uses the link-budget mode of [`Network`] (log-distance path loss with per-link
//! shadowing; no IQ samples) and hands every report to a real oracle that verifies and rewards
//! them with its default rules: through the hotspots' spools and gRPC, or in process in
//! sweeps ([`Transport`]), with the same reports at the same simulated times. Every random draw
//! is tied to the event it decides (a beacon's moment, a reception, a link's shadowing), so the
//! honest hotspots live the same epochs in every run and any difference in their rewards comes
//! from the attackers.

use crate::network::{
    Antenna, Behaviour, Network, NetworkConfig, NetworkError, NodeSpec, RadioSite, Transport,
};
use crate::world::{AttackPlan, Placement, Site, World, DEFAULT_WORLD};
use oracle::OracleConfig;
use oracle_core::config::DensityConfig;
use rand::Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The attack scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Colluders without radios on air invent witness reports of each other's beacons.
    Ring,
    /// Radios asserted 3.5 km from where they really stand.
    Spoof,
    /// Radios that add 12 dB or more to the RSSI and SNR of every witness report.
    ForgeRssi,
    /// Radios on one roof, asserted at different places around the city.
    Farm,
    /// Keys without radios submitting the frames of one hidden receiver as their own.
    Replay,
    /// Radios that witness but never beacon.
    WitnessOnly,
    /// A mix of all the above.
    Mix,
    /// Keys without radios asserted on a grid far from every honest site (by default 40 km
    /// beyond the world's farthest site), beaconing and witnessing one another with what real
    /// radios there would measure: the network's own path law, shadowing and measurement
    /// noise. 40 % of the network's size in keys, 10 to 30 (12 in the default world), each
    /// with its own owner; the oracle onboards with makers and charges Helium's fees.
    SybilIsland,
    /// Radios asserted 3.5 km from where they stand that report, for each beacon they truly
    /// decode, the RSSI and SNR their asserted place would give, and drop the beacons it would
    /// not decode.
    ShapingSpoofer,
    /// One real radio, honest on air, forwarding each beacon it decodes to colluders without
    /// radios, who witness it as if heard at their own asserted places (RSSI and SNR shaped for
    /// the asserted distance).
    RelayRing,
    /// Radios asserted 500 m from where they stand, in another resolution-8 hex.
    SmallSpoof,
    /// Radios honest for the first half of the run (at least one epoch), then inventing
    /// witness reports of one another's beacons as the ring does. Needs at least 2 epochs.
    Patient,
    /// 1 000 keys (the world's `attack.flood_keys`), all onboarded through makers with
    /// Helium's fees, each with its own owner: 5 % fabricate reports as a sybil island, the
    /// others assert among the honest sites and stay silent.
    OnboardingFlood,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 13] = [
        Scenario::Ring,
        Scenario::Spoof,
        Scenario::ForgeRssi,
        Scenario::Farm,
        Scenario::Replay,
        Scenario::WitnessOnly,
        Scenario::Mix,
        Scenario::SybilIsland,
        Scenario::ShapingSpoofer,
        Scenario::RelayRing,
        Scenario::SmallSpoof,
        Scenario::Patient,
        Scenario::OnboardingFlood,
    ];

    /// The scenario's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Ring => "ring",
            Scenario::Spoof => "spoof",
            Scenario::ForgeRssi => "forge-rssi",
            Scenario::Farm => "farm",
            Scenario::Replay => "replay",
            Scenario::WitnessOnly => "witness-only",
            Scenario::Mix => "mix",
            Scenario::SybilIsland => "sybil-island",
            Scenario::ShapingSpoofer => "shaping-spoofer",
            Scenario::RelayRing => "relay-ring",
            Scenario::SmallSpoof => "small-spoof",
            Scenario::Patient => "patient",
            Scenario::OnboardingFlood => "onboarding-flood",
        }
    }

    /// Whether the scenario runs with identities that cost something: the oracle onboards
    /// only with a maker's record and charges the owners its fees (the sybil island and the
    /// onboarding flood). The others run with free identities, and their attackers' fees are
    /// what the oracle's default fees would have charged.
    pub fn charges_identities(&self) -> bool {
        matches!(self, Scenario::SybilIsland | Scenario::OnboardingFlood)
    }

    /// The fewest epochs the scenario makes sense with: 2 for the patient attacker (one honest
    /// epoch, one cheating), 1 for the others.
    pub fn min_epochs(&self) -> u64 {
        match self {
            Scenario::Patient => 2,
            _ => 1,
        }
    }

    /// The scenario named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The network size in the default world: 30 hotspots (27 honest, 3 attackers); 80 for
    /// the mix.
    pub fn default_hotspots(&self) -> usize {
        match self {
            Scenario::Mix => 80,
            _ => 30,
        }
    }

    /// The network size in `world`.
    pub fn hotspots_in(&self, world: &World) -> usize {
        world.scenario_hotspots(*self == Scenario::Mix)
    }

    /// The attackers' behaviours for `count` attackers in a run of `epochs` epochs.
    fn behaviours(&self, count: usize, epochs: u64) -> Vec<Behaviour> {
        let forge = |k: usize| Behaviour::ForgeRssi {
            offset_db: 12.0 + 3.0 * (k % 3) as f64,
        };
        match self {
            Scenario::Ring => vec![Behaviour::Ring; count],
            Scenario::Spoof => vec![Behaviour::Spoof; count],
            Scenario::ForgeRssi => (0..count).map(forge).collect(),
            Scenario::Farm => vec![Behaviour::Farm; count],
            Scenario::Replay => vec![Behaviour::Replay; count],
            Scenario::WitnessOnly => vec![Behaviour::WitnessOnly; count],
            Scenario::ShapingSpoofer => vec![Behaviour::ShapingSpoof; count],
            Scenario::SmallSpoof => vec![Behaviour::Spoof; count],
            Scenario::Patient => vec![
                Behaviour::Patient {
                    honest_epochs: (epochs / 2).max(1)
                };
                count
            ],
            Scenario::RelayRing => (0..count)
                .map(|k| match k {
                    0 => Behaviour::Relay,
                    _ => Behaviour::RelayColluder,
                })
                .collect(),
            Scenario::SybilIsland => vec![Behaviour::Island; count],
            Scenario::OnboardingFlood => vec![Behaviour::Idle; count],
            Scenario::Mix => {
                let cycle = [
                    Behaviour::Ring,
                    Behaviour::Ring,
                    Behaviour::Farm,
                    Behaviour::Farm,
                    Behaviour::Spoof,
                    forge(0),
                    Behaviour::Replay,
                    Behaviour::WitnessOnly,
                ];
                (0..count).map(|k| cycle[k % cycle.len()]).collect()
            }
        }
    }
}

/// A data credit's price in dollars: Helium's, $0.00001.
pub const DC_USD: f64 = 0.000_01;

/// What one epoch's (one day's) emission pays per honest hotspot of the network by default, in
/// dollars. The assumption, from Helium's IoT network in 2023–2024: about 90 million IOT a day
/// for proof of coverage, beacons and witnesses together (the unused data-transfer share
/// included), at $0.0005–0.001 per IOT, over 300 000–400 000 hotspots: $0.10–0.30 per hotspot
/// per day, of which the low end is taken. The emission of a simulated network is worth this
/// times its honest hotspots, however many keys attackers add.
pub const DEFAULT_USD_PER_HOTSPOT_EPOCH: f64 = 0.10;

/// Epochs over which the attackers' return is projected.
pub const RETURN_EPOCHS: u64 = 30;

/// How a scenario is run.
#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    /// Hotspots in all, attackers included.
    pub hotspots: usize,
    /// Share of attackers among them (0.1: one in ten).
    pub attacker_fraction: f64,
    /// Epochs run.
    pub epochs: u64,
    /// Seed of both runs.
    pub seed: u64,
    /// Where the network stands.
    pub world: Arc<World>,
    /// What one epoch's emission is worth, dollars; `None`:
    /// [`DEFAULT_USD_PER_HOTSPOT_EPOCH`] per honest hotspot.
    pub emission_usd: Option<f64>,
    /// How the reports reach the oracle: through the daemons' spools and gRPC by default,
    /// in process in sweeps (the same reports at the same simulated times).
    pub transport: Transport,
    /// Write what the oracle's defences judged in each run to
    /// `<dir>/<world>/<seed>/<run>/epoch-<n>.json` ([`crate::evidence`]); the run is
    /// `attack-free`, `radios-<sites>` or the scenario's name.
    pub evidence_dir: Option<PathBuf>,
    /// The oracle's rules in every run ([`OracleConfig::open`] by default: the defaults, with
    /// open onboarding); the corroboration anchors are the network's own.
    pub rules: Arc<OracleConfig>,
}

impl ScenarioConfig {
    /// The scenario in the default world: its size there, 10 % attackers, `epochs` epochs,
    /// `seed`.
    pub fn new(scenario: Scenario, epochs: u64, seed: u64) -> Self {
        let world = World::built_in(DEFAULT_WORLD).expect("the default world is valid");
        Self::in_world(scenario, Arc::new(world), epochs, seed)
    }

    /// The scenario in `world`, with the world's network size and attacker fraction.
    pub fn in_world(scenario: Scenario, world: Arc<World>, epochs: u64, seed: u64) -> Self {
        Self {
            hotspots: scenario.hotspots_in(&world),
            attacker_fraction: world.network.attacker_fraction,
            epochs,
            seed,
            world,
            emission_usd: None,
            transport: Transport::Daemon,
            evidence_dir: None,
            rules: Arc::new(OracleConfig::open()),
        }
    }

    /// What one epoch's emission is worth, dollars.
    pub fn emission_usd_per_epoch(&self) -> f64 {
        self.emission_usd
            .unwrap_or_else(|| DEFAULT_USD_PER_HOTSPOT_EPOCH * self.split().0 as f64)
    }

    /// Honest hotspots and attackers: the attacker fraction of the hotspots, at least one,
    /// leaving at least two honest ones.
    pub fn split(&self) -> (usize, usize) {
        let attackers = ((self.hotspots as f64 * self.attacker_fraction).round() as usize)
            .clamp(1, self.hotspots.saturating_sub(2).max(1));
        (self.hotspots - attackers, attackers)
    }

    /// The configuration of the network of the `honest` hotspots with its store in
    /// `data_dir`.
    fn network(&self, honest: &[&Site], data_dir: &Path, run: &str) -> NetworkConfig {
        let mut config = NetworkConfig::new(honest.len(), self.seed, data_dir.to_path_buf());
        config.evidence_dir = self.evidence_dir.as_ref().map(|dir| {
            dir.join(&self.world.name)
                .join(self.seed.to_string())
                .join(run)
        });
        self.world.apply(&mut config, honest);
        config.link_budget = true;
        config.transport = self.transport;
        config.oracle = (*self.rules).clone();
        config.oracle.corroboration.anchors = (0..ANCHORS.min(honest.len() as u64))
            .map(|i| poc::Keypair::from_seed(self.seed, i).address().to_string())
            .collect();
        config
    }
}

/// A hotspot's part in a scenario run.
#[derive(Debug, Clone, Serialize)]
pub struct AttackerOutcome {
    /// Place name.
    pub name: String,
    /// Address.
    pub address: String,
    /// What it did.
    pub behaviour: Behaviour,
    /// What it earned over the run.
    pub earned: u64,
    /// Defence flags raised against it, by reason code: epochs flagged.
    pub flagged: BTreeMap<String, u64>,
    /// Its invalid reports by reason code.
    pub rejected: BTreeMap<String, u64>,
}

/// What a scenario showed.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Scenario name.
    pub scenario: String,
    /// Name of the world.
    pub world: String,
    /// Seed of both runs.
    pub seed: u64,
    /// Hotspots in the attack run.
    pub hotspots: usize,
    /// Attackers among them.
    pub attackers: usize,
    /// Epochs run.
    pub epochs: u64,
    /// Emission of the attack run over all epochs.
    pub emission: u64,
    /// Share of the emission the attackers earned, in [0, 1].
    pub attacker_share: f64,
    /// Share of the emission the attackers' radios earn when run honestly, each asserted where
    /// it stands ([`honest_radios`]); 0 when the attackers have no radio on air.
    pub honest_radio_share: f64,
    /// What the attack gains: the attackers' share less their radios' honest share, or 0.
    /// A radio that really covers the land earns for it whoever owns it; what the attack must
    /// not pay is anything beyond that. Without radios it is the attackers' whole share.
    pub attacker_gain: f64,
    /// What the honest hotspots lost: the sum over honest hotspots of what each earned less
    /// than it is owed, the lesser of its earnings in the attack-free run and in the run with
    /// the attackers' radios honest, each run cleared of the windfall of its false flags (a
    /// baseline's flag of an honest hotspot leaves its neighbours a share they are not owed;
    /// measured against the other baseline, or against the attack run when both flag it),
    /// over what they are owed.
    pub honest_loss: f64,
    /// `honest_loss` with the baselines' earnings as they are, false flags and all (the
    /// measure of the sweeps before 2026-12-07).
    pub honest_loss_uncleared: f64,
    /// Honest hotspots' earnings: owed (see `honest_loss`), attack run.
    pub honest_earned: (u64, u64),
    /// Reasons that caught attackers: flags (hotspots × epochs), invalid attacker reports, and
    /// rewards withheld beyond the attack-free run's (reciprocity), by code.
    pub caught: BTreeMap<String, u64>,
    /// Honest hotspots the defences flagged (hotspots × epochs), by reason code.
    pub honest_flagged: BTreeMap<String, u64>,
    /// Hotspot-epochs of the attack-free run in which a hotspot was flagged or had its
    /// rewards reduced by its reputation.
    pub attack_free_flagged: u64,
    /// Other hotspot-epochs of the attack-free run in which a hotspot was uncorroborated (an
    /// honest cluster the anchors' links do not reach).
    pub attack_free_uncorroborated: u64,
    /// Hotspot-epochs of the attack-free run.
    pub attack_free_hotspot_epochs: u64,
    /// Each attacker (the onboarding flood's silent keys only counted in `attackers`).
    pub attackers_detail: Vec<AttackerOutcome>,
    /// What one epoch's emission is worth, dollars.
    pub emission_usd_per_epoch: f64,
    /// Data credits the attackers paid to onboard their keys and assert them: what the oracle
    /// debited their owners when the scenario charges identities
    /// ([`Scenario::charges_identities`]), else what its default fees (4 000 000 DC to
    /// onboard, 1 000 000 DC per assertion) would have charged.
    pub attacker_fees_dc: u64,
    /// Whether the oracle charged those fees.
    pub fees_charged: bool,
    /// The attackers' return over [`RETURN_EPOCHS`] epochs: their share of the emission per
    /// epoch (mean over the run) × 30 × the emission's value, over their fees in dollars
    /// ([`DC_USD`] per data credit). Below 1, the attack does not pay within 30 epochs;
    /// `None` when they paid nothing.
    pub attacker_return: Option<f64>,
}

impl ScenarioReport {
    /// Whether the targets hold: the attack gains at most `max_attacker_share` of the
    /// emission ([`ScenarioReport::attacker_gain`]) and honest hotspots lose at most
    /// `max_honest_loss`.
    pub fn meets(&self, max_attacker_share: f64, max_honest_loss: f64) -> bool {
        self.attacker_gain <= max_attacker_share && self.honest_loss <= max_honest_loss
    }

    /// Sets the fees the attackers paid (`charged`: by the oracle), the emission's value per
    /// epoch, and the attackers' return over [`RETURN_EPOCHS`] epochs.
    pub fn set_return(&mut self, fees_dc: u64, charged: bool, emission_usd_per_epoch: f64) {
        self.attacker_fees_dc = fees_dc;
        self.fees_charged = charged;
        self.emission_usd_per_epoch = emission_usd_per_epoch;
        let fees_usd = fees_dc as f64 * DC_USD;
        let earned_usd = self.attacker_share * RETURN_EPOCHS as f64 * emission_usd_per_epoch;
        self.attacker_return = (fees_usd > 0.0).then(|| earned_usd / fees_usd);
    }
}

/// A point `distance_m` from `(lat, lon)` at `bearing` radians from north.
fn offset((lat, lon): (f64, f64), distance_m: f64, bearing: f64) -> (f64, f64) {
    let dlat = distance_m * bearing.cos() / 111_320.0;
    let dlon = distance_m * bearing.sin() / (111_320.0 * lat.to_radians().cos());
    (lat + dlat, lon + dlon)
}

/// The attackers of `scenario` standing on the placement's attacker sites (one each, in order)
/// as `plan` says, in a run of `epochs` epochs, and the hidden replay receiver if any. The
/// sybil island and the onboarding flood ignore the sites and place their own keys (see
/// [`island`] and [`flood`]). Each attacker has an owner of its own. Small spoofers choose
/// their places knowing the oracle's `density` rule and every other site.
pub fn attackers(
    scenario: Scenario,
    placement: &Placement,
    plan: &AttackPlan,
    world: &World,
    epochs: u64,
    density: &DensityConfig,
) -> (Vec<NodeSpec>, Option<RadioSite>) {
    let sites = &placement.attackers;
    match scenario {
        Scenario::SybilIsland => {
            let keys = plan.island_size(world.scenario_hotspots(false));
            return (island(world, plan, keys, "island", 0), None);
        }
        Scenario::OnboardingFlood => return (flood(world, plan), None),
        _ => {}
    }
    let behaviours = scenario.behaviours(sites.len(), epochs);
    let farm_roof = plan
        .farm_roof
        .as_deref()
        .and_then(|name| world.site(name))
        .or_else(|| {
            behaviours
                .iter()
                .position(|b| *b == Behaviour::Farm)
                .map(|k| sites[k])
        });
    let mut replay_receiver = None;
    let mut specs = Vec::with_capacity(sites.len());
    for (k, behaviour) in behaviours.into_iter().enumerate() {
        let site = sites[k];
        let place = (site.lat, site.lon);
        let antenna = site.antenna();
        let radio_here = RadioSite {
            lat: place.0,
            lon: place.1,
            site: 1_000 + k as u64,
            antenna,
        };
        let (asserted, radio) = match behaviour {
            Behaviour::Ring | Behaviour::RelayColluder | Behaviour::Island | Behaviour::Idle => {
                (place, None)
            }
            Behaviour::Spoof if scenario == Scenario::SmallSpoof => {
                let spoof = SmallSpoof::of(placement, k, plan.small_spoof_distance_m, density);
                (spoof.place(place, 2.4 * k as f64), Some(radio_here))
            }
            Behaviour::Spoof | Behaviour::ShapingSpoof => (
                offset(place, plan.spoof_distance_m, 2.4 * k as f64),
                Some(radio_here),
            ),
            Behaviour::Farm => {
                let roof = farm_roof.unwrap_or(site);
                let radio = RadioSite {
                    lat: roof.lat,
                    lon: roof.lon,
                    site: 999,
                    antenna: roof.antenna(),
                };
                (place, Some(radio))
            }
            Behaviour::Replay => {
                // The hidden receiver stands away from the first replaying key's assertion.
                let hidden = offset(place, plan.replay_receiver_distance_m, 1.0);
                replay_receiver.get_or_insert(RadioSite {
                    lat: hidden.0,
                    lon: hidden.1,
                    site: 998,
                    antenna,
                });
                (place, None)
            }
            Behaviour::Honest
            | Behaviour::ForgeRssi { .. }
            | Behaviour::WitnessOnly
            | Behaviour::Relay
            | Behaviour::Patient { .. } => (place, Some(radio_here)),
        };
        let tag = match scenario {
            Scenario::SmallSpoof => "small-spoof",
            _ => scenario_tag(behaviour),
        };
        specs.push(NodeSpec {
            name: format!("{tag}-{}", site.name),
            asserted,
            radio,
            behaviour,
            antenna,
            owner: Some(k as u64),
            number: None,
        });
    }
    (specs, replay_receiver)
}

/// How a small spoofer chooses where to assert: `distance_m` from its radio, into another
/// resolution-8 hex, where the oracle's density rule pays it most.
struct SmallSpoof<'a> {
    /// How far from its radio, metres.
    distance_m: f64,
    /// Where every other hotspot is asserted (an attacker assumes its fellows' radios' places).
    others: Vec<(f64, f64)>,
    /// The oracle's density rule (public, as the rules are).
    density: &'a DensityConfig,
}

impl<'a> SmallSpoof<'a> {
    /// The placement's attacker `k` as a small spoofer among every other site.
    fn of(placement: &Placement, k: usize, distance_m: f64, density: &'a DensityConfig) -> Self {
        let sites = &placement.attackers;
        let others = (placement.honest.iter())
            .chain(sites.iter().take(k))
            .chain(sites.iter().skip(k + 1))
            .map(|s| (s.lat, s.lon))
            .collect();
        Self {
            distance_m,
            others,
            density,
        }
    }

    /// Of twelve bearings `distance_m` from `place`, starting at `bearing`, those whose place
    /// lies in another resolution-8 hex than `place`, the one where the oracle's density rule
    /// gives the spoofer the largest scale among the others (the first on a tie); `bearing`'s
    /// place when none leaves the hex.
    fn place(&self, place: (f64, f64), bearing: f64) -> (f64, f64) {
        let hex = |p: (f64, f64)| {
            h3_coverage::cell_at(p.0, p.1)
                .ok()
                .and_then(|cell| h3_coverage::parent(cell, h3_coverage::Resolution::Eight).ok())
        };
        let home = hex(place);
        let mut best: Option<((f64, f64), f64)> = None;
        for step in 0..12 {
            let candidate = offset(place, self.distance_m, bearing + f64::from(step) * PI / 6.0);
            if hex(candidate) == home {
                continue;
            }
            let scale = self.scale_at(candidate);
            if best.is_none_or(|(_, s)| scale > s) {
                best = Some((candidate, scale));
            }
        }
        best.map_or_else(|| offset(place, self.distance_m, bearing), |(p, _)| p)
    }

    /// The spoofer's density scale asserted at `at`, among the others.
    fn scale_at(&self, at: (f64, f64)) -> f64 {
        let cells: Vec<(usize, h3_coverage::CellIndex)> = std::iter::once(at)
            .chain(self.others.iter().copied())
            .enumerate()
            .filter_map(|(i, (lat, lon))| Some((i, h3_coverage::cell_at(lat, lon).ok()?)))
            .collect();
        self.density.scales(&cells).get(&0).copied().unwrap_or(0.0)
    }
}

/// Where the sybil island lies: `plan.island_distance_m` beyond the world's farthest site from
/// its centre, at `plan.island_bearing_deg`.
pub fn island_centre(world: &World, plan: &AttackPlan) -> (f64, f64) {
    offset(
        world.centre(),
        world.radius_m() + plan.island_distance_m,
        plan.island_bearing_deg.to_radians(),
    )
}

/// `keys` keys without radios of a sybil island on a square grid `plan.island_spacing_m`
/// apart around [`island_centre`], named `{tag}-{k}`, owners numbered from `first_owner`.
pub fn island(
    world: &World,
    plan: &AttackPlan,
    keys: usize,
    tag: &str,
    first_owner: u64,
) -> Vec<NodeSpec> {
    let centre = island_centre(world, plan);
    let columns = (keys as f64).sqrt().ceil().max(1.0) as usize;
    let half = (columns as f64 - 1.0) / 2.0;
    (0..keys)
        .map(|k| {
            let (row, column) = ((k / columns) as f64 - half, (k % columns) as f64 - half);
            let north = offset(centre, row * plan.island_spacing_m, 0.0);
            let asserted = offset(north, column * plan.island_spacing_m, PI / 2.0);
            NodeSpec {
                name: format!("{tag}-{k}"),
                asserted,
                radio: None,
                behaviour: Behaviour::Island,
                antenna: Antenna::default(),
                owner: Some(first_owner + k as u64),
                number: None,
            }
        })
        .collect()
}

/// The onboarding flood: `plan.flood_keys` keys, each with its own owner; the active share
/// a sybil island, the others silent keys asserted at random places within the bounding box of
/// the world's sites.
pub fn flood(world: &World, plan: &AttackPlan) -> Vec<NodeSpec> {
    let keys = plan.flood_keys;
    let active = ((keys as f64 * plan.flood_active_fraction).round() as usize).min(keys);
    let mut specs = island(world, plan, active, "flood-active", 0);
    let lats = world.sites.iter().map(|s| s.lat);
    let lons = world.sites.iter().map(|s| s.lon);
    let (south, north) = (
        lats.clone().fold(f64::MAX, f64::min),
        lats.fold(f64::MIN, f64::max),
    );
    let (west, east) = (
        lons.clone().fold(f64::MAX, f64::min),
        lons.fold(f64::MIN, f64::max),
    );
    for k in active..keys {
        let mut rng = crate::network::event_rng(0, b"flood", k as u64, 0);
        let asserted = (
            south + (north - south) * rng.gen::<f64>(),
            west + (east - west) * rng.gen::<f64>(),
        );
        specs.push(NodeSpec {
            name: format!("flood-idle-{k}"),
            asserted,
            radio: None,
            behaviour: Behaviour::Idle,
            antenna: Antenna::default(),
            owner: Some(k as u64),
            number: None,
        });
    }
    specs
}

fn scenario_tag(behaviour: Behaviour) -> &'static str {
    match behaviour {
        Behaviour::Honest => "honest",
        Behaviour::Ring => "ring",
        Behaviour::Spoof => "spoof",
        Behaviour::ForgeRssi { .. } => "forge",
        Behaviour::Farm => "farm",
        Behaviour::Replay => "replay",
        Behaviour::WitnessOnly => "witness-only",
        Behaviour::ShapingSpoof => "shaping-spoof",
        Behaviour::Island => "island",
        Behaviour::Relay => "relay",
        Behaviour::RelayColluder => "relay-colluder",
        Behaviour::Patient { .. } => "patient",
        Behaviour::Idle => "idle",
    }
}

/// One run's totals: earnings by address, flags by address, reciprocity withholdings, emission.
#[derive(Debug, Default)]
struct RunTotals {
    earned: BTreeMap<String, u64>,
    flagged: BTreeMap<String, BTreeMap<String, u64>>,
    rejected: BTreeMap<String, BTreeMap<String, u64>>,
    ineligible: BTreeMap<String, u64>,
    emission: u64,
    /// Hotspot-epochs in which the hotspot was flagged or its reputation cut its rewards.
    flagged_epochs: u64,
    /// Other hotspot-epochs in which the hotspot was not corroborated.
    uncorroborated_epochs: u64,
    /// Hotspot-epochs.
    hotspot_epochs: u64,
}

/// The code under which the scenarios count a hotspot-epoch whose coverage nobody independent
/// corroborated (its units scaled by `corroboration.uncorroborated_rate`).
const UNCORROBORATED: &str = "uncorroborated";

/// How many of the honest network's hotspots (the first ones) the oracle takes as its anchors
/// ([`oracle_core::corroboration`]): the founding hotspots a real network would name.
pub const ANCHORS: u64 = 3;

/// Below this reputation factor a hotspot's rewards count as reduced.
const FULL_REWARD: f64 = 1.0 - 1e-9;

impl RunTotals {
    /// Adds one epoch of a network whose hotspots have `addresses`.
    fn add(&mut self, outcome: &crate::EpochOutcome, addresses: &[String]) {
        let report = &outcome.report;
        self.emission += report.emission;
        for row in &report.rewards {
            *self.earned.entry(row.address.clone()).or_default() += row.total;
        }
        for (address, reasons) in &report.flagged {
            let flags = self.flagged.entry(address.clone()).or_default();
            for reason in reasons {
                *flags.entry(reason.clone()).or_default() += 1;
            }
        }
        for address in &report.uncorroborated {
            let flags = self.flagged.entry(address.clone()).or_default();
            *flags.entry(UNCORROBORATED.to_string()).or_default() += 1;
        }
        for (reason, count) in &report.ineligible {
            *self.ineligible.entry(reason.clone()).or_default() += count;
        }
        for hotspot in &outcome.hotspot_rejections {
            let rejected = self.rejected.entry(hotspot.address.clone()).or_default();
            for (reason, count) in &hotspot.rejections {
                *rejected.entry(reason.clone()).or_default() += count;
            }
        }
        self.hotspot_epochs += addresses.len() as u64;
        let flagged = |address: &&String| {
            report.flagged.contains_key(*address)
                || report
                    .reputation
                    .get(*address)
                    .is_some_and(|factor| *factor < FULL_REWARD)
        };
        self.flagged_epochs += addresses.iter().filter(flagged).count() as u64;
        self.uncorroborated_epochs += addresses
            .iter()
            .filter(|address| !flagged(address) && report.uncorroborated.contains(address))
            .count() as u64;
    }
}

async fn run_network(
    config: NetworkConfig,
    epochs: u64,
) -> Result<(Network, RunTotals), NetworkError> {
    let mut network = Network::start(config).await?;
    let addresses: Vec<String> = network.nodes().into_iter().map(|n| n.address).collect();
    let mut totals = RunTotals::default();
    let first = network.first_epoch();
    for epoch in first..first + epochs {
        let outcome = network.run_epoch(epoch, |_, _| {}).await?;
        totals.add(&outcome, &addresses);
    }
    Ok((network, totals))
}

/// A run an attack is measured against: the honest network alone (attack-free), or with the
/// attackers' radios run honestly, each where it stands.
#[derive(Debug)]
pub struct Baseline {
    key: BaselineKey,
    totals: RunTotals,
    /// Addresses of the honest radios added to the honest network.
    radios: Vec<String>,
}

/// What makes two baselines the same run.
#[derive(Debug, Clone, PartialEq)]
struct BaselineKey {
    honest: usize,
    epochs: u64,
    seed: u64,
    world: String,
    /// The radios added (none: attack-free): site, latitude and longitude bits. A site
    /// number alone does not name a place: a farm's roof is numbered alike in every scenario.
    radio_sites: Vec<(u64, u64, u64)>,
    /// The added hotspots' numbers ([`NodeSpec::number`]): the same radio run as another
    /// attacker's key is another run.
    numbers: Vec<Option<u64>>,
}

impl BaselineKey {
    fn of(config: &ScenarioConfig, radios: &[NodeSpec]) -> Self {
        Self {
            honest: config.split().0,
            epochs: config.epochs,
            seed: config.seed,
            world: config.world.name.clone(),
            radio_sites: radios
                .iter()
                .filter_map(|r| r.radio)
                .map(|r| (r.site, r.lat.to_bits(), r.lon.to_bits()))
                .collect(),
            numbers: radios.iter().map(|r| r.number).collect(),
        }
    }
}

impl Baseline {
    /// Hotspot-epochs in which a hotspot was flagged or had its rewards reduced, the others
    /// in which it was uncorroborated, and all hotspot-epochs.
    pub fn flagged(&self) -> (u64, u64, u64) {
        let totals = &self.totals;
        (
            totals.flagged_epochs,
            totals.uncorroborated_epochs,
            totals.hotspot_epochs,
        )
    }

    /// The share of the emission the added radios earned.
    fn radio_share(&self) -> f64 {
        let earned: u64 = self
            .radios
            .iter()
            .map(|address| self.totals.earned.get(address).copied().unwrap_or(0))
            .sum();
        earned as f64 / self.totals.emission.max(1) as f64
    }
}

/// The baselines of the scenarios run so far, each run once and shared by every scenario
/// that needs it: the attack-free network of a world, seed and size, and that network with
/// the same attackers' radios run honestly (the spoofers', forgers', witness-only and
/// patient attackers' radios are the same radios on the same sites).
#[derive(Debug, Default)]
pub struct Baselines {
    runs: Vec<Baseline>,
}

impl Baselines {
    /// The baseline of `config`'s honest network with `radios` added (none: attack-free),
    /// run with its store under `data_dir` unless run before.
    async fn get(
        &mut self,
        config: &ScenarioConfig,
        radios: Vec<NodeSpec>,
        data_dir: &Path,
    ) -> Result<usize, NetworkError> {
        let key = BaselineKey::of(config, &radios);
        if let Some(index) = self.runs.iter().position(|run| run.key == key) {
            return Ok(index);
        }
        let (honest, attackers) = config.split();
        let placement = config
            .world
            .placement(honest, attackers)
            .map_err(NetworkError::Config)?;
        let dir = data_dir.join(format!("baseline-{}", self.runs.len()));
        let run = if key.radio_sites.is_empty() {
            "attack-free".to_string()
        } else {
            let sites: Vec<String> = key
                .radio_sites
                .iter()
                .map(|(site, ..)| site.to_string())
                .collect();
            format!("radios-{}", sites.join("-"))
        };
        let mut network = config.network(&placement.honest, &dir, &run);
        network.extra = radios;
        let (network, totals) = run_network(network, config.epochs).await?;
        let radios = network.nodes()[honest..]
            .iter()
            .map(|node| node.address.clone())
            .collect();
        self.runs.push(Baseline {
            key,
            totals,
            radios,
        });
        Ok(self.runs.len() - 1)
    }

    /// The attack-free run of `config`, run with its store under `data_dir` unless run before.
    pub async fn attack_free(
        &mut self,
        config: &ScenarioConfig,
        data_dir: &Path,
    ) -> Result<&Baseline, NetworkError> {
        let index = self.get(config, Vec::new(), data_dir).await?;
        Ok(&self.runs[index])
    }
}

/// The attackers' radios run honestly: one honest hotspot for each distinct radio among
/// `attackers`, asserted where the radio stands, with its antenna and its key's owner, and as
/// the same hotspot as the first key on it ([`NodeSpec::number`]; the attackers are numbered
/// from `first_number` in the attack run). Keys without a radio (rings, islands, replaying
/// keys) have no honest counterpart, and a farm's keys share one radio.
pub fn honest_radios(attackers: &[NodeSpec], first_number: usize) -> Vec<NodeSpec> {
    let mut sites = std::collections::BTreeSet::new();
    attackers
        .iter()
        .enumerate()
        .filter_map(|(k, spec)| {
            let radio = spec.radio?;
            sites.insert(radio.site).then(|| NodeSpec {
                name: format!("honest-{}", spec.name),
                asserted: (radio.lat, radio.lon),
                radio: Some(radio),
                behaviour: Behaviour::Honest,
                antenna: radio.antenna,
                owner: spec.owner,
                number: Some(spec.number.unwrap_or((first_number + k) as u64)),
            })
        })
        .collect()
}

/// Runs `scenario` with its attackers, with its stores under `data_dir`, and measures it
/// against its baselines (run first unless `baselines` has them): the attackers' gain over
/// what their radios earn honestly, and the honest hotspots' loss against that honest run.
pub async fn run_attack(
    scenario: Scenario,
    config: &ScenarioConfig,
    baselines: &mut Baselines,
    data_dir: &Path,
) -> Result<ScenarioReport, NetworkError> {
    check_epochs(scenario, config)?;
    let (honest, attackers_count) = config.split();
    let world = &config.world;
    let placement = world
        .placement(honest, attackers_count)
        .map_err(NetworkError::Config)?;
    let (specs, replay_receiver) = attackers(
        scenario,
        &placement,
        &world.attack,
        world,
        config.epochs,
        &config.rules.density,
    );
    let attack_free = baselines.get(config, Vec::new(), data_dir).await?;
    let fair = baselines
        .get(config, honest_radios(&specs, honest), data_dir)
        .await?;
    let mut attack_config =
        config.network(&placement.honest, &data_dir.join("attack"), scenario.name());
    if scenario.charges_identities() {
        attack_config.charge_identities();
    }
    let attackers_count = specs.len();
    attack_config.extra = specs;
    attack_config.replay_receiver = replay_receiver;
    let (network, attack) = run_network(attack_config, config.epochs).await?;
    let nodes = network.nodes();
    let (attack_free, fair) = (&baselines.runs[attack_free], &baselines.runs[fair]);
    let mut report = compare(&nodes, attack_free, fair, &attack);
    report.scenario = scenario.name().to_string();
    report.world = world.name.clone();
    report.seed = config.seed;
    report.attackers = attackers_count;
    report.epochs = config.epochs;
    let (fees_dc, charged) = attacker_fees(&network, &nodes);
    report.set_return(fees_dc, charged, config.emission_usd_per_epoch());
    Ok(report)
}

/// Refuses a run of `scenario` shorter than its [`Scenario::min_epochs`].
fn check_epochs(scenario: Scenario, config: &ScenarioConfig) -> Result<(), NetworkError> {
    if config.epochs < scenario.min_epochs() {
        return Err(NetworkError::Config(format!(
            "scenario {} needs at least {} epochs",
            scenario.name(),
            scenario.min_epochs()
        )));
    }
    Ok(())
}

/// The data credits the attackers among `nodes` paid the oracle when it charged fees, else
/// what its default fees would have charged them; and whether it charged.
fn attacker_fees(network: &Network, nodes: &[crate::NodeInfo]) -> (u64, bool) {
    let attackers = nodes.iter().filter(|node| node.behaviour.is_attacker());
    let paid = network.fees_paid();
    if paid.is_empty() {
        let fees = oracle::identity::IdentityConfig::default();
        let each = fees.onboarding_fee_dc + fees.assertion_fee_dc;
        return (attackers.count() as u64 * each, false);
    }
    let owners: std::collections::BTreeSet<&str> =
        attackers.map(|node| node.owner.as_str()).collect();
    let fees = owners
        .into_iter()
        .map(|owner| paid.get(owner).copied().unwrap_or(0))
        .sum();
    (fees, true)
}

/// Runs `scenario`: its baselines and the attack run, in fresh stores under `data_dir`.
pub async fn run(
    scenario: Scenario,
    config: &ScenarioConfig,
    data_dir: &Path,
) -> Result<ScenarioReport, NetworkError> {
    run_attack(scenario, config, &mut Baselines::default(), data_dir).await
}

/// What each honest hotspot (by address) is owed: the lesser of its earnings without the
/// attackers and with their radios honest (a farm's radio run honestly would have given its
/// neighbours witness rewards that its caught farm does not), each baseline first cleared of
/// the windfall of its false flags ([`cleared_of_false_flags`]), against the other baseline
/// and then against the attack run.
fn owed_amounts(
    honest: &[&str],
    attack_free: &RunTotals,
    fair: &RunTotals,
    attack: &RunTotals,
) -> BTreeMap<String, u64> {
    let free = cleared_of_false_flags(honest, attack_free, &[fair, attack]);
    let fair = cleared_of_false_flags(honest, fair, &[attack_free, attack]);
    honest
        .iter()
        .map(|address| {
            let owed_in = |run: &BTreeMap<&str, u64>| run.get(address).copied().unwrap_or(0);
            (address.to_string(), owed_in(&free).min(owed_in(&fair)))
        })
        .collect()
}

/// The honest hotspots' earnings in baseline `run` without the windfall of its false flags.
/// Every hotspot of a baseline is honest, so a flag there (or coverage left uncorroborated) is
/// a false one: it pays the hotspot less and leaves its share to the others, a windfall they
/// are not owed (one such flag used to count as a loss of a few per cent for every other
/// hotspot of the attack run). What a hotspot flagged in `run` lost is its earnings in the
/// first of the `references` that does not flag it (the other baseline; the attack run when
/// both baselines flag it, since its unflagged earnings there are the only ones measured),
/// scaled by the two runs' ratio over the hotspots neither flags, less its earnings in `run`;
/// the others' earnings are reduced in proportion by the sum. The flagged hotspot keeps its
/// own earnings: a flag that also falls on it without the attack is not the attack's doing.
fn cleared_of_false_flags<'a>(
    honest: &[&'a str],
    run: &RunTotals,
    references: &[&RunTotals],
) -> BTreeMap<&'a str, u64> {
    let earned = |totals: &RunTotals, address: &str| totals.earned.get(address).copied();
    let flagged = |totals: &RunTotals, address: &str| totals.flagged.contains_key(address);
    let ratio_to = |other: &RunTotals| {
        let (mut in_run, mut in_other) = (0u64, 0u64);
        for address in honest
            .iter()
            .filter(|a| !flagged(run, a) && !flagged(other, a))
        {
            in_run += earned(run, address).unwrap_or(0);
            in_other += earned(other, address).unwrap_or(0);
        }
        if in_other == 0 {
            1.0
        } else {
            in_run as f64 / in_other as f64
        }
    };
    let ratios: Vec<f64> = references.iter().map(|&other| ratio_to(other)).collect();
    let (mut cleared, mut windfall, mut unflagged) = (BTreeMap::new(), 0.0, 0u64);
    for &address in honest {
        let own = earned(run, address).unwrap_or(0);
        if !flagged(run, address) {
            unflagged += own;
        } else if let Some((elsewhere, ratio)) =
            references.iter().zip(&ratios).find_map(|(other, ratio)| {
                let elsewhere = earned(other, address).filter(|_| !flagged(other, address))?;
                Some((elsewhere, *ratio))
            })
        {
            windfall += (elsewhere as f64 * ratio - own as f64).max(0.0);
        }
        cleared.insert(address, own);
    }
    let kept = 1.0 - (windfall / unflagged.max(1) as f64).min(1.0);
    for &address in honest.iter().filter(|a| !flagged(run, a)) {
        if let Some(amount) = cleared.get_mut(address) {
            *amount = (*amount as f64 * kept).round() as u64;
        }
    }
    cleared
}

/// What the attack run of `nodes` shows against the attack-free run and the run with the
/// attackers' radios honest (`fair`); the caller names the scenario, world, seed, attackers
/// and epochs.
fn compare(
    nodes: &[crate::NodeInfo],
    attack_free: &Baseline,
    fair: &Baseline,
    attack: &RunTotals,
) -> ScenarioReport {
    let mut attacker_earned = 0;
    let (mut honest_before, mut honest_after, mut honest_lost) = (0, 0, 0);
    let (mut uncleared_before, mut uncleared_lost) = (0, 0);
    let mut caught: BTreeMap<String, u64> = BTreeMap::new();
    let mut honest_flagged: BTreeMap<String, u64> = BTreeMap::new();
    let mut detail = Vec::new();
    let honest: Vec<&str> = nodes
        .iter()
        .filter(|node| !node.behaviour.is_attacker())
        .map(|node| node.address.as_str())
        .collect();
    let owed = owed_amounts(&honest, &attack_free.totals, &fair.totals, attack);
    for node in nodes {
        let earned = attack.earned.get(&node.address).copied().unwrap_or(0);
        let flagged = attack
            .flagged
            .get(&node.address)
            .cloned()
            .unwrap_or_default();
        if node.behaviour.is_attacker() {
            attacker_earned += earned;
            let rejected = attack
                .rejected
                .get(&node.address)
                .cloned()
                .unwrap_or_default();
            for (reason, count) in flagged.iter().chain(&rejected) {
                *caught.entry(reason.clone()).or_default() += count;
            }
            if node.behaviour == Behaviour::Idle && earned == 0 && flagged.is_empty() {
                continue;
            }
            detail.push(AttackerOutcome {
                name: node.name.clone(),
                address: node.address.clone(),
                behaviour: node.behaviour,
                earned,
                flagged,
                rejected,
            });
        } else {
            let before = owed.get(node.address.as_str()).copied().unwrap_or(0);
            let earned_in = |run: &Baseline| run.totals.earned.get(&node.address).copied();
            tracing::debug!(
                hotspot = %node.name,
                attack_free = earned_in(attack_free).unwrap_or(0),
                radios_honest = earned_in(fair).unwrap_or(0),
                owed = before,
                attacked = earned,
                flagged_attack_free = ?attack_free.totals.flagged.get(&node.address),
                flagged_radios_honest = ?fair.totals.flagged.get(&node.address),
                "honest hotspot's earnings"
            );
            let uncleared = earned_in(attack_free)
                .unwrap_or(0)
                .min(earned_in(fair).unwrap_or(0));
            uncleared_before += uncleared;
            uncleared_lost += uncleared.saturating_sub(earned);
            honest_before += before;
            honest_after += earned;
            honest_lost += before.saturating_sub(earned);
            for (reason, count) in flagged {
                *honest_flagged.entry(reason).or_default() += count;
            }
        }
    }
    for (reason, count) in &attack.ineligible {
        let before = attack_free
            .totals
            .ineligible
            .get(reason)
            .copied()
            .unwrap_or(0);
        let flag = oracle::reason::RewardReason::from_code(reason).is_some_and(|r| {
            matches!(
                r,
                oracle::reason::RewardReason::GatewayNoValidBeacons
                    | oracle::reason::RewardReason::GatewayNoValidWitnesses
            )
        });
        if flag && *count > before {
            *caught.entry(reason.clone()).or_default() += count - before;
        }
    }
    let attacker_share = attacker_earned as f64 / attack.emission.max(1) as f64;
    let (attack_free_flagged, attack_free_uncorroborated, attack_free_hotspot_epochs) =
        attack_free.flagged();
    ScenarioReport {
        scenario: String::new(),
        world: String::new(),
        seed: 0,
        hotspots: nodes.len(),
        attackers: 0,
        epochs: 0,
        emission: attack.emission,
        attacker_share,
        honest_radio_share: fair.radio_share(),
        attacker_gain: (attacker_share - fair.radio_share()).max(0.0),
        honest_loss: honest_lost as f64 / honest_before.max(1) as f64,
        honest_loss_uncleared: uncleared_lost as f64 / uncleared_before.max(1) as f64,
        honest_earned: (honest_before, honest_after),
        caught,
        honest_flagged,
        attack_free_flagged,
        attack_free_uncorroborated,
        attack_free_hotspot_epochs,
        attackers_detail: detail,
        emission_usd_per_epoch: 0.0,
        attacker_fees_dc: 0,
        fees_charged: false,
        attacker_return: None,
    }
}

fn codes(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "-".to_string();
    }
    map.iter()
        .map(|(code, count)| format!("{code} ({count})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The attackers' fees in dollars, marked `*` when the oracle did not charge them.
fn fees(report: &ScenarioReport) -> String {
    let dollars = report.attacker_fees_dc as f64 * DC_USD;
    let mark = if report.fees_charged { "" } else { "*" };
    format!("${dollars:.0}{mark}")
}

/// A return over 30 epochs as a table shows it.
pub fn attacker_return(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |r| format!("{r:.3}"))
}

/// The reports as a Markdown table: `*` marks fees the oracle's defaults would have charged
/// (the scenario ran with free identities).
pub fn markdown(reports: &[ScenarioReport]) -> String {
    let mut out = String::from(
        "| scenario | hotspots | attackers | epochs | seed | attacker share | their radios honest | attacker gain | honest loss | rules that caught (count) | honest hotspots flagged | attackers' fees | return over 30 epochs |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} % | {:.2} % | {:.2} % | {:.2} % | {} | {} | {} | {} |\n",
            r.scenario,
            r.hotspots,
            r.attackers,
            r.epochs,
            r.seed,
            r.attacker_share * 100.0,
            r.honest_radio_share * 100.0,
            r.attacker_gain * 100.0,
            r.honest_loss * 100.0,
            codes(&r.caught),
            codes(&r.honest_flagged),
            fees(r),
            attacker_return(r.attacker_return),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(rows: &[(&str, u64, bool)]) -> RunTotals {
        let mut totals = RunTotals::default();
        for &(address, earned, flagged) in rows {
            totals.earned.insert(address.to_string(), earned);
            if flagged {
                let flags = totals.flagged.entry(address.to_string()).or_default();
                flags.insert("misplaced_location".to_string(), 1);
            }
        }
        totals
    }

    #[test]
    fn a_baselines_false_flag_is_no_windfall_for_the_others() {
        let honest = ["a", "b", "c"];
        // `a` is flagged in the run (its share went to `b` and `c`) but not in the other run.
        let run = totals(&[("a", 0, true), ("b", 60_000, false), ("c", 40_000, false)]);
        let other = totals(&[
            ("a", 30_000, false),
            ("b", 50_000, false),
            ("c", 20_000, false),
        ]);
        let cleared = cleared_of_false_flags(&honest, &run, &[&other]);
        // The run pays 100/70 of the other on `b` and `c`: `a` lost 42 857, which `b` and
        // `c` are not owed, in proportion; `a` keeps what it earned.
        assert_eq!(cleared["a"], 0);
        assert_eq!(cleared["b"], 34_286);
        assert_eq!(cleared["c"], 22_857);
        // Without false flags nothing changes.
        assert_eq!(
            cleared_of_false_flags(&honest, &other, &[&run])
                .values()
                .sum::<u64>(),
            100_000
        );
        assert_eq!(
            cleared_of_false_flags(&honest, &other, &[&run])["b"],
            50_000
        );
    }

    #[test]
    fn a_hotspot_flagged_in_both_baselines_keeps_its_earnings() {
        let honest = ["a", "b"];
        let run = totals(&[("a", 10_000, true), ("b", 90_000, false)]);
        let other = totals(&[("a", 0, true), ("b", 100_000, false)]);
        let cleared = cleared_of_false_flags(&honest, &run, &[&other]);
        assert_eq!((cleared["a"], cleared["b"]), (10_000, 90_000));
        // Owed: the lesser of the two cleared baselines, per hotspot, when the attack run
        // flags `a` too.
        let owed = owed_amounts(&honest, &run, &other, &run);
        assert_eq!((owed["a"], owed["b"]), (0, 90_000));
    }

    #[test]
    fn a_hotspot_both_baselines_flag_but_the_attack_run_pays_leaves_no_windfall() {
        let honest = ["a", "b", "c"];
        // `a` is falsely flagged in both baselines: `b` and `c` share its part there.
        let free = totals(&[("a", 0, true), ("b", 60_000, false), ("c", 40_000, false)]);
        let fair = totals(&[("a", 0, true), ("b", 60_000, false), ("c", 40_000, false)]);
        // The attack run does not flag `a`: it earns a fifth, and `b` and `c` earn no less
        // than they would beside an unflagged `a`.
        let attack = totals(&[
            ("a", 20_000, false),
            ("b", 48_000, false),
            ("c", 32_000, false),
        ]);
        let owed = owed_amounts(&honest, &free, &fair, &attack);
        assert_eq!((owed["a"], owed["b"], owed["c"]), (0, 45_000, 30_000));
        let lost: u64 = ["b", "c"]
            .iter()
            .map(|h| owed[*h].saturating_sub(attack.earned[*h]))
            .sum();
        assert_eq!(lost, 0);
        // Measured against the baselines alone, `b` and `c` would have lost a fifth.
        let alone = owed_amounts(&honest, &free, &fair, &free);
        assert_eq!((alone["b"], alone["c"]), (60_000, 40_000));
    }

    /// Every mix's radios, run honestly, are the hotspots of the first attacker keys on them:
    /// the same numbers, so the same keys and draws, as in the attack run.
    #[test]
    fn an_attackers_radio_run_honestly_keeps_the_number_of_its_first_key() {
        let mut moved = 0;
        for world in World::all_built_in().expect("the built-in worlds load") {
            let config = ScenarioConfig::in_world(Scenario::Mix, Arc::new(world), 2, 1);
            let (honest, count) = config.split();
            let placement = config.world.placement(honest, count).expect("a placement");
            let density = &config.rules.density;
            let (specs, _) = attackers(
                Scenario::Mix,
                &placement,
                &config.world.attack,
                &config.world,
                2,
                density,
            );
            let radios = honest_radios(&specs, honest);
            for (position, radio) in radios.iter().enumerate() {
                let site = radio.radio.expect("a radio").site;
                let first = specs
                    .iter()
                    .position(|s| s.radio.is_some_and(|r| r.site == site))
                    .expect("an attacker on the radio");
                assert_eq!(radio.number, Some((honest + first) as u64));
                assert_eq!(radio.owner, specs[first].owner);
                moved += usize::from(first != position);
            }
        }
        // Keys without radios come first in the mix, so the radios' places differ.
        assert!(moved > 0);
    }
}
