//! Receiver tests beyond the plain round trip: SF5/SF6, parameter options (LDRO, sync word,
//! preamble length, oversampling), a drifting sample clock, overlapping and back-to-back
//! frames.

use radio::channel::{propagate, ChannelConditions};
use radio::{modulate, Calibration, Complex32, Decoding, LoraParams, Receiver, RxFrame};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const NOISE: f64 = -120.0;

fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen()).collect()
}

/// Feeds `rx` to a receiver in uneven chunks and flushes it.
fn receive(params: &LoraParams, decoding: Decoding, rx: &[Complex32]) -> Vec<RxFrame> {
    let mut receiver = Receiver::new(*params, Calibration::default())
        .expect("receiver")
        .with_decoding(decoding);
    let mut frames = Vec::new();
    for chunk in rx.chunks(7_777) {
        frames.extend(receiver.process(chunk));
    }
    frames.extend(receiver.flush());
    frames
}

/// One frame through the channel at `snr_db` (in band), with CFO and delay.
fn channel(
    params: &LoraParams,
    data: &[u8],
    snr_db: f64,
    cfo_hz: f64,
    seed: u64,
) -> Vec<Complex32> {
    let tx = modulate(params, data).expect("modulate");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let os_db = 10.0 * f64::from(params.oversampling).log10();
    let cond = ChannelConditions {
        rx_power_dbm: NOISE + snr_db - os_db,
        noise_floor_dbm: NOISE,
        cfo_hz,
        delay_samples: rng.gen_range(100..(3 * params.samples_per_symbol()).max(101)),
        trailing_samples: 2 * params.samples_per_symbol(),
    };
    propagate(&tx, params.sample_rate(), &cond, &mut rng)
}

fn assert_one_good(frames: &[RxFrame], data: &[u8], what: &str) {
    assert_eq!(frames.len(), 1, "{what}: {frames:?}");
    assert_eq!(frames[0].payload, data, "{what}");
    assert_ne!(frames[0].crc_ok, Some(false), "{what}");
}

/// SX126x-format SF5 and SF6 (full-rate header block, two zero symbols after the sync word):
/// every CR, CRC on/off, explicit and implicit header, hard and soft, and SF5/SF6 in the SX127x
/// legacy format (implicit header only).
#[test]
fn sf5_and_sf6_round_trips() {
    let mut seed = 0;
    for sf in [5u8, 6] {
        for cr in 1..=4u8 {
            for crc in [true, false] {
                for (len, explicit, legacy) in [
                    (0usize, true, false),
                    (1, true, false),
                    (51, true, false),
                    (255, true, false),
                    (20, false, false),
                    (20, false, true),
                ] {
                    seed += 1;
                    let p = LoraParams {
                        coding_rate: cr,
                        crc,
                        explicit_header: explicit,
                        implicit_payload_len: len as u8,
                        legacy_sf5_sf6: legacy,
                        sync_word: 0x12,
                        ..LoraParams::new(sf, 125_000)
                    };
                    let data = payload(len, seed);
                    let rx = channel(&p, &data, 5.0, 2_000.0 - 300.0 * f64::from(cr), seed);
                    for decoding in [Decoding::Hard, Decoding::Soft] {
                        let frames = receive(&p, decoding, &rx);
                        let what = format!("sf {sf} cr {cr} crc {crc} len {len} explicit {explicit} legacy {legacy} {decoding:?}");
                        assert_one_good(&frames, &data, &what);
                        assert_eq!(frames[0].crc_ok, crc.then_some(true), "{what}");
                        assert_eq!(frames[0].spreading_factor, sf);
                        assert_eq!(frames[0].coding_rate, cr);
                    }
                }
            }
        }
    }
}

