//! The explorer's pages in headless Chromium: an oracle with asserted hotspots, a closed epoch
//! and a later epoch in which the defences flagged a hotspot, on 127.0.0.1:0, with its default
//! per-client rate limit; the pages loaded over the DevTools protocol and what a user needs read
//! back from the DOM: the map's base layer, zoom and scale bar, the hex-resolution switch, a
//! selected hotspot's witness links drawn as lines, the search; a hotspot page's reward chart
//! in the token's unit, its invalid reports and flags with the reasons in words; the ledger
//! page with the single oracle's entry, and with an entry three operators sharing a report log
//! (NATS JetStream, as in `report_log`) closed, two signing it and one dissenting; and no
//! console errors. Screenshots land in `target/explorer-shots/` (`map.png`, `hotspot.png`,
//! `hotspot-flagged.png`, `ledger.png`, `ledger-quorum.png`).
//!
//! Chromium is `$CHROMIUM` or `/usr/bin/chromium` (Debian's `chromium`, installed by
//! `scripts/setup.sh --tests`). Without it the test is skipped, except under `CI=true`, where
//! it fails.

use crate::common::*;
use crate::report_log::{self, Operators};
use chromiumoxide::cdp::browser_protocol::log::{EnableParams, EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, BrowserConfig};
use futures::StreamExt;
use poc::proto::Region;
use poc::Keypair;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but Chromium is missing at {}: run scripts/setup.sh --tests",
            path.display()
        );
    }
    eprintln!(
        "skipping the map page test: no Chromium at {}",
        path.display()
    );
    None
}

async fn eval_u64(page: &chromiumoxide::Page, js: &str) -> u64 {
    page.evaluate(js)
        .await
        .unwrap_or_else(|e| panic!("{js}: {e}"))
        .into_value()
        .unwrap_or_else(|e| panic!("{js}: {e}"))
}

async fn eval_string(page: &chromiumoxide::Page, js: &str) -> String {
    page.evaluate(js)
        .await
        .unwrap_or_else(|e| panic!("{js}: {e}"))
        .into_value()
        .unwrap_or_else(|e| panic!("{js}: {e}"))
}

/// Where the screenshots go: `target/explorer-shots/` of the build.
fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("explorer-shots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `js` (a boolean expression) every 100 ms for up to 15 s.
async fn wait_for(page: &chromiumoxide::Page, js: &str) -> bool {
    for _ in 0..150 {
        let done: bool = page
            .evaluate(js)
            .await
            .ok()
            .and_then(|v| v.into_value().ok())
            .unwrap_or(false);
        if done {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Loads `url` and waits for the page's script to say it is ready.
async fn open(page: &chromiumoxide::Page, url: &str, errors: &Arc<Mutex<Vec<String>>>) {
    page.goto(url).await.expect("the page loads");
    let ready = wait_for(page, "document.body.dataset.state === 'ready'").await;
    let state = eval_string(page, "document.body.dataset.state || ''").await;
    assert!(
        ready,
        "{url}: state {state:?}; errors: {:?}",
        errors.lock().unwrap()
    );
}

async fn screenshot(page: &chromiumoxide::Page, name: &str) -> PathBuf {
    let shot = shots_dir().join(name);
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), &shot)
        .await
        .unwrap();
    assert!(std::fs::metadata(&shot).unwrap().len() > 20_000, "{name}");
    shot
}

/// Collects console errors, exceptions and failed loads of `page`.
async fn watch_errors(
    page: &chromiumoxide::Page,
) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    page.execute(EnableParams::default()).await.unwrap();
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut console = page
        .event_listener::<EventConsoleApiCalled>()
        .await
        .unwrap();
    let mut exceptions = page.event_listener::<EventExceptionThrown>().await.unwrap();
    let mut log = page.event_listener::<EventEntryAdded>().await.unwrap();
    let sink = errors.clone();
    let watch = tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                Some(e) = console.next() => {
                    if !matches!(e.r#type, ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert) {
                        continue;
                    }
                    format!("console.{:?}: {:?}", e.r#type, e.args.iter().map(|a| &a.value).collect::<Vec<_>>())
                }
                Some(e) = exceptions.next() => format!("exception: {:?}", e.exception_details),
                Some(e) = log.next() => {
                    if e.entry.level != LogEntryLevel::Error {
                        continue;
                    }
                    format!("log: {} {:?}", e.entry.text, e.entry.url)
                }
                else => break,
            };
            sink.lock().unwrap().push(message);
        }
    });
    (errors, watch)
}

