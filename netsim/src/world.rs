//! Worlds as data: where the hotspots stand, how radio waves travel between them and where a
//! scenario's attackers go, read from a TOML file (the format is in `netsim/WORLDS.md`).
//!
//! The built-in worlds are files under `netsim/worlds/`, embedded in the binary.

use crate::network::{Antenna, NetworkConfig};
use crate::terrain::Terrain;
use radio::channel::PathLoss;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// The world scenarios run in when none is named.
pub const DEFAULT_WORLD: &str = "san-francisco";

/// The built-in worlds: `(name, TOML text)`.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "san-francisco",
        include_str!("../worlds/san-francisco.toml"),
    ),
    ("suburbs", include_str!("../worlds/suburbs.toml")),
    ("rural", include_str!("../worlds/rural.toml")),
    ("valley", include_str!("../worlds/valley.toml")),
];

/// Errors of reading a world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The file could not be read.
    #[error("reading world file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not a world in TOML.
    #[error("world {origin}: {message}")]
    Syntax {
        /// Where the text came from.
        origin: String,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// The world parses but is unusable.
    #[error("world {origin}: {problem}")]
    Invalid {
        /// Where the text came from.
        origin: String,
        /// What is wrong.
        problem: String,
    },
    /// No built-in world has that name and no file has that path.
    #[error("no world named {0}: neither a built-in world ({built_in}) nor a file", built_in = built_in_names())]
    Unknown(String),
}

fn built_in_names() -> String {
    BUILT_IN
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A world: sites, propagation, the scenarios' network size and the attackers' plan.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Short name, as reports name the world.
    pub name: String,
    /// What the world is.
    #[serde(default)]
    pub description: String,
    /// How radio waves travel.
    pub propagation: Propagation,
    /// The size of a scenario's network.
    #[serde(default)]
    pub network: NetworkSize,
    /// Where the attackers of the scenarios stand and claim to stand.
    #[serde(default)]
    pub attack: AttackPlan,
    /// The sites, in the order hotspots take them.
    pub sites: Vec<Site>,
}

/// How radio waves travel in a world: log-distance path loss with log-normal shadowing, part
/// of it shared by nearby links (terrain).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Propagation {
    /// Path-loss exponent n beyond the reference distance.
    pub path_loss_exponent: f64,
    /// Reference distance, metres.
    #[serde(default = "one")]
    pub reference_m: f64,
    /// Path loss at the reference distance, dB; free-space loss there when absent.
    #[serde(default)]
    pub reference_loss_db: Option<f64>,
    /// Standard deviation of the shadowing of a link, dB.
    pub shadowing_db: f64,
    /// Distance at which the terrain's shadowing field has correlation 1/e, metres.
    #[serde(default = "default_correlation_m")]
    pub correlation_m: f64,
    /// Share of the shadowing's variance that comes from the terrain around the two ends
    /// (shared by nearby links), in [0, 1]; the rest is the link's own.
    #[serde(default)]
    pub shared_fraction: f64,
    /// Gain of an antenna per decade of height above 10 m, dB (negative below).
    #[serde(default)]
    pub height_gain_db_per_decade: f64,
}

fn one() -> f64 {
    1.0
}

fn default_correlation_m() -> f64 {
    500.0
}

/// How many hotspots a scenario's network has in a world.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSize {
    /// Hotspots in a scenario's network, attackers included; every site when absent.
    #[serde(default)]
    pub hotspots: Option<usize>,
    /// The same for the mix scenario; `hotspots` when absent.
    #[serde(default)]
    pub mix_hotspots: Option<usize>,
    /// Share of attackers among the hotspots.
    #[serde(default = "default_attacker_fraction")]
    pub attacker_fraction: f64,
}

fn default_attacker_fraction() -> f64 {
    0.1
}

impl Default for NetworkSize {
    fn default() -> Self {
        Self {
            hotspots: None,
            mix_hotspots: None,
            attacker_fraction: default_attacker_fraction(),
        }
    }
}

