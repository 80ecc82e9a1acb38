//! Identities that cost something: onboarding with a maker's record, within the maker's
//! allowance, paid by the owner; assertions paid by the owner; each refusal with its own reason
//! code; an owner's hotspots earn nothing for witnessing each other. On both stores.

use crate::common::{
    assertion, beacon_report, cell, get, witness_report, Hotspot, AUSTIN, AUSTIN_NORTH, DAY_MS,
    GAIN, START_MS,
};
use oracle::identity::{IdentityConfig, MakerConfig};
use oracle::store::identity::DcEntry;
use oracle::store::{PostgresStore, SqliteStore, Store};
use oracle::{ManualClock, Oracle, OracleConfig};
use poc::onboarding::{issue_record, onboard_request};
use poc::proto::{self, Region};
use poc::Keypair;
use std::sync::Arc;

const ONBOARDING_FEE: u64 = 40;
const ASSERTION_FEE: u64 = 10;

fn maker(seed: u64) -> Keypair {
    Keypair::from_seed(500, seed)
}

fn config() -> OracleConfig {
    let registered = |name: &str, seed: u64, allowance: u64| MakerConfig {
        name: name.into(),
        key: maker(seed).address().to_string(),
        allowance,
    };
    OracleConfig {
        identity: IdentityConfig {
            makers: vec![registered("acme", 1, 2), registered("globex", 3, 10)],
            onboarding_fee_dc: ONBOARDING_FEE,
            assertion_fee_dc: ASSERTION_FEE,
            ..IdentityConfig::default()
        },
        ..OracleConfig::default()
    }
}

fn oracle_over(store: Arc<dyn Store>, config: OracleConfig) -> (Oracle, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START_MS));
    let oracle = Oracle::with_store(config, store, Keypair::from_seed(7, 7), clock.clone());
    (oracle, clock)
}

fn request(maker_key: &Keypair, hotspot: &Keypair, owner: &Keypair) -> proto::OnboardRequest {
    let record = issue_record(maker_key, hotspot.public_key(), START_MS - DAY_MS);
    onboard_request(record, hotspot, owner, START_MS)
}

fn assert_at(key: &Keypair, at: (f64, f64), ts: u64) -> proto::LocationAssertion {
    assertion(key, u64::from(cell(at)), GAIN, Region::Us915, ts)
}

async fn refused<T: std::fmt::Debug>(
    result: Result<T, oracle::ingest::IngestError>,
) -> &'static str {
    result
        .expect_err("refused")
        .reason()
        .expect("a reason code")
        .code()
}

