//! Bit-exactness against an independent implementation: the PyPI package `lora-phy` (a Python
//! port of jkadbear/LoRaPHY), driven through `tests/lora_phy_helper.py`.
//!
//! For SF7–12 × CR 4/5–4/8 × explicit/implicit header × CRC on/off, and the SX127x (legacy)
//! SF5 and SF6 × CR 4/5–4/8 × implicit header × CRC on/off:
//! (a) our modulator → cf32 file → lora-phy decodes: same payload, CRC good, and the symbol
//!     values it demodulates equal the ones we encoded;
//! (b) lora-phy encodes and modulates (at 2× or 4× oversampling) → our receiver decodes (hard
//!     and soft): same payload, CRC good; lora-phy's symbol values equal ours except in the
//!     padding nibbles of the last block, whose content the standard leaves open (lora-phy pads
//!     with 0xF, we pad with 0 like gr-lora_sdr).
//!
//! The Python interpreter comes from `LORA_PHY_PYTHON` (scripts/test.sh points it at the venv
//! scripts/setup.sh builds). Without it the test is skipped, except on CI (`CI=true`), where it
//! fails.

use radio::coding::{encode_frame, Symbols};
use radio::iq::SampleFormat;
use radio::{modulate, Calibration, Complex32, Decoding, LoraParams, Receiver};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const BW: u32 = 125_000;
const PREAMBLE: u16 = 8;

/// The lora-phy helper process.
struct Helper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts the helper, or returns `None` (skip) when no interpreter is configured outside CI.
    fn start() -> Option<Helper> {
        let on_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let python = match std::env::var_os("LORA_PHY_PYTHON") {
            Some(p) if PathBuf::from(&p).exists() => PathBuf::from(p),
            other => {
                assert!(
                    !on_ci,
                    "CI=true but LORA_PHY_PYTHON ({other:?}) does not name a Python with lora-phy; \
                     run scripts/setup.sh --tests"
                );
                eprintln!("skipping the lora-phy cross-check: LORA_PHY_PYTHON is not set");
                return None;
            }
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lora_phy_helper.py");
        let mut child = Command::new(&python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python:?}: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Some(Helper {
            child,
            stdin,
            stdout,
        })
    }

    fn ask(&mut self, job: &str) -> String {
        writeln!(self.stdin, "{job}").expect("write job");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read answer");
        assert!(!line.is_empty(), "helper died on job {job}");
        assert!(!line.starts_with("error"), "helper failed on {job}: {line}");
        line.trim_end().to_string()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One parameter combination.
#[derive(Debug, Clone, Copy)]
struct Case {
    sf: u8,
    cr: u8,
    implicit: bool,
    crc: bool,
    os: u32,
    len: usize,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut i = 0usize;
    for sf in 5..=12u8 {
        for cr in 1..=4u8 {
            // lora-phy writes SF5 and SF6 in the SX127x (legacy) format, whose header is
            // always implicit.
            for implicit in [false, true].into_iter().filter(|&i| sf >= 7 || i) {
                for crc in [false, true] {
                    out.push(Case {
                        sf,
                        cr,
                        implicit,
                        crc,
                        os: if i % 3 == 0 { 4 } else { 2 },
                        len: [1, 2, 5, 9, 13, 20, 31][i % 7],
                    });
                    i += 1;
                }
            }
        }
    }
    out
}

fn params(c: &Case) -> LoraParams {
    LoraParams {
        coding_rate: c.cr,
        explicit_header: !c.implicit,
        crc: c.crc,
        oversampling: c.os,
        preamble_len: PREAMBLE,
        implicit_payload_len: c.len as u8,
        legacy_sf5_sf6: true,
        ..LoraParams::new(c.sf, BW)
    }
}

fn payload(c: &Case, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..c.len).map(|_| rng.gen()).collect()
}

/// Surrounds `signal` with three symbols of weak noise and adds the same noise (40 dB SNR).
fn with_noise(signal: &[Complex32], sps: usize, seed: u64) -> Vec<Complex32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 0.007).expect("normal");
    let mut noise = || Complex32::new(normal.sample(&mut rng), normal.sample(&mut rng));
    let mut out = Vec::with_capacity(signal.len() + 6 * sps);
    out.extend((0..3 * sps).map(|_| noise()));
    out.extend(signal.iter().map(|s| s + noise()));
    out.extend((0..3 * sps).map(|_| noise()));
    out
}

fn job_args(c: &Case) -> String {
    format!(
        "{} {} {} {} {} {} {}",
        c.sf,
        BW,
        BW * c.os,
        c.cr,
        u8::from(c.crc),
        u8::from(c.implicit),
        PREAMBLE
    )
}

fn temp_file(tag: &str, i: usize) -> PathBuf {
    std::env::temp_dir().join(format!(
        "radio-lora-phy-{}-{tag}-{i}.cf32",
        std::process::id()
    ))
}

fn parse_symbols(s: &str) -> Vec<u16> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',')
        .map(|v| v.parse().expect("symbol value"))
        .collect()
}

