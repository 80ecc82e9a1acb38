//! Identities that cost something, as Helium's did: a hotspot joins the network only with a
//! record signed by a maker the oracle knows, within that maker's onboarding allowance, bound
//! to an owner who pays the onboarding fee in data credits; each location assertion then costs
//! its owner the assertion fee.
//!
//! [`check_onboarding`] decides an onboarding request over the state the service loaded (the
//! maker, how many hotspots it onboarded, the owner's balance, an existing binding); the store
//! applies the decision atomically, so that two requests racing for the last credit or the last
//! allowance cannot both pass.

use crate::config::ConfigError;
use crate::reason::IngestReason;
use poc::proto;
use poc::signing::{verify_owner_consent, Signable};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most a request's timestamp may lie ahead of the oracle's clock.
pub const MAX_ONBOARDING_SKEW_MS: u64 = 5 * 60_000;

/// How hotspots get their identity (`[identity] onboarding`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Onboarding {
    /// A hotspot must be onboarded with a registered maker's record and an owner who pays the
    /// fees; only then are its location assertions accepted.
    #[default]
    Makers,
    /// Any key becomes a hotspot with its first location assertion, free of charge and
    /// without an owner: identities are free, so only for closed test networks.
    Open,
}

/// A maker registered with the oracle (`[[identity.makers]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MakerConfig {
    /// The maker's name, as the explorer shows it.
    pub name: String,
    /// The maker's key, as a base58 address.
    pub key: String,
    /// Most hotspots the maker may onboard.
    pub allowance: u64,
}

/// `[identity]`: onboarding, makers and fees.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// How hotspots get their identity.
    pub onboarding: Onboarding,
    /// The registered makers.
    pub makers: Vec<MakerConfig>,
    /// Data credits an owner pays to onboard a hotspot (Helium: 4 000 000, $40).
    pub onboarding_fee_dc: u64,
    /// Data credits an owner pays for each location assertion of its hotspot (Helium:
    /// 1 000 000, $10).
    pub assertion_fee_dc: u64,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            onboarding: Onboarding::Makers,
            makers: Vec::new(),
            onboarding_fee_dc: 4_000_000,
            assertion_fee_dc: 1_000_000,
        }
    }
}

impl IdentityConfig {
    /// A test network's identities: anyone onboards by asserting, free of charge.
    pub fn open() -> Self {
        Self {
            onboarding: Onboarding::Open,
            ..Self::default()
        }
    }

    /// The registered makers by key; refuses a key that is not an address and a key listed
    /// twice.
    pub fn makers(&self) -> Result<Makers, ConfigError> {
        let mut makers = Makers::new();
        for maker in &self.makers {
            let address: poc::Address = maker.key.parse().map_err(|e| {
                ConfigError::Invalid(format!("identity.makers {}: {e}", maker.name))
            })?;
            let registered = Maker {
                name: maker.name.clone(),
                allowance: maker.allowance,
            };
            if makers.insert(address.0, registered).is_some() {
                return Err(ConfigError::Invalid(format!(
                    "identity.makers: the key of {} is listed twice",
                    maker.name
                )));
            }
        }
        Ok(makers)
    }
}

/// A registered maker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Maker {
    /// Its name.
    pub name: String,
    /// Most hotspots it may onboard.
    pub allowance: u64,
}

/// The registered makers by key.
pub type Makers = BTreeMap<[u8; 32], Maker>;

/// A hotspot's binding to its owner and maker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// The hotspot's key.
    pub hotspot: [u8; 32],
    /// Its owner's key.
    pub owner: [u8; 32],
    /// Its maker's key.
    pub maker: [u8; 32],
}

/// What the store knows that an onboarding decision reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnboardingState {
    /// The hotspot's binding, if it is onboarded already.
    pub existing: Option<Binding>,
    /// Hotspots the record's maker onboarded so far.
    pub maker_onboarded: u64,
    /// The owner's data-credit balance.
    pub owner_balance: u64,
}

/// What to do with an accepted onboarding request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnboardingDecision {
    /// Bind the hotspot and debit the owner `fee_dc`.
    Onboard {
        /// The new binding.
        binding: Binding,
        /// The fee to debit.
        fee_dc: u64,
    },
    /// The same binding exists: a replayed request, acknowledged again without a fee.
    Replay(Binding),
}

/// Why an onboarding request (or an assertion's fee) was refused: a reason code and a detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Refusal {
    /// The reason code.
    pub reason: IngestReason,
    /// Human-readable detail.
    pub detail: String,
}

fn refuse<T>(reason: IngestReason, detail: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        reason,
        detail: detail.into(),
    })
}

