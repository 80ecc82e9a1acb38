//! Fuzz target: the explorer API's parameters (`oracle::params`). The first byte picks the
//! reader, the rest is the text as it arrives in a path or a query: a number in a range, an
//! epoch, a hotspot address, a hotspot search text (`oracle::names`). Nothing may panic; what is read must be what was written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oracle::names::{SearchQuery, MAX_QUERY_LEN};
use oracle::params::{parse_address, parse_epoch, parse_number, MAX_NUMBER};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 4 {
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
        2 => {
            if let Ok(query) = SearchQuery::parse(text) {
                assert!(query.as_str().len() <= MAX_QUERY_LEN);
                assert_eq!(query.as_str(), text.trim());
                assert!(query.matches(query.as_str(), ""));
            }
        }
        _ => {
            if let Ok(address) = parse_address(text) {
                assert_eq!(address.to_string(), text);
            }
        }
    }
});
