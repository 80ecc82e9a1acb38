//! Wideband reception for SDR-style radios: a stream of complex samples (e.g. 1.6 MS/s) is
//! split into channels by the channelizer and every listed spreading factor is decoded on every
//! channel ([`MultiReceiver`]). [`WidebandDecoder`] turns the frames into [`Reception`]s with
//! their channel's frequency and time; [`WidebandReplay`] is a receive-only radio that plays an
//! IQ recording through it, at real-time pace or as fast as the CPU allows.

use crate::{Backend, BackendError, Reception, Transmission, Transmitted};
use radio::channelizer::{ChannelFrame, MultiReceiver};
use radio::demod::Decoding;
use radio::error::RadioError;
use radio::iq::SampleFormat;
use radio::params::LoraParams;
use radio::Complex32;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The channel plan of a wideband stream.
#[derive(Debug, Clone, PartialEq)]
pub struct WidebandConfig {
    /// Frequency at the centre of the stream, hertz.
    pub center_frequency_hz: u64,
    /// Sample rate of the stream (a multiple of `channel_spacing_hz`).
    pub sample_rate_hz: u32,
    /// Spacing of the channels, hertz (channels sit at the centre + k × spacing).
    pub channel_spacing_hz: u32,
    /// LoRa bandwidth of each channel, hertz.
    pub bandwidth_hz: u32,
    /// Spreading factors decoded on every channel.
    pub spreading_factors: Vec<u8>,
    /// Other modulation settings (sync word, coding, header) of the frames listened for.
    pub template: LoraParams,
    /// Power in dBm of a full-scale sample (`|x|² = 1`), for RSSI.
    pub full_scale_dbm: f32,
}

impl WidebandConfig {
    /// An SX1302-like plan: 8 channels of 125 kHz, 200 kHz apart, in 1.6 MS/s, SF7–12.
    pub fn eight_channels(center_frequency_hz: u64) -> Self {
        Self {
            center_frequency_hz,
            sample_rate_hz: 1_600_000,
            channel_spacing_hz: 200_000,
            bandwidth_hz: 125_000,
            spreading_factors: vec![7, 8, 9, 10, 11, 12],
            template: LoraParams::new(7, 125_000),
            full_scale_dbm: 0.0,
        }
    }
}

/// Decodes a wideband stream into [`Reception`]s.
pub struct WidebandDecoder {
    multi: MultiReceiver,
    config: WidebandConfig,
    start_ns: u64,
}

impl std::fmt::Debug for WidebandDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WidebandDecoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WidebandDecoder {
    /// A decoder for `config`, the stream's first sample taken at `start_ns` (Unix ns).
    pub fn new(config: WidebandConfig, start_ns: u64) -> Result<Self, RadioError> {
        let multi = MultiReceiver::new(
            config.sample_rate_hz,
            config.channel_spacing_hz,
            config.bandwidth_hz,
            &config.spreading_factors,
            config.template,
            Decoding::Soft,
        )?;
        Ok(Self {
            multi,
            config,
            start_ns,
        })
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.multi.channels()
    }

    /// Sets the time of the stream's first sample, Unix nanoseconds.
    pub fn set_start_ns(&mut self, start_ns: u64) {
        self.start_ns = start_ns;
    }

    /// Centre frequency of channel `k`, hertz.
    pub fn channel_frequency_hz(&self, k: usize) -> u64 {
        (self.config.center_frequency_hz as f64 + self.multi.channel_offset_hz(k))
            .round()
            .max(0.0) as u64
    }

    fn reception(&self, found: ChannelFrame) -> Reception {
        let mut frame = found.frame;
        frame.rssi_dbm += self.config.full_scale_dbm;
        let offset_ns =
            frame.sample_offset as f64 * 1e9 / f64::from(self.config.sample_rate_hz.max(1));
        Reception {
            frequency_hz: self.channel_frequency_hz(found.channel),
            timestamp_ns: self.start_ns + offset_ns as u64,
            frame,
        }
    }

