//! Errors of the radio crate.

use thiserror::Error;

/// Everything that can go wrong when configuring or using the PHY.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RadioError {
    /// Spreading factor outside the supported range (7..=12).
    #[error("unsupported spreading factor {0} (supported: 7..=12)")]
    InvalidSpreadingFactor(u8),
    /// Bandwidth of zero or above 2 MHz.
    #[error("invalid bandwidth {0} Hz")]
    InvalidBandwidth(u32),
    /// Coding rate outside 1..=4 (4/5..4/8).
    #[error("invalid coding rate {0} (expected 1..=4 meaning 4/5..4/8)")]
    InvalidCodingRate(u8),
    /// Preamble shorter than 6 or longer than 65535 symbols.
    #[error("invalid preamble length {0} (expected >= 6)")]
    InvalidPreambleLength(u16),
    /// Oversampling factor outside 1..=64.
    #[error("invalid oversampling factor {0} (expected 1..=64)")]
    InvalidOversampling(u32),
    /// Payload longer than the 255 bytes an explicit header can describe.
    #[error("payload of {0} bytes is too long (max 255)")]
    PayloadTooLong(usize),
    /// A feature that is not implemented yet (e.g. implicit-header reception).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// Not enough symbols were given to decode a frame.
    #[error("frame truncated: need {needed} symbols, got {got}")]
    Truncated {
        /// Symbols needed.
        needed: usize,
        /// Symbols available.
        got: usize,
    },
    /// The explicit header failed its checksum or carries impossible values.
    #[error("invalid explicit header")]
    InvalidHeader,
}
