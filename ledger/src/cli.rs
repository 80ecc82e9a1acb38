//! The ledger's command line, shared by the `ledger` binary and `oracle ledger`: export a data
//! directory's ledger, verify a ledger file, verify one hotspot's claim against a root.

use crate::{
    encode_file, read_ledger, verify_bytes, verify_chain, Address, BadEntry, Claim, FileError,
    LedgerError, LEDGER_FILE,
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
    /// Check a ledger file offline: signatures, chain, Merkle roots, sums; names the first bad
    /// entry.
    Verify {
        /// The ledger file.
        file: PathBuf,
        /// The oracle address every entry must be signed by (default: the first entry's signer).
        #[arg(long)]
        oracle_key: Option<String>,
    },
    /// Check one hotspot's claim (the JSON of `GET /api/v1/ledger/{epoch}/proof/{address}`)
    /// against a Merkle root alone.
    VerifyClaim {
        /// The epoch's Merkle root, hex.
        #[arg(long)]
        root: String,
        /// The claim JSON file.
        #[arg(long)]
        proof: PathBuf,
    },
}

/// Runs a command; what it found is printed, a failure is the error.
pub fn run(command: LedgerCommand) -> Result<(), CliError> {
    match command {
        LedgerCommand::Export { data_dir, out } => export(data_dir, out),
        LedgerCommand::Verify { file, oracle_key } => verify(file, oracle_key),
        LedgerCommand::VerifyClaim { root, proof } => verify_claim(&root, proof),
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

fn verify(file: PathBuf, oracle_key: Option<String>) -> Result<(), CliError> {
    let oracle = oracle_key
        .map(|k| k.parse::<Address>())
        .transpose()
        .map_err(|e| CliError::Usage(format!("--oracle-key is not an address: {e}")))?;
    let bytes = read(&file)?;
    let summary = verify_bytes(&bytes, oracle)
        .map_err(|source| CliError::BadLedger { path: file, source })?;
    match (summary.oracle, summary.head) {
        (Some(oracle), Some((epoch, hash))) => println!(
            "ok: {} entries signed by {oracle}, head epoch {epoch} hash {}",
            summary.entries,
            hex::encode(hash)
        ),
        _ => println!("ok: empty ledger"),
    }
    Ok(())
}

fn verify_claim(root: &str, proof: PathBuf) -> Result<(), CliError> {
    let root: [u8; 32] = hex::decode(root)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CliError::Usage("--root is not 32 hex bytes".into()))?;
    let text = read(&proof)?;
    let claim: Claim = serde_json::from_slice(&text)
        .map_err(|e| CliError::Usage(format!("the proof is not a claim JSON: {e}")))?;
    claim.verify(&root).map_err(CliError::BadClaim)?;
    println!(
        "ok: {} receives {} (beacon {}, witness {}) in epoch {}",
        claim.share.hotspot,
        claim.share.total,
        claim.share.beacon_amount,
        claim.share.witness_amount,
        claim.epoch
    );
    Ok(())
}

fn read(path: &PathBuf) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Io {
        path: path.clone(),
        source,
    })
}
