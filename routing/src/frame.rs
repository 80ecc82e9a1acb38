//! LoRaWAN uplinks: what a route is chosen by, read from the PHY payload with the `lorawan`
//! crate's parser, and MIC checks with given keys.
//!
//! Identifiers are the integers LoRaWAN tools print, most significant byte first: the DevAddr
//! sent on air as `DA 1B 01 26` is `0x26011BDA`, and so for the JoinEUI and DevEUI of a join
//! request.

use lorawan::keys::AES128;
use lorawan::parser::{DataHeader, DataPayload, MType, PhyPayload, MHDR};

/// The longest PHY payload a LoRa frame carries.
pub const MAX_PHY_LEN: usize = 255;
/// MHDR and MIC: the bytes every LoRaWAN frame has around its MAC payload.
const MHDR_MIC_LEN: usize = 5;
/// A join request: MHDR, JoinEUI, DevEUI, DevNonce, MIC.
const JOIN_REQUEST_LEN: usize = 23;
/// The shortest data frame: MHDR, DevAddr, FCtrl, FCnt (no FOpts, FPort or payload), MIC.
const DATA_MIN_LEN: usize = 12;

/// The kinds of frame a route receives: a device's uplinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UplinkKind {
    /// A join request (OTAA), routed by its JoinEUI and DevEUI.
    JoinRequest,
    /// An unconfirmed data uplink, routed by its DevAddr.
    UnconfirmedDataUp,
    /// A confirmed data uplink, routed by its DevAddr.
    ConfirmedDataUp,
}

impl UplinkKind {
    /// A stable name of the kind, e.g. `join_request`.
    pub fn label(self) -> &'static str {
        match self {
            UplinkKind::JoinRequest => "join_request",
            UplinkKind::UnconfirmedDataUp => "unconfirmed_data_up",
            UplinkKind::ConfirmedDataUp => "confirmed_data_up",
        }
    }
}

/// What picks the route of an uplink. In serde (JSON), EUIs and DevAddrs are hex strings as
/// in route files: `{"type":"data","dev_addr":"26011BDA","fcnt":7}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoutingKey {
    /// A join request's identifiers.
    Join {
        /// The JoinEUI (AppEUI in LoRaWAN 1.0).
        #[serde(with = "crate::hex::eui")]
        join_eui: u64,
        /// The device's DevEUI.
        #[serde(with = "crate::hex::eui")]
        dev_eui: u64,
    },
    /// A data uplink's session address and frame counter.
    Data {
        /// The device address.
        #[serde(with = "crate::hex::dev_addr")]
        dev_addr: u32,
        /// The low 16 bits of the uplink frame counter, as sent.
        fcnt: u16,
    },
}

/// A device uplink read from a PHY payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Uplink {
    /// The message type.
    pub kind: UplinkKind,
    /// What picks its route.
    pub key: RoutingKey,
    /// The PHY payload's length in bytes, MHDR to MIC: what its price counts.
    pub phy_len: usize,
}

impl Uplink {
    /// The data credits forwarding this uplink costs ([`crate::credits_for`]).
    pub fn credits(&self) -> u64 {
        crate::credits_for(self.phy_len)
    }
}

/// The message types that are not device uplinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downlink {
    /// A network server's join accept.
    JoinAccept,
    /// An unconfirmed data downlink.
    UnconfirmedDataDown,
    /// A confirmed data downlink.
    ConfirmedDataDown,
}

impl std::fmt::Display for Downlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Downlink::JoinAccept => "a join accept",
            Downlink::UnconfirmedDataDown => "an unconfirmed data downlink",
            Downlink::ConfirmedDataDown => "a confirmed data downlink",
        })
    }
}

