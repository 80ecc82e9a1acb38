//! Completing an epoch's archive at the close (the record files of its reports, written as
//! they were verified, listed with the files of what else it decided from), and fetching
//! archive files over HTTP.

use super::records::{ArchiveError, ArchiveSides};
use super::ArchiveDir;
use crate::error::OracleError;
use crate::store::GatewayRow;
use crate::Oracle;
use oracle_core::epoch::EpochInputs;
use poc::proto::{ArchiveFile, ArchiveManifest};
use prost::Message;
use std::collections::HashSet;
use tokio::task::JoinHandle;

/// The record files of an epoch's reports being gathered ([`Oracle::start_archive`]); dropped
/// unfinished (a close that failed), it stops and leaves no partial file behind.
pub(crate) struct StartedArchive(JoinHandle<Result<Vec<ArchiveFile>, OracleError>>);

impl Drop for StartedArchive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Largest archive file fetched over HTTP.
const MAX_FETCH: usize = 4 << 30;

impl Oracle {
    /// The report archive, when the oracle keeps one.
    pub fn archive(&self) -> Option<&ArchiveDir> {
        self.inner.archive.as_ref()
    }

    /// Starts gathering the record files of the epoch's beacons and witnesses (those written
    /// as they were verified, and any block they do not cover, [`Oracle::cover_epoch`]) on a
    /// task of its own, so that whatever is left to write is written while the close decides;
    /// [`Oracle::finish_archive`] completes the archive. The verdicts must be final: the close
    /// starts it after verifying.
    pub(crate) fn start_archive(&self, dir: &ArchiveDir, epoch: u64) -> StartedArchive {
        let (oracle, dir) = (self.clone(), dir.clone());
        StartedArchive(tokio::spawn(async move {
            oracle.cover_epoch(&dir, epoch).await
        }))
    }

    /// Completes the archive [`Oracle::start_archive`] began: the files beside the epoch's
    /// reports (the valid witnesses it paid from that were received outside it, the entropy its
    /// beacons could use, the assertions and owners it read, the configuration), then the
    /// manifest and the epoch's pointer. Returns the manifest's hash, which the ledger entry
    /// pins.
    pub(crate) async fn finish_archive(
        &self,
        dir: &ArchiveDir,
        mut started: StartedArchive,
        inputs: &EpochInputs,
        gateways: Vec<GatewayRow>,
    ) -> Result<[u8; 32], OracleError> {
        let epoch = inputs.epoch;
        let sides = self.gather_sides(inputs, gateways).await?;
        let encoded = sides.encode_files().map_err(|e| OracleError::LedgerInput {
            epoch,
            detail: format!("archived configuration: {e}"),
        })?;
        let mut files = match (&mut started.0).await {
            Ok(files) => files?,
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            Err(_) => return Err(OracleError::Invariant("the archive's writer was cancelled")),
        };
        for (kind, bytes, records) in encoded {
            files.push(ArchiveFile {
                kind: kind.as_str().to_string(),
                sha256: dir.put(&bytes)?,
                records,
                bytes: bytes.len() as u64,
            });
        }
        let manifest = ArchiveManifest {
            epoch,
            start_ms: inputs.start_ms,
            end_ms: inputs.end_ms,
            oracle: self.archive_writer(),
            files,
        };
        let name = dir.put(&manifest.encode_to_vec())?;
        dir.put_epoch(epoch, &name)?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&name, &mut hash).map_err(|e| OracleError::LedgerInput {
            epoch,
            detail: format!("manifest name: {e}"),
        })?;
        Ok(hash)
    }

    /// What the archive holds beside the epoch's reports, read for [`Oracle::finish_archive`].
    async fn gather_sides(
        &self,
        inputs: &EpochInputs,
        gateways: Vec<GatewayRow>,
    ) -> Result<ArchiveSides, OracleError> {
        let (start, end) = (inputs.start_ms, inputs.end_ms);
        let window = self.config().entropy_window_ms;
        let entropy = self
            .store()
            .entropy_between(start.saturating_sub(window), end)
            .await?;
        let outside: HashSet<i64> = inputs
            .witnesses
            .iter()
            .filter(|w| w.received_ms < start || w.received_ms >= end)
            .map(|w| w.id)
            .collect();
        let mut other_witnesses = Vec::new();
        if !outside.is_empty() {
            let mut beacon_ids: Vec<i64> = inputs
                .witnesses
                .iter()
                .filter(|w| outside.contains(&w.id))
                .map(|w| w.beacon_id)
                .collect();
            beacon_ids.dedup();
            other_witnesses = self.store().witnesses_of_beacons(&beacon_ids).await?;
            other_witnesses.retain(|w| outside.contains(&w.id));
        }
        let onboardings = self.store().onboardings_between((start, end)).await?;
        Ok(ArchiveSides {
            other_witnesses,
            entropy,
            gateways,
            owners: inputs.owners.clone(),
            config: self.config().clone(),
            onboardings,
        })
    }

    /// The manifest hash of an epoch archived before, if any (a close that stored its epoch
    /// but crashed before its ledger entry finds it here).
    pub(crate) fn archived_manifest(&self, epoch: u64) -> Result<Option<[u8; 32]>, OracleError> {
        let Some(dir) = self.archive() else {
            return Ok(None);
        };
        Ok(dir.epoch_manifest(epoch)?.and_then(|name| {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(&name, &mut hash).ok().map(|()| hash)
        }))
    }
}

/// Fetches `/api/v1/archive/files/{name}` from the oracle API at `base` (`http://host:port`):
/// the bytes, or `None` when the oracle answers 404.
pub(crate) async fn http_get(base: &str, name: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
    let url = format!("{base}/api/v1/archive/files/{name}");
    let fail = |detail: String| ArchiveError::Http {
        url: url.clone(),
        detail,
    };
    let authority = base
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| fail("not an http:// address".into()))?;
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| fail(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(format!("/api/v1/archive/files/{name}"))
        .header(hyper::header::HOST, authority)
        .body(axum::body::Body::empty())
        .map_err(|e| fail(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let status = response.status();
    let body = axum::body::to_bytes(axum::body::Body::new(response.into_body()), MAX_FETCH)
        .await
        .map_err(|e| fail(e.to_string()));
    driver.abort();
    match status.as_u16() {
        200 => Ok(Some(body?.to_vec())),
        404 => Ok(None),
        code => Err(fail(format!("HTTP {code}"))),
    }
}
