//! An SDR through SoapySDR (cargo feature `soapysdr`): the device is chosen by an args string
//! (`driver=rtlsdr`, `driver=lime,serial=...`), tuned to the centre of a wideband stream with
//! the configured sample rate and receive gain; a thread reads the stream into the channelizer
//! and demodulators ([`WidebandDecoder`]). Beacons are modulated here and written to the
//! device's transmit stream at the frame's frequency, with the gain that gives the frame's
//! power. When no device matches the args, opening fails with [`SoapyError::NoDevice`], which
//! lists the devices SoapySDR can see.

use crate::wideband::{WidebandConfig, WidebandDecoder};
use crate::{Backend, BackendError, Reception, Transmission, Transmitted};
use radio::modulator::modulate;
use radio::Complex32;
use soapysdr::{Device, Direction, ErrorCode, TxStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Samples read from the device at a time.
const READ_CHUNK: usize = 65_536;
/// How long one read of the stream may wait, microseconds.
const READ_TIMEOUT_US: i64 = 200_000;
/// Consecutive stream errors (other than timeouts and overflows) that end reception.
const MAX_STREAM_ERRORS: u32 = 20;
/// Amplitude of transmitted samples (full scale is 1.0).
const TX_AMPLITUDE: f32 = 0.7;

/// Transmit settings of a [`SoapyBackend`].
#[derive(Debug, Clone, PartialEq)]
pub struct SoapyTxConfig {
    /// Transmit gain (device scale, dB) that gives `reference_dbm` of conducted power.
    pub gain_db: f64,
    /// Conducted power at `gain_db`, dBm.
    pub reference_dbm: f64,
    /// Samples per chip of transmitted frames (tx sample rate = bandwidth × this).
    pub oversampling: u32,
}

/// How to find and set up the SDR.
#[derive(Debug, Clone, PartialEq)]
pub struct SoapyConfig {
    /// SoapySDR device arguments (`driver=...`); empty takes the first device found.
    pub args: String,
    /// The wideband stream: centre frequency, sample rate, channels, spreading factors.
    pub wideband: WidebandConfig,
    /// Receive gain, dB.
    pub rx_gain_db: f64,
    /// Transmit settings; `None` for a receive-only radio.
    pub tx: Option<SoapyTxConfig>,
}

/// Errors of the SoapySDR backend.
#[derive(Debug, thiserror::Error)]
pub enum SoapyError {
    /// No device matches the args.
    #[error("no SoapySDR device matches {args:?} ({message}); devices found: {found}")]
    NoDevice {
        /// The args asked for.
        args: String,
        /// SoapySDR's explanation.
        message: String,
        /// The devices SoapySDR enumerates, or "none".
        found: String,
    },
    /// A device call failed.
    #[error("SoapySDR: {what}: {source}")]
    Device {
        /// What was being done.
        what: String,
        /// The driver's error.
        source: soapysdr::Error,
    },
    /// The configuration asks for something impossible.
    #[error("SoapySDR backend: {0}")]
    Config(String),
}

fn device_error(what: impl Into<String>) -> impl FnOnce(soapysdr::Error) -> SoapyError {
    let what = what.into();
    move |source| SoapyError::Device { what, source }
}

impl From<SoapyError> for BackendError {
    fn from(error: SoapyError) -> Self {
        BackendError::Soapy(error)
    }
}

#[derive(Debug, Default)]
struct Counters {
    samples: AtomicU64,
    frames: AtomicU64,
    dropped: AtomicU64,
    overflows: AtomicU64,
    stream_errors: AtomicU64,
    tx_ok: AtomicU64,
}

struct TxState {
    device: Device,
    config: SoapyTxConfig,
    stream: Option<TxStream<Complex32>>,
}

/// A SoapySDR device as a hotspot radio.
pub struct SoapyBackend {
    receptions: mpsc::Receiver<Result<Reception, String>>,
    tx: Option<Arc<Mutex<TxState>>>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for SoapyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoapyBackend").finish_non_exhaustive()
    }
}

