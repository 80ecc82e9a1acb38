//! The ledger's command line, shared by the `ledger` binary and `oracle ledger`: export a data
//! directory's ledger, verify a ledger file and its quorums, verify one hotspot's claim against
//! a root or against a verified ledger.

use crate::file::parse;
use crate::{
    encode_file, read_ledger, verify_bytes_trusting, verify_chain, verify_chain_trusting, Address,
    BadEntry, Claim, FileError, LedgerError, OperatorSet, SetChange, Signed, Trust, LEDGER_FILE,
};
use clap::Subcommand;
use std::path::PathBuf;

/// Why a ledger command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An argument is not what it must be.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The ledger file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// The ledger does not verify.
    #[error("{path}: bad ledger: {source}")]
    BadLedger {
        /// The file.
        path: PathBuf,
        /// The first bad entry.
        source: BadEntry,
    },
    /// The claim does not verify against the root.
    #[error("claim does not verify: {0}")]
    BadClaim(LedgerError),
}

/// What the verifier trusts: the single oracle and the genesis operator set.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrustArgs {
    /// The oracle address every version 1-3 entry must be signed by (default: the first
    /// entry's signer).
    #[arg(long)]
    pub oracle_key: Option<String>,
    /// The genesis operator set to trust, comma-separated addresses: the set the first
    /// version 4 entry must declare (default: the set it declares, which the output says).
    #[arg(long, value_delimiter = ',')]
    pub operators: Vec<String>,
    /// How many of `--operators` must sign.
    #[arg(long)]
    pub threshold: Option<u32>,
}

