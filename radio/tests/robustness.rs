//! The receiver must never panic, whatever it is fed.

use proptest::prelude::*;
use radio::channel::{propagate, ChannelConditions};
use radio::{modulate, Calibration, Complex32, LoraParams, Receiver};
use rand::SeedableRng;

fn any_sample() -> impl Strategy<Value = Complex32> {
    prop_oneof![
        (any::<f32>(), any::<f32>()).prop_map(|(a, b)| Complex32::new(a, b)),
        (-2.0f32..2.0, -2.0f32..2.0).prop_map(|(a, b)| Complex32::new(a, b)),
        Just(Complex32::new(f32::NAN, 0.0)),
        Just(Complex32::new(f32::INFINITY, f32::NEG_INFINITY)),
        Just(Complex32::new(f32::MAX, f32::MAX)),
        Just(Complex32::new(0.0, 0.0)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn receiver_never_panics(
        samples in proptest::collection::vec(any_sample(), 0..6000),
        chunks in proptest::collection::vec(1usize..3000, 1..20),
        os in 1u32..3,
        sf in 5u8..9,
        legacy in any::<bool>(),
    ) {
        let mut p = LoraParams::new(sf, 125_000);
        p.oversampling = os;
        p.legacy_sf5_sf6 = legacy;
        p.explicit_header = !legacy;
        p.implicit_payload_len = 40;
        let mut r = Receiver::new(p, Calibration::default()).expect("receiver");
        let mut i = 0;
        let mut c = 0;
        while i < samples.len() {
            let len = chunks[c % chunks.len()].min(samples.len() - i);
            let _ = r.process(&samples[i..i + len]);
            i += len;
            c += 1;
        }
        let _ = r.flush();
        let _ = r.process(&samples);
        let _ = r.flush();
    }

    #[test]
    fn receiver_never_panics_on_damaged_frames(
        seed in any::<u64>(),
        hits in proptest::collection::vec((0usize..100_000, any_sample()), 0..200),
        chunk in 1usize..5000,
        truncate in 0usize..100_000,
    ) {
        let p = LoraParams::new(7, 125_000);
        let tx = modulate(&p, b"proptest frame").expect("modulate");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let cond = ChannelConditions { rx_power_dbm: -100.0, noise_floor_dbm: -110.0, cfo_hz: 3000.0, delay_samples: 300, trailing_samples: 500 };
        let mut rx = propagate(&tx, p.sample_rate(), &cond, &mut rng);
        for (pos, v) in hits {
            let n = rx.len();
            rx[pos % n] = v;
        }
        rx.truncate(truncate.max(1));
        let mut r = Receiver::new(p, Calibration::default()).expect("receiver");
        for c in rx.chunks(chunk) {
            for f in r.process(c) {
                prop_assert!(f.payload.len() <= 255);
            }
        }
        let _ = r.flush();
    }
}

proptest! {
    #[test]
    fn coding_helpers_never_panic(
        symbols in proptest::collection::vec(any::<u16>(), 0..300),
        sf in 0u8..20,
        cr in 0u8..10,
        cw_len in 0usize..12,
        sf_app in 0usize..20,
        ldro in any::<bool>(),
        legacy in any::<bool>(),
        explicit in any::<bool>(),
    ) {
        let mut p = LoraParams::new(sf.clamp(5, 12), 125_000);
        p.coding_rate = cr.clamp(1, 4);
        p.low_data_rate = Some(ldro);
        p.legacy_sf5_sf6 = legacy;
        p.explicit_header = explicit;
        let _ = radio::coding::decode_frame(&p, &symbols);
        let _ = radio::coding::decode_header(sf, &symbols);
        let _ = radio::coding::interleave_block(&[0xAB, 0x12], cw_len, sf_app, usize::from(sf));
        let _ = radio::coding::deinterleave_block(&symbols, cw_len, sf_app);
        let _ = radio::coding::hamming_decode(symbols.first().copied().unwrap_or(0) as u8, cr);
        let _ = radio::coding::symbol_count(sf, cr, ldro, explicit, true, symbols.len(), legacy);
        for &b in symbols.iter().take(8) {
            let _ = radio::coding::bin_to_bits(b, sf, ldro);
        }
    }
}

#[test]
fn huge_garbage_stream() {
    let p = LoraParams::new(7, 125_000);
    let mut r = Receiver::new(p, Calibration::default()).expect("receiver");
    // a strong pure tone looks like a preamble to the detector but never syncs
    let tone: Vec<Complex32> = (0..400_000)
        .map(|k| Complex32::from_polar(1e3, k as f32 * 0.3))
        .collect();
    assert!(r.process(&tone).is_empty());
    // saturated and non-finite samples
    let junk: Vec<Complex32> = (0..200_000)
        .map(|k| match k % 5 {
            0 => Complex32::new(f32::NAN, 1.0),
            1 => Complex32::new(f32::MAX, -f32::MAX),
            2 => Complex32::new(f32::INFINITY, 0.0),
            3 => Complex32::new(1e-30, 1e30),
            _ => Complex32::new(0.0, 0.0),
        })
        .collect();
    assert!(r.process(&junk).is_empty());
    assert!(r.flush().is_empty());
    assert!(r.process(&[]).is_empty());
}

#[test]
fn decode_time_sf9_51_bytes() {
    let p = LoraParams::new(9, 125_000);
    let tx = modulate(&p, &[0x5A; 51]).expect("modulate");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let cond = ChannelConditions {
        rx_power_dbm: -100.0,
        noise_floor_dbm: -110.0,
        cfo_hz: 3000.0,
        delay_samples: 300,
        trailing_samples: 500,
    };
    let rx = propagate(&tx, p.sample_rate(), &cond, &mut rng);
    let start = std::time::Instant::now();
    let reps = 5;
    for _ in 0..reps {
        let mut r = Receiver::new(p, Calibration::default()).expect("receiver");
        let mut f = r.process(&rx);
        f.extend(r.flush());
        assert_eq!(f.len(), 1);
    }
    let per = start.elapsed() / reps;
    println!(
        "SF9 51-byte frame ({} samples, {:.0} ms on air): decode {:?}",
        rx.len(),
        p.time_on_air(51).as_secs_f64() * 1e3,
        per
    );
}
