//! A radio made of Semtech packet forwarders speaking GWMP (the Semtech UDP protocol, v2): the
//! forwarders connect to us, as they would to a LoRaWAN network server.
//!
//! Any number of forwarders (gateway EUIs, source addresses) feed one backend at once:
//!
//! - PUSH_DATA: every `rxpk` becomes a [`Reception`] with the RSSI, SNR, frequency, data rate and
//!   time the concentrator measured (`stat` -1 keeps `crc_ok = Some(false)`); `stat` objects are
//!   kept per gateway ([`SemtechUdpBackend::gateways`]) and summed into the counters. Each is
//!   answered with a PUSH_ACK to the address it came from, even when its JSON is unusable (the
//!   forwarder would only resend).
//! - One frame heard by several forwarders is one reception: receptions wait
//!   [`SemtechUdpConfig::merge_window`], and the same payload arriving meanwhile is merged into
//!   it, keeping the better signal ([`crate::merge`]).
//! - PULL_DATA: answered with a PULL_ACK to its sender; its source address is where that
//!   gateway's downlinks go.
//! - [`Backend::transmit`]: a `txpk` in a PULL_RESP to the transmitting forwarder
//!   ([`SemtechUdpConfig::tx_gateway`] if set, else the one that pulled most recently), then the TX_ACK decides: an error (TOO_LATE, TX_FREQ, ...) or silence becomes
//!   [`BackendError::Forwarder`] with a [`TxRefusal`], counted by kind; a TX_POWER warning is a
//!   transmission at the power it names ([`Transmitted::power_dbm`]). Only a TX_ACK with the
//!   PULL_RESP's token, from the gateway EUI and the address it was sent to, answers it; any
//!   other is logged and counted (`stray_tx_acks`).
//! - With a [`SemtechUdpConfig::channel_plan`], a forwarder that sends a frame outside the
//!   region's band is refused ([`OffPlan`]: its EUI, the frequency, the region): logged as an
//!   error, counted (`forwarders_refused`, `uplinks_refused`); none of its frames are used from
//!   then on and it transmits nothing, while its datagrams are still acknowledged.
//! - Datagrams that are not GWMP are logged (rate-limited), counted and survived.

use crate::channel_plan::{ChannelPlan, OffPlan};
use crate::gwmp::{
    self, decode_up, encode_pull_ack, encode_pull_resp, encode_push_ack, protocol::push_data::Stat,
    protocol::MacAddress, GwmpError, TxAccepted, TxRefusal, TxTiming, UpMessage,
};
use crate::merge::{sleep_until_release, HeldReceptions};
use crate::{Backend, BackendError, Reception, Transmission, Transmitted};
use std::collections::BTreeMap;

pub use crate::gwmp::parse_rx_time;

/// Turns an uplink into a reception, or `None` when it is not a usable LoRa frame (see
/// [`gwmp::reception_from_rxpk`], which says why).
pub fn reception_from_rxpk(rxpk: &gwmp::protocol::push_data::RxPk) -> Option<Reception> {
    gwmp::reception_from_rxpk(rxpk).ok()
}
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Most packet forwarders remembered at once; the least recently heard is forgotten first.
const MAX_FORWARDERS: usize = 64;
/// Most receptions waiting for [`Backend::receive`]; older ones are dropped beyond it.
const MAX_PENDING: usize = 4096;

/// Where the GWMP server listens, and its patience.
#[derive(Debug, Clone)]
pub struct SemtechUdpConfig {
    /// UDP address the forwarders send to (their `serv_port_up` and `serv_port_down`).
    pub listen: SocketAddr,
    /// How long to wait for a TX_ACK.
    pub tx_ack_timeout: Duration,
    /// A forwarder whose last PULL_DATA is older than this is not transmitted through
    /// (forwarders send one every `keepalive_interval`, 5–10 s by default).
    pub forwarder_timeout: Duration,
    /// How long a reception waits for the same frame from other forwarders before it is handed
    /// on (zero: at once, merging nothing).
    pub merge_window: Duration,
    /// The gateway EUI that transmits beacons; `None`: the forwarder that pulled most recently.
    /// When set, only that forwarder transmits: while it is not connected, nothing does.
    pub tx_gateway: Option<MacAddress>,
    /// The hotspot's region: forwarders whose frames fall outside its band are refused.
    pub channel_plan: Option<ChannelPlan>,
}

