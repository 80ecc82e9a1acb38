//! Throughput of the oracle's stores, printed as figures (not a criterion harness: the epoch
//! benchmark builds a network of 100 000 hotspots once, which criterion would repeat).
//!
//! ```text
//! cargo bench -p oracle --bench throughput -- [--store sqlite|postgres|both]
//!     [--ingest N] [--batch N] [--in-flight N] [--paths single,batch,store] [--hotspots N] [--witnesses N]
//!     [--defences on|off] [--reuse NAME]
//! ```
//!
//! * ingest: N signed witness reports submitted by 1 024 concurrent callers through
//!   `Oracle::submit_witness` (key and signature checks, gateway lookup, durable store), each
//!   acknowledged only once committed; N other reports in batches of `--batch` (default 256,
//!   0 to skip) through `Oracle::submit_witnesses`, `--in-flight` batches at a time (by default
//!   as many as make 1 024 reports); and N through `Store::insert_witness` alone. `--paths` picks
//!   which of the three run. Each figure also gives the process's CPU time per report (user +
//!   system, from `/proc/self/stat`), which a busy machine changes less than the rate.
//! * verify + epoch: `--hotspots` asserted hotspots on a 2 km grid each send one beacon, heard
//!   by `--witnesses / --hotspots` neighbours on average: those whose reading, by a path law
//!   with 4 dB of shadowing per link, clears a threshold (before 2026-12-08 the nearest
//!   neighbours, every reading −115 dBm); the time of ingesting them, of the verifier's
//!   pass (`verify_pending`: every beacon and witness validated, statuses written, witnesses
//!   decided), and of closing the reward epoch (`close_epoch`). `--defences off` closes the
//!   epoch without the epoch-wide defences (`oracle::defences`), whose pairwise checks grow
//!   with the square of the hotspot count; the figure says which ran. The close writes the
//!   epoch's report archive and ledger entry (in a temporary directory), and `ledger audit`
//!   then recomputes the epoch from them ([`oracle::audit`]): its time, and that it matches.
//!
//! `--reuse NAME` keeps the verified network for the next run: in the SQLite file `NAME.sqlite`
//! of the working directory, or the PostgreSQL schema `bench_NAME`, with its report archive in
//! the directory `NAME-sqlite-archive` (or `NAME-postgres-archive`). A run that finds it
//! already there only closes the epoch again (its stored epochs deleted first), which skips
//! the minutes of signing, ingesting and verifying the full-size network.
//!
//! PostgreSQL runs use `DATABASE_URL` and a fresh schema dropped afterwards. `RUST_LOG=oracle=info`
//! prints the epoch close's phase timings and the defences' times.

use oracle::store::{GatewayRow, PostgresStore, SqliteStore, Store};
use oracle::{ManualClock, Oracle, OracleConfig};
use poc::proto::{self, Region};
use poc::{testkit, Keypair, RegionPlan};
mod grid;
use grid::NEAR;
use std::sync::Arc;
use std::time::Instant;

const DAY_MS: u64 = 86_400_000;
const START_MS: u64 = 20_800 * DAY_MS + 3_600_000;
const CONCURRENCY: usize = 1_024;
/// Standard deviation of the grid's per-link shadowing, in dB: real receivers never read every
/// beacon alike (a network whose readings are all equal is one radio behind many keys to
/// `shared_radio`), and the readings follow the grid's path law ([`path_gain_db`]).
const SHADOWING_DB: f64 = 4.0;

struct Args {
    stores: Vec<String>,
    ingest: usize,
    batch: usize,
    in_flight: usize,
    paths: Vec<String>,
    hotspots: usize,
    witnesses: usize,
    defences: bool,
    reuse: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        stores: vec!["sqlite".into(), "postgres".into()],
        ingest: 100_000,
        batch: 256,
        in_flight: 0,
        paths: vec!["single".into(), "batch".into(), "store".into()],
        hotspots: 100_000,
        witnesses: 1_000_000,
        defences: true,
        reuse: None,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        let number = || value.parse::<usize>().expect("a number");
        match argv[i].as_str() {
            "--store" => {
                a.stores = match value.as_str() {
                    "both" => vec!["sqlite".into(), "postgres".into()],
                    other => vec![other.to_string()],
                };
                i += 1;
            }
            "--ingest" => {
                a.ingest = number();
                i += 1;
            }
            "--paths" => {
                a.paths = value.split(',').map(str::to_string).collect();
                i += 1;
            }
            "--in-flight" => {
                a.in_flight = number();
                i += 1;
            }
            "--batch" => {
                a.batch = number();
                i += 1;
            }
            "--hotspots" => {
                a.hotspots = number();
                i += 1;
            }
            "--witnesses" => {
                a.witnesses = number();
                i += 1;
            }
            "--defences" => {
                a.defences = match value.as_str() {
                    "on" => true,
                    "off" => false,
                    other => panic!("--defences {other:?}: on or off"),
                };
                i += 1;
            }
            "--reuse" => {
                a.reuse = Some(value.clone());
                i += 1;
            }
            _ => {} // `cargo bench` passes --bench
        }
        i += 1;
    }
    a
}

