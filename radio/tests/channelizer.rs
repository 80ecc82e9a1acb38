//! Wideband reception: 8 simultaneous frames with different SFs on the 8 channels of one
//! 1.6 MS/s stream all decode.

use radio::channelizer::{MultiReceiver, Resampler};
use radio::{modulate, Complex32, Decoding, LoraParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::f64::consts::PI;

const FS: u32 = 1_600_000;

#[test]
fn eight_channels_eight_frames() {
    let sfs = [7u8, 8, 9, 10, 11, 12, 7, 8];
    let mut rx = MultiReceiver::new(
        FS,
        200_000,
        125_000,
        &[7, 8, 9, 10, 11, 12],
        LoraParams::new(7, 125_000),
        Decoding::Soft,
    )
    .expect("multi receiver");
    assert_eq!(rx.channels(), 8);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut stream: Vec<Complex32> = Vec::new();
    let mut sent = Vec::new();
    for (k, &sf) in sfs.iter().enumerate() {
        let p = LoraParams {
            oversampling: 2,
            ..LoraParams::new(sf, 125_000)
        };
        let data: Vec<u8> = (0..6).map(|_| rng.gen()).collect();
        let tx = modulate(&p, &data).expect("modulate");
        // 250 kS/s → 1.6 MS/s, then shift to the channel centre (plus a small CFO).
        let mut wide = Vec::new();
        let mut up = Resampler::new(32, 5);
        up.process(&tx, &mut wide);
        up.process(&vec![Complex32::new(0.0, 0.0); 2000], &mut wide);
        let freq = rx.channel_offset_hz(k) + rng.gen_range(-5_000.0..5_000.0);
        let delay = rng.gen_range(0..200_000usize);
        if stream.len() < delay + wide.len() {
            stream.resize(delay + wide.len(), Complex32::new(0.0, 0.0));
        }
        for (i, s) in wide.iter().enumerate() {
            let ph = 2.0 * PI * freq * (delay + i) as f64 / f64::from(FS);
            stream[delay + i] += s * Complex32::new(ph.cos() as f32, ph.sin() as f32);
        }
        sent.push((k, sf, data, delay));
    }
    // Noise: about 10 dB SNR in each 125 kHz channel.
    let normal = Normal::new(0.0f32, 0.8).expect("normal");
    stream.extend(std::iter::repeat_n(Complex32::new(0.0, 0.0), 100_000));
    for s in &mut stream {
        *s += Complex32::new(normal.sample(&mut rng), normal.sample(&mut rng));
    }
    let mut frames = Vec::new();
    for chunk in stream.chunks(50_000) {
        frames.extend(rx.process(chunk));
    }
    frames.extend(rx.flush());
    for (k, sf, data, delay) in &sent {
        let found = frames.iter().find(|f| {
            f.channel == *k && f.frame.spreading_factor == *sf && f.frame.payload == *data
        });
        let f = found.unwrap_or_else(|| panic!("channel {k} SF{sf} missing: {frames:#?}"));
        assert_eq!(f.frame.crc_ok, Some(true));
        let off = f.frame.sample_offset as i64 - *delay as i64;
        assert!(off.abs() < 200, "channel {k}: offset {off}");
    }
    // Nothing decoded that was not sent.
    assert!(
        frames.iter().all(|f| f.frame.crc_ok != Some(true)
            || sent
                .iter()
                .any(|(k, _, d, _)| f.channel == *k && f.frame.payload == *d)),
        "{frames:#?}"
    );
}