/// Where the attackers stand and what they claim.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttackPlan {
    /// How far from its radio a spoofer asserts its location, metres.
    #[serde(default = "default_spoof_m")]
    pub spoof_distance_m: f64,
    /// How far the replayers' hidden receiver stands from the first replaying key's
    /// assertion, metres.
    #[serde(default = "default_replay_m")]
    pub replay_receiver_distance_m: f64,
    /// The site whose roof holds the farm's radios; the first farm attacker's site when
    /// absent.
    #[serde(default)]
    pub farm_roof: Option<String>,
    /// How far from its radio a small spoofer asserts its location, metres (of twelve
    /// bearings, those whose place lies in another resolution-8 hex, the one where the oracle's
    /// density rule pays it most among the other sites).
    #[serde(default = "default_small_spoof_m")]
    pub small_spoof_distance_m: f64,
    /// Keys of the sybil island; by default 40 % of the scenario's network size, between 10
    /// and 30.
    #[serde(default)]
    pub island_keys: Option<usize>,
    /// How far beyond the world's farthest site (from its centre) the sybil island's centre
    /// lies, metres.
    #[serde(default = "default_island_m")]
    pub island_distance_m: f64,
    /// Bearing from the world's centre to the sybil island, degrees from north.
    #[serde(default = "default_island_bearing")]
    pub island_bearing_deg: f64,
    /// Spacing of the sybil island's keys on their grid, metres.
    #[serde(default = "default_island_spacing_m")]
    pub island_spacing_m: f64,
    /// Keys of the onboarding flood.
    #[serde(default = "default_flood_keys")]
    pub flood_keys: usize,
    /// Share of the flood's keys that fabricate reports (as a sybil island); the others stay
    /// silent, asserted among the honest sites.
    #[serde(default = "default_flood_active")]
    pub flood_active_fraction: f64,
}

fn default_small_spoof_m() -> f64 {
    500.0
}

fn default_island_m() -> f64 {
    40_000.0
}

fn default_island_bearing() -> f64 {
    90.0
}

fn default_island_spacing_m() -> f64 {
    600.0
}

fn default_flood_keys() -> usize {
    1_000
}

fn default_flood_active() -> f64 {
    0.05
}

fn default_spoof_m() -> f64 {
    3_500.0
}

fn default_replay_m() -> f64 {
    2_000.0
}

impl Default for AttackPlan {
    fn default() -> Self {
        Self {
            spoof_distance_m: default_spoof_m(),
            replay_receiver_distance_m: default_replay_m(),
            farm_roof: None,
            small_spoof_distance_m: default_small_spoof_m(),
            island_keys: None,
            island_distance_m: default_island_m(),
            island_bearing_deg: default_island_bearing(),
            island_spacing_m: default_island_spacing_m(),
            flood_keys: default_flood_keys(),
            flood_active_fraction: default_flood_active(),
        }
    }
}

/// Who may stand on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Only an honest hotspot.
    Honest,
    /// Only an attacker.
    Attacker,
    /// Either: honest hotspots take such sites first, attackers the ones left.
    Any,
}

/// A place where a hotspot may stand.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Place name, unique in the world.
    pub name: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Antenna height above ground, metres.
    #[serde(default = "default_height_m")]
    pub height_m: f64,
    /// Antenna gain, dBi.
    #[serde(default = "default_gain_dbi")]
    pub gain_dbi: f64,
    /// Who may stand here.
    #[serde(default = "default_role")]
    pub role: Role,
}

fn default_height_m() -> f64 {
    10.0
}

fn default_gain_dbi() -> f64 {
    3.0
}

fn default_role() -> Role {
    Role::Any
}

impl Site {
    /// The site's antenna.
    pub fn antenna(&self) -> Antenna {
        Antenna {
            gain_ddbi: (self.gain_dbi * 10.0).round() as i32,
            height_m: self.height_m,
        }
    }
}

/// Where a scenario's honest hotspots and attackers stand.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement<'a> {
    /// The honest hotspots' sites, in order.
    pub honest: Vec<&'a Site>,
    /// The attackers' sites, in order.
    pub attackers: Vec<&'a Site>,
}

