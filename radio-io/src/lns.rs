//! The LNS side of LoRa Basics Station's protocol ("The LNS Protocol", Semtech): the JSON text
//! messages a station sends on its muxs websocket, decoded ([`decode_station`]), its uplinks
//! turned back into frames ([`reception_from_uplink`]), and what the LNS sends: the discovery
//! answer ([`router_info_answer`]), `router_config` built from the region's channel plan
//! ([`router_config`]), `dnmsg` downlinks ([`dnmsg`]) and the answer to a station's `timesync`
//! ([`timesync_answer`]). No I/O: the websocket server is [`crate::basic_station`].
//!
//! Station uplinks carry the frame split into fields: `updf` (data frames: `MHdr`, `DevAddr`,
//! `FCtrl`, `FCnt`, `FOpts`, `FPort`, `FRMPayload`, `MIC`), `jreq`/`rejoin` (`MHdr`, `JoinEui`,
//! `DevEui`, `DevNonce`, `MIC`) and `propdf` (the whole frame in `FRMPayload`), with `DR`,
//! `Freq` and `upinfo` (`rssi`, `snr`, `rxtime`). Integers are little-endian in the frame;
//! `DevAddr` and `MIC` are sent as signed 32-bit numbers, EUIs as `HH-HH-...` strings.

use crate::channel_plan::ChannelPlan;
use crate::{Reception, Transmission};
use radio::demod::RxFrame;
use serde::Deserialize;
use serde_json::{json, Value};

/// Longest text message accepted from a station.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The GPS epoch, 1980-01-06T00:00:00Z, in Unix seconds.
pub const GPS_EPOCH_UNIX_S: u64 = 315_964_800;

/// Seconds GPS time is ahead of UTC: the leap seconds since the GPS epoch (18 since 2017-01-01).
pub const GPS_LEAP_SECONDS: u64 = 18;

/// Why a station's message could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LnsError {
    /// Not JSON, not an object, too long, or a field of the wrong type.
    #[error("unreadable station message: {0}")]
    Malformed(String),
    /// A field's value is out of its range (a hex string of odd length, a 40-bit MIC, ...).
    #[error("station message field {field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The uplink's data rate is not one the `router_config` defined.
    #[error("data rate DR{0} is not in the channel plan")]
    UnknownDataRate(i64),
    /// The transmission's modulation is not one of the plan's data rates.
    #[error("no data rate of the channel plan is SF{0}/{1} Hz")]
    NoDataRate(u8, u32),
}

fn malformed(error: impl std::fmt::Display) -> LnsError {
    LnsError::Malformed(error.to_string())
}

fn field(field: &'static str, reason: impl Into<String>) -> LnsError {
    LnsError::Field {
        field,
        reason: reason.into(),
    }
}

/// What the station's `version` message says about it (any field may be null or absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StationVersion {
    /// The station's version, e.g. "2.0.6(rpi/std)".
    #[serde(default)]
    pub station: Option<String>,
    /// Its firmware.
    #[serde(default)]
    pub firmware: Option<String>,
    /// Its platform.
    #[serde(default)]
    pub model: Option<String>,
    /// The muxs protocol version.
    #[serde(default)]
    pub protocol: Option<i64>,
    /// Its features, space-separated.
    #[serde(default)]
    pub features: Option<String>,
}

/// The radio metadata of an uplink.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct UpInfo {
    /// Signal strength, dBm.
    pub rssi: f64,
    /// Signal to noise ratio, dB.
    pub snr: f64,
    /// When the frame was received, UTC seconds (0 or absent when unknown).
    #[serde(default)]
    pub rxtime: f64,
}

/// An uplink a station forwarded: the frame rebuilt, its data rate, frequency and signal.
#[derive(Debug, Clone, PartialEq)]
pub struct StationUplink {
    /// The message type (`updf`, `jreq`, `rejoin` or `propdf`).
    pub kind: &'static str,
    /// The frame's bytes (PHYPayload).
    pub payload: Vec<u8>,
    /// Data rate index of the `router_config`'s `DRs`.
    pub dr: i64,
    /// Frequency, hertz.
    pub freq: u64,
    /// Radio metadata.
    pub upinfo: UpInfo,
}

