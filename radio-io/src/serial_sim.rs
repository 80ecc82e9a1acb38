//! A simulated RUI3 LoRa module (RAK3172 class) on a pseudo-terminal, for tests and for trying
//! the serial backend without hardware. Open [`SimulatedModule::path`] like a real serial
//! device: the simulator answers the P2P AT commands (`AT`, `AT+NWM`, `AT+P2P`, `AT+SYNCWORD`,
//! `AT+PRECV`, `AT+PSEND`) the way the module does, records what was transmitted, and can emit
//! received frames (`+EVT:RXP2P`), error answers and raw bytes on demand.
//!
//! Its sync word starts at the SX126x's reset value, 0x1424 (private, LoRa 0x12), not the
//! public one beacons use: only a backend that sets it hears the frames emitted as public.

use serialport::{SerialPort, TTYPort};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// A frame the simulated module was asked to transmit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFrame {
    /// The `AT+P2P` arguments in force when it was sent.
    pub p2p: String,
    /// The sync word in force when it was sent (SX126x register form, e.g. 0x3444).
    pub sync_word: u16,
    /// The payload.
    pub payload: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    listening: bool,
    p2p_mode: bool,
    p2p: String,
    sync_word: u16,
    sent: Vec<SentFrame>,
    commands: Vec<String>,
    forced: VecDeque<(String, String)>,
}

/// A simulated RUI3 module behind a pseudo-terminal.
pub struct SimulatedModule {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    writer: Arc<Mutex<TTYPort>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Kept open so the terminal exists before and after the backend opens it.
    _slave: TTYPort,
}

/// The sync word of an SX126x after reset (LoRa 0x12, private), in register form.
pub const RESET_SYNC_WORD: u16 = 0x1424;
/// The public LoRa sync word 0x34, in register form.
pub const PUBLIC_SYNC_WORD: u16 = 0x3444;

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Checks `AT+P2P` arguments the way RUI3 does: frequency, SF, bandwidth in kHz, coding rate
/// 0–3, preamble, power 5–22 dBm.
fn valid_p2p(arguments: &str) -> bool {
    let fields: Vec<&str> = arguments.split(':').collect();
    let [frequency, sf, bandwidth, cr, preamble, power] = fields.as_slice() else {
        return false;
    };
    let in_range = |text: &str, range: std::ops::RangeInclusive<u64>| {
        text.parse::<u64>()
            .map(|value| range.contains(&value))
            .unwrap_or(false)
    };
    in_range(frequency, 150_000_000..=960_000_000)
        && in_range(sf, 5..=12)
        && matches!(*bandwidth, "125" | "250" | "500")
        && in_range(cr, 0..=3)
        && in_range(preamble, 2..=65_535)
        && in_range(power, 5..=22)
}

fn hex_payload(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 510 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect()
}

/// The module's answer to one command line: the lines to write back.
fn answer(state: &mut State, command: &str) -> Vec<String> {
    state.commands.push(command.to_string());
    if let Some(at) = state
        .forced
        .iter()
        .position(|(prefix, _)| command.starts_with(prefix.as_str()))
    {
        if let Some((_, status)) = state.forced.remove(at) {
            return vec![status];
        }
    }
    let ok = || vec!["OK".to_string()];
    let status = |text: &str| vec![text.to_string()];
    if command == "AT" {
        return ok();
    }
    if let Some(mode) = command.strip_prefix("AT+NWM=") {
        return match mode {
            "0" => {
                state.p2p_mode = true;
                vec!["Current Work Mode: LoRa P2P.".into(), "OK".into()]
            }
            "1" => {
                state.p2p_mode = false;
                ok()
            }
            _ => status("AT_PARAM_ERROR"),
        };
    }
    if let Some(arguments) = command.strip_prefix("AT+P2P=") {
        if !state.p2p_mode {
            return status("AT_MODE_NO_SUPPORT");
        }
        if state.listening {
            return status("AT_BUSY_ERROR");
        }
        if !valid_p2p(arguments) {
            return status("AT_PARAM_ERROR");
        }
        state.p2p = arguments.to_string();
        return ok();
    }
    if command == "AT+SYNCWORD=?" {
        return vec![format!("AT+SYNCWORD={:04X}", state.sync_word), "OK".into()];
    }
    if let Some(word) = command.strip_prefix("AT+SYNCWORD=") {
        if !state.p2p_mode {
            return status("AT_MODE_NO_SUPPORT");
        }
        if state.listening {
            return status("AT_BUSY_ERROR");
        }
        return match u16::from_str_radix(word, 16) {
            Ok(value) if word.len() == 4 => {
                state.sync_word = value;
                ok()
            }
            _ => status("AT_PARAM_ERROR"),
        };
    }
    if let Some(window) = command.strip_prefix("AT+PRECV=") {
        if !state.p2p_mode {
            return status("AT_MODE_NO_SUPPORT");
        }
        return match window.parse::<u32>() {
            Ok(0) => {
                state.listening = false;
                ok()
            }
            Ok(1..=65_535) => {
                state.listening = true;
                ok()
            }
            _ => status("AT_PARAM_ERROR"),
        };
    }
    if let Some(hex) = command.strip_prefix("AT+PSEND=") {
        if !state.p2p_mode {
            return status("AT_MODE_NO_SUPPORT");
        }
        if state.listening {
            return status("AT_BUSY_ERROR");
        }
        let Some(payload) = hex_payload(hex) else {
            return status("AT_PARAM_ERROR");
        };
        state.sent.push(SentFrame {
            p2p: state.p2p.clone(),
            sync_word: state.sync_word,
            payload,
        });
        return vec!["OK".into(), "+EVT:TXP2P DONE".into()];
    }
    status("AT_COMMAND_NOT_FOUND")
}

