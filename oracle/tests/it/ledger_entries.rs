//! The reward ledger: entries appended as epochs close, verified offline, every tampered byte
//! detected, claims checked against the Merkle root alone, over the API and the CLI.

use crate::common::*;
use ledger::LedgerError;
use std::process::Command;

const EPOCH: u64 = START_MS / DAY_MS;

/// Three hotspots beaconing and witnessing each other once in each of `days` epochs, each epoch
/// closed as it settles.
async fn ledger_of(net: &Net, days: u64) -> Vec<Hotspot> {
    let hotspots = vec![
        net.hotspot(1, AUSTIN).await,
        net.hotspot(2, AUSTIN_NORTH).await,
        net.hotspot(3, (AUSTIN.0, AUSTIN.1 + 0.03)).await,
    ];
    for day in 0..days {
        net.clock.set((EPOCH + day) * DAY_MS + 3_600_000);
        let entropy = net.oracle.publish_entropy().await.unwrap();
        for (i, beaconer) in hotspots.iter().enumerate() {
            if day == 1 && i == 2 {
                continue;
            }
            let beacon = beacon_report(beaconer, &entropy.data, [day as u8, i as u8, 0, 0]);
            net.oracle.submit_beacon(beacon.clone()).await.unwrap();
            for (j, w) in hotspots.iter().enumerate() {
                if i != j {
                    net.oracle
                        .submit_witness(witness_report(w, &beacon, -1100, 0))
                        .await
                        .unwrap();
                }
            }
        }
        net.settle().await;
        net.clock.set((EPOCH + day + 1) * DAY_MS + 180_000);
        net.oracle.close_epoch(EPOCH + day).await.unwrap();
    }
    hotspots
}

/// The digest of what the store recorded as paid in `epoch`: each valid beacon, oldest first,
/// with the keys of the witnesses paid for it (every beacon of these epochs has some).
async fn paid_digest(net: &Net, epoch: u64) -> [u8; 32] {
    let store = net.oracle.store();
    let (start, end) = (epoch * DAY_MS, (epoch + 1) * DAY_MS);
    let report = net.oracle.epoch_report(epoch).await.unwrap().unwrap();
    let mut pinned = Vec::new();
    let mut paid_total = 0;
    for beacon in store.valid_beacons_between(start, end).await.unwrap() {
        let paid = store.paid_witnesses(&[beacon.id]).await.unwrap();
        let keys: Vec<[u8; 32]> = store
            .witnesses_of_beacon(beacon.id)
            .await
            .unwrap()
            .iter()
            .filter(|w| paid.contains(&w.id))
            .map(|w| w.pub_key)
            .collect();
        assert!(!keys.is_empty(), "every beacon of the test pays witnesses");
        paid_total += keys.len() as u64;
        let id: [u8; 32] = hex::decode(&beacon.report_id).unwrap().try_into().unwrap();
        pinned.push((id, keys));
    }
    assert_eq!(paid_total, report.witnesses_selected);
    ledger::inputs_digest(&pinned)
}

#[tokio::test]
async fn closed_epochs_form_a_verifiable_chain() {
    let net = Net::new().await;
    ledger_of(&net, 2).await;
    // Closing again does not append twice.
    net.oracle.close_epoch(EPOCH).await.unwrap();
    let entries = net.oracle.ledger_entries().unwrap();
    assert_eq!(entries.len(), 2);
    let summary = ledger::verify_chain(&entries, Some(net.oracle.address())).unwrap();
    assert_eq!(summary.head.unwrap().0, EPOCH + 1);
    for (entry, day) in entries.iter().zip(0..) {
        let report = net.oracle.epoch_report(EPOCH + day).await.unwrap().unwrap();
        let m = &entry.manifest;
        assert_eq!(
            (m.epoch, m.start_ms, m.end_ms),
            (report.epoch, report.start_ms, report.end_ms)
        );
        assert_eq!(m.emission, report.emission);
        assert_eq!(m.shares.len(), report.rewards.len());
        let total: u64 = m.shares.iter().map(|s| s.total).sum();
        assert_eq!(total + m.undistributed, m.emission);
        assert_eq!(m.inputs_digest, paid_digest(&net, EPOCH + day).await);
    }
    assert_eq!(entries[1].manifest.prev_hash, entries[0].hash());
    assert_ne!(
        entries[0].manifest.inputs_digest,
        entries[1].manifest.inputs_digest
    );
}

