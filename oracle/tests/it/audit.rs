//! The report archive and the audit: every closed epoch is archived and pinned by its ledger
//! entry; `ledger audit` recomputes its shares from the archive and the ledger alone, bit for
//! bit; a tampered share or record is named; a corrupted, truncated, missing or forged file is
//! refused with an error naming it.

use crate::common::*;
use ledger::{LedgerEntry, Share};
use oracle::archive::records::{decode_manifest, decode_records, encode_records};
use oracle::archive::{ArchiveDir, ArchiveError, Source};
use oracle::audit::{audit, AuditError, Mismatch};
use oracle::store::Status;
use poc::proto::{self, ArchiveManifest};
use poc::Keypair;
use prost::Message;

const EPOCH: u64 = START_MS / DAY_MS;
const DAYS: u64 = 3;

/// A small city: hotspots on a grid about 1.5 km apart, each beaconing twice a day and heard by
/// its neighbours within 5 km with a signal that fades with distance; one hotspot never
/// witnesses (HIP-106 leaves its beacons unpaid), one reports a signal louder than physics
/// allows, one is heard only on the first day. Each epoch is closed as it settles.
async fn city(net: &Net) -> Vec<Hotspot> {
    let mut hotspots = Vec::new();
    for i in 0..12u64 {
        let at = (
            AUSTIN.0 + 0.0135 * (i / 4) as f64,
            AUSTIN.1 + 0.0155 * (i % 4) as f64,
        );
        hotspots.push(net.hotspot(i + 1, at).await);
    }
    for day in 0..DAYS {
        for round in 0..2u64 {
            net.clock
                .set((EPOCH + day) * DAY_MS + 3_600_000 + round * 6 * 3_600_000);
            let entropy = net.oracle.publish_entropy().await.unwrap();
            for (i, beaconer) in hotspots.iter().enumerate() {
                if day > 0 && i == 11 {
                    continue;
                }
                let local = [day as u8, round as u8, i as u8, 0];
                let beacon = beacon_report(beaconer, &entropy.data, local);
                net.oracle.submit_beacon(beacon.clone()).await.unwrap();
                net.advance(10);
                for (j, w) in hotspots.iter().enumerate() {
                    let d =
                        h3_coverage::distance_m(cell_of(beaconer.location), cell_of(w.location));
                    if i == j || j == 0 || d > 5_000.0 {
                        continue;
                    }
                    let rssi = if j == 5 {
                        -300
                    } else {
                        -900 - (d / 40.0) as i32
                    };
                    net.oracle
                        .submit_witness(witness_report(w, &beacon, rssi, 20))
                        .await
                        .unwrap();
                }
            }
            net.settle().await;
        }
        net.clock.set((EPOCH + day + 1) * DAY_MS + 180_000);
        net.oracle.close_epoch(EPOCH + day).await.unwrap();
    }
    hotspots
}

fn cell_of(location: u64) -> h3_coverage::CellIndex {
    h3_coverage::cell_from_u64(location).unwrap()
}

fn archive_of(net: &Net) -> ArchiveDir {
    net.oracle.archive().expect("an archive").clone()
}

fn oracle_key(net: &Net) -> Keypair {
    Keypair::read_file(&net.dir.path().join(oracle::KEY_FILE)).unwrap()
}

/// The ledger with `change` applied to the entry of `epoch`, that entry and every later one
/// signed again and chained: a ledger that verifies, as a lying oracle would publish it.
fn resigned(
    entries: &[LedgerEntry],
    epoch: u64,
    key: &Keypair,
    change: impl Fn(&mut ledger::Manifest),
) -> Vec<LedgerEntry> {
    let mut out: Vec<LedgerEntry> = Vec::new();
    for entry in entries {
        let mut manifest = entry.manifest.clone();
        if manifest.epoch == epoch {
            change(&mut manifest);
        }
        if manifest.epoch >= epoch {
            manifest.prev_hash = out.last().map_or([0; 32], LedgerEntry::hash);
            out.push(manifest.sign(key));
        } else {
            out.push(entry.clone());
        }
    }
    ledger::verify_chain(&out, Some(key.address())).unwrap();
    out
}

/// The archive of `epoch` with the file of `kind` replaced by `rewrite(bytes)`: the new file
/// and a new manifest stored; returns the new manifest's hash.
fn rewritten(
    dir: &ArchiveDir,
    epoch: u64,
    kind: &str,
    rewrite: impl Fn(Vec<u8>) -> Vec<u8>,
) -> [u8; 32] {
    let name = dir.epoch_manifest(epoch).unwrap().unwrap();
    let mut manifest: ArchiveManifest =
        decode_manifest(&dir.read(&name).unwrap().unwrap()).unwrap();
    let file = manifest.files.iter_mut().find(|f| f.kind == kind).unwrap();
    let bytes = rewrite(dir.read(&file.sha256).unwrap().unwrap());
    file.sha256 = dir.put(&bytes).unwrap();
    file.bytes = bytes.len() as u64;
    let name = dir.put(&manifest.encode_to_vec()).unwrap();
    hex::decode(name).unwrap().try_into().unwrap()
}

