//! A radio made of LoRa Basics Station gateways: the hotspot is their LNS (websocket, "The LNS
//! Protocol"); the codec is [`crate::lns`].
//!
//! - `GET /router-info` (websocket): the station sends `{"router": ID}`, the answer names the
//!   muxs URI `ws://HOST/router-ID` (HOST from the request's `Host` header).
//! - `/router-ID` (websocket, the muxs connection): the station's `version` message is answered
//!   with a `router_config` built from the hotspot's region ([`crate::lns::router_config`]);
//!   its `updf`, `jreq`, `rejoin` and `propdf` uplinks become [`Reception`]s, one frame heard by
//!   several stations merged into one ([`crate::merge`]); a station whose uplink lies outside
//!   the region's band is refused ([`OffPlan`]): logged, counted, its frames not used, nothing
//!   sent through it.
//! - [`Backend::transmit`]: a `dnmsg` (class C, at once) to the transmitting station (the
//!   configured router, else the one connected most recently); the transmission counts as sent
//!   when its `dntxed` comes back, at the power the station sends at
//!   ([`BasicStationConfig::tx_power_dbm`]).
//! - `timesync` (sent by a station whose concentrator has a GPS PPS) is answered with the
//!   host clock's GPS time ([`crate::lns::timesync_answer`]); the host should keep its clock
//!   synchronised (NTP) for the station to take it.
//! - Unreadable messages are logged (rate-limited), counted and survived; any number of
//!   stations may be connected at once.

use crate::channel_plan::{ChannelPlan, OffPlan};
use crate::lns::{self, StationMessage, StationUplink};
use crate::merge::{sleep_until_release, HeldReceptions};
use crate::{Backend, BackendError, Reception, Transmission, Transmitted};
use futures::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Most receptions waiting for [`Backend::receive`]; newer ones are dropped beyond it.
const MAX_PENDING: usize = 4096;
/// How long a connection may take to finish its websocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the LNS listens and what it tells the stations.
#[derive(Debug, Clone)]
pub struct BasicStationConfig {
    /// TCP address stations connect to (their `tc.uri` is `ws://HOST:PORT`).
    pub listen: SocketAddr,
    /// The hotspot's region: the `router_config` sent, and the band uplinks must lie in.
    pub channel_plan: ChannelPlan,
    /// The most a station transmits at, dBm: sent as `max_eirp` (keep the station's antenna
    /// gain at 0 so that it is the conducted power) and the power a transmission is stated at
    /// when it asked for more.
    pub tx_power_dbm: f32,
    /// How long to wait for a downlink's `dntxed`.
    pub dntxed_timeout: Duration,
    /// How long a reception waits for the same frame from other stations.
    pub merge_window: Duration,
    /// The router (its id as in `/router-ID`) that transmits; `None`: the station that
    /// connected most recently.
    pub tx_router: Option<String>,
}

impl BasicStationConfig {
    /// Listens on `listen` for stations of `channel_plan`'s region, transmitting at most
    /// `tx_power_dbm`, with a 5 s `dntxed` timeout and a 200 ms merge window.
    pub fn new(listen: SocketAddr, channel_plan: ChannelPlan, tx_power_dbm: f32) -> Self {
        Self {
            listen,
            channel_plan,
            tx_power_dbm,
            dntxed_timeout: Duration::from_secs(5),
            merge_window: Duration::from_millis(200),
            tx_router: None,
        }
    }
}

/// Event counters of the backend.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BasicStationStats {
    /// `/router-info` discoveries answered with a muxs URI.
    pub router_info: u64,
    /// Muxs connections of stations.
    pub stations_connected: u64,
    /// Stations refused for an uplink outside the region's band.
    pub stations_refused: u64,
    /// `router_config` messages sent.
    pub router_configs: u64,
    /// Uplinks (`updf`, `jreq`, `rejoin`, `propdf`).
    pub uplinks: u64,
    /// Uplinks whose data rate the plan does not define, or whose signal is not a number.
    pub unusable_uplinks: u64,
    /// Uplinks of refused stations.
    pub uplinks_refused: u64,
    /// Uplinks dropped because nobody was receiving.
    pub uplinks_dropped: u64,
    /// Messages that could not be read, binary messages, and failed handshakes.
    pub bad_messages: u64,
    /// `timesync` requests answered.
    pub timesyncs: u64,
    /// Messages of other types (`rmtsh`, `dndf`, ...), ignored.
    pub other_messages: u64,
    /// `dnmsg` downlinks sent.
    pub tx_requests: u64,
    /// Downlinks confirmed by `dntxed`.
    pub tx_ok: u64,
    /// Transmissions impossible (no station) or unconfirmed.
    pub tx_refused: u64,
    /// `dntxed` messages for no downlink in flight.
    pub stray_dntxed: u64,
}

