//! Fuzz target: onboarding. Arbitrary bytes are read as a record file
//! (`poc::onboarding::decode_record`) and as an `OnboardRequest`, which the identity rules decide
//! against a registered maker (`oracle_core::identity::check_request`): both may refuse, with a
//! reason, but never panic, and a request they accept must carry valid signatures by the
//! hotspot, the owner and the maker.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oracle::identity::{check_request, decide_onboarding, Maker, Makers, OnboardingState};
use poc::proto;
use poc::signing::verify_owner_consent;
use poc::{Keypair, Signable};
use prost::Message;
use std::sync::OnceLock;

/// One registered maker, whose key the fuzzer may find in the corpus.
fn makers() -> &'static Makers {
    static MAKERS: OnceLock<Makers> = OnceLock::new();
    MAKERS.get_or_init(|| {
        let maker = Keypair::from_seed(1, 0);
        Makers::from([(
            maker.public_key(),
            Maker {
                name: "fuzz".into(),
                allowance: 3,
            },
        )])
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = poc::onboarding::decode_record(data);
    let Ok(request) = proto::OnboardRequest::decode(data) else {
        return;
    };
    let Ok(binding) = check_request(&request, makers(), u64::MAX / 2) else {
        return;
    };
    assert!(request.verify().is_ok());
    assert!(verify_owner_consent(&request).is_ok());
    assert!(request.record.as_ref().is_some_and(|r| r.verify().is_ok()));
    let state = OnboardingState {
        maker_onboarded: u64::from(data.len() as u8 % 5),
        owner_balance: u64::from(data.first().copied().unwrap_or(0)),
        existing: None,
    };
    let _ = decide_onboarding(binding, &state, makers(), 100);
});
