//! Fuzz target: ledger. Arbitrary bytes are read as one ledger entry (`LedgerEntry::decode`,
//! versions 1 to 4), as one operator's signature (`OperatorSignature::decode`) and as a ledger
//! file (`ledger::file::parse`, what `ledger verify` reads), whose chain is then verified with
//! the quorum rules: each may refuse, never panic. What decodes re-encodes to the same bytes,
//! and a chain that verifies has every version 4 entry after the first signed by the threshold
//! of the set its predecessor declares.
#![no_main]

use ledger::{encode_file, file, verify_chain, LedgerEntry, OperatorSignature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = LedgerEntry::decode(data) {
        assert_eq!(entry.encode(), data);
        let _ = entry.check();
    }
    if let Ok(signature) = OperatorSignature::decode(data) {
        assert_eq!(signature.encode().as_slice(), data);
    }
    let Ok(entries) = file::parse(data) else {
        return;
    };
    assert_eq!(encode_file(&entries), data);
    let Ok(summary) = verify_chain(&entries, None) else {
        return;
    };
    assert_eq!(summary.authorities.len(), entries.len());
    for pair in entries.windows(2) {
        let (Some(prev), Some(next)) = (&pair[0].quorum, &pair[1].quorum) else {
            continue;
        };
        let members = next
            .signatures
            .iter()
            .filter(|s| prev.declared.contains(&s.operator))
            .count();
        assert!(members >= prev.declared.threshold() as usize);
        assert_eq!(members, next.signatures.len());
    }
});