/// A network whose archive writes a record file for every `block_rows` row ids.
async fn net_with_blocks(block_rows: u32) -> Net {
    let mut config = oracle::OracleConfig::open();
    config.archive.block_rows = block_rows;
    Net::with_config(config).await
}

#[tokio::test]
async fn an_audit_reproduces_every_closed_epoch_bit_for_bit_from_a_directory_or_over_http() {
    // Small blocks: each epoch's beacons and witnesses in several files, written as they were
    // verified and (the last of each epoch) by the close.
    let net = net_with_blocks(16).await;
    city(&net).await;
    let entries = net.oracle.ledger_entries().unwrap();
    assert_eq!(entries.len() as u64, DAYS);
    let source = Source::Dir(archive_of(&net));
    for entry in &entries {
        let epoch = entry.manifest.epoch;
        assert!(
            entry.manifest.archive.is_some(),
            "epoch {epoch} pins its archive"
        );
        let report = audit(&source, &entries, epoch).await.unwrap();
        assert!(
            report.mismatches.is_empty(),
            "epoch {epoch}: {:?}",
            report.mismatches
        );
        assert_eq!(report.shares, entry.manifest.shares.len());
        assert!(report.shares > 0 && report.reports > 100);
        assert_eq!(
            report.earlier_epochs,
            (EPOCH..epoch).collect::<Vec<_>>(),
            "the spans reach back to the first epoch"
        );
        let stored = net.oracle.epoch_report(epoch).await.unwrap().unwrap();
        assert!(
            stored.ineligible.values().sum::<u64>() > 0,
            "HIP-106 leaves some unpaid"
        );
    }

    let (addr, _task) = net.serve_http().await;
    let (status, manifest) = get(addr, &format!("/api/v1/archive/{}/manifest", EPOCH + 1)).await;
    assert_eq!(status, 200);
    let pin = hex::encode(entries[1].manifest.archive.unwrap());
    assert_eq!(manifest["manifest"], pin.as_str());
    let files = manifest["files"].as_array().unwrap();
    let of_kind = |kind: &str| files.iter().filter(|f| f["kind"] == kind).count();
    assert!(of_kind("beacons") > 1, "{manifest}");
    assert!(of_kind("witnesses") > 2, "{manifest}");
    assert_eq!(files.len(), 6 + of_kind("beacons") + of_kind("witnesses"));
    let over_http = Source::parse(&format!("http://{addr}"));
    let report = audit(&over_http, &entries, EPOCH + 2).await.unwrap();
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert_eq!(
        get(addr, &format!("/api/v1/archive/files/{}", "0".repeat(64)))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_tampered_share_in_the_ledger_or_verdict_in_the_archive_is_named() {
    let net = Net::new().await;
    city(&net).await;
    let entries = net.oracle.ledger_entries().unwrap();
    let key = oracle_key(&net);
    let source = Source::Dir(archive_of(&net));

    // The oracle pays one hotspot 1 000 units more and another 1 000 less.
    let epoch = EPOCH + 1;
    let shares = entries[1].manifest.shares.clone();
    let paid: Vec<usize> = (0..shares.len())
        .filter(|&i| shares[i].witness_amount >= 1_000)
        .collect();
    let (r, p) = (paid[0], paid[1]);
    let (rich, poor) = (shares[r], shares[p]);
    let lied = resigned(&entries, epoch, &key, |m| {
        m.shares[r].witness_amount += 1_000;
        m.shares[r].total += 1_000;
        m.shares[p].witness_amount -= 1_000;
        m.shares[p].total -= 1_000;
    });
    let report = audit(&source, &lied, epoch).await.unwrap();
    let named: Vec<(ledger::Address, Option<Share>, Option<Share>)> = report
        .mismatches
        .iter()
        .filter_map(|m| match m {
            Mismatch::Share {
                hotspot,
                ledger,
                recomputed,
            } => Some((*hotspot, *ledger, *recomputed)),
            _ => None,
        })
        .collect();
    assert_eq!(named.len(), 2, "{:?}", report.mismatches);
    assert_eq!(
        named.iter().map(|n| n.0).collect::<Vec<_>>(),
        vec![rich.hotspot, poor.hotspot],
        "both shares are named, by their hotspots"
    );
    for (hotspot, ledger, recomputed) in &named {
        let honest = if *hotspot == rich.hotspot { rich } else { poor };
        assert_eq!(recomputed, &Some(honest));
        assert_ne!(ledger, &Some(honest));
    }
    assert!(report
        .mismatches
        .iter()
        .any(|m| matches!(m, Mismatch::MerkleRoot { .. })));
    assert!(report.mismatches[0].to_string().contains("recomputed"));

    // The oracle archives a valid witness as invalid and pins that archive: the shares it
    // paid no longer follow from what it published, and the audit names them.
    let dir = archive_of(&net);
    let busiest = shares
        .iter()
        .max_by_key(|s| s.witness_amount)
        .unwrap()
        .hotspot;
    let pin = rewritten(&dir, epoch, "witnesses", |bytes| {
        let mut records: Vec<proto::ArchivedReport> = decode_records(&bytes).unwrap();
        for record in records.iter_mut().filter(|r| r.status == "valid") {
            let report = proto::WitnessReport::decode(record.report.as_slice()).unwrap();
            if report.pub_key == busiest.0 {
                record.status = "invalid".into();
                record.reason = "too_close".into();
            }
        }
        encode_records(&records)
    });
    let repinned = resigned(&entries, epoch, &key, |m| m.archive = Some(pin));
    let report = audit(&source, &repinned, epoch).await.unwrap();
    assert!(
        report
            .mismatches
            .iter()
            .any(|m| matches!(m, Mismatch::Share { .. })),
        "{:?}",
        report.mismatches
    );
}

/// The audit of `epoch` fails; the error, as printed.
async fn refused(source: &Source, entries: &[LedgerEntry], epoch: u64) -> (AuditError, String) {
    let error = audit(source, entries, epoch).await.unwrap_err();
    let text = error.to_string();
    (error, text)
}

#[tokio::test]
async fn corrupted_truncated_missing_or_forged_archive_files_are_refused_by_name() {
    let net = Net::new().await;
    city(&net).await;
    let entries = net.oracle.ledger_entries().unwrap();
    let key = oracle_key(&net);
    let dir = archive_of(&net);
    let source = Source::Dir(dir.clone());
    let epoch = EPOCH + 2;
    let manifest_name = dir.epoch_manifest(epoch).unwrap().unwrap();
    let manifest = decode_manifest(&dir.read(&manifest_name).unwrap().unwrap()).unwrap();
    let file_of = |kind: &str| {
        manifest
            .files
            .iter()
            .find(|f| f.kind == kind)
            .unwrap()
            .sha256
            .clone()
    };
    let path_of = |name: &str| dir.root().join("files").join(name);

    // A record whose bytes were changed after it was signed: the report's signature fails.
    let pin = rewritten(&dir, epoch, "witnesses", |bytes| {
        let mut records: Vec<proto::ArchivedReport> = decode_records(&bytes).unwrap();
        let mut report = proto::WitnessReport::decode(records[3].report.as_slice()).unwrap();
        report.rssi_ddbm += 10;
        records[3].report = report.encode_to_vec();
        encode_records(&records)
    });
    let forged = resigned(&entries, epoch, &key, |m| m.archive = Some(pin));
    let (error, text) = refused(&source, &forged, epoch).await;
    assert!(
        matches!(
            &error,
            AuditError::Archive {
                source: ArchiveError::BadRecord { index: 3, .. },
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("record 3") && text.contains("bad signature"),
        "{text}"
    );

    // A truncated file, stored under its own hash and pinned: it does not decode.
    let pin = rewritten(&dir, epoch, "beacons", |bytes| {
        bytes[..bytes.len() - 7].to_vec()
    });
    let truncated = resigned(&entries, epoch, &key, |m| m.archive = Some(pin));
    let (error, text) = refused(&source, &truncated, epoch).await;
    assert!(
        matches!(
            &error,
            AuditError::Archive {
                source: ArchiveError::Malformed { .. },
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("truncated"), "{text}");

    // A file changed in place: its bytes no longer hash to its name.
    let gateways = file_of("gateways");
    let mut bytes = std::fs::read(path_of(&gateways)).unwrap();
    bytes[5] ^= 0x40;
    std::fs::write(path_of(&gateways), &bytes).unwrap();
    let (error, text) = refused(&source, &entries, epoch).await;
    assert!(
        matches!(
            &error,
            AuditError::Archive {
                source: ArchiveError::HashMismatch { .. },
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains(&gateways), "{text}");

    // A file the manifest lists is gone.
    let entropy = file_of("entropy");
    std::fs::remove_file(path_of(&entropy)).unwrap();
    std::fs::remove_file(path_of(&gateways)).unwrap();
    let (error, text) = refused(&source, &entries, epoch).await;
    assert!(
        matches!(
            &error,
            AuditError::Archive {
                source: ArchiveError::Missing { .. },
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains(&entropy) || text.contains(&gateways),
        "{text}"
    );

    // A manifest that is not one, and an entry older than the archive.
    let junk = dir.put(b"\xff\xff\xff not a manifest").unwrap();
    let pin: [u8; 32] = hex::decode(&junk).unwrap().try_into().unwrap();
    let junk_pinned = resigned(&entries, EPOCH, &key, |m| m.archive = Some(pin));
    let (_, text) = refused(&source, &junk_pinned, EPOCH).await;
    assert!(text.contains(&junk) && text.contains("manifest"), "{text}");
    let unpinned = resigned(&entries, EPOCH, &key, |m| m.archive = None);
    assert!(
        matches!(refused(&source, &unpinned, EPOCH).await.0, AuditError::NoArchive(e) if e == EPOCH)
    );
}

/// One round: each hotspot beacons once, heard by every other; returns how many reports.
async fn round(net: &Net, hotspots: &[Hotspot], tag: u8) -> usize {
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let mut reports = 0;
    for (i, beaconer) in hotspots.iter().enumerate() {
        let beacon = beacon_report(beaconer, &entropy.data, [tag, i as u8, 0, 0]);
        net.oracle.submit_beacon(beacon.clone()).await.unwrap();
        net.advance(10);
        reports += 1;
        for (j, w) in hotspots.iter().enumerate() {
            if i != j {
                // Each receiver reads each beacon a little otherwise (0.7 dB steps): equal
                // readings beacon by beacon are one receiver's, which `shared_radio` flags.
                let rssi = -1000 - 7 * ((5 * i + 3 * j + usize::from(tag)) % 11) as i32;
                net.oracle
                    .submit_witness(witness_report(w, &beacon, rssi, 20))
                    .await
                    .unwrap();
                reports += 1;
            }
        }
    }
    reports
}

#[tokio::test]
async fn reports_archived_before_a_crash_or_verified_at_the_close_are_all_in_the_archive() {
    let net = net_with_blocks(8).await;
    let mut hotspots = Vec::new();
    for i in 0..5u64 {
        let at = (
            AUSTIN.0 + 0.0135 * (i / 3) as f64,
            AUSTIN.1 + 0.0155 * (i % 3) as f64,
        );
        hotspots.push(net.hotspot(i + 1, at).await);
    }
    let mut reports = round(&net, &hotspots, 1).await;
    net.settle().await;
    reports += round(&net, &hotspots, 2).await;
    net.settle().await;
    let store = net.oracle.store();
    let written = store.archive_chunks(EPOCH).await.unwrap();
    assert!(written.len() >= 4, "{written:?}");
    assert!(written.iter().all(|c| c.pending == 0 && c.records > 0));

    // A crash between verification passes' commits and their files being recorded.
    for c in &written {
        store
            .delete_archive_chunk(c.epoch, c.kind, c.block)
            .await
            .unwrap();
    }
    // Reports received just before the epoch's end: still pending, verified by the close.
    net.clock.set((EPOCH + 1) * DAY_MS - 60_000);
    reports += round(&net, &hotspots, 3).await;
    net.clock.set((EPOCH + 1) * DAY_MS + 180_000);
    net.oracle.close_epoch(EPOCH).await.unwrap();

    let entries = net.oracle.ledger_entries().unwrap();
    let dir = archive_of(&net);
    let report = audit(&Source::Dir(dir.clone()), &entries, EPOCH)
        .await
        .unwrap();
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert_eq!(
        report.reports, reports,
        "every report of the epoch is archived"
    );
    assert!(report.shares > 0);
    let manifest = decode_manifest(
        &dir.read(&dir.epoch_manifest(EPOCH).unwrap().unwrap())
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let listed: Vec<&str> = manifest.files.iter().map(|f| f.sha256.as_str()).collect();
    for c in &written {
        assert!(
            listed.contains(&c.sha256.as_str()),
            "block {} of the {} written again byte for byte",
            c.block,
            c.kind.table()
        );
    }
    let recorded = store.archive_chunks(EPOCH).await.unwrap();
    assert!(recorded.len() > written.len());
    assert!(recorded.iter().all(|c| c.pending == 0));
    let archive = oracle::archive::EpochArchive::load(
        &Source::Dir(dir),
        &hex::encode(entries[0].manifest.archive.unwrap()),
        &oracle::archive::EntropyMakers {
            keys: vec![oracle_key(&net).public_key()],
            threshold: 1,
        },
    )
    .await
    .unwrap();
    let late = (EPOCH + 1) * DAY_MS - 60_000;
    let decided = |s: &Status| *s != Status::Pending;
    assert!(
        archive
            .beacons
            .iter()
            .filter(|b| b.received_ms >= late)
            .count()
            == hotspots.len()
    );
    assert!(archive.beacons.iter().all(|b| decided(&b.status)));
    assert!(archive.witnesses.iter().all(|w| decided(&w.status)));
    let ids: Vec<i64> = archive.witnesses.iter().map(|w| w.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "by row id, each once");
}
