//! The standalone `ledger` binary: verifies a ledger file and a claim, and names what is wrong.

use ledger::{encode_file, Keypair, LedgerEntry, Manifest, Share};
use std::process::{Command, Output};

fn entry(epoch: u64, prev_hash: [u8; 32], key: &Keypair) -> LedgerEntry {
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
    .sign(key)
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
