//! `lora-iq`: LoRa frames to and from IQ sample files.
//!
//! `lora-iq encode --sf 7 --bw 125000 --payload-text hello --format cf32 --out frame.cf32`
//! modulates one frame; `lora-iq decode --sf 7 --bw 125000 --format cf32 frame.cf32` prints
//! one JSON line per received frame. `-` means standard output / input.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use radio::iq::SampleFormat;
use radio::{modulate, Calibration, Decoding, LoraParams, Receiver, RxFrame};
use std::io::{Read, Write};

#[derive(Parser)]
#[command(name = "lora-iq", about = "LoRa frames to and from IQ sample files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Modulates one frame into an IQ file.
    Encode(EncodeArgs),
    /// Receives every frame of an IQ file, one JSON line each.
    Decode(DecodeArgs),
}

/// Modulation parameters shared by both commands.
#[derive(Args)]
struct Phy {
    /// Spreading factor (5..=12).
    #[arg(long)]
    sf: u8,
    /// Bandwidth in Hz.
    #[arg(long, default_value_t = 125_000)]
    bw: u32,
    /// Coding rate 1..=4 (4/5..4/8); with --implicit the receiver needs it too.
    #[arg(long, default_value_t = 1)]
    cr: u8,
    /// Implicit header (no header on the air).
    #[arg(long)]
    implicit: bool,
    /// No payload CRC.
    #[arg(long)]
    no_crc: bool,
    /// Sync word, decimal or 0x-prefixed hex (0x34 public, 0x12 private).
    #[arg(long, default_value = "0x34", value_parser = parse_u8)]
    sync_word: u8,
    /// Preamble length in up-chirps.
    #[arg(long, default_value_t = 8)]
    preamble: u16,
    /// Samples per chip (sample rate = bw × os).
    #[arg(long, default_value_t = 1)]
    os: u32,
    /// Low-data-rate optimisation: auto, on or off.
    #[arg(long, default_value = "auto")]
    ldro: String,
    /// SF5/SF6 in the SX127x legacy format (implicit header only) instead of SX126x's.
    #[arg(long)]
    legacy_sf5_sf6: bool,
    /// Sample format: cf32, cs16 or cu8.
    #[arg(long, default_value = "cf32")]
    format: SampleFormat,
}

#[derive(Args)]
struct EncodeArgs {
    #[command(flatten)]
    phy: Phy,
    /// Payload as hex.
    #[arg(long, conflicts_with = "payload_text")]
    payload_hex: Option<String>,
    /// Payload as text (UTF-8 bytes).
    #[arg(long)]
    payload_text: Option<String>,
    /// Output file, `-` for standard output.
    #[arg(long, default_value = "-")]
    out: String,
}

#[derive(Args)]
struct DecodeArgs {
    #[command(flatten)]
    phy: Phy,
    /// Payload length of implicit-header frames.
    #[arg(long, default_value_t = 0)]
    implicit_len: u8,
    /// Hard-decision decoding instead of soft.
    #[arg(long)]
    hard: bool,
    /// Input file, `-` for standard input.
    #[arg(default_value = "-")]
    input: String,
}

fn parse_u8(s: &str) -> Result<u8, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s:?}: {e}"))
}

fn params(phy: &Phy, implicit_len: u8) -> Result<LoraParams> {
    let low_data_rate = match phy.ldro.as_str() {
        "auto" => None,
        "on" => Some(true),
        "off" => Some(false),
        other => bail!("--ldro must be auto, on or off, not {other:?}"),
    };
    let p = LoraParams {
        coding_rate: phy.cr,
        explicit_header: !phy.implicit,
        crc: !phy.no_crc,
        low_data_rate,
        sync_word: phy.sync_word,
        preamble_len: phy.preamble,
        oversampling: phy.os,
        implicit_payload_len: implicit_len,
        legacy_sf5_sf6: phy.legacy_sf5_sf6,
        ..LoraParams::new(phy.sf, phy.bw)
    };
    p.validate().context("invalid modulation parameters")?;
    Ok(p)
}

fn decode_hex(s: &str) -> Result<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.len() % 2 != 0 {
        bail!("hex payload has an odd number of digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .with_context(|| format!("bad hex digits at {i}"))
        })
        .collect()
}

fn encode(args: EncodeArgs) -> Result<()> {
    let payload = match (&args.payload_hex, &args.payload_text) {
        (Some(h), None) => decode_hex(h)?,
        (None, Some(t)) => t.as_bytes().to_vec(),
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => bail!("give --payload-hex or --payload-text, not both"),
    };
    let len = u8::try_from(payload.len()).context("payload longer than 255 bytes")?;
    let p = params(&args.phy, len)?;
    let samples = modulate(&p, &payload).context("modulating")?;
    let bytes = args.phy.format.encode(&samples);
    if args.out == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes)?;
        out.flush()?;
    } else {
        std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out))?;
    }
    Ok(())
}

fn json_line(f: &RxFrame) -> String {
    let hex: String = f.payload.iter().map(|b| format!("{b:02x}")).collect();
    let crc = match f.crc_ok {
        Some(true) => "true",
        Some(false) => "false",
        None => "null",
    };
    let num = |x: f32| {
        if x.is_finite() {
            format!("{x:.2}")
        } else {
            "null".to_string()
        }
    };
    format!(
        "{{\"payload_hex\":\"{hex}\",\"sf\":{},\"bw\":{},\"cr\":{},\"crc_ok\":{crc},\"snr_db\":{},\"rssi_dbm\":{},\"cfo_hz\":{},\"sample_offset\":{}}}",
        f.spreading_factor,
        f.bandwidth_hz,
        f.coding_rate,
        num(f.snr_db),
        num(f.rssi_dbm),
        num(f.cfo_hz),
        f.sample_offset
    )
}

fn decode(args: DecodeArgs) -> Result<()> {
    let p = params(&args.phy, args.implicit_len)?;
    let decoding = if args.hard {
        Decoding::Hard
    } else {
        Decoding::Soft
    };
    let mut rx = Receiver::new(p, Calibration::default())?.with_decoding(decoding);
    let mut input: Box<dyn Read> = if args.input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.input).with_context(|| format!("opening {}", args.input))?,
        )
    };
    let format = args.phy.format;
    let mut out = std::io::stdout().lock();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let mut samples = Vec::new();
    loop {
        let n = input.read(&mut chunk).context("reading samples")?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        samples.clear();
        let used = format.decode(&pending, &mut samples);
        pending.drain(..used);
        for frame in rx.process(&samples) {
            writeln!(out, "{}", json_line(&frame))?;
        }
    }
    for frame in rx.flush() {
        writeln!(out, "{}", json_line(&frame))?;
    }
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Encode(a) => encode(a),
        Command::Decode(a) => decode(a),
    }
}
