//! HTTP routes of the report archive, listed with the explorer's:
//!
//! - `GET /api/v1/archive/{epoch}/manifest`: the epoch's manifest as JSON (its hash and its files)
//! - `GET /api/v1/archive/files/{sha256}`: a file of the archive (a manifest or a record
//!   file), as stored: its bytes hash to its name

use super::records::decode_manifest;
use super::{is_file_name, ArchiveDir, FILES_DIR};
use crate::http::{parse_epoch, ApiError};
use crate::Oracle;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde_json::json;

/// The archive's routes, listed with the explorer's in [`crate::http::router`].
pub fn routes() -> Vec<(&'static str, MethodRouter<Oracle>)> {
    vec![
        ("/api/v1/archive/{epoch}/manifest", get(manifest)),
        ("/api/v1/archive/files/{sha256}", get(file)),
    ]
}

fn archive_of(oracle: &Oracle) -> Result<&ArchiveDir, ApiError> {
    oracle
        .archive()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "this oracle keeps no archive"))
}

async fn manifest(
    State(oracle): State<Oracle>,
    epoch: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let epoch = parse_epoch(epoch)?;
    let dir = archive_of(&oracle)?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("epoch {epoch} is not archived"),
        )
    };
    let name = dir
        .epoch_manifest(epoch)
        .map_err(crate::OracleError::from)?
        .ok_or_else(not_found)?;
    let bytes = dir
        .read(&name)
        .map_err(crate::OracleError::from)?
        .ok_or_else(not_found)?;
    let manifest = decode_manifest(&bytes).map_err(|detail| {
        tracing::error!(epoch, %detail, "archived manifest");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })?;
    let files: Vec<serde_json::Value> = manifest
        .files
        .iter()
        .map(
            |f| json!({"kind": f.kind, "sha256": f.sha256, "records": f.records, "bytes": f.bytes}),
        )
        .collect();
    Ok(Json(json!({
        "epoch": manifest.epoch,
        "start_ms": manifest.start_ms,
        "end_ms": manifest.end_ms,
        "oracle": manifest.oracle,
        "manifest": name,
        "files": files,
    })))
}

async fn file(
    State(oracle): State<Oracle>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(name) = name?;
    if !is_file_name(&name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a file name is 64 lower-case hex digits (its SHA-256)",
        ));
    }
    let path = archive_of(&oracle)?.root().join(FILES_DIR).join(&name);
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no file {name} in the archive"),
        )),
        Err(e) => Err(crate::OracleError::from(e).into()),
    }
}