fn browser_config(chromium: PathBuf, profile: &std::path::Path) -> BrowserConfig {
    BrowserConfig::builder()
        .chrome_executable(chromium)
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(profile)
        .window_size(1280, 1000)
        .args([
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .launch_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The fixture's network: the beaconer heard by two witnesses (one 1.9 km west) and by
/// itself (invalid), a far hotspot, one without a location, the epoch closed; and the next
/// epoch stored as closed with the west witness flagged for implausible links.
struct Network {
    net: Net,
    addr: std::net::SocketAddr,
    beaconer: Hotspot,
    west: Hotspot,
    rewarded_total: u64,
}

async fn network() -> Network {
    // Without HIP-106 reciprocity the beaconer is paid; the rate limit is the default one.
    let net = Net::with_config(oracle::OracleConfig {
        reciprocity_window_ms: 0,
        ..oracle::OracleConfig::open()
    })
    .await;
    let (addr, _task) = net.serve_http().await;
    let (beaconer, _witness, beacon, _) = net.baseline().await;
    let west = net.hotspot(3, (30.2672, -97.7631)).await;
    net.oracle
        .submit_witness(witness_report(&west, &beacon, RSSI - 20, SNR))
        .await
        .unwrap();
    net.oracle
        .submit_witness(witness_report(&beaconer, &beacon, RSSI, SNR))
        .await
        .unwrap();
    net.hotspot(4, (30.3900, -97.6800)).await;
    net.unasserted(5).await;
    net.settle().await;
    let epoch = START_MS / DAY_MS;
    net.clock.set((epoch + 1) * DAY_MS + 200_000);
    let report = net.oracle.close_epoch(epoch).await.unwrap();
    let rewarded_total = report
        .rewards
        .iter()
        .find(|r| r.address == beaconer.key.address().to_string())
        .map_or(0, |r| r.total);
    let mut flagged = report.clone();
    flagged.epoch = epoch + 1;
    flagged.start_ms += DAY_MS;
    flagged.end_ms += DAY_MS;
    flagged.rewards.clear();
    flagged.flagged.insert(
        west.key.address().to_string(),
        vec!["implausible_links".to_string()],
    );
    let json = serde_json::to_string(&flagged).unwrap();
    net.oracle
        .store()
        .put_epoch(epoch + 1, (epoch + 2) * DAY_MS, &json, &[], &[])
        .await
        .unwrap();
    Network {
        net,
        addr,
        beaconer,
        west,
        rewarded_total,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_pages_show_what_a_user_needs_without_console_errors() {
    let Some(chromium) = chromium() else {
        return;
    };
    let n = network().await;
    let profile = tempfile::tempdir().unwrap();
    let (mut browser, mut handler) = Browser::launch(browser_config(chromium, profile.path()))
        .await
        .expect("Chromium starts");
    let handler_task = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let page = browser.new_page("about:blank").await.unwrap();
    let (errors, watch) = watch_errors(&page).await;

    let mut shots = vec![check_map(&page, &n, &errors).await];
    shots.push(check_hotspot(&page, &n, &errors).await);
    shots.push(check_flagged(&page, &n, &errors).await);
    shots.push(check_single_oracle_ledger(&page, &n, &errors).await);
    let quorum = dissented_quorum().await;
    shots.push(check_quorum_ledger(&page, &quorum, &errors).await);
    quorum.0.delete_stream().await;
    eprintln!("screenshots: {shots:?}");

    tokio::time::sleep(Duration::from_millis(200)).await;
    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(n.net);
    browser.close().await.unwrap();
    let _ = browser.wait().await;
    watch.abort();
    handler_task.abort();
}

/// The map: base layer, zoom, scale bar, hexes at two resolutions, markers, a hotspot's links,
/// names linking to hotspot pages, the search.
async fn check_map(
    page: &chromiumoxide::Page,
    n: &Network,
    errors: &Arc<Mutex<Vec<String>>>,
) -> PathBuf {
    open(page, &format!("http://{}/", n.addr), errors).await;
    let count = |selector: &str| format!("document.querySelectorAll('{selector}').length");
    assert!(
        eval_u64(page, &count("#map path.base-land")).await > 100,
        "Natural Earth countries"
    );
    assert_eq!(
        eval_u64(page, &count("#map .leaflet-control-zoom-in")).await,
        1
    );
    let scale = eval_string(
        page,
        "document.querySelector('#map .leaflet-control-scale-line').textContent",
    )
    .await;
    assert!(
        scale.ends_with(" m") || scale.ends_with(" km"),
        "scale bar {scale:?}"
    );
    assert_eq!(eval_u64(page, &count("#resolution option")).await, 8);
    assert_eq!(eval_u64(page, &count("#map path.hex")).await, 4);
    assert_eq!(eval_u64(page, &count("#map path.hotspot")).await, 4);
    assert_eq!(eval_u64(page, &count("#hotspot-table tbody tr")).await, 5);
    assert_eq!(eval_u64(page, &count("#epoch-table tbody tr")).await, 2);

    // Names link to the hotspot pages; amounts carry the token's unit.
    let address = n.beaconer.key.address().to_string();
    let name = oracle::names::hotspot_name(&n.beaconer.key.address());
    let row = eval_string(page, &format!(
        "(() => {{ const r = document.querySelector('#hotspot-table tr[data-address=\"{address}\"]');
            return r.querySelector('a').getAttribute('href') + ' ' + r.textContent; }})()"
    ))
    .await;
    assert!(
        row.starts_with(&format!("/hotspot?address={address} {name}")),
        "{row}"
    );
    let total = oracle_amount(n.rewarded_total);
    assert!(row.contains(&total), "{total} in {row}");

    // A coarser resolution merges the Austin cells.
    page.evaluate("(() => { const s = document.getElementById('resolution'); s.value = '5'; s.dispatchEvent(new Event('change')); })()")
        .await
        .unwrap();
    assert!(wait_for(page, "document.body.dataset.resolution === '5'").await);
    let coarse = eval_u64(page, &count("#map path.hex")).await;
    assert!((1..4).contains(&coarse), "{coarse} cells at resolution 5");
    page.evaluate("(() => { const s = document.getElementById('resolution'); s.value = '8'; s.dispatchEvent(new Event('change')); })()")
        .await
        .unwrap();
    assert!(wait_for(page, "document.body.dataset.resolution === '8'").await);
    assert_eq!(eval_u64(page, &count("#map path.hex")).await, 4);

    // Clicking the beaconer draws its witness links.
    page.evaluate(format!(
        "document.querySelector('#map path.hotspot[data-address=\"{address}\"]').dispatchEvent(new MouseEvent('click', {{ bubbles: true }}))"
    ))
    .await
    .unwrap();
    assert!(wait_for(page, "document.body.dataset.links !== undefined").await);
    assert_eq!(eval_u64(page, &count("#map path.link-valid")).await, 2);
    let details = eval_string(page, "document.getElementById('details').textContent").await;
    assert!(
        details.contains(&address) && details.contains(&name),
        "{details}"
    );
    assert!(details.contains(&total), "{total} in {details}");

    // The search finds the hotspot by its name in capitals without dashes.
    let query = name.to_uppercase().replace('-', " ");
    page.evaluate(format!(
        "(() => {{ const i = document.getElementById('search-q'); i.value = '{query}'; i.dispatchEvent(new Event('input')); }})()"
    ))
    .await
    .unwrap();
    assert!(
        wait_for(
            page,
            &format!(
        "[...document.querySelectorAll('#search-results a')].some(a => a.textContent === '{name}')"
    )
        )
        .await,
        "search for {query}"
    );
    screenshot(page, "map.png").await
}

/// The beaconer's page: the reward chart in IOT, the verdict chart, the invalid self-witness
/// explained, links to the hotspots it was linked with.
async fn check_hotspot(
    page: &chromiumoxide::Page,
    n: &Network,
    errors: &Arc<Mutex<Vec<String>>>,
) -> PathBuf {
    let address = n.beaconer.key.address().to_string();
    open(
        page,
        &format!("http://{}/hotspot?address={address}", n.addr),
        errors,
    )
    .await;
    let name = oracle::names::hotspot_name(&n.beaconer.key.address());
    assert_eq!(
        eval_string(page, "document.getElementById('name').textContent").await,
        name
    );
    assert_eq!(
        eval_u64(
            page,
            "document.querySelectorAll('#reward-chart canvas').length"
        )
        .await,
        1
    );
    assert_eq!(
        eval_u64(
            page,
            "document.querySelectorAll('#validity-chart canvas').length"
        )
        .await,
        1
    );
    let unit = eval_string(page, "document.getElementById('reward-unit').textContent").await;
    assert!(
        unit.contains("IOT") && unit.contains("6 decimals"),
        "{unit}"
    );
    let summary = eval_string(page, "document.getElementById('summary').textContent").await;
    assert!(
        summary.contains(&oracle_amount(n.rewarded_total)),
        "{summary}"
    );
    let invalid = eval_string(
        page,
        "document.querySelector('#invalid-table tbody').textContent",
    )
    .await;
    assert!(
        invalid.contains("self_witness") && invalid.contains("cannot witness its own beacon"),
        "{invalid}"
    );
    let west = n.west.key.address().to_string();
    let linked = eval_u64(
        page,
        &format!(
            "document.querySelectorAll('#links-table a[href=\"/hotspot?address={west}\"]').length"
        ),
    )
    .await;
    assert_eq!(linked, 1);
    screenshot(page, "hotspot.png").await
}

/// The flagged witness's page: the flagged epoch paid nothing, its flag in words.
async fn check_flagged(
    page: &chromiumoxide::Page,
    n: &Network,
    errors: &Arc<Mutex<Vec<String>>>,
) -> PathBuf {
    let west = n.west.key.address().to_string();
    open(
        page,
        &format!("http://{}/hotspot?address={west}", n.addr),
        errors,
    )
    .await;
    let flagged = eval_string(
        page,
        "document.querySelector('#epoch-table tr.flagged').textContent",
    )
    .await;
    assert!(
        flagged.contains("implausible_links") && flagged.contains("far too improbable"),
        "{flagged}"
    );
    assert!(flagged.contains("0 IOT"), "{flagged}");
    // The flag's evidence: the hotspot's witness links of that epoch, on its page.
    let evidence = eval_string(
        page,
        "document.querySelector('#epoch-table tr.flagged a').getAttribute('href')",
    )
    .await;
    let epoch = START_MS / DAY_MS + 1;
    assert_eq!(
        evidence,
        format!("/hotspot?address={west}&epoch={epoch}#links-title")
    );
    open(page, &format!("http://{}{evidence}", n.addr), errors).await;
    let title = eval_string(page, "document.getElementById('links-title').textContent").await;
    assert_eq!(title, format!("Witness links in epoch {epoch}"));
    let status = eval_string(page, "document.getElementById('status').textContent").await;
    assert!(status.contains("Flagged"), "{status}");
    screenshot(page, "hotspot-flagged.png").await
}

/// The ledger page over the single oracle's ledger: its one entry, signed by the oracle.
async fn check_single_oracle_ledger(
    page: &chromiumoxide::Page,
    n: &Network,
    errors: &Arc<Mutex<Vec<String>>>,
) -> PathBuf {
    let entries = n.net.oracle.ledger_entries().unwrap();
    assert_eq!(entries.len(), 1);
    open(page, &format!("http://{}/ledger", n.addr), errors).await;
    let row = ledger_row(page, &entries[0]).await;
    let oracle = n.net.oracle.address();
    assert_eq!(row.signers, vec![oracle.to_string()]);
    assert_eq!(row.signed_by_class, "single-oracle");
    assert!(
        row.signed_by
            .contains(&oracle::names::hotspot_name(&oracle)),
        "{}",
        row.signed_by
    );
    assert_eq!(row.threshold, "single oracle");
    assert_eq!(row.dissent, "none");
    assert!(row.dissenters.is_empty());
    screenshot(page, "ledger.png").await
}

/// Three operators on one report log closed an epoch; the third, paying otherwise, signed
/// another entry. As in `report_log`, the second operator joins after the other two signed,
/// so the first sees the dissent before its quorum; the first two sign the entry that counts.
/// The second operator's key is also a hotspot's (asserted after the close), so its name
/// links to a hotspot page.
async fn dissented_quorum() -> (Operators, std::net::SocketAddr) {
    let mut ops = Operators::with_liar(3, Some(2)).await;
    ops.follow(0);
    ops.follow(2);
    report_log::assert_hotspots(&ops, &[0, 2]).await;
    report_log::round(&ops, 0, &[0, 2]).await;
    ops.advance(DAY_MS).await;
    ops.advance(1_000).await;
    ops.follow(1);
    ops.caught_up().await;
    report_log::ledger_of(&ops.oracles[0], 1).await;
    let operator = Keypair::from_seed(77, 1);
    let location = u64::from(cell((30.40, -97.60)));
    let a = assertion(&operator, location, GAIN, Region::Us915, ops.wall.now_ms());
    ops.oracles[0].assert_location(a).await.unwrap();
    ops.advance(1_000).await;
    let (addr, _task) = ops.oracles[0]
        .serve_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (ops, addr)
}

/// The ledger page of the first operator: the entry's two signers by name (the one that is a
/// hotspot linked to its page), "2 of 3", the third operator highlighted as dissenting.
async fn check_quorum_ledger(
    page: &chromiumoxide::Page,
    (ops, addr): &(Operators, std::net::SocketAddr),
    errors: &Arc<Mutex<Vec<String>>>,
) -> PathBuf {
    let entries = ops.oracles[0].ledger_entries().unwrap();
    assert_eq!(entries.len(), 1);
    open(page, &format!("http://{addr}/ledger"), errors).await;
    let row = ledger_row(page, &entries[0]).await;
    let address = |i: usize| ops.oracles[i].address();
    let mut signers = row.signers.clone();
    signers.sort();
    let mut expected = vec![address(0).to_string(), address(1).to_string()];
    expected.sort();
    assert_eq!(signers, expected);
    assert_eq!(row.signed_by_class, "signer");
    for i in 0..2 {
        let name = oracle::names::hotspot_name(&address(i));
        assert!(row.signed_by.contains(&name), "{name} in {}", row.signed_by);
    }
    assert_eq!(row.links, vec![format!("/hotspot?address={}", address(1))]);
    assert_eq!(row.threshold, "2 of 3 (2 signed)");
    assert_eq!(row.dissenters, vec![address(2).to_string()]);
    let liar = oracle::names::hotspot_name(&address(2));
    assert!(row.dissent.contains(&liar), "{liar} in {}", row.dissent);
    // Highlighted: the row and, more strongly, the dissenting cell.
    assert_eq!(row.row_class, "dissented");
    assert_eq!(row.dissent_background, "rgb(248, 208, 204)");
    screenshot(page, "ledger-quorum.png").await
}

/// What the ledger page shows for one entry.
#[derive(Debug, serde::Deserialize)]
struct LedgerRow {
    row_class: String,
    signers: Vec<String>,
    signed_by_class: String,
    signed_by: String,
    links: Vec<String>,
    threshold: String,
    dissenters: Vec<String>,
    dissent: String,
    dissent_background: String,
}

/// Reads the ledger page's row of `entry`, found by its epoch, and checks it shows the
/// entry's hash.
async fn ledger_row(page: &chromiumoxide::Page, entry: &ledger::LedgerEntry) -> LedgerRow {
    let epoch = entry.manifest.epoch;
    let js = format!(
        "(() => {{ const r = document.querySelector('#ledger-table tr[data-epoch=\"{epoch}\"]');
            const c = r.children;
            const addresses = (cell, kind) => [...cell.querySelectorAll('.operator' + kind)].map(o => o.dataset.address);
            return JSON.stringify({{
              hash: c[7].textContent,
              row_class: r.className,
              signers: addresses(c[4], ''),
              signed_by_class: c[4].querySelector('.operator').classList[1],
              signed_by: c[4].textContent,
              links: [...c[4].querySelectorAll('a')].map(a => a.getAttribute('href')),
              threshold: c[5].textContent,
              dissenters: addresses(c[6], '.dissenter'),
              dissent: c[6].textContent,
              dissent_background: getComputedStyle(c[6]).backgroundColor,
            }}); }})()"
    );
    let json = eval_string(page, &js).await;
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["hash"], hex::encode(entry.hash()), "{json}");
    serde_json::from_value(value).unwrap()
}

/// An amount in smallest units as the pages write it: IOT with 6 decimals, grouped.
fn oracle_amount(units: u64) -> String {
    let whole = format_grouped(units / 1_000_000);
    let fraction = format!("{:06}", units % 1_000_000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{whole} IOT")
    } else {
        format!("{whole}.{fraction} IOT")
    }
}

/// `n` with thousands separators, as the page's `toLocaleString("en-US")` writes it.
fn format_grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