impl SemtechUdpConfig {
    /// Listens on `listen` with a 5 s TX_ACK timeout, a 60 s forwarder timeout, a 200 ms merge
    /// window, transmitting through the latest puller.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            tx_ack_timeout: Duration::from_secs(5),
            forwarder_timeout: Duration::from_secs(60),
            merge_window: Duration::from_millis(200),
            tx_gateway: None,
            channel_plan: None,
        }
    }
}

/// Event counters of the backend.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SemtechUdpStats {
    /// PUSH_DATA datagrams.
    pub push_data: u64,
    /// PULL_DATA datagrams.
    pub pull_data: u64,
    /// `rxpk` uplinks received.
    pub uplinks: u64,
    /// Uplinks whose CRC failed (`stat` -1); they are still handed on, marked.
    pub uplinks_bad_crc: u64,
    /// `rxpk` entries that could not be used (FSK, unknown data rate, malformed).
    pub unusable_uplinks: u64,
    /// Uplinks dropped because nobody was receiving.
    pub uplinks_dropped: u64,
    /// Uplinks merged into the same frame from another forwarder.
    pub uplinks_merged: u64,
    /// Gateway `stat` reports.
    pub gateway_stats: u64,
    /// Sums of the gateways' reported counters: packets received, with a good CRC, forwarded,
    /// downlinks received and packets emitted.
    pub gateway_rxnb: u64,
    /// See [`SemtechUdpStats::gateway_rxnb`].
    pub gateway_rxok: u64,
    /// See [`SemtechUdpStats::gateway_rxnb`].
    pub gateway_rxfw: u64,
    /// See [`SemtechUdpStats::gateway_rxnb`].
    pub gateway_dwnb: u64,
    /// See [`SemtechUdpStats::gateway_rxnb`].
    pub gateway_txnb: u64,
    /// Datagrams that are not GWMP at all (bad header, wrong version, wrong direction).
    pub garbage: u64,
    /// GWMP datagrams whose JSON body could not be used.
    pub bad_json: u64,
    /// Forwarders that connected (first PULL_DATA from a gateway EUI).
    pub forwarders_connected: u64,
    /// PULL_RESP datagrams sent.
    pub tx_requests: u64,
    /// Transmissions the forwarder accepted.
    pub tx_ok: u64,
    /// Of those, the ones it sent at another power than asked (a TX_POWER warning).
    pub tx_power_reduced: u64,
    /// Forwarders refused for a frame outside the region's band.
    pub forwarders_refused: u64,
    /// Uplinks not used because their forwarder was refused.
    pub uplinks_refused: u64,
    /// Transmissions refused, unanswered or impossible.
    pub tx_refused: u64,
    /// TX_ACKs that matched no pending PULL_RESP: another token, gateway EUI or address.
    pub stray_tx_acks: u64,
    /// Refusals by kind ([`TxRefusal::counter_name`]).
    pub refusals: BTreeMap<&'static str, u64>,
}

/// What is known of one packet forwarder.
#[derive(Debug, Clone)]
pub struct GatewayStatus {
    /// Its gateway EUI.
    pub mac: MacAddress,
    /// Where its PUSH_DATA came from most recently.
    pub push_addr: Option<SocketAddr>,
    /// Where its PULL_DATA came from most recently: downlinks go there.
    pub pull_addr: Option<SocketAddr>,
    /// Uplinks it forwarded to us.
    pub uplinks: u64,
    /// Its latest `stat` object.
    pub last_stat: Option<Stat>,
    /// When it last sent PULL_DATA.
    pub last_pull: Option<Instant>,
    /// When we last heard from it at all.
    pub last_seen: Instant,
    /// Why it was refused, if it was: its frames are not used and it transmits nothing.
    pub refused: Option<OffPlan>,
}

