//! GWMP, the Semtech packet forwarder's UDP protocol (version 2): decoding and encoding of its
//! datagrams, and the conversions between its JSON objects and this crate's types.
//!
//! The packet types come from the `semtech-udp` crate (re-exported as [`protocol`]). Datagrams
//! from the network are first checked here — header, JSON syntax, one `rxpk` at a time, the
//! `datr` strings that crate would slice — so that one malformed entry neither panics nor costs
//! the other entries of a datagram.

pub use semtech_udp as protocol;

use crate::{Reception, Transmission};
use radio::demod::RxFrame;
use semtech_udp::pull_resp::{self, PhyData, Time, TxPk};
use semtech_udp::push_data::{self, RxPk, RxPkV1, Stat, CRC};
use semtech_udp::{
    pull_data, Bandwidth, CodingRate, DataRate, MacAddress, Modulation, SerializablePacket,
    SpreadingFactor,
};
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The protocol version this module speaks.
pub const PROTOCOL_VERSION: u8 = 2;
/// Largest UDP payload over IPv4: the biggest datagram worth reading or writing.
pub const MAX_DATAGRAM: usize = 65_507;

/// Identifier byte of PUSH_DATA (forwarder → server: uplinks and stats).
pub const PUSH_DATA: u8 = 0x00;
/// Identifier byte of PUSH_ACK (server → forwarder).
pub const PUSH_ACK: u8 = 0x01;
/// Identifier byte of PULL_DATA (forwarder → server: keepalive, opens the downlink route).
pub const PULL_DATA: u8 = 0x02;
/// Identifier byte of PULL_RESP (server → forwarder: a `txpk` to transmit).
pub const PULL_RESP: u8 = 0x03;
/// Identifier byte of PULL_ACK (server → forwarder).
pub const PULL_ACK: u8 = 0x04;
/// Identifier byte of TX_ACK (forwarder → server: outcome of a PULL_RESP).
pub const TX_ACK: u8 = 0x05;

/// GPS epoch (1980-01-06) in Unix milliseconds.
const GPS_EPOCH_UNIX_MS: u64 = 315_964_800_000;
/// Leap seconds between GPS time and UTC (since 2017-01-01).
const GPS_LEAP_SECONDS: u64 = 18;
/// The LoRaWAN public sync word: the one concentrators transmit with.
const PUBLIC_SYNC_WORD: u8 = 0x34;
/// Longest refusal text kept from a TX_ACK.
const MAX_REASON_LEN: usize = 32;

/// Why a datagram or one of its JSON objects was not understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GwmpError {
    /// Shorter than the header of its message type.
    #[error("datagram of {len} bytes is shorter than the {needed}-byte header")]
    TooShort {
        /// Bytes received.
        len: usize,
        /// Bytes the header needs.
        needed: usize,
    },
    /// Not protocol version 2.
    #[error("protocol version {0} is not 2")]
    Version(u8),
    /// An identifier byte GWMP does not define.
    #[error("unknown message identifier {0:#04x}")]
    Identifier(u8),
    /// A message that flows the other way (e.g. a PUSH_ACK sent to the server).
    #[error("message {0:#04x} does not flow in this direction")]
    Direction(u8),
    /// The JSON body is not valid JSON, or not the object GWMP prescribes.
    #[error("JSON body: {0}")]
    Json(String),
    /// An `rxpk` that is not usable as a LoRa reception.
    #[error("rxpk: {0}")]
    RxPk(String),
}

/// How a packet forwarder answered a PULL_RESP, or why no transmission happened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TxRefusal {
    /// TOO_LATE: it was already too late to program the frame.
    #[error("TOO_LATE: too late to program the frame")]
    TooLate,
    /// TOO_EARLY: the requested time is too far ahead.
    #[error("TOO_EARLY: the requested time is too far ahead")]
    TooEarly,
    /// COLLISION_PACKET: another frame is programmed for that time.
    #[error("COLLISION_PACKET: another frame is programmed for that time")]
    CollisionPacket,
    /// COLLISION_BEACON: a Class B beacon is planned for that time.
    #[error("COLLISION_BEACON: a beacon is planned for that time")]
    CollisionBeacon,
    /// TX_FREQ: the frequency is not supported by the TX RF chain.
    #[error("TX_FREQ: the frequency is not supported by the transmitter")]
    Frequency,
    /// TX_POWER as an error (packet forwarders before the SX1302's), or as a warning without a
    /// readable power: the power is not supported, or the power used is unknown.
    #[error("TX_POWER: the power is not supported")]
    Power,
    /// GPS_UNLOCKED: a GPS-timed transmission without GPS lock.
    #[error("GPS_UNLOCKED: no GPS lock for a GPS-timed transmission")]
    GpsUnlocked,
    /// Any other refusal the forwarder named (e.g. SEND_LBT, SEND_FAIL), or an unreadable TX_ACK.
    #[error("refused by the packet forwarder: {0}")]
    Other(String),
    /// No TX_ACK came back in time.
    #[error("no TX_ACK from the packet forwarder within {0:?}")]
    NoAck(Duration),
    /// No packet forwarder is connected (none has sent PULL_DATA recently).
    #[error("no packet forwarder is connected (none sent PULL_DATA recently)")]
    NoForwarder,
    /// The transmission cannot be expressed as a `txpk` (data rate, header, sync word, power).
    #[error("not transmittable by a concentrator: {0}")]
    Unsupported(String),
}

