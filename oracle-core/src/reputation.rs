//! Reputation: a score per hotspot from its recent validation history, which scales its
//! rewards and is explained in the API.
//!
//! The model is a Beta posterior. Over a sliding window (`window_ms`, default 7 days, ending
//! at the epoch's end or at "now" for the API), each verified report of the hotspot — its
//! beacons and its witnesses — is evidence: a valid one adds 1 to α, an invalid one adds its
//! reason's weight to β. Weights follow how much a reason says about honesty:
//!
//! | weight | reasons |
//! |---|---|
//! | 4 | physics violations and forgeries: `rssi_too_high`, `snr_too_high`, `snr_too_low`, `invalid_payload`, `payload_mismatch`, `entropy_unknown`, `self_witness`, `duplicate`, `too_close` |
//! | 2 | region parameters violated: `frequency_not_allowed`, `datarate_not_allowed`, `power_not_allowed`; `region_mismatch` |
//! | 1 | `too_far`, `inconsistent_signal` (a witness far louder than the beacon's others: the witness may inflate, or the beaconer stand away from its assertion, which makes the honest witnesses near its radio the loud ones), `frequency_mismatch`, `unknown_beacon`, `irregular_interval` |
//! | 0.25 | lateness: `too_late`, `too_late_after_first`, `entropy_expired` |
//! | 0 | not the hotspot's doing or already excluded: `invalid_beacon` (the beaconer's fault), `unknown_gateway`, `not_asserted`, `denylisted`, `denylisted_edge` |
//!
//! With the priors α₀ = 3, β₀ = 1 the score is the posterior mean `α / (α + β)`; a newcomer
//! starts at the prior mean 0.75. The reward factor is `min(1, score / prior mean)`: a hotspot
//! whose record is at least as good as a newcomer's earns in full, and one with a worse record
//! earns in proportion. Ingest rejections are not counted: anyone can send a report claiming
//! any key, so they say nothing about the key's owner.

use crate::config::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Reputation parameters.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReputationConfig {
    /// Whether reputation scales rewards (the score is computed and shown either way).
    pub enabled: bool,
    /// Length of the sliding window of evidence.
    pub window_ms: u64,
    /// Prior pseudo-count of valid reports (α₀).
    pub prior_valid: f64,
    /// Prior pseudo-count of invalid weight (β₀).
    pub prior_invalid: f64,
    /// Most recent beacons and most recent witnesses each considered (of those received
    /// before the window's end: later reports change nothing).
    pub max_reports: u32,
    /// Weight of an `inconsistent_signal` report: 1, as a report too far (a beaconer asserted
    /// away from its radio makes the honest witnesses near the radio its loud outliers); an
    /// archive's rules recorded before this field existed weighed it 4, as a forgery.
    pub inconsistent_signal_weight: f64,
}

impl Default for ReputationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_ms: 7 * 24 * 3_600_000,
            prior_valid: 3.0,
            prior_invalid: 1.0,
            max_reports: 2_000,
            inconsistent_signal_weight: 1.0,
        }
    }
}

impl ReputationConfig {
    /// Checks that the priors are positive finite numbers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ok = |x: f64| x.is_finite() && x > 0.0;
        let weight = self.inconsistent_signal_weight;
        if !ok(self.prior_valid) || !ok(self.prior_invalid) || self.window_ms == 0 {
            return Err(ConfigError::Invalid(
                "reputation priors and window must be positive".into(),
            ));
        }
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(ConfigError::Invalid(
                "reputation.inconsistent_signal_weight must be a finite number, at least 0".into(),
            ));
        }
        Ok(())
    }
}