/// A receiver for one SF5/SF6 format does not decode the other.
#[test]
fn sf6_formats_are_distinct() {
    let sx126x = LoraParams {
        explicit_header: false,
        implicit_payload_len: 12,
        ..LoraParams::new(6, 125_000)
    };
    let legacy = LoraParams {
        legacy_sf5_sf6: true,
        ..sx126x
    };
    let data = payload(12, 77);
    for (tx, rx) in [(sx126x, legacy), (legacy, sx126x)] {
        let samples = channel(&tx, &data, 10.0, 1_000.0, 5);
        let frames = receive(&rx, Decoding::Soft, &samples);
        assert!(
            frames.iter().all(|f| f.crc_ok != Some(true)),
            "{tx:?} decoded by {rx:?}"
        );
        assert_one_good(&receive(&tx, Decoding::Soft, &samples), &data, "own format");
    }
}

/// Low-data-rate optimisation: automatic above 16 ms symbols, forceable on and off; the
/// receiver must use the transmitter's setting.
#[test]
fn low_data_rate_optimisation_auto_and_forced() {
    assert!(LoraParams::new(11, 125_000).low_data_rate_enabled());
    assert!(!LoraParams::new(10, 125_000).low_data_rate_enabled());
    assert!(!LoraParams::new(12, 500_000).low_data_rate_enabled());
    let cases = [
        LoraParams {
            low_data_rate: Some(false),
            ..LoraParams::new(11, 125_000)
        },
        LoraParams {
            low_data_rate: Some(true),
            ..LoraParams::new(7, 125_000)
        },
        LoraParams {
            low_data_rate: Some(true),
            ..LoraParams::new(5, 125_000)
        },
        LoraParams::new(12, 500_000),
    ];
    for (i, p) in cases.iter().enumerate() {
        let data = payload(30, 100 + i as u64);
        let rx = channel(p, &data, 5.0, -1_500.0, i as u64);
        assert_one_good(&receive(p, Decoding::Soft, &rx), &data, &format!("{p:?}"));
        // the same frame with the LDRO setting flipped at the receiver fails
        let flipped = LoraParams {
            low_data_rate: Some(!p.low_data_rate_enabled()),
            ..*p
        };
        let frames = receive(&flipped, Decoding::Soft, &rx);
        assert!(
            frames.iter().all(|f| f.crc_ok != Some(true)),
            "{p:?} decoded with LDRO flipped"
        );
    }
}

/// Any sync word byte works, and only the matching receiver hears the frame.
#[test]
fn any_sync_word() {
    for (i, sw) in [0x34u8, 0x12, 0xAB, 0xF1, 0x27].into_iter().enumerate() {
        let p = LoraParams {
            sync_word: sw,
            ..LoraParams::new(8, 125_000)
        };
        let data = payload(10, 200 + i as u64);
        let rx = channel(&p, &data, 5.0, 4_000.0, 20 + i as u64);
        assert_one_good(
            &receive(&p, Decoding::Soft, &rx),
            &data,
            &format!("{sw:#x}"),
        );
        let other = LoraParams {
            sync_word: sw ^ 0x11,
            ..p
        };
        assert!(receive(&other, Decoding::Soft, &rx).is_empty(), "{sw:#x}");
    }
}

/// Preamble lengths from the minimum (6) to long ones.
#[test]
fn preamble_lengths() {
    for (i, pre) in [6u16, 7, 8, 12, 16, 40].into_iter().enumerate() {
        let p = LoraParams {
            preamble_len: pre,
            ..LoraParams::new(9, 125_000)
        };
        let data = payload(16, 300 + i as u64);
        let rx = channel(&p, &data, 0.0, -3_000.0, 30 + i as u64);
        for decoding in [Decoding::Hard, Decoding::Soft] {
            let frames = receive(&p, decoding, &rx);
            assert_one_good(&frames, &data, &format!("preamble {pre} {decoding:?}"));
        }
    }
}

/// Oversampling factors 1 to 8 (the receiver's decimating filter handles any factor).
#[test]
fn oversampling_factors() {
    for os in 1..=8u32 {
        let p = LoraParams {
            oversampling: os,
            ..LoraParams::new(7, 125_000)
        };
        let data = payload(20, 400 + u64::from(os));
        let rx = channel(&p, &data, 3.0, 7_000.0, 40 + u64::from(os));
        let frames = receive(&p, Decoding::Soft, &rx);
        assert_one_good(&frames, &data, &format!("os {os}"));
    }
}

