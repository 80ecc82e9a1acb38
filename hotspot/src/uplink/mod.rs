//! LoRaWAN traffic the radio hears besides beacons: each frame is parsed with the `lorawan`
//! crate and counted by message type (`hotspot_uplinks_total{kind=...}`), and, when configured,
//! forwarded to LoRaWAN network servers over GWMP, this hotspot acting as their Semtech packet
//! forwarder: to the route that claims it in a route file ([`forward`]), or to one server.
//! Downlinks from the servers (PULL_RESP) are checked and answered as a packet forwarder
//! answers them ([`downlink`]) and transmitted by the daemon at their time.
//!
//! - [`forward`]: [`Upstream`], which server gets which uplink, and the drop counts.
//! - [`client`]: one GWMP client per network server.
//! - [`downlink`]: `txpk` checks, the `tmst` clock, TX_ACK.

pub mod client;
pub mod downlink;
pub mod forward;

pub use downlink::{Downlink, TxLimits};
pub use forward::Upstream;

use crate::metrics::{label, Metrics};
use lorawan::parser::MHDR;
use radio::RxFrame;
use radio_io::Reception;
use serde::Deserialize;
use std::path::PathBuf;

/// What kind of frame the radio heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UplinkKind {
    /// A LoRaWAN join request.
    JoinRequest,
    /// A LoRaWAN join accept (a downlink from another network, overheard).
    JoinAccept,
    /// An unconfirmed data uplink.
    UnconfirmedDataUp,
    /// An unconfirmed data downlink (overheard).
    UnconfirmedDataDown,
    /// A confirmed data uplink.
    ConfirmedDataUp,
    /// A confirmed data downlink (overheard).
    ConfirmedDataDown,
    /// A frame whose CRC failed: not parsed.
    BadCrc,
    /// Not a LoRaWAN 1.x frame.
    NotLorawan,
}

impl UplinkKind {
    /// Parses a heard frame far enough to know its kind.
    pub fn classify(frame: &RxFrame) -> Self {
        if frame.crc_ok == Some(false) {
            return UplinkKind::BadCrc;
        }
        let Some(&first) = frame.payload.first() else {
            return UplinkKind::NotLorawan;
        };
        if lorawan::parser::parse(frame.payload.clone()).is_err() {
            return UplinkKind::NotLorawan;
        }
        match MHDR::new(first).mtype() {
            lorawan::parser::MType::JoinRequest => UplinkKind::JoinRequest,
            lorawan::parser::MType::JoinAccept => UplinkKind::JoinAccept,
            lorawan::parser::MType::UnconfirmedDataUp => UplinkKind::UnconfirmedDataUp,
            lorawan::parser::MType::UnconfirmedDataDown => UplinkKind::UnconfirmedDataDown,
            lorawan::parser::MType::ConfirmedDataUp => UplinkKind::ConfirmedDataUp,
            lorawan::parser::MType::ConfirmedDataDown => UplinkKind::ConfirmedDataDown,
            _ => UplinkKind::NotLorawan,
        }
    }

    /// The metric label of this kind, e.g. `join_request`.
    pub fn label(self) -> &'static str {
        match self {
            UplinkKind::JoinRequest => "join_request",
            UplinkKind::JoinAccept => "join_accept",
            UplinkKind::UnconfirmedDataUp => "unconfirmed_data_up",
            UplinkKind::UnconfirmedDataDown => "unconfirmed_data_down",
            UplinkKind::ConfirmedDataUp => "confirmed_data_up",
            UplinkKind::ConfirmedDataDown => "confirmed_data_down",
            UplinkKind::BadCrc => "bad_crc",
            UplinkKind::NotLorawan => "not_lorawan",
        }
    }

    /// Whether a network server wants it: a device's uplink.
    pub fn is_device_uplink(self) -> bool {
        matches!(
            self,
            UplinkKind::JoinRequest | UplinkKind::UnconfirmedDataUp | UplinkKind::ConfirmedDataUp
        )
    }
}

/// `[lorawan]`: what to do with the LoRaWAN traffic the radio hears.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LorawanSection {
    /// `host:port` of a network server's GWMP (Semtech UDP) port to forward every device
    /// uplink to; empty (the default) forwards nothing unless `routes` is set. Not together
    /// with `routes`.
    pub forward_to: String,
    /// A route file (`routing` crate's TOML): each device uplink goes to the route that claims
    /// it; empty (the default) uses `forward_to`.
    pub routes: PathBuf,
    /// Gateway EUI presented to the network server, 16 hex digits; empty derives it from the
    /// hotspot's public key.
    pub gateway_eui: String,
    /// Seconds between PULL_DATA keepalives to the network server.
    pub keepalive_secs: u64,
    /// Milliseconds before its time a downlink is handed to the radio (the backend's
    /// latency); one due sooner is answered `TOO_LATE`.
    pub downlink_lead_ms: u64,
}

impl Default for LorawanSection {
    fn default() -> Self {
        Self {
            forward_to: String::new(),
            gateway_eui: String::new(),
            keepalive_secs: 10,
            routes: PathBuf::new(),
            downlink_lead_ms: 20,
        }
    }
}

