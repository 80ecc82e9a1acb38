//! Wideband reception: a polyphase filter bank splits one stream (e.g. 1.6 MS/s) into
//! channels spaced `sample_rate / M` apart (200 kHz like an SX1302), a rational resampler
//! brings each channel to its LoRa bandwidth (one sample per chip), and a [`MultiReceiver`] runs one
//! [`Receiver`] per (channel, spreading factor).

use crate::demod::{Calibration, Decoding, Receiver, RxFrame, SharedStream};
use crate::error::RadioError;
use crate::filter::lowpass_taps;
use crate::params::LoraParams;
use num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Taps per polyphase branch of the channelizer's prototype filter.
const TAPS_PER_BRANCH: usize = 16;

/// Critically sampled polyphase analysis filter bank: `M` channels, channel `k` centred on
/// `k · fs / M` (channels `k ≥ M/2` are the negative frequencies `(k − M) · fs / M`), each
/// output at `fs / M`.
pub struct Channelizer {
    m: usize,
    /// Prototype filter, `M · TAPS_PER_BRANCH` taps (unit DC gain).
    taps: Vec<f32>,
    hist: Vec<Complex32>,
    start: usize,
    fft: Arc<dyn Fft<f32>>,
    work: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl std::fmt::Debug for Channelizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channelizer")
            .field("m", &self.m)
            .finish_non_exhaustive()
    }
}

