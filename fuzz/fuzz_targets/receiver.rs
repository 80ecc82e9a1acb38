//! Fuzz target: arbitrary bytes as IQ samples in every format → `Receiver` (hard and soft, a
//! few parameter sets), and as chirp values / LLRs → the frame decoders. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radio::coding::{decode_frame, decode_header_symbols, decode_payload_symbols, Header, Symbols};
use radio::iq::SampleFormat;
use radio::{Calibration, Decoding, LoraParams, Receiver};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let sf = 7 + selector % 6;
    let params = LoraParams {
        oversampling: 1 + u32::from(selector >> 6),
        explicit_header: selector & 0x20 == 0,
        implicit_payload_len: selector,
        coding_rate: 1 + (selector >> 3) % 4,
        ..LoraParams::new(sf, 125_000)
    };
    for format in [SampleFormat::Cf32, SampleFormat::Cs16, SampleFormat::Cu8] {
        let mut samples = Vec::new();
        format.decode(rest, &mut samples);
        for decoding in [Decoding::Hard, Decoding::Soft] {
            if let Ok(rx) = Receiver::new(params, Calibration::default()) {
                let mut rx = rx.with_decoding(decoding);
                let split = samples.len() / 3;
                for frame in rx
                    .process(&samples[..split])
                    .into_iter()
                    .chain(rx.process(&samples[split..]))
                    .chain(rx.flush())
                {
                    assert!(frame.payload.len() <= 255);
                }
            }
        }
    }
    // Coding on arbitrary bins and LLRs.
    let bins: Vec<u16> = rest
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let _ = decode_frame(&params, &bins);
    let llrs: Vec<Vec<f32>> = rest
        .chunks(usize::from(sf))
        .map(|c| c.iter().map(|&b| f32::from(b as i8)).collect())
        .collect();
    let soft = Symbols::Soft(&llrs);
    let _ = decode_header_symbols(&soft, sf);
    let header = Header {
        payload_len: usize::from(selector),
        coding_rate: 1 + selector % 4,
        has_crc: selector & 1 == 1,
    };
    let _ = decode_payload_symbols(
        &soft,
        sf,
        selector & 2 == 2,
        selector & 4 == 4,
        false,
        &header,
    );
});