/// Resamples `x` as seen by a receiver whose sample clock runs `ppm` parts per million fast
/// (windowed-sinc interpolation; `x` must be oversampled so its band is well inside ±fs/2).
fn resample_ppm(x: &[Complex32], ppm: f64) -> Vec<Complex32> {
    const HALF: isize = 16;
    let ratio = 1.0 + ppm * 1e-6;
    let out_len = ((x.len() as f64) * ratio) as usize;
    let mut out = Vec::with_capacity(out_len);
    for m in 0..out_len {
        let t = m as f64 / ratio;
        let base = t.floor() as isize;
        let mut acc = Complex32::new(0.0, 0.0);
        for k in (base - HALF + 1)..=(base + HALF) {
            if k < 0 || k as usize >= x.len() {
                continue;
            }
            let d = t - k as f64;
            let sinc = if d.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d)
            };
            let w = 0.42
                + 0.5 * (std::f64::consts::PI * d / HALF as f64).cos()
                + 0.08 * (2.0 * std::f64::consts::PI * d / HALF as f64).cos();
            acc += x[k as usize] * (sinc * w) as f32;
        }
        out.push(acc);
    }
    out
}

/// Adds complex white noise of power `noise` per sample, after `lead` samples of noise.
fn with_noise(x: &[Complex32], lead: usize, noise: f64, seed: u64) -> Vec<Complex32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, (noise / 2.0).sqrt()).expect("normal");
    let mut out = Vec::with_capacity(x.len() + 2 * lead);
    let mut n = || {
        Complex32::new(
            normal.sample(&mut rng) as f32,
            normal.sample(&mut rng) as f32,
        )
    };
    out.extend((0..lead).map(|_| n()));
    out.extend(x.iter().map(|s| s + n()));
    out.extend((0..lead).map(|_| n()));
    out
}

/// A sample clock off by ±20 ppm: the symbol timing drifts by ~21 chips over a 255-byte SF12
/// frame, which the receiver must track (and by a chip over a 255-byte SF7 frame).
#[test]
fn drifting_sample_clock() {
    drifting_sample_clock_cases(&[(12, 20.0), (12, -20.0), (7, 20.0), (7, -20.0)]);
}

fn drifting_sample_clock_cases(cases: &[(u8, f64)]) {
    for &(sf, ppm) in cases {
        let p = LoraParams {
            oversampling: 4,
            coding_rate: 1,
            ..LoraParams::new(sf, 125_000)
        };
        let data = payload(255, u64::from(sf) + 7);
        let tx = modulate(&p, &data).expect("modulate");
        let drifted = resample_ppm(&tx, ppm);
        // 10 dB in-band SNR: noise over the 4× sampled band 6 dB above the in-band noise
        let rx = with_noise(&drifted, 3 * p.samples_per_symbol(), 4.0 * 0.1, 9);
        for decoding in [Decoding::Hard, Decoding::Soft] {
            let frames = receive(&p, decoding, &rx);
            assert_one_good(&frames, &data, &format!("sf {sf} {ppm} ppm {decoding:?}"));
            assert_eq!(frames[0].crc_ok, Some(true));
        }
    }
}

/// Places `tx` into `out` at `offset` with amplitude `amp` and frequency offset `cfo` (cycles
/// per sample).
fn add_at(out: &mut [Complex32], tx: &[Complex32], offset: usize, amp: f32, cfo: f64) {
    for (i, s) in tx.iter().enumerate() {
        let Some(o) = out.get_mut(offset + i) else {
            break;
        };
        let ph = 2.0 * std::f64::consts::PI * cfo * i as f64;
        *o += s * amp * Complex32::new(ph.cos() as f32, ph.sin() as f32);
    }
}