impl TxRefusal {
    /// The name under which this refusal is counted, e.g. `tx_refused_too_late`.
    pub fn counter_name(&self) -> &'static str {
        match self {
            TxRefusal::TooLate => "tx_refused_too_late",
            TxRefusal::TooEarly => "tx_refused_too_early",
            TxRefusal::CollisionPacket => "tx_refused_collision_packet",
            TxRefusal::CollisionBeacon => "tx_refused_collision_beacon",
            TxRefusal::Frequency => "tx_refused_tx_freq",
            TxRefusal::Power => "tx_refused_tx_power",
            TxRefusal::GpsUnlocked => "tx_refused_gps_unlocked",
            TxRefusal::Other(_) => "tx_refused_other",
            TxRefusal::NoAck(_) => "tx_no_ack",
            TxRefusal::NoForwarder => "tx_no_forwarder",
            TxRefusal::Unsupported(_) => "tx_unsupported",
        }
    }

    /// Every counter name [`TxRefusal::counter_name`] can return.
    pub const COUNTER_NAMES: [&'static str; 11] = [
        "tx_refused_too_late",
        "tx_refused_too_early",
        "tx_refused_collision_packet",
        "tx_refused_collision_beacon",
        "tx_refused_tx_freq",
        "tx_refused_tx_power",
        "tx_refused_gps_unlocked",
        "tx_refused_other",
        "tx_no_ack",
        "tx_no_forwarder",
        "tx_unsupported",
    ];
}

/// How a packet forwarder took a frame it accepted for transmission (its TX_ACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxAccepted {
    /// At the power asked for: no warning.
    AsAsked,
    /// A TX_POWER warning: the concentrator does not have the power asked for and sends at the
    /// nearest power it has, `used_dbm` (the warning's `value`).
    AtPower {
        /// The conducted power the forwarder used, dBm.
        used_dbm: i32,
    },
}

/// The body of a PUSH_DATA: each `rxpk` decoded on its own, and the gateway status.
#[derive(Debug, Clone)]
pub struct PushBody {
    /// One entry per `rxpk` object, in order.
    pub rxpk: Vec<Result<Reception, GwmpError>>,
    /// The `stat` object, when there was one.
    pub stat: Option<Result<Stat, GwmpError>>,
}

/// A datagram from a packet forwarder.
#[derive(Debug, Clone)]
pub enum UpMessage {
    /// Uplinks and/or a status report; acknowledge with [`encode_push_ack`] whatever the body.
    PushData {
        /// Token to echo in the PUSH_ACK.
        token: u16,
        /// The gateway's EUI.
        mac: MacAddress,
        /// The decoded JSON body.
        body: Result<PushBody, GwmpError>,
    },
    /// Keepalive; acknowledge with [`encode_pull_ack`] and send downlinks to its source address.
    PullData {
        /// Token to echo in the PULL_ACK.
        token: u16,
        /// The gateway's EUI.
        mac: MacAddress,
    },
    /// The outcome of a PULL_RESP.
    TxAck {
        /// The PULL_RESP's token.
        token: u16,
        /// The gateway's EUI.
        mac: MacAddress,
        /// `Ok` when the frame was programmed for transmission, with the power it goes out at.
        outcome: Result<TxAccepted, TxRefusal>,
    },
}

/// A datagram from a network server to a packet forwarder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownMessage {
    /// Acknowledges a PUSH_DATA.
    PushAck {
        /// The PUSH_DATA's token.
        token: u16,
    },
    /// Acknowledges a PULL_DATA.
    PullAck {
        /// The PULL_DATA's token.
        token: u16,
    },
    /// A frame to transmit (its `txpk` is not decoded here).
    PullResp {
        /// Token to echo in the TX_ACK.
        token: u16,
    },
}

/// When a `txpk` is to go on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxTiming {
    /// As soon as possible.
    Immediate,
    /// When the concentrator's microsecond counter (the `tmst` of uplinks) reaches this value.
    Tmst(u32),
}

fn header(datagram: &[u8], needed: usize) -> Result<(u16, u8), GwmpError> {
    if datagram.len() < needed {
        return Err(GwmpError::TooShort {
            len: datagram.len(),
            needed,
        });
    }
    match datagram {
        [PROTOCOL_VERSION, hi, lo, identifier, ..] => {
            Ok((u16::from_be_bytes([*hi, *lo]), *identifier))
        }
        [version, ..] => Err(GwmpError::Version(*version)),
        [] => Err(GwmpError::TooShort { len: 0, needed }),
    }
}

fn mac_of(datagram: &[u8]) -> Result<MacAddress, GwmpError> {
    match datagram.get(4..12) {
        Some(&[a, b, c, d, e, f, g, h]) => Ok(MacAddress::new(a, b, c, d, e, f, g, h)),
        _ => Err(GwmpError::TooShort {
            len: datagram.len(),
            needed: 12,
        }),
    }
}

/// The JSON text after the header, without the NUL some forwarders append.
fn json_body(body: &[u8]) -> &[u8] {
    body.strip_suffix(&[0]).unwrap_or(body)
}

