//! Complex baseband sample formats of IQ files: `cf32` (interleaved little-endian f32, as
//! GNU Radio and SoapySDR write), `cs16` (interleaved little-endian i16, full scale 32768) and
//! `cu8` (interleaved unsigned bytes centred on 127.5, as `rtl_sdr` writes).

use num_complex::Complex32;
use std::str::FromStr;

/// How samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// Interleaved little-endian 32-bit floats.
    Cf32,
    /// Interleaved little-endian signed 16-bit integers.
    Cs16,
    /// Interleaved unsigned bytes, 127.5 meaning zero (RTL-SDR).
    Cu8,
}

/// An unknown format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sample format {0:?} (expected cf32, cs16 or cu8)")]
pub struct UnknownFormat(pub String);

impl FromStr for SampleFormat {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "cf32" | "fc32" | "complex64" => Ok(Self::Cf32),
            "cs16" | "sc16" => Ok(Self::Cs16),
            "cu8" | "rtl" => Ok(Self::Cu8),
            _ => Err(UnknownFormat(name.to_string())),
        }
    }
}

impl SampleFormat {
    /// Bytes one complex sample takes.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Self::Cf32 => 8,
            Self::Cs16 => 4,
            Self::Cu8 => 2,
        }
    }

    /// Decodes whole samples from `bytes`, appending them to `out`; returns how many bytes were
    /// used (a trailing partial sample is left for the next call).
    pub fn decode(self, bytes: &[u8], out: &mut Vec<Complex32>) -> usize {
        let width = self.bytes_per_sample();
        let whole = bytes.len() / width * width;
        out.reserve(whole / width);
        for sample in bytes[..whole].chunks_exact(width) {
            out.push(match self {
                Self::Cf32 => Complex32::new(
                    f32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]),
                    f32::from_le_bytes([sample[4], sample[5], sample[6], sample[7]]),
                ),
                Self::Cs16 => Complex32::new(
                    f32::from(i16::from_le_bytes([sample[0], sample[1]])) / 32768.0,
                    f32::from(i16::from_le_bytes([sample[2], sample[3]])) / 32768.0,
                ),
                Self::Cu8 => Complex32::new(
                    (f32::from(sample[0]) - 127.5) / 127.5,
                    (f32::from(sample[1]) - 127.5) / 127.5,
                ),
            });
        }
        whole
    }

    /// Encodes samples, clipping to the format's range where it has one.
    pub fn encode(self, samples: &[Complex32]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(samples.len() * self.bytes_per_sample());
        for sample in samples {
            for part in [sample.re, sample.im] {
                match self {
                    Self::Cf32 => bytes.extend_from_slice(&part.to_le_bytes()),
                    Self::Cs16 => {
                        let scaled = (part * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                        bytes.extend_from_slice(&scaled.to_le_bytes());
                    }
                    Self::Cu8 => bytes.push((part * 127.5 + 127.5).round().clamp(0.0, 255.0) as u8),
                }
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_within_their_resolution() {
        let samples = vec![
            Complex32::new(0.5, -0.25),
            Complex32::new(-1.0, 0.999),
            Complex32::new(0.0, 0.0),
        ];
        for (format, tolerance) in [
            (SampleFormat::Cf32, 0.0),
            (SampleFormat::Cs16, 1.0 / 32768.0),
            (SampleFormat::Cu8, 1.0 / 127.5),
        ] {
            let bytes = format.encode(&samples);
            assert_eq!(bytes.len(), samples.len() * format.bytes_per_sample());
            let mut decoded = Vec::new();
            assert_eq!(format.decode(&bytes, &mut decoded), bytes.len());
            for (a, b) in samples.iter().zip(&decoded) {
                assert!((a - b).norm() <= tolerance * 1.5, "{format:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn a_partial_trailing_sample_is_left_over() {
        let mut out = Vec::new();
        assert_eq!(SampleFormat::Cf32.decode(&[0u8; 13], &mut out), 8);
        assert_eq!(out.len(), 1);
        assert_eq!("CU8".parse::<SampleFormat>(), Ok(SampleFormat::Cu8));
        assert!("wav".parse::<SampleFormat>().is_err());
    }
}
