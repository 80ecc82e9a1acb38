//! Cross-check against lora-packet, an independent LoRaWAN implementation (npm): the frames
//! that `tests/peer/frames.js` builds with real keys must read the same here (kind, DevAddr,
//! FCnt, EUIs), their MICs must check with the same keys, their payloads decrypt to the same
//! bytes, and their price must be the one counted by hand.
//!
//! Needs `node` and `tests/peer/node_modules` (`scripts/setup.sh --tests` installs them); without
//! them the test fails and says so.

use lorawan::keys::AES128;
use lorawan::parser::{DataHeader, DataPayload, FRMPayload, PhyPayload};
use routing::{credits_for, parse_uplink, RoutingKey, Uplink};
use serde::Deserialize;
use std::path::PathBuf;
use std::process::Command;

const SETUP: &str =
    "run scripts/setup.sh --tests to install node and the routing peer (lora-packet)";

#[derive(Debug, Deserialize)]
struct Output {
    lora_packet: String,
    frames: Vec<Frame>,
}

#[derive(Debug, Deserialize)]
struct Frame {
    name: String,
    phy: String,
    mtype: String,
    kind: Option<String>,
    keys: Keys,
    join_eui: Option<String>,
    dev_eui: Option<String>,
    dev_addr: Option<String>,
    fcnt: Option<u16>,
    fcnt_high: Option<u16>,
    fport: Option<u8>,
    plaintext: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Keys {
    app_key: Option<String>,
    nwk_s_key: Option<String>,
    app_s_key: Option<String>,
}

fn bytes(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn key(text: &Option<String>) -> [u8; 16] {
    let text = text.as_deref().expect("key in the peer's output");
    bytes(text).try_into().expect("16-byte key")
}

fn number(text: &Option<String>) -> u64 {
    u64::from_str_radix(text.as_deref().expect("identifier"), 16).expect("hex identifier")
}

/// Runs the peer script and reads its frames.
fn peer_frames() -> Output {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peer");
    let installed = dir.join("node_modules/lora-packet/package.json");
    assert!(
        installed.is_file(),
        "{} is missing: {SETUP}",
        installed.display()
    );
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
    let output = Command::new(&node)
        .arg("frames.js")
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {node}: {error}; {SETUP}"));
    assert!(
        output.status.success(),
        "{node} frames.js failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the peer's JSON")
}

/// The price of each frame, counted by hand from its length (one credit per 24 bytes).
fn expected_credits(name: &str, len: usize) -> u64 {
    let credits = match name {
        "unconfirmed, 24 bytes on air" => 1,
        "unconfirmed, 25 bytes on air" => 2,
        "confirmed with FOpts" => 2,
        "confirmed, 15 bytes of FOpts, FPort 100, 51 bytes" => 4,
        "unconfirmed, 222 bytes" => 10,
        "unconfirmed, 32-bit counter" => 2,
        _ => 1,
    };
    assert!(
        credits * 24 >= len && (credits - 1) * 24 < len.max(1),
        "{name}: {len} bytes"
    );
    u64::try_from(credits).unwrap()
}

fn check_join(frame: &Frame, uplink: &Uplink, phy: &[u8]) {
    assert_eq!(
        uplink.key,
        RoutingKey::Join {
            join_eui: number(&frame.join_eui),
            dev_eui: number(&frame.dev_eui)
        },
        "{}",
        frame.name
    );
    let app_key = key(&frame.keys.app_key);
    assert_eq!(
        routing::frame::join_mic_ok(phy, &app_key),
        Ok(true),
        "{}",
        frame.name
    );
    let mut wrong = app_key;
    wrong[15] ^= 0x80;
    assert_eq!(
        routing::frame::join_mic_ok(phy, &wrong),
        Ok(false),
        "{}",
        frame.name
    );
}

fn check_data(frame: &Frame, uplink: &Uplink, phy: &[u8]) {
    let dev_addr = u32::try_from(number(&frame.dev_addr)).expect("32-bit DevAddr");
    let fcnt = frame.fcnt.expect("fcnt");
    assert_eq!(
        uplink.key,
        RoutingKey::Data { dev_addr, fcnt },
        "{}",
        frame.name
    );
    let nwk_s_key = key(&frame.keys.nwk_s_key);
    let high = frame.fcnt_high.expect("fcnt_high");
    assert_eq!(
        routing::frame::data_mic_ok(phy, &nwk_s_key, high),
        Ok(true),
        "{}",
        frame.name
    );
    let wrong_high = routing::frame::data_mic_ok(phy, &nwk_s_key, high.wrapping_add(1));
    assert_eq!(wrong_high, Ok(false), "{}", frame.name);
    let app_s_key = key(&frame.keys.app_s_key);
    assert_eq!(
        routing::frame::data_mic_ok(phy, &app_s_key, high),
        Ok(false),
        "{}",
        frame.name
    );
    check_decryption(frame, phy, (u32::from(high) << 16) | u32::from(fcnt));
}

/// The `lorawan` crate (whose parser routing uses) decrypts what lora-packet encrypted.
fn check_decryption(frame: &Frame, phy: &[u8], fcnt: u32) {
    let mut buffer = phy.to_vec();
    let Ok(PhyPayload::Data(DataPayload::Encrypted(data))) =
        lorawan::parser::parse(&mut buffer[..])
    else {
        panic!("{}: not a data frame for lorawan", frame.name);
    };
    assert_eq!(data.f_port(), frame.fport, "{}", frame.name);
    let nwk = AES128(key(&frame.keys.nwk_s_key));
    let app = AES128(key(&frame.keys.app_s_key));
    let plain = data.decrypt(Some(&nwk), Some(&app), fcnt).expect("decrypt");
    let payload = match plain.frm_payload() {
        FRMPayload::Data(payload) => payload.to_vec(),
        FRMPayload::MACCommands(commands) => commands.data().to_vec(),
        FRMPayload::None => Vec::new(),
    };
    let expected = bytes(frame.plaintext.as_deref().expect("plaintext"));
    assert_eq!(payload, expected, "{}", frame.name);
}

#[test]
fn parse_uplink_agrees_with_lora_packet() {
    let output = peer_frames();
    assert_eq!(
        output.lora_packet, "0.9.3",
        "the peer's version (package-lock.json)"
    );
    let (mut uplinks, mut refused) = (0, 0);
    for frame in &output.frames {
        let phy = bytes(&frame.phy);
        let Some(kind) = &frame.kind else {
            let error = parse_uplink(&phy).expect_err(&frame.name);
            assert_eq!(
                error.code(),
                "not_an_uplink",
                "{} ({})",
                frame.name,
                frame.mtype
            );
            refused += 1;
            continue;
        };
        let uplink = parse_uplink(&phy).unwrap_or_else(|e| panic!("{}: {e}", frame.name));
        assert_eq!(uplink.kind.label(), kind, "{}", frame.name);
        assert_eq!(uplink.phy_len, phy.len(), "{}", frame.name);
        let credits = expected_credits(&frame.name, phy.len());
        assert_eq!(uplink.credits(), credits, "{}", frame.name);
        assert_eq!(credits_for(phy.len()), credits, "{}", frame.name);
        match uplink.key {
            RoutingKey::Join { .. } => check_join(frame, &uplink, &phy),
            RoutingKey::Data { .. } => check_data(frame, &uplink, &phy),
        }
        uplinks += 1;
    }
    assert_eq!((uplinks, refused), (11, 3), "frames checked");
}
