//! Writing an epoch's archive at the close, and fetching archive files over HTTP.

use super::records::{ArchiveError, EpochArchive};
use super::ArchiveDir;
use crate::error::OracleError;
use crate::store::GatewayRow;
use crate::Oracle;
use oracle_core::epoch::EpochInputs;
use poc::proto::{ArchiveFile, ArchiveManifest};
use prost::Message;
use std::collections::HashSet;

/// Largest archive file fetched over HTTP.
const MAX_FETCH: usize = 4 << 30;

impl Oracle {
    /// The report archive, when the oracle keeps one.
    pub fn archive(&self) -> Option<&ArchiveDir> {
        self.inner.archive.as_ref()
    }

    /// What the close of an epoch read, gathered for its archive: every report received in the
    /// epoch with its verdict, the valid witnesses it paid from that were received outside it,
    /// the entropy its beacons could use, the assertions and owners it read (`gateways`,
    /// `inputs.owners`) and the configuration.
    pub(crate) async fn gather_archive(
        &self,
        inputs: &EpochInputs,
        gateways: Vec<GatewayRow>,
    ) -> Result<EpochArchive, OracleError> {
        let store = self.store();
        let (start, end) = (inputs.start_ms, inputs.end_ms);
        let window = self.config().entropy_window_ms;
        let (beacons, witnesses, entropy) = futures::try_join!(
            store.beacons_between(start, end),
            store.witnesses_between(start, end),
            store.entropy_between(start.saturating_sub(window), end),
        )?;
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
            other_witnesses = store.witnesses_of_beacons(&beacon_ids).await?;
            other_witnesses.retain(|w| outside.contains(&w.id));
        }
        Ok(EpochArchive {
            manifest: ArchiveManifest::default(),
            beacons,
            witnesses,
            other_witnesses,
            entropy,
            gateways,
            owners: inputs.owners.clone(),
            config: self.config().clone(),
        })
    }

    /// Writes an epoch's archive: its files, then its manifest, then the epoch's pointer;
    /// returns the manifest's hash, which the ledger entry pins.
    pub(crate) fn write_archive(
        &self,
        dir: &ArchiveDir,
        epoch: u64,
        (start_ms, end_ms): (u64, u64),
        archive: &EpochArchive,
    ) -> Result<[u8; 32], OracleError> {
        let files = archive
            .encode_files()
            .map_err(|e| OracleError::LedgerInput {
                epoch,
                detail: format!("archived configuration: {e}"),
            })?;
        let mut manifest = ArchiveManifest {
            epoch,
            start_ms,
            end_ms,
            oracle: self.address().to_string(),
            files: Vec::new(),
        };
        for (kind, bytes, records) in files {
            let sha256 = dir.put(&bytes)?;
            manifest.files.push(ArchiveFile {
                kind: kind.as_str().to_string(),
                sha256,
                records,
                bytes: bytes.len() as u64,
            });
        }
        let name = dir.put(&manifest.encode_to_vec())?;
        dir.put_epoch(epoch, &name)?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&name, &mut hash).map_err(|e| OracleError::LedgerInput {
            epoch,
            detail: format!("manifest name: {e}"),
        })?;
        Ok(hash)
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
