//! Sweeps: every scenario over many seeds and worlds, run concurrently, summarised per
//! scenario and world (median, 95th percentile and maximum of the attacker share and the
//! honest loss, the runs missing the targets, the worst seeds, and the honest hotspots flagged
//! in the attack-free runs).
//!
//! A seed and a world give one attack-free run per network size, which all scenarios of that
//! size share ([`scenario::Baselines`]), as do the scenarios whose attackers' radios are the
//! same radios run honestly; each scenario then runs with its attackers.

use crate::network::Transport;
use crate::scenario::{self, Scenario, ScenarioConfig, ScenarioReport};
use crate::world::World;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// What a sweep runs.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    /// The worlds.
    pub worlds: Vec<Arc<World>>,
    /// The scenarios.
    pub scenarios: Vec<Scenario>,
    /// The seeds.
    pub seeds: RangeInclusive<u64>,
    /// Epochs of each run.
    pub epochs: u64,
    /// Runs at once.
    pub jobs: usize,
    /// Where the runs' stores go (a temporary directory each); the memory file system
    /// `/dev/shm` when absent and the machine has one, else the system's temporary directory.
    pub data_root: Option<PathBuf>,
    /// What one epoch's emission is worth, dollars (see [`ScenarioConfig::emission_usd`]).
    pub emission_usd: Option<f64>,
    /// Write what the oracle's defences judged in every run under this directory
    /// ([`ScenarioConfig::evidence_dir`]).
    pub evidence_dir: Option<PathBuf>,
    /// The oracle's rules ([`ScenarioConfig::rules`]).
    pub rules: Arc<oracle::OracleConfig>,
    /// Runs an earlier, stopped run of this sweep finished (read back from its runs log): a job
    /// (a world and seed) whose every scenario is here without an error is not run again, and
    /// its records are kept.
    pub done: Vec<RunRecord>,
}

/// The targets a run must meet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Largest share of the emission the attackers may earn.
    pub max_attacker_share: f64,
    /// Largest share of their attack-free earnings the honest hotspots may lose.
    pub max_honest_loss: f64,
}

impl Default for Targets {
    /// Attackers at most 2 %, honest loss at most 1 %.
    fn default() -> Self {
        Self {
            max_attacker_share: 0.02,
            max_honest_loss: 0.01,
        }
    }
}

/// One scenario run of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// World name.
    pub world: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Hotspots in the attack run.
    pub hotspots: usize,
    /// Attackers among them.
    pub attackers: usize,
    /// Share of the emission the attackers earned.
    pub attacker_share: f64,
    /// Share of the emission their radios earn honestly (see
    /// [`ScenarioReport::honest_radio_share`]).
    #[serde(default)]
    pub honest_radio_share: f64,
    /// What the attack gained: `attacker_share` less `honest_radio_share`, or 0.
    #[serde(default)]
    pub attacker_gain: f64,
    /// What the honest hotspots lost (see [`ScenarioReport::honest_loss`]).
    pub honest_loss: f64,
    /// The same with the baselines not cleared of their false flags (see
    /// [`ScenarioReport::honest_loss_uncleared`]); absent from logs written before it.
    #[serde(default)]
    pub honest_loss_uncleared: Option<f64>,
    /// Reasons that caught attackers, by code.
    pub caught: BTreeMap<String, u64>,
    /// Honest hotspots flagged in the attack run (hotspots × epochs), by code.
    pub honest_flagged: BTreeMap<String, u64>,
    /// Hotspot-epochs of the attack-free run flagged or with reduced rewards.
    pub attack_free_flagged: u64,
    /// Other hotspot-epochs of the attack-free run uncorroborated.
    #[serde(default)]
    pub attack_free_uncorroborated: u64,
    /// Hotspot-epochs of the attack-free run.
    pub attack_free_hotspot_epochs: u64,
    /// The attackers' return over 30 epochs (see [`ScenarioReport::attacker_return`]).
    #[serde(default)]
    pub attacker_return: Option<f64>,
    /// Why the run failed, if it did (then the numbers are zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunRecord {
    fn from_report(report: &ScenarioReport) -> Self {
        Self {
            world: report.world.clone(),
            scenario: report.scenario.clone(),
            seed: report.seed,
            hotspots: report.hotspots,
            attackers: report.attackers,
            attacker_share: report.attacker_share,
            honest_radio_share: report.honest_radio_share,
            attacker_gain: report.attacker_gain,
            honest_loss: report.honest_loss,
            honest_loss_uncleared: Some(report.honest_loss_uncleared),
            caught: report.caught.clone(),
            honest_flagged: report.honest_flagged.clone(),
            attack_free_flagged: report.attack_free_flagged,
            attack_free_uncorroborated: report.attack_free_uncorroborated,
            attack_free_hotspot_epochs: report.attack_free_hotspot_epochs,
            attacker_return: report.attacker_return,
            error: None,
        }
    }

    fn failed(world: &str, scenario: Scenario, seed: u64, error: String) -> Self {
        Self {
            world: world.to_string(),
            scenario: scenario.name().to_string(),
            seed,
            hotspots: 0,
            attackers: 0,
            attacker_share: 0.0,
            honest_radio_share: 0.0,
            attacker_gain: 0.0,
            honest_loss: 0.0,
            honest_loss_uncleared: None,
            caught: BTreeMap::new(),
            honest_flagged: BTreeMap::new(),
            attack_free_flagged: 0,
            attack_free_uncorroborated: 0,
            attack_free_hotspot_epochs: 0,
            attacker_return: None,
            error: Some(error),
        }
    }

    /// Whether the run met `targets` (a failed run does not).
    pub fn meets(&self, targets: &Targets) -> bool {
        self.error.is_none()
            && self.attacker_gain <= targets.max_attacker_share
            && self.honest_loss <= targets.max_honest_loss
    }

    /// How far the run is from its targets: the larger of the two ratios to them.
    fn badness(&self, targets: &Targets) -> f64 {
        if self.error.is_some() {
            return f64::INFINITY;
        }
        (self.attacker_gain / targets.max_attacker_share)
            .max(self.honest_loss / targets.max_honest_loss)
    }
}