fn parse_json(body: &[u8]) -> Result<Value, GwmpError> {
    serde_json::from_slice(json_body(body)).map_err(|error| GwmpError::Json(error.to_string()))
}

/// Decodes a datagram a packet forwarder sent to a server.
pub fn decode_up(datagram: &[u8]) -> Result<UpMessage, GwmpError> {
    let (token, identifier) = header(datagram, 4)?;
    match identifier {
        PUSH_DATA | PULL_DATA | TX_ACK => {}
        PUSH_ACK | PULL_RESP | PULL_ACK => return Err(GwmpError::Direction(identifier)),
        other => return Err(GwmpError::Identifier(other)),
    }
    let mac = mac_of(datagram)?;
    let body = datagram.get(12..).unwrap_or_default();
    Ok(match identifier {
        PUSH_DATA => UpMessage::PushData {
            token,
            mac,
            body: parse_json(body).and_then(|json| push_body(&json)),
        },
        PULL_DATA => UpMessage::PullData { token, mac },
        _ => UpMessage::TxAck {
            token,
            mac,
            outcome: tx_ack_outcome(body),
        },
    })
}

/// Decodes a datagram a network server sent to a packet forwarder.
pub fn decode_down(datagram: &[u8]) -> Result<DownMessage, GwmpError> {
    let (token, identifier) = header(datagram, 4)?;
    match identifier {
        PUSH_ACK => Ok(DownMessage::PushAck { token }),
        PULL_ACK => Ok(DownMessage::PullAck { token }),
        PULL_RESP => Ok(DownMessage::PullResp { token }),
        PUSH_DATA | PULL_DATA | TX_ACK => Err(GwmpError::Direction(identifier)),
        other => Err(GwmpError::Identifier(other)),
    }
}

fn push_body(json: &Value) -> Result<PushBody, GwmpError> {
    let object = json
        .as_object()
        .ok_or_else(|| GwmpError::Json("not a JSON object".into()))?;
    let rxpk = match object.get("rxpk") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries.iter().map(reception_from_json).collect(),
        Some(_) => return Err(GwmpError::Json("rxpk is not an array".into())),
    };
    let stat = match object.get("stat") {
        None | Some(Value::Null) => None,
        Some(stat) => {
            Some(Stat::deserialize(stat).map_err(|error| GwmpError::Json(format!("stat: {error}"))))
        }
    };
    Ok(PushBody { rxpk, stat })
}

/// The outcome carried by a TX_ACK body. Empty (or a lone NUL) means accepted as asked. The
/// forms packet forwarders send: `{"txpk_ack":{"error":"TOO_LATE"}}` (refused; the forwarders
/// before the SX1302's refuse an unsupported power with `"error":"TX_POWER"`),
/// `{"txpk_ack":{"warn":"TX_POWER","value":27}}` (the SX1302's: sent, at 27 dBm), and
/// `{"txpk_ack":{"error":"NONE","warn":"TX_POWER","value":27}}` (the same with an explicit
/// `NONE`). A TX_POWER warning without a readable power is a refusal: a report could not say
/// what power went on air.
fn tx_ack_outcome(body: &[u8]) -> Result<TxAccepted, TxRefusal> {
    let body = json_body(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(TxAccepted::AsAsked);
    }
    let json = serde_json::from_slice::<Value>(body)
        .map_err(|error| TxRefusal::Other(format!("unreadable TX_ACK: {error}")))?;
    let Some(ack) = json.get("txpk_ack") else {
        return Err(TxRefusal::Other("TX_ACK without txpk_ack".into()));
    };
    if let Some(error) = ack.get("error") {
        tx_ack_error(error.as_str().unwrap_or(""))?;
    }
    match ack.get("warn").and_then(Value::as_str) {
        Some("TX_POWER") => ack
            .get("value")
            .and_then(Value::as_f64)
            .filter(|value| value.is_finite() && (-100.0..=100.0).contains(value))
            .map(|value| TxAccepted::AtPower {
                used_dbm: value.round() as i32,
            })
            .ok_or(TxRefusal::Power),
        // Other warnings (or none): the frame was programmed as asked.
        _ => Ok(TxAccepted::AsAsked),
    }
}

/// The refusal a TX_ACK's `error` names; `NONE` (or empty) is none.
fn tx_ack_error(code: &str) -> Result<(), TxRefusal> {
    match code {
        "NONE" | "" => Ok(()),
        "TOO_LATE" => Err(TxRefusal::TooLate),
        "TOO_EARLY" => Err(TxRefusal::TooEarly),
        "COLLISION_PACKET" => Err(TxRefusal::CollisionPacket),
        "COLLISION_BEACON" => Err(TxRefusal::CollisionBeacon),
        "TX_FREQ" => Err(TxRefusal::Frequency),
        "TX_POWER" => Err(TxRefusal::Power),
        "GPS_UNLOCKED" => Err(TxRefusal::GpsUnlocked),
        other => Err(TxRefusal::Other(printable(other))),
    }
}

/// At most [`MAX_REASON_LEN`] printable ASCII characters of a text from the network.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(MAX_REASON_LEN)
        .collect()
}