/// A connected station.
#[derive(Debug)]
struct Station {
    router: String,
    outgoing: mpsc::Sender<String>,
    refused: Option<OffPlan>,
}

/// What the connections and the backend share.
#[derive(Debug, Default)]
struct Shared {
    stations: BTreeMap<u64, Station>,
    awaiting: BTreeMap<i64, oneshot::Sender<()>>,
    stats: BasicStationStats,
    next_connection: u64,
}

/// The server's side: shared state, where receptions go, the plan.
struct Context {
    shared: Mutex<Shared>,
    receptions: mpsc::Sender<Reception>,
    config: BasicStationConfig,
    local_addr: SocketAddr,
}

impl Context {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bad_message(&self, error: &dyn std::fmt::Display, router: &str) {
        let mut shared = self.lock();
        shared.stats.bad_messages += 1;
        let total = shared.stats.bad_messages;
        if total.is_power_of_two() {
            tracing::warn!(%error, router, total, "unusable message from a Basic Station gateway");
        }
    }
}

/// A radio made of LoRa Basics Station gateways.
pub struct BasicStationBackend {
    context: Arc<Context>,
    receptions: mpsc::Receiver<Reception>,
    held: HeldReceptions,
    next_diid: i64,
    server: JoinHandle<()>,
}

impl Drop for BasicStationBackend {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl BasicStationBackend {
    /// Listens for stations on `config.listen` (port 0 picks a free port).
    pub async fn bind(config: BasicStationConfig) -> Result<Self, BackendError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| BackendError::Io {
                    context: format!("listening for Basic Station gateways on {}", config.listen),
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| BackendError::Io {
            context: "reading the bound address".into(),
            source,
        })?;
        tracing::info!(%local_addr, region = %config.channel_plan.region, "waiting for Basic Station gateways");
        let (sender, receptions) = mpsc::channel(MAX_PENDING);
        let held = HeldReceptions::new(config.merge_window, MAX_PENDING);
        let context = Arc::new(Context {
            shared: Mutex::new(Shared::default()),
            receptions: sender,
            config,
            local_addr,
        });
        let server = tokio::spawn(serve(listener, context.clone()));
        Ok(Self {
            context,
            receptions,
            held,
            next_diid: 1,
            server,
        })
    }

    /// The bound TCP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.context.local_addr
    }

    /// Event counters so far.
    pub fn stats(&self) -> BasicStationStats {
        self.context.lock().stats.clone()
    }

    /// The routers connected now, each with the reason it was refused, if it was.
    pub fn stations(&self) -> Vec<(String, Option<OffPlan>)> {
        let shared = self.context.lock();
        shared
            .stations
            .values()
            .map(|station| (station.router.clone(), station.refused.clone()))
            .collect()
    }

    /// The station to transmit through: the configured router, else the latest connected,
    /// never a refused one.
    fn transmitter(&self, shared: &Shared) -> Option<mpsc::Sender<String>> {
        let tx_router = self.context.config.tx_router.as_deref();
        shared
            .stations
            .values()
            .rev()
            .filter(|station| station.refused.is_none())
            .find(|station| tx_router.is_none_or(|router| station.router == router))
            .map(|station| station.outgoing.clone())
    }

    fn refuse(&self, reason: String) -> BackendError {
        self.context.lock().stats.tx_refused += 1;
        BackendError::Refused(reason)
    }

    async fn send_dnmsg(&mut self, transmission: &Transmission) -> Result<(), BackendError> {
        let diid = self.next_diid;
        self.next_diid += 1;
        let plan = &self.context.config.channel_plan;
        let message =
            lns::dnmsg(diid, transmission, plan).map_err(|error| self.refuse(error.to_string()))?;
        let (confirm, confirmed) = oneshot::channel();
        let outgoing = {
            let mut shared = self.context.lock();
            let outgoing = self.transmitter(&shared);
            if outgoing.is_some() {
                shared.awaiting.insert(diid, confirm);
                shared.stats.tx_requests += 1;
            }
            outgoing
        };
        let Some(outgoing) = outgoing else {
            return Err(self.refuse("no Basic Station gateway is connected".into()));
        };
        let timeout = self.context.config.dntxed_timeout;
        let sent = outgoing.send(message.to_string()).await.is_ok();
        let answered = sent && matches!(tokio::time::timeout(timeout, confirmed).await, Ok(Ok(())));
        if answered {
            self.context.lock().stats.tx_ok += 1;
            return Ok(());
        }
        self.context.lock().awaiting.remove(&diid);
        Err(self.refuse(format!(
            "the Basic Station gateway did not confirm the downlink (dntxed) within {timeout:?}"
        )))
    }
}