/// One unit of work: a world, a seed and the scenarios sharing one attack-free run.
struct Job {
    world: Arc<World>,
    seed: u64,
    scenarios: Vec<Scenario>,
}

/// A run's place in a sweep: world, scenario and seed.
type RunKey = (String, String, u64);

/// The runs of `plan.done` that finished without an error, by their place (the first of any
/// listed twice).
fn finished(plan: &SweepPlan) -> BTreeMap<RunKey, &RunRecord> {
    let mut finished = BTreeMap::new();
    for record in plan.done.iter().filter(|r| r.error.is_none()) {
        let key = (record.world.clone(), record.scenario.clone(), record.seed);
        finished.entry(key).or_insert(record);
    }
    finished
}

impl Job {
    fn keys(&self) -> impl Iterator<Item = RunKey> + '_ {
        self.scenarios
            .iter()
            .map(|s| (self.world.name.clone(), s.name().to_string(), self.seed))
    }
}

/// The jobs of `plan` still to run, and the records of those an earlier run finished.
fn jobs_to_run(plan: &SweepPlan) -> (Vec<Job>, Vec<RunRecord>) {
    let finished = finished(plan);
    let mut kept = Vec::new();
    let mut to_run = Vec::new();
    for job in jobs(plan) {
        let earlier: Option<Vec<RunRecord>> = job
            .keys()
            .map(|key| finished.get(&key).map(|r| (*r).clone()))
            .collect();
        match earlier {
            Some(records) => kept.extend(records),
            None => to_run.push(job),
        }
    }
    (to_run, kept)
}

/// The jobs of `plan`, seed by seed so that every world and scenario advances together.
fn jobs(plan: &SweepPlan) -> Vec<Job> {
    let mut jobs = Vec::new();
    for seed in plan.seeds.clone() {
        for world in &plan.worlds {
            let mut by_size: BTreeMap<usize, Vec<Scenario>> = BTreeMap::new();
            for &scenario in &plan.scenarios {
                by_size
                    .entry(scenario.hotspots_in(world))
                    .or_default()
                    .push(scenario);
            }
            for scenarios in by_size.into_values() {
                jobs.push(Job {
                    world: world.clone(),
                    seed,
                    scenarios,
                });
            }
        }
    }
    jobs
}