impl World {
    /// Parses a world from TOML `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, WorldError> {
        let world: World = toml::from_str(text).map_err(|error| WorldError::Syntax {
            origin: origin.to_string(),
            message: error.to_string().trim_end().to_string(),
        })?;
        world.validate().map_err(|problem| WorldError::Invalid {
            origin: origin.to_string(),
            problem,
        })?;
        Ok(world)
    }

    /// The built-in world `name`.
    pub fn built_in(name: &str) -> Result<Self, WorldError> {
        let (_, text) = BUILT_IN
            .iter()
            .find(|(known, _)| *known == name)
            .ok_or_else(|| WorldError::Unknown(name.to_string()))?;
        Self::parse(text, name)
    }

    /// Every built-in world, in [`BUILT_IN`] order.
    pub fn all_built_in() -> Result<Vec<Self>, WorldError> {
        BUILT_IN
            .iter()
            .map(|(name, _)| Self::built_in(name))
            .collect()
    }

    /// The world from the file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, WorldError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// A built-in world by name, or else the world in the file at that path.
    pub fn load(name_or_path: &str) -> Result<Self, WorldError> {
        if BUILT_IN.iter().any(|(name, _)| *name == name_or_path) {
            return Self::built_in(name_or_path);
        }
        let path = Path::new(name_or_path);
        if path.exists() {
            return Self::from_file(path);
        }
        Err(WorldError::Unknown(name_or_path.to_string()))
    }

    /// Hotspots in a scenario's network (attackers included); `mix` for the mix scenario.
    pub fn scenario_hotspots(&self, mix: bool) -> usize {
        let plain = self.network.hotspots.unwrap_or(self.sites.len());
        if mix {
            self.network.mix_hotspots.unwrap_or(plain)
        } else {
            plain
        }
    }

    /// Attackers among `hotspots`: the world's attacker fraction of them, at least one, and
    /// at least two honest hotspots left.
    pub fn attackers_among(&self, hotspots: usize) -> usize {
        ((hotspots as f64 * self.network.attacker_fraction).round() as usize)
            .clamp(1, hotspots.saturating_sub(2).max(1))
    }

    /// Where `honest` honest hotspots and `attackers` attackers stand: the honest ones on the
    /// first sites open to them (role `honest` or `any`), the attackers on the first sites
    /// open to them (`attacker` or `any`) that no honest hotspot took.
    pub fn placement(&self, honest: usize, attackers: usize) -> Result<Placement<'_>, String> {
        let honest_sites: Vec<&Site> = self
            .sites
            .iter()
            .filter(|site| site.role != Role::Attacker)
            .take(honest)
            .collect();
        if honest_sites.len() < honest {
            return Err(format!(
                "{honest} honest hotspots need as many sites with role honest or any; the world has {}",
                honest_sites.len()
            ));
        }
        let taken: BTreeSet<&str> = honest_sites.iter().map(|s| s.name.as_str()).collect();
        let attacker_sites: Vec<&Site> = self
            .sites
            .iter()
            .filter(|site| site.role != Role::Honest && !taken.contains(site.name.as_str()))
            .take(attackers)
            .collect();
        if attacker_sites.len() < attackers {
            return Err(format!(
                "{attackers} attackers need as many free sites with role attacker or any; the world has {}",
                attacker_sites.len()
            ));
        }
        Ok(Placement {
            honest: honest_sites,
            attackers: attacker_sites,
        })
    }

    /// The site named `name`.
    pub fn site(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|site| site.name == name)
    }

    /// The largest distance from [`World::centre`] to a site, metres.
    pub fn radius_m(&self) -> f64 {
        let centre = self.centre();
        self.sites
            .iter()
            .map(|s| h3_coverage::distance_between_m(centre, (s.lat, s.lon)))
            .fold(0.0, f64::max)
    }

    /// The mean position of the sites, where the terrain's grid is anchored.
    pub fn centre(&self) -> (f64, f64) {
        let n = self.sites.len().max(1) as f64;
        let lat = self.sites.iter().map(|s| s.lat).sum::<f64>() / n;
        let lon = self.sites.iter().map(|s| s.lon).sum::<f64>() / n;
        (lat, lon)
    }

    /// Sets `config`'s propagation and honest sites to this world's, for a network of the
    /// honest hotspots at `honest`.
    pub fn apply(&self, config: &mut NetworkConfig, honest: &[&Site]) {
        let p = &self.propagation;
        config.path_loss = PathLoss::LogDistance {
            exponent: p.path_loss_exponent,
            reference_m: p.reference_m,
        };
        config.reference_loss_db = p.reference_loss_db;
        config.shadowing_db = p.shadowing_db;
        config.terrain = Terrain {
            correlation_m: p.correlation_m,
            shared_fraction: p.shared_fraction,
            origin: self.centre(),
        };
        config.height_gain_db_per_decade = p.height_gain_db_per_decade;
        config.hotspots = honest.len();
        config.sites = honest
            .iter()
            .map(|site| (site.name.clone(), site.lat, site.lon))
            .collect();
        config.antennas = honest.iter().map(|site| site.antenna()).collect();
    }

    /// Checks every value; the problem as a sentence.
    fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name is empty".into());
        }
        self.propagation.validate()?;
        let mut names = BTreeSet::new();
        for (index, site) in self.sites.iter().enumerate() {
            site.validate()
                .map_err(|problem| format!("site {index} ({}): {problem}", site.name))?;
            if !names.insert(site.name.as_str()) {
                return Err(format!("site name {} appears twice", site.name));
            }
        }
        if self.sites.len() < 3 {
            return Err(format!(
                "{} sites: a world needs at least 3",
                self.sites.len()
            ));
        }
        let fraction = self.network.attacker_fraction;
        if !(fraction > 0.0 && fraction <= 0.5) {
            return Err(format!(
                "network.attacker_fraction {fraction} is not in (0, 0.5]"
            ));
        }
        for mix in [false, true] {
            let hotspots = self.scenario_hotspots(mix);
            let field = if mix { "mix_hotspots" } else { "hotspots" };
            if hotspots < 3 {
                return Err(format!("network.{field} {hotspots}: at least 3"));
            }
            let attackers = self.attackers_among(hotspots);
            self.placement(hotspots - attackers, attackers)
                .map_err(|problem| format!("network.{field} {hotspots}: {problem}"))?;
        }
        self.attack.validate(self)
    }
}

