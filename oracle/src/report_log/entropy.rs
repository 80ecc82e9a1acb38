//! The rounds of shared entropy ([`poc::entropy`]) as a follower of the report log applies
//! them: commitments and reveals in, each round's contributors and entropy out. Pure: the
//! outcome depends only on the entries applied, in their order, and the log's time, so every
//! operator reaches the same entropy at the same entry.
//!
//! Round `r` takes commitments while the log's time is in rounds `r - 1` to `r + 2` (a round
//! lasts `period_ms`), and is over once the log's time passes round `r + 2`. Its contributors
//! are the first `threshold` operators whose commitments arrive; later ones are ignored. Once
//! every contributor has revealed a secret matching its commitment, the round's entropy is
//! made. A contributor that has not revealed when the round is over may not contribute to the
//! next [`BENCH_ROUNDS`] rounds, so an operator that keeps withholding cannot keep every
//! round from ending with entropy.

use poc::entropy::{commitment, shared_data};
use poc::proto;
use poc::Signable;
use serde::{Deserialize, Serialize};

/// How many rounds after a round it left without its reveal an operator may not contribute.
pub(crate) const BENCH_ROUNDS: u64 = 10;

type Key = [u8; 32];

/// How rounds are timed and how many operators contribute to each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoundRules {
    /// The length of a round in the log's time.
    pub period_ms: u64,
    /// The contributors of a round: the operators' threshold.
    pub threshold: usize,
}

impl RoundRules {
    /// The round the log's time `time_ms` is in.
    pub fn round_at(&self, time_ms: u64) -> u64 {
        time_ms / self.period_ms.max(1)
    }
}

