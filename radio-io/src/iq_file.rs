//! A radio made of IQ files: receives by demodulating a recording (a file, or a FIFO fed live
//! by an SDR tool such as `rtl_sdr`), transmits by writing each frame's samples to a new file
//! in a directory (for a TX-capable SDR tool to play out). Used for field debugging, replaying
//! captures, and tests.

use crate::{Backend, BackendError, Reception, Transmission, Transmitted};
use radio::demod::{Calibration, Receiver, RxFrame};
use radio::iq::SampleFormat;
use radio::modulator::modulate;
use radio::params::LoraParams;
use radio::Complex32;
use std::collections::VecDeque;
use std::path::PathBuf;
use tokio::io::AsyncReadExt;

/// Bytes read from the recording at a time.
const READ_CHUNK: usize = 1 << 16;

/// Where an [`IqFileBackend`] reads and writes.
#[derive(Debug, Clone)]
pub struct IqFileConfig {
    /// Recording to demodulate; `None` hears nothing.
    pub rx_path: Option<PathBuf>,
    /// Sample format of the recording and of written transmissions.
    pub format: SampleFormat,
    /// Centre frequency of the recording, hertz.
    pub frequency_hz: u64,
    /// Modulation the receiver listens for (sample rate = bandwidth × oversampling).
    pub params: LoraParams,
    /// Time of the recording's first sample, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// Receiver calibration.
    pub calibration: Calibration,
    /// Directory that receives one file per transmission; `None` refuses to transmit.
    pub tx_dir: Option<PathBuf>,
}

/// A radio backed by IQ files.
pub struct IqFileBackend {
    config: IqFileConfig,
    rx: Option<tokio::fs::File>,
    receiver: Receiver,
    buffer: Vec<u8>,
    filled: usize,
    samples: Vec<Complex32>,
    pending: VecDeque<RxFrame>,
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> BackendError {
    move |source| BackendError::Io { context, source }
}

impl IqFileBackend {
    /// Opens the recording (if any) and checks the modulation.
    pub async fn open(config: IqFileConfig) -> Result<Self, BackendError> {
        let receiver = Receiver::new(config.params, config.calibration)?;
        let rx = match &config.rx_path {
            Some(path) => Some(
                tokio::fs::File::open(path)
                    .await
                    .map_err(io_error(format!("opening {}", path.display())))?,
            ),
            None => None,
        };
        Ok(Self {
            config,
            rx,
            receiver,
            buffer: vec![0; READ_CHUNK],
            filled: 0,
            samples: Vec::new(),
            pending: VecDeque::new(),
        })
    }

    fn reception(&self, frame: RxFrame) -> Reception {
        let offset_ns = frame.sample_offset as f64 * 1e9 / self.config.params.sample_rate();
        Reception {
            frequency_hz: self.config.frequency_hz,
            timestamp_ns: self.config.start_ns + offset_ns as u64,
            frame,
        }
    }
}

impl Backend for IqFileBackend {
    async fn transmit(&mut self, transmission: &Transmission) -> Result<Transmitted, BackendError> {
        let Some(dir) = &self.config.tx_dir else {
            return Err(BackendError::Refused(
                "this IQ-file radio has no transmit directory".into(),
            ));
        };
        let samples = modulate(&transmission.params, &transmission.payload)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(
            "tx-{stamp}-{}hz-sf{}.{}",
            transmission.frequency_hz,
            transmission.params.spreading_factor,
            format!("{:?}", self.config.format).to_ascii_lowercase()
        ));
        tokio::fs::write(&path, self.config.format.encode(&samples))
            .await
            .map_err(io_error(format!("writing {}", path.display())))?;
        Ok(Transmitted::as_asked(transmission))
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Ok(Some(self.reception(frame)));
            }
            let Some(file) = self.rx.as_mut() else {
                return Ok(None);
            };
            let read = file
                .read(&mut self.buffer[self.filled..])
                .await
                .map_err(io_error("reading the recording".into()))?;
            if read == 0 {
                self.rx = None;
                self.pending.extend(self.receiver.flush());
                continue;
            }
            self.filled += read;
            self.samples.clear();
            let used = self
                .config
                .format
                .decode(&self.buffer[..self.filled], &mut self.samples);
            self.buffer.copy_within(used..self.filled, 0);
            self.filled -= used;
            self.pending.extend(self.receiver.process(&self.samples));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, rx: Option<PathBuf>, format: SampleFormat) -> IqFileConfig {
        IqFileConfig {
            rx_path: rx,
            format,
            frequency_hz: 904_100_000,
            params: LoraParams::new(8, 125_000),
            start_ns: 1_000_000_000,
            calibration: Calibration::default(),
            tx_dir: Some(dir.to_path_buf()),
        }
    }

    #[tokio::test]
    async fn a_transmitted_frame_is_received_back_from_its_file() {
        let dir = std::env::temp_dir().join(format!("iq-backend-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for format in [SampleFormat::Cf32, SampleFormat::Cs16, SampleFormat::Cu8] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                std::fs::remove_file(entry.unwrap().path()).unwrap();
            }
            let mut transmitter = IqFileBackend::open(config(&dir, None, format))
                .await
                .unwrap();
            assert!(transmitter.receive().await.unwrap().is_none());
            let payload = b"hello from an IQ file".to_vec();
            let transmission = Transmission {
                frequency_hz: 904_100_000,
                params: LoraParams::new(8, 125_000),
                payload: payload.clone(),
                power_dbm: 20.0,
            };
            transmitter.transmit(&transmission).await.unwrap();
            let written = std::fs::read_dir(&dir)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            // Pad the recording with silence on both sides, as a real capture would have.
            let mut recording = format.encode(&vec![Complex32::new(0.0, 0.0); 3000]);
            recording.extend(std::fs::read(&written).unwrap());
            recording.extend(format.encode(&vec![Complex32::new(0.0, 0.0); 3000]));
            std::fs::write(&written, recording).unwrap();

            let mut receiver = IqFileBackend::open(config(&dir, Some(written), format))
                .await
                .unwrap();
            let reception = receiver.receive().await.unwrap().expect("a frame");
            assert_eq!(reception.frame.payload, payload, "{format:?}");
            assert_eq!(reception.frame.crc_ok, Some(true));
            let expected_ns = 1_000_000_000 + 3000 * 8000;
            assert!(
                reception.timestamp_ns.abs_diff(expected_ns) < 2_100_000,
                "{format:?}"
            );
            assert!(receiver.receive().await.unwrap().is_none());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_missing_recording_or_transmit_directory_is_a_clear_error() {
        let dir = std::env::temp_dir();
        let missing = Some(dir.join("no-such-recording.cf32"));
        let error = IqFileBackend::open(config(&dir, missing, SampleFormat::Cf32))
            .await
            .err()
            .unwrap();
        assert!(error.to_string().contains("no-such-recording"));
        let mut silent = config(&dir, None, SampleFormat::Cf32);
        silent.tx_dir = None;
        let mut backend = IqFileBackend::open(silent).await.unwrap();
        let transmission = Transmission {
            frequency_hz: 1,
            params: LoraParams::new(7, 125_000),
            payload: vec![1],
            power_dbm: 0.0,
        };
        assert!(matches!(
            backend.transmit(&transmission).await,
            Err(BackendError::Refused(_))
        ));
    }
}