/// The keys and signatures of a request, checked in this order: malformed keys, the maker's
/// record present, the hotspot's and the owner's signatures, the record naming this hotspot,
/// the maker registered, the maker's signature.
pub fn check_request(
    request: &proto::OnboardRequest,
    makers: &Makers,
    now_ms: u64,
) -> Result<Binding, Refusal> {
    let key = |bytes: &[u8], what: &str| -> Result<[u8; 32], Refusal> {
        bytes.try_into().or_else(|_| {
            refuse(
                IngestReason::Malformed,
                format!("the {what} key is {} bytes, expected 32", bytes.len()),
            )
        })
    };
    let hotspot = key(&request.pub_key, "hotspot")?;
    let owner = key(&request.owner_key, "owner")?;
    if request.timestamp_ms > now_ms.saturating_add(MAX_ONBOARDING_SKEW_MS) {
        return refuse(
            IngestReason::Malformed,
            format!("timestamp {} lies in the future", request.timestamp_ms),
        );
    }
    let Some(record) = request.record.as_ref().filter(|r| !r.signature.is_empty()) else {
        return refuse(IngestReason::NoMakerSignature, "no maker-signed record");
    };
    if let Err(e) = request.verify() {
        return refuse(IngestReason::BadSignature, e.to_string());
    }
    if let Err(e) = verify_owner_consent(request) {
        return refuse(IngestReason::BadOwnerSignature, e.to_string());
    }
    if record.hotspot_key != request.pub_key {
        return refuse(
            IngestReason::RecordMismatch,
            "the maker's record names another hotspot",
        );
    }
    let maker = key(&record.maker_key, "maker")?;
    let Some(registered) = makers.get(&maker) else {
        return refuse(
            IngestReason::UnknownMaker,
            format!("{} is not a registered maker", poc::Address(maker)),
        );
    };
    if let Err(e) = record.verify() {
        return refuse(
            IngestReason::BadMakerSignature,
            format!("{}'s signature: {e}", registered.name),
        );
    }
    Ok(Binding {
        hotspot,
        owner,
        maker,
    })
}

/// Decides a checked request ([`check_request`]) over the loaded state: a replay of the same
/// binding is acknowledged again; otherwise the hotspot must not be onboarded yet, the maker
/// must have allowance left and the owner must cover the fee.
pub fn decide_onboarding(
    binding: Binding,
    state: &OnboardingState,
    makers: &Makers,
    fee_dc: u64,
) -> Result<OnboardingDecision, Refusal> {
    if let Some(existing) = state.existing {
        if existing == binding {
            return Ok(OnboardingDecision::Replay(existing));
        }
        return refuse(
            IngestReason::AlreadyOnboarded,
            format!(
                "{} is already onboarded, owned by {}",
                poc::Address(existing.hotspot),
                poc::Address(existing.owner)
            ),
        );
    }
    let allowance = makers.get(&binding.maker).map_or(0, |m| m.allowance);
    if state.maker_onboarded >= allowance {
        return refuse(
            IngestReason::MakerAllowanceExhausted,
            format!(
                "the maker onboarded {} of its {allowance} hotspots",
                state.maker_onboarded
            ),
        );
    }
    check_balance(state.owner_balance, fee_dc, "onboarding")?;
    Ok(OnboardingDecision::Onboard { binding, fee_dc })
}