    /// Feeds samples; returns the frames completed so far.
    pub fn process(&mut self, samples: &[Complex32]) -> Vec<Reception> {
        let found = self.multi.process(samples);
        found.into_iter().map(|f| self.reception(f)).collect()
    }

    /// Ends the stream, finishing frames in progress.
    pub fn flush(&mut self) -> Vec<Reception> {
        let found = self.multi.flush();
        found.into_iter().map(|f| self.reception(f)).collect()
    }
}

/// What a [`WidebandReplay`] plays.
#[derive(Debug, Clone)]
pub struct WidebandReplayConfig {
    /// The recording; `None` plays silence (an idle radio that hears nothing).
    pub path: Option<PathBuf>,
    /// Its sample format.
    pub format: SampleFormat,
    /// Its channel plan.
    pub wideband: WidebandConfig,
    /// Play at the recording's sample rate (true) or as fast as the CPU allows.
    pub realtime: bool,
    /// Times the recording is played (0: forever).
    pub repeat: u32,
    /// Time of the recording's first sample, Unix nanoseconds.
    pub start_ns: u64,
}

#[derive(Debug, Default)]
struct ReplayCounters {
    samples: AtomicU64,
    frames: AtomicU64,
    plays: AtomicU64,
}

/// A handle on a replay's progress that stays valid after the radio is handed to a daemon.
#[derive(Debug, Clone)]
pub struct ReplayProgress(Arc<ReplayCounters>);

impl ReplayProgress {
    /// Samples played so far.
    pub fn samples(&self) -> u64 {
        self.0.samples.load(Ordering::Relaxed)
    }

    /// Frames decoded so far.
    pub fn frames(&self) -> u64 {
        self.0.frames.load(Ordering::Relaxed)
    }
}

/// A receive-only radio playing a wideband IQ recording through the channelizer and
/// demodulators on its own thread, as an SDR would deliver it.
pub struct WidebandReplay {
    receptions: mpsc::Receiver<Result<Reception, String>>,
    counters: Arc<ReplayCounters>,
}

impl std::fmt::Debug for WidebandReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WidebandReplay").finish_non_exhaustive()
    }
}

/// Samples read and decoded at a time (10 ms at 1.6 MS/s): every receiver buffers one chunk
/// beyond its history, so a smaller chunk keeps the 48 receivers of 8 channels smaller.
const REPLAY_CHUNK: usize = 16_384;

impl WidebandReplay {
    /// A handle on the replay's progress.
    pub fn progress(&self) -> ReplayProgress {
        ReplayProgress(self.counters.clone())
    }

    /// Checks the channel plan, opens the recording and starts playing it.
    pub fn open(config: WidebandReplayConfig) -> Result<Self, BackendError> {
        let decoder = WidebandDecoder::new(config.wideband.clone(), config.start_ns)?;
        let file = match &config.path {
            Some(path) => Some(
                std::fs::File::open(path).map_err(|source| BackendError::Io {
                    context: format!("opening {}", path.display()),
                    source,
                })?,
            ),
            None => None,
        };
        let (sender, receptions) = mpsc::channel(256);
        let counters = Arc::new(ReplayCounters::default());
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("wideband-replay".into())
            .spawn(move || {
                if let Err(error) = play(config, decoder, file, &sender, &thread_counters) {
                    let _ = sender.blocking_send(Err(error));
                }
            })
            .map_err(|source| BackendError::Io {
                context: "starting the replay thread".into(),
                source,
            })?;
        Ok(Self {
            receptions,
            counters,
        })
    }
}

