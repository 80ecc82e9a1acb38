//! The LoRa physical layer of the coverage network: bit-exact frame coding, a chirp
//! modulator, a streaming receiver, and a simulated RF channel. Signal processing only: no
//! I/O (files, sockets, devices and the tools live in the `radio-io` crate).
//!
//! Modules:
//! - [`params`] — modulation parameters ([`LoraParams`]), the block layout of a frame
//!   ([`params::FrameLayout`]), time on air.
//! - [`coding`] — whitening, header, CRC, Hamming, interleaving, Gray mapping.
//! - [`modulator`] — chirp synthesis of whole frames.
//! - [`demod`] — the streaming [`Receiver`].
//! - [`channelizer`] — polyphase filter bank and the all-channel, all-SF [`channelizer::MultiReceiver`].
//! - [`channel`] — path loss, thermal noise, CFO, delay and AWGN.
//! - [`filter`] — the decimating low-pass filter in front of the receiver.
//! - [`error`] — [`RadioError`].
//! - [`iq`] — IQ file sample formats (cf32, cs16, cu8).

#![warn(missing_docs)]

pub mod channel;
pub mod channelizer;
mod chirp;
pub mod coding;
pub mod demod;
pub mod error;
pub mod filter;
pub mod iq;
pub mod modulator;
pub mod params;

pub use channel::{propagate, ChannelConditions, PathLoss};
pub use demod::{Calibration, Decoding, Receiver, RxFrame, RxStats};
pub use error::RadioError;
pub use modulator::modulate;
pub use num_complex::Complex32;
pub use params::LoraParams;
