//! The one reading of the explorer API's parameters: numbers (epochs, page sizes, offsets,
//! resolutions) and hotspot addresses, the same on every route, each refusal with its reason.

/// Fewest characters of an address: base58 of 37 bytes starting with the version byte 1.
pub const ADDRESS_MIN_LEN: usize = 50;
/// Most characters of an address.
pub const ADDRESS_MAX_LEN: usize = 51;
/// The largest number any parameter takes: the store keeps numbers as signed 64-bit integers.
pub const MAX_NUMBER: u64 = i64::MAX as u64;
/// The longest run of digits read (`MAX_NUMBER` has 19); a longer one is out of range.
const MAX_DIGITS: usize = 20;
/// How much of a refused value an error message quotes.
const SHOWN: usize = 32;

/// Why a parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A number with nothing in it.
    #[error("{name}: empty; expected decimal digits")]
    Empty {
        /// The parameter.
        name: &'static str,
    },
    /// A number with something other than the digits 0–9 (a sign, a `+`, a point, a space).
    #[error(
        "{name}: {shown:?} is not a number: {found:?} at byte {at}; expected decimal digits only"
    )]
    NotDigits {
        /// The parameter.
        name: &'static str,
        /// The start of the value.
        shown: String,
        /// The first character that is not a digit.
        found: char,
        /// Its byte offset.
        at: usize,
    },
    /// A number outside the parameter's range.
    #[error("{name}: {shown} is out of range; expected {min} to {max}")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// The start of the value.
        shown: String,
        /// The least value taken.
        min: u64,
        /// The greatest value taken.
        max: u64,
    },
    /// Not a hotspot address.
    #[error("{shown:?} is not a hotspot address (base58 of 37 bytes: version 1, ed25519 key, checksum): {reason}")]
    Address {
        /// The start of the value.
        shown: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn shown(text: &str) -> String {
    text.chars().take(SHOWN).collect()
}

/// Reads a parameter `name` as a decimal number in `min..=max`: ASCII digits only (no sign,
/// no `+`, no spaces), at most [`MAX_NUMBER`].
pub fn parse_number(name: &'static str, text: &str, min: u64, max: u64) -> Result<u64, ParamError> {
    if text.is_empty() {
        return Err(ParamError::Empty { name });
    }
    if let Some((at, found)) = text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(ParamError::NotDigits {
            name,
            shown: shown(text),
            found,
            at,
        });
    }
    let out_of_range = || ParamError::OutOfRange {
        name,
        shown: shown(text),
        min,
        max: max.min(MAX_NUMBER),
    };
    let digits = text.trim_start_matches('0');
    if digits.len() > MAX_DIGITS {
        return Err(out_of_range());
    }
    let value: u64 = match digits {
        "" => 0,
        digits => digits.parse().map_err(|_| out_of_range())?,
    };
    if value < min || value > max || value > MAX_NUMBER {
        return Err(out_of_range());
    }
    Ok(value)
}

/// Reads an epoch number: [`parse_number`] over `0..=`[`MAX_NUMBER`].
pub fn parse_epoch(text: &str) -> Result<u64, ParamError> {
    parse_number("epoch", text, 0, MAX_NUMBER)
}

/// Reads a hotspot address: base58 of 37 bytes (version byte 1, the ed25519 public key, a
/// four-byte checksum), [`ADDRESS_MIN_LEN`] to [`ADDRESS_MAX_LEN`] characters. The length is
/// checked before decoding, so a long value costs nothing.
pub fn parse_address(text: &str) -> Result<poc::Address, ParamError> {
    let refuse = |reason: String| ParamError::Address {
        shown: shown(text),
        reason,
    };
    let len = text.len();
    if !(ADDRESS_MIN_LEN..=ADDRESS_MAX_LEN).contains(&len) {
        return Err(refuse(format!(
            "{len} characters, expected {ADDRESS_MIN_LEN} or {ADDRESS_MAX_LEN}"
        )));
    }
    text.parse()
        .map_err(|e: poc::KeyError| refuse(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_is_read_back_exactly_or_refused(text in "\\PC{0,60}") {
            if let Ok(n) = parse_epoch(&text) {
                prop_assert!(text.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(text.parse::<u64>().ok(), Some(n));
            }
            if let Ok(address) = parse_address(&text) {
                prop_assert_eq!(address.to_string(), text);
            }
        }

        #[test]
        fn every_number_in_range_is_read(n in 0..=MAX_NUMBER, zeros in 0usize..3) {
            let text = format!("{}{n}", "0".repeat(zeros));
            prop_assert_eq!(parse_epoch(&text), Ok(n));
            let signed = format!("+{n}");
            prop_assert!(parse_epoch(&signed).is_err());
        }
    }

    #[test]
    fn numbers_are_digits_only_and_range_checked() {
        assert_eq!(parse_epoch("20455"), Ok(20455));
        assert_eq!(parse_epoch("0"), Ok(0));
        assert_eq!(parse_epoch("007"), Ok(7));
        assert_eq!(parse_epoch("9223372036854775807"), Ok(MAX_NUMBER));
        for bad in ["+20455", "-1", "1.5", " 1", "1 ", "0x10", "١٢"] {
            assert!(
                matches!(parse_epoch(bad), Err(ParamError::NotDigits { .. })),
                "{bad}"
            );
        }
        assert_eq!(parse_epoch(""), Err(ParamError::Empty { name: "epoch" }));
        for big in [
            "9223372036854775808",
            "18446744073709551616",
            "99999999999999999999999999999999999999",
        ] {
            assert!(
                matches!(parse_epoch(big), Err(ParamError::OutOfRange { .. })),
                "{big}"
            );
        }
        assert!(parse_number("limit", "0", 1, 1000).is_err());
        assert!(parse_number("limit", "1001", 1, 1000).is_err());
        assert_eq!(parse_number("limit", "1000", 1, 1000), Ok(1000));
        let message = parse_epoch("+20455").unwrap_err().to_string();
        assert!(message.contains("'+' at byte 0"), "{message}");
    }

    #[test]
    fn addresses_are_base58_of_37_bytes_with_the_reason_for_a_refusal() {
        let address = poc::Keypair::from_seed(1, 2).address();
        let text = address.to_string();
        assert!((ADDRESS_MIN_LEN..=ADDRESS_MAX_LEN).contains(&text.len()));
        assert_eq!(parse_address(&text), Ok(address));
        let reason = |text: &str| match parse_address(text) {
            Err(ParamError::Address { reason, .. }) => reason,
            other => panic!("{text}: {other:?}"),
        };
        assert!(reason("abc").contains("3 characters"));
        assert!(reason(&"1".repeat(5000)).contains("5000 characters"));
        let with_l = format!("l{}", &text[1..]);
        assert!(
            reason(&with_l).contains("invalid character"),
            "{}",
            reason(&with_l)
        );
        let mut changed: Vec<char> = text.chars().collect();
        changed[20] = if changed[20] == 'a' { 'b' } else { 'a' };
        let changed: String = changed.into_iter().collect();
        assert!(
            reason(&changed).contains("checksum"),
            "{}",
            reason(&changed)
        );
    }
}
