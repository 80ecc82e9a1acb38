//! Suspicion that persists across epochs and decays: a hotspot the epoch-wide defences flagged
//! stays suspected for the following epochs, so that cheating every other epoch is not paid
//! every other epoch.
//!
//! A hotspot's suspicion at the start of epoch `e` is Σ `decay`^(e − k) over the earlier
//! epochs `k` (at most `suspicion_epochs` back) in which a defence flagged it. A hotspot whose
//! suspicion reaches `suspicion_threshold` is flagged `suspected` for the epoch: it earns
//! nothing, as a flagged one does. With the defaults (decay 0.7, threshold 0.5) a flag costs
//! the next epoch too; two flags two epochs apart (0.49 + 0.24) cost the one after as well.
//! Only the defences' own flags count as evidence, never an earlier `suspected`, so suspicion
//! always fades once the flags stop.

use crate::defences::{DefenceConfig, Flags};
use crate::reason::RewardReason;
use std::collections::{BTreeMap, BTreeSet};

/// The defences' flags of earlier epochs: by epoch, the hotspots flagged in it.
pub type FlagHistory = BTreeMap<u64, BTreeSet<[u8; 32]>>;

/// Each hotspot's suspicion at the start of `epoch`, over the flags of the
/// `suspicion_epochs` epochs before it; hotspots never flagged in them are absent.
pub fn suspicion(
    history: &FlagHistory,
    epoch: u64,
    config: &DefenceConfig,
) -> BTreeMap<[u8; 32], f64> {
    let first = epoch.saturating_sub(u64::from(config.suspicion_epochs));
    let mut scores = BTreeMap::new();
    for (&flagged_in, keys) in history.range(first..epoch) {
        let age = (epoch - flagged_in) as i32;
        let weight = config.suspicion_decay.powi(age);
        for key in keys {
            *scores.entry(*key).or_insert(0.0) += weight;
        }
    }
    scores
}

/// Adds `suspected` to the flags of every hotspot whose suspicion at the start of `epoch`
/// reaches the threshold. Returns how many were suspected.
pub fn flag_suspected(
    flags: &mut Flags,
    history: &FlagHistory,
    epoch: u64,
    config: &DefenceConfig,
) -> usize {
    let mut suspected = 0;
    for (key, score) in suspicion(history, epoch, config) {
        if score >= config.suspicion_threshold {
            flags
                .entry(key)
                .or_default()
                .insert(RewardReason::Suspected);
            suspected += 1;
        }
    }
    suspected
}

/// The defences' flags of an epoch report (its `flagged` map, by address and reason code),
/// without `suspected`, as the evidence [`suspicion`] reads.
pub fn evidence_of<'a>(
    flagged: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
) -> BTreeSet<[u8; 32]> {
    flagged
        .into_iter()
        .filter(|(_, codes)| {
            codes
                .iter()
                .any(|code| code != RewardReason::Suspected.code())
        })
        .filter_map(|(address, _)| address.parse::<poc::Address>().ok())
        .map(|address| address.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [1; 32];
    const B: [u8; 32] = [2; 32];

    fn history(entries: &[(u64, &[[u8; 32]])]) -> FlagHistory {
        entries
            .iter()
            .map(|(epoch, keys)| (*epoch, keys.iter().copied().collect()))
            .collect()
    }

    fn suspected(history: &FlagHistory, epoch: u64) -> BTreeSet<[u8; 32]> {
        let mut flags = Flags::new();
        flag_suspected(&mut flags, history, epoch, &DefenceConfig::default());
        flags.into_keys().collect()
    }

    #[test]
    fn a_flag_costs_the_next_epoch_and_then_fades() {
        let h = history(&[(10, &[A])]);
        assert_eq!(suspected(&h, 11), BTreeSet::from([A]));
        assert!(suspected(&h, 12).is_empty());
        assert!(
            suspected(&h, 10).is_empty(),
            "never the epoch of the flag itself"
        );
    }

    #[test]
    fn cheating_every_other_epoch_is_never_paid() {
        // Flagged in the even epochs it cheats in; suspected in every odd one.
        let mut h = FlagHistory::new();
        for epoch in (0..20).step_by(2) {
            h.insert(epoch, BTreeSet::from([A]));
            assert_eq!(suspected(&h, epoch + 1), BTreeSet::from([A]));
        }
    }

    #[test]
    fn repeated_flags_last_longer_and_old_ones_drop_out() {
        let h = history(&[(10, &[A, B]), (12, &[A])]);
        assert_eq!(suspected(&h, 14), BTreeSet::from([A]), "0.49 + 0.24");
        let scores = suspicion(&h, 30, &DefenceConfig::default());
        assert!(scores.is_empty(), "beyond suspicion_epochs");
    }

    #[test]
    fn only_the_defences_flags_are_evidence() {
        let flagged: BTreeMap<String, Vec<String>> = [
            (
                poc::Address(A).to_string(),
                vec!["implausible_links".to_string()],
            ),
            (poc::Address(B).to_string(), vec!["suspected".to_string()]),
        ]
        .into();
        assert_eq!(evidence_of(&flagged), BTreeSet::from([A]));
    }
}
