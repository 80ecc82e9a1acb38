//! A LoRa module on a serial port, in point-to-point mode, driven by the RAKwireless RUI3 AT
//! command set (RAK3172 and other STM32WL / SX126x modules):
//!
//! - set up with `AT+NWM=0` (P2P mode),
//!   `AT+P2P=<frequency Hz>:<SF>:<bandwidth kHz>:<coding rate 0-3>:<preamble>:<power dBm>`
//!   and `AT+SYNCWORD=<4 hex digits>`: the sync word of the modulation (public 0x34 for
//!   beacons) in the SX126x register form, `0x3444` for 0x34 ([`sx126x_sync_word`]). A module
//!   whose firmware lacks the command (`AT_COMMAND_NOT_FOUND`) keeps its own sync word, with a
//!   warning (once), since frames with another sync word never reach the backend;
//! - listens with `AT+PRECV=65534` (receive until told otherwise) and turns each
//!   `+EVT:RXP2P:<rssi>:<snr>:<hex payload>` line into a [`Reception`];
//! - transmits by stopping reception (`AT+PRECV=0`), setting the frame's parameters, sending
//!   `AT+PSEND=<hex>` (answered `OK`, then `+EVT:TXP2P DONE` once the frame is on air) and
//!   going back to listening.
//!
//! Every command waits for its status line: `OK`, or an error such as `AT_ERROR`,
//! `AT_PARAM_ERROR` or `AT_BUSY_ERROR` ([`ModuleStatus`]), or a timeout. The blocking serial
//! I/O runs on its own thread; the async side talks to it through channels, so
//! [`Backend::receive`] is cancel-safe. Lines the backend does not understand and bytes that
//! are not text are logged, counted and skipped.

use crate::{Backend, BackendError, Reception, Transmission, Transmitted};
use radio::demod::RxFrame;
use radio::params::LoraParams;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// How long the I/O thread blocks in one read of the port before looking for commands.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// A line longer than this is garbage (RXP2P of a 255-byte frame is about 530 characters).
const MAX_LINE: usize = 1024;
/// Receptions waiting for the daemon; more are dropped (and counted) rather than blocking the
/// port.
const RECEPTION_QUEUE: usize = 256;
/// Lowest and highest transmit power the RUI3 P2P command accepts, dBm.
const MIN_POWER_DBM: i32 = 5;
const MAX_POWER_DBM: i32 = 22;
/// Times the first `AT` is tried while the module wakes up (or restarts after `AT+NWM=0`).
const READY_ATTEMPTS: usize = 5;

/// How to reach and set up the module.
#[derive(Debug, Clone)]
pub struct SerialConfig {
    /// Serial device, e.g. `/dev/ttyUSB0`.
    pub device: PathBuf,
    /// Baud rate (RUI3 default: 115200).
    pub baud: u32,
    /// Frequency the module listens on between transmissions, hertz.
    pub frequency_hz: u64,
    /// Modulation it listens for (spreading factor, bandwidth, coding rate, preamble).
    pub params: LoraParams,
    /// How long a command may take to be answered.
    pub command_timeout: Duration,
}

impl SerialConfig {
    /// A configuration with the RUI3 defaults (115200 baud, 2 s command timeout).
    pub fn new(device: impl Into<PathBuf>, frequency_hz: u64, params: LoraParams) -> Self {
        Self {
            device: device.into(),
            baud: 115_200,
            frequency_hz,
            params,
            command_timeout: Duration::from_secs(2),
        }
    }
}

/// A status line by which the module refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleStatus {
    /// `AT_ERROR`: generic error or command not supported now.
    Error,
    /// `AT_PARAM_ERROR`: a parameter is wrong.
    ParamError,
    /// `AT_BUSY_ERROR`: the radio is busy (e.g. still receiving).
    BusyError,
    /// `AT_COMMAND_NOT_FOUND`: the firmware does not know the command.
    CommandNotFound,
    /// Any other `AT_...` status.
    Other(String),
}