/// `Err(message)` unless `value` is finite and in `range`.
fn check_range(what: &str, value: f64, range: std::ops::RangeInclusive<f64>) -> Result<(), String> {
    if value.is_finite() && range.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{what} {value} is not in [{}, {}]",
            range.start(),
            range.end()
        ))
    }
}

impl Propagation {
    fn validate(&self) -> Result<(), String> {
        check_range(
            "propagation.path_loss_exponent",
            self.path_loss_exponent,
            1.5..=6.0,
        )?;
        check_range("propagation.reference_m", self.reference_m, 0.1..=1_000.0)?;
        if let Some(loss) = self.reference_loss_db {
            check_range("propagation.reference_loss_db", loss, 0.0..=200.0)?;
        }
        check_range("propagation.shadowing_db", self.shadowing_db, 0.0..=20.0)?;
        check_range(
            "propagation.correlation_m",
            self.correlation_m,
            1.0..=100_000.0,
        )?;
        check_range(
            "propagation.shared_fraction",
            self.shared_fraction,
            0.0..=1.0,
        )?;
        check_range(
            "propagation.height_gain_db_per_decade",
            self.height_gain_db_per_decade,
            -20.0..=20.0,
        )
    }
}

impl Site {
    fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name is empty".into());
        }
        check_range("lat", self.lat, -85.0..=85.0)?;
        check_range("lon", self.lon, -180.0..=180.0)?;
        check_range("height_m", self.height_m, 0.5..=500.0)?;
        check_range("gain_dbi", self.gain_dbi, -5.0..=15.0)
    }
}

impl AttackPlan {
    fn validate(&self, world: &World) -> Result<(), String> {
        check_range(
            "attack.spoof_distance_m",
            self.spoof_distance_m,
            0.0..=1_000_000.0,
        )?;
        check_range(
            "attack.replay_receiver_distance_m",
            self.replay_receiver_distance_m,
            0.0..=1_000_000.0,
        )?;
        if let Some(roof) = &self.farm_roof {
            if world.site(roof).is_none() {
                return Err(format!("attack.farm_roof names no site: {roof}"));
            }
        }
        check_range(
            "attack.small_spoof_distance_m",
            self.small_spoof_distance_m,
            0.0..=100_000.0,
        )?;
        if let Some(keys) = self.island_keys {
            check_range("attack.island_keys", keys as f64, 2.0..=1_000.0)?;
        }
        check_range(
            "attack.island_distance_m",
            self.island_distance_m,
            0.0..=1_000_000.0,
        )?;
        check_range(
            "attack.island_bearing_deg",
            self.island_bearing_deg,
            0.0..=360.0,
        )?;
        check_range(
            "attack.island_spacing_m",
            self.island_spacing_m,
            10.0..=10_000.0,
        )?;
        check_range("attack.flood_keys", self.flood_keys as f64, 1.0..=100_000.0)?;
        check_range(
            "attack.flood_active_fraction",
            self.flood_active_fraction,
            0.0..=1.0,
        )
    }