impl Backend for BasicStationBackend {
    async fn transmit(&mut self, transmission: &Transmission) -> Result<Transmitted, BackendError> {
        self.send_dnmsg(transmission).await?;
        Ok(Transmitted {
            power_dbm: transmission.power_dbm.min(self.context.config.tx_power_dbm),
        })
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        loop {
            if let Some(reception) = self.held.pop_ready() {
                return Ok(Some(reception));
            }
            let release = self.held.next_release();
            tokio::select! {
                received = self.receptions.recv() => match received {
                    Some(reception) => self.held.push(reception),
                    None => return Ok(None),
                },
                () = sleep_until_release(release) => {}
            }
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let shared = self.context.lock();
        let stats = &shared.stats;
        vec![
            ("router_info", stats.router_info),
            ("stations_connected", stats.stations_connected),
            ("stations_known", shared.stations.len() as u64),
            ("stations_refused", stats.stations_refused),
            ("router_configs", stats.router_configs),
            ("uplinks", stats.uplinks),
            ("unusable_uplinks", stats.unusable_uplinks),
            ("uplinks_refused", stats.uplinks_refused),
            (
                "uplinks_dropped",
                stats.uplinks_dropped + self.held.dropped(),
            ),
            ("uplinks_merged", self.held.merged()),
            ("bad_messages", stats.bad_messages),
            ("timesyncs", stats.timesyncs),
            ("other_messages", stats.other_messages),
            ("tx_requests", stats.tx_requests),
            ("tx_ok", stats.tx_ok),
            ("tx_refused", stats.tx_refused),
            ("stray_dntxed", stats.stray_dntxed),
        ]
    }
}

/// Accepts connections until the backend is dropped (which aborts this task and, with it,
/// every connection's task).
async fn serve(listener: TcpListener, context: Arc<Context>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(stream, peer, context.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting a Basic Station connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The request's path and `Host` header, as the handshake saw them.
type Target = Arc<Mutex<(String, Option<String>)>>;

/// Records the handshake's path and `Host` header into its [`Target`], accepting every request.
struct RecordTarget(Target);

impl Callback for RecordTarget {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        let host = request
            .headers()
            .get("host")
            .and_then(|host| host.to_str().ok())
            .map(str::to_string);
        if let Ok(mut seen) = self.0.lock() {
            *seen = (request.uri().path().to_string(), host);
        }
        Ok(response)
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, context: Arc<Context>) {
    let target: Target = Arc::default();
    let callback = RecordTarget(target.clone());
    let config = WebSocketConfig::default()
        .max_message_size(Some(lns::MAX_MESSAGE))
        .max_frame_size(Some(lns::MAX_MESSAGE));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config));
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => return context.bad_message(&error, &peer.to_string()),
        Err(_) => return context.bad_message(&"handshake timed out", &peer.to_string()),
    };
    let (path, host) = target
        .lock()
        .map(|target| target.clone())
        .unwrap_or_default();
    if path == "/router-info" {
        let host = host.unwrap_or_else(|| context.local_addr.to_string());
        router_info(ws, &host, &context).await;
    } else if let Some(router) = path.strip_prefix("/router-") {
        muxs(ws, router.to_string(), &context).await;
    } else {
        context.bad_message(&format!("no such endpoint {path:?}"), &peer.to_string());
    }
}