fn play(
    config: WidebandReplayConfig,
    mut decoder: WidebandDecoder,
    file: Option<std::fs::File>,
    sender: &mpsc::Sender<Result<Reception, String>>,
    counters: &ReplayCounters,
) -> Result<(), String> {
    let fs = f64::from(config.wideband.sample_rate_hz.max(1));
    let started = Instant::now();
    let mut played: u64 = 0;
    let mut pace = |samples: usize| {
        played += samples as u64;
        if config.realtime {
            let due = Duration::from_secs_f64(played as f64 / fs);
            if let Some(ahead) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
    };
    let send = |receptions: Vec<Reception>| -> bool {
        for reception in receptions {
            counters.frames.fetch_add(1, Ordering::Relaxed);
            if sender.blocking_send(Ok(reception)).is_err() {
                return false;
            }
        }
        !sender.is_closed()
    };
    let Some(mut file) = file else {
        // Silence: nothing to decode; wait until the radio is dropped.
        while !sender.is_closed() {
            std::thread::sleep(Duration::from_millis(100));
        }
        return Ok(());
    };
    let bytes_per_sample = config.format.bytes_per_sample();
    let mut bytes = vec![0u8; REPLAY_CHUNK * bytes_per_sample];
    let mut samples = Vec::with_capacity(REPLAY_CHUNK);
    let mut play_count = 0u32;
    loop {
        let mut filled = 0;
        loop {
            let read = file
                .read(&mut bytes[filled..])
                .map_err(|error| format!("reading the recording: {error}"))?;
            if read == 0 {
                break;
            }
            filled += read;
            if filled == bytes.len() {
                break;
            }
        }
        let usable = filled - filled % bytes_per_sample;
        if usable > 0 {
            samples.clear();
            config.format.decode(&bytes[..usable], &mut samples);
            counters
                .samples
                .fetch_add(samples.len() as u64, Ordering::Relaxed);
            let found = decoder.process(&samples);
            if !send(found) {
                return Ok(());
            }
            pace(samples.len());
        }
        if filled < bytes.len() {
            play_count += 1;
            counters.plays.fetch_add(1, Ordering::Relaxed);
            if config.repeat != 0 && play_count >= config.repeat {
                send(decoder.flush());
                return Ok(());
            }
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(0))
                .map_err(|error| format!("rewinding the recording: {error}"))?;
        }
    }
}

impl Backend for WidebandReplay {
    async fn transmit(
        &mut self,
        _transmission: &Transmission,
    ) -> Result<Transmitted, BackendError> {
        Err(BackendError::Refused(
            "a wideband replay cannot transmit".into(),
        ))
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        match self.receptions.recv().await {
            Some(Ok(reception)) => Ok(Some(reception)),
            Some(Err(error)) => Err(BackendError::Io {
                context: "wideband replay".into(),
                source: std::io::Error::other(error),
            }),
            None => Ok(None),
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            (
                "replay_samples",
                self.counters.samples.load(Ordering::Relaxed),
            ),
            (
                "replay_frames",
                self.counters.frames.load(Ordering::Relaxed),
            ),
            ("replay_plays", self.counters.plays.load(Ordering::Relaxed)),
        ]
    }
}

/// A synthesised recording and the frames in it, as `(channel frequency, payload)`.
pub type Synthesised = (Vec<Complex32>, Vec<(u64, Vec<u8>)>);

