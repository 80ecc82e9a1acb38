//! Version 4 entries signed by `t` of `n` operators: which chains verify and which do not.

use ledger::{
    encode_file, read_ledger, shares_root, verify_chain, verify_chain_trusting, EntryBody,
    Governor, Keypair, LedgerEntry, LedgerError, Manifest, OperatorSet, OperatorSignature, Quorum,
    SetChange, Share, Signed, Trust,
};

fn operator(name: char) -> Keypair {
    Keypair::from_seed(40, u64::from(name))
}

fn set(threshold: u32, names: &str) -> OperatorSet {
    OperatorSet::new(
        threshold,
        names.chars().map(|c| operator(c).address()).collect(),
    )
    .unwrap()
}

/// An epoch paying three hotspots; `bonus` moves units from the first hotspot to the last.
fn manifest(epoch: u64, prev_hash: [u8; 32], bonus: u64) -> Manifest {
    let mut shares: Vec<Share> = (0..3u64)
        .map(|i| Share {
            hotspot: Keypair::from_seed(41, i).address(),
            beacon_amount: 100,
            witness_amount: 200,
            total: 300,
        })
        .collect();
    shares.sort_by_key(|s| s.hotspot.0);
    shares[0].witness_amount -= bonus;
    shares[0].total -= bonus;
    shares[2].witness_amount += bonus;
    shares[2].total += bonus;
    Manifest {
        epoch,
        start_ms: epoch * 1_000,
        end_ms: (epoch + 1) * 1_000,
        emission: 900,
        beacon_pool: 300,
        witness_pool: 600,
        undistributed: 0,
        inputs_digest: [epoch as u8; 32],
        journal: None,
        archive: Some([0xa5; 32]),
        prev_hash,
        shares,
    }
}

fn body(epoch: u64, prev: Option<&LedgerEntry>, declared: &OperatorSet) -> EntryBody {
    let prev_hash = prev.map_or([0; 32], LedgerEntry::hash);
    manifest(epoch, prev_hash, 0)
        .quorum_body(declared.clone())
        .unwrap()
}

fn signatures(body: &EntryBody, names: &str) -> Vec<OperatorSignature> {
    names.chars().map(|c| body.sign(&operator(c))).collect()
}

/// The entry `assemble` builds, through its governor: `prev` and `names` must make a quorum.
fn signed(
    epoch: u64,
    prev: Option<&LedgerEntry>,
    declared: &OperatorSet,
    names: &str,
) -> LedgerEntry {
    let body = body(epoch, prev, declared);
    let governor = Governor::for_entry(prev, declared);
    let sigs = signatures(&body, names);
    body.assemble(&governor, sigs).unwrap()
}

/// An entry carrying `signatures` as they are, bypassing `assemble`'s checks, as a
/// dishonest writer could.
fn forced(body: &EntryBody, mut signatures: Vec<OperatorSignature>) -> LedgerEntry {
    signatures.sort_by_key(|s| s.operator);
    signatures.dedup_by_key(|s| s.operator);
    LedgerEntry {
        manifest: body.manifest().clone(),
        merkle_root: shares_root(&body.manifest().shares),
        oracle_key: [0; 32],
        signature: [0; 64],
        quorum: Some(Quorum {
            declared: body.declared().clone(),
            signatures,
        }),
    }
}

/// Verifies the chain as read back from a ledger file.
fn verify_file(
    entries: &[LedgerEntry],
    trust: &Trust,
) -> Result<ledger::LedgerSummary, ledger::BadEntry> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.bin");
    std::fs::write(&path, encode_file(entries)).unwrap();
    let read = read_ledger(&path).unwrap();
    assert_eq!(read, entries, "entries round trip through the file");
    verify_chain_trusting(&read, trust)
}

fn error_of(entries: &[LedgerEntry]) -> (usize, LedgerError) {
    let bad = verify_file(entries, &Trust::default()).unwrap_err();
    (bad.index, bad.error)
}

fn unknown(epoch: u64, name: char) -> LedgerError {
    LedgerError::UnknownSigner {
        epoch,
        signer: operator(name).address().to_string(),
    }
}

#[test]
fn two_of_three_signatures_make_an_entry_one_does_not() {
    let abc = set(2, "ABC");
    let genesis = signed(1, None, &abc, "AB");
    let second = signed(2, Some(&genesis), &abc, "CA");
    let summary = verify_file(&[genesis.clone(), second.clone()], &Trust::default()).unwrap();
    assert_eq!(summary.operators, Some(abc.clone()));
    assert_eq!(summary.oracle, None);
    let Signed::Quorum {
        signers, change, ..
    } = &summary.authorities[0].signed
    else {
        panic!("a quorum entry: {summary:?}")
    };
    assert_eq!(signers.len(), 2);
    assert_eq!(
        *change,
        SetChange::Genesis {
            pinned: false,
            handover: None
        }
    );
    assert!(matches!(
        summary.authorities[1].signed,
        Signed::Quorum {
            change: SetChange::Unchanged,
            ..
        }
    ));

    let lone = body(2, Some(&genesis), &abc);
    let governor = Governor::for_entry(Some(&genesis), &abc);
    let no_quorum = LedgerError::NoQuorum {
        epoch: 2,
        valid: 1,
        threshold: 2,
    };
    assert_eq!(
        lone.clone().assemble(&governor, signatures(&lone, "B")),
        Err(no_quorum.clone())
    );
    let entry = forced(&lone, signatures(&lone, "B"));
    assert_eq!(error_of(&[genesis.clone(), entry]), (1, no_quorum));
    let genesis_alone = forced(&body(1, None, &abc), signatures(&body(1, None, &abc), "C"));
    assert!(matches!(
        error_of(&[genesis_alone]),
        (0, LedgerError::NoQuorum { valid: 1, .. })
    ));
}