impl ModuleStatus {
    fn parse(line: &str) -> Self {
        match line {
            "AT_ERROR" => Self::Error,
            "AT_PARAM_ERROR" => Self::ParamError,
            "AT_BUSY_ERROR" => Self::BusyError,
            "AT_COMMAND_NOT_FOUND" => Self::CommandNotFound,
            other => Self::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for ModuleStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Error => "AT_ERROR",
            Self::ParamError => "AT_PARAM_ERROR",
            Self::BusyError => "AT_BUSY_ERROR",
            Self::CommandNotFound => "AT_COMMAND_NOT_FOUND",
            Self::Other(other) => other,
        })
    }
}

/// Errors of the serial module backend.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    /// The serial device could not be opened.
    #[error("opening serial port {path}: {source}")]
    Open {
        /// The device.
        path: String,
        /// Why.
        source: serialport::Error,
    },
    /// Reading or writing the port failed.
    #[error("serial port {path}: {source}")]
    Io {
        /// The device.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The module answered a command with an error status.
    #[error("the LoRa module answered {status} to {command}")]
    Module {
        /// The command sent.
        command: String,
        /// Its answer.
        status: ModuleStatus,
    },
    /// The module did not answer in time.
    #[error("the LoRa module did not answer {command} within {timeout:?}")]
    Timeout {
        /// The command sent (or the event awaited).
        command: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The frame cannot be sent by this module (modulation or power outside what it can do).
    #[error("the LoRa module cannot send this frame: {0}")]
    Unsupported(String),
    /// The port's I/O thread has stopped (the port failed earlier; see the logs).
    #[error("the serial port thread has stopped")]
    Stopped,
}

/// Counters of the backend's events.
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    dropped: AtomicU64,
    garbage: AtomicU64,
    tx_ok: AtomicU64,
    tx_failed: AtomicU64,
    module_errors: AtomicU64,
    timeouts: AtomicU64,
}

/// One line from the module, classified.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    /// Nothing (the blank lines around status codes).
    Empty,
    /// `OK`.
    Ok,
    /// `AT_...` error status.
    Status(ModuleStatus),
    /// `+EVT:RXP2P:<rssi>:<snr>:<hex>`.
    Received {
        rssi_dbm: f32,
        snr_db: f32,
        payload: Vec<u8>,
    },
    /// `+EVT:TXP2P DONE`.
    TxDone,
    /// The module echoing a command, or an information line (`Current Work Mode: ...`).
    Info(String),
    /// A line that should have meant something but did not parse.
    Malformed(String),
}

fn parse_line(line: &str) -> Line {
    let line = line.trim();
    if line.is_empty() {
        return Line::Empty;
    }
    if line == "OK" {
        return Line::Ok;
    }
    if line.starts_with("AT_") {
        return Line::Status(ModuleStatus::parse(line));
    }
    if let Some(rest) = line.strip_prefix("+EVT:RXP2P") {
        return parse_reception(rest).unwrap_or_else(|| Line::Malformed(line.to_string()));
    }
    if line.starts_with("+EVT:TXP2P") {
        return if line.ends_with("DONE") {
            Line::TxDone
        } else {
            Line::Malformed(line.to_string())
        };
    }
    if line.starts_with("AT") || line.starts_with('+') || line.is_ascii() {
        return Line::Info(line.to_string());
    }
    Line::Malformed(line.to_string())
}