/// Errors setting up uplink forwarding.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The configuration is not usable.
    #[error("lorawan config: {0}")]
    Config(String),
    /// The network server's address could not be resolved or reached.
    #[error("network server {server}: {source}")]
    Io {
        /// The configured server.
        server: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The route file could not be read.
    #[error("route file {path}: {source}")]
    RouteFile {
        /// The configured path.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The route file was refused; the error names the route and field.
    #[error("route file {path}: {source}")]
    Routes {
        /// The configured path.
        path: PathBuf,
        /// Why it was refused.
        source: routing::RouteError,
    },
}

impl LorawanSection {
    /// The gateway EUI: the configured one, else the first 8 bytes of `public_key`.
    pub fn eui(&self, public_key: &[u8; 32]) -> Result<[u8; 8], UplinkError> {
        let text = self.gateway_eui.trim();
        if text.is_empty() {
            let mut eui = [0u8; 8];
            eui.copy_from_slice(&public_key[..8]);
            return Ok(eui);
        }
        let bytes = hex::decode(text.replace([':', '-'], ""))
            .map_err(|error| UplinkError::Config(format!("gateway_eui {text:?}: {error}")))?;
        <[u8; 8]>::try_from(bytes.as_slice())
            .map_err(|_| UplinkError::Config(format!("gateway_eui {text:?} is not 8 bytes")))
    }
}

/// Counts a heard frame that is not a beacon by kind, and forwards device uplinks upstream.
pub fn observe(
    reception: &Reception,
    metrics: &Metrics,
    upstream: Option<&Upstream>,
) -> UplinkKind {
    let kind = UplinkKind::classify(&reception.frame);
    metrics
        .uplinks
        .get_or_create(&label("kind", kind.label()))
        .inc();
    tracing::debug!(
        kind = kind.label(),
        len = reception.frame.payload.len(),
        "heard a frame"
    );
    if let Some(upstream) = upstream {
        upstream.forward(reception, kind);
    }
    kind
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: Vec<u8>, crc_ok: Option<bool>) -> RxFrame {
        RxFrame {
            payload,
            crc_ok,
            spreading_factor: 9,
            bandwidth_hz: 125_000,
            coding_rate: 1,
            snr_db: 0.0,
            rssi_dbm: -100.0,
            cfo_hz: 0.0,
            sample_offset: 0,
        }
    }

    #[test]
    fn a_beacon_is_a_proprietary_lorawan_frame_and_no_device_uplink() {
        let plan = poc::RegionPlan::for_region(poc::proto::Region::Eu868).unwrap();
        for n in 0..64u8 {
            let beacon = poc::Beacon::derive(&[n; 32], &[n, 1, 2, 3], &[n; 32], plan, 0).unwrap();
            let header = MHDR::new(beacon.payload[0]);
            assert_eq!(header.mtype(), lorawan::parser::MType::Proprietary);
            assert_eq!(header.major(), lorawan::parser::Major::LoRaWANR1);
            let kind = UplinkKind::classify(&frame(beacon.payload, Some(true)));
            assert!(!kind.is_device_uplink(), "{kind:?}");
        }
    }

    #[test]
    fn frames_are_classified_by_message_type() {
        let data_up = vec![
            0x40, 1, 2, 3, 4, 0, 1, 0, 1, 0xaa, 0xbb, 0x11, 0x22, 0x33, 0x44,
        ];
        let mut confirmed = data_up.clone();
        confirmed[0] = 0x80;
        let mut join_request = vec![0x00];
        join_request.extend_from_slice(&[7; 22]);
        for (payload, crc, kind) in [
            (data_up.clone(), Some(true), UplinkKind::UnconfirmedDataUp),
            (confirmed, None, UplinkKind::ConfirmedDataUp),
            (join_request, Some(true), UplinkKind::JoinRequest),
            (data_up, Some(false), UplinkKind::BadCrc),
            (vec![0xe0, 1, 2], Some(true), UplinkKind::NotLorawan),
            (vec![], Some(true), UplinkKind::NotLorawan),
            ((0..51).collect(), Some(true), UplinkKind::NotLorawan),
        ] {
            assert_eq!(
                UplinkKind::classify(&frame(payload.clone(), crc)),
                kind,
                "{payload:?}"
            );
        }
        assert!(UplinkKind::JoinRequest.is_device_uplink());
        assert!(!UplinkKind::UnconfirmedDataDown.is_device_uplink());
    }

    #[test]
    fn gateway_euis_are_configured_or_derived() {
        let key = [9u8; 32];
        let mut section = LorawanSection::default();
        assert_eq!(section.eui(&key).unwrap(), [9; 8]);
        section.gateway_eui = "AA:55:5A:00:00:00:01:01".into();
        assert_eq!(
            section.eui(&key).unwrap(),
            [0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1]
        );
        section.gateway_eui = "aa55".into();
        assert!(section.eui(&key).is_err());
        section.gateway_eui = "zz".into();
        assert!(section.eui(&key).is_err());
    }
}