/// Why a PHY payload is not a routable uplink.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame ends before its MIC: shorter than its message type's header and MIC.
    #[error("{len}-byte frame too short for its MIC: this message type needs {needed} bytes")]
    TooShortForMic {
        /// The frame's length.
        len: usize,
        /// The least its header says it needs.
        needed: usize,
    },
    /// Longer than any LoRa frame.
    #[error("{len}-byte frame is longer than a LoRa frame ({MAX_PHY_LEN} bytes)")]
    TooLong {
        /// The frame's length.
        len: usize,
    },
    /// A downlink or join accept: nothing a route buys.
    #[error("not an uplink: {0}")]
    NotAnUplink(Downlink),
    /// A proprietary frame (MType 7), such as a beacon.
    #[error("proprietary frame (MType 7)")]
    Proprietary,
    /// MType 6: reserved in LoRaWAN 1.0, a rejoin request in 1.1 (not routed).
    #[error("reserved message type (MType 6, rejoin request in LoRaWAN 1.1)")]
    ReservedType,
    /// The MHDR's major version is not LoRaWAN R1.
    #[error("unsupported LoRaWAN major version {major}")]
    UnsupportedMajor {
        /// The two major bits.
        major: u8,
    },
    /// The frame does not have the layout of its message type.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl FrameError {
    /// A stable code for counting and reporting, e.g. `too_short_for_mic`.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::TooShortForMic { .. } => "too_short_for_mic",
            FrameError::TooLong { .. } => "too_long",
            FrameError::NotAnUplink(_) => "not_an_uplink",
            FrameError::Proprietary => "proprietary",
            FrameError::ReservedType => "reserved_type",
            FrameError::UnsupportedMajor { .. } => "unsupported_major",
            FrameError::Malformed(_) => "malformed",
        }
    }
}

/// Reads a PHY payload (MHDR to MIC, as received) as a device uplink.
///
/// Join requests give a [`RoutingKey::Join`], data uplinks a [`RoutingKey::Data`]. Downlinks,
/// join accepts, proprietary and reserved frames, other major versions and frames too short
/// for their MIC are errors, never panics.
pub fn parse_uplink(phy: &[u8]) -> Result<Uplink, FrameError> {
    let kind = uplink_kind(phy)?;
    check_length(kind, phy)?;
    let mut buffer = [0u8; MAX_PHY_LEN];
    let frame = &mut buffer[..phy.len()];
    frame.copy_from_slice(phy);
    let key = match lorawan::parser::parse(frame).map_err(lorawan_error)? {
        PhyPayload::JoinRequest(join) => RoutingKey::Join {
            join_eui: eui(join.app_eui().as_ref()),
            dev_eui: eui(join.dev_eui().as_ref()),
        },
        PhyPayload::Data(DataPayload::Encrypted(data)) => RoutingKey::Data {
            dev_addr: dev_addr(data.fhdr().dev_addr().as_ref()),
            fcnt: data.fhdr().fcnt(),
        },
        other => return Err(unexpected(&other)),
    };
    Ok(Uplink {
        kind,
        key,
        phy_len: phy.len(),
    })
}

/// Whether a join request's MIC is the one `app_key` (LoRaWAN 1.0 AppKey, 1.1 NwkKey) gives.
///
/// `Ok(false)` for a wrong MIC, and for a frame that is an uplink but not a join request.
pub fn join_mic_ok(phy: &[u8], app_key: &[u8; 16]) -> Result<bool, FrameError> {
    let mut buffer = parsed_copy(phy)?;
    let frame = &mut buffer[..phy.len()];
    Ok(
        match lorawan::parser::parse(frame).map_err(lorawan_error)? {
            PhyPayload::JoinRequest(join) => join.validate_mic(&AES128(*app_key)),
            _ => false,
        },
    )
}

/// Whether a data uplink's MIC is the one `nwk_s_key` (LoRaWAN 1.0 NwkSKey) gives, with the
/// frame counter's high 16 bits `fcnt_high` (the low 16 are the frame's).
///
/// `Ok(false)` for a wrong MIC, and for a frame that is an uplink but not a data uplink.
pub fn data_mic_ok(phy: &[u8], nwk_s_key: &[u8; 16], fcnt_high: u16) -> Result<bool, FrameError> {
    let mut buffer = parsed_copy(phy)?;
    let frame = &mut buffer[..phy.len()];
    Ok(
        match lorawan::parser::parse(frame).map_err(lorawan_error)? {
            PhyPayload::Data(DataPayload::Encrypted(data)) => {
                let fcnt = (u32::from(fcnt_high) << 16) | u32::from(data.fhdr().fcnt());
                data.validate_mic(&AES128(*nwk_s_key), fcnt)
            }
            _ => false,
        },
    )
}