/// How much an invalid report with this reason code counts against its hotspot.
pub fn reason_weight(code: &str, config: &ReputationConfig) -> f64 {
    match code {
        "inconsistent_signal" => config.inconsistent_signal_weight,
        "rssi_too_high" | "snr_too_high" | "snr_too_low" | "invalid_payload"
        | "payload_mismatch" | "entropy_unknown" | "self_witness" | "duplicate" | "too_close" => {
            4.0
        }
        "frequency_not_allowed"
        | "datarate_not_allowed"
        | "power_not_allowed"
        | "region_mismatch" => 2.0,
        "too_far" | "frequency_mismatch" | "unknown_beacon" | "irregular_interval" => 1.0,
        "too_late" | "too_late_after_first" | "entropy_expired" => 0.25,
        _ => 0.0,
    }
}

/// A hotspot's reputation with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reputation {
    /// The hotspot.
    pub address: poc::Address,
    /// First millisecond of the evidence window.
    pub window_start_ms: u64,
    /// First millisecond after it.
    pub window_end_ms: u64,
    /// Valid beacons in the window.
    pub valid_beacons: u64,
    /// Valid witnesses in the window.
    pub valid_witnesses: u64,
    /// Invalid reports in the window by reason code.
    pub invalid: BTreeMap<String, u64>,
    /// Posterior α (prior + valid reports).
    pub alpha: f64,
    /// Posterior β (prior + weighted invalid reports).
    pub beta: f64,
    /// Posterior mean `α / (α + β)`.
    pub score: f64,
    /// What rewards are multiplied by, in [0, 1].
    pub factor: f64,
    /// A sentence explaining the score.
    pub why: String,
}

/// A posterior over a hotspot's reports: Beta(α, β) and what follows from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Posterior α (prior + valid reports).
    pub alpha: f64,
    /// Posterior β (prior + weighted invalid reports).
    pub beta: f64,
    /// Posterior mean `α / (α + β)`.
    pub score: f64,
    /// What rewards are multiplied by, in [0, 1]: the score relative to the prior's mean.
    pub factor: f64,
}

/// Scores evidence: `valid` reports and the invalid ones by reason code.
pub fn score(valid: u64, invalid: &BTreeMap<String, u64>, config: &ReputationConfig) -> Score {
    let alpha = config.prior_valid + valid as f64;
    let beta = config.prior_invalid
        + invalid
            .iter()
            .map(|(code, &n)| reason_weight(code, config) * n as f64)
            .sum::<f64>();
    let score = alpha / (alpha + beta);
    let neutral = config.prior_valid / (config.prior_valid + config.prior_invalid);
    let factor = (score / neutral).clamp(0.0, 1.0);
    Score {
        alpha,
        beta,
        score,
        factor,
    }
}