/// A PULL_RESP waiting for its TX_ACK: what must match, and the answer once it came.
#[derive(Debug)]
struct AwaitedAck {
    token: u16,
    mac: MacAddress,
    addr: SocketAddr,
    answer: Option<Result<TxAccepted, TxRefusal>>,
}

impl AwaitedAck {
    fn answered_by(&self, token: u16, mac: MacAddress, from: SocketAddr) -> bool {
        self.token == token && self.mac == mac && self.addr == from
    }
}

/// A radio made of Semtech UDP packet forwarders.
pub struct SemtechUdpBackend {
    socket: UdpSocket,
    config: SemtechUdpConfig,
    forwarders: BTreeMap<MacAddress, GatewayStatus>,
    held: HeldReceptions,
    /// The PULL_RESP waiting for its TX_ACK.
    awaiting_ack: Option<AwaitedAck>,
    next_token: u16,
    buffer: Vec<u8>,
    stats: SemtechUdpStats,
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> BackendError {
    move |source| BackendError::Io { context, source }
}

impl SemtechUdpBackend {
    /// Listens for packet forwarders on `config.listen` (port 0 picks a free port).
    pub async fn bind(config: SemtechUdpConfig) -> Result<Self, BackendError> {
        let socket = UdpSocket::bind(config.listen)
            .await
            .map_err(io_error(format!(
                "listening for packet forwarders on {}",
                config.listen
            )))?;
        tracing::info!(listen = ?socket.local_addr().ok(), "waiting for Semtech UDP packet forwarders");
        Ok(Self {
            socket,
            held: HeldReceptions::new(config.merge_window, MAX_PENDING),
            config,
            forwarders: BTreeMap::new(),

            awaiting_ack: None,
            next_token: rand::random(),
            buffer: vec![0; gwmp::MAX_DATAGRAM],
            stats: SemtechUdpStats::default(),
        })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> Result<SocketAddr, BackendError> {
        self.socket
            .local_addr()
            .map_err(io_error("reading the bound address".into()))
    }

    /// Event counters so far.
    pub fn stats(&self) -> &SemtechUdpStats {
        &self.stats
    }

    /// The forwarders heard from, by gateway EUI.
    pub fn gateways(&self) -> Vec<GatewayStatus> {
        self.forwarders.values().cloned().collect()
    }

    fn gateway(&mut self, mac: MacAddress) -> &mut GatewayStatus {
        if !self.forwarders.contains_key(&mac) && self.forwarders.len() >= MAX_FORWARDERS {
            let oldest = self
                .forwarders
                .values()
                .min_by_key(|gateway| gateway.last_seen)
                .map(|gateway| gateway.mac);
            if let Some(oldest) = oldest {
                tracing::info!(%oldest, "forgetting the least recently heard packet forwarder");
                self.forwarders.remove(&oldest);
            }
        }
        let gateway = self.forwarders.entry(mac).or_insert(GatewayStatus {
            mac,
            push_addr: None,
            pull_addr: None,
            uplinks: 0,
            last_stat: None,
            last_pull: None,
            last_seen: Instant::now(),
            refused: None,
        });
        gateway.last_seen = Instant::now();
        gateway
    }

    /// Sends an acknowledgement without waiting: a full socket buffer drops it, as UDP may.
    fn reply(&self, datagram: &[u8], to: SocketAddr) {
        if let Err(error) = self.socket.try_send_to(datagram, to) {
            tracing::warn!(%error, %to, "acknowledgement not sent");
        }
    }

    fn garbage(&mut self, error: &GwmpError, from: SocketAddr, len: usize) {
        self.stats.garbage += 1;
        // Logged with a decreasing frequency, so that a flood cannot fill the disk.
        if self.stats.garbage.is_power_of_two() {
            tracing::warn!(%error, %from, len, total = self.stats.garbage, "ignoring a datagram that is not GWMP");
        }
    }

    fn bad_json(&mut self, error: &GwmpError, mac: MacAddress) {
        self.stats.bad_json += 1;
        if self.stats.bad_json.is_power_of_two() {
            tracing::warn!(%error, %mac, total = self.stats.bad_json, "unusable JSON from a packet forwarder");
        }
    }

    fn stat(&mut self, mac: MacAddress, stat: Stat) {
        let stats = &mut self.stats;
        stats.gateway_stats += 1;
        stats.gateway_rxnb = stats.gateway_rxnb.saturating_add(stat.rxnb);
        stats.gateway_rxok = stats.gateway_rxok.saturating_add(stat.rxok);
        stats.gateway_rxfw = stats.gateway_rxfw.saturating_add(stat.rxfw);
        stats.gateway_dwnb = stats.gateway_dwnb.saturating_add(stat.dwnb);
        stats.gateway_txnb = stats.gateway_txnb.saturating_add(stat.txnb);
        tracing::debug!(%mac, ?stat, "gateway stat");
        self.gateway(mac).last_stat = Some(stat);
    }

    fn uplink(&mut self, mac: MacAddress, reception: Result<Reception, GwmpError>) {
        self.stats.uplinks += 1;
        self.gateway(mac).uplinks += 1;
        let reception = match reception {
            Ok(reception) => reception,
            Err(error) => {
                self.stats.unusable_uplinks += 1;
                tracing::debug!(%error, %mac, "unusable rxpk");
                return;
            }
        };
        if reception.frame.crc_ok == Some(false) {
            self.stats.uplinks_bad_crc += 1;
        }
        if !self.within_plan(mac, reception.frequency_hz) {
            self.stats.uplinks_refused += 1;
            return;
        }
        self.held.push(reception);
        self.stats.uplinks_dropped = self.held.dropped();
        self.stats.uplinks_merged = self.held.merged();
    }

    /// Whether `mac`'s frame on `frequency_hz` may be used: the forwarder is not refused, and the
    /// frame is within the region's band (else the forwarder is refused from now on).
    fn within_plan(&mut self, mac: MacAddress, frequency_hz: u64) -> bool {
        let Some(plan) = &self.config.channel_plan else {
            return true;
        };
        let checked = plan.check(&mac.to_string(), frequency_hz);
        let gateway = self.gateway(mac);
        if gateway.refused.is_some() {
            return false;
        }
        let Err(refusal) = checked else {
            return true;
        };
        tracing::error!(%mac, frequency_hz, region = %refusal.region, "{refusal}");
        gateway.refused = Some(refusal);
        self.stats.forwarders_refused += 1;
        false
    }

    /// Handles one datagram; never waits, so that receiving stays cancel-safe.
    fn handle(&mut self, len: usize, from: SocketAddr) {
        let datagram = self.buffer.get(..len).unwrap_or_default();
        let message = match decode_up(datagram) {
            Ok(message) => message,
            Err(error) => return self.garbage(&error, from, len),
        };
        match message {
            UpMessage::PullData { token, mac } => {
                self.stats.pull_data += 1;
                self.reply(&encode_pull_ack(token), from);
                let new = self
                    .forwarders
                    .get(&mac)
                    .is_none_or(|g| g.pull_addr.is_none());
                let gateway = self.gateway(mac);
                let moved = gateway.pull_addr.is_some_and(|addr| addr != from);
                gateway.pull_addr = Some(from);
                gateway.last_pull = Some(Instant::now());
                if new {
                    self.stats.forwarders_connected += 1;
                    tracing::info!(%mac, %from, "packet forwarder connected");
                } else if moved {
                    tracing::info!(%mac, %from, "packet forwarder moved");
                }
            }
            UpMessage::PushData { token, mac, body } => {
                self.stats.push_data += 1;
                self.reply(&encode_push_ack(token), from);
                self.gateway(mac).push_addr = Some(from);
                match body {
                    Ok(body) => {
                        for reception in body.rxpk {
                            self.uplink(mac, reception);
                        }
                        match body.stat {
                            Some(Ok(stat)) => self.stat(mac, stat),
                            Some(Err(error)) => self.bad_json(&error, mac),
                            None => {}
                        }
                    }
                    Err(error) => self.bad_json(&error, mac),
                }
            }
            UpMessage::TxAck {
                token,
                mac,
                outcome,
            } => self.tx_ack(token, mac, from, outcome),
        }
    }

    /// Takes a TX_ACK as the answer to the PULL_RESP in flight only when its token, gateway EUI
    /// and source address all match; anything else is stray (logged, counted, ignored).
    fn tx_ack(
        &mut self,
        token: u16,
        mac: MacAddress,
        from: SocketAddr,
        outcome: Result<TxAccepted, TxRefusal>,
    ) {
        match &mut self.awaiting_ack {
            Some(awaited) if awaited.answered_by(token, mac, from) => {
                awaited.answer = Some(outcome);
            }
            awaited => {
                let expected = awaited
                    .as_ref()
                    .map(|a| format!("token {} from {} at {}", a.token, a.mac, a.addr));
                self.stats.stray_tx_acks += 1;
                if self.stats.stray_tx_acks.is_power_of_two() {
                    tracing::warn!(
                        token, %mac, %from, expected = expected.as_deref().unwrap_or("none"),
                        total = self.stats.stray_tx_acks,
                        "ignoring a TX_ACK that answers no transmission in flight"
                    );
                }
            }
        }
    }

    async fn receive_datagram(&mut self) -> Result<(), BackendError> {
        let (len, from) = self
            .socket
            .recv_from(&mut self.buffer)
            .await
            .map_err(io_error("receiving from packet forwarders".into()))?;
        self.handle(len, from);
        Ok(())
    }

    /// The forwarder to transmit through: the configured one, else the one that pulled most
    /// recently; either only if it pulled recently enough.
    fn transmitter(&self) -> Option<(MacAddress, SocketAddr)> {
        self.forwarders
            .values()
            .filter(|gateway| self.config.tx_gateway.is_none_or(|mac| gateway.mac == mac))
            .filter(|gateway| gateway.refused.is_none())
            .filter_map(|gateway| Some((gateway.mac, gateway.pull_addr?, gateway.last_pull?)))
            .filter(|(_, _, pulled)| pulled.elapsed() <= self.config.forwarder_timeout)
            .max_by_key(|(_, _, pulled)| *pulled)
            .map(|(mac, addr, _)| (mac, addr))
    }

    async fn wait_for_ack(
        &mut self,
        token: u16,
        mac: MacAddress,
        addr: SocketAddr,
    ) -> Result<TxAccepted, TxRefusal> {
        self.awaiting_ack = Some(AwaitedAck {
            token,
            mac,
            addr,
            answer: None,
        });
        let deadline = tokio::time::Instant::now() + self.config.tx_ack_timeout;
        loop {
            if let Some(answer) = self.awaiting_ack.as_mut().and_then(|a| a.answer.take()) {
                self.awaiting_ack = None;
                return answer;
            }
            match tokio::time::timeout_at(deadline, self.receive_datagram()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    self.awaiting_ack = None;
                    tracing::warn!(%error, "receiving while waiting for a TX_ACK");
                    return Err(TxRefusal::Other("socket error".into()));
                }
                Err(_) => {
                    self.awaiting_ack = None;
                    return Err(TxRefusal::NoAck(self.config.tx_ack_timeout));
                }
            }
        }
    }

