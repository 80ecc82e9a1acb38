//! Fuzz target: the explorer API's parameters (`oracle::params`). The first byte picks the
//! reader, the rest is the text as it arrives in a path or a query: a number in a range, an
//! epoch, a hotspot address. Nothing may panic; what is read must be what was written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oracle::params::{parse_address, parse_epoch, parse_number, MAX_NUMBER};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 3 {
        0 => {
            if let Ok(n) = parse_number("limit", text, 1, 1000) {
                assert!((1..=1000).contains(&n));
                assert_eq!(text.trim_start_matches('0'), n.to_string());
            }
        }
        1 => {
            if let Ok(n) = parse_epoch(text) {
                assert!(n <= MAX_NUMBER);
                assert!(text.bytes().all(|b| b.is_ascii_digit()));
                assert_eq!(text.parse::<u64>().ok(), Some(n));
            }
        }
        _ => {
            if let Ok(address) = parse_address(text) {
                assert_eq!(address.to_string(), text);
            }
        }
    }
});
