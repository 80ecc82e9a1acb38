//! Data credits added through the report log: a credit counts once `threshold` operators have
//! published the very same one (owner, amount and memo), so no operator mints credits alone.
//! Pure: the outcome depends only on the entries applied, in their order, and the log's time.

use poc::proto;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long (in the log's time) a credit waits for the other operators, and how long a
/// credit already applied is remembered so that later copies of it are ignored.
pub(crate) const CREDIT_WINDOW_MS: u64 = 7 * 24 * 3_600_000;

type Key = [u8; 32];

/// A credit the operators agreed on, to be applied to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgreedCredit {
    /// The owner credited.
    pub owner: Key,
    /// Data credits.
    pub amount: u64,
    /// The credit's reference.
    pub memo: String,
}

/// The credits waiting for operators, and those applied lately.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Credits {
    pending: Vec<Pending>,
    /// Applied credits' hashes with when they were applied.
    applied: Vec<(Key, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    hash: Key,
    first_ms: u64,
    operators: Vec<Key>,
}

/// What names a credit: the hash of its owner, amount and memo.
fn credit_hash(credit: &proto::LogCredit) -> Key {
    Sha256::new()
        .chain_update(b"lorapoc-log-credit-v1")
        .chain_update(&credit.owner)
        .chain_update(credit.amount.to_le_bytes())
        .chain_update(credit.memo.as_bytes())
        .finalize()
        .into()
}

impl Credits {
    /// Applies `operator`'s publication of `credit` at the log's time `time_ms`. Returns the
    /// credit when this publication is the `threshold`-th by distinct operators.
    pub fn publish(
        &mut self,
        threshold: usize,
        time_ms: u64,
        operator: Key,
        credit: &proto::LogCredit,
    ) -> Option<AgreedCredit> {
        self.expire(time_ms);
        let owner = Key::try_from(credit.owner.as_slice()).ok()?;
        if credit.amount == 0 {
            return None;
        }
        let hash = credit_hash(credit);
        if self.applied.iter().any(|(h, _)| *h == hash) {
            return None;
        }
        let index = match self.pending.iter().position(|p| p.hash == hash) {
            Some(index) => index,
            None => {
                self.pending.push(Pending {
                    hash,
                    first_ms: time_ms,
                    operators: Vec::new(),
                });
                self.pending.len() - 1
            }
        };
        let pending = &mut self.pending[index];
        if pending.operators.contains(&operator) {
            return None;
        }
        pending.operators.push(operator);
        if pending.operators.len() < threshold.max(1) {
            return None;
        }
        self.pending.remove(index);
        self.applied.push((hash, time_ms));
        Some(AgreedCredit {
            owner,
            amount: credit.amount,
            memo: credit.memo.clone(),
        })
    }

    fn expire(&mut self, time_ms: u64) {
        let live = |since: u64| since.saturating_add(CREDIT_WINDOW_MS) > time_ms;
        self.pending.retain(|p| live(p.first_ms));
        self.applied.retain(|(_, at)| live(*at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(amount: u64, memo: &str) -> proto::LogCredit {
        proto::LogCredit {
            owner: vec![7; 32],
            amount,
            memo: memo.into(),
        }
    }

    #[test]
    fn a_credit_counts_once_a_threshold_of_operators_published_it() {
        let mut credits = Credits::default();
        let c = credit(500, "payment 1");
        assert_eq!(credits.publish(2, 0, [1; 32], &c), None);
        // The same operator again counts once.
        assert_eq!(credits.publish(2, 1, [1; 32], &c), None);
        let agreed = credits
            .publish(2, 2, [2; 32], &c)
            .expect("two operators agree");
        assert_eq!(agreed.amount, 500);
        assert_eq!(agreed.owner, [7; 32]);
        assert_eq!(agreed.memo, "payment 1");
        // The third operator's copy is not a second credit.
        assert_eq!(credits.publish(2, 3, [3; 32], &c), None);
    }

    #[test]
    fn credits_that_differ_in_any_part_are_separate() {
        let mut credits = Credits::default();
        assert_eq!(credits.publish(2, 0, [1; 32], &credit(500, "p")), None);
        assert_eq!(credits.publish(2, 0, [2; 32], &credit(501, "p")), None);
        assert_eq!(credits.publish(2, 0, [2; 32], &credit(500, "q")), None);
        let mut other_owner = credit(500, "p");
        other_owner.owner = vec![8; 32];
        assert_eq!(credits.publish(2, 0, [2; 32], &other_owner), None);
        assert!(credits.publish(2, 0, [2; 32], &credit(500, "p")).is_some());
    }

    #[test]
    fn malformed_and_stale_credits_count_for_nothing() {
        let mut credits = Credits::default();
        let mut short = credit(5, "p");
        short.owner = vec![1; 31];
        assert_eq!(credits.publish(1, 0, [1; 32], &short), None);
        assert_eq!(credits.publish(1, 0, [1; 32], &credit(0, "p")), None);
        // A publication the others did not match within the window is dropped.
        assert_eq!(credits.publish(2, 0, [1; 32], &credit(5, "p")), None);
        assert_eq!(
            credits.publish(2, CREDIT_WINDOW_MS, [2; 32], &credit(5, "p")),
            None
        );
        assert!(credits
            .publish(2, CREDIT_WINDOW_MS, [3; 32], &credit(5, "p"))
            .is_some());
    }
}
