//! The data-credit price of forwarding one packet to its route.

/// Bytes bought by one data credit (Helium's `iot_packet_verifier`: one credit per 24 bytes).
pub const BYTES_PER_CREDIT: usize = 24;

/// Data credits that forwarding one packet of `phy_len` bytes costs its payer: one per
/// [`BYTES_PER_CREDIT`] bytes, rounded up, and at least one (an empty packet still costs one).
///
/// The bytes counted are the LoRaWAN PHY payload as the radio received it, MHDR to MIC
/// inclusive ([`crate::Uplink::phy_len`]): no preamble, LoRa header or radio CRC, and no
/// forwarding envelope. Each copy of a packet that a route buys (up to its `max_copies`) is
/// priced on its own.
pub fn credits_for(phy_len: usize) -> u64 {
    let credits = phy_len.div_ceil(BYTES_PER_CREDIT).max(1);
    u64::try_from(credits).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_credit_per_24_bytes_rounded_up_at_least_one() {
        let cases = [
            (0, 1),
            (1, 1),
            (12, 1),
            (23, 1),
            (24, 1),
            (25, 2),
            (48, 2),
            (49, 3),
            (255, 11),
        ];
        for (len, credits) in cases {
            assert_eq!(credits_for(len), credits, "{len} bytes");
        }
    }

    #[test]
    fn never_less_than_the_bytes_need() {
        for len in 0..1000usize {
            let credits = usize::try_from(credits_for(len)).unwrap();
            assert!(credits * BYTES_PER_CREDIT >= len, "{len} bytes");
            assert!(
                credits == 1 || (credits - 1) * BYTES_PER_CREDIT < len,
                "{len} bytes"
            );
        }
    }
}
