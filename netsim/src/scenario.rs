//! Named attack scenarios: the same network run twice with the same seed, once with only its
//! honest hotspots and once with attackers added (10 % of the hotspots), measuring what the
//! attackers earn and what the honest hotspots lose, and which rules caught the attackers.
//!
//! Both runs use the link-budget mode of [`Network`] (log-distance path loss with per-link
//! shadowing; no IQ samples) and deliver every report from the hotspots' spools over gRPC to
//! a real oracle that verifies and rewards them with its default rules. Every random draw is tied to the event it decides
//! (a beacon's moment, a reception, a link's shadowing), so the honest hotspots live the same
//! epochs in both runs and any difference in their rewards comes from the attackers.

use crate::network::{Behaviour, Network, NetworkConfig, NetworkError, NodeSpec, RadioSite};
use crate::world::{AttackPlan, Site, World, DEFAULT_WORLD};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
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
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 7] = [
        Scenario::Ring,
        Scenario::Spoof,
        Scenario::ForgeRssi,
        Scenario::Farm,
        Scenario::Replay,
        Scenario::WitnessOnly,
        Scenario::Mix,
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

    /// The attackers' behaviours for `count` attackers.
    fn behaviours(&self, count: usize) -> Vec<Behaviour> {
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
        }
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
    fn network(&self, honest: &[&Site], data_dir: &Path) -> NetworkConfig {
        let mut config = NetworkConfig::new(honest.len(), self.seed, data_dir.to_path_buf());
        self.world.apply(&mut config, honest);
        config.link_budget = true;
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
    /// What the honest hotspots lost against the attack-free run: the sum over honest
    /// hotspots of what each earned less, over what they earned in the attack-free run.
    pub honest_loss: f64,
    /// Honest hotspots' earnings: attack-free run, attack run.
    pub honest_earned: (u64, u64),
    /// Reasons that caught attackers: flags (hotspots × epochs), invalid attacker reports, and
    /// rewards withheld beyond the attack-free run's (reciprocity), by code.
    pub caught: BTreeMap<String, u64>,
    /// Honest hotspots the defences flagged (hotspots × epochs), by reason code.
    pub honest_flagged: BTreeMap<String, u64>,
    /// Hotspot-epochs of the attack-free run in which a hotspot was flagged or had its
    /// rewards reduced by its reputation.
    pub attack_free_flagged: u64,
    /// Hotspot-epochs of the attack-free run.
    pub attack_free_hotspot_epochs: u64,
    /// Each attacker.
    pub attackers_detail: Vec<AttackerOutcome>,
}

impl ScenarioReport {
    /// Whether the targets hold: attackers earn at most `max_attacker_share` and honest
    /// hotspots lose at most `max_honest_loss`.
    pub fn meets(&self, max_attacker_share: f64, max_honest_loss: f64) -> bool {
        self.attacker_share <= max_attacker_share && self.honest_loss <= max_honest_loss
    }
}

/// A point `distance_m` from `(lat, lon)` at `bearing` radians from north.
fn offset((lat, lon): (f64, f64), distance_m: f64, bearing: f64) -> (f64, f64) {
    let dlat = distance_m * bearing.cos() / 111_320.0;
    let dlon = distance_m * bearing.sin() / (111_320.0 * lat.to_radians().cos());
    (lat + dlat, lon + dlon)
}

/// The attackers of `scenario` standing on `sites` (one each, in order) as `plan` says, and
/// the hidden replay receiver if any.
pub fn attackers(
    scenario: Scenario,
    sites: &[&Site],
    plan: &AttackPlan,
    world: &World,
) -> (Vec<NodeSpec>, Option<RadioSite>) {
    let behaviours = scenario.behaviours(sites.len());
    let radio_site = |k: usize| 1_000 + k as u64;
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
            site: radio_site(k),
            antenna,
        };
        let (asserted, radio) = match behaviour {
            Behaviour::Honest | Behaviour::ForgeRssi { .. } | Behaviour::WitnessOnly => {
                (place, Some(radio_here))
            }
            Behaviour::Ring => (place, None),
            Behaviour::Spoof => (
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
        };
        specs.push(NodeSpec {
            name: format!("{}-{}", scenario_tag(behaviour), site.name),
            asserted,
            radio,
            behaviour,
            antenna,
        });
    }
    (specs, replay_receiver)
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
    /// Hotspot-epochs.
    hotspot_epochs: u64,
}

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
        self.flagged_epochs += addresses
            .iter()
            .filter(|address| {
                report.flagged.contains_key(*address)
                    || report
                        .reputation
                        .get(*address)
                        .is_some_and(|factor| *factor < FULL_REWARD)
            })
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

/// The attack-free run of a scenario configuration, which every scenario of the same world,
/// seed, size and epochs shares.
#[derive(Debug)]
pub struct Baseline {
    honest: usize,
    epochs: u64,
    seed: u64,
    world: String,
    totals: RunTotals,
}

impl Baseline {
    /// Whether this attack-free run is the one of `config`'s scenario.
    pub fn fits(&self, config: &ScenarioConfig) -> bool {
        (self.honest, self.epochs, self.seed, self.world.as_str())
            == (
                config.split().0,
                config.epochs,
                config.seed,
                config.world.name.as_str(),
            )
    }