/// Builds a [`Reputation`] with its explanation from counted evidence.
pub fn explain(
    address: poc::Address,
    window: (u64, u64),
    valid_beacons: u64,
    valid_witnesses: u64,
    invalid: BTreeMap<String, u64>,
    config: &ReputationConfig,
) -> Reputation {
    let Score {
        alpha,
        beta,
        score,
        factor,
    } = score(valid_beacons + valid_witnesses, &invalid, config);
    let days = (window.1 - window.0) as f64 / 86_400_000.0;
    let mut why = format!(
        "Score {score:.3} = α/(α+β) with α = {} prior + {} valid reports ({valid_beacons} \
         beacons, {valid_witnesses} witnesses) and β = {} prior",
        config.prior_valid,
        valid_beacons + valid_witnesses,
        config.prior_invalid,
    );
    let counted: Vec<String> = invalid
        .iter()
        .filter(|(code, _)| reason_weight(code, config) > 0.0)
        .map(|(code, n)| format!("{n} × {code} (weight {})", reason_weight(code, config)))
        .collect();
    if counted.is_empty() {
        why.push_str(" and no invalid reports that count against it");
    } else {
        why.push_str(&format!(" + {}", counted.join(", ")));
    }
    why.push_str(&format!(", over the {days:.1} days of evidence. "));
    if factor >= 1.0 {
        why.push_str("At or above a newcomer's score: rewards are not reduced.");
    } else {
        why.push_str(&format!(
            "Below a newcomer's score of {:.3}: rewards are multiplied by {factor:.3}.",
            config.prior_valid / (config.prior_valid + config.prior_invalid)
        ));
    }
    Reputation {
        address,
        window_start_ms: window.0,
        window_end_ms: window.1,
        valid_beacons,
        valid_witnesses,
        invalid,
        alpha,
        beta,
        score,
        factor,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect()
    }

    #[test]
    fn newcomers_and_honest_hotspots_earn_in_full() {
        let c = ReputationConfig::default();
        assert_eq!(score(0, &BTreeMap::new(), &c).factor, 1.0);
        assert!((score(0, &BTreeMap::new(), &c).score - 0.75).abs() < 1e-12);
        // Some lateness does not hurt a hotspot with a record.
        assert_eq!(score(20, &invalid(&[("too_late", 5)]), &c).factor, 1.0);
    }

    #[test]
    fn physics_violations_weigh_more_than_lateness() {
        let c = ReputationConfig::default();
        let late = score(10, &invalid(&[("too_late", 4)]), &c);
        let loud = score(10, &invalid(&[("rssi_too_high", 4)]), &c);
        assert!(loud.score < late.score);
        assert!(loud.factor < 1.0 && loud.factor > 0.0);
        // α = 13, β = 17: score 13/30, factor 0.578.
        assert!((loud.score - 13.0 / 30.0).abs() < 1e-12);
        assert!((loud.factor - (13.0 / 30.0) / 0.75).abs() < 1e-12);
        // A record of nothing but forgeries leaves little.
        assert!(score(0, &invalid(&[("invalid_payload", 20)]), &c).factor < 0.05);
        // The beaconer's fault and ingest-level reasons do not count.
        assert_eq!(
            score(0, &invalid(&[("invalid_beacon", 50)]), &c).factor,
            1.0
        );
    }

    #[test]
    fn a_misplaced_beaconers_outliers_cost_its_witness_little() {
        // A beaconer asserted kilometres from its radio makes the honest witnesses next to
        // the radio the loud outliers of its beacons: each such report counts as much as one
        // that is too far, not as a forgery. 70 valid reports and 16 outliers still earn in
        // full; at the forgeries' weight they would cost 30 %.
        let c = ReputationConfig::default();
        assert_eq!(
            reason_weight("inconsistent_signal", &c),
            reason_weight("too_far", &c)
        );
        assert_eq!(
            score(70, &invalid(&[("inconsistent_signal", 16)]), &c).factor,
            1.0
        );
        assert!(score(70, &invalid(&[("rssi_too_high", 16)]), &c).factor < 0.71);
        // Rules recorded before the weight was lowered weighed it as a forgery.
        let before = ReputationConfig {
            inconsistent_signal_weight: 4.0,
            ..c.clone()
        };
        assert_eq!(
            score(70, &invalid(&[("inconsistent_signal", 16)]), &before),
            score(70, &invalid(&[("rssi_too_high", 16)]), &c)
        );
    }

    #[test]
    fn explanations_name_the_evidence() {
        let c = ReputationConfig::default();
        let key = poc::Keypair::from_seed(1, 1).address();
        let r = explain(
            key,
            (0, 7 * 86_400_000),
            6,
            4,
            invalid(&[("snr_too_high", 3)]),
            &c,
        );
        assert_eq!(r.valid_beacons + r.valid_witnesses, 10);
        assert!(r.why.contains("3 × snr_too_high (weight 4)"), "{}", r.why);
        assert!(r.why.contains("multiplied by"), "{}", r.why);
        assert!(r.why.contains("7.0 days"), "{}", r.why);
        let good = explain(key, (0, 1), 6, 4, BTreeMap::new(), &c);
        assert!(good.why.contains("not reduced"), "{}", good.why);
    }
}
