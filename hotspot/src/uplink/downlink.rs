//! Downlinks from a network server (a GWMP PULL_RESP's `txpk`), read and checked as Semtech's
//! packet forwarder checks them: the `tmst` mapped onto the hotspot's clock, the frequency
//! against the region's band (`TX_FREQ`), the power against the hotspot's limit (a `TX_POWER`
//! warning with the power used), the time against now (`TOO_LATE`, `TOO_EARLY`), GPS time
//! refused (`GPS_UNLOCKED`: the hotspot has no GPS time); and the TX_ACK that answers it.
//!
//! The concentrator counter (`tmst`) of this hotspot is its clock: the low 32 bits of Unix
//! microseconds, as [`radio_io::gwmp::rxpk_from_reception`] stamps uplinks. A `tmst` is read
//! back as the instant nearest to now with those low bits (within ±35 minutes).

use radio::params::LoraParams;
use radio_io::gwmp::protocol::pull_resp::TxPk;
use radio_io::gwmp::protocol::{MacAddress, Modulation};
use radio_io::gwmp::{TxRefusal, PROTOCOL_VERSION, TX_ACK};
use radio_io::Transmission;
use serde_json::Value;
use std::time::Duration;

/// The LoRaWAN public sync word, which network servers' downlinks use.
const PUBLIC_SYNC_WORD: u8 = 0x34;

/// What the hotspot's radio may do with downlinks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TxLimits {
    /// The region's band, hertz: a downlink outside it is refused with `TX_FREQ`.
    pub band_hz: (u64, u64),
    /// The highest conducted power the hotspot transmits at, dBm; above it, the downlink goes
    /// out at this power with a `TX_POWER` warning.
    pub max_power_dbm: f32,
    /// How long before its time a downlink is handed to the radio (the backend's latency); a
    /// downlink due sooner than this is `TOO_LATE`.
    pub lead: Duration,
    /// How far ahead a downlink may be scheduled; further is `TOO_EARLY`.
    pub max_advance: Duration,
}

impl TxLimits {
    /// The limits of a radio on `band_hz` transmitting at most `max_power_dbm`, handed each
    /// downlink `lead` before its time, scheduling up to [`MAX_ADVANCE`] ahead.
    pub fn new(band_hz: (u64, u64), max_power_dbm: f32, lead: Duration) -> Self {
        Self {
            band_hz,
            max_power_dbm,
            lead,
            max_advance: MAX_ADVANCE,
        }
    }
}

/// The furthest ahead Semtech's packet forwarder schedules: (3 beacons + 1) × 128 s.
pub const MAX_ADVANCE: Duration = Duration::from_secs(512);

/// A downlink accepted for transmission.
#[derive(Debug, Clone, PartialEq)]
pub struct Downlink {
    /// When it is to be on air, Unix nanoseconds; `None`: immediately (`imme`).
    pub at_unix_ns: Option<u64>,
    /// What to put on air.
    pub transmission: Transmission,
    /// Whether the network server asked for inverted IQ (`ipol`, as LoRaWAN downlinks are);
    /// [`Transmission`] carries no IQ polarity, so backends send it as they send beacons.
    pub inverted_iq: bool,
}

/// A downlink accepted, and how the TX_ACK is to say so.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The downlink.
    pub downlink: Downlink,
    /// The power used when it is not the one asked for (a `TX_POWER` warning).
    pub power_warning: Option<i32>,
}

/// Why a `txpk` is not a LoRa downlink this hotspot understands: like Semtech's forwarder, the
/// hotspot aborts it without a TX_ACK.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("txpk not usable: {0}")]
pub struct Malformed(pub String);

/// The `tmst` of an instant: the low 32 bits of its Unix microseconds.
pub fn tmst_of(unix_ns: u64) -> u32 {
    (unix_ns / 1000) as u32
}

/// The instant, Unix nanoseconds, nearest to `now_ns` whose `tmst` is `tmst`.
pub fn unix_ns_of(tmst: u32, now_ns: u64) -> u64 {
    let now_us = now_ns / 1000;
    let delta = tmst.wrapping_sub(now_us as u32) as i32;
    now_us.saturating_add_signed(i64::from(delta)) * 1000
}

/// Reads the `txpk` of a PULL_RESP datagram (header included).
pub fn read_txpk(datagram: &[u8]) -> Result<TxPk, Malformed> {
    let body = datagram.get(4..).unwrap_or_default();
    let body = body.strip_suffix(&[0]).unwrap_or(body);
    let mut json: Value =
        serde_json::from_slice(body).map_err(|error| Malformed(format!("JSON: {error}")))?;
    let txpk = json
        .get_mut("txpk")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Malformed("no txpk object".into()))?;
    // The semtech-udp crate slices `datr` by bytes: only ASCII reaches it.
    if let Some(datr) = txpk.get("datr") {
        if !datr.as_str().is_some_and(str::is_ascii) {
            return Err(Malformed("datr is not an ASCII string".into()));
        }
    }
    // Fields the protocol lets a server leave out.
    txpk.entry("imme").or_insert(Value::Bool(false));
    txpk.entry("rfch").or_insert(Value::from(0));
    txpk.entry("ipol").or_insert(Value::Bool(false));
    // The crate's `datr` borrows from the text: read it from text, not from a `Value`.
    let text = Value::Object(std::mem::take(txpk)).to_string();
    serde_json::from_str(&text).map_err(|error| Malformed(format!("txpk: {error}")))
}