#[test]
fn a_pinned_genesis_set_is_checked_and_reported() {
    let abc = set(2, "ABC");
    let genesis = signed(1, None, &abc, "BC");
    let pinned = Trust {
        oracle: None,
        genesis: Some(abc.clone()),
    };
    let summary = verify_file(std::slice::from_ref(&genesis), &pinned).unwrap();
    assert!(matches!(
        summary.authorities[0].signed,
        Signed::Quorum {
            change: SetChange::Genesis { pinned: true, .. },
            ..
        }
    ));
    for other in [set(3, "ABC"), set(2, "ABD")] {
        let trust = Trust {
            oracle: None,
            genesis: Some(other),
        };
        let bad = verify_file(std::slice::from_ref(&genesis), &trust).unwrap_err();
        assert!(
            matches!(bad.error, LedgerError::GenesisMismatch { .. }),
            "{bad}"
        );
    }
}

#[test]
fn a_signature_by_an_outsider_or_a_bad_one_fails_even_beside_a_quorum() {
    let abc = set(2, "ABC");
    let genesis = signed(1, None, &abc, "AB");
    let next = body(2, Some(&genesis), &abc);
    let governor = Governor::for_entry(Some(&genesis), &abc);

    let with_outsider = signatures(&next, "ABX");
    assert_eq!(
        next.clone().assemble(&governor, with_outsider.clone()),
        Err(unknown(2, 'X'))
    );
    let entry = forced(&next, with_outsider);
    assert_eq!(error_of(&[genesis.clone(), entry]), (1, unknown(2, 'X')));
    let only_outsiders = forced(&next, signatures(&next, "XY"));
    assert!(matches!(
        error_of(&[genesis.clone(), only_outsiders]),
        (1, LedgerError::UnknownSigner { .. })
    ));

    let elsewhere = body(3, Some(&genesis), &abc);
    let mut sigs = signatures(&next, "AC");
    sigs.push(elsewhere.sign(&operator('B')));
    let bad_b = LedgerError::BadOperatorSignature {
        signer: operator('B').address().to_string(),
    };
    assert_eq!(
        next.clone().assemble(&governor, sigs.clone()),
        Err(bad_b.clone())
    );
    assert_eq!(
        error_of(&[genesis.clone(), forced(&next, sigs)]),
        (1, bad_b)
    );

    let twice = [signatures(&next, "AB"), signatures(&next, "A")].concat();
    assert_eq!(
        next.assemble(&governor, twice),
        Err(LedgerError::DuplicateSigner {
            signer: operator('A').address().to_string()
        })
    );
}

#[test]
fn a_lying_operator_cannot_gather_a_quorum_with_the_honest_two() {
    let abc = set(2, "ABC");
    let genesis = signed(1, None, &abc, "AB");
    let governor = Governor::for_entry(Some(&genesis), &abc);
    let honest = body(2, Some(&genesis), &abc);
    // C closes the epoch its own way: the last hotspot is paid 50 more.
    let lie = manifest(2, genesis.hash(), 50)
        .quorum_body(abc.clone())
        .unwrap();
    assert_ne!(honest.bytes(), lie.bytes());
    let honest_sigs = signatures(&honest, "AB");
    let liar_sig = lie.sign(&operator('C'));

    // The honest signatures do not carry over to the liar's body.
    let mixed = [honest_sigs.clone(), vec![liar_sig]].concat();
    assert!(matches!(
        lie.clone().assemble(&governor, mixed.clone()),
        Err(LedgerError::BadOperatorSignature { .. })
    ));
    let err = error_of(&[genesis.clone(), forced(&lie, mixed)]);
    assert!(
        matches!(err, (1, LedgerError::BadOperatorSignature { .. })),
        "{err:?}"
    );
    let alone = forced(&lie, vec![liar_sig]);
    assert!(matches!(
        error_of(&[genesis.clone(), alone]),
        (1, LedgerError::NoQuorum { valid: 1, .. })
    ));
    // Nor does the liar's signature join the honest entry.
    let c = operator('C').address().to_string();
    assert_eq!(
        honest
            .clone()
            .assemble(&governor, [honest_sigs.clone(), vec![liar_sig]].concat()),
        Err(LedgerError::BadOperatorSignature { signer: c })
    );

    let entry = honest.assemble(&governor, honest_sigs).unwrap();
    verify_file(&[genesis, entry], &Trust::default()).unwrap();
}

