//! Coverage that nobody independent corroborates earns at a reduced rate.
//!
//! Physics cannot tell a consistent island of fabricated hotspots, asserted where no honest
//! radio listens and reporting each other with exactly the path law the defences fit, from a
//! genuine cluster of hotspots nobody else hears. What can be decided is whether the island is
//! tied to the rest of the network. Corroboration starts at the network's anchors (hotspots the
//! operators name: founding or audited gateways) and spreads along the epoch's valid reports:
//! a hotspot is corroborated once its beacons were heard (valid witness reports) by
//! corroborated hotspots of at least `min_links` owners other than its own. Only being heard
//! counts: a witness report is a claim its sender can make without a radio (a ring's, or a
//! relay's colluders repeating what one real radio decoded), while a beacon heard by
//! independent corroborated listeners proves a transmitter near them. Everything else earns its
//! units times `uncorroborated_rate`. One bridge radio near the network therefore does not
//! carry a whole island with it: each island key must be heard by `min_links` independently
//! owned corroborated hotspots.

use crate::config::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

type Key = [u8; 32];

/// The corroboration rule (`[corroboration]`); no anchors turns it off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorroborationConfig {
    /// Addresses of the anchors, corroborated by definition; empty: every hotspot counts as
    /// corroborated.
    pub anchors: Vec<String>,
    /// Fewest corroborated neighbours, of distinct owners other than the hotspot's own, that
    /// corroborate a hotspot.
    pub min_links: usize,
    /// Factor applied to the beacon and witness units of an uncorroborated hotspot, in [0, 1].
    pub uncorroborated_rate: f64,
}

impl Default for CorroborationConfig {
    fn default() -> Self {
        Self {
            anchors: Vec::new(),
            min_links: 2,
            uncorroborated_rate: 0.0,
        }
    }
}

impl CorroborationConfig {
    /// The anchors' keys; an address that does not parse is a configuration error.
    pub fn anchor_keys(&self) -> Result<BTreeSet<Key>, ConfigError> {
        self.anchors
            .iter()
            .map(|text| {
                text.parse::<poc::Address>()
                    .map(|address| address.0)
                    .map_err(|e| ConfigError::Invalid(format!("corroboration.anchors {text}: {e}")))
            })
            .collect()
    }

    /// Checks the rate, the link count and the anchors.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.uncorroborated_rate) || self.min_links == 0 {
            return Err(ConfigError::Invalid(
                "corroboration.uncorroborated_rate must be in [0, 1] and min_links positive".into(),
            ));
        }
        self.anchor_keys().map(|_| ())
    }
}