fn open_device(args: &str) -> Result<Device, SoapyError> {
    Device::new(args).map_err(|error| {
        let found = match soapysdr::enumerate("") {
            Ok(devices) if devices.is_empty() => "none".to_string(),
            Ok(devices) => devices
                .iter()
                .map(|device| format!("[{device}]"))
                .collect::<Vec<_>>()
                .join(", "),
            Err(error) => format!("enumeration failed: {error}"),
        };
        SoapyError::NoDevice {
            args: args.to_string(),
            message: error.message,
            found,
        }
    })
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

impl SoapyBackend {
    /// Finds the device, tunes it and starts receiving.
    pub async fn open(config: SoapyConfig) -> Result<Self, BackendError> {
        let decoder = WidebandDecoder::new(config.wideband.clone(), 0)?;
        if let Some(tx) = &config.tx {
            if tx.oversampling == 0 {
                return Err(SoapyError::Config("tx oversampling must be > 0".into()).into());
            }
        }
        let setup = config.clone();
        let (device, stream) = tokio::task::spawn_blocking(move || -> Result<_, SoapyError> {
            let device = open_device(&setup.args)?;
            let rate = f64::from(setup.wideband.sample_rate_hz);
            device
                .set_sample_rate(Direction::Rx, 0, rate)
                .map_err(device_error("setting the rx sample rate"))?;
            device
                .set_frequency(
                    Direction::Rx,
                    0,
                    setup.wideband.center_frequency_hz as f64,
                    "",
                )
                .map_err(device_error("tuning the receiver"))?;
            device
                .set_gain(Direction::Rx, 0, setup.rx_gain_db)
                .map_err(device_error("setting the rx gain"))?;
            let mut stream = device
                .rx_stream::<Complex32>(&[0])
                .map_err(device_error("opening the rx stream"))?;
            stream
                .activate(None)
                .map_err(device_error("starting the rx stream"))?;
            Ok((device, stream))
        })
        .await
        .map_err(|error| SoapyError::Config(format!("device setup task failed: {error}")))??;
        let (sender, receptions) = mpsc::channel(256);
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        {
            let (stop, counters) = (stop.clone(), counters.clone());
            let mut decoder = decoder;
            let mut stream = stream;
            std::thread::Builder::new()
                .name("soapysdr-rx".into())
                .spawn(move || {
                    decoder.set_start_ns(now_ns());
                    let mut buffer = vec![Complex32::new(0.0, 0.0); READ_CHUNK];
                    let mut errors = 0u32;
                    while !stop.load(Ordering::Relaxed) && !sender.is_closed() {
                        match stream.read(&mut [&mut buffer[..]], READ_TIMEOUT_US) {
                            Ok(read) => {
                                errors = 0;
                                let samples = buffer.get(..read).unwrap_or(&[]);
                                counters
                                    .samples
                                    .fetch_add(samples.len() as u64, Ordering::Relaxed);
                                for reception in decoder.process(samples) {
                                    counters.frames.fetch_add(1, Ordering::Relaxed);
                                    if sender.try_send(Ok(reception)).is_err() {
                                        counters.dropped.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                            Err(error) if error.code == ErrorCode::Timeout => {}
                            Err(error) if error.code == ErrorCode::Overflow => {
                                counters.overflows.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!("SoapySDR rx overflow: samples were lost");
                            }
                            Err(error) => {
                                errors += 1;
                                counters.stream_errors.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(%error, "SoapySDR rx stream error");
                                if errors >= MAX_STREAM_ERRORS {
                                    let _ = sender.blocking_send(Err(format!(
                                        "{errors} stream errors in a row, the last: {error}"
                                    )));
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(50));
                            }
                        }
                    }
                    let _ = stream.deactivate(None);
                })
                .map_err(|source| BackendError::Io {
                    context: "starting the SoapySDR rx thread".into(),
                    source,
                })?;
        }
        tracing::info!(args = %config.args, centre_hz = config.wideband.center_frequency_hz,
            rate = config.wideband.sample_rate_hz, "SoapySDR device receiving");
        Ok(Self {
            receptions,
            tx: config.tx.map(|tx| {
                Arc::new(Mutex::new(TxState {
                    device,
                    config: tx,
                    stream: None,
                }))
            }),
            stop,
            counters,
        })
    }
}

impl Drop for SoapyBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn send_frame(state: &mut TxState, transmission: &Transmission) -> Result<(), BackendError> {
    let oversampling = state.config.oversampling;
    let params = radio::params::LoraParams {
        oversampling,
        ..transmission.params
    };
    let samples: Vec<Complex32> = modulate(&params, &transmission.payload)?
        .into_iter()
        .map(|sample| sample * TX_AMPLITUDE)
        .collect();
    let device = &state.device;
    let range = device
        .gain_range(Direction::Tx, 0)
        .map_err(device_error("reading the tx gain range"))?;
    let gain =
        state.config.gain_db + f64::from(transmission.power_dbm) - state.config.reference_dbm;
    if gain < range.minimum {
        return Err(BackendError::Refused(format!(
            "{} dBm needs tx gain {gain:.1} dB, below the device's {:.1} dB",
            transmission.power_dbm, range.minimum
        )));
    }
    // Less power than asked is within the rules; more never is.
    let gain = gain.min(range.maximum);
    device
        .set_sample_rate(Direction::Tx, 0, params.sample_rate())
        .map_err(device_error("setting the tx sample rate"))?;
    device
        .set_frequency(Direction::Tx, 0, transmission.frequency_hz as f64, "")
        .map_err(device_error("tuning the transmitter"))?;
    device
        .set_gain(Direction::Tx, 0, gain)
        .map_err(device_error("setting the tx gain"))?;
    if state.stream.is_none() {
        let mut stream = device
            .tx_stream::<Complex32>(&[0])
            .map_err(device_error("opening the tx stream"))?;
        stream
            .activate(None)
            .map_err(device_error("starting the tx stream"))?;
        state.stream = Some(stream);
    }
    let Some(stream) = state.stream.as_mut() else {
        return Err(SoapyError::Config("no tx stream".into()).into());
    };
    let timeout_us = (transmission
        .params
        .time_on_air(transmission.payload.len())
        .as_micros() as i64)
        .saturating_add(1_000_000);
    stream
        .write_all(&[&samples[..]], None, true, timeout_us)
        .map_err(device_error("writing the frame"))?;
    Ok(())
}

impl Backend for SoapyBackend {
    async fn transmit(&mut self, transmission: &Transmission) -> Result<Transmitted, BackendError> {
        let Some(tx) = self.tx.clone() else {
            return Err(BackendError::Refused(
                "this SDR is set up receive-only".into(),
            ));
        };
        let transmission = transmission.clone();
        let counters = self.counters.clone();
        tokio::task::spawn_blocking(move || {
            let mut state = tx.lock().unwrap_or_else(PoisonError::into_inner);
            send_frame(&mut state, &transmission)?;
            counters.tx_ok.fetch_add(1, Ordering::Relaxed);
            Ok(Transmitted::as_asked(&transmission))
        })
        .await
        .map_err(|error| SoapyError::Config(format!("transmit task failed: {error}")))?
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        match self.receptions.recv().await {
            Some(Ok(reception)) => Ok(Some(reception)),
            Some(Err(error)) => Err(BackendError::Io {
                context: "SoapySDR rx stream".into(),
                source: std::io::Error::other(error),
            }),
            None => Ok(None),
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counters;
        [
            ("sdr_samples", &c.samples),
            ("sdr_frames", &c.frames),
            ("sdr_dropped", &c.dropped),
            ("sdr_overflows", &c.overflows),
            ("sdr_stream_errors", &c.stream_errors),
            ("sdr_tx_ok", &c.tx_ok),
        ]
        .into_iter()
        .map(|(name, value)| (name, value.load(Ordering::Relaxed)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_matching_device_is_a_clear_error() {
        let config = SoapyConfig {
            args: "driver=no-such-sdr".into(),
            wideband: WidebandConfig::eight_channels(904_600_000),
            rx_gain_db: 30.0,
            tx: None,
        };
        let error = SoapyBackend::open(config).await.unwrap_err();
        let text = error.to_string();
        assert!(
            matches!(error, BackendError::Soapy(SoapyError::NoDevice { .. })),
            "{text}"
        );
        assert!(text.contains("driver=no-such-sdr"), "{text}");
        assert!(text.contains("devices found"), "{text}");
    }

    #[tokio::test]
    async fn an_impossible_channel_plan_is_refused_before_any_device_is_touched() {
        let mut wideband = WidebandConfig::eight_channels(904_600_000);
        wideband.sample_rate_hz = 1_000_000;
        wideband.channel_spacing_hz = 300_000;
        let config = SoapyConfig {
            args: "driver=no-such-sdr".into(),
            wideband,
            rx_gain_db: 30.0,
            tx: None,
        };
        let error = SoapyBackend::open(config).await.unwrap_err();
        assert!(matches!(error, BackendError::Radio(_)), "{error}");
    }
}
