//! What the oracle's defences judged in a run, written to files with who really was honest:
//! the data a defence's thresholds are tuned on without running the network again
//! (`defence-scan`).

use oracle_core::config::OracleConfig;
use oracle_core::corroboration::CorroborationConfig;
use oracle_core::defences::record::key_from_hex;
use oracle_core::defences::{Evidence, EvidenceRecord, Key};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One epoch's evidence with the truth about its hotspots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceFile {
    /// Seed of the run.
    pub seed: u64,
    /// The epoch.
    pub epoch: u64,
    /// The oracle's corroboration rule in the run (its anchors).
    pub corroboration: CorroborationConfig,
    /// Keys (hex) of the attackers; every other key of the evidence is honest.
    pub attackers: Vec<String>,
    /// What the defences judged.
    pub evidence: EvidenceRecord,
}

/// Why an evidence file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The file is not an evidence file.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// What failed.
        source: serde_json::Error,
    },
    /// The file's evidence does not decode.
    #[error("{path}: {what}")]
    Decode {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

impl EvidenceFile {
    /// Writes the file to `path`, creating its directory.
    pub fn write(&self, path: &Path) -> Result<(), EvidenceError> {
        let io = |source| EvidenceError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let json = serde_json::to_vec(self).map_err(|source| EvidenceError::Json {
            path: path.display().to_string(),
            source,
        })?;
        std::fs::write(path, json).map_err(io)
    }

    /// Reads the file at `path`.
    pub fn read(path: &Path) -> Result<Self, EvidenceError> {
        let bytes = std::fs::read(path).map_err(|source| EvidenceError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| EvidenceError::Json {
            path: path.display().to_string(),
            source,
        })
    }
}

/// One evidence file, decoded, with the world and run it came from.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The world (the directory two above the file).
    pub world: String,
    /// The run: `attack-free`, `radios-…` or a scenario's name (the file's directory).
    pub run: String,
    /// The file's corroboration rule.
    pub corroboration: CorroborationConfig,
    /// The attackers' keys.
    pub attackers: BTreeSet<Key>,
    /// The evidence.
    pub evidence: Evidence,
    /// Owners of the evidence's hotspots.
    pub owners: HashMap<Key, Key>,
}

/// A defence's verdicts over some runs: hotspot-epochs judged and flagged, of honest hotspots
/// and of attackers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdicts {
    /// Honest hotspot-epochs judged.
    pub honest: u64,
    /// Honest hotspot-epochs flagged, by reason code (one hotspot-epoch may have several).
    pub honest_flagged: BTreeMap<&'static str, u64>,
    /// Honest hotspot-epochs flagged for any reason.
    pub honest_any: u64,
    /// Attacker key-epochs judged (attackers with a location in the evidence).
    pub attackers: u64,
    /// Attacker key-epochs flagged for any reason.
    pub attackers_flagged: u64,
}

/// Reads every evidence file under `root` (`<world>/<seed>/<run>/epoch-<n>.json`).
pub fn load_all(root: &Path) -> Result<Vec<Judged>, EvidenceError> {
    let mut paths = Vec::new();
    collect_files(root, &mut paths)?;
    paths.sort();
    paths.iter().map(|path| load_one(path)).collect()
}

fn collect_files(dir: &Path, paths: &mut Vec<PathBuf>) -> Result<(), EvidenceError> {
    let io = |source| EvidenceError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_files(&path, paths)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    Ok(())
}

fn load_one(path: &Path) -> Result<Judged, EvidenceError> {
    let file = EvidenceFile::read(path)?;
    let bad = |what: String| EvidenceError::Decode {
        path: path.display().to_string(),
        what,
    };
    let (evidence, owners) = file.evidence.decode().map_err(|e| bad(e.to_string()))?;
    let attackers = file
        .attackers
        .iter()
        .map(|text| key_from_hex(text).map_err(|e| bad(format!("attacker: {e}"))))
        .collect::<Result<_, EvidenceError>>()?;
    let ancestor = |up: usize| {
        path.ancestors()
            .nth(up)
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    Ok(Judged {
        world: ancestor(3),
        run: ancestor(1),
        corroboration: file.corroboration,
        attackers,
        evidence,
        owners,
    })
}

/// The defences' verdicts on `judged` under `config` (each file's own corroboration rule),
/// by world and run.
pub fn judge(judged: &[Judged], config: &OracleConfig) -> BTreeMap<(String, String), Verdicts> {
    let flags = oracle_core::parallel::map(judged, |one| {
        let mut config = config.clone();
        config.corroboration = one.corroboration.clone();
        oracle_core::epoch::defence_flags(&one.evidence, &one.owners, &config)
    });
    let mut verdicts: BTreeMap<(String, String), Verdicts> = BTreeMap::new();
    for (one, flags) in judged.iter().zip(flags) {
        let tally = verdicts
            .entry((one.world.clone(), one.run.clone()))
            .or_default();
        for key in one.evidence.locations.keys() {
            let reasons = flags.get(key);
            if one.attackers.contains(key) {
                tally.attackers += 1;
                tally.attackers_flagged += u64::from(reasons.is_some());
                continue;
            }
            tally.honest += 1;
            tally.honest_any += u64::from(reasons.is_some());
            for reason in reasons.into_iter().flatten() {
                *tally.honest_flagged.entry(reason.code()).or_default() += 1;
            }
        }
    }
    verdicts
}
