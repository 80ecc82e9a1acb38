//! Wideband reception: 8 simultaneous frames with different SFs on the 8 channels of one
//! 1.6 MS/s stream all decode, and frames of several SFs overlapping on one channel (whose
//! receivers share one sample buffer) decode whatever the chunks the stream comes in.

use radio::channelizer::{ChannelFrame, MultiReceiver, Resampler};
use radio::{modulate, Complex32, Decoding, LoraParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::f64::consts::PI;

const FS: u32 = 1_600_000;

/// A receiver for SF7–12 on the 8 channels of a 1.6 MS/s stream.
fn receiver() -> MultiReceiver {
    MultiReceiver::new(
        FS,
        200_000,
        125_000,
        &[7, 8, 9, 10, 11, 12],
        LoraParams::new(7, 125_000),
        Decoding::Soft,
    )
    .expect("multi receiver")
}

/// Adds a frame of 6 random bytes at `sf` on channel `k` of `rx`, starting `delay` samples
/// into `stream` (with a CFO of up to 5 kHz); returns its payload.
fn add_frame(
    stream: &mut Vec<Complex32>,
    rx: &MultiReceiver,
    k: usize,
    sf: u8,
    delay: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<u8> {
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
    if stream.len() < delay + wide.len() {
        stream.resize(delay + wide.len(), Complex32::new(0.0, 0.0));
    }
    for (i, s) in wide.iter().enumerate() {
        let ph = 2.0 * PI * freq * (delay + i) as f64 / f64::from(FS);
        stream[delay + i] += s * Complex32::new(ph.cos() as f32, ph.sin() as f32);
    }
    data
}

/// 100 000 samples of silence at the end, and noise of about 10 dB SNR in each 125 kHz channel.
fn add_noise(stream: &mut Vec<Complex32>, rng: &mut ChaCha8Rng) {
    let normal = Normal::new(0.0f32, 0.8).expect("normal");
    stream.extend(std::iter::repeat_n(Complex32::new(0.0, 0.0), 100_000));
    for s in stream {
        *s += Complex32::new(normal.sample(rng), normal.sample(rng));
    }
}

/// Every frame `rx` decodes of `stream` fed in chunks of `chunk` samples.
fn receive(rx: &mut MultiReceiver, stream: &[Complex32], chunk: usize) -> Vec<ChannelFrame> {
    let mut frames = Vec::new();
    for chunk in stream.chunks(chunk) {
        frames.extend(rx.process(chunk));
    }
    frames.extend(rx.flush());
    frames
}

#[test]
fn eight_channels_eight_frames() {
    let sfs = [7u8, 8, 9, 10, 11, 12, 7, 8];
    let mut rx = receiver();
    assert_eq!(rx.channels(), 8);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut stream: Vec<Complex32> = Vec::new();
    let mut sent = Vec::new();
    for (k, &sf) in sfs.iter().enumerate() {
        let delay = rng.gen_range(0..200_000usize);
        let data = add_frame(&mut stream, &rx, k, sf, delay, &mut rng);
        sent.push((k, sf, data, delay));
    }
    add_noise(&mut stream, &mut rng);
    let frames = receive(&mut rx, &stream, 50_000);
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

#[test]
fn overlapping_spreading_factors_on_one_channel_decode_in_any_chunking() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut stream: Vec<Complex32> = Vec::new();
    let rx = receiver();
    // An SF12 frame on channel 2 with SF7, SF9 and SF10 frames inside it, and SF8 on channel 5.
    let sent: Vec<(usize, u8, Vec<u8>)> = [
        (2, 12, 0),
        (2, 7, 60_000),
        (2, 9, 250_000),
        (2, 10, 500_000),
        (5, 8, 100_000),
    ]
    .into_iter()
    .map(|(k, sf, delay)| (k, sf, add_frame(&mut stream, &rx, k, sf, delay, &mut rng)))
    .collect();
    add_noise(&mut stream, &mut rng);
    let in_large_chunks = receive(&mut receiver(), &stream, 50_000);
    let in_small_chunks = receive(&mut receiver(), &stream, 3_001);
    for (k, sf, data) in &sent {
        let found = in_large_chunks.iter().find(|f| {
            f.channel == *k && f.frame.spreading_factor == *sf && f.frame.payload == *data
        });
        assert!(
            found.is_some_and(|f| f.frame.crc_ok == Some(true)),
            "channel {k} SF{sf} missing: {in_large_chunks:#?}"
        );
    }
    assert_eq!(in_large_chunks, in_small_chunks);
}