/// Whether a balance covers a fee.
pub fn check_balance(balance: u64, fee_dc: u64, what: &str) -> Result<(), Refusal> {
    if balance < fee_dc {
        return refuse(
            IngestReason::InsufficientBalance,
            format!("the {what} fee is {fee_dc} DC, the owner holds {balance}"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use poc::onboarding::{issue_record, onboard_request};
    use poc::Keypair;

    struct World {
        maker: Keypair,
        hotspot: Keypair,
        owner: Keypair,
        makers: Makers,
    }

    fn world(allowance: u64) -> World {
        let maker = Keypair::from_seed(9, 0);
        let makers = Makers::from([(
            maker.public_key(),
            Maker {
                name: "acme".into(),
                allowance,
            },
        )]);
        World {
            maker,
            hotspot: Keypair::from_seed(9, 1),
            owner: Keypair::from_seed(9, 2),
            makers,
        }
    }

    fn request(w: &World) -> proto::OnboardRequest {
        let record = issue_record(&w.maker, w.hotspot.public_key(), 10);
        onboard_request(record, &w.hotspot, &w.owner, 20)
    }

    fn reason<T: std::fmt::Debug>(result: Result<T, Refusal>) -> IngestReason {
        result.expect_err("refused").reason
    }

    #[test]
    fn a_signed_request_of_a_registered_maker_onboards_and_pays() {
        let w = world(10);
        let binding = check_request(&request(&w), &w.makers, 1_000).unwrap();
        assert_eq!(binding.owner, w.owner.public_key());
        let state = OnboardingState {
            owner_balance: 50,
            ..Default::default()
        };
        assert_eq!(
            decide_onboarding(binding, &state, &w.makers, 40),
            Ok(OnboardingDecision::Onboard {
                binding,
                fee_dc: 40
            })
        );
        let replay = OnboardingState {
            existing: Some(binding),
            ..Default::default()
        };
        assert_eq!(
            decide_onboarding(binding, &replay, &w.makers, 40),
            Ok(OnboardingDecision::Replay(binding))
        );
    }

    #[test]
    fn each_refusal_has_its_own_reason() {
        let w = world(10);
        let mut no_record = request(&w);
        no_record.record = None;
        assert_eq!(
            reason(check_request(&no_record, &w.makers, 1_000)),
            IngestReason::NoMakerSignature
        );
        let stranger = world(10);
        let unknown = onboard_request(
            issue_record(&Keypair::from_seed(9, 99), w.hotspot.public_key(), 10),
            &w.hotspot,
            &w.owner,
            20,
        );
        assert_eq!(
            reason(check_request(&unknown, &stranger.makers, 1_000)),
            IngestReason::UnknownMaker
        );
        let mut forged = request(&w);
        if let Some(record) = forged.record.as_mut() {
            record.issued_ms += 1;
        }
        forged.signature.clear();
        forged = onboard_request(forged.record.unwrap(), &w.hotspot, &w.owner, 20);
        assert_eq!(
            reason(check_request(&forged, &w.makers, 1_000)),
            IngestReason::BadMakerSignature
        );
        let other = onboard_request(
            issue_record(&w.maker, Keypair::from_seed(9, 5).public_key(), 10),
            &w.hotspot,
            &w.owner,
            20,
        );
        assert_eq!(
            reason(check_request(&other, &w.makers, 1_000)),
            IngestReason::RecordMismatch
        );
        let mut no_consent = request(&w);
        no_consent.owner_signature[0] ^= 1;
        assert_eq!(
            reason(check_request(&no_consent, &w.makers, 1_000)),
            IngestReason::BadOwnerSignature
        );
        let mut bad = request(&w);
        bad.signature[0] ^= 1;
        assert_eq!(
            reason(check_request(&bad, &w.makers, 1_000)),
            IngestReason::BadSignature
        );
        let early = onboard_request(
            issue_record(&w.maker, w.hotspot.public_key(), 10),
            &w.hotspot,
            &w.owner,
            1_000 + MAX_ONBOARDING_SKEW_MS + 1,
        );
        assert_eq!(
            reason(check_request(&early, &w.makers, 1_000)),
            IngestReason::Malformed,
            "a timestamp more than five minutes ahead"
        );
    }

    #[test]
    fn allowance_balance_and_other_bindings_are_refused() {
        let w = world(2);
        let binding = check_request(&request(&w), &w.makers, 1_000).unwrap();
        let full = OnboardingState {
            maker_onboarded: 2,
            owner_balance: 100,
            ..Default::default()
        };
        assert_eq!(
            reason(decide_onboarding(binding, &full, &w.makers, 40)),
            IngestReason::MakerAllowanceExhausted
        );
        let poor = OnboardingState {
            maker_onboarded: 1,
            owner_balance: 39,
            ..Default::default()
        };
        assert_eq!(
            reason(decide_onboarding(binding, &poor, &w.makers, 40)),
            IngestReason::InsufficientBalance
        );
        let taken = OnboardingState {
            existing: Some(Binding {
                owner: [7; 32],
                ..binding
            }),
            owner_balance: 100,
            ..Default::default()
        };
        assert_eq!(
            reason(decide_onboarding(binding, &taken, &w.makers, 40)),
            IngestReason::AlreadyOnboarded
        );
    }

    #[test]
    fn maker_keys_must_be_addresses_and_unique() {
        let key = Keypair::from_seed(9, 0).address().to_string();
        let maker = |name: &str, key: &str| MakerConfig {
            name: name.into(),
            key: key.into(),
            allowance: 1,
        };
        let config = IdentityConfig {
            makers: vec![maker("a", &key)],
            ..Default::default()
        };
        assert_eq!(config.makers().unwrap().len(), 1);
        let twice = IdentityConfig {
            makers: vec![maker("a", &key), maker("b", &key)],
            ..Default::default()
        };
        assert!(twice.makers().is_err());
        let bad = IdentityConfig {
            makers: vec![maker("a", "not-an-address")],
            ..Default::default()
        };
        assert!(bad.makers().is_err());
    }
}