impl Channelizer {
    /// A bank of `m` channels (`m ≥ 2`); the prototype low-pass is flat over ±0.4 of a channel
    /// spacing.
    pub fn new(m: usize) -> Self {
        let m = m.max(2);
        let len = m * TAPS_PER_BRANCH;
        let mut taps = lowpass_taps(len + 1, 0.6 / m as f64);
        taps.truncate(len);
        let fft = FftPlanner::<f32>::new().plan_fft_inverse(m);
        let scratch = vec![Complex32::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        Channelizer {
            m,
            taps,
            hist: vec![Complex32::new(0.0, 0.0); len],
            start: 0,
            fft,
            work: vec![Complex32::new(0.0, 0.0); m],
            scratch,
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.m
    }

    /// Feeds wideband samples; appends each channel's new samples to `out[k]` (`out` is
    /// resized to the number of channels).
    pub fn process(&mut self, input: &[Complex32], out: &mut Vec<Vec<Complex32>>) {
        out.resize_with(self.m, Vec::new);
        let m = self.m;
        let len = self.taps.len();
        self.hist.extend(input.iter().map(|s| {
            if s.re.is_finite() && s.im.is_finite() {
                *s
            } else {
                Complex32::new(0.0, 0.0)
            }
        }));
        // Output n uses inputs up to index `newest` = start + len − 1 (the newest sample x[nM]).
        while self.hist.len() >= self.start + len {
            let newest = self.start + len - 1;
            for p in 0..m {
                let mut acc = Complex32::new(0.0, 0.0);
                let mut q = 0;
                while q * m + p < len {
                    acc += self.hist[newest - q * m - p] * self.taps[q * m + p];
                    q += 1;
                }
                self.work[p] = acc;
            }
            self.fft
                .process_with_scratch(&mut self.work, &mut self.scratch);
            for (k, v) in self.work.iter().enumerate() {
                out[k].push(*v);
            }
            self.start += m;
        }
        if self.start > 8 * len {
            self.hist.drain(..self.start);
            self.start = 0;
        }
    }
}

/// Streaming rational resampler by `up / down` (polyphase FIR, unit gain).
#[derive(Debug, Clone)]
pub struct Resampler {
    up: usize,
    down: usize,
    taps: Vec<f32>,
    hist: Vec<Complex32>,
    /// Absolute input index of `hist[0]`.
    base: u64,
    /// Next output index.
    next: u64,
}

impl Resampler {
    /// A resampler changing the rate by `up / down` (both ≥ 1), passing ±0.4 of the lower of
    /// the two rates.
    pub fn new(up: usize, down: usize) -> Self {
        let (up, down) = (up.max(1), down.max(1));
        Self::with_cutoff(up, down, 0.45 / up.max(down) as f64)
    }

    /// A resampler by `up / down` with the low-pass cutoff `cutoff` in cycles per sample of the
    /// intermediate (upsampled) rate.
    pub fn with_cutoff(up: usize, down: usize, cutoff: f64) -> Self {
        let (up, down) = (up.max(1), down.max(1));
        let len = 2 * 10 * up.max(down) + 1;
        let taps = lowpass_taps(len, cutoff)
            .into_iter()
            .map(|t| t * up as f32)
            .collect();
        Resampler {
            up,
            down,
            taps,
            hist: Vec::new(),
            base: 0,
            next: 0,
        }
    }

    /// Group delay in output samples.
    pub fn delay(&self) -> f64 {
        (self.taps.len() / 2) as f64 / self.down as f64
    }

    /// Resamples `input`, appending to `out`.
    pub fn process(&mut self, input: &[Complex32], out: &mut Vec<Complex32>) {
        self.hist.extend_from_slice(input);
        let (up, down) = (self.up as u64, self.down as u64);
        let len = self.taps.len() as u64;
        let end = self.base + self.hist.len() as u64;
        loop {
            // Intermediate (upsampled) index of this output and the input samples it needs.
            let centre = self.next * down;
            let newest = centre / up;
            if newest >= end {
                break;
            }
            let mut acc = Complex32::new(0.0, 0.0);
            let mut t = centre % up;
            while t < len {
                let idx = (centre - t) / up;
                if idx >= self.base {
                    acc += self.hist[(idx - self.base) as usize] * self.taps[t as usize];
                }
                if centre < t + up {
                    break;
                }
                t += up;
            }
            out.push(acc);
            self.next += 1;
        }
        let keep_from = (self.next * down).saturating_sub(len) / up;
        if keep_from > self.base + 4096 {
            let drop = (keep_from - self.base) as usize;
            self.hist.drain(..drop.min(self.hist.len()));
            self.base += drop as u64;
        }
    }
}

/// Greatest common divisor.
fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A frame received by a [`MultiReceiver`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelFrame {
    /// Channel index (0..channels).
    pub channel: usize,
    /// Channel centre relative to the wideband stream's centre, in Hz.
    pub offset_hz: f64,
    /// The frame (its `sample_offset` counts wideband input samples).
    pub frame: RxFrame,
}

/// Decodes all spreading factors on all channels of a wideband stream at once.
pub struct MultiReceiver {
    sample_rate: f64,
    channelizer: Channelizer,
    resamplers: Vec<Resampler>,
    receivers: Vec<Vec<Receiver>>,
    channel_rate: f64,
    os: u32,
    bufs: Vec<Vec<Complex32>>,
    resampled: Vec<Complex32>,
    /// Each channel's stream, shared by its spreading factors' receivers.
    streams: Vec<SharedStream>,
    /// Spare capacity kept in a stream: two symbols of the longest.
    slack: usize,
}

impl std::fmt::Debug for MultiReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiReceiver")
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.receivers.len())
            .finish_non_exhaustive()
    }
}

