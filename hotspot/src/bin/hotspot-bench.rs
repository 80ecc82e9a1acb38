//! `hotspot-bench`: the daemon's resident memory and CPU time.
//!
//! Runs the real daemon (witnessing, signing, durable spool, delivery with backoff) in this
//! process on a wideband IQ replay (1.6 MS/s, 8 channels of 125 kHz, SF7–12, 51-byte
//! beacon-sized frames on every channel), first idle (the radio hears nothing), then decoding.
//! It samples VmRSS from /proc/self/status and the process's CPU time from /proc/self/stat and
//! prints the figures. The oracle is absent: reports stay in the spool (on disk) and delivery
//! keeps backing off, as during an outage.
//!
//! ```sh
//! cargo run --release -p hotspot --bin hotspot-bench -- --idle-seconds 10 --seconds 60
//! cargo run --release -p hotspot --bin hotspot-bench -- --fast --seconds 300   # long run
//! ```

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hotspot::{Backoff, Daemon, Hotspot, Metrics, OracleClient, Outbox};
use poc::proto::Region;
use poc::Keypair;
use radio::iq::SampleFormat;
use radio_io::wideband::{synthesise, ReplayProgress};
use radio_io::{WidebandConfig, WidebandReplay, WidebandReplayConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Centre of the replay: channels at 903.9–905.3 MHz (US915 sub-band 2).
const CENTRE_HZ: u64 = 904_700_000;
/// The kernel's clock ticks per second in /proc (USER_HZ, 100 on Linux).
const USER_HZ: f64 = 100.0;

#[derive(Parser)]
#[command(name = "hotspot-bench", about = "Memory and CPU of the hotspot daemon")]
struct Cli {
    /// Seconds of decoding (wall clock).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds idle before decoding.
    #[arg(long, default_value_t = 10)]
    idle_seconds: u64,
    /// Wideband recording to replay (cs16, 1.6 MS/s); made for the run when absent.
    #[arg(long)]
    iq: Option<PathBuf>,
    /// Length of the recording made for the run, seconds (it is replayed in a loop).
    #[arg(long, default_value_t = 8.0)]
    iq_seconds: f64,
    /// Replay as fast as the CPU allows (a long simulated run) instead of in real time.
    #[arg(long)]
    fast: bool,
    /// Leave glibc's allocator at its default arenas (the daemon limits them), to compare.
    #[arg(long)]
    default_allocator: bool,
    /// Print a sample line every this many seconds.
    #[arg(long, default_value_t = 5)]
    every: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Write the wideband recording only (run in a child process so that making it does not
    /// count in the daemon's memory).
    Generate {
        /// Output file (cs16).
        #[arg(long)]
        out: PathBuf,
        /// Seconds of recording.
        #[arg(long, default_value_t = 8.0)]
        seconds: f64,
    },
}

fn wideband() -> WidebandConfig {
    WidebandConfig::eight_channels(CENTRE_HZ)
}

fn generate(out: &Path, seconds: f64) -> Result<()> {
    let (stream, sent) = synthesise(
        &wideband(),
        seconds,
        poc::BEACON_PAYLOAD_LEN,
        -20.0,
        -45.0,
        1,
    )?;
    std::fs::write(out, SampleFormat::Cs16.encode(&stream))
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} ({seconds} s, {} frames on 8 channels)",
        out.display(),
        sent.len()
    );
    Ok(())
}

/// Resident set size in kB.
fn rss_kb() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .context("no VmRSS in /proc/self/status")
}

/// User + system CPU time of the whole process (all threads), seconds.
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').context("odd /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |at: usize| -> Result<f64> {
        Ok(fields
            .get(at)
            .context("short /proc/self/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / USER_HZ)
}

struct Sample {
    at_s: f64,
    rss_kb: u64,
    cpu_s: f64,
}

fn sample(start: Instant) -> Result<Sample> {
    Ok(Sample {
        at_s: start.elapsed().as_secs_f64(),
        rss_kb: rss_kb()?,
        cpu_s: cpu_seconds()?,
    })
}

/// Least-squares slope of RSS over time, kB per minute.
fn slope_kb_per_min(samples: &[Sample]) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.at_s).sum::<f64>() / n;
    let mean_r = samples.iter().map(|s| s.rss_kb as f64).sum::<f64>() / n;
    let cov: f64 = samples
        .iter()
        .map(|s| (s.at_s - mean_t) * (s.rss_kb as f64 - mean_r))
        .sum();
    let var: f64 = samples.iter().map(|s| (s.at_s - mean_t).powi(2)).sum();
    if var == 0.0 {
        0.0
    } else {
        60.0 * cov / var
    }
}

