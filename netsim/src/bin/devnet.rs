//! `devnet`: a local proof-of-coverage network on one machine. An oracle on the embedded store
//! and simulated hotspots in a world (San Francisco by default), whose beacons travel as IQ
//! samples through a simulated RF channel; prints a reward table per epoch, then serves the
//! oracle's HTTP API. With `--scenario` it runs attack scenarios instead, for one seed or,
//! with `--seeds`, as a sweep over many seeds and worlds.

use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use netsim::operators::{OperatorsConfig, OperatorsEpoch};
use netsim::scenario::{Baselines, Scenario, ScenarioConfig, ScenarioReport};
use netsim::sweep::{RunRecord, SweepPlan, SweepReport, Targets};
use netsim::world::{World, BUILT_IN, DEFAULT_WORLD};
use netsim::{EpochOutcome, Network, NetworkConfig, NodeInfo};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "devnet",
    version,
    about = "Run a local proof-of-coverage network"
)]
struct Args {
    /// Number of simulated hotspots.
    #[arg(long, default_value_t = 25)]
    hotspots: usize,
    /// Number of epochs (24 h of simulated time each) to run.
    #[arg(long, default_value_t = 2)]
    epochs: u64,
    /// Seed of every random choice: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many hotspots (the last ones) never assert a location.
    #[arg(long, default_value_t = 1)]
    unasserted: usize,
    /// Directory of the oracle's store; must be new or empty. A temporary one by default.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Write a JSON report of every epoch's reward shares and rejections to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Exit after the last epoch instead of serving the HTTP API.
    #[arg(long)]
    no_serve: bool,
    /// Address of the oracle's HTTP API once the epochs are done.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,
    /// Run attack scenarios instead (`ring`, `spoof`, `forge-rssi`, `farm`, `replay`,
    /// `witness-only`, `mix`, `sybil-island`, `shaping-spoofer`, `relay-ring`, `small-spoof`,
    /// `patient`, `onboarding-flood`, or `all`): each runs the network without and with its
    /// attackers (10 %, or the island's and flood's keys) in link-budget mode and prints what
    /// the attackers earned and their return over 30 epochs; `--report` gets the JSON.
    /// `--hotspots` and `--unasserted` are ignored (each scenario has its size).
    #[arg(long)]
    scenario: Option<String>,
    /// With `--scenario`: also write the table as Markdown to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// The world: a built-in world's name (`san-francisco`, `suburbs`, `rural`, `valley`) or
    /// a world file (see `netsim/WORLDS.md`). With `--scenario`, may be repeated, and `all`
    /// names every built-in world. San Francisco by default.
    #[arg(long)]
    world: Vec<String>,
    /// With `--scenario`: run a sweep over the seeds `A..B` (both included) instead of one
    /// seed, printing the median, 95th percentile and maximum per scenario and world.
    #[arg(long, value_parser = parse_seeds)]
    seeds: Option<RangeInclusive<u64>>,
    /// With `--seeds`: write every run and the summaries as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// With `--seeds`: the seed range the oracle's thresholds were tuned on, stated in the
    /// Markdown.
    #[arg(long)]
    tuned_on: Option<String>,
    /// With `--seeds`: append each run, as it finishes, as a line of JSON to this file (a
    /// stopped sweep keeps what it did).
    #[arg(long)]
    runs_log: Option<PathBuf>,
    /// With `--runs-log`: resume the sweep that log belongs to (same seeds, worlds and
    /// scenarios): every world and seed whose runs it holds, all without an error, is not run
    /// again and its runs count in the summaries; new runs are appended.
    #[arg(long)]
    resume: bool,
    /// Summarise the runs of a runs log (`--runs-log`) instead of running anything: the seeds
    /// every world and scenario completed, as a sweep would (`--markdown`, `--json`).
    #[arg(long)]
    summarize: Option<PathBuf>,
    /// With `--scenario`: what one epoch's emission is worth in dollars, for the attackers'
    /// return. Default: $0.10 per honest hotspot (see `netsim/WORLDS.md`).
    #[arg(long)]
    emission_usd: Option<f64>,
    /// With `--seeds`: scenario runs at once (default: twice the cores; the runs mostly wait
    /// on one another's messages).
    #[arg(long)]
    jobs: Option<usize>,
    /// With `--scenario` and one seed: hand the reports straight to the oracle's ingest in
    /// process, as sweeps do, instead of through the hotspots' spools and gRPC. The oracle
    /// sees the same reports at the same simulated times.
    #[arg(long)]
    in_process: bool,
    /// With `--scenario`: the oracle's rules (a TOML file as `oracle --config` reads, its
    /// defaults for what it leaves out; onboarding open unless it has `[identity]`).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// With `--scenario`: write what the oracle's defences judged each epoch of every run,
    /// with who was honest, under this directory (`<world>/<seed>/<run>/epoch-<n>.json`), for
    /// `defence-scan` to judge again under other thresholds.
    #[arg(long)]
    evidence: Option<PathBuf>,
    /// Oracle operators: with more than one, each has its own key and store, they share a
    /// report log on NATS JetStream (`--nats`), make entropy together, close every epoch
    /// each on its own and sign its ledger entry, which counts with `--threshold` signatures.
    /// Hotspot `i` submits to operator `i mod N`.
    #[arg(long, default_value_t = 1)]
    oracles: usize,
    /// With `--oracles`: how many operators must sign an epoch's entry (default: a majority).
    #[arg(long, default_value_t = 0)]
    threshold: u32,
    /// With `--oracles`: the NATS server (with JetStream) of the report log.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
}