/// Decodes one `rxpk` object into a reception.
pub fn reception_from_json(json: &Value) -> Result<Reception, GwmpError> {
    // semtech-udp slices `datr` by bytes: hand it ASCII only.
    match json.get("datr") {
        Some(Value::String(datr)) if !datr.is_ascii() => {
            return Err(GwmpError::RxPk("datr is not ASCII".into()))
        }
        Some(Value::Number(_)) => return Err(GwmpError::RxPk("FSK, not LoRa".into())),
        _ => {}
    }
    if json.get("modu").and_then(Value::as_str) == Some("FSK") {
        return Err(GwmpError::RxPk("FSK, not LoRa".into()));
    }
    let rxpk = RxPk::deserialize(json).map_err(|error| GwmpError::RxPk(error.to_string()))?;
    let mut reception = reception_from_rxpk(&rxpk)?;
    if let RxPk::V1(_) = rxpk {
        // Fields of newer forwarders that the v1 object of semtech-udp leaves out.
        if let Some(foff) = json.get("foff").and_then(Value::as_f64) {
            if foff.is_finite() {
                reception.frame.cfo_hz = foff as f32;
            }
        }
        if let Some(ns) = json
            .get("tmms")
            .and_then(Value::as_u64)
            .and_then(gps_ms_to_unix_ns)
        {
            reception.timestamp_ns = ns;
        }
    }
    Ok(reception)
}

/// Turns an uplink into a reception. Frames with `stat` -1 keep `crc_ok = Some(false)`; `stat`
/// 0 (no CRC) gives `None`.
pub fn reception_from_rxpk(rxpk: &RxPk) -> Result<Reception, GwmpError> {
    if let RxPk::V1(v1) = rxpk {
        if matches!(v1.modu, Modulation::FSK) {
            return Err(GwmpError::RxPk("FSK, not LoRa".into()));
        }
    }
    if let RxPk::V2(v2) = rxpk {
        if v2.modu != "LORA" {
            return Err(GwmpError::RxPk(format!(
                "modulation {:?}",
                printable(&v2.modu)
            )));
        }
    }
    let datarate = rxpk.datarate();
    let spreading_factor = u8::try_from(datarate.spreading_factor().factor())
        .map_err(|_| GwmpError::RxPk("spreading factor out of range".into()))?;
    let bandwidth_hz = datarate.bandwidth().hz();
    let crc_ok = match rxpk.crc_status() {
        CRC::OK => Some(true),
        CRC::Fail => Some(false),
        CRC::Disabled => None,
    };
    let frequency_hz = (rxpk.frequency() * 1e6).round();
    if !(1.0..1e11).contains(&frequency_hz) {
        return Err(GwmpError::RxPk(format!(
            "frequency {} MHz out of range",
            rxpk.frequency()
        )));
    }
    let (rssi_dbm, snr_db, cfo_hz) = match rxpk {
        RxPk::V1(v1) => (v1.rssis.unwrap_or(v1.rssi), v1.lsnr, 0.0),
        RxPk::V2(v2) => {
            // The antenna that heard it best.
            let best = v2
                .rsig
                .iter()
                .max_by(|a, b| a.lsnr.total_cmp(&b.lsnr))
                .ok_or_else(|| GwmpError::RxPk("rsig is empty".into()))?;
            (
                best.rssis.unwrap_or(best.rssic),
                best.lsnr,
                best.foff.unwrap_or(0) as f32,
            )
        }
    };
    if !snr_db.is_finite() {
        return Err(GwmpError::RxPk("lsnr is not finite".into()));
    }
    Ok(Reception {
        frame: RxFrame {
            payload: rxpk.data().clone(),
            crc_ok,
            spreading_factor,
            bandwidth_hz,
            coding_rate: rxpk.coding_rate().map_or(1, |cr| (cr.denom() - 4) as u8),
            snr_db,
            rssi_dbm: rssi_dbm as f32,
            cfo_hz,
            sample_offset: 0,
        },
        frequency_hz: frequency_hz as u64,
        timestamp_ns: rx_timestamp_ns(rxpk),
    })
}