/// `phy` checked as an uplink and copied into a buffer the `lorawan` parser can borrow.
fn parsed_copy(phy: &[u8]) -> Result<[u8; MAX_PHY_LEN], FrameError> {
    parse_uplink(phy)?;
    let mut buffer = [0u8; MAX_PHY_LEN];
    buffer[..phy.len()].copy_from_slice(phy);
    Ok(buffer)
}

/// The uplink kind the MHDR announces, or why the frame is not one.
fn uplink_kind(phy: &[u8]) -> Result<UplinkKind, FrameError> {
    let Some(&first) = phy.first() else {
        return Err(FrameError::TooShortForMic {
            len: 0,
            needed: MHDR_MIC_LEN,
        });
    };
    if phy.len() > MAX_PHY_LEN {
        return Err(FrameError::TooLong { len: phy.len() });
    }
    let mhdr = MHDR::new(first);
    let mtype = mhdr.mtype();
    if mtype == MType::Proprietary {
        return Err(FrameError::Proprietary);
    }
    if first & 0x03 != 0 {
        return Err(FrameError::UnsupportedMajor {
            major: first & 0x03,
        });
    }
    match mtype {
        MType::JoinRequest => Ok(UplinkKind::JoinRequest),
        MType::UnconfirmedDataUp => Ok(UplinkKind::UnconfirmedDataUp),
        MType::ConfirmedDataUp => Ok(UplinkKind::ConfirmedDataUp),
        MType::JoinAccept => Err(FrameError::NotAnUplink(Downlink::JoinAccept)),
        MType::UnconfirmedDataDown => Err(FrameError::NotAnUplink(Downlink::UnconfirmedDataDown)),
        MType::ConfirmedDataDown => Err(FrameError::NotAnUplink(Downlink::ConfirmedDataDown)),
        MType::RFU | MType::Proprietary => Err(FrameError::ReservedType),
    }
}

/// Checks that the frame holds its kind's header and MIC (a join request exactly).
fn check_length(kind: UplinkKind, phy: &[u8]) -> Result<(), FrameError> {
    let needed = match kind {
        UplinkKind::JoinRequest => JOIN_REQUEST_LEN,
        UplinkKind::UnconfirmedDataUp | UplinkKind::ConfirmedDataUp => match phy.get(5) {
            // FCtrl's low four bits: the FOpts length.
            Some(fctrl) => DATA_MIN_LEN + usize::from(fctrl & 0x0f),
            None => DATA_MIN_LEN,
        },
    };
    if phy.len() < needed {
        return Err(FrameError::TooShortForMic {
            len: phy.len(),
            needed,
        });
    }
    if kind == UplinkKind::JoinRequest && phy.len() > JOIN_REQUEST_LEN {
        return Err(FrameError::Malformed(format!(
            "join request of {} bytes, expected {JOIN_REQUEST_LEN}",
            phy.len()
        )));
    }
    Ok(())
}

/// An EUI as sent (least significant byte first) as the integer LoRaWAN tools print.
fn eui(wire: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(wire);
    u64::from_le_bytes(bytes)
}

/// A DevAddr as sent (least significant byte first) as the integer LoRaWAN tools print.
fn dev_addr(wire: &[u8]) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(wire);
    u32::from_le_bytes(bytes)
}

/// A refusal of the `lorawan` parser after our own checks passed.
fn lorawan_error(error: lorawan::parser::Error) -> FrameError {
    FrameError::Malformed(format!("lorawan parser: {error:?}"))
}

/// The `lorawan` parser read another message type than the MHDR says.
fn unexpected<T, F>(payload: &PhyPayload<T, F>) -> FrameError {
    let what = match payload {
        PhyPayload::JoinRequest(_) => "join request",
        PhyPayload::JoinAccept(_) => "join accept",
        PhyPayload::Data(_) => "decrypted data",
    };
    FrameError::Malformed(format!("lorawan parser read a {what}"))
}

#[cfg(test)]
mod tests;