fn parse_reception(rest: &str) -> Option<Line> {
    let mut fields = rest.strip_prefix(':')?.splitn(3, ':');
    let rssi_dbm: f32 = fields.next()?.trim().parse().ok()?;
    let snr_db: f32 = fields.next()?.trim().parse().ok()?;
    let hex = fields.next()?.trim();
    if !rssi_dbm.is_finite() || !snr_db.is_finite() {
        return None;
    }
    Some(Line::Received {
        rssi_dbm,
        snr_db,
        payload: decode_hex(hex)?,
    })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 || hex.len() > 2 * 255 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

/// The `AT+P2P=` arguments of a modulation at a frequency and power.
fn p2p_arguments(
    frequency_hz: u64,
    params: &LoraParams,
    power_dbm: i32,
) -> Result<String, SerialError> {
    let bandwidth_khz = match params.bandwidth_hz {
        125_000 => 125,
        250_000 => 250,
        500_000 => 500,
        other => {
            return Err(SerialError::Unsupported(format!(
                "bandwidth {other} Hz (125, 250 or 500 kHz)"
            )))
        }
    };
    if !(5..=12).contains(&params.spreading_factor) {
        return Err(SerialError::Unsupported(format!(
            "spreading factor {}",
            params.spreading_factor
        )));
    }
    if !(1..=4).contains(&params.coding_rate) {
        return Err(SerialError::Unsupported(format!(
            "coding rate 4/{}",
            params.coding_rate + 4
        )));
    }
    if !params.explicit_header || !params.crc {
        return Err(SerialError::Unsupported(
            "implicit header or no CRC (P2P frames always carry both)".into(),
        ));
    }
    if params.preamble_len < 2 {
        return Err(SerialError::Unsupported(format!(
            "preamble of {} symbols",
            params.preamble_len
        )));
    }
    Ok(format!(
        "{frequency_hz}:{}:{bandwidth_khz}:{}:{}:{power_dbm}",
        params.spreading_factor,
        params.coding_rate - 1,
        params.preamble_len
    ))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

/// What the async side asks of the I/O thread.
enum Request {
    Transmit(
        Transmission,
        oneshot::Sender<Result<Transmitted, SerialError>>,
    ),
}

/// The I/O thread: owns the port.
struct Worker {
    port: Box<dyn serialport::SerialPort>,
    config: SerialConfig,
    buffer: Vec<u8>,
    /// Complete lines read but not handled yet.
    lines: std::collections::VecDeque<String>,
    receptions: mpsc::Sender<Reception>,
    counters: Arc<Counters>,
    listening: bool,
    /// False once the firmware answered that it has no `AT+SYNCWORD`.
    sync_word_settable: bool,
}

/// The SX126x register form of a LoRa sync word, which `AT+SYNCWORD` takes: each nibble
/// followed by 4 (0x34, public, is 0x3444; 0x12, private, is 0x1424).
pub fn sx126x_sync_word(sync_word: u8) -> u16 {
    let high = u16::from(sync_word >> 4);
    let low = u16::from(sync_word & 0x0f);
    (high << 12) | (4 << 8) | (low << 4) | 4
}

impl Worker {
    fn io_error(&self, source: std::io::Error) -> SerialError {
        SerialError::Io {
            path: self.config.device.display().to_string(),
            source,
        }
    }

    /// Reads what the port has (waiting up to the port timeout) and returns the complete lines.
    fn read_lines(&mut self) -> Result<Vec<String>, SerialError> {
        let mut chunk = [0u8; 512];
        match self.port.read(&mut chunk) {
            Ok(0) => {}
            Ok(read) => self.buffer.extend_from_slice(&chunk[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(error) => return Err(self.io_error(error)),
        }
        let mut lines = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&byte| byte == b'\n') {
            let raw: Vec<u8> = self.buffer.drain(..=end).collect();
            match std::str::from_utf8(&raw) {
                Ok(text) if !text.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
                    lines.push(text.trim().to_string())
                }
                _ => {
                    self.counters.garbage.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        bytes = raw.len(),
                        line = %String::from_utf8_lossy(&raw).trim(),
                        "serial module: skipped a line that is not text"
                    );
                }
            }
        }
        if self.buffer.len() > MAX_LINE {
            self.counters.garbage.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                bytes = self.buffer.len(),
                "serial module: skipped bytes without a line end"
            );
            self.buffer.clear();
        }
        Ok(lines)
    }

    /// Handles a line that is not the answer being waited for; returns it classified.
    fn dispatch(&mut self, text: &str) -> Line {
        let line = parse_line(text);
        match &line {
            Line::Received {
                rssi_dbm,
                snr_db,
                payload,
            } => self.deliver(*rssi_dbm, *snr_db, payload.clone()),
            Line::Malformed(text) => {
                self.counters.garbage.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(line = %text, "serial module: malformed line skipped");
            }
            Line::Info(text) => tracing::debug!(line = %text, "serial module"),
            Line::Ok | Line::Status(_) | Line::TxDone | Line::Empty => {}
        }
        line
    }

    fn deliver(&mut self, rssi_dbm: f32, snr_db: f32, payload: Vec<u8>) {
        let params = self.config.params;
        let air_ns = params.time_on_air(payload.len()).as_nanos() as u64;
        let reception = Reception {
            frame: RxFrame {
                crc_ok: Some(true),
                spreading_factor: params.spreading_factor,
                bandwidth_hz: params.bandwidth_hz,
                coding_rate: params.coding_rate,
                snr_db,
                rssi_dbm,
                cfo_hz: 0.0,
                sample_offset: 0,
                payload,
            },
            frequency_hz: self.config.frequency_hz,
            timestamp_ns: now_ns().saturating_sub(air_ns),
        };
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        if self.receptions.try_send(reception).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("serial module: reception queue full, frame dropped");
        }
    }

    /// Waits until a line satisfies `done` (returning its answer) or `timeout` passes; other
    /// lines are dispatched meanwhile.
    fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&Line) -> Option<Result<(), ModuleStatus>>,
    ) -> Result<(), SerialError> {
        let deadline = Instant::now() + timeout;
        loop {
            let fresh = self.read_lines()?;
            self.lines.extend(fresh);
            while let Some(text) = self.lines.pop_front() {
                let line = self.dispatch(&text);
                if let Some(answer) = done(&line) {
                    return answer.map_err(|status| {
                        self.counters.module_errors.fetch_add(1, Ordering::Relaxed);
                        SerialError::Module {
                            command: what.to_string(),
                            status,
                        }
                    });
                }
            }
            if Instant::now() >= deadline {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(SerialError::Timeout {
                    command: what.to_string(),
                    timeout,
                });
            }
        }
    }

    /// Sends one command and waits for its status line.
    fn command(&mut self, command: &str) -> Result<(), SerialError> {
        tracing::debug!(command, "serial module <-");
        self.port
            .write_all(format!("{command}\r\n").as_bytes())
            .and_then(|()| self.port.flush())
            .map_err(|error| self.io_error(error))?;
        let timeout = self.config.command_timeout;
        self.wait_for(command, timeout, |line| match line {
            Line::Ok => Some(Ok(())),
            Line::Status(status) => Some(Err(status.clone())),
            _ => None,
        })
    }

    fn wait_ready(&mut self) -> Result<(), SerialError> {
        let mut last = None;
        for _ in 0..READY_ATTEMPTS {
            match self.command("AT") {
                Ok(()) => return Ok(()),
                Err(error @ SerialError::Timeout { .. }) => last = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last.unwrap_or(SerialError::Stopped))
    }

    /// Sets the module's sync word after each `AT+P2P` (whether that resets it is not
    /// documented), unless the firmware cannot.
    fn set_sync_word(&mut self, sync_word: u8) -> Result<(), SerialError> {
        if !self.sync_word_settable {
            return Ok(());
        }
        let command = format!("AT+SYNCWORD={:04X}", sx126x_sync_word(sync_word));
        match self.command(&command) {
            Ok(()) => Ok(()),
            Err(SerialError::Module {
                status: ModuleStatus::CommandNotFound,
                ..
            }) => {
                tracing::warn!(
                    wanted = %format!("{sync_word:#04x}"),
                    "serial module: the firmware has no AT+SYNCWORD, so the module keeps its \
                     own sync word; if it is not the wanted one, no beacon is heard or sent"
                );
                self.sync_word_settable = false;
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    fn listen(&mut self) -> Result<(), SerialError> {
        let arguments = p2p_arguments(self.config.frequency_hz, &self.config.params, 14)?;
        self.command(&format!("AT+P2P={arguments}"))?;
        self.set_sync_word(self.config.params.sync_word)?;
        self.command("AT+PRECV=65534")?;
        self.listening = true;
        Ok(())
    }

    fn set_up(&mut self) -> Result<(), SerialError> {
        self.wait_ready()?;
        // Still receiving from an earlier run? Stop it (a module in LoRaWAN mode refuses: fine).
        match self.command("AT+PRECV=0") {
            Ok(()) | Err(SerialError::Module { .. }) => {}
            Err(error) => return Err(error),
        }
        self.command("AT+NWM=0")?;
        self.wait_ready()?;
        self.listen()
    }

    /// Sends a frame at its power, or at the module's highest when it asks for more.
    fn transmit(&mut self, transmission: &Transmission) -> Result<Transmitted, SerialError> {
        let power = transmission.power_dbm.round() as i32;
        if power < MIN_POWER_DBM || !transmission.power_dbm.is_finite() {
            return Err(SerialError::Unsupported(format!(
                "power {} dBm (the module's lowest is {MIN_POWER_DBM} dBm)",
                transmission.power_dbm
            )));
        }
        let used_dbm = power.min(MAX_POWER_DBM);
        let arguments = p2p_arguments(transmission.frequency_hz, &transmission.params, used_dbm)?;
        let payload = encode_hex(&transmission.payload);
        if transmission.payload.is_empty() || transmission.payload.len() > 255 {
            return Err(SerialError::Unsupported(format!(
                "payload of {} bytes",
                transmission.payload.len()
            )));
        }
        if self.listening {
            self.command("AT+PRECV=0")?;
            self.listening = false;
        }
        let sent = self
            .command(&format!("AT+P2P={arguments}"))
            .and_then(|()| self.set_sync_word(transmission.params.sync_word))
            .and_then(|()| self.command(&format!("AT+PSEND={payload}")))
            .and_then(|()| {
                let air = transmission.params.time_on_air(transmission.payload.len());
                let timeout = air + self.config.command_timeout;
                self.wait_for("+EVT:TXP2P DONE", timeout, |line| {
                    (*line == Line::TxDone).then_some(Ok(()))
                })
            });
        let restored = self.listen();
        sent.and(restored).map(|()| Transmitted {
            power_dbm: used_dbm as f32,
        })
    }

    fn run(mut self, requests: std_mpsc::Receiver<Request>) {
        loop {
            match requests.try_recv() {
                Ok(Request::Transmit(transmission, reply)) => {
                    let result = self.transmit(&transmission);
                    let counter = if result.is_ok() {
                        &self.counters.tx_ok
                    } else {
                        &self.counters.tx_failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    if let Err(SerialError::Io { .. }) = &result {
                        let _ = reply.send(result);
                        return;
                    }
                    let _ = reply.send(result);
                }
                Err(std_mpsc::TryRecvError::Disconnected) => return,
                Err(std_mpsc::TryRecvError::Empty) => match self.read_lines() {
                    Ok(lines) => {
                        let queued: Vec<String> = self.lines.drain(..).chain(lines).collect();
                        for text in queued {
                            self.dispatch(&text);
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "serial module: the port failed");
                        return;
                    }
                },
            }
        }
    }
}

/// A LoRa module on a serial port (RUI3 P2P AT commands).
pub struct SerialBackend {
    requests: std_mpsc::Sender<Request>,
    receptions: mpsc::Receiver<Reception>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for SerialBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialBackend").finish_non_exhaustive()
    }
}

impl SerialBackend {
    /// Opens the port, puts the module into P2P mode with the listening parameters and starts
    /// receiving.
    pub async fn open(config: SerialConfig) -> Result<Self, BackendError> {
        p2p_arguments(config.frequency_hz, &config.params, 14)?;
        let path = config.device.display().to_string();
        let port = serialport::new(path.as_str(), config.baud)
            .timeout(POLL_INTERVAL)
            .open()
            .map_err(|source| SerialError::Open {
                path: path.clone(),
                source,
            })?;
        let (reception_tx, receptions) = mpsc::channel(RECEPTION_QUEUE);
        let (requests, request_rx) = std_mpsc::channel();
        let (ready_tx, ready) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let mut worker = Worker {
            port,
            config,
            buffer: Vec::new(),
            lines: std::collections::VecDeque::new(),
            receptions: reception_tx,
            counters: counters.clone(),
            listening: false,
            sync_word_settable: true,
        };
        std::thread::Builder::new()
            .name("serial-lora".into())
            .spawn(move || match worker.set_up() {
                Ok(()) => {
                    let _ = ready_tx.send(Ok(()));
                    worker.run(request_rx);
                }
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                }
            })
            .map_err(|source| BackendError::Io {
                context: "starting the serial port thread".into(),
                source,
            })?;
        ready.await.map_err(|_| SerialError::Stopped)??;
        tracing::info!(device = %path, "serial LoRa module listening");
        Ok(Self {
            requests,
            receptions,
            counters,
        })
    }
}

impl From<SerialError> for BackendError {
    fn from(error: SerialError) -> Self {
        BackendError::Serial(error)
    }
}

impl Backend for SerialBackend {
    async fn transmit(&mut self, transmission: &Transmission) -> Result<Transmitted, BackendError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Transmit(transmission.clone(), reply))
            .map_err(|_| SerialError::Stopped)?;
        Ok(answer.await.map_err(|_| SerialError::Stopped)??)
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        match self.receptions.recv().await {
            Some(reception) => Ok(Some(reception)),
            None => Err(SerialError::Stopped.into()),
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let counters = &self.counters;
        [
            ("serial_received", &counters.received),
            ("serial_dropped", &counters.dropped),
            ("serial_garbage", &counters.garbage),
            ("serial_tx_ok", &counters.tx_ok),
            ("serial_tx_failed", &counters.tx_failed),
            ("serial_module_errors", &counters.module_errors),
            ("serial_timeouts", &counters.timeouts),
        ]
        .into_iter()
        .map(|(name, value)| (name, value.load(Ordering::Relaxed)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_words_take_the_sx126x_register_form() {
        assert_eq!(sx126x_sync_word(0x34), 0x3444);
        assert_eq!(sx126x_sync_word(0x12), 0x1424);
        assert_eq!(sx126x_sync_word(0x00), 0x0404);
        assert_eq!(sx126x_sync_word(0xff), 0xf4f4);
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(parse_line("OK\r"), Line::Ok);
        assert_eq!(parse_line(""), Line::Empty);
        assert_eq!(
            parse_line("AT_BUSY_ERROR"),
            Line::Status(ModuleStatus::BusyError)
        );
        assert_eq!(
            parse_line("AT_PARAM_ERROR"),
            Line::Status(ModuleStatus::ParamError)
        );
        assert_eq!(
            parse_line("+EVT:RXP2P:-112:-7:0102ff"),
            Line::Received {
                rssi_dbm: -112.0,
                snr_db: -7.0,
                payload: vec![1, 2, 0xff]
            }
        );
        assert_eq!(parse_line("+EVT:TXP2P DONE"), Line::TxDone);
        for bad in [
            "+EVT:RXP2P:-112:-7:01F",
            "+EVT:RXP2P:loud:3:01",
            "+EVT:RXP2P RECEIVE TIMEOUT",
            "+EVT:RXP2P:-1:2:zz",
        ] {
            assert!(matches!(parse_line(bad), Line::Malformed(_)), "{bad}");
        }
        assert!(matches!(
            parse_line("Current Work Mode: LoRa P2P."),
            Line::Info(_)
        ));
    }

    #[test]
    fn p2p_arguments_follow_rui3() {
        let mut params = LoraParams::new(9, 125_000);
        params.coding_rate = 1;
        params.preamble_len = 8;
        assert_eq!(
            p2p_arguments(904_100_000, &params, 20).unwrap(),
            "904100000:9:125:0:8:20"
        );
        params.bandwidth_hz = 500_000;
        params.coding_rate = 4;
        assert_eq!(
            p2p_arguments(868_100_000, &params, 14).unwrap(),
            "868100000:9:500:3:8:14"
        );
        params.bandwidth_hz = 62_500;
        assert!(matches!(
            p2p_arguments(1, &params, 14),
            Err(SerialError::Unsupported(_))
        ));
        let mut implicit = LoraParams::new(9, 125_000);
        implicit.explicit_header = false;
        assert!(p2p_arguments(1, &implicit, 14).is_err());
        assert_eq!(encode_hex(&[0, 0xab, 0x10]), "00AB10");
        assert_eq!(decode_hex("00ab10"), Some(vec![0, 0xab, 0x10]));
    }
}