fn gps_ms_to_unix_ns(tmms: u64) -> Option<u64> {
    tmms.checked_add(GPS_EPOCH_UNIX_MS)?
        .checked_sub(GPS_LEAP_SECONDS * 1000)?
        .checked_mul(1_000_000)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// When the packet was received: GPS time when the concentrator has it, else its UTC time, else
/// our clock.
fn rx_timestamp_ns(rxpk: &RxPk) -> u64 {
    if let RxPk::V2(v2) = rxpk {
        if let Some(ns) = v2.tmms.and_then(gps_ms_to_unix_ns) {
            return ns;
        }
    }
    rxpk.time()
        .as_deref()
        .and_then(parse_rx_time)
        .unwrap_or_else(now_ns)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses the forwarder's UTC `time`, e.g. `2013-03-31T16:21:17.528002Z`, into Unix ns.
pub fn parse_rx_time(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (
        date_parts.next()??,
        date_parts.next()??,
        date_parts.next()??,
    );
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut time_parts = hms.splitn(3, ':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (
        time_parts.next()??,
        time_parts.next()??,
        time_parts.next()??,
    );
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..=60).contains(&second)
        || fraction.len() > 9
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u64>().ok()? * 10u64.pow(9 - fraction.len() as u32)
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(seconds)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

/// Formats Unix ns as the forwarder's compact UTC time with microseconds,
/// e.g. `2013-03-31T16:21:17.528002Z`.
pub fn format_rx_time(unix_ns: u64) -> String {
    let seconds = (unix_ns / 1_000_000_000) as i64;
    let micros = (unix_ns % 1_000_000_000) / 1000;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The concentrator's spreading factor, if it has this one.
pub fn spreading_factor(sf: u8) -> Option<SpreadingFactor> {
    Some(match sf {
        5 => SpreadingFactor::_5,
        6 => SpreadingFactor::_6,
        7 => SpreadingFactor::_7,
        8 => SpreadingFactor::_8,
        9 => SpreadingFactor::_9,
        10 => SpreadingFactor::_10,
        11 => SpreadingFactor::_11,
        12 => SpreadingFactor::_12,
        _ => return None,
    })
}

/// The concentrator's bandwidth, if it has this one.
pub fn bandwidth(hz: u32) -> Option<Bandwidth> {
    Some(match hz {
        125_000 => Bandwidth::_125KHz,
        250_000 => Bandwidth::_250KHz,
        500_000 => Bandwidth::_500KHz,
        _ => return None,
    })
}

/// The coding rate 4/(4+`coding_rate`), if valid.
pub fn coding_rate(coding_rate: u8) -> Option<CodingRate> {
    Some(match coding_rate {
        1 => CodingRate::_4_5,
        2 => CodingRate::_4_6,
        3 => CodingRate::_4_7,
        4 => CodingRate::_4_8,
        _ => return None,
    })
}

/// The `txpk` of a transmission: LoRa, RF chain 0, uplink polarity (`ipol` false, so that other
/// gateways hear it as they hear devices), CRC as the parameters say.
pub fn txpk_for(transmission: &Transmission, timing: TxTiming) -> Result<TxPk, TxRefusal> {
    let params = &transmission.params;
    let unsupported = |why: String| Err(TxRefusal::Unsupported(why));
    let (Some(sf), Some(bw)) = (
        spreading_factor(params.spreading_factor),
        bandwidth(params.bandwidth_hz),
    ) else {
        return unsupported(format!(
            "SF{} at {} Hz is not a concentrator data rate",
            params.spreading_factor, params.bandwidth_hz
        ));
    };
    let Some(codr) = coding_rate(params.coding_rate) else {
        return unsupported(format!("coding rate {}", params.coding_rate));
    };
    if !params.explicit_header {
        return unsupported("implicit header".into());
    }
    if params.sync_word != PUBLIC_SYNC_WORD {
        return unsupported(format!(
            "sync word {:#04x} (concentrators send 0x34)",
            params.sync_word
        ));
    }
    let power = transmission.power_dbm.round();
    if !(0.0..=40.0).contains(&power) {
        return unsupported(format!("power {} dBm", transmission.power_dbm));
    }
    if transmission.payload.len() > 255 {
        return unsupported(format!("{}-byte payload", transmission.payload.len()));
    }
    Ok(TxPk {
        time: match timing {
            TxTiming::Immediate => Time::immediate(),
            TxTiming::Tmst(tmst) => Time::by_tmst(tmst),
        },
        freq: transmission.frequency_hz as f64 / 1e6,
        rfch: 0,
        powe: power as u64,
        modu: Modulation::LORA,
        datr: DataRate::new(sf, bw),
        codr: Some(codr),
        fdev: None,
        ipol: false,
        prea: Some(u64::from(params.preamble_len)),
        data: PhyData::new(transmission.payload.clone()),
        ncrc: Some(!params.crc),
    })
}

/// The `rxpk` (v1 object) a packet forwarder would send for this reception; `None` when its data
/// rate or coding rate has no GWMP name. `tmst` is the low 32 bits of its time in microseconds.
pub fn rxpk_from_reception(reception: &Reception) -> Option<RxPk> {
    let frame = &reception.frame;
    let datr = DataRate::new(
        spreading_factor(frame.spreading_factor)?,
        bandwidth(frame.bandwidth_hz)?,
    );
    let rssi = if frame.rssi_dbm.is_finite() {
        frame.rssi_dbm.round().clamp(-200.0, 50.0) as i32
    } else {
        -200
    };
    Some(RxPk::V1(RxPkV1 {
        chan: 0,
        codr: coding_rate(frame.coding_rate),
        data: frame.payload.clone(),
        datr,
        freq: reception.frequency_hz as f64 / 1e6,
        lsnr: if frame.snr_db.is_finite() {
            (frame.snr_db * 10.0).round() / 10.0
        } else {
            0.0
        },
        modu: Modulation::LORA,
        rfch: 0,
        rssi,
        rssis: Some(rssi),
        size: frame.payload.len() as u64,
        stat: match frame.crc_ok {
            Some(true) => CRC::OK,
            Some(false) => CRC::Fail,
            None => CRC::Disabled,
        },
        tmst: (reception.timestamp_ns / 1000) as u32,
        time: Some(format_rx_time(reception.timestamp_ns)),
    }))
}

fn serialize(packet: &impl SerializablePacket) -> Result<Vec<u8>, GwmpError> {
    let mut datagram = vec![0u8; MAX_DATAGRAM];
    let len = packet
        .serialize(&mut datagram)
        .map_err(|error| GwmpError::Json(error.to_string()))?;
    datagram.truncate(usize::try_from(len).unwrap_or(MAX_DATAGRAM));
    Ok(datagram)
}

/// A PUSH_ACK for the PUSH_DATA with this token.
pub fn encode_push_ack(token: u16) -> Vec<u8> {
    let [hi, lo] = token.to_be_bytes();
    vec![PROTOCOL_VERSION, hi, lo, PUSH_ACK]
}

/// A PULL_ACK for the PULL_DATA with this token.
pub fn encode_pull_ack(token: u16) -> Vec<u8> {
    let [hi, lo] = token.to_be_bytes();
    vec![PROTOCOL_VERSION, hi, lo, PULL_ACK]
}

/// A PULL_RESP carrying `txpk`.
pub fn encode_pull_resp(token: u16, txpk: TxPk) -> Result<Vec<u8>, GwmpError> {
    serialize(&pull_resp::Packet {
        random_token: token,
        data: pull_resp::Data::from_txpk(txpk),
    })
}

/// A PULL_DATA (forwarder keepalive).
pub fn encode_pull_data(token: u16, mac: MacAddress) -> Result<Vec<u8>, GwmpError> {
    serialize(&pull_data::Packet {
        random_token: token,
        gateway_mac: mac,
    })
}

/// A PUSH_DATA with these uplinks and optional status.
pub fn encode_push_data(
    token: u16,
    mac: MacAddress,
    rxpk: Vec<RxPk>,
    stat: Option<Stat>,
) -> Result<Vec<u8>, GwmpError> {
    serialize(&push_data::Packet {
        random_token: token,
        gateway_mac: mac,
        data: push_data::Data {
            rxpk: (!rxpk.is_empty()).then_some(rxpk),
            stat,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use radio::params::LoraParams;

    const MAC: [u8; 8] = [0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1];

    fn gwmp(token: u16, identifier: u8, json: &str) -> Vec<u8> {
        let mut datagram = vec![2, (token >> 8) as u8, token as u8, identifier];
        datagram.extend_from_slice(&MAC);
        datagram.extend_from_slice(json.as_bytes());
        datagram
    }

    #[test]
    fn forwarder_times_parse_and_format() {
        assert_eq!(
            parse_rx_time("2013-03-31T16:21:17.528002Z"),
            Some(1_364_746_877_528_002_000)
        );
        assert_eq!(parse_rx_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            format_rx_time(1_364_746_877_528_002_000),
            "2013-03-31T16:21:17.528002Z"
        );
        for bad in [
            "",
            "2013-03-31",
            "2013-13-31T00:00:00Z",
            "x-y-zTa:b:cZ",
            "2013-03-31T16:21:17.5x2Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rx_time(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn rx_times_round_trip(micros in 0u64..18_000_000_000_000_000) {
            let ns = micros * 1000;
            prop_assert_eq!(parse_rx_time(&format_rx_time(ns)), Some(ns));
        }

        #[test]
        fn time_parsing_never_panics(text in ".{0,40}") {
            let _ = parse_rx_time(&text);
        }

        #[test]
        fn decoding_never_panics(datagram in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_up(&datagram);
            let _ = decode_down(&datagram);
        }

        /// An rxpk made from a reception decodes back into that reception (to the precision of
        /// GWMP: whole dBm, tenths of dB, microseconds).
        #[test]
        fn rxpk_round_trips(
            payload in proptest::collection::vec(any::<u8>(), 0..256),
            sf in 7u8..=12,
            bw in prop::sample::select(vec![125_000u32, 250_000, 500_000]),
            cr in 1u8..=4,
            crc in prop::option::of(any::<bool>()),
            rssi in -140i32..0,
            snr_tenths in -250i32..150,
            frequency_hz in 100_000_000u64..3_000_000_000,
            micros in 1_000_000_000_000_000u64..4_000_000_000_000_000,
        ) {
            let reception = Reception {
                frame: RxFrame {
                    payload,
                    crc_ok: crc,
                    spreading_factor: sf,
                    bandwidth_hz: bw,
                    coding_rate: cr,
                    snr_db: snr_tenths as f32 / 10.0,
                    rssi_dbm: rssi as f32,
                    cfo_hz: 0.0,
                    sample_offset: 0,
                },
                frequency_hz,
                timestamp_ns: micros * 1000,
            };
            let rxpk = rxpk_from_reception(&reception).unwrap();
            let datagram = encode_push_data(7, MacAddress::from(MAC), vec![rxpk], None).unwrap();
            let Ok(UpMessage::PushData { token: 7, body: Ok(body), .. }) = decode_up(&datagram) else {
                panic!("not a PUSH_DATA");
            };
            prop_assert_eq!(body.rxpk.len(), 1);
            let back = body.rxpk[0].clone().unwrap();
            prop_assert_eq!(back.frame.payload, reception.frame.payload);
            prop_assert_eq!(back.frame.crc_ok, crc);
            prop_assert_eq!(back.frame.spreading_factor, sf);
            prop_assert_eq!(back.frame.bandwidth_hz, bw);
            prop_assert_eq!(back.frame.coding_rate, cr);
            prop_assert_eq!(back.frame.rssi_dbm, rssi as f32);
            prop_assert!((back.frame.snr_db - reception.frame.snr_db).abs() < 0.01);
            prop_assert_eq!(back.frequency_hz, frequency_hz);
            prop_assert_eq!(back.timestamp_ns, reception.timestamp_ns);
        }

        /// Whatever JSON an rxpk holds, decoding it returns (no panic), and a decoded reception
        /// has a sane frequency and data rate.
        #[test]
        fn arbitrary_rxpk_json_is_survived(
            datr in prop::sample::select(vec![
                "SF9BW125".to_string(), "SF1\u{e9}BW125".to_string(), "SF99BW125".to_string(),
                "SF7BW500".to_string(), "".to_string(), "\u{1F600}\u{1F600}\u{1F600}".to_string(),
            ]),
            freq in prop::sample::select(vec![904.3, 0.0, -1.0, 1e300, 868.1]),
            stat in -2i64..3,
            data in prop::sample::select(vec!["QAE=".to_string(), "not base64!".to_string(), "".to_string()]),
            modu in prop::sample::select(vec!["LORA", "FSK", "X"]),
        ) {
            let json = serde_json::json!({
                "tmst": 1, "chan": 0, "rfch": 0, "freq": freq, "stat": stat, "modu": modu,
                "datr": datr, "codr": "4/5", "lsnr": 5.5, "rssi": -80, "size": 1, "data": data,
            });
            if let Ok(reception) = reception_from_json(&json) {
                prop_assert!(reception.frequency_hz > 0);
                prop_assert!((5..=12).contains(&reception.frame.spreading_factor));
                prop_assert_eq!(modu, "LORA");
                prop_assert!(stat.abs() <= 1);
            }
        }
    }

    #[test]
    fn an_sx1302_uplink_and_a_v2_uplink_decode() {
        let datagram = gwmp(
            0x0101,
            PUSH_DATA,
            r#"{"rxpk":[{"jver":1,"tmst":682631918,"time":"2026-11-25T16:21:17.528002Z","chan":0,"rfch":0,"freq":865.0625,"mid":0,"stat":-1,"modu":"LORA","datr":"SF12BW125","codr":"4/5","rssis":-95,"lsnr":6.8,"foff":-1300,"rssi":-94,"size":3,"data":"AQID"},
                {"modu":"FSK","datr":50000,"freq":868.8,"stat":1,"data":"AQID"}],
              "stat":{"time":"2026-11-25 16:21:17 GMT","rxnb":2,"rxok":1,"rxfw":1,"ackr":100.0,"dwnb":0,"txnb":0}}"#,
        );
        let Ok(UpMessage::PushData { token, mac, body }) = decode_up(&datagram) else {
            panic!("not a PUSH_DATA");
        };
        assert_eq!((token, mac), (0x0101, MacAddress::from(MAC)));
        let body = body.unwrap();
        let first = body.rxpk[0].clone().unwrap();
        assert_eq!(first.frame.crc_ok, Some(false), "stat -1 is a bad CRC");
        assert_eq!(first.frame.rssi_dbm, -95.0, "signal RSSI preferred");
        assert_eq!(first.frame.cfo_hz, -1300.0);
        assert_eq!(first.frame.spreading_factor, 12);
        assert_eq!(first.frame.payload, vec![1, 2, 3]);
        assert_eq!(first.frequency_hz, 865_062_500);
        assert_eq!(first.timestamp_ns, 1_795_623_677_528_002_000);
        assert!(body.rxpk[1].is_err(), "FSK is not a LoRa reception");
        let stat = body.stat.unwrap().unwrap();
        assert_eq!((stat.rxnb, stat.rxok), (2, 1));

        let v2 = gwmp(
            9,
            PUSH_DATA,
            r#"{"rxpk":[{"jver":2,"brd":0,"aesk":0,"tmst":1000,"tmms":1448000000000,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF10BW125","codr":"4/5","size":2,"data":"AAE=","rsig":[{"ant":0,"chan":1,"rssic":-110,"rssis":-112,"lsnr":-3.5,"foff":-212},{"ant":1,"chan":1,"rssic":-120,"lsnr":-9.0}]}]}"#,
        );
        let Ok(UpMessage::PushData { body: Ok(body), .. }) = decode_up(&v2) else {
            panic!("not a PUSH_DATA");
        };
        let heard = body.rxpk[0].clone().unwrap();
        assert_eq!(heard.frame.rssi_dbm, -112.0);
        assert_eq!(heard.frame.snr_db, -3.5);
        assert_eq!(heard.frame.cfo_hz, -212.0);
        assert_eq!(
            heard.timestamp_ns,
            (1_448_000_000_000 + 315_964_800_000 - 18_000) * 1_000_000
        );
    }

    #[test]
    fn bad_datagrams_are_errors() {
        assert!(matches!(
            decode_up(b"GET / HTTP/1.1\r\n"),
            Err(GwmpError::Version(b'G'))
        ));
        assert!(matches!(
            decode_up(&[2, 0, 0]),
            Err(GwmpError::TooShort { .. })
        ));
        assert!(matches!(
            decode_up(&[2, 0, 0, PULL_DATA, 1, 2]),
            Err(GwmpError::TooShort { .. })
        ));
        assert!(matches!(
            decode_up(&[2, 0, 0, 0x42]),
            Err(GwmpError::Identifier(0x42))
        ));
        assert!(matches!(
            decode_up(&[2, 0, 0, PUSH_ACK]),
            Err(GwmpError::Direction(PUSH_ACK))
        ));
        let Ok(UpMessage::PushData { body, .. }) = decode_up(&gwmp(1, PUSH_DATA, "{not json"))
        else {
            panic!("framing is fine");
        };
        assert!(matches!(body, Err(GwmpError::Json(_))));
        let Ok(UpMessage::PushData { body: Ok(body), .. }) = decode_up(&gwmp(
            1,
            PUSH_DATA,
            r#"{"rxpk":[{"tmst":1,"chan":0,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","lsnr":5.5,"rssi":-80,"size":1,"data":"%%%"}]}"#,
        )) else {
            panic!("framing is fine");
        };
        assert!(
            matches!(body.rxpk[0], Err(GwmpError::RxPk(_))),
            "bad base64"
        );
    }

    #[test]
    fn tx_acks_map_to_refusals() {
        let outcome = |json: &str| match decode_up(&gwmp(5, TX_ACK, json)) {
            Ok(UpMessage::TxAck {
                token: 5, outcome, ..
            }) => outcome,
            other => panic!("{other:?}"),
        };
        assert_eq!(outcome(""), Ok(TxAccepted::AsAsked));
        assert_eq!(outcome("\0"), Ok(TxAccepted::AsAsked));
        assert_eq!(
            outcome(r#"{"txpk_ack":{"error":"NONE"}}"#),
            Ok(TxAccepted::AsAsked)
        );
        for (code, refusal) in [
            ("TOO_LATE", TxRefusal::TooLate),
            ("TOO_EARLY", TxRefusal::TooEarly),
            ("COLLISION_PACKET", TxRefusal::CollisionPacket),
            ("COLLISION_BEACON", TxRefusal::CollisionBeacon),
            ("TX_FREQ", TxRefusal::Frequency),
            ("TX_POWER", TxRefusal::Power),
            ("GPS_UNLOCKED", TxRefusal::GpsUnlocked),
            ("SEND_LBT", TxRefusal::Other("SEND_LBT".into())),
        ] {
            let json = format!(r#"{{"txpk_ack":{{"error":"{code}"}}}}"#);
            assert_eq!(outcome(&json), Err(refusal.clone()), "{code}");
            assert!(TxRefusal::COUNTER_NAMES.contains(&refusal.counter_name()));
        }
        // The SX1302 forwarder's warning, with and without an explicit NONE error: sent, at the
        // power in `value`.
        for json in [
            r#"{"txpk_ack":{"warn":"TX_POWER","value":27}}"#,
            r#"{"txpk_ack":{"error":"NONE","warn":"TX_POWER","value":27}}"#,
            "{\"txpk_ack\":{\"warn\":\"TX_POWER\",\"value\":27}}\0",
        ] {
            assert_eq!(
                outcome(json),
                Ok(TxAccepted::AtPower { used_dbm: 27 }),
                "{json}"
            );
        }
        // A warning whose power cannot be read, or an error beside it: nothing to file.
        for json in [
            r#"{"txpk_ack":{"warn":"TX_POWER"}}"#,
            r#"{"txpk_ack":{"warn":"TX_POWER","value":"27"}}"#,
            r#"{"txpk_ack":{"warn":"TX_POWER","value":1e300}}"#,
            r#"{"txpk_ack":{"error":"TX_POWER","value":27}}"#,
        ] {
            assert_eq!(outcome(json), Err(TxRefusal::Power), "{json}");
        }
        assert_eq!(
            outcome(r#"{"txpk_ack":{"error":"COLLISION_PACKET","warn":"TX_POWER","value":27}}"#),
            Err(TxRefusal::CollisionPacket)
        );
        assert!(matches!(outcome("{oops"), Err(TxRefusal::Other(_))));
    }

    #[test]
    fn beacons_become_txpk_with_uplink_polarity() {
        let beacon = Transmission {
            frequency_hz: 904_500_000,
            params: LoraParams::new(9, 125_000),
            payload: (0..51).collect(),
            power_dbm: 27.0,
        };
        let txpk = txpk_for(&beacon, TxTiming::Tmst(123_456)).unwrap();
        let datagram = encode_pull_resp(0xbeef, txpk).unwrap();
        assert_eq!(
            decode_down(&datagram),
            Ok(DownMessage::PullResp { token: 0xbeef })
        );
        let json: Value = serde_json::from_slice(&datagram[4..]).unwrap();
        let txpk = &json["txpk"];
        assert_eq!(txpk["imme"], false);
        assert_eq!(txpk["tmst"], 123_456);
        assert_eq!(txpk["freq"], 904.5);
        assert_eq!(txpk["powe"], 27);
        assert_eq!(txpk["datr"], "SF9BW125");
        assert_eq!(txpk["codr"], "4/5");
        assert_eq!(txpk["ipol"], false);
        assert_eq!(txpk["size"], 51);
        assert_eq!(txpk["modu"], "LORA");
        let mut private = beacon.clone();
        private.params.sync_word = 0x12;
        assert!(matches!(
            txpk_for(&private, TxTiming::Immediate),
            Err(TxRefusal::Unsupported(_))
        ));
        let mut narrow = beacon;
        narrow.params.bandwidth_hz = 62_500;
        assert!(matches!(
            txpk_for(&narrow, TxTiming::Immediate),
            Err(TxRefusal::Unsupported(_))
        ));
    }
}
