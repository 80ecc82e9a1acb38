//! Named attack scenarios: the same network run twice with the same seed, once with only its
//! honest hotspots and once with attackers added (10 % of the hotspots), measuring what the
//! attackers earn and what the honest hotspots lose, and which rules caught the attackers.
//!
//! Both runs use the link-budget mode of [`Network`] (log-distance path loss with per-link
//! shadowing; no IQ samples) and deliver every report from the hotspots' spools over gRPC to
//! a real oracle that verifies and rewards them with its default rules. Every random draw is tied to the event it decides
//! (a beacon's moment, a reception, a link's shadowing), so the honest hotspots live the same
//! epochs in both runs and any difference in their rewards comes from the attackers.

use crate::city;
use crate::network::{Behaviour, Network, NetworkConfig, NetworkError, NodeSpec, RadioSite};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

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

    /// The default network size: 30 hotspots (27 honest, 3 attackers); 80 for the mix.
    pub fn default_hotspots(&self) -> usize {
        match self {
            Scenario::Mix => 80,
            _ => 30,
        }
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
}

impl ScenarioConfig {
    /// The scenario's default size, 10 % attackers, `epochs` epochs, `seed`.
    pub fn new(scenario: Scenario, epochs: u64, seed: u64) -> Self {
        Self {
            hotspots: scenario.default_hotspots(),
            attacker_fraction: 0.1,
            epochs,
            seed,
        }
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

fn site_at(index: usize) -> (String, (f64, f64)) {
    let (name, lat, lon) = city::site(index);
    (name, (lat, lon))
}

/// The attackers of `scenario` in a network whose `honest` first hotspots are honest, and the
/// hidden replay receiver if any.
pub fn attackers(
    scenario: Scenario,
    honest: usize,
    count: usize,
) -> (Vec<NodeSpec>, Option<RadioSite>) {
    let behaviours = scenario.behaviours(count);
    let radio_site = |k: usize| 1_000 + k as u64;
    let farm_roof = behaviours
        .iter()
        .position(|b| *b == Behaviour::Farm)
        .map(|k| site_at(honest + k).1);
    let mut replay_receiver = None;
    let mut specs = Vec::with_capacity(count);
    for (k, behaviour) in behaviours.into_iter().enumerate() {
        let (name, place) = site_at(honest + k);
        let radio_here = RadioSite {
            lat: place.0,
            lon: place.1,
            site: radio_site(k),
        };
        let (asserted, radio) = match behaviour {
            Behaviour::Honest | Behaviour::ForgeRssi { .. } | Behaviour::WitnessOnly => {
                (place, Some(radio_here))
            }
            Behaviour::Ring => (place, None),
            Behaviour::Spoof => (offset(place, 3_500.0, 2.4 * k as f64), Some(radio_here)),
            Behaviour::Farm => {
                let roof = farm_roof.unwrap_or(place);
                (
                    place,
                    Some(RadioSite {
                        lat: roof.0,
                        lon: roof.1,
                        site: 999,
                    }),
                )
            }
            Behaviour::Replay => {
                // The hidden receiver stands 2 km from the first replaying key's assertion.
                let hidden = offset(place, 2_000.0, 1.0);
                replay_receiver.get_or_insert(RadioSite {
                    lat: hidden.0,
                    lon: hidden.1,
                    site: 998,
                });
                (place, None)
            }
        };
        specs.push(NodeSpec {
            name: format!("{}-{name}", scenario_tag(behaviour)),
            asserted,
            radio,
            behaviour,
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
struct RunTotals {
    earned: BTreeMap<String, u64>,
    flagged: BTreeMap<String, BTreeMap<String, u64>>,
    rejected: BTreeMap<String, BTreeMap<String, u64>>,
    ineligible: BTreeMap<String, u64>,
    emission: u64,
}

async fn run_network(
    config: NetworkConfig,
    epochs: u64,
) -> Result<(Network, RunTotals), NetworkError> {
    let mut network = Network::start(config).await?;
    let mut totals = RunTotals {
        earned: BTreeMap::new(),
        flagged: BTreeMap::new(),
        rejected: BTreeMap::new(),
        ineligible: BTreeMap::new(),
        emission: 0,
    };
    let first = network.first_epoch();
    for epoch in first..first + epochs {
        let outcome = network.run_epoch(epoch, |_, _| {}).await?;
        totals.emission += outcome.report.emission;
        for row in &outcome.report.rewards {
            *totals.earned.entry(row.address.clone()).or_default() += row.total;
        }
        for (address, reasons) in &outcome.report.flagged {
            for reason in reasons {
                *totals
                    .flagged
                    .entry(address.clone())
                    .or_default()
                    .entry(reason.clone())
                    .or_default() += 1;
            }
        }
        for (reason, count) in &outcome.report.ineligible {
            *totals.ineligible.entry(reason.clone()).or_default() += count;
        }
        for hotspot in &outcome.hotspot_rejections {
            for (reason, count) in &hotspot.rejections {
                *totals
                    .rejected
                    .entry(hotspot.address.clone())
                    .or_default()
                    .entry(reason.clone())
                    .or_default() += count;
            }
        }
    }
    Ok((network, totals))
}

/// Runs `scenario`: the attack-free run and the attack run, in fresh stores under `data_dir`.
pub async fn run(
    scenario: Scenario,
    config: &ScenarioConfig,
    data_dir: &Path,
) -> Result<ScenarioReport, NetworkError> {
    let attackers_count = ((config.hotspots as f64 * config.attacker_fraction).round() as usize)
        .clamp(1, config.hotspots.saturating_sub(2).max(1));
    let honest = config.hotspots - attackers_count;
    let network_config = |dir: &str| {
        let mut c = NetworkConfig::new(honest, config.seed, data_dir.join(dir));
        c.link_budget = true;
        c
    };
    let (_, baseline) = run_network(network_config("attack-free"), config.epochs).await?;
    let mut attack_config = network_config("attack");
    let (specs, replay_receiver) = attackers(scenario, honest, attackers_count);
    attack_config.extra = specs;
    attack_config.replay_receiver = replay_receiver;
    let (network, attack) = run_network(attack_config, config.epochs).await?;

    let nodes = network.nodes();
    let mut attacker_earned = 0;
    let mut honest_before = 0;
    let mut honest_after = 0;
    let mut honest_lost = 0;
    let mut caught: BTreeMap<String, u64> = BTreeMap::new();
    let mut honest_flagged: BTreeMap<String, u64> = BTreeMap::new();
    let mut detail = Vec::new();
    for node in &nodes {
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
    Ok(ScenarioReport {
        scenario: scenario.name().to_string(),
        seed: config.seed,
        hotspots: nodes.len(),
        attackers: attackers_count,
        epochs: config.epochs,
        emission: attack.emission,
        attacker_share: attacker_earned as f64 / attack.emission.max(1) as f64,
        honest_loss: honest_lost as f64 / honest_before.max(1) as f64,
        honest_earned: (honest_before, honest_after),
        caught,
        honest_flagged,
        attackers_detail: detail,
    })
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