    async fn try_transmit(
        &mut self,
        transmission: &Transmission,
        timing: TxTiming,
    ) -> Result<TxAccepted, TxRefusal> {
        let txpk = gwmp::txpk_for(transmission, timing)?;
        let (mac, addr) = self.transmitter().ok_or_else(|| {
            if let Some(mac) = self.config.tx_gateway {
                tracing::warn!(%mac, "the configured transmitting forwarder is not connected");
            }
            TxRefusal::NoForwarder
        })?;
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        let datagram = encode_pull_resp(token, txpk)
            .map_err(|error| TxRefusal::Unsupported(error.to_string()))?;
        if let Err(error) = self.socket.send_to(&datagram, addr).await {
            tracing::warn!(%error, %addr, "PULL_RESP not sent");
            return Err(TxRefusal::Other(format!(
                "PULL_RESP not sent: {}",
                error.kind()
            )));
        }
        self.stats.tx_requests += 1;
        tracing::debug!(%mac, %addr, token, "PULL_RESP sent");
        self.wait_for_ack(token, mac, addr).await
    }

    /// Transmits at a chosen time (see [`TxTiming`]); [`Backend::transmit`] sends immediately.
    /// Returns the power the forwarder sent at: the one asked for, or a TX_POWER warning's.
    pub async fn transmit_at(
        &mut self,
        transmission: &Transmission,
        timing: TxTiming,
    ) -> Result<Transmitted, BackendError> {
        match self.try_transmit(transmission, timing).await {
            Ok(TxAccepted::AsAsked) => {
                self.stats.tx_ok += 1;
                Ok(Transmitted::as_asked(transmission))
            }
            Ok(TxAccepted::AtPower { used_dbm }) => {
                self.stats.tx_ok += 1;
                self.stats.tx_power_reduced += 1;
                tracing::info!(
                    asked_dbm = transmission.power_dbm,
                    used_dbm,
                    "the packet forwarder sent at another power than asked (TX_POWER warning)"
                );
                Ok(Transmitted {
                    power_dbm: used_dbm as f32,
                })
            }
            Err(refusal) => {
                self.stats.tx_refused += 1;
                *self
                    .stats
                    .refusals
                    .entry(refusal.counter_name())
                    .or_default() += 1;
                Err(BackendError::Forwarder(refusal))
            }
        }
    }
}

impl Backend for SemtechUdpBackend {
    async fn transmit(&mut self, transmission: &Transmission) -> Result<Transmitted, BackendError> {
        self.transmit_at(transmission, TxTiming::Immediate).await
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        loop {
            if let Some(reception) = self.held.pop_ready() {
                return Ok(Some(reception));
            }
            let release = self.held.next_release();
            tokio::select! {
                received = self.receive_datagram() => received?,
                () = sleep_until_release(release) => {}
            }
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let stats = &self.stats;
        let mut counters = vec![
            ("push_data", stats.push_data),
            ("pull_data", stats.pull_data),
            ("uplinks", stats.uplinks),
            ("uplinks_bad_crc", stats.uplinks_bad_crc),
            ("unusable_uplinks", stats.unusable_uplinks),
            ("uplinks_dropped", stats.uplinks_dropped),
            ("uplinks_merged", stats.uplinks_merged),
            ("gateway_stats", stats.gateway_stats),
            ("gateway_rxnb", stats.gateway_rxnb),
            ("gateway_rxok", stats.gateway_rxok),
            ("gateway_rxfw", stats.gateway_rxfw),
            ("gateway_dwnb", stats.gateway_dwnb),
            ("gateway_txnb", stats.gateway_txnb),
            ("garbage_datagrams", stats.garbage),
            ("bad_json", stats.bad_json),
            ("forwarders_connected", stats.forwarders_connected),
            ("forwarders_known", self.forwarders.len() as u64),
            ("forwarders_refused", stats.forwarders_refused),
            ("uplinks_refused", stats.uplinks_refused),
            ("tx_requests", stats.tx_requests),
            ("tx_ok", stats.tx_ok),
            ("tx_power_reduced", stats.tx_power_reduced),
            ("tx_refused", stats.tx_refused),
            ("stray_tx_acks", stats.stray_tx_acks),
        ];
        counters.extend(
            TxRefusal::COUNTER_NAMES
                .iter()
                .map(|name| (*name, stats.refusals.get(name).copied().unwrap_or(0))),
        );
        counters
    }
}