/// A downlink's confirmation: it went on air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dntxed {
    /// The downlink's id (`diid`).
    pub diid: i64,
}

/// A station's `timesync` request: its own clock when it sent it, which the answer echoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timesync {
    /// The station's `txtime` (microseconds of its monotonic clock), as sent.
    pub txtime: serde_json::Number,
}

/// A message from a station, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum StationMessage {
    /// `version`: the first message on a muxs connection; the LNS answers `router_config`.
    Version(StationVersion),
    /// `updf`, `jreq`, `rejoin` or `propdf`.
    Uplink(StationUplink),
    /// `dntxed`.
    Dntxed(Dntxed),
    /// `timesync`: a station with a GPS PPS asks for GPS time; the LNS answers
    /// [`timesync_answer`].
    Timesync(Timesync),
    /// Any other message type (e.g. `rmtsh`, `dndf`), by name.
    Other(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RadioFields {
    #[serde(rename = "DR")]
    dr: i64,
    freq: u64,
    #[serde(rename = "upinfo")]
    upinfo: UpInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataFields {
    #[serde(rename = "MHdr")]
    mhdr: u8,
    dev_addr: i64,
    #[serde(rename = "FCtrl")]
    fctrl: u8,
    #[serde(rename = "FCnt")]
    fcnt: u32,
    #[serde(rename = "FOpts")]
    fopts: String,
    #[serde(rename = "FPort")]
    fport: i16,
    #[serde(rename = "FRMPayload")]
    frm_payload: String,
    #[serde(rename = "MIC")]
    mic: i64,
}

#[derive(Deserialize)]
struct JoinFields {
    #[serde(rename = "MHdr")]
    mhdr: u8,
    #[serde(rename = "JoinEui", alias = "JoinEUI")]
    join_eui: String,
    #[serde(rename = "DevEui", alias = "DevEUI")]
    dev_eui: String,
    #[serde(rename = "DevNonce")]
    dev_nonce: u16,
    #[serde(rename = "MIC")]
    mic: i64,
}

#[derive(Deserialize)]
struct PropFields {
    #[serde(rename = "FRMPayload")]
    frm_payload: String,
}

#[derive(Deserialize)]
struct DntxedFields {
    diid: i64,
}

#[derive(Deserialize)]
struct TimesyncFields {
    txtime: serde_json::Number,
}

fn fields<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, LnsError> {
    T::deserialize(value).map_err(malformed)
}

fn hex_field(name: &'static str, text: &str) -> Result<Vec<u8>, LnsError> {
    hex::decode(text).map_err(|error| field(name, error.to_string()))
}

/// A 32-bit field sent as a signed or unsigned number.
fn u32_field(name: &'static str, value: i64) -> Result<u32, LnsError> {
    if let Ok(unsigned) = u32::try_from(value) {
        return Ok(unsigned);
    }
    i32::try_from(value)
        .map(|signed| signed as u32)
        .map_err(|_| field(name, format!("{value} is not a 32-bit number")))
}

/// An EUI as a station writes it: 16 hex digits, bytes separated by '-' or ':' or not.
fn eui_field(name: &'static str, text: &str) -> Result<u64, LnsError> {
    let digits: String = text.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    if digits.len() != 16 {
        return Err(field(name, format!("{text:?} is not an EUI")));
    }
    u64::from_str_radix(&digits, 16).map_err(|error| field(name, error.to_string()))
}

fn data_frame(value: &Value) -> Result<Vec<u8>, LnsError> {
    let data: DataFields = fields(value)?;
    let fopts = hex_field("FOpts", &data.fopts)?;
    let frm_payload = hex_field("FRMPayload", &data.frm_payload)?;
    let fcnt = u16::try_from(data.fcnt & 0xffff).unwrap_or_default();
    let mut frame = vec![data.mhdr];
    frame.extend_from_slice(&u32_field("DevAddr", data.dev_addr)?.to_le_bytes());
    frame.push(data.fctrl);
    frame.extend_from_slice(&fcnt.to_le_bytes());
    frame.extend_from_slice(&fopts);
    match u8::try_from(data.fport) {
        Ok(port) => frame.push(port),
        Err(_) if data.fport == -1 && frm_payload.is_empty() => {}
        Err(_) => return Err(field("FPort", format!("{} is not a port", data.fport))),
    }
    frame.extend_from_slice(&frm_payload);
    frame.extend_from_slice(&u32_field("MIC", data.mic)?.to_le_bytes());
    Ok(frame)
}

fn join_frame(value: &Value) -> Result<Vec<u8>, LnsError> {
    let join: JoinFields = fields(value)?;
    let mut frame = vec![join.mhdr];
    frame.extend_from_slice(&eui_field("JoinEui", &join.join_eui)?.to_le_bytes());
    frame.extend_from_slice(&eui_field("DevEui", &join.dev_eui)?.to_le_bytes());
    frame.extend_from_slice(&join.dev_nonce.to_le_bytes());
    frame.extend_from_slice(&u32_field("MIC", join.mic)?.to_le_bytes());
    Ok(frame)
}

fn uplink(kind: &'static str, value: &Value) -> Result<StationUplink, LnsError> {
    let payload = match kind {
        "updf" => data_frame(value)?,
        "jreq" | "rejoin" => join_frame(value)?,
        _ => hex_field("FRMPayload", &fields::<PropFields>(value)?.frm_payload)?,
    };
    let radio: RadioFields = fields(value)?;
    Ok(StationUplink {
        kind,
        payload,
        dr: radio.dr,
        freq: radio.freq,
        upinfo: radio.upinfo,
    })
}

/// Decodes one text message of a station.
pub fn decode_station(text: &str) -> Result<StationMessage, LnsError> {
    if text.len() > MAX_MESSAGE {
        return Err(malformed(format!(
            "{} bytes, more than {MAX_MESSAGE}",
            text.len()
        )));
    }
    let value: Value = serde_json::from_str(text).map_err(malformed)?;
    let msgtype = value
        .get("msgtype")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("no msgtype"))?;
    Ok(match msgtype {
        "version" => StationMessage::Version(fields(&value)?),
        "updf" => StationMessage::Uplink(uplink("updf", &value)?),
        "jreq" => StationMessage::Uplink(uplink("jreq", &value)?),
        "rejoin" => StationMessage::Uplink(uplink("rejoin", &value)?),
        "propdf" => StationMessage::Uplink(uplink("propdf", &value)?),
        "dntxed" => StationMessage::Dntxed(Dntxed {
            diid: fields::<DntxedFields>(&value)?.diid,
        }),
        "timesync" => StationMessage::Timesync(Timesync {
            txtime: fields::<TimesyncFields>(&value)?.txtime,
        }),
        other => StationMessage::Other(other.chars().take(32).collect()),
    })
}

/// Turns a station's uplink into a reception, its data rate read from `plan`.
pub fn reception_from_uplink(
    uplink: &StationUplink,
    plan: &ChannelPlan,
) -> Result<Reception, LnsError> {
    let (spreading_factor, bandwidth_hz) = usize::try_from(uplink.dr)
        .ok()
        .and_then(|dr| plan.datarates.get(dr).copied())
        .ok_or(LnsError::UnknownDataRate(uplink.dr))?;
    let finite = |name: &'static str, value: f64| {
        if value.is_finite() {
            Ok(value as f32)
        } else {
            Err(field(name, "not a finite number"))
        }
    };
    let rxtime = uplink.upinfo.rxtime;
    let timestamp_ns = if rxtime.is_finite() && rxtime > 0.0 && rxtime < 1.0e11 {
        (rxtime * 1e9) as u64
    } else {
        0
    };
    Ok(Reception {
        frame: RxFrame {
            payload: uplink.payload.clone(),
            // A station forwards only frames whose CRC was good.
            crc_ok: Some(true),
            spreading_factor,
            bandwidth_hz,
            coding_rate: 1,
            snr_db: finite("snr", uplink.upinfo.snr)?,
            rssi_dbm: finite("rssi", uplink.upinfo.rssi)?,
            cfo_hz: 0.0,
            sample_offset: 0,
        },
        frequency_hz: uplink.freq,
        timestamp_ns,
    })
}