impl SimulatedModule {
    /// Opens a pseudo-terminal and starts answering on it.
    pub fn start() -> Result<Self, serialport::Error> {
        let (mut master, slave) = TTYPort::pair()?;
        let path = slave.name().map(PathBuf::from).ok_or_else(|| {
            serialport::Error::new(serialport::ErrorKind::NoDevice, "no pty name")
        })?;
        master.set_timeout(Duration::from_millis(20))?;
        let writer = Arc::new(Mutex::new(master.try_clone_native()?));
        let state = Arc::new(Mutex::new(State {
            sync_word: RESET_SYNC_WORD,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, writer, stop) = (state.clone(), writer.clone(), stop.clone());
            std::thread::Builder::new()
                .name("simulated-rak3172".into())
                .spawn(move || serve(master, &state, &writer, &stop))?
        };
        Ok(Self {
            path,
            state,
            writer,
            stop,
            thread: Some(thread),
            _slave: slave,
        })
    }

    /// The terminal to open as the module's serial device.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the module is in continuous receive (`AT+PRECV=65534`).
    pub fn is_listening(&self) -> bool {
        lock(&self.state).listening
    }

    /// The `AT+P2P` arguments in force.
    pub fn p2p(&self) -> String {
        lock(&self.state).p2p.clone()
    }

    /// The sync word in force (SX126x register form).
    pub fn sync_word(&self) -> u16 {
        lock(&self.state).sync_word
    }

    /// Frames transmitted so far.
    pub fn sent(&self) -> Vec<SentFrame> {
        lock(&self.state).sent.clone()
    }

    /// Every command received so far.
    pub fn commands(&self) -> Vec<String> {
        lock(&self.state).commands.clone()
    }

    /// Answers the next command starting with `prefix` with `status` (e.g. `AT_BUSY_ERROR`)
    /// instead of executing it.
    pub fn fail_next(&self, prefix: &str, status: &str) {
        lock(&self.state)
            .forced
            .push_back((prefix.to_string(), status.to_string()));
    }

    /// Emits a received frame sent with the public sync word as the module does, if it is
    /// listening with that sync word; returns whether it did.
    pub fn emit_reception(&self, rssi_dbm: i32, snr_db: i32, payload: &[u8]) -> bool {
        self.emit_reception_with_sync_word(PUBLIC_SYNC_WORD, rssi_dbm, snr_db, payload)
    }

    /// Emits a received frame sent with `sync_word` (register form), if the module is
    /// listening with that sync word (a radio hears no other); returns whether it did.
    pub fn emit_reception_with_sync_word(
        &self,
        sync_word: u16,
        rssi_dbm: i32,
        snr_db: i32,
        payload: &[u8],
    ) -> bool {
        {
            let state = lock(&self.state);
            if !state.listening || state.sync_word != sync_word {
                return false;
            }
        }
        let hex: String = payload.iter().map(|byte| format!("{byte:02X}")).collect();
        self.write_raw(format!("+EVT:RXP2P:{rssi_dbm}:{snr_db}:{hex}\r\n").as_bytes());
        true
    }

    /// Writes bytes to the port as they are (noise, garbage, events by hand).
    pub fn write_raw(&self, bytes: &[u8]) {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = writer.write_all(bytes).and_then(|()| writer.flush()) {
            tracing::warn!(%error, "simulated module: write failed");
        }
    }
}

impl Drop for SimulatedModule {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut master: TTYPort, state: &Mutex<State>, writer: &Mutex<TTYPort>, stop: &AtomicBool) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        match master.read(&mut chunk) {
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(error) => {
                tracing::debug!(%error, "simulated module: read failed");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        while let Some(end) = buffer.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let command = String::from_utf8_lossy(&line).trim().to_string();
            if command.is_empty() {
                continue;
            }
            let replies = answer(&mut lock(state), &command);
            let mut text = String::new();
            for reply in replies {
                text.push_str("\r\n");
                text.push_str(&reply);
                text.push_str("\r\n");
            }
            let mut writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = writer
                .write_all(text.as_bytes())
                .and_then(|()| writer.flush());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::{ModuleStatus, SerialBackend, SerialConfig, SerialError};
    use crate::{Backend, BackendError, Transmission};
    use radio::params::LoraParams;

    fn config(module: &SimulatedModule) -> SerialConfig {
        let mut config = SerialConfig::new(module.path(), 904_100_000, LoraParams::new(9, 125_000));
        config.command_timeout = Duration::from_secs(5);
        config
    }

    fn beacon() -> Transmission {
        Transmission {
            frequency_hz: 903_900_000,
            params: LoraParams::new(10, 125_000),
            payload: (0..51).collect(),
            power_dbm: 27.0,
        }
    }

    async fn next(backend: &mut SerialBackend) -> crate::Reception {
        tokio::time::timeout(Duration::from_secs(10), backend.receive())
            .await
            .expect("a reception in time")
            .expect("no error")
            .expect("the stream goes on")
    }

    #[tokio::test]
    async fn the_module_is_set_up_and_its_receptions_arrive() {
        let module = SimulatedModule::start().unwrap();
        let mut backend = SerialBackend::open(config(&module)).await.unwrap();
        assert!(module.is_listening());
        assert_eq!(module.p2p(), "904100000:9:125:0:8:14");
        assert!(module.commands().contains(&"AT+NWM=0".to_string()));
        assert_eq!(module.sync_word(), PUBLIC_SYNC_WORD);
        assert!(!module.emit_reception_with_sync_word(RESET_SYNC_WORD, -60, 9, b"private"));
        assert!(module.emit_reception(-97, -3, b"hello beacon"));
        let reception = next(&mut backend).await;
        assert_eq!(reception.frame.payload, b"hello beacon");
        assert_eq!(reception.frame.rssi_dbm, -97.0);
        assert_eq!(reception.frame.snr_db, -3.0);
        assert_eq!(reception.frame.spreading_factor, 9);
        assert_eq!(reception.frequency_hz, 904_100_000);
        assert_eq!(reception.frame.crc_ok, Some(true));
    }

    #[tokio::test]
    async fn a_beacon_is_sent_and_the_module_listens_again() {
        let module = SimulatedModule::start().unwrap();
        let mut backend = SerialBackend::open(config(&module)).await.unwrap();
        let transmitted = backend.transmit(&beacon()).await.unwrap();
        let sent = module.sent();
        assert_eq!(sent.len(), 1);
        // 27 dBm is more than the module can do: it sends at its most, 22 dBm, and says so.
        assert_eq!(sent[0].p2p, "903900000:10:125:0:8:22");
        assert_eq!(transmitted.power_dbm, 22.0);
        assert_eq!(sent[0].payload, beacon().payload);
        assert_eq!(sent[0].sync_word, PUBLIC_SYNC_WORD);
        assert!(module.is_listening());
        assert_eq!(module.p2p(), "904100000:9:125:0:8:14");
        assert!(module.emit_reception(-80, 9, &[1, 2, 3]));
        assert_eq!(next(&mut backend).await.frame.payload, vec![1, 2, 3]);
        let counters = backend.counters();
        assert!(counters.contains(&("serial_tx_ok", 1)), "{counters:?}");
    }

    #[tokio::test]
    async fn an_error_answer_is_a_typed_error_and_the_backend_recovers() {
        let module = SimulatedModule::start().unwrap();
        let mut backend = SerialBackend::open(config(&module)).await.unwrap();
        module.fail_next("AT+PSEND", "AT_BUSY_ERROR");
        let error = backend.transmit(&beacon()).await.unwrap_err();
        assert!(
            matches!(
                &error,
                BackendError::Serial(SerialError::Module {
                    status: ModuleStatus::BusyError,
                    ..
                })
            ),
            "{error}"
        );
        assert!(module.sent().is_empty());
        assert!(module.is_listening(), "listening again after the error");
        let mut quiet = beacon();
        quiet.power_dbm = 2.0;
        assert!(matches!(
            backend.transmit(&quiet).await,
            Err(BackendError::Serial(SerialError::Unsupported(_)))
        ));
        backend.transmit(&beacon()).await.unwrap();
        assert_eq!(module.sent().len(), 1);
    }

    #[tokio::test]
    async fn garbage_on_the_port_is_skipped_and_counted() {
        let module = SimulatedModule::start().unwrap();
        let mut backend = SerialBackend::open(config(&module)).await.unwrap();
        module.write_raw(&[0xff, 0x00, 0xfe, b'\r', b'\n']);
        module.write_raw(b"+EVT:RXP2P:-90:abc:0102\r\n");
        module.write_raw(b"+EVT:RXP2P:-90:5:0G\r\n");
        module.write_raw(&[0x55; 2000]);
        module.write_raw(b"\r\n");
        assert!(module.emit_reception(-70, 8, b"after the noise"));
        let reception = next(&mut backend).await;
        assert_eq!(reception.frame.payload, b"after the noise");
        let garbage = backend
            .counters()
            .into_iter()
            .find(|(name, _)| *name == "serial_garbage")
            .map(|(_, value)| value);
        assert!(garbage >= Some(4), "{garbage:?}");
        backend.transmit(&beacon()).await.unwrap();
        assert_eq!(module.sent().len(), 1);
    }

    #[tokio::test]
    async fn each_frame_is_sent_with_its_own_sync_word_and_listening_restores_the_public_one() {
        let module = SimulatedModule::start().unwrap();
        let mut backend = SerialBackend::open(config(&module)).await.unwrap();
        let mut private = beacon();
        private.params.sync_word = 0x12;
        backend.transmit(&private).await.unwrap();
        backend.transmit(&beacon()).await.unwrap();
        let words: Vec<u16> = module.sent().iter().map(|frame| frame.sync_word).collect();
        assert_eq!(words, vec![RESET_SYNC_WORD, PUBLIC_SYNC_WORD]);
        assert_eq!(module.sync_word(), PUBLIC_SYNC_WORD);
        assert!(module.emit_reception(-80, 9, b"public again"));
        assert_eq!(next(&mut backend).await.frame.payload, b"public again");
    }

    #[tokio::test]
    async fn firmware_without_the_sync_word_command_is_used_as_it_is() {
        let module = SimulatedModule::start().unwrap();
        module.fail_next("AT+SYNCWORD", "AT_COMMAND_NOT_FOUND");
        let mut backend = SerialBackend::open(config(&module)).await.unwrap();
        assert!(module.is_listening());
        assert_eq!(module.sync_word(), RESET_SYNC_WORD);
        backend.transmit(&beacon()).await.unwrap();
        assert_eq!(module.sent().len(), 1);
        let asked = module
            .commands()
            .iter()
            .filter(|command| command.starts_with("AT+SYNCWORD"))
            .count();
        assert_eq!(
            asked, 1,
            "not asked again once the firmware said it has no such command"
        );
        // Any other refusal of the sync word is an error.
        let other = SimulatedModule::start().unwrap();
        other.fail_next("AT+SYNCWORD", "AT_PARAM_ERROR");
        let error = SerialBackend::open(config(&other)).await.unwrap_err();
        assert!(error.to_string().contains("AT+SYNCWORD=3444"), "{error}");
    }

    #[tokio::test]
    async fn a_missing_device_or_a_silent_module_is_a_clear_error() {
        let missing =
            SerialConfig::new("/dev/no-such-tty", 904_100_000, LoraParams::new(9, 125_000));
        let error = SerialBackend::open(missing).await.unwrap_err().to_string();
        assert!(error.contains("/dev/no-such-tty"), "{error}");
        // A terminal nobody answers on.
        let (_master, slave) = TTYPort::pair().unwrap();
        let mut silent = SerialConfig::new(
            slave.name().unwrap(),
            904_100_000,
            LoraParams::new(9, 125_000),
        );
        silent.command_timeout = Duration::from_millis(50);
        let error = SerialBackend::open(silent).await.unwrap_err();
        assert!(
            matches!(error, BackendError::Serial(SerialError::Timeout { .. })),
            "{error}"
        );
    }
}