/// A store of the kind asked for, and what to clean up afterwards.
async fn open_store(kind: &str, dir: &std::path::Path, tag: &str) -> Option<Arc<dyn Store>> {
    match kind {
        "sqlite" => Some(Arc::new(
            SqliteStore::open(&dir.join(format!("{tag}.sqlite")))
                .await
                .unwrap(),
        )),
        _ => {
            let Ok(url) = std::env::var("DATABASE_URL") else {
                println!("postgres: DATABASE_URL is not set; skipped");
                return None;
            };
            let schema = format!("bench_{tag}_{}", std::process::id());
            Some(Arc::new(
                PostgresStore::connect_in_schema(&url, &schema)
                    .await
                    .unwrap(),
            ))
        }
    }
}

async fn drop_schema(kind: &str, tag: &str) {
    if kind != "postgres" {
        return;
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let schema = format!("bench_{tag}_{}", std::process::id());
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

/// Signs `items` on every core.
fn parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(chunk).collect());
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(|| c.into_iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Runs `f` over `items` with at most [`CONCURRENCY`] in flight.
async fn concurrently<T: Send + 'static>(
    items: Vec<T>,
    f: impl Fn(T) -> futures::future::BoxFuture<'static, ()> + Send + Sync + 'static,
) {
    concurrently_at(CONCURRENCY, items, f).await;
}

/// Runs `f` over `items` with at most `limit` in flight.
async fn concurrently_at<T: Send + 'static>(
    limit: usize,
    items: Vec<T>,
    f: impl Fn(T) -> futures::future::BoxFuture<'static, ()> + Send + Sync + 'static,
) {
    use futures::StreamExt;
    futures::stream::iter(items.into_iter().map(f))
        .buffer_unordered(limit)
        .collect::<Vec<()>>()
        .await;
}

fn assertion(key: &Keypair, lat: f64, lon: f64) -> proto::LocationAssertion {
    let cell = h3_coverage::cell_at(lat, lon).unwrap();
    testkit::assertion(key, u64::from(cell), 30, Region::Us915, START_MS)
}

/// The witness report of `key` for `beacon` carrying `data`, read `gain_db` above −115 dBm.
fn witness_of(
    key: &Keypair,
    data: Vec<u8>,
    beacon: &proto::BeaconReport,
    gain_db: f64,
) -> proto::WitnessReport {
    let tenths = (gain_db * 10.0).round() as i32;
    let signal = testkit::Signal::new(-1_150 + tenths, -100 + tenths);
    testkit::witness_of_data(key, data, beacon, signal, 2)
}

/// CPU time (user + system) this process has used so far, in seconds (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The fields after the command name (which ends at the last ')'): utime and stime are the
    // 12th and 13th, in clock ticks (100 a second on Linux).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// `n` reports in `s` seconds of wall time and `cpu` seconds of CPU time, as printed.
fn rate(n: usize, s: f64, cpu: f64) -> String {
    format!(
        "{n} witness reports in {s:.2} s = {:.0}/s; CPU {:.1} µs a report ({:.0} reports per CPU-second)",
        n as f64 / s,
        cpu * 1e6 / n as f64,
        n as f64 / cpu.max(1e-9)
    )
}