#[tokio::test]
async fn every_flipped_byte_is_detected() {
    let net = Net::new().await;
    ledger_of(&net, 2).await;
    let bytes = std::fs::read(net.dir.path().join(ledger::LEDGER_FILE)).unwrap();
    let key = Some(net.oracle.address());
    ledger::verify_bytes(&bytes, key).unwrap();
    let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize + 4;
    for position in 0..bytes.len() {
        for mask in [0x01u8, 0x80] {
            let mut tampered = bytes.clone();
            tampered[position] ^= mask;
            let Err(bad) = ledger::verify_bytes(&tampered, key) else {
                panic!("flipping bit {mask:#x} of byte {position} went unnoticed");
            };
            // The error names the entry holding the byte (or, for a length prefix, the
            // record that no longer parses, which can be no later than the second).
            let expected = usize::from(position >= first_len);
            assert!(bad.index <= expected, "byte {position}: {bad}");
        }
    }
    // Truncation and appended garbage.
    assert!(ledger::verify_bytes(&bytes[..bytes.len() - 1], key).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(ledger::verify_bytes(&longer, key).is_err());
    // Dropping the first entry breaks the chain of the second.
    let bad = ledger::verify_bytes(&bytes[first_len..], key).unwrap_err();
    assert_eq!(bad.error, LedgerError::BrokenChain);
}

#[tokio::test]
async fn api_lists_entries_and_serves_claims_that_verify_against_the_root() {
    let net = Net::new().await;
    let hotspots = ledger_of(&net, 1).await;
    let (addr, _task) = net.serve_http().await;
    let (status, body) = get(addr, "/api/v1/ledger").await;
    assert_eq!(status, 200, "{body}");
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let root_hex = entries[0]["merkle_root"].as_str().unwrap().to_string();
    let root: [u8; 32] = hex::decode(&root_hex).unwrap().try_into().unwrap();
    // A single oracle's entry: it alone signed, no operator set; it is named.
    let oracle = net.oracle.address();
    assert_eq!(entries[0]["oracle"], oracle.to_string());
    assert_eq!(entries[0]["threshold"], serde_json::Value::Null);
    assert_eq!(entries[0]["declared"], serde_json::json!([]));
    let named = serde_json::json!([{
        "address": oracle.to_string(),
        "name": oracle::names::hotspot_name(&oracle),
        "hotspot": false,
    }]);
    assert_eq!(body["operators"], named);

    let (status, body) = get(addr, &format!("/api/v1/ledger/{EPOCH}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["share_list"].as_array().unwrap().len(), 3);
    assert_eq!(body["operators"], named);

    let dir = tempfile::tempdir().unwrap();
    for h in &hotspots {
        let path = format!("/api/v1/ledger/{EPOCH}/proof/{}", h.key.address());
        let (status, body) = get(addr, &path).await;
        assert_eq!(status, 200, "{body}");
        let claim: ledger::Claim = serde_json::from_value(body.clone()).unwrap();
        claim.verify(&root).unwrap();
        assert_eq!(claim.share.hotspot, h.key.address());

        let file = dir.path().join("claim.json");
        std::fs::write(&file, body.to_string()).unwrap();
        let ok = oracle_cli(
            &["ledger", "verify-claim", "--root", &root_hex, "--proof"],
            &file,
        );
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        // A larger amount does not verify.
        let mut forged = body.clone();
        let total = forged["share"]["total"].as_u64().unwrap();
        forged["share"]["total"] = (total + 1).into();
        let witness = forged["share"]["witness_amount"].as_u64().unwrap();
        forged["share"]["witness_amount"] = (witness + 1).into();
        std::fs::write(&file, forged.to_string()).unwrap();
        let bad = oracle_cli(
            &["ledger", "verify-claim", "--root", &root_hex, "--proof"],
            &file,
        );
        assert!(!bad.status.success());
    }
    let stranger = poc::Keypair::from_seed(5, 5).address();
    let (status, _) = get(addr, &format!("/api/v1/ledger/{EPOCH}/proof/{stranger}")).await;
    assert_eq!(status, 404);
    let (status, _) = get(
        addr,
        &format!("/api/v1/ledger/{}/proof/{stranger}", EPOCH + 9),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(addr, "/api/v1/ledger/x/proof/y").await;
    assert_eq!(status, 400);
}

fn oracle_cli(args: &[&str], last: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oracle"))
        .args(args)
        .arg(last)
        .output()
        .unwrap()
}

#[tokio::test]
async fn cli_exports_and_verifies() {
    let net = Net::new().await;
    ledger_of(&net, 2).await;
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("ledger.bin");
    let export = Command::new(env!("CARGO_BIN_EXE_oracle"))
        .args(["ledger", "export", "--data-dir"])
        .arg(net.dir.path())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );

    let address = net.oracle.address().to_string();
    let verify = |key: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oracle"));
        cmd.args(["ledger", "verify"]).arg(&out);
        if !key.is_empty() {
            cmd.args(["--oracle-key", key]);
        }
        cmd.output().unwrap()
    };
    let ok = verify(&address);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("2 entries"));
    assert!(verify("").status.success());
    let other = poc::Keypair::from_seed(8, 8).address().to_string();
    assert!(!verify(&other).status.success());

    // Tamper with an amount of the second entry: the CLI names entry 1.
    let mut bytes = std::fs::read(&out).unwrap();
    let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize + 4;
    let share_amount = first_len + 4 + ledger::HEADER_LEN + ledger::JOURNAL_PIN_LEN + 32;
    bytes[share_amount] ^= 1;
    std::fs::write(&out, &bytes).unwrap();
    let bad = verify(&address);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("entry 1"), "{stderr}");
}
