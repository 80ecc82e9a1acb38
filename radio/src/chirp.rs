//! Chirp generation shared by the modulator and the receiver.

use num_complex::Complex32;
use std::f64::consts::PI;

/// Reference up-chirp of symbol 0 at one sample per chip: `exp(j2π(n²/2N − n/2))`.
pub fn base_upchirp(n: usize) -> Vec<Complex32> {
    let nf = n as f64;
    (0..n)
        .map(|k| {
            let kf = k as f64;
            let cycles = (kf * kf / (2.0 * nf) - kf / 2.0).rem_euclid(1.0);
            let ph = 2.0 * PI * cycles;
            Complex32::new(ph.cos() as f32, ph.sin() as f32)
        })
        .collect()
}

/// Continuous-phase chirp synthesiser (any oversampling).
#[derive(Debug, Clone)]
pub struct ChirpGen {
    n: usize,
    os: usize,
    phase: f64,
}

impl ChirpGen {
    /// A generator for 2^SF = `n` chips per symbol and `os` samples per chip.
    pub fn new(n: usize, os: usize) -> Self {
        ChirpGen {
            n,
            os: os.max(1),
            phase: 0.0,
        }
    }

    fn emit(&mut self, out: &mut Vec<Complex32>, samples: usize, freq: impl Fn(f64) -> f64) {
        let os = self.os as f64;
        for k in 0..samples {
            out.push(Complex32::new(
                self.phase.cos() as f32,
                self.phase.sin() as f32,
            ));
            let t = (k as f64 + 0.5) / os; // time in chips at the middle of the sample
            self.phase = (self.phase + 2.0 * PI * freq(t) / os).rem_euclid(2.0 * PI);
        }
    }

    /// Appends an up-chirp carrying `value` (cyclic shift of the base chirp by `value` chips).
    pub fn upchirp(&mut self, out: &mut Vec<Complex32>, value: u16) {
        let nf = self.n as f64;
        let s = f64::from(value);
        self.emit(out, self.n * self.os, |t| {
            ((t + s).rem_euclid(nf)) / nf - 0.5
        });
    }

    /// Appends the first `samples` samples of a down-chirp.
    pub fn downchirp(&mut self, out: &mut Vec<Complex32>, samples: usize) {
        let nf = self.n as f64;
        self.emit(out, samples, |t| 0.5 - t.rem_euclid(nf) / nf);
    }
}