/// Our modulator → lora-phy's receiver.
#[test]
fn lora_phy_decodes_our_frames() {
    let Some(mut helper) = Helper::start() else {
        return;
    };
    for (i, c) in cases().iter().enumerate() {
        let p = params(c);
        let data = payload(c, i as u64);
        let symbols = encode_frame(&p, &data).expect("encode");
        let iq = with_noise(
            &modulate(&p, &data).expect("modulate"),
            p.samples_per_symbol(),
            i as u64,
        );
        let path = temp_file("ours", i);
        std::fs::write(&path, SampleFormat::Cf32.encode(&iq)).expect("write cf32");
        let answer = helper.ask(&format!(
            "decode {} {} {}",
            job_args(c),
            c.len,
            path.display()
        ));
        let _ = std::fs::remove_file(&path);
        let frames: Vec<&str> = answer
            .strip_prefix("frames ")
            .unwrap_or("")
            .split('|')
            .filter(|f| !f.is_empty())
            .collect();
        assert_eq!(frames.len(), 1, "{c:?}: lora-phy found {answer:?}");
        let fields: Vec<&str> = frames[0].split(':').collect();
        assert_eq!(fields.len(), 4, "{c:?}: {answer}");
        assert_eq!(fields[0], "1", "{c:?}: lora-phy rejects our header");
        assert_eq!(fields[1], if c.crc { "1" } else { "-" }, "{c:?}: CRC");
        assert_eq!(fields[2], hex(&data), "{c:?}: payload");
        assert_eq!(parse_symbols(fields[3]), symbols, "{c:?}: symbol values");
    }
}

/// lora-phy's modulator → our receiver (hard and soft decoding), and symbol values compared.
#[test]
fn we_decode_lora_phy_frames() {
    let Some(mut helper) = Helper::start() else {
        return;
    };
    for (i, c) in cases().iter().enumerate() {
        let p = params(c);
        let data = payload(c, 1000 + i as u64);
        let path = temp_file("theirs", i);
        let answer = helper.ask(&format!(
            "encode {} {} {}",
            job_args(c),
            if data.is_empty() {
                "-".to_string()
            } else {
                hex(&data)
            },
            path.display()
        ));
        let bytes = std::fs::read(&path).expect("read cf32");
        let _ = std::fs::remove_file(&path);
        let theirs = parse_symbols(answer.strip_prefix("symbols ").unwrap_or(""));
        compare_symbols(c, &p, &encode_frame(&p, &data).expect("encode"), &theirs);

        let mut iq = Vec::new();
        SampleFormat::Cf32.decode(&bytes, &mut iq);
        let iq = with_noise(&iq, p.samples_per_symbol(), 1000 + i as u64);
        for decoding in [Decoding::Hard, Decoding::Soft] {
            let mut rx = Receiver::new(p, Calibration::default())
                .expect("receiver")
                .with_decoding(decoding);
            let mut frames = rx.process(&iq);
            frames.extend(rx.flush());
            assert!(!frames.is_empty(), "{c:?} {decoding:?}: nothing decoded");
            if c.sf >= 7 {
                assert_eq!(frames.len(), 1, "{c:?} {decoding:?}: {frames:?}");
            } else {
                // A legacy SF5/SF6 frame has no header to refuse a false detection in its
                // tail and the silence after it (32 or 64 bins): one may follow the real
                // frame, and its CRC, when there is one, must fail.
                for extra in &frames[1..] {
                    assert!(extra.sample_offset > frames[0].sample_offset, "{frames:?}");
                    if c.crc {
                        assert_eq!(extra.crc_ok, Some(false), "{c:?} {decoding:?}: {frames:?}");
                    }
                }
            }
            assert_eq!(frames[0].payload, data, "{c:?} {decoding:?}");
            assert_eq!(
                frames[0].crc_ok,
                c.crc.then_some(true),
                "{c:?} {decoding:?}"
            );
            assert_eq!(frames[0].coding_rate, c.cr);
        }
    }
}

/// Compares our data symbols with lora-phy's block by block: blocks without padding must be
/// identical; in a block with padding, every non-padding nibble must decode the same.
fn compare_symbols(c: &Case, p: &LoraParams, ours: &[u16], theirs: &[u16]) {
    assert!(
        theirs.len() >= ours.len(),
        "{c:?}: lora-phy sent {} symbols, we {}",
        theirs.len(),
        ours.len()
    );
    let sf = usize::from(c.sf);
    let ldro = p.low_data_rate_enabled();
    let nibbles = 2 * c.len + if c.implicit { 0 } else { 5 } + if c.crc { 4 } else { 0 };
    let mut start_sym = 0;
    let mut first_nibble = 0;
    while start_sym < ours.len() {
        let first = start_sym == 0;
        let cw_len = if first { 8 } else { 4 + usize::from(c.cr) };
        let sf_app = if first || ldro { sf - 2 } else { sf };
        let cr = if first { 4 } else { c.cr };
        let reduced = first || ldro;
        if first_nibble + sf_app <= nibbles {
            assert_eq!(
                &ours[start_sym..start_sym + cw_len],
                &theirs[start_sym..start_sym + cw_len],
                "{c:?}: block at symbol {start_sym}"
            );
        } else {
            let decode = |bins: &[u16]| {
                Symbols::Hard { sf: c.sf, bins }
                    .decode_block(start_sym, cw_len, sf_app, reduced, cr)
            };
            let real = nibbles.saturating_sub(first_nibble);
            assert_eq!(
                &decode(ours)[..real],
                &decode(theirs)[..real],
                "{c:?}: padded block at symbol {start_sym}"
            );
        }
        start_sym += cw_len;
        first_nibble += sf_app;
    }
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}