/// A fresh directory for a job's stores under `root`.
fn job_dir(root: &Option<PathBuf>) -> std::io::Result<tempfile::TempDir> {
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("netsim-sweep-");
        b
    };
    match root {
        Some(root) => builder().tempdir_in(root),
        None => {
            let memory = std::path::Path::new("/dev/shm");
            if memory.is_dir() {
                if let Ok(dir) = builder().tempdir_in(memory) {
                    return Ok(dir);
                }
            }
            builder().tempdir()
        }
    }
}

/// Runs one job: each scenario's attack run, after the baselines it needs.
async fn run_job(job: Job, plan: &SweepPlan) -> Vec<RunRecord> {
    let fail_all = |error: String| {
        job.scenarios
            .iter()
            .map(|&s| RunRecord::failed(&job.world.name, s, job.seed, error.clone()))
            .collect::<Vec<_>>()
    };
    let dir = match job_dir(&plan.data_root) {
        Ok(dir) => dir,
        Err(error) => return fail_all(format!("store directory: {error}")),
    };
    let mut baselines = scenario::Baselines::default();
    let mut records = Vec::with_capacity(job.scenarios.len());
    for &scenario in &job.scenarios {
        let mut config =
            ScenarioConfig::in_world(scenario, job.world.clone(), plan.epochs, job.seed);
        config.emission_usd = plan.emission_usd;
        config.transport = Transport::InProcess;
        config.evidence_dir = plan.evidence_dir.clone();
        config.rules = plan.rules.clone();
        let store = dir.path().join(scenario.name());
        let record = match scenario::run_attack(scenario, &config, &mut baselines, &store).await {
            Ok(report) => RunRecord::from_report(&report),
            Err(error) => RunRecord::failed(&job.world.name, scenario, job.seed, error.to_string()),
        };
        let _ = std::fs::remove_dir_all(&store);
        records.push(record);
    }
    records
}

