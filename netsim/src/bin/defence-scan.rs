//! Judges the evidence a sweep wrote (`devnet --scenario … --seeds … --evidence DIR`) again
//! under other defence thresholds: for each setting, the honest hotspot-epochs flagged and
//! the attacker key-epochs flagged, by world and run. Thresholds are tuned on one seed range
//! here and reported on another with `devnet --seeds`.

use anyhow::{bail, Context, Result};
use clap::Parser;
use netsim::evidence::{judge, load_all, Verdicts};
use oracle::OracleConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "defence-scan",
    version,
    about = "Judge recorded epoch evidence again under other defence thresholds"
)]
struct Args {
    /// The evidence directory a sweep wrote.
    evidence: PathBuf,
    /// The oracle's configuration (TOML); the defaults when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A `[defences]` field and the values to try, `field=v1,v2,…`; repeated fields span a
    /// grid.
    #[arg(long = "try", value_parser = parse_axis)]
    axes: Vec<(String, Vec<String>)>,
    /// Print each setting's table by run, not only its summary by world.
    #[arg(long)]
    runs: bool,
}

fn parse_axis(text: &str) -> Result<(String, Vec<String>), String> {
    let (field, values) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected field=v1,v2,…"))?;
    Ok((
        field.trim().to_string(),
        values.split(',').map(|v| v.trim().to_string()).collect(),
    ))
}

/// Every combination of the axes' values, as `(field, value)` lists.
fn grid(axes: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut settings = vec![Vec::new()];
    for (field, values) in axes {
        settings = settings
            .into_iter()
            .flat_map(|setting: Vec<(String, String)>| {
                values.iter().map(move |value| {
                    let mut next = setting.clone();
                    next.push((field.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    settings
}

/// `base` with the `[defences]` fields of `setting` set.
fn with_setting(base: &OracleConfig, setting: &[(String, String)]) -> Result<OracleConfig> {
    let mut table = toml::Table::try_from(&base.defences).context("defences as TOML")?;
    for (field, value) in setting {
        let parsed: toml::Table =
            toml::from_str(&format!("v = {value}")).with_context(|| format!("{field}={value}"))?;
        if !table.contains_key(field) {
            bail!("no defence setting {field:?}");
        }
        table.insert(field.clone(), parsed["v"].clone());
    }
    let mut config = base.clone();
    config.defences = table.try_into().context("defences")?;
    Ok(config)
}

fn percent(part: u64, whole: u64) -> String {
    format!("{:.2} %", 100.0 * part as f64 / whole.max(1) as f64)
}

fn print(verdicts: &BTreeMap<(String, String), Verdicts>, runs: bool) {
    let mut worlds: BTreeMap<&str, (Verdicts, Verdicts)> = BTreeMap::new();
    for ((world, run), v) in verdicts {
        if runs {
            println!(
                "  {world:>14} {run:>18}  honest {:>8} of {:>5} {:?}  attackers {:>8} of {:>5}",
                percent(v.honest_any, v.honest),
                v.honest,
                v.honest_flagged,
                percent(v.attackers_flagged, v.attackers),
                v.attackers
            );
        }
        let (free, attacked) = worlds.entry(world).or_default();
        let sum = if v.attackers == 0 { free } else { attacked };
        sum.honest += v.honest;
        sum.honest_any += v.honest_any;
        sum.attackers += v.attackers;
        sum.attackers_flagged += v.attackers_flagged;
        for (code, n) in &v.honest_flagged {
            *sum.honest_flagged.entry(code).or_default() += n;
        }
    }
    for (world, (free, attacked)) in worlds {
        println!(
            "  {world:>14}: honest flagged {:>8} without attackers {:?}, {:>8} with; attackers flagged {:>8}",
            percent(free.honest_any, free.honest),
            free.honest_flagged,
            percent(attacked.honest_any, attacked.honest),
            percent(attacked.attackers_flagged, attacked.attackers),
        );
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    // What each defence judged, hotspot by hotspot, with `RUST_LOG=oracle_core=trace`.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let base = match &args.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
            OracleConfig::from_toml(&text).with_context(|| format!("{}", path.display()))?
        }
        None => OracleConfig::default(),
    };
    let judged = load_all(&args.evidence)?;
    eprintln!("{} epochs of evidence", judged.len());
    for setting in grid(&args.axes) {
        let config = with_setting(&base, &setting)?;
        let shown: Vec<String> = setting.iter().map(|(f, v)| format!("{f}={v}")).collect();
        println!("[{}]", shown.join(" "));
        print(&judge(&judged, &config), args.runs);
    }
    Ok(())
}