/// `A..B` (both included) or a single seed.
fn parse_seeds(text: &str) -> Result<RangeInclusive<u64>, String> {
    let parse = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|e| format!("seed {s:?}: {e}"))
    };
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b.trim_start_matches('='))?),
        None => (parse(text)?, parse(text)?),
    };
    if a > b {
        return Err(format!("empty seed range {text}"));
    }
    Ok(a..=b)
}

/// The worlds named on the command line (the default world when none).
fn worlds(names: &[String]) -> Result<Vec<Arc<World>>> {
    if names.is_empty() {
        return Ok(vec![Arc::new(World::built_in(DEFAULT_WORLD)?)]);
    }
    let mut worlds = Vec::new();
    for name in names {
        if name == "all" {
            for (built_in, _) in BUILT_IN {
                worlds.push(Arc::new(World::built_in(built_in)?));
            }
        } else {
            worlds.push(Arc::new(World::load(name)?));
        }
    }
    Ok(worlds)
}

fn scenarios(which: &str) -> Result<Vec<Scenario>> {
    if which == "all" {
        return Ok(Scenario::ALL.to_vec());
    }
    which
        .split(',')
        .map(|name| Scenario::from_name(name).with_context(|| format!("unknown scenario {name}")))
        .collect()
}

/// With `--resume`, the runs the runs log already holds (none when it does not exist yet).
fn resumed_runs(args: &Args) -> Result<Vec<RunRecord>> {
    if !args.resume {
        return Ok(Vec::new());
    }
    let Some(path) = &args.runs_log else {
        bail!("--resume needs --runs-log: the log of the sweep to resume");
    };
    if !path.exists() {
        return Ok(Vec::new());
    }
    read_runs_log(path)
}

/// How the Markdown names the rules the runs used.
fn rules_named(args: &Args) -> String {
    match &args.rules {
        Some(path) => format!("the rules of `{}` (`--rules`)", path.display()),
        None => "default rules".to_string(),
    }
}

/// The oracle's rules of the scenario runs: `--rules FILE` over the defaults, onboarding open
/// unless the file has an `[identity]` table.
fn rules(args: &Args) -> Result<Arc<oracle::OracleConfig>> {
    let Some(path) = &args.rules else {
        return Ok(Arc::new(oracle::OracleConfig::open()));
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let mut rules =
        oracle::OracleConfig::from_toml(&text).with_context(|| format!("{}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)?;
    if !table.contains_key("identity") {
        rules.identity = oracle::OracleConfig::open().identity;
    }
    Ok(Arc::new(rules))
}

async fn run_sweep(args: &Args, which: &str, seeds: RangeInclusive<u64>) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let plan = SweepPlan {
        worlds: worlds(&args.world)?,
        scenarios: scenarios(which)?,
        seeds,
        epochs: args.epochs,
        jobs: args.jobs.unwrap_or(2 * cores),
        data_root: args.data_dir.clone(),
        emission_usd: args.emission_usd,
        evidence_dir: args.evidence.clone(),
        rules: rules(args)?,
        done: resumed_runs(args)?,
    };
    let total = plan.worlds.len() * plan.scenarios.len() * plan.seeds.clone().count();
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:40}] {pos}/{len} runs ({elapsed}, eta {eta}) {msg}",
        )
        .context("progress style")?
        .progress_chars("=> "),
    );
    let targets = Targets::default();
    let failing = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let log = match &args.runs_log {
        Some(path) => Some(std::sync::Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        )),
        None => None,
    };
    let progress = {
        let (bar, failing) = (bar.clone(), failing.clone());
        Arc::new(move |record: &RunRecord| {
            if let Some(log) = &log {
                use std::io::Write;
                let mut file = log.lock().unwrap_or_else(|p| p.into_inner());
                if let Ok(line) = serde_json::to_string(record) {
                    if let Err(error) = writeln!(file, "{line}") {
                        bar.println(format!("devnet: runs log: {error}"));
                    }
                }
            }
            if !record.meets(&targets) {
                failing.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let missed = failing.load(std::sync::atomic::Ordering::Relaxed);
            bar.set_message(format!("{missed} missing targets"));
            bar.inc(1);
        })
    };
    let tuned_on = args.tuned_on.clone();
    let report = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || SweepReport::run(&plan, targets, tuned_on, progress))
            .await?
    };
    bar.finish_and_clear();
    eprintln!(
        "devnet: {} runs in {:.0} s ({} at once)",
        report.runs.len(),
        report.seconds,
        plan.jobs
    );
    write_sweep(args, which, &report)
}

