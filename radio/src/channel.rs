//! A simulated RF channel: path loss, thermal noise, carrier frequency offset, delay and AWGN.
//!
//! Sample units are sqrt(milliwatts): a complex sample of power `|x|² = 1` is 0 dBm.

use num_complex::Complex32;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use std::f64::consts::PI;

/// Free-space path loss in dB: `20·log10(d_km) + 20·log10(f_MHz) + 32.44`.
pub fn fspl_db(distance_m: f64, frequency_hz: f64) -> f64 {
    20.0 * (distance_m / 1000.0).log10() + 20.0 * (frequency_hz / 1e6).log10() + 32.44
}

/// Thermal noise power in dBm over `bandwidth_hz`: `−174 + 10·log10(BW) + NF`.
pub fn thermal_noise_dbm(bandwidth_hz: f64, noise_figure_db: f64) -> f64 {
    -174.0 + 10.0 * bandwidth_hz.log10() + noise_figure_db
}

/// A path-loss model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PathLoss {
    /// Free-space path loss ([`fspl_db`]).
    FreeSpace,
    /// Log-distance model: FSPL at `reference_m`, then `10·n·log10(d/ref)` beyond it
    /// (plain FSPL below the reference distance).
    LogDistance {
        /// Path-loss exponent n.
        exponent: f64,
        /// Reference distance in metres.
        reference_m: f64,
    },
}

impl PathLoss {
    /// Path loss in dB at `distance_m` and `frequency_hz`.
    pub fn loss_db(&self, distance_m: f64, frequency_hz: f64) -> f64 {
        match *self {
            PathLoss::FreeSpace => fspl_db(distance_m, frequency_hz),
            PathLoss::LogDistance {
                exponent,
                reference_m,
            } => {
                if distance_m > reference_m {
                    fspl_db(reference_m, frequency_hz)
                        + 10.0 * exponent * (distance_m / reference_m).log10()
                } else {
                    fspl_db(distance_m, frequency_hz)
                }
            }
        }
    }
}

/// What the channel does to one transmission.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelConditions {
    /// Mean received signal power in dBm.
    pub rx_power_dbm: f64,
    /// Noise power in dBm **per sample**, i.e. over the whole sampled bandwidth
    /// (= the sample rate). At oversampling 1 this is the in-band noise floor; at
    /// oversampling `os` the in-band noise is `noise_floor_dbm − 10·log10(os)`.
    pub noise_floor_dbm: f64,
    /// Carrier frequency offset in Hz applied to the signal.
    pub cfo_hz: f64,
    /// Number of noise-only samples before the signal.
    pub delay_samples: usize,
    /// Number of noise-only samples after the signal.
    pub trailing_samples: usize,
}

impl ChannelConditions {
    /// Signal-to-noise ratio in dB (`rx_power_dbm − noise_floor_dbm`).
    pub fn snr_db(&self) -> f64 {
        self.rx_power_dbm - self.noise_floor_dbm
    }
}

/// Passes unit-amplitude `tx` samples through the channel.
///
/// The signal is scaled so its mean power is `rx_power_dbm` (power `10^(dBm/10)` in sample
/// units), rotated by the CFO, framed by `delay_samples` and `trailing_samples` of
/// noise, and complex white Gaussian noise of power `10^(noise_floor_dbm/10)` per sample is
/// added everywhere. Deterministic for a seeded `rng`.
pub fn propagate<R: Rng>(
    tx: &[Complex32],
    sample_rate: f64,
    conditions: &ChannelConditions,
    rng: &mut R,
) -> Vec<Complex32> {
    let total = conditions.delay_samples + tx.len() + conditions.trailing_samples;
    let tx_power = if tx.is_empty() {
        0.0
    } else {
        tx.iter().map(|s| f64::from(s.norm_sqr())).sum::<f64>() / tx.len() as f64
    };
    let target = 10f64.powf(conditions.rx_power_dbm / 10.0);
    let gain = if tx_power > 0.0 && tx_power.is_finite() && target.is_finite() {
        (target / tx_power).sqrt()
    } else {
        0.0
    };
    let noise_power = 10f64.powf(conditions.noise_floor_dbm / 10.0);
    let sigma = if noise_power.is_finite() && noise_power > 0.0 {
        (noise_power / 2.0).sqrt()
    } else {
        0.0
    };
    let normal = Normal::new(0.0, sigma).ok();
    let step = if sample_rate > 0.0 {
        2.0 * PI * conditions.cfo_hz / sample_rate
    } else {
        0.0
    };
    let mut out = Vec::with_capacity(total);
    for i in 0..total {
        let mut v = if i >= conditions.delay_samples && i < conditions.delay_samples + tx.len() {
            let s = tx[i - conditions.delay_samples];
            let ph = (step * i as f64).rem_euclid(2.0 * PI);
            let rot = Complex32::new(ph.cos() as f32, ph.sin() as f32);
            s * rot * gain as f32
        } else {
            Complex32::new(0.0, 0.0)
        };
        if let Some(nd) = &normal {
            v += Complex32::new(nd.sample(rng) as f32, nd.sample(rng) as f32);
        }
        out.push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fspl_known_value() {
        // 1 km at 915 MHz ≈ 91.67 dB
        assert!((fspl_db(1000.0, 915e6) - 91.67).abs() < 0.01);
        assert!((thermal_noise_dbm(125e3, 6.0) - (-117.03)).abs() < 0.01);
    }

    #[test]
    fn log_distance() {
        let m = PathLoss::LogDistance {
            exponent: 3.0,
            reference_m: 100.0,
        };
        let f = 868e6;
        assert!((m.loss_db(50.0, f) - fspl_db(50.0, f)).abs() < 1e-9);
        assert!((m.loss_db(1000.0, f) - (fspl_db(100.0, f) + 30.0)).abs() < 1e-9);
        assert!((PathLoss::FreeSpace.loss_db(10.0, f) - fspl_db(10.0, f)).abs() < 1e-12);
    }

    #[test]
    fn powers_and_determinism() {
        let tx = vec![Complex32::new(1.0, 0.0); 20000];
        let c = ChannelConditions {
            rx_power_dbm: -100.0,
            noise_floor_dbm: -110.0,
            cfo_hz: 1000.0,
            delay_samples: 100,
            trailing_samples: 50,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let y = propagate(&tx, 125e3, &c, &mut rng);
        assert_eq!(y.len(), 20150);
        let noise: f64 = y[..100]
            .iter()
            .chain(&y[20100..])
            .map(|s| f64::from(s.norm_sqr()))
            .sum::<f64>()
            / 150.0;
        let total: f64 = y[100..20100]
            .iter()
            .map(|s| f64::from(s.norm_sqr()))
            .sum::<f64>()
            / 20000.0;
        assert!((10.0 * noise.log10() + 110.0).abs() < 1.5);
        let expect = 1e-10 + 1e-11;
        assert!((10.0 * (total / expect).log10()).abs() < 0.2);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(propagate(&tx, 125e3, &c, &mut rng), y);
    }
}