#[test]
fn a_set_change_signed_by_the_current_quorum_governs_the_entries_after_it() {
    let abc = set(2, "ABC");
    let abd = set(2, "ABD");
    let genesis = signed(1, None, &abc, "AB");
    let change = signed(2, Some(&genesis), &abd, "AB");
    let by_new = signed(3, Some(&change), &abd, "AD");
    let summary = verify_file(
        &[genesis.clone(), change.clone(), by_new],
        &Trust::default(),
    )
    .unwrap();
    assert!(matches!(
        &summary.authorities[1].signed,
        Signed::Quorum { change: SetChange::Changed, governing, declared, .. }
            if *governing == abc && *declared == abd
    ));
    assert_eq!(summary.operators, Some(abd.clone()));

    // C was removed: its signature is an outsider's after the change.
    let next = body(3, Some(&change), &abd);
    let removed = forced(&next, signatures(&next, "AC"));
    assert_eq!(
        error_of(&[genesis.clone(), change.clone(), removed]),
        (2, unknown(3, 'C'))
    );
    let c_alone = forced(&next, signatures(&next, "C"));
    assert_eq!(
        error_of(&[genesis.clone(), change, c_alone]),
        (2, unknown(3, 'C'))
    );

    // D joins only through the change: it cannot sign the change itself.
    let early = body(2, Some(&genesis), &abd);
    let by_d = forced(&early, signatures(&early, "AD"));
    assert_eq!(error_of(&[genesis, by_d]), (1, unknown(2, 'D')));
}

#[test]
fn a_single_oracle_chain_hands_over_to_a_quorum_and_never_comes_back() {
    let oracle = Keypair::from_seed(42, 0);
    let mut v3 = manifest(1, [0; 32], 0);
    v3.journal = Some(Default::default());
    let first = v3.sign(&oracle);
    let second = manifest(2, first.hash(), 0).sign(&oracle);
    let abc = set(2, "ABC");
    let takeover = body(3, Some(&second), &abc);
    let governor = Governor::for_entry(Some(&second), &abc);
    assert_eq!(governor.handover, Some(oracle.address()));

    let without_oracle = signatures(&takeover, "AB");
    let missing = LedgerError::MissingHandover {
        oracle: oracle.address().to_string(),
    };
    assert_eq!(
        takeover.clone().assemble(&governor, without_oracle.clone()),
        Err(missing.clone())
    );
    let chain = [
        first.clone(),
        second.clone(),
        forced(&takeover, without_oracle),
    ];
    assert_eq!(error_of(&chain), (2, missing));

    let mut sigs = signatures(&takeover, "AB");
    sigs.push(takeover.sign(&oracle));
    let only_oracle = forced(
        &takeover,
        vec![takeover.sign(&oracle), takeover.sign(&operator('A'))],
    );
    assert!(matches!(
        error_of(&[first.clone(), second.clone(), only_oracle]),
        (2, LedgerError::NoQuorum { valid: 1, .. })
    ));
    let v4 = takeover.assemble(&governor, sigs).unwrap();
    let after = signed(4, Some(&v4), &abc, "BC");
    let chain = [first.clone(), second.clone(), v4.clone(), after];
    let summary = verify_chain(&chain, Some(oracle.address())).unwrap();
    assert_eq!(summary.oracle, Some(oracle.address()));
    assert!(matches!(summary.authorities[0].signed, Signed::Oracle(o) if o == oracle.address()));
    let Signed::Quorum {
        change, signers, ..
    } = &summary.authorities[2].signed
    else {
        panic!("{summary:?}")
    };
    assert_eq!(
        *change,
        SetChange::Genesis {
            pinned: false,
            handover: Some(oracle.address())
        }
    );
    assert!(signers.contains(&oracle.address()));
    let stranger = Keypair::from_seed(42, 1).address();
    assert_eq!(verify_chain(&chain, Some(stranger)).unwrap_err().index, 0);

    let back = manifest(4, v4.hash(), 0).sign(&oracle);
    assert_eq!(
        error_of(&[first, second, v4, back]),
        (3, LedgerError::SingleOracleAfterQuorum)
    );
}

#[test]
fn the_entry_hash_does_not_depend_on_which_operators_signed() {
    let abc = set(2, "ABC");
    let genesis = signed(1, None, &abc, "AB");
    let entries: Vec<LedgerEntry> = ["AB", "BC", "CA", "ABC"]
        .iter()
        .map(|names| signed(2, Some(&genesis), &abc, names))
        .collect();
    let expected = body(2, Some(&genesis), &abc).hash();
    for entry in &entries {
        assert_eq!(entry.hash(), expected);
        let next = signed(3, Some(entry), &abc, "AC");
        verify_chain(&[genesis.clone(), entries[0].clone(), next], None).unwrap();
    }
    assert_ne!(entries[0].encode(), entries[1].encode());
    assert_ne!(
        entries[0].hash(),
        signed(2, Some(&genesis), &set(3, "ABC"), "AB").hash(),
        "the declared set is hashed"
    );
}
