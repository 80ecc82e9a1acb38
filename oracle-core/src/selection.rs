//! Which witnesses of a beacon are paid. The epoch close selects once, among the witnesses
//! that are eligible then (valid, not flagged, reciprocal): at most `max` of them, in the order
//! of their selection key, SHA-256(beacon remote entropy ‖ witness key). The beaconer cannot
//! steer the order (the oracle's entropy is unknown until it is published) and a witness cannot
//! improve its place by reporting faster.

use sha2::{Digest, Sha256};

/// The selection key of a witness of a beacon.
pub fn selection_key(remote_entropy: &[u8], witness: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(remote_entropy);
    hasher.update(witness);
    hasher.finalize().into()
}

/// The paid witnesses among `eligible`: the first `max` by selection key (ties, which need
/// equal keys, by their order in `eligible`), in that order.
pub fn select<T>(
    remote_entropy: &[u8],
    eligible: impl IntoIterator<Item = T>,
    witness_key: impl Fn(&T) -> [u8; 32],
    max: usize,
) -> Vec<T> {
    let mut keyed: Vec<([u8; 32], usize, T)> = eligible
        .into_iter()
        .enumerate()
        .map(|(at, w)| (selection_key(remote_entropy, &witness_key(&w)), at, w))
        .collect();
    keyed.sort_unstable_by_key(|(key, at, _)| (*key, *at));
    keyed.into_iter().take(max).map(|(_, _, w)| w).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_the_lowest_keys_up_to_max() {
        let entropy = [7u8; 32];
        let witnesses: Vec<[u8; 32]> = (0..20u8).map(|i| [i; 32]).collect();
        let chosen = select(&entropy, witnesses.clone(), |w| *w, 14);
        assert_eq!(chosen.len(), 14);
        let mut by_key = witnesses.clone();
        by_key.sort_by_key(|w| selection_key(&entropy, w));
        assert_eq!(chosen, by_key[..14]);
        // Fewer eligible than places: every one is paid.
        assert_eq!(
            select(&entropy, witnesses[..3].to_vec(), |w| *w, 14).len(),
            3
        );
        // Another beacon's entropy orders them differently.
        let other = select(&[8u8; 32], witnesses, |w| *w, 14);
        assert_ne!(other, chosen);
    }
}