/// The transmission a LoRa `txpk` asks for.
fn transmission_of(txpk: &TxPk) -> Result<Transmission, Malformed> {
    if !matches!(txpk.modu, Modulation::LORA) {
        return Err(Malformed("not LoRa modulation".into()));
    }
    let spreading_factor = txpk.datr.spreading_factor().factor() as u8;
    let bandwidth_hz = txpk.datr.bandwidth().hz();
    let mut params = LoraParams::new(spreading_factor, bandwidth_hz);
    let codr = txpk.codr.ok_or_else(|| Malformed("no codr".into()))?;
    params.coding_rate = (codr.denom() - 4) as u8;
    params.crc = !txpk.ncrc.unwrap_or(false);
    params.sync_word = PUBLIC_SYNC_WORD;
    if let Some(preamble) = txpk.prea {
        params.preamble_len = u16::try_from(preamble)
            .ok()
            .filter(|&len| len >= 6)
            .ok_or_else(|| Malformed(format!("prea {preamble}")))?;
    }
    let payload = txpk.data.data().to_vec();
    if payload.len() != txpk.data.len() || payload.len() > 255 {
        return Err(Malformed(format!(
            "size {} for {} bytes of data",
            txpk.data.len(),
            payload.len()
        )));
    }
    if !(txpk.freq.is_finite() && txpk.freq > 0.0 && txpk.freq < 10_000.0) {
        return Err(Malformed(format!("freq {}", txpk.freq)));
    }
    Ok(Transmission {
        frequency_hz: (txpk.freq * 1e6).round() as u64,
        params,
        payload,
        power_dbm: txpk.powe.min(100) as f32,
    })
}

/// Checks a `txpk` received at `now_ns` against `limits`: `Err(Ok(refusal))` is answered with
/// that TX_ACK error, `Err(Err(malformed))` with none.
pub fn accept(
    txpk: &TxPk,
    now_ns: u64,
    limits: &TxLimits,
) -> Result<Accepted, Result<TxRefusal, Malformed>> {
    let mut transmission = transmission_of(txpk).map_err(Err)?;
    let (low, high) = limits.band_hz;
    if !(low..=high).contains(&transmission.frequency_hz) {
        return Err(Ok(TxRefusal::Frequency));
    }
    let mut power_warning = None;
    if transmission.power_dbm > limits.max_power_dbm {
        let used = limits.max_power_dbm.floor();
        transmission.power_dbm = used;
        power_warning = Some(used as i32);
    }
    let at_unix_ns = if txpk.time.is_immediate() {
        None
    } else if let Some(tmst) = txpk.time.tmst() {
        let at = unix_ns_of(tmst, now_ns);
        let ahead = Duration::from_nanos(at.saturating_sub(now_ns));
        if at <= now_ns || ahead < limits.lead {
            return Err(Ok(TxRefusal::TooLate));
        }
        if ahead > limits.max_advance {
            return Err(Ok(TxRefusal::TooEarly));
        }
        Some(at)
    } else if txpk.time.tmms().is_some() {
        return Err(Ok(TxRefusal::GpsUnlocked));
    } else {
        return Err(Err(Malformed("neither imme, tmst nor tmms".into())));
    };
    Ok(Accepted {
        downlink: Downlink {
            at_unix_ns,
            transmission,
            inverted_iq: txpk.ipol,
        },
        power_warning,
    })
}

/// The error code a TX_ACK names for a refusal, as Semtech's forwarder spells it.
pub fn ack_code(refusal: &TxRefusal) -> &'static str {
    match refusal {
        TxRefusal::TooLate => "TOO_LATE",
        TxRefusal::TooEarly => "TOO_EARLY",
        TxRefusal::CollisionPacket => "COLLISION_PACKET",
        TxRefusal::CollisionBeacon => "COLLISION_BEACON",
        TxRefusal::Frequency => "TX_FREQ",
        TxRefusal::Power => "TX_POWER",
        TxRefusal::GpsUnlocked => "GPS_UNLOCKED",
        _ => "SEND_FAIL",
    }
}

/// A TX_ACK for the PULL_RESP `token`: no JSON when accepted as asked (as the SX1302's
/// forwarder sends it), `{"txpk_ack":{"warn":"TX_POWER","value":N}}` when sent at another
/// power, `{"txpk_ack":{"error":"CODE"}}` when refused.
pub fn encode_tx_ack(
    token: u16,
    mac: MacAddress,
    outcome: &Result<Option<i32>, TxRefusal>,
) -> Vec<u8> {
    let [hi, lo] = token.to_be_bytes();
    let mut datagram = vec![PROTOCOL_VERSION, hi, lo, TX_ACK];
    datagram.extend_from_slice(mac.as_bytes());
    let json = match outcome {
        Ok(None) => return datagram,
        Ok(Some(used)) => serde_json::json!({"txpk_ack": {"warn": "TX_POWER", "value": used}}),
        Err(refusal) => serde_json::json!({"txpk_ack": {"error": ack_code(refusal)}}),
    };
    datagram.extend_from_slice(json.to_string().as_bytes());
    datagram
}

#[cfg(test)]
mod tests;