/// Two frames of different SF overlapping in time on the same channel at the same power are
/// both decoded (chirps of different SF are quasi-orthogonal).
#[test]
fn overlapping_frames_of_different_sf() {
    let p7 = LoraParams::new(7, 125_000);
    let p9 = LoraParams::new(9, 125_000);
    let d7 = payload(40, 1);
    let d9 = payload(20, 2);
    let t7 = modulate(&p7, &d7).expect("sf7");
    let t9 = modulate(&p9, &d9).expect("sf9");
    for (start7, start9) in [(3_000usize, 1_000usize), (1_000, 4_000), (9_000, 500)] {
        let len = (start7 + t7.len()).max(start9 + t9.len()) + 2_000;
        let mut sum = vec![Complex32::new(0.0, 0.0); len];
        add_at(&mut sum, &t9, start9, 1.0, 0.01);
        add_at(&mut sum, &t7, start7, 1.0, -0.02);
        // 10 dB SNR for each
        let rx = with_noise(&sum, 0, 0.1, start7 as u64);
        for (p, d) in [(&p7, &d7), (&p9, &d9)] {
            let frames = receive(p, Decoding::Soft, &rx);
            let good: Vec<_> = frames.iter().filter(|f| f.crc_ok == Some(true)).collect();
            assert_eq!(
                good.len(),
                1,
                "SF{} at {start7}/{start9}: {frames:?}",
                p.spreading_factor
            );
            assert_eq!(&good[0].payload, d);
        }
    }
}

/// Two frames of the same SF overlapping in time, one 6 dB stronger: the stronger is
/// decoded, whichever comes first (a chip's capture effect).
#[test]
fn same_sf_capture_of_the_stronger_frame() {
    let p = LoraParams::new(8, 125_000);
    let strong = payload(30, 11);
    let weak = payload(30, 12);
    let ts = modulate(&p, &strong).expect("strong");
    let tw = modulate(&p, &weak).expect("weak");
    let n = p.samples_per_symbol();
    // weak first, strong starting inside its payload; strong first, weak inside its payload
    for (strong_at, weak_at) in [(20 * n + 37, 500usize), (500, 20 * n + 91)] {
        let len = (strong_at + ts.len()).max(weak_at + tw.len()) + 2_000;
        let mut sum = vec![Complex32::new(0.0, 0.0); len];
        add_at(&mut sum, &tw, weak_at, 0.5, 0.013);
        add_at(&mut sum, &ts, strong_at, 1.0, -0.007);
        // strong at 15 dB SNR, weak at 9 dB
        let rx = with_noise(&sum, 0, 10f64.powf(-1.5), strong_at as u64);
        for decoding in [Decoding::Hard, Decoding::Soft] {
            let frames = receive(&p, decoding, &rx);
            let good: Vec<_> = frames.iter().filter(|f| f.crc_ok == Some(true)).collect();
            assert!(
                good.iter().any(|f| f.payload == strong),
                "strong at {strong_at}, weak at {weak_at}, {decoding:?}: {frames:?}"
            );
            assert!(good
                .iter()
                .all(|f| f.payload == strong || f.payload == weak));
        }
    }
}

/// Frames sent back to back with no gap, then with a one-sample gap, are all decoded.
#[test]
fn back_to_back_frames() {
    for sf in [7u8, 10] {
        let p = LoraParams::new(sf, 125_000);
        let datas: Vec<Vec<u8>> = (0..4).map(|i| payload(10 + 7 * i, 50 + i as u64)).collect();
        let mut tx = Vec::new();
        for (i, d) in datas.iter().enumerate() {
            tx.extend(modulate(&p, d).expect("modulate"));
            if i == 2 {
                tx.push(Complex32::new(0.0, 0.0));
            }
        }
        let rx = with_noise(&tx, 1_000, 0.1, u64::from(sf));
        let frames = receive(&p, Decoding::Soft, &rx);
        let got: Vec<&Vec<u8>> = frames.iter().map(|f| &f.payload).collect();
        let want: Vec<&Vec<u8>> = datas.iter().collect();
        assert_eq!(got, want, "SF{sf}: {frames:?}");
        assert!(frames.iter().all(|f| f.crc_ok == Some(true)));
    }
}