/// The answer to a station's `{"router": ...}` on `/router-info`: the muxs URI it must
/// connect to, or an error when the router id is not usable.
pub fn router_info_answer(request: &str, host: &str) -> (Value, Option<String>) {
    let router = serde_json::from_str::<Value>(request)
        .ok()
        .and_then(|value| value.get("router").cloned());
    let id = match &router {
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(id)) => id.as_u64().map(|id| format!("{id:x}")),
        _ => None,
    }
    .filter(|id| {
        !id.is_empty()
            && id.len() <= 32
            && id
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '-')
    });
    let router = router.unwrap_or(Value::Null);
    match id {
        Some(id) => (
            json!({"router": router, "muxs": "muxs-::0", "uri": format!("ws://{host}/router-{id}")}),
            Some(id),
        ),
        None => (
            json!({"router": router, "error": "expected {\"router\": ID6, EUI or integer}"}),
            None,
        ),
    }
}

/// Microseconds since the GPS epoch at `unix_us` (microseconds since the Unix epoch, UTC);
/// 0 before the GPS epoch.
pub fn gps_time_us(unix_us: u64) -> u64 {
    unix_us
        .saturating_add(GPS_LEAP_SECONDS * 1_000_000)
        .saturating_sub(GPS_EPOCH_UNIX_S * 1_000_000)
}