/// Synthesises a wideband recording: noise at `noise_dbm` per sample and, on every channel of
/// `config`, frames of `payload_len` bytes at `signal_dbm` (spreading factors taken in turn
/// from the plan), one after another, for `seconds`. Returns the samples and the frames put
/// in as `(channel frequency, payload)`.
pub fn synthesise(
    config: &WidebandConfig,
    seconds: f64,
    payload_len: usize,
    signal_dbm: f32,
    noise_dbm: f32,
    seed: u64,
) -> Result<Synthesised, RadioError> {
    use radio::channelizer::Resampler;
    use rand::{Rng, SeedableRng};
    let fs = config.sample_rate_hz;
    let decoder = WidebandDecoder::new(config.clone(), 0)?;
    let n = (seconds * f64::from(fs)) as usize;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let sigma = (10f32.powf(noise_dbm / 10.0) / 2.0).sqrt();
    let normal = rand_distr::Normal::new(0.0f32, sigma.max(1e-9))
        .map_err(|_| RadioError::InvalidBandwidth(config.bandwidth_hz))?;
    let mut stream: Vec<Complex32> = (0..n)
        .map(|_| Complex32::new(rng.sample(normal), rng.sample(normal)))
        .collect();
    let amplitude = 10f32.powf(signal_dbm / 20.0);
    // Frames are made at 4 samples per chip and resampled to the stream's rate.
    let os = 4u32;
    let frame_rate = u64::from(config.bandwidth_hz) * u64::from(os);
    let g = gcd(u64::from(fs), frame_rate);
    let (up, down) = ((u64::from(fs) / g) as usize, (frame_rate / g) as usize);
    let mut sent = Vec::new();
    for k in 0..decoder.channels() {
        let offset = decoder.channel_frequency_hz(k) as f64 - config.center_frequency_hz as f64;
        let mut at = rng.gen_range(0..(f64::from(fs) * 0.05) as usize + 1);
        let mut turn = k;
        loop {
            let sf = config.spreading_factors[turn % config.spreading_factors.len()];
            turn += 1;
            let params = LoraParams {
                spreading_factor: sf,
                bandwidth_hz: config.bandwidth_hz,
                oversampling: os,
                ..config.template
            };
            let payload: Vec<u8> = (0..payload_len).map(|_| rng.gen()).collect();
            let frame = radio::modulator::modulate(&params, &payload)?;
            let mut wide = Vec::new();
            let mut resampler = Resampler::new(up, down);
            resampler.process(&frame, &mut wide);
            resampler.process(&vec![Complex32::new(0.0, 0.0); 64 * down], &mut wide);
            if at + wide.len() > n {
                break;
            }
            for (i, sample) in wide.iter().enumerate() {
                let phase = 2.0 * std::f64::consts::PI * offset * (at + i) as f64 / f64::from(fs);
                stream[at + i] +=
                    *sample * amplitude * Complex32::new(phase.cos() as f32, phase.sin() as f32);
            }
            sent.push((decoder.channel_frequency_hz(k), payload));
            at += wide.len() + rng.gen_range(1_000..20_000);
        }
    }
    Ok((stream, sent))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replayed_recording_yields_the_frames_of_every_channel() {
        let mut config = WidebandConfig::eight_channels(904_600_000);
        config.spreading_factors = vec![7, 8];
        let (stream, sent) = synthesise(&config, 0.25, 12, -20.0, -45.0, 7).unwrap();
        assert!(sent.len() >= 8, "{}", sent.len());
        let path = std::env::temp_dir().join(format!("wideband-{}.cs16", std::process::id()));
        std::fs::write(&path, SampleFormat::Cs16.encode(&stream)).unwrap();
        let mut replay = WidebandReplay::open(WidebandReplayConfig {
            path: Some(path.clone()),
            format: SampleFormat::Cs16,
            wideband: config,
            realtime: false,
            repeat: 1,
            start_ns: 0,
        })
        .unwrap();
        let mut heard = Vec::new();
        while let Some(reception) = replay.receive().await.unwrap() {
            heard.push((reception.frequency_hz, reception.frame.payload));
        }
        std::fs::remove_file(&path).unwrap();
        let missed: Vec<_> = sent.iter().filter(|frame| !heard.contains(frame)).collect();
        assert!(
            missed.len() * 10 <= sent.len(),
            "missed {} of {}: {missed:?}",
            missed.len(),
            sent.len()
        );
        assert!(replay
            .transmit(&Transmission {
                frequency_hz: 1,
                params: LoraParams::new(7, 125_000),
                payload: vec![1],
                power_dbm: 0.0,
            })
            .await
            .is_err());
    }
}
