//! The explorer API over real HTTP: pagination, history with explained reasons, coverage at
//! several resolutions, closed epochs, limits and bad input (one rule for numbers and
//! addresses on every route), and the OpenAPI document against the router.

use crate::common::*;
use oracle::http::{
    explain, route_paths, MAX_BODY, MAX_COVERAGE_RESOLUTION, MAX_LIMIT, MAX_URI, OPENAPI_JSON,
};
use oracle::names::MAX_QUERY_LEN;
use oracle::params::{parse_address, ADDRESS_MAX_LEN, ADDRESS_MIN_LEN, MAX_NUMBER};
use oracle::{BeaconReason, IngestReason, WitnessReason};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// 1.9 km west of [`AUSTIN`].
const AUSTIN_WEST: (f64, f64) = (30.2672, -97.7631);
/// About 15 km north-east of [`AUSTIN`]: its own cell at every resolution from 6 up.
const AUSTIN_FAR: (f64, f64) = (30.3900, -97.6800);

/// A response: status, lower-case headers and body.
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

async fn send(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before reading a refused body.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    // Archive files are binary: their bodies are kept only as far as they are text.
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, "GET", path, b"").await
}

/// A 4xx JSON error.
async fn expect_error(addr: SocketAddr, path: &str, status: u16) -> String {
    let reply = get(addr, path).await;
    assert_eq!(reply.status, status, "{path}: {}", reply.body);
    let body = reply.json();
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no error text in {body}"))
        .to_string()
}

/// Four asserted hotspots (three witnessing one beacon, one far away), one onboarded without a
/// location, a self-witness to be rejected, and the epoch closed.
struct Fixture {
    net: Net,
    addr: SocketAddr,
    beaconer: Hotspot,
    witnesses: Vec<Hotspot>,
    far: Hotspot,
    epoch: u64,
    /// The name of the epoch's archive manifest.
    manifest: String,
}

async fn fixture() -> Fixture {
    // Without HIP-106 reciprocity the beaconer is paid, so that its ledger claim exists. No
    // rate limit: the tests here send hundreds of requests in a few seconds.
    let net = Net::with_config(oracle::OracleConfig {
        reciprocity_window_ms: 0,
        http: oracle::config::HttpConfig {
            requests_per_second: 0,
            ..Default::default()
        },
        ..oracle::OracleConfig::open()
    })
    .await;
    let (addr, _task) = net.serve_http().await;
    let (beaconer, north, beacon, _) = net.baseline().await;
    let west = net.hotspot(3, AUSTIN_WEST).await;
    net.oracle
        .submit_witness(witness_report(&west, &beacon, RSSI - 20, SNR))
        .await
        .unwrap();
    net.oracle
        .submit_witness(witness_report(&beaconer, &beacon, RSSI, SNR))
        .await
        .unwrap();
    let far = net.hotspot(4, AUSTIN_FAR).await;
    net.unasserted(5).await;
    net.settle().await;
    let epoch = START_MS / DAY_MS;
    net.clock.set((epoch + 1) * DAY_MS + 200_000);
    net.oracle.close_epoch(epoch).await.unwrap();
    let manifest = net
        .oracle
        .archive()
        .and_then(|a| a.epoch_manifest(epoch).unwrap())
        .expect("the closed epoch is archived");
    Fixture {
        manifest,
        net,
        addr,
        beaconer,
        witnesses: vec![north, west],
        far,
        epoch,
    }
}