/// The LNS's answer to `request`, handled at `unix_us` (the host's UTC clock, microseconds): the
/// station's `txtime` echoed with the GPS time (`gpstime`, microseconds). A station whose
/// concentrator has a PPS pulse sends `timesync` in bursts until an answer lets it label its
/// PPS with GPS seconds.
pub fn timesync_answer(request: &Timesync, unix_us: u64) -> Value {
    json!({
        "msgtype": "timesync",
        "txtime": request.txtime,
        "gpstime": gps_time_us(unix_us),
    })
}

/// The power the reference station transmits at in a region unless `max_eirp` lowers it
/// (its `router_config` handling), dBm.
pub fn station_default_power_dbm(region: &str) -> f32 {
    match region {
        "EU868" => 16.0,
        "KR920" => 23.0,
        "AS923-1" => 13.0,
        "US915" => 26.0,
        "AU915" => 30.0,
        _ => 14.0,
    }
}

/// The SX1301 setup of `channels`: two radios, each centred on the channels it serves (all
/// within ±400 kHz of it), each channel a multi-SF channel at its offset.
fn sx1301_conf(channels: &[u64]) -> Value {
    let mut sorted = channels.to_vec();
    sorted.sort_unstable();
    sorted.truncate(8);
    let first = sorted.first().copied().unwrap_or(0);
    let (low, high): (Vec<u64>, Vec<u64>) = sorted.into_iter().partition(|&f| f <= first + 800_000);
    let centre = |group: &[u64]| match (group.first(), group.last()) {
        (Some(min), Some(max)) => (min + max) / 2,
        _ => first,
    };
    let radios = [centre(&low), centre(&high)];
    let mut conf = serde_json::Map::new();
    for (index, freq) in radios.iter().enumerate() {
        conf.insert(
            format!("radio_{index}"),
            json!({"enable": true, "freq": freq}),
        );
    }
    for (index, (radio, &freq)) in low
        .iter()
        .map(|f| (0usize, f))
        .chain(high.iter().map(|f| (1usize, f)))
        .enumerate()
    {
        let offset = freq as i64 - radios[radio] as i64;
        conf.insert(
            format!("chan_multiSF_{index}"),
            json!({"enable": true, "radio": radio, "if": offset}),
        );
    }
    Value::Array(vec![Value::Object(conf)])
}

/// The `router_config` for a station in `plan`'s region: the region, its band as `freq_range`,
/// the plan's data rates as `DRs` (`[SF, bandwidth kHz, downlink only]`), the channels as
/// `upchannels` (`[Hz, min DR, max DR]`) and the SX1301 setup for them.
pub fn router_config(plan: &ChannelPlan) -> Value {
    let drs: Vec<Value> = plan
        .datarates
        .iter()
        .map(|&(sf, bw)| json!([sf, bw / 1000, 0]))
        .collect();
    let max_dr = plan.datarates.len().saturating_sub(1).min(7);
    let upchannels: Vec<Value> = plan
        .channels_hz
        .iter()
        .map(|&freq| json!([freq, 0, max_dr]))
        .collect();
    json!({
        "msgtype": "router_config",
        "region": plan.region,
        "hwspec": "sx1301/1",
        "freq_range": [plan.band_hz.0, plan.band_hz.1],
        "DRs": drs,
        "upchannels": upchannels,
        "sx1301_conf": sx1301_conf(&plan.channels_hz),
        "NetID": null,
        "JoinEui": null,
        "nocca": true,
        "nodc": true,
        "nodwell": true,
    })
}