/// The rounds in progress, as the log's follower keeps them between entries (stored with its
/// position, so that a restarted operator goes on where it stopped).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EntropyRounds {
    open: Vec<Round>,
    /// Rounds that ended with entropy and may still see a late commitment.
    finished: Vec<u64>,
    /// Operators that withheld a reveal, with the last round they may not contribute to.
    benched: Vec<(Key, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Round {
    number: u64,
    /// Contributors and their commitments, in the log's order.
    commits: Vec<(Key, Key)>,
    /// Revealed secrets with their signatures.
    shares: Vec<(Key, Vec<u8>, Vec<u8>)>,
}

impl EntropyRounds {
    /// Applies `operator`'s commitment at the log's time `time_ms`. Returns the round's
    /// contributors, in order, when this commitment completed them.
    pub fn commit(
        &mut self,
        rules: RoundRules,
        time_ms: u64,
        operator: Key,
        entry: &proto::EntropyCommit,
    ) -> Option<Vec<Key>> {
        self.expire(rules, time_ms);
        let current = rules.round_at(time_ms);
        let number = entry.round;
        let in_window = number + 1 >= current && number <= current + 2;
        if !in_window || self.finished.contains(&number) || self.is_benched(operator, number) {
            return None;
        }
        let hash = Key::try_from(entry.commitment.as_slice()).ok()?;
        let round = self.round_mut(number);
        let taken = round.commits.iter().any(|(o, _)| *o == operator);
        if taken || round.commits.len() >= rules.threshold {
            return None;
        }
        round.commits.push((operator, hash));
        (round.commits.len() == rules.threshold)
            .then(|| round.commits.iter().map(|(o, _)| *o).collect())
    }

    /// Applies `operator`'s reveal at the log's time `time_ms`. Returns the round's entropy
    /// (stamped `time_ms`, unsigned, with every contribution) when this was the last reveal.
    pub fn reveal(
        &mut self,
        rules: RoundRules,
        time_ms: u64,
        operator: Key,
        entry: &proto::EntropyReveal,
    ) -> Option<proto::Entropy> {
        self.expire(rules, time_ms);
        if entry.operator_key != operator || entry.verify().is_err() {
            return None;
        }
        let index = self.open.iter().position(|r| r.number == entry.round)?;
        let round = &mut self.open[index];
        if round.commits.len() < rules.threshold {
            return None;
        }
        let (_, hash) = round.commits.iter().find(|(o, _)| *o == operator)?;
        let revealed = round.shares.iter().any(|(o, _, _)| *o == operator);
        if revealed || commitment(&entry.secret) != *hash {
            return None;
        }
        round
            .shares
            .push((operator, entry.secret.clone(), entry.signature.clone()));
        if round.shares.len() < round.commits.len() {
            return None;
        }
        let round = self.open.remove(index);
        self.finished.push(round.number);
        Some(round.entropy(time_ms))
    }

    fn round_mut(&mut self, number: u64) -> &mut Round {
        let index = match self.open.binary_search_by_key(&number, |r| r.number) {
            Ok(index) => index,
            Err(index) => {
                let round = Round {
                    number,
                    commits: Vec::new(),
                    shares: Vec::new(),
                };
                self.open.insert(index, round);
                index
            }
        };
        &mut self.open[index]
    }

    fn is_benched(&self, operator: Key, round: u64) -> bool {
        self.benched
            .iter()
            .any(|(o, until)| *o == operator && round <= *until)
    }

    /// Ends the rounds the log's time has passed: their contributors that did not reveal are
    /// benched. What is pruned could no longer change an outcome.
    fn expire(&mut self, rules: RoundRules, time_ms: u64) {
        let current = rules.round_at(time_ms);
        let oldest = current.saturating_sub(2);
        let (over, open): (Vec<Round>, Vec<Round>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|r| r.number < oldest);
        self.open = open;
        for round in over.iter().filter(|r| r.commits.len() >= rules.threshold) {
            for (operator, _) in &round.commits {
                if !round.shares.iter().any(|(o, _, _)| o == operator) {
                    self.benched
                        .push((*operator, round.number + 2 + BENCH_ROUNDS));
                }
            }
        }
        self.finished.retain(|&n| n + 1 >= oldest);
        self.benched.retain(|(_, until)| until + 1 >= oldest);
    }
}

impl Round {
    fn entropy(&self, time_ms: u64) -> proto::Entropy {
        let shares: Vec<proto::EntropyReveal> = self
            .commits
            .iter()
            .filter_map(|(operator, _)| self.shares.iter().find(|(o, _, _)| o == operator))
            .map(|(operator, secret, signature)| proto::EntropyReveal {
                round: self.number,
                secret: secret.clone(),
                operator_key: operator.to_vec(),
                signature: signature.clone(),
            })
            .collect();
        proto::Entropy {
            data: shared_data(self.number, &shares),
            timestamp_ms: time_ms,
            oracle_key: Vec::new(),
            signature: Vec::new(),
            round: self.number,
            shares,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poc::entropy::{check_shared, reveal, secret};
    use poc::Keypair;

    const RULES: RoundRules = RoundRules {
        period_ms: 1_000,
        threshold: 2,
    };

    fn keys() -> Vec<Keypair> {
        (0..3).map(|i| Keypair::from_seed(11, i)).collect()
    }

    fn commit_of(key: &Keypair, round: u64) -> proto::EntropyCommit {
        proto::EntropyCommit {
            round,
            commitment: commitment(&secret(key, "log", round)).to_vec(),
        }
    }

    fn reveal_of(key: &Keypair, round: u64) -> proto::EntropyReveal {
        reveal(key, round, secret(key, "log", round))
    }

    #[test]
    fn the_first_threshold_commitments_fix_the_contributors_and_their_reveals_the_entropy() {
        let k = keys();
        let mut rounds = EntropyRounds::default();
        let t = 5_500;
        assert_eq!(
            rounds.commit(RULES, t, k[2].public_key(), &commit_of(&k[2], 6)),
            None
        );
        let fixed = rounds.commit(RULES, t, k[0].public_key(), &commit_of(&k[0], 6));
        assert_eq!(fixed, Some(vec![k[2].public_key(), k[0].public_key()]));
        // A third commitment comes too late to contribute, and its reveal counts for nothing.
        assert_eq!(
            rounds.commit(RULES, t, k[1].public_key(), &commit_of(&k[1], 6)),
            None
        );
        assert_eq!(
            rounds.reveal(RULES, t, k[1].public_key(), &reveal_of(&k[1], 6)),
            None
        );
        assert_eq!(
            rounds.reveal(RULES, t, k[0].public_key(), &reveal_of(&k[0], 6)),
            None
        );
        let entropy = rounds
            .reveal(RULES, t + 1, k[2].public_key(), &reveal_of(&k[2], 6))
            .expect("the last reveal makes the entropy");
        assert_eq!(entropy.timestamp_ms, t + 1);
        let order: Vec<_> = entropy
            .shares
            .iter()
            .map(|s| s.operator_key.clone())
            .collect();
        assert_eq!(
            order,
            vec![k[2].public_key().to_vec(), k[0].public_key().to_vec()]
        );
        let operators: Vec<_> = k.iter().map(Keypair::public_key).collect();
        assert_eq!(check_shared(&entropy, &operators, 2), Ok(()));
        // The round is over: a late commitment does not open it again.
        assert_eq!(
            rounds.commit(RULES, t, k[1].public_key(), &commit_of(&k[1], 6)),
            None
        );
    }

    #[test]
    fn a_reveal_that_does_not_match_its_commitment_or_its_signer_is_ignored() {
        let k = keys();
        let mut rounds = EntropyRounds::default();
        rounds.commit(RULES, 0, k[0].public_key(), &commit_of(&k[0], 1));
        rounds.commit(RULES, 0, k[1].public_key(), &commit_of(&k[1], 1));
        let wrong_secret = reveal(&k[0], 1, [9; 32]);
        assert_eq!(
            rounds.reveal(RULES, 0, k[0].public_key(), &wrong_secret),
            None
        );
        let mut forged = reveal_of(&k[0], 1);
        forged.signature[0] ^= 1;
        assert_eq!(rounds.reveal(RULES, 0, k[0].public_key(), &forged), None);
        // Published by another operator than the one whose reveal it is.
        assert_eq!(
            rounds.reveal(RULES, 0, k[1].public_key(), &reveal_of(&k[0], 1)),
            None
        );
        assert_eq!(
            rounds.reveal(RULES, 0, k[1].public_key(), &reveal_of(&k[1], 1)),
            None
        );
        assert!(rounds
            .reveal(RULES, 0, k[0].public_key(), &reveal_of(&k[0], 1))
            .is_some());
    }

    #[test]
    fn commitments_outside_the_window_are_ignored() {
        let k = keys();
        let mut rounds = EntropyRounds::default();
        let t = 10_000; // round 10: rounds 9 to 12 take commitments
        for (round, taken) in [(8, false), (9, true), (12, true), (13, false)] {
            rounds.commit(RULES, t, k[0].public_key(), &commit_of(&k[0], round));
            let closed = rounds.commit(RULES, t, k[1].public_key(), &commit_of(&k[1], round));
            assert_eq!(closed.is_some(), taken, "round {round}");
        }
    }

    #[test]
    fn a_contributor_that_withholds_is_benched_and_the_others_go_on() {
        let k = keys();
        let mut rounds = EntropyRounds::default();
        rounds.commit(RULES, 0, k[0].public_key(), &commit_of(&k[0], 1));
        rounds.commit(RULES, 0, k[1].public_key(), &commit_of(&k[1], 1));
        rounds.reveal(RULES, 0, k[1].public_key(), &reveal_of(&k[1], 1));
        // Round 1 is over once the log's time passes round 3; k[0] never revealed.
        let t = 4_000;
        let round = 5;
        assert_eq!(
            rounds.commit(RULES, t, k[0].public_key(), &commit_of(&k[0], round)),
            None
        );
        assert_eq!(
            rounds.commit(RULES, t, k[1].public_key(), &commit_of(&k[1], round)),
            None
        );
        let fixed = rounds.commit(RULES, t, k[2].public_key(), &commit_of(&k[2], round));
        assert_eq!(fixed, Some(vec![k[1].public_key(), k[2].public_key()]));
        assert_eq!(
            rounds.reveal(RULES, t, k[1].public_key(), &reveal_of(&k[1], round)),
            None
        );
        assert!(rounds
            .reveal(RULES, t, k[2].public_key(), &reveal_of(&k[2], round))
            .is_some());
        // After its bench, it contributes again.
        let later = (1 + 2 + BENCH_ROUNDS + 1) * RULES.period_ms;
        let round = RULES.round_at(later);
        assert!(rounds
            .commit(RULES, later, k[0].public_key(), &commit_of(&k[0], round))
            .is_none());
        assert!(rounds
            .commit(RULES, later, k[2].public_key(), &commit_of(&k[2], round))
            .is_some());
    }

    #[test]
    fn the_state_survives_a_round_trip_through_json() {
        let k = keys();
        let mut rounds = EntropyRounds::default();
        rounds.commit(RULES, 0, k[0].public_key(), &commit_of(&k[0], 1));
        rounds.commit(RULES, 0, k[1].public_key(), &commit_of(&k[1], 1));
        rounds.reveal(RULES, 0, k[1].public_key(), &reveal_of(&k[1], 1));
        let json = serde_json::to_vec(&rounds).unwrap();
        let mut back: EntropyRounds = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, rounds);
        let a = rounds.reveal(RULES, 0, k[0].public_key(), &reveal_of(&k[0], 1));
        let b = back.reveal(RULES, 0, k[0].public_key(), &reveal_of(&k[0], 1));
        assert_eq!(a, b);
        assert!(a.is_some());
    }
}