/// Every refusal of onboarding and assertion, the fees and their replay, over `store`.
async fn onboarding_and_fees(store: Arc<dyn Store>) {
    let (oracle, _clock) = oracle_over(store, config());
    let owner = Keypair::from_seed(501, 0);
    let store = oracle.store();
    assert_eq!(
        store
            .credit(&owner.public_key(), 100, START_MS, "payment 1")
            .await
            .unwrap(),
        100
    );
    let hotspots: Vec<Keypair> = (0..8).map(|i| Keypair::from_seed(502, i)).collect();

    let first = request(&maker(1), &hotspots[0], &owner);
    let receipt = oracle.onboard(first.clone()).await.unwrap();
    assert_eq!(
        oracle.onboard(first).await.unwrap().id,
        receipt.id,
        "a replay is acknowledged"
    );
    assert_eq!(
        store.balance(&owner.public_key()).await.unwrap(),
        60,
        "and paid once"
    );

    let placed = assert_at(&hotspots[0], AUSTIN, START_MS);
    oracle.assert_location(placed.clone()).await.unwrap();
    oracle.assert_location(placed).await.unwrap();
    assert_eq!(store.balance(&owner.public_key()).await.unwrap(), 50);
    oracle
        .onboard(request(&maker(1), &hotspots[1], &owner))
        .await
        .unwrap();
    assert_eq!(store.balance(&owner.public_key()).await.unwrap(), 10);

    let rich = Keypair::from_seed(501, 1);
    store
        .credit(&rich.public_key(), 1_000, START_MS, "payment 2")
        .await
        .unwrap();
    let over_allowance = request(&maker(1), &hotspots[2], &rich);
    assert_eq!(
        refused(oracle.onboard(over_allowance).await).await,
        "maker_allowance_exhausted"
    );
    let unknown = request(&maker(2), &hotspots[3], &rich);
    assert_eq!(
        refused(oracle.onboard(unknown).await).await,
        "unknown_maker"
    );
    let mut unsigned = request(&maker(3), &hotspots[4], &rich);
    unsigned.record = None;
    assert_eq!(
        refused(oracle.onboard(unsigned).await).await,
        "no_maker_signature"
    );
    let poor = request(&maker(3), &hotspots[5], &owner);
    assert_eq!(
        refused(oracle.onboard(poor).await).await,
        "insufficient_balance"
    );
    let stolen = request(&maker(3), &hotspots[0], &rich);
    assert_eq!(
        refused(oracle.onboard(stolen).await).await,
        "already_onboarded"
    );
    let stranger = assert_at(&hotspots[6], AUSTIN, START_MS);
    assert_eq!(
        refused(oracle.assert_location(stranger).await).await,
        "not_onboarded"
    );
    oracle
        .assert_location(assert_at(&hotspots[1], AUSTIN_NORTH, START_MS))
        .await
        .unwrap();
    let unpaid = assert_at(&hotspots[1], AUSTIN, START_MS + 1);
    assert_eq!(
        refused(oracle.assert_location(unpaid).await).await,
        "insufficient_balance"
    );

    assert_eq!(store.balance(&owner.public_key()).await.unwrap(), 0);
    let refusals = store
        .recent_rejections(&hotspots[5].public_key(), 10)
        .await
        .unwrap();
    assert_eq!(refusals[0].reason, "insufficient_balance");
    assert_eq!(refusals[0].kind, "onboarding");
    let journal = store
        .dc_journal(Some(&owner.public_key()), (0, u64::MAX), 100, 0)
        .await
        .unwrap();
    let amounts: Vec<i64> = journal.iter().map(|e| e.amount).collect();
    assert_eq!(amounts, [100, -40, -10, -40, -10]);
    let counts = store.maker_counts().await.unwrap();
    assert_eq!(counts.get(&maker(1).public_key()), Some(&2));
    let binding = store
        .binding(&hotspots[1].public_key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(binding.owner, owner.public_key());
}

#[tokio::test]
async fn onboarding_and_fees_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("oracle.sqlite"))
        .await
        .unwrap();
    onboarding_and_fees(Arc::new(store)).await;
}

