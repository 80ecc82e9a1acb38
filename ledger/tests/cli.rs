//! The standalone `ledger` binary: verifies a ledger file and a claim, and names what is wrong.

use ledger::{encode_file, Governor, Keypair, LedgerEntry, Manifest, OperatorSet, Quorum, Share};
use std::process::{Command, Output};

fn entry(epoch: u64, prev_hash: [u8; 32], key: &Keypair) -> LedgerEntry {
    manifest(epoch, prev_hash).sign(key)
}

fn manifest(epoch: u64, prev_hash: [u8; 32]) -> Manifest {
    let mut shares: Vec<Share> = (0..5u64)
        .map(|i| Share {
            hotspot: Keypair::from_seed(3, i).address(),
            beacon_amount: 10 * (i + 1),
            witness_amount: 40 * (i + 1),
            total: 50 * (i + 1),
        })
        .collect();
    shares.sort_by_key(|s| s.hotspot.0);
    Manifest {
        epoch,
        start_ms: epoch * 1_000,
        end_ms: (epoch + 1) * 1_000,
        emission: 750,
        beacon_pool: 150,
        witness_pool: 600,
        undistributed: 0,
        inputs_digest: [epoch as u8; 32],
        journal: None,
        archive: None,
        prev_hash,
        shares,
    }
}

fn ledger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn verifies_a_ledger_and_a_claim_and_names_what_is_wrong() {
    let key = Keypair::from_seed(1, 1);
    let first = entry(4, [0; 32], &key);
    let second = entry(5, first.hash(), &key);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger.bin");
    let bytes = encode_file(&[first, second.clone()]);
    std::fs::write(&file, &bytes).unwrap();
    let path = file.to_str().unwrap();

    let ok = ledger(&["verify", path, "--oracle-key", &key.address().to_string()]);
    assert!(ok.status.success(), "{ok:?}");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.contains("ok: 2 entries") && out.contains("head epoch 5"),
        "{out}"
    );

    let stranger = Keypair::from_seed(2, 2).address().to_string();
    let wrong = ledger(&["verify", path, "--oracle-key", &stranger]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("entry 0"));

    let mut tampered = bytes.clone();
    let last = tampered.len() - 200;
    tampered[last] ^= 1;
    std::fs::write(&file, &tampered).unwrap();
    let bad = ledger(&["verify", path]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad ledger: entry 1"));

    let hotspot = second.manifest.shares[2].hotspot;
    let claim = second.claim(&hotspot).unwrap();
    let proof = dir.path().join("claim.json");
    std::fs::write(&proof, serde_json::to_vec(&claim).unwrap()).unwrap();
    let root = hex::encode(second.merkle_root);
    let proof = proof.to_str().unwrap();
    let ok = ledger(&["verify-claim", "--root", &root, "--proof", proof]);
    assert!(ok.status.success(), "{ok:?}");
    let other_root = hex::encode([7u8; 32]);
    let bad = ledger(&["verify-claim", "--root", &other_root, "--proof", proof]);
    assert!(!bad.status.success());
    let garbage = ledger(&["verify-claim", "--root", "zz", "--proof", proof]);
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("--root is not 32 hex bytes"));
}

fn operator(name: char) -> Keypair {
    Keypair::from_seed(60, u64::from(name))
}

fn set(names: &str) -> OperatorSet {
    OperatorSet::new(2, names.chars().map(|c| operator(c).address()).collect()).unwrap()
}

/// A version 4 entry after `prev` declaring `declared`, signed by `names` and by `oracle`
/// when it takes over; with `check` false, carried as signed without asking for a quorum.
fn quorum_entry(
    epoch: u64,
    prev: &LedgerEntry,
    declared: &OperatorSet,
    names: &str,
    oracle: Option<&Keypair>,
    check: bool,
) -> LedgerEntry {
    let mut m = manifest(epoch, prev.hash());
    m.archive = Some([epoch as u8; 32]);
    let body = m.quorum_body(declared.clone()).unwrap();
    let mut signatures: Vec<_> = names.chars().map(|c| body.sign(&operator(c))).collect();
    signatures.extend(oracle.map(|o| body.sign(o)));
    if check {
        let governor = Governor::for_entry(Some(prev), declared);
        return body.assemble(&governor, signatures).unwrap();
    }
    signatures.sort_by_key(|s| s.operator);
    LedgerEntry {
        manifest: body.manifest().clone(),
        merkle_root: ledger::shares_root(&body.manifest().shares),
        oracle_key: [0; 32],
        signature: [0; 64],
        quorum: Some(Quorum {
            declared: declared.clone(),
            signatures,
        }),
    }
}

