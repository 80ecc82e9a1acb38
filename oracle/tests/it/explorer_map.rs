//! The map page in headless Chromium: an oracle with asserted hotspots and a closed epoch on
//! 127.0.0.1:0, the page loaded over the DevTools protocol, and the drawn hexes, hotspot
//! markers and table rows read back from the DOM, with no console errors. A screenshot lands in
//! the temporary directory (`explorer-map.png`).
//!
//! Chromium is `$CHROMIUM` or `/usr/bin/chromium` (Debian's `chromium`, installed by
//! `scripts/setup.sh --tests`). Without it the test is skipped, except under `CI=true`, where
//! it fails.

use crate::common::*;
use chromiumoxide::cdp::browser_protocol::log::{EnableParams, EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, BrowserConfig};
use futures::StreamExt;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_draws_every_hex_and_hotspot_without_console_errors() {
    let Some(chromium) = chromium() else {
        return;
    };

    // Four asserted hotspots in four res-8 cells, one without a location, a closed epoch.
    let net = Net::new().await;
    let (addr, _task) = net
        .oracle
        .serve_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (beaconer, _witness, beacon, _) = net.baseline().await;
    let west = net.hotspot(3, (30.2672, -97.7631)).await;
    net.oracle
        .submit_witness(witness_report(&west, &beacon, RSSI - 20, SNR))
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

    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(profile.path())
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
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.expect("Chromium starts");
    let handler_task = tokio::spawn(async move { while handler.next().await.is_some() {} });

    let page = browser.new_page("about:blank").await.unwrap();
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

    let url = format!("http://{addr}/");
    page.goto(url.as_str()).await.expect("the page loads");
    let mut state = String::new();
    for _ in 0..100 {
        state = eval_string(&page, "document.body.dataset.state || ''").await;
        if !state.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        state,
        "ready",
        "page state; errors: {:?}",
        errors.lock().unwrap()
    );

    assert_eq!(
        eval_u64(
            &page,
            "document.querySelectorAll('#map polygon.hex').length"
        )
        .await,
        4
    );
    assert_eq!(
        eval_u64(
            &page,
            "document.querySelectorAll('#map circle.hotspot').length"
        )
        .await,
        4
    );
    assert_eq!(
        eval_u64(
            &page,
            "document.querySelectorAll('#hotspot-table tbody tr').length"
        )
        .await,
        5
    );
    assert_eq!(
        eval_u64(
            &page,
            "document.querySelectorAll('#epoch-table tbody tr').length"
        )
        .await,
        1
    );
    // Every hex and marker lies inside the drawing.
    let outside = eval_u64(
        &page,
        "[...document.querySelectorAll('#map polygon.hex, #map circle.hotspot')].filter(n => {
            const b = n.getBBox();
            return b.x < 0 || b.y < 0 || b.x + b.width > 1000 || b.y + b.height > 640;
        }).length",
    )
    .await;
    assert_eq!(outside, 0);
    // Each marker sits inside its hex.
    let misplaced = eval_u64(
        &page,
        "[...document.querySelectorAll('#map circle.hotspot')].filter(c => {
            const svg = document.getElementById('map');
            const p = svg.createSVGPoint();
            p.x = +c.getAttribute('cx'); p.y = +c.getAttribute('cy');
            return ![...document.querySelectorAll('#map polygon.hex')].some(h => h.isPointInFill(p));
        }).length",
    )
    .await;
    assert_eq!(misplaced, 0);

    // Clicking the beaconer's marker shows its address, counts and rewards.
    let address = beaconer.key.address().to_string();
    let details = eval_string(
        &page,
        &format!(
            "(() => {{
                const m = document.querySelector('#map circle.hotspot[data-address=\"{address}\"]');
                m.dispatchEvent(new MouseEvent('click', {{ bubbles: true }}));
                return document.getElementById('details-body').textContent;
            }})()"
        ),
    )
    .await;
    assert!(details.contains(&address), "{details}");
    let total = format!("Rewards{rewarded_total}");
    let total_grouped = format!("Rewards{}", format_grouped(rewarded_total));
    assert!(
        details.contains(&total) || details.contains(&total_grouped),
        "rewards {total} in {details}"
    );
    // Hovering shows the tooltip.
    let tip = eval_string(
        &page,
        &format!(
            "(() => {{
                const m = document.querySelector('#map circle.hotspot[data-address=\"{address}\"]');
                const r = m.getBoundingClientRect();
                m.dispatchEvent(new MouseEvent('mousemove', {{ bubbles: true, clientX: r.x + 3, clientY: r.y + 3 }}));
                const t = document.getElementById('tooltip');
                return t.hidden ? '' : t.textContent;
            }})()"
        ),
    )
    .await;
    assert!(
        tip.contains(&address) && tip.contains("Valid beacons 1"),
        "{tip}"
    );

    let shot = std::env::temp_dir().join("explorer-map.png");
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), &shot)
        .await
        .unwrap();
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);

    tokio::time::sleep(Duration::from_millis(200)).await;
    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    browser.close().await.unwrap();
    let _ = browser.wait().await;
    watch.abort();
    handler_task.abort();
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