/// Answers one discovery request, then closes.
async fn router_info(mut ws: WebSocketStream<TcpStream>, host: &str, context: &Context) {
    let request = match tokio::time::timeout(HANDSHAKE_TIMEOUT, ws.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        _ => return context.bad_message(&"no router-info request", host),
    };
    let (answer, router) = lns::router_info_answer(request.as_str(), host);
    match &router {
        Some(router) => {
            context.lock().stats.router_info += 1;
            tracing::info!(router, "Basic Station discovery answered");
        }
        None => context.bad_message(&format!("router-info request {request:?}"), host),
    }
    let _ = ws.send(Message::text(answer.to_string())).await;
    let _ = ws.close(None).await;
}

/// Serves one station's muxs connection until it closes.
async fn muxs(ws: WebSocketStream<TcpStream>, router: String, context: &Context) {
    let (outgoing, mut to_send) = mpsc::channel::<String>(16);
    let number = {
        let mut shared = context.lock();
        shared.next_connection += 1;
        shared.stats.stations_connected += 1;
        let number = shared.next_connection;
        shared.stations.insert(
            number,
            Station {
                router: router.clone(),
                outgoing,
                refused: None,
            },
        );
        number
    };
    tracing::info!(router, "Basic Station gateway connected");
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            received = stream.next() => match received {
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = handle_text(context, number, &router, text.as_str()) {
                        if sink.send(Message::text(reply)).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => context.bad_message(&"a binary message", &router),
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {} // ping and pong: answered by the websocket layer
                Some(Err(error)) => {
                    context.bad_message(&error, &router);
                    break;
                }
            },
            Some(text) = to_send.recv() => {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        }
    }
    context.lock().stations.remove(&number);
    tracing::info!(router, "Basic Station gateway disconnected");
}

/// Handles one text message of station `number`; returns what to answer, if anything.
fn handle_text(context: &Context, number: u64, router: &str, text: &str) -> Option<String> {
    let message = match lns::decode_station(text) {
        Ok(message) => message,
        Err(error) => {
            context.bad_message(&error, router);
            return None;
        }
    };
    match message {
        StationMessage::Version(version) => {
            tracing::info!(router, station = ?version.station, model = ?version.model,
                protocol = ?version.protocol, "Basic Station version; sending router_config");
            context.lock().stats.router_configs += 1;
            let config = &context.config;
            let mut reply = lns::router_config(&config.channel_plan);
            reply["max_eirp"] = serde_json::json!(config.tx_power_dbm);
            Some(reply.to_string())
        }
        StationMessage::Uplink(uplink) => {
            station_uplink(context, number, router, &uplink);
            None
        }
        StationMessage::Dntxed(dntxed) => {
            let mut shared = context.lock();
            match shared.awaiting.remove(&dntxed.diid) {
                Some(confirm) => {
                    let _ = confirm.send(());
                }
                None => shared.stats.stray_dntxed += 1,
            }
            None
        }
        StationMessage::Timesync(request) => {
            context.lock().stats.timesyncs += 1;
            Some(lns::timesync_answer(&request, unix_us()).to_string())
        }
        StationMessage::Other(kind) => {
            context.lock().stats.other_messages += 1;
            tracing::debug!(router, kind, "ignoring a station message");
            None
        }
    }
}

/// The host's clock, microseconds since the Unix epoch (0 if it is set before it).
fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

/// An uplink of station `number`: checked against the region's band (refusing the station when
/// it lies outside), turned into a reception and queued.
fn station_uplink(context: &Context, number: u64, router: &str, uplink: &StationUplink) {
    let plan = &context.config.channel_plan;
    {
        let mut guard = context.lock();
        let shared = &mut *guard;
        shared.stats.uplinks += 1;
        let Some(station) = shared.stations.get_mut(&number) else {
            return;
        };
        if station.refused.is_none() {
            if let Err(refusal) = plan.check(router, uplink.freq) {
                tracing::error!(router, frequency_hz = uplink.freq, region = %plan.region, "{refusal}");
                station.refused = Some(refusal);
                shared.stats.stations_refused += 1;
            }
        }
        if station.refused.is_some() {
            shared.stats.uplinks_refused += 1;
            return;
        }
    }
    match lns::reception_from_uplink(uplink, plan) {
        Ok(reception) => {
            if context.receptions.try_send(reception).is_err() {
                context.lock().stats.uplinks_dropped += 1;
            }
        }
        Err(error) => {
            context.lock().stats.unusable_uplinks += 1;
            tracing::debug!(%error, router, "unusable uplink");
        }
    }
}