#[tokio::test]
async fn onboarding_and_fees_on_postgres() {
    let Some(url) = crate::common::database_url("the PostgreSQL identity test") else {
        return;
    };
    let schema = format!("identity_test_{}", std::process::id());
    let store = PostgresStore::connect_in_schema(&url, &schema)
        .await
        .unwrap();
    onboarding_and_fees(Arc::new(store)).await;
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Onboards `index` for `owner` with the maker globex and asserts it at `at`.
async fn onboarded(oracle: &Oracle, index: u64, owner: &Keypair, at: (f64, f64)) -> Hotspot {
    let key = Keypair::from_seed(42, index);
    oracle
        .onboard(request(&maker(3), &key, owner))
        .await
        .unwrap();
    let location = u64::from(cell(at));
    oracle
        .assert_location(assertion(&key, location, GAIN, Region::Us915, START_MS))
        .await
        .unwrap();
    Hotspot {
        key,
        location,
        gain: GAIN,
        region: Region::Us915,
    }
}

/// A beacon heard by a hotspot of the beaconer's owner and by one of another owner: only the
/// other owner's witness is paid, and the explorer shows owners, makers and balances.
#[tokio::test]
async fn an_owners_hotspots_earn_nothing_for_witnessing_each_other() {
    let mut config = config();
    config.defences.enabled = false;
    config.reciprocity_window_ms = 0;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(START_MS));
    let oracle = Oracle::open(config, dir.path(), clock.clone())
        .await
        .unwrap();
    let (alice, bob) = (Keypair::from_seed(503, 0), Keypair::from_seed(503, 1));
    for owner in [&alice, &bob] {
        oracle
            .store()
            .credit(&owner.public_key(), 1_000, START_MS, "")
            .await
            .unwrap();
    }
    let beaconer = onboarded(&oracle, 1, &alice, AUSTIN).await;
    let sibling = onboarded(&oracle, 2, &alice, AUSTIN_NORTH).await;
    let stranger = onboarded(&oracle, 3, &bob, (30.2672, -97.7631)).await;
    let entropy = oracle.publish_entropy().await.unwrap();
    let beacon = beacon_report(&beaconer, &entropy.data, [9; 4]);
    oracle.submit_beacon(beacon.clone()).await.unwrap();
    for w in [&sibling, &stranger] {
        oracle
            .submit_witness(witness_report(w, &beacon, -1000, 50))
            .await
            .unwrap();
    }
    clock.advance(oracle.config().entropy_window_ms + 1_000);
    oracle.verify_pending().await.unwrap();
    let epoch = START_MS / DAY_MS;
    clock.set(oracle.epoch_ready_at_ms(epoch));
    let report = oracle.close_epoch(epoch).await.unwrap();
    assert_eq!(report.ineligible.get("same_owner"), Some(&1));
    let earned = |h: &Hotspot| {
        let address = h.key.address().to_string();
        report
            .rewards
            .iter()
            .find(|r| r.address == address)
            .map_or(0, |r| r.witness_amount)
    };
    assert_eq!(earned(&sibling), 0);
    assert!(earned(&stranger) > 0);

    // The ledger entry pins the epoch's journal: two credits, three onboardings and assertions.
    let entry = oracle.ledger_entry(epoch).unwrap().expect("a ledger entry");
    let pin = entry.manifest.journal.expect("a version 2 entry");
    assert_eq!(pin.credits_dc, 2_000);
    assert_eq!(pin.fees_dc, 3 * (ONBOARDING_FEE + ASSERTION_FEE));
    let journal = oracle
        .store()
        .dc_journal(None, (report.start_ms, report.end_ms), 100, 0)
        .await
        .unwrap();
    let recomputed = ledger::journal_digest(journal.iter().map(DcEntry::journal_item));
    assert_eq!(recomputed, pin);

    // The archive the entry pins holds the three onboarding requests, each checked again.
    let source = oracle::archive::Source::Dir(oracle.archive().unwrap().clone());
    let makers = oracle::archive::EntropyMakers {
        keys: vec![oracle.address().0],
        threshold: 1,
    };
    let pinned = hex::encode(entry.manifest.archive.expect("an archive"));
    let archive = oracle::archive::EpochArchive::load(&source, &pinned, &makers)
        .await
        .unwrap();
    let onboarded: Vec<_> = archive
        .onboardings
        .iter()
        .map(|r| r.pub_key.clone())
        .collect();
    let mut expected: Vec<_> = [&beaconer, &sibling, &stranger]
        .iter()
        .map(|h| h.key.public_key().to_vec())
        .collect();
    let mut sorted = onboarded.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    let audit = oracle::audit::audit(&source, std::slice::from_ref(&entry), epoch)
        .await
        .unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);

    let (addr, _server) = oracle
        .serve_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (status, body) = get(addr, &format!("/api/v1/hotspots/{}", sibling.key.address())).await;
    assert_eq!(status, 200);
    assert_eq!(body["owner"], alice.address().to_string());
    assert_eq!(body["maker"], maker(3).address().to_string());
    let (status, body) = get(addr, &format!("/api/v1/owners/{}", alice.address())).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["balance_dc"],
        1_000 - 2 * (ONBOARDING_FEE + ASSERTION_FEE)
    );
    assert_eq!(body["hotspots"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["journal"][1]["kind"], "onboarding");
    let (status, body) = get(addr, "/api/v1/makers").await;
    assert_eq!(status, 200);
    assert_eq!(body["makers"][1]["name"], "globex");
    assert_eq!(body["makers"][1]["onboarded"], 3);
    assert_eq!(body["onboarding"], "makers");
}