    /// Keys of the sybil island in a network of `hotspots` (honest and attackers).
    pub fn island_size(&self, hotspots: usize) -> usize {
        self.island_keys
            .unwrap_or_else(|| ((hotspots as f64 * 0.4).round() as usize).clamp(10, 30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_worlds_parse_with_30_to_300_sites() {
        for world in World::all_built_in().unwrap() {
            assert!(
                (30..=300).contains(&world.sites.len()),
                "{}: {} sites",
                world.name,
                world.sites.len()
            );
            let p = &world.propagation;
            assert!(
                (2.7..=4.0).contains(&p.path_loss_exponent),
                "{}",
                world.name
            );
            assert!((4.0..=10.0).contains(&p.shadowing_db), "{}", world.name);
        }
    }

    #[test]
    fn the_default_world_is_the_city_map() {
        let world = World::built_in(DEFAULT_WORLD).unwrap();
        assert_eq!(world.scenario_hotspots(false), 30);
        assert_eq!(world.scenario_hotspots(true), 80);
        for (index, site) in world.sites.iter().enumerate() {
            let (name, lat, lon) = crate::city::site(index);
            assert_eq!(
                (site.name.as_str(), site.lat, site.lon),
                (name.as_str(), lat, lon)
            );
            assert_eq!(
                site.antenna(),
                Antenna {
                    gain_ddbi: 30,
                    height_m: 10.0
                }
            );
        }
        assert_eq!(world.propagation.shared_fraction, 0.0);
    }

    #[test]
    fn placement_follows_roles() {
        let world = World::built_in("suburbs").unwrap();
        let hotspots = world.scenario_hotspots(false);
        let attackers = world.attackers_among(hotspots);
        let placement = world.placement(hotspots - attackers, attackers).unwrap();
        assert!(placement.honest.iter().all(|s| s.role != Role::Attacker));
        assert!(placement.attackers.iter().all(|s| s.role != Role::Honest));
    }

    fn error_of(text: &str) -> String {
        World::parse(text, "test.toml").unwrap_err().to_string()
    }

    const MINIMAL: &str =
        "name = \"t\"\n[propagation]\npath_loss_exponent = 3.0\nshadowing_db = 6.0\n";

    fn sites(n: usize) -> String {
        (0..n)
            .map(|i| {
                format!(
                    "[[sites]]\nname = \"s{i}\"\nlat = {}\nlon = 10.0\n",
                    50.0 + i as f64 * 0.01
                )
            })
            .collect()
    }

    #[test]
    fn a_minimal_world_parses() {
        let world = World::parse(&format!("{MINIMAL}{}", sites(10)), "t").unwrap();
        assert_eq!(world.scenario_hotspots(false), 10);
        assert_eq!(world.attackers_among(10), 1);
    }

    #[test]
    fn malformed_worlds_name_the_problem() {
        assert!(error_of("name = ").contains("test.toml"));
        let unknown = error_of(&format!("{MINIMAL}colour = 1\n{}", sites(5)));
        assert!(unknown.contains("colour"), "{unknown}");
        let missing = error_of(&format!("name = \"t\"\n{}", sites(5)));
        assert!(missing.contains("propagation"), "{missing}");
        let lat = error_of(&format!(
            "{MINIMAL}{}[[sites]]\nname = \"x\"\nlat = 95.0\nlon = 0.0\n",
            sites(5)
        ));
        assert!(lat.contains("site 5 (x): lat 95"), "{lat}");
        let twice = error_of(&format!("{MINIMAL}{}{}", sites(5), sites(1)));
        assert!(twice.contains("s0 appears twice"), "{twice}");
        let exponent = error_of(&format!(
            "name = \"t\"\n[propagation]\npath_loss_exponent = -1.0\nshadowing_db = 6.0\n{}",
            sites(5)
        ));
        assert!(exponent.contains("path_loss_exponent -1"), "{exponent}");
        let too_many = error_of(&format!("{MINIMAL}[network]\nhotspots = 50\n{}", sites(5)));
        assert!(too_many.contains("network.hotspots 50"), "{too_many}");
        let roof = error_of(&format!(
            "{MINIMAL}[attack]\nfarm_roof = \"nowhere\"\n{}",
            sites(5)
        ));
        assert!(roof.contains("nowhere"), "{roof}");
        let role = error_of(&format!("{MINIMAL}{}role = \"villain\"\n", sites(5)));
        assert!(role.contains("villain"), "{role}");
    }

    #[test]
    fn unknown_names_list_the_built_in_worlds() {
        let error = World::load("atlantis").unwrap_err().to_string();
        assert!(
            error.contains("atlantis") && error.contains("san-francisco"),
            "{error}"
        );
    }
}
