//! Decimating low-pass FIR filter: brings oversampled input down to one sample per chip
//! before the receiver dechirps it.

use num_complex::Complex32;
use std::f64::consts::PI;

/// Half-length of the anti-alias filter in output samples (chips): the filter spans
/// `2 · HALF_SPAN · factor + 1` input samples.
pub const HALF_SPAN: usize = 12;

/// Windowed-sinc (Blackman) low-pass taps with cutoff `cutoff` (cycles per input sample,
/// 0 < cutoff ≤ 0.5), `len` taps (odd), normalised to unit DC gain.
pub fn lowpass_taps(len: usize, cutoff: f64) -> Vec<f32> {
    let len = len.max(1) | 1;
    let mid = (len / 2) as f64;
    let cutoff = cutoff.clamp(1e-6, 0.5);
    let raw: Vec<f64> = (0..len)
        .map(|i| {
            let x = i as f64 - mid;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * PI * cutoff * x).sin() / (PI * x)
            };
            let w = if len == 1 {
                1.0
            } else {
                let r = i as f64 / (len - 1) as f64;
                0.42 - 0.5 * (2.0 * PI * r).cos() + 0.08 * (4.0 * PI * r).cos()
            };
            sinc * w
        })
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|t| (t / sum) as f32).collect()
}

/// A streaming decimate-by-`factor` low-pass filter (flat to ±0.45, stop band beyond ±0.7 of
/// the output rate).
///
/// It is zero-phase with respect to the stream: output sample `m` is centred on input sample
/// `m · factor` (the filter starts from `HALF_SPAN · factor` zeros of history).
#[derive(Debug, Clone)]
pub struct Decimator {
    factor: usize,
    taps: Vec<f32>,
    hist: Vec<Complex32>,
    start: usize,
}

impl Decimator {
    /// A decimator by `factor` (1 = pass-through).
    pub fn new(factor: usize) -> Self {
        Self::with_step(factor, factor)
    }

    /// A filter for input at `oversampling` samples per chip (band ±0.55 of the chip rate,
    /// as [`Decimator::new`]) keeping every `step`-th output: `step = oversampling / 2` gives
    /// two samples per chip. Oversampling 1 passes the input through.
    pub fn with_step(oversampling: usize, step: usize) -> Self {
        let oversampling = oversampling.max(1);
        let factor = step.clamp(1, oversampling);
        let taps = if oversampling == 1 {
            vec![1.0]
        } else {
            lowpass_taps(2 * HALF_SPAN * oversampling + 1, 0.55 / oversampling as f64)
        };
        let pre = taps.len() / 2;
        Decimator {
            factor,
            taps,
            hist: vec![Complex32::new(0.0, 0.0); pre],
            start: 0,
        }
    }

    /// The decimation factor (input samples per output sample).
    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Filters `input`, appending the output samples to `out`.
    pub fn process(&mut self, input: &[Complex32], out: &mut Vec<Complex32>) {
        if self.taps.len() == 1 {
            out.extend_from_slice(input);
            return;
        }
        let len = self.taps.len();
        self.hist.extend_from_slice(input);
        while self.hist.len() - self.start >= len {
            let window = &self.hist[self.start..self.start + len];
            let mut acc = Complex32::new(0.0, 0.0);
            for (x, t) in window.iter().zip(&self.taps) {
                acc += x * *t;
            }
            out.push(acc);
            self.start += self.factor;
        }
        if self.start > 4 * len {
            self.hist.drain(..self.start);
            self.start = 0;
        }
    }

    /// Forgets the history (the next input starts a new stream).
    pub fn reset(&mut self) {
        let pre = self.taps.len() / 2;
        self.hist.clear();
        self.hist.resize(pre, Complex32::new(0.0, 0.0));
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, n: usize) -> Vec<Complex32> {
        (0..n)
            .map(|k| {
                let ph = 2.0 * PI * freq * k as f64;
                Complex32::new(ph.cos() as f32, ph.sin() as f32)
            })
            .collect()
    }

    fn power_after(freq: f64, factor: usize) -> f32 {
        let mut d = Decimator::new(factor);
        let mut out = Vec::new();
        d.process(&tone(freq, 4000 * factor), &mut out);
        let tail = &out[2 * HALF_SPAN + 10..];
        tail.iter().map(|c| c.norm_sqr()).sum::<f32>() / tail.len() as f32
    }

    #[test]
    fn passes_the_band_and_stops_aliases() {
        for factor in [2, 4, 8] {
            let f = factor as f64;
            // in band (±0.4 of the output rate): within 0.1 dB
            for rel in [0.0, 0.2, -0.4] {
                let p = power_after(rel / f, factor);
                assert!((p - 1.0).abs() < 0.025, "factor {factor} rel {rel}: {p}");
            }
            // far out of band (> 0.7 of the output rate): at least 50 dB down
            for rel in [0.75, -0.95] {
                let p = power_after(rel / f, factor);
                assert!(p < 1e-5, "factor {factor} rel {rel}: {p}");
            }
        }
    }

    #[test]
    fn zero_phase_alignment_and_chunking() {
        let input: Vec<Complex32> = (0..1000)
            .map(|k| Complex32::new((k as f32 * 0.01).sin(), 0.0))
            .collect();
        let mut whole = Vec::new();
        Decimator::new(4).process(&input, &mut whole);
        let mut pieces = Vec::new();
        let mut d = Decimator::new(4);
        for chunk in input.chunks(37) {
            d.process(chunk, &mut pieces);
        }
        assert_eq!(whole, pieces);
        // slow signal: output m ≈ input 4m
        for m in 20..(whole.len() - 20) {
            assert!((whole[m].re - input[4 * m].re).abs() < 1e-3, "{m}");
        }
    }
}
