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
/// Layout: `preamble_len` up-chirps, two sync-word up-chirps, 2.25 down-chirps, two
/// up-chirps of value 0 for SX126x-format SF5/SF6 frames, then the data symbols of
/// [`encode_frame`]. Unit amplitude, continuous phase.
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
    let zeros = params.zero_symbols_after_sync();
    let total =
        (usize::from(params.preamble_len) + 2 + zeros + symbols.len()) * sps + 2 * sps + sps / 4;
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
    for _ in 0..zeros {
        gen.upchirp(&mut out, 0);
    }
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
    fn sx126x_sf5_sf6_have_two_zero_symbols_after_the_down_chirps() {
        for sf in [5u8, 6] {
            let p = LoraParams::new(sf, 125_000);
            let n = 1usize << sf;
            let x = modulate(&p, b"abc").expect("modulate");
            assert_eq!(x.len(), (8 + 4 + 2) * n + n / 4 + p.payload_symbols(3) * n);
            // the two symbols after the down-chirps dechirp to bin 0, like the preamble
            let start = 12 * n + n / 4;
            let r = base_upchirp(n);
            for k in 0..2 {
                let w = &x[start + k * n..start + (k + 1) * n];
                let dc: num_complex::Complex32 = w.iter().zip(&r).map(|(a, b)| a * b.conj()).sum();
                assert!(
                    dc.norm() > 0.99 * n as f32,
                    "sf {sf} symbol {k}: {}",
                    dc.norm()
                );
            }
            let legacy = LoraParams {
                legacy_sf5_sf6: true,
                explicit_header: false,
                implicit_payload_len: 3,
                ..p
            };
            let y = modulate(&legacy, b"abc").expect("modulate");
            assert_eq!(y.len(), (8 + 4) * n + n / 4 + legacy.payload_symbols(3) * n);
        }
    }

    #[test]
    fn sync_word_values() {
        assert_eq!(sync_word_symbols(0x34), (24, 32));
        assert_eq!(sync_word_symbols(0x12), (8, 16));
    }
}