/// The hotspots corroborated by `links` (`(beaconer, witness)`: the witness filed a valid
/// report of the beaconer's beacon) from `anchors`: the anchors, and every hotspot heard by
/// corroborated hotspots of at least `min_links` distinct owners other than its own (`owners`;
/// a hotspot without an owner is its own). The result does not depend on the order of `links`.
pub fn corroborated(
    links: impl IntoIterator<Item = (Key, Key)>,
    anchors: &BTreeSet<Key>,
    owners: &HashMap<Key, Key>,
    min_links: usize,
) -> HashSet<Key> {
    // For each listener, the beaconers it heard.
    let mut neighbours: HashMap<Key, BTreeSet<Key>> = HashMap::new();
    for (beaconer, witness) in links.into_iter().filter(|(a, b)| a != b) {
        neighbours.entry(witness).or_default().insert(beaconer);
    }
    let owner = |key: &Key| *owners.get(key).unwrap_or(key);
    let mut done: HashSet<Key> = anchors.iter().copied().collect();
    let mut vouchers: HashMap<Key, HashSet<Key>> = HashMap::new();
    let mut queue: VecDeque<Key> = anchors.iter().copied().collect();
    while let Some(key) = queue.pop_front() {
        let Some(around) = neighbours.get(&key) else {
            continue;
        };
        for next in around {
            if done.contains(next) || owner(next) == owner(&key) {
                continue;
            }
            let owners_vouching = vouchers.entry(*next).or_default();
            owners_vouching.insert(owner(&key));
            if owners_vouching.len() >= min_links {
                done.insert(*next);
                queue.push_back(*next);
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: u8) -> Key {
        [n; 32]
    }

    /// Every one of `nodes` hears every other.
    fn ring(nodes: &[u8]) -> Vec<(Key, Key)> {
        let mut links = Vec::new();
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                links.push((k(*a), k(*b)));
                links.push((k(*b), k(*a)));
            }
        }
        links
    }

    #[test]
    fn an_island_tied_by_one_bridge_stays_uncorroborated() {
        // The network: anchors 1 and 2, hotspots 3..=6, all linked to each other.
        let mut links = ring(&[1, 2, 3, 4, 5, 6]);
        // An island 20..=29, linked among itself, and one bridge (20) to the network.
        links.extend(ring(&[20, 21, 22, 23, 24, 25, 26, 27, 28, 29]));
        links.push((k(20), k(3)));
        links.push((k(20), k(4)));
        let anchors = [k(1), k(2)].into_iter().collect();
        let done = corroborated(links.clone(), &anchors, &HashMap::new(), 2);
        assert!((1..=6).all(|n| done.contains(&k(n))));
        assert!(done.contains(&k(20)), "two of the network hear the bridge");
        assert!((21..=29).all(|n| !done.contains(&k(n))));
        // Reversed input, same answer.
        let reversed: Vec<_> = links.iter().rev().copied().collect();
        assert_eq!(corroborated(reversed, &anchors, &HashMap::new(), 2), done);
    }

    #[test]
    fn hearing_the_network_is_not_being_heard_by_it() {
        // 30 files witness reports of both anchors' beacons, but nobody hears 30.
        let mut links = ring(&[1, 2, 3]);
        links.push((k(1), k(30)));
        links.push((k(2), k(30)));
        let anchors = [k(1), k(2)].into_iter().collect();
        let done = corroborated(links.clone(), &anchors, &HashMap::new(), 2);
        assert!(done.contains(&k(3)) && !done.contains(&k(30)), "{done:?}");
        links.push((k(30), k(1)));
        links.push((k(30), k(3)));
        let done = corroborated(links, &anchors, &HashMap::new(), 2);
        assert!(done.contains(&k(30)), "heard by an anchor and by 3");
    }

    #[test]
    fn links_between_hotspots_of_one_owner_do_not_corroborate() {
        let links = ring(&[1, 2, 3]);
        let anchors = [k(1), k(2)].into_iter().collect();
        let owners: HashMap<Key, Key> = [(k(1), k(9)), (k(2), k(9)), (k(3), k(8))].into();
        // 3 hears both anchors, but they have one owner.
        assert!(!corroborated(links.clone(), &anchors, &owners, 2).contains(&k(3)));
        assert!(corroborated(links, &anchors, &HashMap::new(), 2).contains(&k(3)));
    }

    #[test]
    fn no_anchor_active_corroborates_nobody_else() {
        let links = ring(&[3, 4, 5]);
        let anchors = [k(1)].into_iter().collect();
        let done = corroborated(links, &anchors, &HashMap::new(), 1);
        assert_eq!(done, [k(1)].into_iter().collect());
    }

    #[test]
    fn configuration_is_checked() {
        assert!(CorroborationConfig::default().validate().is_ok());
        let rate = CorroborationConfig {
            uncorroborated_rate: 1.5,
            ..Default::default()
        };
        assert!(rate.validate().is_err());
        let anchor = CorroborationConfig {
            anchors: vec!["not-an-address".into()],
            ..Default::default()
        };
        assert!(anchor.validate().is_err());
        let address = poc::Keypair::from_seed(1, 1).address().to_string();
        let good = CorroborationConfig {
            anchors: vec![address],
            ..Default::default()
        };
        assert_eq!(good.anchor_keys().unwrap().len(), 1);
    }
}