fn addresses(names: &str) -> String {
    let list: Vec<String> = names
        .chars()
        .map(|c| operator(c).address().to_string())
        .collect();
    list.join(",")
}

#[test]
fn verifies_a_quorum_ledger_and_a_claim_against_it_printing_who_signed() {
    let oracle = Keypair::from_seed(1, 1);
    let first = entry(4, [0; 32], &oracle);
    let second = entry(5, first.hash(), &oracle);
    let takeover = quorum_entry(6, &second, &set("ABC"), "AB", Some(&oracle), true);
    let change = quorum_entry(7, &takeover, &set("ABD"), "BC", None, true);
    let by_new = quorum_entry(8, &change, &set("ABD"), "AD", None, true);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger.bin");
    let chain = [first, second, takeover, change.clone(), by_new.clone()];
    std::fs::write(&file, encode_file(&chain)).unwrap();
    let path = file.to_str().unwrap();

    let ok = ledger(&["verify", path]);
    assert!(ok.status.success(), "{ok:?}");
    let out = String::from_utf8_lossy(&ok.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("entry 0 epoch 4: signed by the single oracle"),
        "{out}"
    );
    assert!(
        lines[2].contains(&format!(
            "takes over from the single oracle {}",
            oracle.address()
        )) && lines[2].contains("NOT pinned"),
        "{out}"
    );
    assert!(lines[3].contains("SET CHANGE: declares 2 of {"), "{out}");
    assert!(lines[4].contains("declares the same set"), "{out}");
    assert!(lines[5].starts_with("ok: 5 entries, head epoch 8"), "{out}");

    let abc = addresses("ABC");
    let pinned = ledger(&["verify", path, "--operators", &abc, "--threshold", "2"]);
    assert!(pinned.status.success(), "{pinned:?}");
    assert!(String::from_utf8_lossy(&pinned.stdout).contains("pinned by --operators"));
    let wrong = ledger(&[
        "verify",
        path,
        "--operators",
        &addresses("ABD"),
        "--threshold",
        "2",
    ]);
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("entry 2") && stderr.contains("genesis operator set"),
        "{stderr}"
    );
    let half = ledger(&["verify", path, "--operators", &abc]);
    assert!(String::from_utf8_lossy(&half.stderr).contains("go together"));

    let hotspot = by_new.manifest.shares[1].hotspot;
    let proof = dir.path().join("claim.json");
    std::fs::write(
        &proof,
        serde_json::to_vec(&by_new.claim(&hotspot).unwrap()).unwrap(),
    )
    .unwrap();
    let proof = proof.to_str().unwrap();
    let ok = ledger(&["verify-claim", "--ledger", path, "--proof", proof]);
    assert!(ok.status.success(), "{ok:?}");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.contains("in epoch 8") && out.contains("entry 4 of"),
        "{out}"
    );
    let pinned = ledger(&[
        "verify-claim",
        "--ledger",
        path,
        "--proof",
        proof,
        "--operators",
        &abc,
        "--threshold",
        "2",
    ]);
    assert!(pinned.status.success(), "{pinned:?}");
    let mixed = ledger(&[
        "verify-claim",
        "--root",
        &hex::encode([0u8; 32]),
        "--proof",
        proof,
        "--threshold",
        "2",
    ]);
    assert!(
        String::from_utf8_lossy(&mixed.stderr).contains("need --ledger"),
        "{mixed:?}"
    );

    // The same shares, signed by the removed operator C with A: no claim holds against it.
    let removed = quorum_entry(8, &change, &set("ABD"), "AC", None, false);
    let mut chain = chain.to_vec();
    chain[4] = removed;
    std::fs::write(&file, encode_file(&chain)).unwrap();
    let bad = ledger(&["verify-claim", "--ledger", path, "--proof", proof]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("entry 4") && stderr.contains("not an operator of the governing set"),
        "{stderr}"
    );
    chain.pop();
    std::fs::write(&file, encode_file(&chain)).unwrap();
    let missing = ledger(&["verify-claim", "--ledger", path, "--proof", proof]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no entry for epoch 8"));
}