async fn ingest_bench(kind: &str, n: usize, batch: usize, in_flight: usize, paths: &[String]) {
    let run = |path: &str| paths.iter().any(|p| p == path);
    let dir = tempfile::tempdir().unwrap();
    let Some(store) = open_store(kind, dir.path(), "ingest").await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(START_MS));
    let oracle = Oracle::with_store(
        OracleConfig::open(),
        store.clone(),
        Keypair::from_seed(1, 1),
        clock,
    );
    let keys: Vec<Keypair> = (0..64).map(|i| Keypair::from_seed(9, i)).collect();
    for (i, key) in keys.iter().enumerate() {
        oracle
            .assert_location(assertion(key, 30.0 + i as f64 * 0.01, -97.0))
            .await
            .unwrap();
    }
    let fake = proto::BeaconReport {
        frequency_hz: 904_100_000,
        spreading_factor: 10,
        bandwidth_hz: 125_000,
        ..Default::default()
    };
    let sign = |range: std::ops::Range<usize>| {
        parallel(range.collect(), |i| {
            let mut data = vec![0u8; 51];
            data[..8].copy_from_slice(&(i as u64).to_le_bytes());
            witness_of(&keys[i % keys.len()], data, &fake, 0.0)
        })
    };
    let reports = sign(0..n);
    let batched = if batch > 0 && run("batch") {
        sign(n..2 * n)
    } else {
        Vec::new()
    };
    if run("single") {
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let o = oracle.clone();
        concurrently(reports.clone(), move |r| {
            let o = o.clone();
            Box::pin(async move {
                o.submit_witness(r).await.unwrap();
            })
        })
        .await;
        println!(
            "{kind}: ingest (signature check + durable store, acknowledged one by one, {CONCURRENCY} concurrent): {}",
            rate(n, t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        );
    }
    if batch > 0 && run("batch") {
        let mut batches = Vec::new();
        let mut rest = batched.into_iter().peekable();
        while rest.peek().is_some() {
            batches.push(rest.by_ref().take(batch).collect::<Vec<_>>());
        }
        let in_flight = if in_flight > 0 {
            in_flight
        } else {
            (CONCURRENCY / batch).max(2)
        };
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let o = oracle.clone();
        concurrently_at(in_flight, batches, move |b| {
            let o = o.clone();
            // A task per batch, as the gRPC server gives each call.
            Box::pin(async move {
                tokio::spawn(async move {
                    let results = o.submit_witnesses(b).await.unwrap();
                    assert!(results.iter().all(Result::is_ok));
                })
                .await
                .unwrap();
            })
        })
        .await;
        println!(
            "{kind}: ingest in batches (submit_witnesses, {batch} a batch, {in_flight} batches in flight): {}",
            rate(n, t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        );
    }
    if run("store") {
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let st = store.clone();
        // Ids of their own: the store keeps one row per report id.
        concurrently(reports.into_iter().enumerate().collect(), move |(n, r)| {
            let st = st.clone();
            Box::pin(async move {
                st.insert_witness(&format!("store-only-{n}"), START_MS, &r)
                    .await
                    .unwrap();
            })
        })
        .await;
        println!(
            "{kind}: store only (Store::insert_witness, {CONCURRENCY} concurrent): {}",
            rate(n, t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        );
    }
    drop(oracle);
    drop(store);
    drop_schema(kind, "ingest").await;
}

/// Whether the network kept by `--reuse NAME` is there; its stored epochs are deleted, so that
/// the epoch can be closed again.
async fn reusable(kind: &str, name: &str) -> bool {
    use sqlx::Connection;
    if kind == "sqlite" {
        let path = format!("{name}.sqlite");
        if !std::path::Path::new(&path).exists() {
            return false;
        }
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
            .await
            .unwrap();
        let selections: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'epoch_selections'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if selections > 0 {
            sqlx::query("DELETE FROM epoch_selections")
                .execute(&mut conn)
                .await
                .unwrap();
        }
        for sql in ["DELETE FROM epoch_rewards", "DELETE FROM epochs"] {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        return true;
    }
    let Ok(url) = std::env::var("DATABASE_URL") else {
        return false;
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let schema = format!("bench_{name}");
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1",
    )
    .bind(&schema)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    if found == 0 {
        return false;
    }
    sqlx::query(&format!(
        "DO $$ BEGIN IF to_regclass('{schema}.epoch_selections') IS NOT NULL THEN \
         DELETE FROM {schema}.epoch_selections; END IF; END $$"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    for table in ["epoch_rewards", "epochs"] {
        sqlx::query(&format!("DELETE FROM {schema}.{table}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    true
}

async fn epoch_bench(
    kind: &str,
    hotspots: usize,
    witnesses: usize,
    defences: bool,
    reuse: Option<&str>,
) {
    let dir = tempfile::tempdir().unwrap();
    let reused = match reuse {
        Some(name) => reusable(kind, name).await,
        None => false,
    };
    let store: Arc<dyn Store> = match (reuse, kind) {
        (None, _) => match open_store(kind, dir.path(), "epoch").await {
            Some(store) => store,
            None => return,
        },
        (Some(name), "sqlite") => Arc::new(
            SqliteStore::open(std::path::Path::new(&format!("{name}.sqlite")))
                .await
                .unwrap(),
        ),
        (Some(name), _) => {
            let Ok(url) = std::env::var("DATABASE_URL") else {
                println!("postgres: DATABASE_URL is not set; skipped");
                return;
            };
            Arc::new(
                PostgresStore::connect_in_schema(&url, &format!("bench_{name}"))
                    .await
                    .unwrap(),
            )
        }
    };
    let clock = Arc::new(ManualClock::new(START_MS));
    let mut config = OracleConfig::open();
    config.defences.enabled = defences;
    // A kept network keeps its archive beside it: the files its verification wrote.
    let archive = match reuse {
        Some(name) => std::path::PathBuf::from(format!("{name}-{kind}-archive")),
        None => dir.path().join("archive"),
    };
    config.archive.dir = Some(archive.clone());
    let ledger_path = dir.path().join(ledger::LEDGER_FILE);
    let oracle = Oracle::with_store(
        config,
        store.clone(),
        Keypair::from_seed(1, 1),
        clock.clone(),
    )
    .keeping_ledger(ledger::LedgerFile::new(ledger_path.clone()));
    if !reused {
        build_network(&oracle, &store, &clock, hotspots, witnesses, kind).await;
    }
    let epoch = START_MS / DAY_MS;
    clock.set(oracle.epoch_ready_at_ms(epoch));
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let report = oracle.close_epoch(epoch).await.unwrap();
    let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    println!(
        "{kind}: close_epoch (defences {}): {} rewarded hotspots, {} valid beacons, {} paid witnesses, {} flagged in {s:.2} s, CPU {cpu:.2} s (rewards digest {})",
        if defences { "on" } else { "off" },
        report.rewards.len(),
        report.beacons_valid,
        report.witnesses_selected,
        report.flagged.len(),
        rewards_digest(&report)
    );
    audit_bench(kind, &archive, &ledger_path, epoch).await;
    drop(oracle);
    drop(store);
    if reuse.is_none() {
        drop_schema(kind, "epoch").await;
    }
}

/// Audits the closed epoch from the archive its close wrote and the ledger, timed.
async fn audit_bench(kind: &str, archive: &std::path::Path, ledger: &std::path::Path, epoch: u64) {
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let entries = ledger::read_ledger(ledger).unwrap();
    let source = oracle::archive::Source::Dir(oracle::archive::ArchiveDir::new(archive.into()));
    let report = oracle::audit::audit(&source, &entries, epoch)
        .await
        .unwrap();
    let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let bytes: u64 = std::fs::read_dir(archive.join(oracle::archive::FILES_DIR))
        .unwrap()
        .filter_map(|f| f.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{kind}: ledger audit: {} archived reports ({:.1} MB of archive), {} shares recomputed, {} differences in {s:.2} s, CPU {cpu:.2} s",
        report.reports,
        bytes as f64 / 1e6,
        report.shares,
        report.mismatches.len()
    );
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
}

/// A digest of an epoch's rewards, flags and reputations, to compare two builds' epochs.
fn rewards_digest(report: &oracle::EpochReport) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    digest.update(serde_json::to_vec(&report.rewards).unwrap());
    digest.update(serde_json::to_vec(&report.flagged).unwrap());
    digest.update(serde_json::to_vec(&report.reputation).unwrap());
    digest.update(serde_json::to_vec(&report.ineligible).unwrap());
    hex::encode(&digest.finalize()[..8])
}

/// The path gain of a link `step` grid places long (an offset of [`NEAR`]) relative to one place
/// long, in dB: −10·n·log10 of the distance in grid places, with a path-loss exponent n of 3.
fn path_gain_db((dr, dc): (i64, i64)) -> f64 {
    const PATH_LOSS_EXPONENT: f64 = 3.0;
    let places = ((dr * dr + dc * dc) as f64).sqrt();
    -10.0 * PATH_LOSS_EXPONENT * places.log10()
}

/// The `n`-th strongest of `gains_db` (the weakest when there are fewer; above every one when
/// `n` is 0).
fn nth_strongest(mut gains_db: Vec<f64>, n: usize) -> f64 {
    if n == 0 {
        return f64::INFINITY;
    }
    if gains_db.is_empty() {
        return f64::NEG_INFINITY;
    }
    let at = n.min(gains_db.len()) - 1;
    *gains_db.select_nth_unstable_by(at, |a, b| b.total_cmp(a)).1
}

/// Asserts `hotspots` hotspots on a 2 km grid, each sending a beacon heard by those of its 24
/// nearest neighbours whose path gain (the grid's path law and 4 dB of per-link shadowing)
/// clears one threshold, chosen so that about `witnesses` witness reports are made in all: the
/// network hears by link budget, as the defences' censored path-loss fit expects. Ingests and
/// verifies them.
async fn build_network(
    oracle: &Oracle,
    store: &Arc<dyn Store>,
    clock: &Arc<ManualClock>,
    hotspots: usize,
    witnesses: usize,
    kind: &str,
) {
    let side = (hotspots as f64).sqrt().ceil() as usize;
    let t = Instant::now();
    let keys: Vec<Keypair> = parallel((0..hotspots as u64).collect(), |i| Keypair::from_seed(5, i));
    let spot = |i: usize| (i / side, i % side);
    let place = |i: usize| {
        let (r, c) = spot(i);
        (26.0 + r as f64 * 0.02, -100.0 + c as f64 * 0.02)
    };
    // Gateways are stored directly: assertions are not what is measured here.
    let gateways = parallel((0..hotspots).collect(), |i| {
        let (lat, lon) = place(i);
        let a = assertion(&keys[i], lat, lon);
        GatewayRow {
            pub_key: keys[i].public_key(),
            location: Some(a.location),
            gain_ddbi: a.gain_ddbi,
            elevation_m: a.elevation_m,
            region: a.region,
            asserted_ms: a.timestamp_ms,
            raw: prost::Message::encode_to_vec(&a),
        }
    });
    let st = store.clone();
    concurrently(gateways, move |g| {
        let st = st.clone();
        Box::pin(async move { st.put_gateway(&g).await.unwrap() })
    })
    .await;
    let entropy = oracle.publish_entropy().await.unwrap();
    clock.advance(1_000);
    let plan = RegionPlan::for_region(Region::Us915).unwrap();
    let beacons = parallel((0..hotspots).collect(), |i| {
        let key = &keys[i];
        let local = (i as u32).to_le_bytes();
        testkit::beacon(key, &entropy.data, local, plan, 30, 1).unwrap()
    });
    let links = parallel((0..hotspots).collect(), |i| {
        let (r, c) = spot(i);
        NEAR.iter()
            .filter_map(|&(dr, dc)| {
                let (r2, c2) = (r as i64 + dr, c as i64 + dc);
                let j = usize::try_from(r2).ok()? * side + usize::try_from(c2).ok()?;
                let in_grid = c2 >= 0 && (c2 as usize) < side && j < hotspots;
                let gain_db = path_gain_db((dr, dc)) + grid::link_shadowing_db(i, j, SHADOWING_DB);
                in_grid.then_some((j, gain_db))
            })
            .collect::<Vec<_>>()
    });
    let threshold_db = nth_strongest(links.iter().flatten().map(|l| l.1).collect(), witnesses);
    let reports = parallel((0..hotspots).collect(), |i| {
        (links[i].iter())
            .filter(|(_, gain_db)| *gain_db >= threshold_db)
            .map(|&(j, gain_db)| {
                witness_of(&keys[j], beacons[i].data.clone(), &beacons[i], gain_db)
            })
            .collect::<Vec<_>>()
    });
    let witness_count: usize = reports.iter().map(Vec::len).sum();
    println!(
        "{kind}: built {hotspots} hotspots, {hotspots} beacons, {witness_count} witnesses in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let o = oracle.clone();
    concurrently(beacons, move |b| {
        let o = o.clone();
        Box::pin(async move {
            o.submit_beacon(b).await.unwrap();
        })
    })
    .await;
    clock.advance(1_000);
    let o = oracle.clone();
    concurrently(reports.into_iter().flatten().collect(), move |w| {
        let o = o.clone();
        Box::pin(async move {
            o.submit_witness(w).await.unwrap();
        })
    })
    .await;
    let s = t.elapsed().as_secs_f64();
    println!(
        "{kind}: ingest of {} reports in {s:.1} s = {:.0}/s",
        hotspots + witness_count,
        (hotspots + witness_count) as f64 / s
    );

    clock.advance(oracle.config().entropy_window_ms + 1_000);
    let t = Instant::now();
    let summary = oracle.verify_pending().await.unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "{kind}: verify_pending: {} beacons + {} witnesses validated ({} + {} invalid) in {s:.1} s = {:.0} witnesses/s",
        summary.beacons_valid,
        summary.witnesses_valid,
        summary.beacons_invalid,
        summary.witnesses_invalid,
        (summary.witnesses_valid + summary.witnesses_invalid) as f64 / s
    );
}

fn main() {
    // Phase timings of the epoch close and the defences: RUST_LOG=oracle=info.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for kind in &a.stores {
            if a.ingest > 0 {
                ingest_bench(kind, a.ingest, a.batch, a.in_flight, &a.paths).await;
            }
            if a.hotspots > 0 {
                epoch_bench(
                    kind,
                    a.hotspots,
                    a.witnesses,
                    a.defences,
                    a.reuse.as_deref(),
                )
                .await;
            }
        }
    });
}