/// Runs `plan` on `plan.jobs` threads, each running one job at a time on a runtime of its own
/// (a network's steps wait on one another, so a thread per job keeps its wake-ups local),
/// calling `progress` with each finished run. Blocks until every run is done; call it outside
/// an async runtime's threads. The records, those of `plan.done` kept among them, come back in
/// world, scenario and seed order.
pub fn run(plan: &SweepPlan, progress: Arc<dyn Fn(&RunRecord) + Send + Sync>) -> Vec<RunRecord> {
    let (to_run, kept) = jobs_to_run(plan);
    let queue = Mutex::new(VecDeque::from(to_run));
    let records = Mutex::new(kept);
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.max(1) {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the sweep's jobs");
                loop {
                    let job = lock(&queue).pop_front();
                    let Some(job) = job else { break };
                    let batch = runtime.block_on(run_job(job, plan));
                    for record in &batch {
                        progress(record);
                    }
                    lock(&records).extend(batch);
                }
            });
        }
    });
    let mut records = records.into_inner().unwrap_or_else(PoisonError::into_inner);
    let world_rank = |name: &str| plan.worlds.iter().position(|w| w.name == name);
    let scenario_rank = |name: &str| Scenario::from_name(name);
    records.sort_by(|a, b| {
        (world_rank(&a.world), scenario_rank(&a.scenario), a.seed).cmp(&(
            world_rank(&b.world),
            scenario_rank(&b.scenario),
            b.seed,
        ))
    });
    records
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Median, 95th percentile and maximum (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (zeros when there are none).
    pub fn of(values: &[f64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            if sorted.is_empty() {
                return 0.0;
            }
            let k = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[k - 1]
        };
        Self {
            median: rank(0.5),
            p95: rank(0.95),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// One scenario in one world over the sweep's seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// World name.
    pub world: String,
    /// Scenario name.
    pub scenario: String,
    /// Runs that completed.
    pub runs: usize,
    /// Runs that failed with an error.
    pub errors: usize,
    /// Share of the emission the attackers earned.
    pub attacker_share: Spread,
    /// The attack's gain over the attackers' radios run honestly.
    #[serde(default)]
    pub attacker_gain: Spread,
    /// What the honest hotspots lost.
    pub honest_loss: Spread,
    /// Completed runs missing a target.
    pub failing: usize,
    /// The worst seeds, worst first, with their attacker gain and honest loss.
    pub worst: Vec<(u64, f64, f64)>,
    /// Share of the honest hotspot-epochs of the attack-free runs flagged or with reduced
    /// rewards.
    pub attack_free_flagged: f64,
    /// Share of the other honest hotspot-epochs of the attack-free runs uncorroborated.
    #[serde(default)]
    pub attack_free_uncorroborated: f64,
    /// The attackers' return over 30 epochs.
    #[serde(default)]
    pub attacker_return: Spread,
}

/// Seeds listed as the worst of a scenario.
const WORST: usize = 3;

/// The summaries of `records` per world and scenario, in the records' order.
pub fn summarize(records: &[RunRecord], targets: &Targets) -> Vec<Summary> {
    let mut groups: Vec<((String, String), Vec<&RunRecord>)> = Vec::new();
    for record in records {
        let key = (record.world.clone(), record.scenario.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(record),
            None => groups.push((key, vec![record])),
        }
    }
    groups
        .into_iter()
        .map(|((world, scenario), group)| {
            let done: Vec<&RunRecord> = group
                .iter()
                .copied()
                .filter(|r| r.error.is_none())
                .collect();
            let shares: Vec<f64> = done.iter().map(|r| r.attacker_share).collect();
            let gains: Vec<f64> = done.iter().map(|r| r.attacker_gain).collect();
            let losses: Vec<f64> = done.iter().map(|r| r.honest_loss).collect();
            let returns: Vec<f64> = done.iter().filter_map(|r| r.attacker_return).collect();
            let mut worst = done.clone();
            worst.sort_by(|a, b| b.badness(targets).total_cmp(&a.badness(targets)));
            let flagged: u64 = done.iter().map(|r| r.attack_free_flagged).sum();
            let isolated: u64 = done.iter().map(|r| r.attack_free_uncorroborated).sum();
            let epochs: u64 = done.iter().map(|r| r.attack_free_hotspot_epochs).sum();
            Summary {
                world,
                scenario,
                runs: done.len(),
                errors: group.len() - done.len(),
                attacker_share: Spread::of(&shares),
                attacker_gain: Spread::of(&gains),
                honest_loss: Spread::of(&losses),
                failing: done.iter().filter(|r| !r.meets(targets)).count(),
                worst: worst
                    .iter()
                    .take(WORST)
                    .map(|r| (r.seed, r.attacker_gain, r.honest_loss))
                    .collect(),
                attack_free_flagged: flagged as f64 / epochs.max(1) as f64,
                attack_free_uncorroborated: isolated as f64 / epochs.max(1) as f64,
                attacker_return: Spread::of(&returns),
            }
        })
        .collect()
}

/// A sweep's results, as written to JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepReport {
    /// The seeds, `A..B` (both included).
    pub seeds: String,
    /// The seeds the oracle's thresholds were tuned on, as given.
    pub tuned_on: Option<String>,
    /// The worlds.
    pub worlds: Vec<String>,
    /// The scenarios.
    pub scenarios: Vec<String>,
    /// Epochs of each run.
    pub epochs: u64,
    /// The targets.
    pub targets: Targets,
    /// Runs at once.
    pub jobs: usize,
    /// Wall-clock time of the sweep, seconds.
    pub seconds: f64,
    /// The summaries.
    pub summaries: Vec<Summary>,
    /// Every run.
    pub runs: Vec<RunRecord>,
}

impl SweepReport {
    /// Runs `plan` ([`run`]) and summarises it against `targets`.
    pub fn run(
        plan: &SweepPlan,
        targets: Targets,
        tuned_on: Option<String>,
        progress: Arc<dyn Fn(&RunRecord) + Send + Sync>,
    ) -> Self {
        let started = Instant::now();
        let runs = run(plan, progress);
        Self {
            seeds: format!("{}..{}", plan.seeds.start(), plan.seeds.end()),
            tuned_on,
            worlds: plan.worlds.iter().map(|w| w.name.clone()).collect(),
            scenarios: plan
                .scenarios
                .iter()
                .map(|s| s.name().to_string())
                .collect(),
            epochs: plan.epochs,
            targets,
            jobs: plan.jobs,
            seconds: started.elapsed().as_secs_f64(),
            summaries: summarize(&runs, &targets),
            runs,
        }
    }

    /// The report of the runs in `runs` (a sweep's records, e.g. read back from a runs log
    /// after the sweep was stopped), keeping only the seeds every world and scenario
    /// completed, against `targets`.
    pub fn from_runs(
        mut runs: Vec<RunRecord>,
        targets: Targets,
        tuned_on: Option<String>,
        epochs: u64,
    ) -> Self {
        let mut worlds: Vec<String> = Vec::new();
        let mut scenarios: Vec<Scenario> = Vec::new();
        for run in &runs {
            if !worlds.contains(&run.world) {
                worlds.push(run.world.clone());
            }
            if let Some(s) = Scenario::from_name(&run.scenario) {
                if !scenarios.contains(&s) {
                    scenarios.push(s);
                }
            }
        }
        scenarios.sort();
        let mut per_seed: BTreeMap<u64, usize> = BTreeMap::new();
        for run in &runs {
            *per_seed.entry(run.seed).or_default() += 1;
        }
        let full = worlds.len() * scenarios.len();
        runs.retain(|run| per_seed.get(&run.seed) == Some(&full));
        let world_rank = |name: &str| worlds.iter().position(|w| w == name);
        runs.sort_by(|a, b| {
            (
                world_rank(&a.world),
                Scenario::from_name(&a.scenario),
                a.seed,
            )
                .cmp(&(
                    world_rank(&b.world),
                    Scenario::from_name(&b.scenario),
                    b.seed,
                ))
        });
        let (first, last) = (
            runs.iter().map(|r| r.seed).min().unwrap_or(0),
            runs.iter().map(|r| r.seed).max().unwrap_or(0),
        );
        Self {
            seeds: format!("{first}..{last}"),
            tuned_on,
            worlds,
            scenarios: scenarios.iter().map(|s| s.name().to_string()).collect(),
            epochs,
            targets,
            jobs: 0,
            seconds: 0.0,
            summaries: summarize(&runs, &targets),
            runs,
        }
    }

    /// The summaries as Markdown: what was run, then one table per world.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "Seeds {} ({} seeds, each run in every world and scenario), worlds: {}; {} epochs per run; targets: attacker gain ≤ {:.0} %, honest loss ≤ {:.0} %.\n",
            self.seeds,
            self.seed_count(),
            self.worlds.join(", "),
            self.epochs,
            self.targets.max_attacker_share * 100.0,
            self.targets.max_honest_loss * 100.0,
        );
        out.push_str(&match &self.tuned_on {
            Some(range) => format!("The oracle's thresholds were tuned on seeds {range}.\n"),
            None => "The seed range the oracle's thresholds were tuned on was not given.\n".into(),
        });
        for world in &self.worlds {
            out.push_str(&format!("\n#### World `{world}`\n\n"));
            out.push_str("| scenario | runs | attacker share median / p95 / max | attacker gain median / p95 / max | honest loss median / p95 / max | runs failing | worst seeds (attacker gain, honest loss) | attack-free: honest hotspot-epochs flagged | attack-free: uncorroborated | attackers' return over 30 epochs median / max |\n|---|---|---|---|---|---|---|---|---|---|\n");
            for s in self.summaries.iter().filter(|s| &s.world == world) {
                out.push_str(&summary_row(s));
            }
        }
        out
    }

    fn seed_count(&self) -> usize {
        let mut seeds: Vec<u64> = self.runs.iter().map(|r| r.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        seeds.len()
    }
}

fn percent(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

fn summary_row(s: &Summary) -> String {
    let spread = |x: &Spread| {
        format!(
            "{} / {} / {}",
            percent(x.median),
            percent(x.p95),
            percent(x.max)
        )
    };
    let worst: Vec<String> = s
        .worst
        .iter()
        .map(|(seed, share, loss)| format!("{seed} ({}, {})", percent(*share), percent(*loss)))
        .collect();
    let errors = if s.errors > 0 {
        format!(" (+{} errors)", s.errors)
    } else {
        String::new()
    };
    format!(
        "| {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {:.3} / {:.3} |\n",
        s.scenario,
        s.runs,
        errors,
        spread(&s.attacker_share),
        spread(&s.attacker_gain),
        spread(&s.honest_loss),
        s.failing,
        worst.join("; "),
        percent(s.attack_free_flagged),
        percent(s.attack_free_uncorroborated),
        s.attacker_return.median,
        s.attacker_return.max,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_uses_nearest_ranks() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Spread::of(&values);
        assert_eq!((s.median, s.p95, s.max), (50.0, 95.0, 100.0));
        assert_eq!(Spread::of(&[]), Spread::default());
        assert_eq!(Spread::of(&[3.0]).p95, 3.0);
    }
}