impl TrustArgs {
    /// Parses the addresses and the set.
    pub fn trust(&self) -> Result<Trust, CliError> {
        let oracle = self
            .oracle_key
            .as_deref()
            .map(str::parse::<Address>)
            .transpose()
            .map_err(|e| CliError::Usage(format!("--oracle-key is not an address: {e}")))?;
        let genesis = match (self.operators.as_slice(), self.threshold) {
            ([], None) => None,
            ([], Some(_)) | (_, None) => {
                return Err(CliError::Usage(
                    "--operators and --threshold go together".into(),
                ))
            }
            (operators, Some(threshold)) => {
                let operators = operators
                    .iter()
                    .map(|a| {
                        a.trim().parse::<Address>().map_err(|e| {
                            CliError::Usage(format!("--operators: {a} is not an address: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let set = OperatorSet::new(threshold, operators)
                    .map_err(|e| CliError::Usage(format!("--operators: {e}")))?;
                Some(set)
            }
        };
        Ok(Trust { oracle, genesis })
    }

    fn is_empty(&self) -> bool {
        self.oracle_key.is_none() && self.operators.is_empty() && self.threshold.is_none()
    }
}

/// A ledger command.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Copy the whole ledger of a data directory to a file.
    Export {
        /// The oracle's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Where to write the ledger.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a ledger file offline: signatures and quorums, chain, Merkle roots, sums; prints
    /// who signed each entry and the operator set it declares; names the first bad entry.
    Verify {
        /// The ledger file.
        file: PathBuf,
        /// What to trust.
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Check one hotspot's claim (the JSON of `GET /api/v1/ledger/{epoch}/proof/{address}`)
    /// against a Merkle root alone (`--root`), or against the root of the claim's epoch in a
    /// ledger file whose chain and quorums verify (`--ledger`).
    VerifyClaim {
        /// The epoch's Merkle root, hex.
        #[arg(long, required_unless_present = "ledger", conflicts_with = "ledger")]
        root: Option<String>,
        /// A ledger file holding the claim's epoch.
        #[arg(long)]
        ledger: Option<PathBuf>,
        /// The claim JSON file.
        #[arg(long)]
        proof: PathBuf,
        /// What to trust when reading `--ledger`.
        #[command(flatten)]
        trust: TrustArgs,
    },
}

/// Runs a command; what it found is printed, a failure is the error.
pub fn run(command: LedgerCommand) -> Result<(), CliError> {
    match command {
        LedgerCommand::Export { data_dir, out } => export(data_dir, out),
        LedgerCommand::Verify { file, trust } => verify(file, &trust),
        LedgerCommand::VerifyClaim {
            root,
            ledger,
            proof,
            trust,
        } => match (root, ledger) {
            (Some(root), None) if trust.is_empty() => verify_claim(&root, proof),
            (Some(_), None) => Err(CliError::Usage(
                "--oracle-key, --operators and --threshold need --ledger".into(),
            )),
            (None, Some(ledger)) => verify_claim_in_ledger(ledger, proof, &trust),
            _ => Err(CliError::Usage("give --root or --ledger".into())),
        },
    }
}

fn export(data_dir: PathBuf, out: PathBuf) -> Result<(), CliError> {
    let path = data_dir.join(LEDGER_FILE);
    let entries = read_ledger(&path)?;
    let summary =
        verify_chain(&entries, None).map_err(|source| CliError::BadLedger { path, source })?;
    std::fs::write(&out, encode_file(&entries)).map_err(|source| CliError::Io {
        path: out.clone(),
        source,
    })?;
    println!("exported {} entries to {}", summary.entries, out.display());
    Ok(())
}

fn verify(file: PathBuf, trust: &TrustArgs) -> Result<(), CliError> {
    let trust = trust.trust()?;
    let bytes = read(&file)?;
    let summary = verify_bytes_trusting(&bytes, &trust)
        .map_err(|source| CliError::BadLedger { path: file, source })?;
    for (index, authority) in summary.authorities.iter().enumerate() {
        println!(
            "entry {index} epoch {}: {}",
            authority.epoch,
            describe(&authority.signed)
        );
    }
    if trust.genesis.is_some()
        && summary
            .authorities
            .iter()
            .all(|a| matches!(a.signed, Signed::Oracle(_)))
    {
        println!("note: no version 4 entry; the pinned operator set was not used");
    }
    let Some((epoch, hash)) = summary.head else {
        println!("ok: empty ledger");
        return Ok(());
    };
    let hash = hex::encode(hash);
    match (&summary.operators, summary.oracle) {
        (Some(set), _) => println!(
            "ok: {} entries, head epoch {epoch} hash {hash}; the next entry needs {set}",
            summary.entries
        ),
        (None, Some(oracle)) => println!(
            "ok: {} entries signed by {oracle}, head epoch {epoch} hash {hash}",
            summary.entries
        ),
        (None, None) => println!(
            "ok: {} entries, head epoch {epoch} hash {hash}",
            summary.entries
        ),
    }
    Ok(())
}

/// One line on who signed an entry and what set it declares.
fn describe(signed: &Signed) -> String {
    match signed {
        Signed::Oracle(oracle) => format!("signed by the single oracle {oracle}"),
        Signed::Quorum {
            signers,
            governing,
            declared,
            change,
        } => describe_quorum(signers, governing, declared, change),
    }
}

/// A version 4 entry's signers, governing set and declared set.
fn describe_quorum(
    signers: &[Address],
    governing: &OperatorSet,
    declared: &OperatorSet,
    change: &SetChange,
) -> String {
    let signers = signers
        .iter()
        .map(Address::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let head = format!("signed by {signers} (governed by {governing})");
    match change {
        SetChange::Genesis { pinned, handover } => {
            let trust = if *pinned {
                "pinned by --operators"
            } else {
                "NOT pinned: trusted from the entry itself (pin it with --operators and --threshold)"
            };
            let handover = handover
                .map(|o| format!("; takes over from the single oracle {o}"))
                .unwrap_or_default();
            format!("{head}; genesis set {declared}, {trust}{handover}")
        }
        SetChange::Unchanged => format!("{head}; declares the same set"),
        SetChange::Changed => {
            format!("{head}; SET CHANGE: declares {declared}, which governs the entries after it")
        }
    }
}

fn verify_claim(root: &str, proof: PathBuf) -> Result<(), CliError> {
    let root: [u8; 32] = hex::decode(root)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CliError::Usage("--root is not 32 hex bytes".into()))?;
    let claim = read_claim(&proof)?;
    claim.verify(&root).map_err(CliError::BadClaim)?;
    print_claim(&claim);
    Ok(())
}

/// Verifies the whole ledger, then the claim against its entry for the claim's epoch.
fn verify_claim_in_ledger(
    ledger: PathBuf,
    proof: PathBuf,
    trust: &TrustArgs,
) -> Result<(), CliError> {
    let trust = trust.trust()?;
    let claim = read_claim(&proof)?;
    let bytes = read(&ledger)?;
    let entries = parse(&bytes).map_err(|source| CliError::BadLedger {
        path: ledger.clone(),
        source,
    })?;
    let summary =
        verify_chain_trusting(&entries, &trust).map_err(|source| CliError::BadLedger {
            path: ledger.clone(),
            source,
        })?;
    let Some(index) = entries.iter().position(|e| e.manifest.epoch == claim.epoch) else {
        return Err(CliError::Usage(format!(
            "{}: no entry for epoch {}",
            ledger.display(),
            claim.epoch
        )));
    };
    claim
        .verify(&entries[index].merkle_root)
        .map_err(CliError::BadClaim)?;
    print_claim(&claim);
    println!(
        "entry {index} of {}: {}",
        ledger.display(),
        describe(&summary.authorities[index].signed)
    );
    Ok(())
}

fn read_claim(proof: &PathBuf) -> Result<Claim, CliError> {
    let text = read(proof)?;
    serde_json::from_slice(&text)
        .map_err(|e| CliError::Usage(format!("the proof is not a claim JSON: {e}")))
}

fn print_claim(claim: &Claim) {
    println!(
        "ok: {} receives {} (beacon {}, witness {}) in epoch {}",
        claim.share.hotspot,
        claim.share.total,
        claim.share.beacon_amount,
        claim.share.witness_amount,
        claim.epoch
    );
}

fn read(path: &PathBuf) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Io {
        path: path.clone(),
        source,
    })
}
