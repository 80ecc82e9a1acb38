//! Fuzz target: LoRa frame coding. Arbitrary parameters and payloads must encode and decode
//! back to themselves; arbitrary chirp values and header nibbles must decode (or be refused)
//! without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radio::coding::{
    decode_frame, deinterleave_block, encode_frame, hamming_decode, parse_header, Header,
};
use radio::LoraParams;

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let sf = 5 + a % 8;
    let params = LoraParams {
        coding_rate: 1 + (a >> 3) % 4,
        explicit_header: a & 0x20 == 0 || sf < 7,
        crc: a & 0x40 != 0,
        low_data_rate: match b % 3 {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        },
        implicit_payload_len: rest.len().min(255) as u8,
        legacy_sf5_sf6: b & 0x80 != 0,
        ..LoraParams::new(sf, [125_000, 250_000, 500_000][usize::from(b >> 2) % 3])
    };

    // Round trip: what is encoded decodes to the same payload with a good CRC.
    if let Ok(bins) = encode_frame(&params, rest) {
        let max = 1u32 << sf;
        assert!(
            bins.iter().all(|&v| u32::from(v) < max),
            "chirp value out of range"
        );
        let (header, decoded) = decode_frame(&params, &bins).expect("own frame decodes");
        assert_eq!(header.payload_len, rest.len());
        assert_eq!(decoded.payload, rest);
        if params.crc {
            assert_eq!(decoded.crc_ok, Some(true));
        }
    }

    // Arbitrary chirp values.
    let bins: Vec<u16> = rest
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    if let Ok((header, decoded)) = decode_frame(&params, &bins) {
        assert!(header.payload_len <= 255);
        assert!(decoded.payload.len() <= 255);
    }

    // Header nibbles, codewords and interleaver blocks of any shape.
    let nibbles: Vec<u8> = rest.iter().map(|x| x & 0x0f).collect();
    if let Some(Header { payload_len, .. }) = parse_header(&nibbles) {
        assert!(payload_len <= 255);
    }
    let _ = parse_header(rest);
    for &x in rest.iter().take(16) {
        let decoded = hamming_decode(x, 1 + x % 4);
        assert!(decoded.nibble < 16);
    }
    let cw_len = 4 + usize::from(a % 5);
    let sf_app = usize::from(b % 13);
    let symbols: Vec<u16> = bins.iter().take(cw_len).copied().collect();
    let _ = deinterleave_block(&symbols, cw_len, sf_app);
});