impl MultiReceiver {
    /// A receiver for `sample_rate / spacing_hz` channels of `bandwidth_hz` each, listening
    /// for every spreading factor in `sfs` with `template`'s other parameters (its SF,
    /// bandwidth and oversampling are replaced).
    pub fn new(
        sample_rate: u32,
        spacing_hz: u32,
        bandwidth_hz: u32,
        sfs: &[u8],
        template: LoraParams,
        decoding: Decoding,
    ) -> Result<Self, RadioError> {
        if spacing_hz == 0 || sample_rate % spacing_hz != 0 || bandwidth_hz > spacing_hz {
            return Err(RadioError::InvalidBandwidth(spacing_hz));
        }
        let m = (sample_rate / spacing_hz) as usize;
        let os = 1u32;
        let target = u64::from(bandwidth_hz) * u64::from(os);
        let g = gcd(target, u64::from(spacing_hz));
        let (up, down) = ((target / g) as usize, (u64::from(spacing_hz) / g) as usize);
        if up > 64 || down > 64 {
            return Err(RadioError::InvalidBandwidth(bandwidth_hz));
        }
        let mut receivers = Vec::with_capacity(m);
        let mut longest_symbol = 1;
        for _ in 0..m {
            let mut per = Vec::with_capacity(sfs.len());
            for &sf in sfs {
                let p = LoraParams {
                    spreading_factor: sf,
                    bandwidth_hz,
                    oversampling: os,
                    ..template
                };
                longest_symbol = longest_symbol.max(p.chips_per_symbol());
                per.push(Receiver::new(p, Calibration::default())?.with_decoding(decoding));
            }
            receivers.push(per);
        }
        Ok(MultiReceiver {
            sample_rate: f64::from(sample_rate),
            channelizer: Channelizer::new(m),
            // Pass ±0.55 of the LoRa bandwidth, as the receiver's own decimator does.
            resamplers: (0..m)
                .map(|_| {
                    let cutoff =
                        0.55 * f64::from(bandwidth_hz) / (f64::from(spacing_hz) * up as f64);
                    Resampler::with_cutoff(up, down, cutoff)
                })
                .collect(),
            receivers,
            channel_rate: target as f64,
            os,
            bufs: Vec::new(),
            resampled: Vec::new(),
            streams: (0..m).map(|_| SharedStream::default()).collect(),
            slack: 2 * longest_symbol,
        })
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.receivers.len()
    }

    /// Centre of channel `k` relative to the stream centre, in Hz.
    pub fn channel_offset_hz(&self, k: usize) -> f64 {
        let m = self.channels() as f64;
        let k = k as f64;
        let k = if k >= m / 2.0 { k - m } else { k };
        k * self.sample_rate / m
    }

    fn wideband_offset(&self, channel_offset: u64, resampler_delay: f64) -> u64 {
        let t = (channel_offset as f64 - resampler_delay) / self.channel_rate;
        let wide = t * self.sample_rate - (self.channelizer.taps.len() / 2) as f64;
        wide.round().max(0.0) as u64
    }

    fn collect(&mut self, k: usize, frames: Vec<RxFrame>, out: &mut Vec<ChannelFrame>) {
        let delay = self.resamplers[k].delay();
        for mut frame in frames {
            frame.sample_offset = self.wideband_offset(frame.sample_offset, delay);
            out.push(ChannelFrame {
                channel: k,
                offset_hz: self.channel_offset_hz(k),
                frame,
            });
        }
    }

    /// Feeds wideband samples; returns the frames completed so far on every channel.
    pub fn process(&mut self, samples: &[Complex32]) -> Vec<ChannelFrame> {
        let mut bufs = std::mem::take(&mut self.bufs);
        for b in &mut bufs {
            b.clear();
        }
        self.channelizer.process(samples, &mut bufs);
        let mut out = Vec::new();
        for (k, buf) in bufs.iter().enumerate() {
            let mut resampled = std::mem::take(&mut self.resampled);
            resampled.clear();
            self.resamplers[k].process(buf, &mut resampled);
            let mut stream = std::mem::take(&mut self.streams[k]);
            stream.push(&resampled);
            for r in 0..self.receivers[k].len() {
                let frames = self.receivers[k][r].process_shared(&mut stream);
                self.collect(k, frames, &mut out);
            }
            let keep = self.receivers[k]
                .iter()
                .map(Receiver::needed_from)
                .min()
                .unwrap_or(u64::MAX);
            stream.trim(keep, self.slack);
            self.streams[k] = stream;
            self.resampled = resampled;
        }
        self.bufs = bufs;
        out
    }

    /// Ends the stream, finishing frames in progress.
    pub fn flush(&mut self) -> Vec<ChannelFrame> {
        let mut out = Vec::new();
        for k in 0..self.receivers.len() {
            let mut stream = std::mem::take(&mut self.streams[k]);
            for r in 0..self.receivers[k].len() {
                let frames = self.receivers[k][r].flush_shared(&stream);
                self.collect(k, frames, &mut out);
            }
            stream.restart();
            self.streams[k] = stream;
        }
        out
    }

    /// Oversampling of the per-channel receivers.
    pub fn oversampling(&self) -> u32 {
        self.os
    }
}