/// Summarises a runs log (`--summarize`).
fn summarize_log(args: &Args, path: &std::path::Path) -> Result<()> {
    let runs = read_runs_log(path)?;
    let report =
        SweepReport::from_runs(runs, Targets::default(), args.tuned_on.clone(), args.epochs);
    write_sweep(args, args.scenario.as_deref().unwrap_or("all"), &report)
}

/// The runs of a runs log (`--runs-log`), one JSON record a line.
fn read_runs_log(path: &std::path::Path) -> Result<Vec<RunRecord>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(k, line)| {
            serde_json::from_str::<RunRecord>(line)
                .with_context(|| format!("{} line {}", path.display(), k + 1))
        })
        .collect()
}

/// Prints a sweep's tables and writes its JSON and Markdown where the arguments say.
fn write_sweep(args: &Args, which: &str, report: &SweepReport) -> Result<()> {
    let table = report.markdown();
    println!("{table}");
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.markdown {
        let text = format!(
            "## Sweep\n\nGenerated by `devnet --scenario {which} --seeds {} --epochs {}{}{}`. Each scenario runs the same network (same seed and world) without attackers, with the attackers' radios run honestly (each asserted where it stands), and with 10 % attackers, in link-budget mode, every report through the oracle's ingest (in process: the same reports at the same simulated times as through the hotspots' spools and gRPC), verification and epoch close with {rules}. *Attacker share*: share of the emission the attackers earned. *Attacker gain*: that share less what their radios earn honestly (0 for keys without radios), or 0. *Honest loss*: what honest hotspots earned less than they are owed, the lesser of their earnings in the attack-free run and in the run with the attackers' radios honest, each run first cleared of the windfall of its false flags (every hotspot of those runs is honest: what a flagged one lost against the other run, or against the attack run when both baselines flag it, is not owed to its neighbours), summed per hotspot, over what they are owed. *Runs failing*: attacker gain above 2 % or honest loss above 1 %. *Attack-free flagged*: honest hotspot-epochs of the attack-free runs in which the hotspot was flagged by a defence or had its rewards reduced by its reputation; *uncorroborated*: the other honest hotspot-epochs that the anchors' links did not reach. Median and 95th percentile by nearest rank.\n\n{table}",
            report.seeds,
            args.epochs,
            report.worlds.iter().map(|w| format!(" --world {w}")).collect::<String>(),
            args.tuned_on.as_ref().map(|t| format!(" --tuned-on {t}")).unwrap_or_default(),
            rules = rules_named(args),
        );
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn run_scenarios(args: &Args, which: &str) -> Result<()> {
    if let Some(usd) = args.emission_usd {
        if !(usd.is_finite() && usd >= 0.0) {
            bail!("--emission-usd {usd}: a number of dollars, at least 0");
        }
    }
    if let Some(seeds) = args.seeds.clone() {
        return run_sweep(args, which, seeds).await;
    }
    let mut reports = Vec::new();
    let worlds = worlds(&args.world)?;
    for world in &worlds {
        reports.extend(run_one_seed(args, world, &scenarios(which)?).await?);
    }
    let table = netsim::scenario::markdown(&reports);
    println!("{table}");
    for report in &reports {
        for attacker in &report.attackers_detail {
            println!(
                "{:<12} {:<28} earned {:>12}  flagged {:?}  rejected {:?}",
                report.scenario,
                attacker.name,
                attacker.earned,
                attacker.flagged,
                attacker.rejected
            );
        }
    }
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&reports)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.markdown {
        let names: Vec<&str> = worlds.iter().map(|w| w.name.as_str()).collect();
        let text = format!(
            "## Seed {seed} in detail\n\nGenerated by `cargo run --release --bin devnet -- --scenario {which} --epochs {} --seed {seed}{} --markdown FILE`, in the world{} {}.\nEach scenario runs the same network (same seed) without and with 10 % attackers, in link-budget mode (the world's log-distance path loss and shadowing), every report through the oracle's gRPC ingest, verification and epoch close with {rules}. *Attacker share*: share of the emission the attackers earned. *Honest loss*: what honest hotspots earned less than in the attack-free run, summed per hotspot, over their attack-free earnings. *Rules that caught*: defence flags (hotspots × epochs), invalid attacker reports, and reciprocity withholdings beyond the attack-free run's, by reason code (see `oracle/RULES.md`).\n\n{table}",
            args.epochs,
            args.world.iter().map(|w| format!(" --world {w}")).collect::<String>(),
            if names.len() > 1 { "s" } else { "" },
            names.join(", "),
            seed = args.seed,
            rules = rules_named(args),
        );
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The scenarios in `world` for `args.seed`, one after another; scenarios of the same size
/// share their attack-free run.
async fn run_one_seed(
    args: &Args,
    world: &Arc<World>,
    scenarios: &[Scenario],
) -> Result<Vec<ScenarioReport>> {
    let (data_dir, _temp) = prepare_data_dir(None)?;
    let mut baselines = Baselines::default();
    let mut reports = Vec::new();
    for &scenario in scenarios {
        let mut config = ScenarioConfig::in_world(scenario, world.clone(), args.epochs, args.seed);
        config.emission_usd = args.emission_usd;
        config.evidence_dir = args.evidence.clone();
        config.rules = rules(args)?;
        if args.in_process {
            config.transport = netsim::Transport::InProcess;
        }
        let started = std::time::Instant::now();
        let dir = data_dir.join(scenario.name());
        let report = netsim::scenario::run_attack(scenario, &config, &mut baselines, &dir).await?;
        eprintln!(
            "devnet: scenario {} in {} done in {:.1} s",
            scenario.name(),
            world.name,
            started.elapsed().as_secs_f64()
        );
        reports.push(report);
    }
    Ok(reports)
}

#[derive(Serialize)]
struct Report<'a> {
    seed: u64,
    hotspots: &'a [NodeInfo],
    epochs: &'a [EpochOutcome],
}

fn prepare_data_dir(requested: Option<PathBuf>) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    match requested {
        Some(dir) => {
            if dir.exists() && dir.read_dir()?.next().is_some() {
                bail!(
                    "data dir {} is not empty: the devnet starts a new network; give a new or empty directory",
                    dir.display()
                );
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok((dir, None))
        }
        None => {
            // On the memory file system when there is one: the oracle's store syncs each
            // write, which costs nothing there.
            let builder = || {
                let mut b = tempfile::Builder::new();
                b.prefix("devnet-");
                b
            };
            let temp = match builder().tempdir_in("/dev/shm") {
                Ok(temp) => temp,
                Err(_) => builder().tempdir()?,
            };
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

/// The operators `--oracles`, `--threshold` and `--nats` ask for (none for one oracle).
fn operators_of(args: &Args) -> Result<Option<OperatorsConfig>> {
    if args.oracles == 0 {
        bail!("--oracles 0: at least one oracle");
    }
    if args.threshold as usize > args.oracles {
        bail!(
            "--threshold {} is more than the {} operators",
            args.threshold,
            args.oracles
        );
    }
    Ok((args.oracles > 1).then(|| OperatorsConfig {
        count: args.oracles,
        threshold: args.threshold,
        nats_url: args.nats.clone(),
    }))
}

/// The ledger line of an epoch closed by several operators.
fn print_operators(ledger: &OperatorsEpoch) {
    let entry = ledger.entry_hash.as_deref().unwrap_or("none (no quorum)");
    let dissenters = if ledger.dissenters.is_empty() {
        "none".to_string()
    } else {
        ledger.dissenters.join(", ")
    };
    println!(
        "ledger entry {entry}: signed by {} of {} operators (threshold {}): {}; dissenters: {dissenters}",
        ledger.signers.len(),
        ledger.operators,
        ledger.threshold,
        ledger.signers.join(", "),
    );
}

fn print_epoch(nodes: &[NodeInfo], outcome: &EpochOutcome) {
    let report = &outcome.report;
    let rewards: BTreeMap<&str, &oracle::HotspotRewardRow> = report
        .rewards
        .iter()
        .map(|row| (row.address.as_str(), row))
        .collect();
    println!();
    println!(
        "epoch {}: {} beacons sent, {} witness reports sent ({} reports refused at ingest); {} valid beacons, {} valid witnesses; emission {}",
        report.epoch,
        outcome.beacons_sent,
        outcome.witnesses_sent,
        outcome.reports_refused,
        report.beacons_valid,
        report.witnesses_valid,
        report.emission
    );
    println!(
        "{:<22} {:>7} {:>9} {:>14} {:>14} {:>14} {:>7}  rejections",
        "hotspot", "beacons", "witnesses", "beacon reward", "witness reward", "total", "share"
    );
    for (node, rejected) in nodes.iter().zip(&outcome.hotspot_rejections) {
        let (beacons, witnesses, beacon_amount, witness_amount, total) =
            match rewards.get(node.address.as_str()) {
                Some(row) => (
                    row.beacons,
                    row.witnesses,
                    row.beacon_amount,
                    row.witness_amount,
                    row.total,
                ),
                None => (0, 0, 0, 0, 0),
            };
        let share = if report.emission == 0 {
            0.0
        } else {
            total as f64 / report.emission as f64 * 100.0
        };
        let reasons: Vec<String> = rejected
            .rejections
            .iter()
            .map(|(reason, count)| format!("{reason}={count}"))
            .collect();
        println!(
            "{:<22} {:>7} {:>9} {:>14} {:>14} {:>14} {:>6.2}%  {}",
            node.name,
            beacons,
            witnesses,
            beacon_amount,
            witness_amount,
            total,
            share,
            if reasons.is_empty() {
                "-".to_string()
            } else {
                reasons.join(", ")
            }
        );
    }
    let rejections: Vec<String> = report
        .rejections
        .iter()
        .map(|(reason, count)| format!("{reason}={count}"))
        .collect();
    println!(
        "rejections by reason: {}",
        if rejections.is_empty() {
            "none".to_string()
        } else {
            rejections.join(", ")
        }
    );
    if let Some(ledger) = &outcome.operators {
        print_operators(ledger);
    }
}

/// The log filter unless `RUST_LOG` sets one: warnings, but not the hotspots' delivery
/// warning for each report the oracle refuses (each epoch's summary counts them) or retries.
const DEFAULT_LOG_FILTER: &str = "warn,hotspot::delivery=error";

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let Some(path) = args.summarize.clone() {
        return summarize_log(&args, &path);
    }
    if let Some(which) = args.scenario.clone() {
        if args.oracles > 1 {
            bail!("--oracles runs the devnet; scenarios and sweeps run one oracle");
        }
        return run_scenarios(&args, &which).await;
    }
    let (data_dir, _temp) = prepare_data_dir(args.data_dir.clone())?;
    let mut config = NetworkConfig::new(args.hotspots, args.seed, data_dir.clone());
    config.unasserted = args.unasserted;
    config.operators = operators_of(&args)?;
    let world = worlds(&args.world)?.remove(0);
    if !args.world.is_empty() {
        if args.hotspots > world.sites.len() {
            bail!(
                "--hotspots {}: the world {} has {} sites",
                args.hotspots,
                world.name,
                world.sites.len()
            );
        }
        let sites: Vec<&netsim::world::Site> = world.sites.iter().take(args.hotspots).collect();
        world.apply(&mut config, &sites);
    }
    let mut network = Network::start(config).await?;
    let nodes = network.nodes();
    eprintln!(
        "devnet: oracle {} on {} (gRPC {}), {} hotspots in the world {}, seed {}",
        network.oracle().address(),
        data_dir.display(),
        network.grpc_addr(),
        nodes.len(),
        world.name,
        args.seed
    );

    let first = network.first_epoch();
    let mut outcomes = Vec::new();
    for epoch in first..first + args.epochs {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("epoch {msg} [{bar:40}] {pos}/{len} beacons ({elapsed})")
                .context("progress style")?
                .progress_chars("=> "),
        );
        bar.set_message(epoch.to_string());
        let outcome = network
            .run_epoch(epoch, |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await?;
        bar.finish_and_clear();
        print_epoch(&nodes, &outcome);
        outcomes.push(outcome);
    }

    if let Some(path) = &args.report {
        let report = Report {
            seed: args.seed,
            hotspots: &nodes,
            epochs: &outcomes,
        };
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("devnet: report written to {}", path.display());
    }

    if !args.no_serve {
        let (addr, server) = network.oracle().serve_http(args.http_addr).await?;
        eprintln!("devnet: explorer API on http://{addr}/api/v1/hotspots — Ctrl-C to stop");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = server => {}
        }
    }
    Ok(())
}