/// A `dnmsg` putting `transmission` on air at once: a class C downlink (`dC` 2) on its
/// frequency and data rate (`RX2Freq`, `RX2DR`) with a payload CRC, confirmed by a `dntxed`
/// carrying `diid`.
pub fn dnmsg(
    diid: i64,
    transmission: &Transmission,
    plan: &ChannelPlan,
) -> Result<Value, LnsError> {
    let sf = transmission.params.spreading_factor;
    let bw = transmission.params.bandwidth_hz;
    let dr = plan
        .datarate_index(sf, bw)
        .ok_or(LnsError::NoDataRate(sf, bw))?;
    Ok(json!({
        "msgtype": "dnmsg",
        "DevEui": "00-00-00-00-00-00-00-01",
        "dC": 2,
        "diid": diid,
        "pdu": hex::encode_upper(&transmission.payload),
        "RxDelay": 1,
        "RX2DR": dr,
        "RX2Freq": transmission.frequency_hz,
        "priority": 0,
        "addcrc": 1,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us915() -> ChannelPlan {
        ChannelPlan {
            region: "US915".into(),
            band_hz: (902_000_000, 928_000_000),
            channels_hz: (0..8).map(|i| 903_900_000 + i * 200_000).collect(),
            datarates: vec![(10, 125_000), (9, 125_000), (8, 125_000), (7, 125_000)],
        }
    }

    #[test]
    fn a_data_frame_is_rebuilt_byte_for_byte() {
        // The 15-byte unconfirmed uplink 40 01020304 00 0100 01 aabb 11223344 as a station
        // sends it: DevAddr 0x04030201, FCnt 1, FPort 1, MIC 0x44332211.
        let text = r#"{"msgtype":"updf","MHdr":64,"DevAddr":67305985,"FCtrl":0,"FCnt":1,
            "FOpts":"","FPort":1,"FRMPayload":"AABB","MIC":1144201745,"RefTime":0.0,"DR":1,
            "Freq":904300000,"upinfo":{"rctx":0,"xtime":1,"gpstime":0,"fts":-1,"rssi":-97,
            "snr":7.25,"rxtime":1795623677.5}}"#;
        let StationMessage::Uplink(up) = decode_station(text).unwrap() else {
            panic!("an uplink");
        };
        assert_eq!(hex::encode(&up.payload), "400102030400010001aabb11223344");
        let reception = reception_from_uplink(&up, &us915()).unwrap();
        assert_eq!(reception.frame.spreading_factor, 9);
        assert_eq!(
            (reception.frame.rssi_dbm, reception.frame.snr_db),
            (-97.0, 7.25)
        );
        assert_eq!(reception.frequency_hz, 904_300_000);
        assert_eq!(reception.timestamp_ns, 1_795_623_677_500_000_000);
    }

    #[test]
    fn joins_negative_mics_and_proprietary_frames_are_rebuilt() {
        let text = r#"{"msgtype":"jreq","MHdr":0,"JoinEui":"01-02-03-04-05-06-07-08",
            "DevEui":"11-12-13-14-15-16-17-18","DevNonce":513,"MIC":-1,"DR":0,
            "Freq":903900000,"upinfo":{"rssi":-120,"snr":-9.5}}"#;
        let StationMessage::Uplink(up) = decode_station(text).unwrap() else {
            panic!("a join");
        };
        assert_eq!(
            hex::encode(&up.payload),
            "00080706050403020118171615141312110102ffffffff"
        );
        let text = r#"{"msgtype":"propdf","FRMPayload":"E0010203","DR":3,"Freq":905300000,
            "upinfo":{"rssi":-80,"snr":9}}"#;
        let StationMessage::Uplink(up) = decode_station(text).unwrap() else {
            panic!("a proprietary frame");
        };
        assert_eq!(up.payload, [0xe0, 1, 2, 3]);
        assert_eq!(
            reception_from_uplink(&up, &us915())
                .unwrap()
                .frame
                .spreading_factor,
            7
        );
        let mut unknown_dr = up.clone();
        unknown_dr.dr = 9;
        assert_eq!(
            reception_from_uplink(&unknown_dr, &us915()),
            Err(LnsError::UnknownDataRate(9))
        );
    }

    #[test]
    fn bad_messages_are_errors_not_panics() {
        for text in [
            "",
            "[]",
            "{}",
            r#"{"msgtype":7}"#,
            r#"{"msgtype":"updf"}"#,
            r#"{"msgtype":"updf","MHdr":64,"DevAddr":1,"FCtrl":0,"FCnt":1,"FOpts":"ABC","FPort":1,"FRMPayload":"","MIC":1,"DR":0,"Freq":1,"upinfo":{"rssi":0,"snr":0}}"#,
            r#"{"msgtype":"updf","MHdr":64,"DevAddr":1099511627776,"FCtrl":0,"FCnt":1,"FOpts":"","FPort":1,"FRMPayload":"","MIC":1,"DR":0,"Freq":1,"upinfo":{"rssi":0,"snr":0}}"#,
            r#"{"msgtype":"jreq","MHdr":0,"JoinEui":"nope","DevEui":"11-12-13-14-15-16-17-18","DevNonce":1,"MIC":1,"DR":0,"Freq":1,"upinfo":{"rssi":0,"snr":0}}"#,
            r#"{"msgtype":"dntxed"}"#,
        ] {
            assert!(decode_station(text).is_err(), "{text}");
        }
        assert_eq!(
            decode_station(r#"{"msgtype":"dndf","MHdr":96}"#).unwrap(),
            StationMessage::Other("dndf".into())
        );
        assert!(decode_station(r#"{"msgtype":"timesync"}"#).is_err());
    }

    #[test]
    fn a_timesync_is_answered_with_gps_time() {
        // As the reference station sends it: its monotonic microseconds.
        let StationMessage::Timesync(request) =
            decode_station(r#"{"msgtype":"timesync","txtime":2359764353}"#).unwrap()
        else {
            panic!("a timesync");
        };
        // 2017-01-01T00:00:00Z is GPS second 1 167 264 018 (18 leap seconds since 1980).
        let unix_us = 1_483_228_800_250_000;
        assert_eq!(gps_time_us(unix_us), 1_167_264_018_250_000);
        assert_eq!(
            timesync_answer(&request, unix_us),
            json!({"msgtype": "timesync", "txtime": 2_359_764_353u64,
                   "gpstime": 1_167_264_018_250_000u64})
        );
        assert_eq!(gps_time_us(0), 0, "before the GPS epoch");
    }

    #[test]
    fn router_config_follows_the_plan() {
        let config = router_config(&us915());
        assert_eq!(config["region"], "US915");
        assert_eq!(
            config["freq_range"],
            json!([902_000_000u64, 928_000_000u64])
        );
        assert_eq!(config["DRs"][1], json!([9, 125, 0]));
        assert_eq!(config["upchannels"][0], json!([903_900_000u64, 0, 3]));
        let conf = &config["sx1301_conf"][0];
        assert_eq!(conf["radio_0"]["freq"], 904_300_000u64);
        assert_eq!(conf["radio_1"]["freq"], 905_100_000u64);
        assert_eq!(conf["chan_multiSF_0"]["if"], -400_000);
        assert_eq!(
            conf["chan_multiSF_7"],
            json!({"enable": true, "radio": 1, "if": 200_000})
        );
    }

    #[test]
    fn router_info_names_the_muxs_uri_or_an_error() {
        let (answer, id) = router_info_answer(r#"{"router":"b827:ebff:fe61:f1bc"}"#, "lns:6090");
        assert_eq!(id.as_deref(), Some("b827:ebff:fe61:f1bc"));
        assert_eq!(answer["uri"], "ws://lns:6090/router-b827:ebff:fe61:f1bc");
        let (answer, id) = router_info_answer(r#"{"router":"../x"}"#, "lns:6090");
        assert!(id.is_none() && answer["error"].is_string());
    }
}