    /// Hotspot-epochs in which a hotspot was flagged or had its rewards reduced, and all
    /// hotspot-epochs.
    pub fn flagged(&self) -> (u64, u64) {
        (self.totals.flagged_epochs, self.totals.hotspot_epochs)
    }
}

/// Runs the attack-free network of `config` with its store in `data_dir`.
pub async fn run_baseline(
    config: &ScenarioConfig,
    data_dir: &Path,
) -> Result<Baseline, NetworkError> {
    let (honest, attackers) = config.split();
    let placement = config
        .world
        .placement(honest, attackers)
        .map_err(NetworkError::Config)?;
    let network = config.network(&placement.honest, data_dir);
    let (_, totals) = run_network(network, config.epochs).await?;
    Ok(Baseline {
        honest,
        epochs: config.epochs,
        seed: config.seed,
        world: config.world.name.clone(),
        totals,
    })
}

/// Runs `scenario` with its attackers against `baseline`, the attack-free run of the same
/// configuration, with its store in `data_dir`.
pub async fn run_attack(
    scenario: Scenario,
    config: &ScenarioConfig,
    baseline: &Baseline,
    data_dir: &Path,
) -> Result<ScenarioReport, NetworkError> {
    if !baseline.fits(config) {
        return Err(NetworkError::Config(
            "the attack-free run is another configuration's".into(),
        ));
    }
    let (honest, attackers_count) = config.split();
    let world = &config.world;
    let placement = world
        .placement(honest, attackers_count)
        .map_err(NetworkError::Config)?;
    let mut attack_config = config.network(&placement.honest, data_dir);
    let (specs, replay_receiver) = attackers(scenario, &placement.attackers, &world.attack, world);
    attack_config.extra = specs;
    attack_config.replay_receiver = replay_receiver;
    let (network, attack) = run_network(attack_config, config.epochs).await?;
    let mut report = compare(&network.nodes(), &baseline.totals, &attack);
    report.scenario = scenario.name().to_string();
    report.world = world.name.clone();
    report.seed = config.seed;
    report.attackers = attackers_count;
    report.epochs = config.epochs;
    Ok(report)
}

/// Runs `scenario`: the attack-free run and the attack run, in fresh stores under `data_dir`.
pub async fn run(
    scenario: Scenario,
    config: &ScenarioConfig,
    data_dir: &Path,
) -> Result<ScenarioReport, NetworkError> {
    let baseline = run_baseline(config, &data_dir.join("attack-free")).await?;
    run_attack(scenario, config, &baseline, &data_dir.join("attack")).await
}

/// What the attack run of `nodes` shows against the attack-free run; the caller names the
/// scenario, world, seed, attackers and epochs.
fn compare(nodes: &[crate::NodeInfo], baseline: &RunTotals, attack: &RunTotals) -> ScenarioReport {
    let mut attacker_earned = 0;
    let (mut honest_before, mut honest_after, mut honest_lost) = (0, 0, 0);
    let mut caught: BTreeMap<String, u64> = BTreeMap::new();
    let mut honest_flagged: BTreeMap<String, u64> = BTreeMap::new();
    let mut detail = Vec::new();
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
            detail.push(AttackerOutcome {
                name: node.name.clone(),
                address: node.address.clone(),
                behaviour: node.behaviour,
                earned,
                flagged,
                rejected,
            });
        } else {
            let before = baseline.earned.get(&node.address).copied().unwrap_or(0);
            honest_before += before;
            honest_after += earned;
            honest_lost += before.saturating_sub(earned);
            for (reason, count) in flagged {
                *honest_flagged.entry(reason).or_default() += count;
            }
        }
    }
    for (reason, count) in &attack.ineligible {
        let before = baseline.ineligible.get(reason).copied().unwrap_or(0);
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
    ScenarioReport {
        scenario: String::new(),
        world: String::new(),
        seed: 0,
        hotspots: nodes.len(),
        attackers: 0,
        epochs: 0,
        emission: attack.emission,
        attacker_share: attacker_earned as f64 / attack.emission.max(1) as f64,
        honest_loss: honest_lost as f64 / honest_before.max(1) as f64,
        honest_earned: (honest_before, honest_after),
        caught,
        honest_flagged,
        attack_free_flagged: baseline.flagged_epochs,
        attack_free_hotspot_epochs: baseline.hotspot_epochs,
        attackers_detail: detail,
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

/// The reports as a Markdown table.
pub fn markdown(reports: &[ScenarioReport]) -> String {
    let mut out = String::from(
        "| scenario | hotspots | attackers | epochs | seed | attacker share | honest loss | rules that caught (count) | honest hotspots flagged |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} % | {:.2} % | {} | {} |\n",
            r.scenario,
            r.hotspots,
            r.attackers,
            r.epochs,
            r.seed,
            r.attacker_share * 100.0,
            r.honest_loss * 100.0,
            codes(&r.caught),
            codes(&r.honest_flagged),
        ));
    }
    out
}