fn summary(name: &str, samples: &[Sample]) {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return;
    };
    let min = samples.iter().map(|s| s.rss_kb).min().unwrap_or(0);
    let max = samples.iter().map(|s| s.rss_kb).max().unwrap_or(0);
    let wall = (last.at_s - first.at_s).max(1e-9);
    println!(
        "{name}: RSS {:.1} MB at start, {:.1}–{:.1} MB, {:.1} MB at end, slope {:+.1} kB/min; \
         CPU {:.1} % of one core over {:.0} s",
        first.rss_kb as f64 / 1024.0,
        min as f64 / 1024.0,
        max as f64 / 1024.0,
        last.rss_kb as f64 / 1024.0,
        slope_kb_per_min(samples),
        100.0 * (last.cpu_s - first.cpu_s) / wall,
        wall
    );
}

/// Runs a daemon on `replay` for `seconds`, sampling every second.
async fn phase(
    name: &str,
    replay: WidebandReplay,
    hotspot: Hotspot,
    spool: &Path,
    seconds: u64,
    every: u64,
    start: Instant,
) -> Result<Vec<Sample>> {
    let progress: ReplayProgress = replay.progress();
    let metrics = Metrics::new();
    let outbox = Outbox::open(spool, metrics.clone())?;
    // Nobody listens there: delivery fails and backs off, reports stay spooled.
    let client = OracleClient::connect_lazy("http://127.0.0.1:9", Duration::from_secs(1))?;
    let daemon = Daemon::new(hotspot, client, replay, outbox, Duration::from_secs(3600))
        .with_metrics(metrics)
        .with_backoff(Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        })
        .without_beacons();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));
    let mut samples = vec![sample(start)?];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    for second in 1..=seconds {
        tick.tick().await;
        let now = sample(start)?;
        if second % every.max(1) == 0 {
            let previous = &samples[samples.len().saturating_sub(every as usize)];
            println!(
                "  {name} t={:>5.0}s  RSS {:>6.1} MB  CPU {:>5.1} %  air {:>7.1} s  frames {:>6}",
                now.at_s,
                now.rss_kb as f64 / 1024.0,
                100.0 * (now.cpu_s - previous.cpu_s) / (now.at_s - previous.at_s).max(1e-9),
                progress.samples() as f64 / f64::from(wideband().sample_rate_hz),
                progress.frames()
            );
            std::io::stdout().flush().ok();
        }
        samples.push(now);
    }
    let _ = stop.send(());
    let stats = running.await??;
    println!(
        "{name}: {:.1} s of air decoded, {} frames heard, {} witness reports spooled",
        progress.samples() as f64 / f64::from(wideband().sample_rate_hz),
        stats.frames_heard,
        stats.witnesses_queued
    );
    Ok(samples)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if !cli.default_allocator {
        hotspot::memory::limit_allocator_arenas();
    }
    if let Some(Command::Generate { out, seconds }) = &cli.command {
        return generate(out, *seconds);
    }
    let dir = tempfile_dir()?;
    let iq = match &cli.iq {
        Some(path) => path.clone(),
        None => {
            let path = dir.join("replay.cs16");
            let status = std::process::Command::new(std::env::current_exe()?)
                .args([
                    "generate",
                    "--seconds",
                    &cli.iq_seconds.to_string(),
                    "--out",
                ])
                .arg(&path)
                .status()?;
            anyhow::ensure!(status.success(), "generating the recording failed");
            path
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async {
        let start = Instant::now();
        let hotspot = || {
            Hotspot::new(
                Keypair::generate(),
                Region::Us915,
                (37.77929, -122.41924),
                30,
                10,
            )
        };
        println!(
            "daemon idle (radio hears nothing) for {} s",
            cli.idle_seconds
        );
        let idle = WidebandReplay::open(WidebandReplayConfig {
            path: None,
            format: SampleFormat::Cs16,
            wideband: wideband(),
            realtime: true,
            repeat: 0,
            start_ns: 0,
        })?;
        let idle = phase(
            "idle",
            idle,
            hotspot()?,
            &dir.join("spool"),
            cli.idle_seconds,
            cli.every,
            start,
        )
        .await?;
        println!(
            "daemon decoding {} ({}) for {} s",
            iq.display(),
            if cli.fast {
                "as fast as possible"
            } else {
                "real time"
            },
            cli.seconds
        );
        let replay = WidebandReplay::open(WidebandReplayConfig {
            path: Some(iq.clone()),
            format: SampleFormat::Cs16,
            wideband: wideband(),
            realtime: !cli.fast,
            repeat: 0,
            start_ns: 0,
        })?;
        let decoding = phase(
            "decoding",
            replay,
            hotspot()?,
            &dir.join("spool"),
            cli.seconds,
            cli.every,
            start,
        )
        .await?;
        summary("idle", &idle);
        summary("decoding 8 channels", &decoding);
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            if let Some(peak) = status.lines().find(|line| line.starts_with("VmHWM:")) {
                println!(
                    "peak {}",
                    peak.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
        }
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hotspot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