#[tokio::test]
async fn hotspots_are_paginated_with_counts_and_rewards() {
    let f = fixture().await;
    let all = get(f.addr, "/api/v1/hotspots").await.json();
    assert_eq!(all["total"], 5);
    assert_eq!(all["limit"], 100);
    let list = all["hotspots"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert_eq!(list.iter().filter(|h| h["asserted"] == true).count(), 4);

    let report = f.net.oracle.epoch_report(f.epoch).await.unwrap().unwrap();
    // Each hotspot's rewards are what the closed epoch gave it.
    for h in list {
        let row = report
            .rewards
            .iter()
            .find(|r| h["address"] == r.address.as_str());
        assert_eq!(h["rewards"]["total"], row.map_or(0, |r| r.total), "{h}");
        assert_eq!(
            h["rewards"]["beacon_amount"],
            row.map_or(0, |r| r.beacon_amount)
        );
        assert_eq!(h["rewards"]["epochs"], u64::from(row.is_some()));
    }
    let far = f.far.key.address().to_string();
    let far_row = list.iter().find(|h| h["address"] == far.as_str()).unwrap();
    assert_eq!(far_row["rewards"]["total"], 0);
    let beaconer = f.beaconer.key.address().to_string();
    let b = list
        .iter()
        .find(|h| h["address"] == beaconer.as_str())
        .unwrap();
    assert_eq!(b["counts"]["beacons_valid"], 1);
    assert_eq!(b["counts"]["witnesses_invalid"], 1);

    // Pages cover the list exactly once, in order.
    let mut paged = Vec::new();
    for offset in [0, 2, 4] {
        let page = get(f.addr, &format!("/api/v1/hotspots?limit=2&offset={offset}"))
            .await
            .json();
        assert_eq!(page["total"], 5);
        paged.extend(page["hotspots"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(&paged, list);
    let beyond = get(f.addr, "/api/v1/hotspots?offset=9000000000000000000")
        .await
        .json();
    assert_eq!(beyond["hotspots"].as_array().unwrap().len(), 0);

    for bad in [
        "/api/v1/hotspots?limit=0",
        "/api/v1/hotspots?limit=1001",
        "/api/v1/hotspots?limit=abc",
        "/api/v1/hotspots?limit=-1",
        "/api/v1/hotspots?limit=99999999999999999999999",
        "/api/v1/hotspots?offset=-5",
        "/api/v1/hotspots?offset=99999999999999999999999",
        "/api/v1/hotspots?offset=18446744073709551615",
        "/api/v1/hotspots?page=2",
    ] {
        expect_error(f.addr, bad, 400).await;
    }
}

/// The Helium name of an address, computed here from the crate itself.
fn helium_name(address: &str) -> String {
    address
        .parse::<angry_purple_tiger::AnimalName>()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn hotspots_have_names_and_are_found_by_name_or_address_prefix() {
    let f = fixture().await;
    let all = get(f.addr, "/api/v1/hotspots").await.json();
    for h in all["hotspots"].as_array().unwrap() {
        assert_eq!(
            h["name"],
            helium_name(h["address"].as_str().unwrap()),
            "{h}"
        );
    }
    let address = f.beaconer.key.address().to_string();
    let name = helium_name(&address);
    let one = get(f.addr, &format!("/api/v1/hotspots/{address}"))
        .await
        .json();
    assert_eq!(one["name"], name.as_str());
    let coverage = get(f.addr, "/api/v1/coverage").await.json();
    let cell = coverage["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["properties"]["addresses"][0] == address.as_str())
        .expect("the beaconer's cell");
    assert_eq!(cell["properties"]["names"][0], name.as_str());

    // By name in any case, with spaces or without dashes, or by the start of the address.
    let spaced = name.to_uppercase().replace('-', "%20");
    let undashed = name.replace('-', "");
    for q in [spaced.as_str(), &undashed, &name, &address[..8]] {
        let found = get(f.addr, &format!("/api/v1/hotspots/search?q={q}"))
            .await
            .json();
        let addresses: Vec<&str> = found["hotspots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["address"].as_str().unwrap())
            .collect();
        assert!(addresses.contains(&address.as_str()), "{q}: {found}");
        assert_eq!(found["total"], addresses.len(), "{q}");
        for h in found["hotspots"].as_array().unwrap() {
            let other = h["address"].as_str().unwrap();
            assert!(
                other.starts_with(&address[..8]) || h["name"] == name.as_str(),
                "{q} found {h}"
            );
        }
    }
    // The address is case-sensitive.
    let lower = address[..8].to_lowercase();
    if lower != address[..8] {
        let found = get(f.addr, &format!("/api/v1/hotspots/search?q={lower}"))
            .await
            .json();
        assert!(found["hotspots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["address"] != address.as_str()));
    }
    let few = get(f.addr, "/api/v1/hotspots/search?q=1&limit=1")
        .await
        .json();
    assert!(few["hotspots"].as_array().unwrap().len() <= 1);
    for (bad, reason) in [
        ("/api/v1/hotspots/search", "q is empty"),
        ("/api/v1/hotspots/search?q=%20-%20", "q is empty"),
        ("/api/v1/hotspots/search?q=a%2Bb", "'+' at byte 1"),
        ("/api/v1/hotspots/search?q=tiger&limit=0", "1 to 1000"),
        ("/api/v1/hotspots/search?q=tiger&page=2", "bad query"),
    ] {
        let message = expect_error(f.addr, bad, 400).await;
        assert!(message.contains(reason), "{bad}: {message}");
    }
    let long = "a".repeat(MAX_QUERY_LEN + 1);
    let message = expect_error(f.addr, &format!("/api/v1/hotspots/search?q={long}"), 400).await;
    assert!(message.contains("at most 64"), "{message}");
}

#[tokio::test]
async fn witness_links_name_both_ends_with_signal_distance_and_verdict() {
    let f = fixture().await;
    let beaconer = f.beaconer.key.address().to_string();
    let west = f.witnesses[1].key.address().to_string();
    let body = get(f.addr, &format!("/api/v1/hotspots/{beaconer}/links"))
        .await
        .json();
    assert_eq!(body["epoch"], f.epoch, "the newest report's epoch: {body}");
    assert_eq!(body["name"], helium_name(&beaconer));
    assert_eq!(body["truncated"], false);
    let links = body["links"].as_array().unwrap();
    for w in &f.witnesses {
        let address = w.key.address().to_string();
        let link = links
            .iter()
            .find(|l| l["witness"]["address"] == address.as_str())
            .unwrap_or_else(|| panic!("no link to {address}: {body}"));
        assert_eq!(link["role"], "beaconer");
        assert_eq!(link["status"], "valid", "{link}");
        assert_eq!(link["reason"], Value::Null);
        assert_eq!(link["beaconer"]["address"], beaconer.as_str());
        assert_eq!(link["beaconer"]["name"], helium_name(&beaconer));
        assert_eq!(link["witness"]["name"], helium_name(&address));
        assert!(link["witness"]["lat"].is_f64() && link["beaconer"]["lon"].is_f64());
        assert!(link["rssi_ddbm"].is_i64() && link["snr_ddb"].is_i64());
    }
    let to_west = links
        .iter()
        .find(|l| l["witness"]["address"] == west.as_str())
        .unwrap();
    let distance = to_west["distance_m"].as_f64().unwrap();
    assert!((1_000.0..3_000.0).contains(&distance), "{distance}");
    assert_eq!(to_west["rssi_ddbm"], RSSI - 20);
    for invalid in links.iter().filter(|l| l["status"] == "invalid") {
        assert!(invalid["reason"].is_string(), "{invalid}");
        assert!(invalid["explanation"].is_string(), "{invalid}");
    }

    // The witness sees the same link from its side.
    let theirs = get(f.addr, &format!("/api/v1/hotspots/{west}/links"))
        .await
        .json();
    let theirs = theirs["links"].as_array().unwrap();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["role"], "witness");
    assert_eq!(theirs[0]["beaconer"]["address"], beaconer.as_str());
    assert_eq!(theirs[0]["witness_id"], to_west["witness_id"]);

    let later = get(
        f.addr,
        &format!("/api/v1/hotspots/{beaconer}/links?epoch={}", f.epoch + 1),
    )
    .await
    .json();
    assert_eq!(later["links"].as_array().unwrap().len(), 0);
    assert_eq!(later["epoch"], f.epoch + 1);
    expect_error(
        f.addr,
        &format!("/api/v1/hotspots/{beaconer}/links?epoch=x"),
        400,
    )
    .await;
    let unknown = poc::Keypair::from_seed(99, 9).address();
    expect_error(f.addr, &format!("/api/v1/hotspots/{unknown}/links"), 404).await;
}

#[tokio::test]
async fn rewards_by_epoch_state_the_token_flags_and_verdicts() {
    let f = fixture().await;
    let beaconer = f.beaconer.key.address().to_string();
    let report = f.net.oracle.epoch_report(f.epoch).await.unwrap().unwrap();
    let paid = report
        .rewards
        .iter()
        .find(|r| r.address == beaconer)
        .expect("the beaconer is paid");
    let body = get(f.addr, &format!("/api/v1/hotspots/{beaconer}/rewards"))
        .await
        .json();
    assert_eq!(body["token"]["symbol"], "IOT");
    assert_eq!(body["token"]["decimals"], 6);
    assert_eq!(body["name"], helium_name(&beaconer));
    let epochs = body["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 1, "{body}");
    let e = &epochs[0];
    assert_eq!(e["epoch"], f.epoch);
    assert_eq!(e["total"], paid.total);
    assert_eq!(e["beacon_amount"], paid.beacon_amount);
    assert_eq!(e["flags"].as_array().unwrap().len(), 0);
    assert_eq!(e["reports"]["beacons_valid"], 1);
    assert_eq!(
        e["reports"]["witnesses_invalid"], 1,
        "the self-witness: {e}"
    );
    let reasons = e["invalid_reasons"].as_array().unwrap();
    assert_eq!(reasons[0]["code"], "self_witness", "{e}");
    assert!(reasons[0]["explanation"]
        .as_str()
        .unwrap()
        .contains("its own beacon"));

    // A flag of the epoch-wide defences is explained in words.
    let mut flagged = report.clone();
    flagged.epoch = f.epoch + 1;
    flagged.rewards.clear();
    flagged
        .flagged
        .insert(beaconer.clone(), vec!["implausible_links".to_string()]);
    let json = serde_json::to_string(&flagged).unwrap();
    f.net
        .oracle
        .store()
        .put_epoch(f.epoch + 1, (f.epoch + 2) * DAY_MS, &json, &[], &[])
        .await
        .unwrap();
    let body = get(f.addr, &format!("/api/v1/hotspots/{beaconer}/rewards"))
        .await
        .json();
    let newest = &body["epochs"][0];
    assert_eq!(newest["epoch"], f.epoch + 1);
    assert_eq!(newest["total"], 0);
    assert_eq!(newest["flags"][0]["code"], "implausible_links");
    assert!(newest["flags"][0]["explanation"]
        .as_str()
        .unwrap()
        .contains("improbable"));
    let stats = get(f.addr, "/api/v1/stats").await.json();
    assert_eq!(stats["token"], body["token"]);
}

#[tokio::test]
async fn history_lists_every_report_with_explained_reasons() {
    let f = fixture().await;
    let b = f.beaconer.key.address();
    let history = get(f.addr, &format!("/api/v1/hotspots/{b}/history"))
        .await
        .json();
    assert_eq!(history["address"], b.to_string());
    assert_eq!(history["beacons_total"], 1);
    assert_eq!(history["witnesses_total"], 1);
    let beacon = &history["beacons"][0];
    assert_eq!(beacon["kind"], "beacon");
    assert_eq!(beacon["status"], "valid");
    assert!(beacon["reason"].is_null() && beacon["explanation"].is_null());
    let witness = &history["witnesses"][0];
    assert_eq!(witness["status"], "invalid");
    assert_eq!(witness["reason"], "self_witness");
    assert_eq!(
        witness["explanation"],
        explain("witness", "self_witness").unwrap()
    );

    for w in &f.witnesses {
        let a = w.key.address();
        let h = get(f.addr, &format!("/api/v1/hotspots/{a}/history"))
            .await
            .json();
        assert_eq!(h["witnesses"][0]["status"], "valid", "{h}");
        assert_eq!(h["witnesses"][0]["beacon_id"], beacon["id"]);
    }

    // The hotspot page explains its reasons too.
    let page = get(f.addr, &format!("/api/v1/hotspots/{b}")).await.json();
    assert_eq!(page["rejection_reasons"]["self_witness"], 1);
    assert_eq!(
        page["recent_witnesses"][0]["explanation"],
        explain("witness", "self_witness").unwrap()
    );

    // Paging past the end is empty, not an error.
    let h = get(
        f.addr,
        &format!("/api/v1/hotspots/{b}/history?limit=1&offset=1"),
    )
    .await
    .json();
    assert_eq!(h["beacons"].as_array().unwrap().len(), 0);
    assert_eq!(h["beacons_total"], 1);

    let unknown = poc::Keypair::from_seed(1, 1).address();
    expect_error(f.addr, &format!("/api/v1/hotspots/{unknown}/history"), 404).await;
    expect_error(f.addr, &format!("/api/v1/hotspots/{unknown}"), 404).await;
    for bad in [
        "/api/v1/hotspots/not-an-address/history".to_string(),
        "/api/v1/hotspots/0OIl/history".to_string(),
        format!("/api/v1/hotspots/{}/history", "1".repeat(500)),
        format!("/api/v1/hotspots/{b}/history?limit=5000"),
        format!("/api/v1/hotspots/{b}/history?offset=x"),
        "/api/v1/hotspots/%ff%fe".to_string(),
        "/api/v1/hotspots/%00".to_string(),
        "/api/v1/hotspots/%E2%98%83".to_string(),
    ] {
        expect_error(f.addr, &bad, 400).await;
    }
}

#[tokio::test]
async fn every_reason_code_is_explained() {
    let f = fixture().await;
    let reasons = get(f.addr, "/api/v1/reasons").await.json();
    let check = |kind: &str, codes: Vec<&str>| {
        let listed = reasons[kind].as_array().unwrap();
        assert_eq!(listed.len(), codes.len(), "{kind}");
        for (entry, code) in listed.iter().zip(&codes) {
            assert_eq!(entry["code"], *code);
            let text = entry["explanation"]
                .as_str()
                .unwrap_or_else(|| panic!("{kind} reason {code} is not explained"));
            assert!(text.len() > 20 && text.ends_with('.'), "{code}: {text}");
        }
    };
    check(
        "beacon",
        BeaconReason::ALL.iter().map(BeaconReason::code).collect(),
    );
    check(
        "witness",
        WitnessReason::ALL.iter().map(WitnessReason::code).collect(),
    );
    check(
        "ingest",
        IngestReason::ALL.iter().map(IngestReason::code).collect(),
    );
    check(
        "reward",
        oracle::reason::RewardReason::ALL
            .iter()
            .map(oracle::reason::RewardReason::code)
            .collect(),
    );
    for r in BeaconReason::ALL {
        assert!(explain("beacon", r.code()).is_some(), "{r}");
    }
    for r in WitnessReason::ALL {
        assert!(explain("witness", r.code()).is_some(), "{r}");
    }
    for r in IngestReason::ALL {
        assert!(explain("assertion", r.code()).is_some(), "{r}");
    }
    assert_eq!(explain("beacon", "no_such_code"), None);
    // Shared codes are explained for their own kind.
    assert_ne!(
        explain("beacon", "unknown_gateway"),
        explain("witness", "unknown_gateway")
    );
}

#[tokio::test]
async fn coverage_cells_at_several_resolutions() {
    let f = fixture().await;
    let counts = |h: &Hotspot| {
        let key = h.pub_key();
        let f = &f;
        async move {
            f.net
                .oracle
                .store()
                .report_counts()
                .await
                .unwrap()
                .get(&key)
                .copied()
                .unwrap_or_default()
        }
    };
    let default = get(f.addr, "/api/v1/coverage").await.json();
    let explicit = get(f.addr, "/api/v1/coverage?resolution=8").await.json();
    assert_eq!(default, explicit);
    assert_eq!(default["type"], "FeatureCollection");
    let features = default["features"].as_array().unwrap();
    assert_eq!(features.len(), 4, "four hotspots in four res-8 cells");
    let mut hotspots = 0;
    let mut witnesses_valid = 0;
    for feature in features {
        let props = &feature["properties"];
        assert_eq!(props["resolution"], 8);
        assert_eq!(feature["geometry"]["type"], "Polygon");
        let ring = feature["geometry"]["coordinates"][0].as_array().unwrap();
        assert!(ring.len() >= 7 && ring.first() == ring.last());
        assert_eq!(
            props["addresses"].as_array().unwrap().len() as u64,
            props["hotspots"].as_u64().unwrap()
        );
        hotspots += props["hotspots"].as_u64().unwrap();
        witnesses_valid += props["witnesses_valid"].as_u64().unwrap();
    }
    assert_eq!(hotspots, 4);
    let mut expected = 0;
    for h in f.witnesses.iter().chain([&f.beaconer, &f.far]) {
        expected += counts(h).await.witnesses_valid;
    }
    assert_eq!(witnesses_valid, expected);
    assert_eq!(witnesses_valid, 2);

    // Coarser cells merge the three Austin hotspots; the far one keeps its own cell.
    let coarse = get(f.addr, "/api/v1/coverage?resolution=6").await.json();
    let coarse = coarse["features"].as_array().unwrap();
    assert_eq!(coarse.len(), 2);
    let sizes: BTreeSet<u64> = coarse
        .iter()
        .map(|f| f["properties"]["hotspots"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, BTreeSet::from([1, 3]));
    let fine = get(f.addr, "/api/v1/coverage?resolution=10").await.json();
    assert_eq!(fine["features"].as_array().unwrap().len(), 4);

    for bad in ["0", "2", "11", "15", "16", "255", "256", "-1", "x", "8.5"] {
        expect_error(f.addr, &format!("/api/v1/coverage?resolution={bad}"), 400).await;
    }
    expect_error(f.addr, "/api/v1/coverage?res=8", 400).await;
}

#[tokio::test]
async fn closed_epochs_and_their_rewards() {
    let f = fixture().await;
    let epochs = get(f.addr, "/api/v1/epochs").await.json();
    assert_eq!(epochs["total"], 1);
    let listed = &epochs["epochs"][0];
    assert_eq!(listed["epoch"], f.epoch);
    let report = f.net.oracle.epoch_report(f.epoch).await.unwrap().unwrap();
    assert_eq!(listed["hotspots"], report.rewards.len());
    assert_eq!(
        listed["total"],
        report.rewards.iter().map(|r| r.total).sum::<u64>()
    );

    // A second, empty epoch comes first (newest first).
    f.net.clock.set((f.epoch + 2) * DAY_MS + 200_000);
    f.net.oracle.close_epoch(f.epoch + 1).await.unwrap();
    let epochs = get(f.addr, "/api/v1/epochs?limit=1").await.json();
    assert_eq!(epochs["total"], 2);
    assert_eq!(epochs["epochs"].as_array().unwrap().len(), 1);
    assert_eq!(epochs["epochs"][0]["epoch"], f.epoch + 1);
    assert_eq!(epochs["epochs"][0]["hotspots"], 0);
    let second = get(f.addr, "/api/v1/epochs?limit=1&offset=1").await.json();
    assert_eq!(second["epochs"][0]["epoch"], f.epoch);

    let rewards = get(f.addr, &format!("/api/v1/epochs/{}/rewards", f.epoch))
        .await
        .json();
    assert_eq!(rewards["epoch"], f.epoch);
    assert_eq!(
        rewards["rewards"].as_array().unwrap().len(),
        report.rewards.len()
    );
    expect_error(
        f.addr,
        &format!("/api/v1/epochs/{}/rewards", f.epoch + 5),
        404,
    )
    .await;
    for bad in [
        "abc",
        "-1",
        "1.5",
        "99999999999999999999999999",
        "18446744073709551615",
        "9223372036854775808",
        "%ff",
    ] {
        expect_error(f.addr, &format!("/api/v1/epochs/{bad}/rewards"), 400).await;
    }
    expect_error(f.addr, "/api/v1/epochs?limit=0", 400).await;

    let stats = get(f.addr, "/api/v1/stats").await.json();
    assert_eq!(stats["last_closed_epoch"], f.epoch + 1);
    assert_eq!(stats["counts"]["epochs_closed"], 2);
    assert_eq!(stats["counts"]["gateways"], 5);
    assert_eq!(stats["counts"]["witnesses_valid"], 2);
}

#[tokio::test]
async fn limits_unknown_routes_and_methods_answer_json_errors() {
    let f = fixture().await;
    let long = format!("/api/v1/hotspots?limit=1&x={}", "a".repeat(MAX_URI));
    expect_error(f.addr, &long, 414).await;
    let long_path = format!("/api/v1/hotspots/{}", "1".repeat(MAX_URI + 10));
    expect_error(f.addr, &long_path, 414).await;

    let reply = send(f.addr, "POST", "/api/v1/stats", &vec![b'x'; 100_000]).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.json()["error"].is_string());
    let reply = send(f.addr, "POST", "/api/v1/stats", b"{}").await;
    assert_eq!(reply.status, 405, "{}", reply.body);
    assert!(reply.json()["error"].is_string());
    let reply = send(f.addr, "DELETE", "/api/v1/hotspots", b"").await;
    assert_eq!(reply.status, 405);

    for unknown in [
        "/no/such/path",
        "/api/v1",
        "/api/v2/hotspots",
        "/assets/../Cargo.toml",
        "/assets/map.js.map",
        "/api/v1/epochs/1/rewards/extra",
    ] {
        let reply = get(f.addr, unknown).await;
        assert_eq!(reply.status, 404, "{unknown}");
        assert_eq!(reply.json()["error"], "no such path", "{unknown}");
    }
    let reply = get(f.addr, "/api/v1/stats").await;
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn the_map_page_and_its_assets_are_served_by_the_oracle() {
    let f = fixture().await;
    for path in ["/", "/map"] {
        let reply = get(f.addr, path).await;
        assert_eq!(reply.status, 200);
        assert!(reply.headers["content-type"].starts_with("text/html"));
        let csp = &reply.headers["content-security-policy"];
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
        assert!(reply.body.contains(r#"<script src="/assets/map.js""#));
        assert!(reply.body.contains(r#"<table id="hotspot-table">"#));
        // Nothing is loaded from anywhere else.
        assert!(!reply.body.contains("http://") && !reply.body.contains("https://"));
    }
    let js = get(f.addr, "/assets/map.js").await;
    assert_eq!(js.status, 200);
    assert!(js.headers["content-type"].starts_with("text/javascript"));
    assert!(js.body.contains("/api/v1/coverage") && js.body.contains("/api/v1/hotspots"));
    let css = get(f.addr, "/assets/map.css").await;
    assert_eq!(css.status, 200);
    assert!(css.headers["content-type"].starts_with("text/css"));
    for body in [&js.body, &css.body] {
        assert!(!body.contains("https://") && !body.contains("//cdn"));
    }
}

/// The path with every `{param}` replaced by a value that exists in the fixture (the archive
/// file is the manifest of the fixture's epoch, which `oracle::archive` names by its hash).
fn concrete(path: &str, address: &str, f: &Fixture) -> String {
    path.replace("{address}", address)
        .replace("{epoch}", &f.epoch.to_string())
        .replace("{sha256}", &f.manifest)
}

#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let f = fixture().await;
    let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("the document is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let served = get(f.addr, "/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.json(), doc);

    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let routed: BTreeSet<String> = route_paths().into_iter().map(String::from).collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.json: {undocumented:?}"
    );

    // Every documented operation answers with a documented status and content type; with the
    // parameters' examples for the query, and the fixture's hotspot and epoch in the path.
    let address = f.beaconer.key.address().to_string();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(method, "get", "{path}: only GET routes exist");
            operations += 1;
            let mut query = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = resolve(&doc, p);
                if p["in"] == "query" {
                    let example = match &p["example"] {
                        Value::String(text) => text.replace(' ', "%20"),
                        other => other.to_string(),
                    };
                    query.push(format!("{}={example}", p["name"].as_str().unwrap()));
                }
            }
            let mut uri = concrete(path, &address, &f);
            if !query.is_empty() {
                uri = format!("{uri}?{}", query.join("&"));
            }
            let reply = get(f.addr, &uri).await;
            assert_eq!(reply.status, 200, "{uri}: {}", reply.body);
            let content = &resolve(&doc, &op["responses"]["200"])["content"];
            let served_type = reply.headers["content-type"].split(';').next().unwrap();
            assert!(
                content.get(served_type).is_some(),
                "{uri}: serves {served_type}, documents {content}"
            );
            if served_type == "application/json" {
                check_required(&doc, &content[served_type]["schema"], &reply.json(), &uri);
            }
            let documented: BTreeSet<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|status| status.parse().unwrap())
                .collect();
            // The body timeout, size limits and rate limit stand before every route.
            for status in [408, 413, 414, 429] {
                assert!(
                    documented.contains(&status),
                    "{path}: {status} undocumented"
                );
            }
            for (uri, status) in probe(&f, &doc, path, op).await {
                assert!(
                    documented.contains(&status),
                    "{uri} answers {status}, {path} documents {documented:?}"
                );
            }
            check_parameter_formats(&doc, op, path);
        }
    }
    assert_eq!(operations, documented.len());

    // Every reference resolves.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let target = pointer(&doc, &r);
        assert!(target.is_some(), "dangling $ref {r}");
    }
}

/// Requests for what `path` can answer besides 200: each path parameter malformed and
/// well-formed but unknown, each query parameter malformed, an unknown query parameter, an
/// oversized URI and body; with the status each got.
async fn probe(f: &Fixture, doc: &Value, path: &str, op: &Value) -> Vec<(String, u16)> {
    let address = f.beaconer.key.address().to_string();
    let unknown = poc::Keypair::from_seed(99, 9).address().to_string();
    let mut uris = vec![
        format!("{}?zzz=1", concrete(path, &address, f)),
        format!(
            "{}?pad={}",
            concrete(path, &address, f),
            "a".repeat(MAX_URI)
        ),
    ];
    for p in op["parameters"].as_array().into_iter().flatten() {
        let p = resolve(doc, p);
        let name = p["name"].as_str().unwrap();
        let base = concrete(path, &address, f);
        if p["in"] == "query" {
            uris.push(format!("{base}?{name}=%2B1"));
            uris.push(format!("{base}?{name}=x"));
            continue;
        }
        let template = format!("{{{name}}}");
        for value in ["%2B1", "x", unknown.as_str(), "999999"] {
            let with = path.replace(&template, value);
            uris.push(concrete(&with, &address, f));
        }
    }
    let mut answers = Vec::new();
    for uri in uris {
        let status = get(f.addr, &uri).await.status;
        answers.push((uri.chars().take(120).collect(), status));
    }
    let uri = concrete(path, &address, f);
    let status = send(f.addr, "GET", &uri, &vec![b'x'; MAX_BODY + 1])
        .await
        .status;
    answers.push((format!("{uri} with a large body"), status));
    answers
}

/// Each parameter's schema states the format and the limits the server enforces.
fn check_parameter_formats(doc: &Value, op: &Value, path: &str) {
    for p in op["parameters"].as_array().into_iter().flatten() {
        let p = resolve(doc, p);
        let schema = resolve(doc, &p["schema"]);
        let name = p["name"].as_str().unwrap();
        let at = format!("{path} {name}");
        match name {
            "address" => {
                assert_eq!(schema["minLength"], ADDRESS_MIN_LEN, "{at}");
                assert_eq!(schema["maxLength"], ADDRESS_MAX_LEN, "{at}");
                assert!(schema["pattern"].is_string(), "{at}");
                let example = p["example"].as_str().unwrap();
                assert!(parse_address(example).is_ok(), "{at}: example {example}");
            }
            "limit" => assert_eq!(schema["maximum"], MAX_LIMIT, "{at}"),
            "offset" | "epoch" => assert_eq!(schema["maximum"], MAX_NUMBER, "{at}"),
            "resolution" => assert_eq!(schema["maximum"], MAX_COVERAGE_RESOLUTION, "{at}"),
            "q" => assert_eq!(schema["maxLength"], MAX_QUERY_LEN, "{at}"),
            "sha256" => {
                assert_eq!(schema["minLength"], 64, "{at}");
                assert_eq!(schema["maxLength"], 64, "{at}");
                assert!(schema["pattern"].is_string(), "{at}");
            }
            other => panic!("{at}: no check for parameter {other}"),
        }
    }
}

fn pointer<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => resolve(doc, pointer(doc, r).expect("a resolvable $ref")),
        None => v,
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Checks that `value` has every property the schema requires, recursively through objects,
/// arrays and `allOf`.
fn check_required(doc: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(doc, schema);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        check_required(doc, part, value, at);
    }
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    for name in schema["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap();
        assert!(
            value.get(name).is_some(),
            "{at}: missing required {name} in {value}"
        );
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), value.as_object()) {
        for (name, sub) in props {
            if let Some(v) = obj.get(name) {
                check_required(doc, sub, v, &format!("{at}.{name}"));
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for v in list {
            check_required(doc, items, v, at);
        }
    }
}

#[tokio::test]
async fn every_route_reads_epochs_by_one_rule() {
    let f = fixture().await;
    let address = f.beaconer.key.address();
    let epoch = f.epoch;
    let routes = |e: &str| {
        [
            format!("/api/v1/epochs/{e}/rewards"),
            format!("/api/v1/ledger/{e}"),
            format!("/api/v1/ledger/{e}/proof/{address}"),
        ]
    };
    for path in routes(&epoch.to_string()) {
        assert_eq!(get(f.addr, &path).await.status, 200, "{path}");
    }
    for (bad, reason) in [
        ("9223372036854775808".to_string(), "out of range"),
        ("18446744073709551616".to_string(), "out of range"),
        (format!("+{epoch}"), "'+' at byte 0"),
        (format!("%2B{epoch}"), "'+' at byte 0"),
        ("-1".to_string(), "'-' at byte 0"),
        ("1.5".to_string(), "'.' at byte 1"),
        (format!("%20{epoch}"), "' ' at byte 0"),
    ] {
        let mut messages = BTreeSet::new();
        for path in routes(&bad) {
            let message = expect_error(f.addr, &path, 400).await;
            assert!(message.contains(reason), "{path}: {message}");
            messages.insert(message);
        }
        assert_eq!(messages.len(), 1, "{bad}: {messages:?}");
    }
}

#[tokio::test]
async fn every_query_reads_numbers_by_the_same_rule() {
    let f = fixture().await;
    let owner = f.beaconer.key.address();
    for (path, reason) in [
        ("/api/v1/hotspots?limit=%2B5".to_string(), "'+' at byte 0"),
        ("/api/v1/epochs?offset=%2B1".to_string(), "'+' at byte 0"),
        (
            "/api/v1/coverage?resolution=%2B8".to_string(),
            "'+' at byte 0",
        ),
        (
            format!("/api/v1/owners/{owner}?limit=%2B5"),
            "'+' at byte 0",
        ),
        ("/api/v1/hotspots?limit=1001".to_string(), "1 to 1000"),
        ("/api/v1/coverage?resolution=11".to_string(), "3 to 10"),
        (
            "/api/v1/epochs?offset=9223372036854775808".to_string(),
            "out of range",
        ),
    ] {
        let message = expect_error(f.addr, &path, 400).await;
        assert!(message.contains(reason), "{path}: {message}");
    }
}

#[tokio::test]
async fn every_route_refuses_a_bad_address_with_the_same_reason() {
    let f = fixture().await;
    let address = f.beaconer.key.address().to_string();
    let routes = |a: &str| {
        [
            format!("/api/v1/hotspots/{a}"),
            format!("/api/v1/hotspots/{a}/history"),
            format!("/api/v1/hotspots/{a}/reputation"),
            format!("/api/v1/owners/{a}"),
            format!("/api/v1/ledger/{}/proof/{a}", f.epoch),
        ]
    };
    let with_l = format!("l{}", &address[1..]);
    let mut changed: Vec<char> = address.chars().collect();
    changed[20] = if changed[20] == 'a' { 'b' } else { 'a' };
    let changed: String = changed.into_iter().collect();
    for (bad, reason) in [
        ("abc".to_string(), "3 characters"),
        ("1".repeat(60), "60 characters"),
        (with_l, "invalid character"),
        (changed, "checksum"),
    ] {
        let mut messages = BTreeSet::new();
        for path in routes(&bad) {
            let message = expect_error(f.addr, &path, 400).await;
            assert!(message.contains(reason), "{path}: {message}");
            assert!(message.contains("base58 of 37 bytes"), "{path}: {message}");
            messages.insert(message);
        }
        assert_eq!(messages.len(), 1, "{bad}: {messages:?}");
    }
}
