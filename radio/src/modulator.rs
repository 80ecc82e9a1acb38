//! LoRa chirp modulator.

use crate::chirp::ChirpGen;
use crate::coding::encode_frame;
use crate::error::RadioError;
use crate::params::LoraParams;
use num_complex::Complex32;

/// The two sync-word symbol values `((sw >> 4) << 3, (sw & 0xF) << 3)`.
pub fn sync_word_symbols(sync_word: u8) -> (u16, u16) {
    (
        u16::from(sync_word >> 4) << 3,
        u16::from(sync_word & 0x0F) << 3,
    )
}

/// Modulates a frame into complex baseband samples at `params.sample_rate()`.
///
/// Layout: `preamble_len` up-chirps, two sync-word up-chirps, 2.25 down-chirps, then the
/// data symbols of [`encode_frame`]. Unit amplitude, continuous phase.
pub fn modulate(params: &LoraParams, payload: &[u8]) -> Result<Vec<Complex32>, RadioError> {
    let symbols = encode_frame(params, payload)?;
    modulate_symbols(params, &symbols)
}

/// Modulates already-encoded data symbol values (preamble, sync word and down-chirps are added).
pub fn modulate_symbols(
    params: &LoraParams,
    symbols: &[u16],
) -> Result<Vec<Complex32>, RadioError> {
    params.validate()?;
    let n = params.chips_per_symbol();
    let os = params.oversampling as usize;
    let sps = n * os;
    let total = (usize::from(params.preamble_len) + 2 + symbols.len()) * sps + 2 * sps + sps / 4;
    let mut out = Vec::with_capacity(total);
    let mut gen = ChirpGen::new(n, os);
    for _ in 0..params.preamble_len {
        gen.upchirp(&mut out, 0);
    }
    let (s1, s2) = sync_word_symbols(params.sync_word);
    let mask = (n - 1) as u16;
    gen.upchirp(&mut out, s1 & mask);
    gen.upchirp(&mut out, s2 & mask);
    gen.downchirp(&mut out, sps);
    gen.downchirp(&mut out, sps);
    gen.downchirp(&mut out, sps / 4);
    for &s in symbols {
        gen.upchirp(&mut out, s & mask);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chirp::base_upchirp;

    #[test]
    fn length_and_amplitude() {
        let p = LoraParams::default();
        let x = modulate(&p, b"abc").expect("modulate");
        let n = 128;
        assert_eq!(x.len(), (8 + 4) * n + n / 4 + p.payload_symbols(3) * n);
        assert!(x.iter().all(|s| (s.norm() - 1.0).abs() < 1e-4));
    }

    #[test]
    fn chip_rate_chirp_matches_reference() {
        let n = 128;
        let mut gen = ChirpGen::new(n, 1);
        let mut v = Vec::new();
        gen.upchirp(&mut v, 0);
        let r = base_upchirp(n);
        for (a, b) in v.iter().zip(&r) {
            assert!((a - b).norm() < 1e-3);
        }
        // symbol s is the base chirp cyclically shifted by s
        let mut v = Vec::new();
        gen.upchirp(&mut v, 5);
        let ph = v[0] / r[5];
        for k in 0..n {
            assert!((v[k] - r[(k + 5) % n] * ph).norm() < 1e-3);
        }
    }

    #[test]
    fn sync_word_values() {
        assert_eq!(sync_word_symbols(0x34), (24, 32));
        assert_eq!(sync_word_symbols(0x12), (8, 16));
    }
}
