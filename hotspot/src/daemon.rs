//! The hotspot daemon: beacons once per interval and witnesses what its radio hears. Every
//! signed report goes to the durable [`Outbox`] first; a delivery task hands them to the oracle.
//! The radio loop never waits on the oracle: at a beacon moment the entropy is fetched in a task
//! of its own (at most [`ENTROPY_TIMEOUT`]), and the radio is served meanwhile.

use crate::client::OracleClient;
use crate::delivery::{Backoff, Outbox};
use crate::metrics::{label, Metrics};
use crate::node::{Hotspot, HotspotError, PreparedBeacon};
use crate::schedule::next_beacon_ms;
use crate::spool::{Report, SpoolError};
use crate::uplink::{Downlink, Upstream};
use poc::proto;
use radio_io::{Backend, BackendError, Reception, Transmission};
use rand::SeedableRng;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Keeps the beacon this far from the end of its interval so its report stays in the bucket.
const BEACON_MARGIN_MS: u64 = 5 * 60_000;
/// How often the radio's counters are copied into the metrics.
const RADIO_STATS_PERIOD: Duration = Duration::from_secs(10);
/// The longest wait for the oracle's entropy at a beacon moment; past it the beacon is skipped.
pub const ENTROPY_TIMEOUT: Duration = Duration::from_secs(30);

/// The oracle's entropy being fetched in its own task; the error is for the log.
type EntropyCall = JoinHandle<Result<proto::Entropy, String>>;

/// Asks the oracle for its entropy, giving up after [`ENTROPY_TIMEOUT`].
async fn fetch_entropy(mut client: OracleClient) -> Result<proto::Entropy, String> {
    match tokio::time::timeout(ENTROPY_TIMEOUT, client.entropy()).await {
        Ok(Ok(entropy)) => Ok(entropy),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "the oracle did not answer within {ENTROPY_TIMEOUT:?}"
        )),
    }
}

/// The answer of the entropy call in flight; never completes when there is none.
async fn entropy_answer(call: &mut Option<EntropyCall>) -> Result<proto::Entropy, String> {
    match call {
        Some(handle) => handle
            .await
            .unwrap_or_else(|error| Err(format!("the entropy task failed: {error}"))),
        None => std::future::pending().await,
    }
}

/// Errors that stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The radio failed beyond recovery.
    #[error("radio: {0}")]
    Radio(#[from] BackendError),
    /// The hotspot's logic failed.
    #[error(transparent)]
    Hotspot(#[from] HotspotError),
    /// The report spool failed (disk full, permissions).
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// What the daemon did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DaemonStats {
    /// Beacons transmitted (and their reports queued).
    pub beacons_sent: u64,
    /// Beacons skipped: no entropy from the oracle, or the radio refused them.
    pub beacons_skipped: u64,
    /// Frames the radio decoded.
    pub frames_heard: u64,
    /// Witness reports queued for the oracle.
    pub witnesses_queued: u64,
    /// Network servers' downlinks the radio took.
    pub downlinks_sent: u64,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The most downlinks waiting for their time; beyond, new ones are dropped (and counted).
const MAX_PENDING_DOWNLINKS: usize = 256;

/// Downlinks accepted from network servers, waiting for their time.
#[derive(Debug, Default)]
struct Downlinks {
    /// Where the network servers' clients hand them over; `None` without upstream.
    incoming: Option<mpsc::Receiver<Downlink>>,
    /// Waiting, the soonest last.
    pending: Vec<Downlink>,
    /// How long before its time a downlink goes to the radio.
    lead: Duration,
}

impl Downlinks {
    /// Keeps a downlink until its time (an immediate one is due now).
    fn push(&mut self, downlink: Downlink) {
        let due = |downlink: &Downlink| downlink.at_unix_ns.unwrap_or(0);
        let at = due(&downlink);
        let index = self.pending.partition_point(|other| due(other) > at);
        self.pending.insert(index, downlink);
    }

    /// How long until the soonest pending downlink goes to the radio.
    fn wait(&self, now_ns: u64) -> Option<Duration> {
        let at = self.pending.last()?.at_unix_ns.unwrap_or(0);
        let handoff = at.saturating_sub(u64::try_from(self.lead.as_nanos()).unwrap_or(u64::MAX));
        Some(Duration::from_nanos(handoff.saturating_sub(now_ns)))
    }

    /// The next downlink from the clients; never completes without upstream.
    async fn next(&mut self) -> Option<Downlink> {
        match &mut self.incoming {
            Some(incoming) => incoming.recv().await,
            None => std::future::pending().await,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs a hotspot on a radio backend until shutdown.
pub struct Daemon<B: Backend> {
    hotspot: Hotspot,
    client: OracleClient,
    backend: B,
    outbox: Outbox,
    metrics: Metrics,
    backoff: Backoff,
    interval_ms: Option<u64>,
    stats: DaemonStats,
    last_beacon: Option<Vec<u8>>,
    upstream: Option<Upstream>,
    downlinks: Downlinks,
}

impl<B: Backend> Daemon<B> {
    /// A daemon for `hotspot` on `backend`, beaconing once per `interval`, queueing reports in
    /// `outbox` and delivering them through `client`.
    pub fn new(
        hotspot: Hotspot,
        client: OracleClient,
        backend: B,
        outbox: Outbox,
        interval: Duration,
    ) -> Self {
        Self {
            hotspot,
            client,
            backend,
            metrics: Metrics::new(),
            outbox,
            backoff: Backoff::default(),
            interval_ms: Some(interval.as_millis().max(1) as u64),
            stats: DaemonStats::default(),
            last_beacon: None,
            upstream: None,
            downlinks: Downlinks::default(),
        }
    }

    /// Records into `metrics` (share them with the outbox and the metrics server).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Retries deliveries with this backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Forwards the LoRaWAN uplinks it hears to network servers, and transmits the downlinks
    /// they send at their time.
    pub fn with_upstream(mut self, mut upstream: Upstream) -> Self {
        self.downlinks.incoming = upstream.take_downlinks();
        self.downlinks.lead = upstream.limits().lead;
        self.upstream = Some(upstream);
        self
    }

    /// Listens only: never beacons (a receive-only radio, or tests).
    pub fn without_beacons(mut self) -> Self {
        self.interval_ms = None;
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> &DaemonStats {
        &self.stats
    }

    /// The hotspot it runs.
    pub fn hotspot(&self) -> &Hotspot {
        &self.hotspot
    }

    /// Its outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Its metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn skip_beacon(&mut self) {
        self.stats.beacons_skipped += 1;
        self.metrics.beacons_skipped.inc();
    }

    /// A beacon moment: starts fetching the oracle's entropy in its own task, unless the
    /// previous moment's call is still waiting for the oracle (then this beacon is skipped).
    fn start_beacon(&mut self, call: &mut Option<EntropyCall>) {
        if call.is_some() {
            self.skip_beacon();
            tracing::warn!(
                "the oracle has not answered the previous entropy request: beacon skipped"
            );
            return;
        }
        *call = Some(tokio::spawn(fetch_entropy(self.client.clone())));
    }

    /// Beacons with the entropy the oracle answered, or skips this interval's beacon.
    async fn beacon(&mut self, answer: Result<proto::Entropy, String>) -> Result<(), DaemonError> {
        match answer {
            Ok(entropy) => self
                .beacon_with(&entropy, rand::random(), now_ms())
                .await
                .map(drop),
            Err(error) => {
                self.skip_beacon();
                tracing::warn!(%error, "no entropy: beacon skipped this interval");
                Ok(())
            }
        }
    }

    /// Beacons once: builds the beacon of the oracle's `entropy` and the hotspot's
    /// `local_entropy`, stamped `timestamp_ms`, puts it on air and queues its report, stating
    /// the power the radio says it sent at. Returns the beacon, or `None` when it was skipped
    /// (entropy not signed by the oracle, or the radio did not send it). The daemon's own
    /// schedule calls this with fresh entropy, random local entropy and the current time.
    pub async fn beacon_with(
        &mut self,
        entropy: &proto::Entropy,
        local_entropy: [u8; 4],
        timestamp_ms: u64,
    ) -> Result<Option<PreparedBeacon>, DaemonError> {
        let mut prepared = match self.hotspot.prepare_beacon(
            entropy,
            local_entropy,
            timestamp_ms * 1_000_000,
        ) {
            Ok(prepared) => prepared,
            Err(HotspotError::Entropy(error)) => {
                self.skip_beacon();
                tracing::warn!(%error, "the oracle's entropy is not signed right: beacon skipped");
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        let transmission = Transmission {
            frequency_hz: prepared.beacon.frequency_hz,
            params: prepared.params,
            payload: prepared.beacon.payload.clone(),
            power_dbm: prepared.beacon.tx_power_ddbm as f32 / 10.0,
        };
        let transmitted = match self.backend.transmit(&transmission).await {
            Ok(transmitted) => transmitted,
            Err(error) => {
                self.skip_beacon();
                tracing::warn!(%error, "the radio did not send the beacon: no report filed");
                return Ok(None);
            }
        };
        let sent_ddbm = (transmitted.power_dbm * 10.0).round() as i32;
        if sent_ddbm > prepared.beacon.tx_power_ddbm {
            tracing::warn!(
                asked_dbm = transmission.power_dbm,
                sent_dbm = transmitted.power_dbm,
                "the radio sent the beacon louder than asked, above the region's limit: the \
                 oracle will refuse it (check the forwarder's TX gain table)"
            );
        }
        if sent_ddbm != prepared.beacon.tx_power_ddbm {
            tracing::info!(
                asked_dbm = transmission.power_dbm,
                sent_dbm = transmitted.power_dbm,
                "the radio sent the beacon at another power: its report states the power sent"
            );
            self.hotspot.sent_at_power(&mut prepared, sent_ddbm);
        }
        self.stats.beacons_sent += 1;
        self.metrics.beacons_sent.inc();
        tracing::info!(
            frequency_hz = prepared.beacon.frequency_hz,
            sf = prepared.params.spreading_factor,
            power_dbm = transmitted.power_dbm,
            "beacon transmitted"
        );
        self.last_beacon = Some(prepared.beacon.payload.clone());
        self.outbox
            .enqueue(Report::Beacon(prepared.report.clone()))
            .await?;
        Ok(Some(prepared))
    }

    /// Handles a frame the radio decoded: a beacon of another hotspot becomes a witness report
    /// in the outbox (returned), anything else is counted as an uplink and forwarded when an
    /// upstream is set. The daemon calls this for every reception of its radio.
    pub async fn hear(
        &mut self,
        reception: Reception,
    ) -> Result<Option<proto::WitnessReport>, DaemonError> {
        self.stats.frames_heard += 1;
        self.metrics.frames_heard.inc();
        if self.last_beacon.as_deref() == Some(reception.frame.payload.as_slice()) {
            return Ok(None); // our own beacon coming back
        }
        let Some(report) = self.hotspot.witness(
            &reception.frame,
            reception.frequency_hz,
            reception.timestamp_ns,
        ) else {
            crate::uplink::observe(&reception, &self.metrics, self.upstream.as_ref());
            return Ok(None);
        };
        self.outbox.enqueue(Report::Witness(report.clone())).await?;
        self.stats.witnesses_queued += 1;
        self.metrics.witnesses_accepted.inc();
        tracing::info!(
            frequency_hz = reception.frequency_hz,
            rssi_dbm = reception.frame.rssi_dbm,
            snr_db = reception.frame.snr_db,
            "witness report queued"
        );
        Ok(Some(report))
    }

    /// Puts a network server's downlink on air now (its time has come), counting the radio's
    /// answer; a refusal is logged, the TX_ACK having gone out when it was accepted, as a
    /// packet forwarder's does.
    pub async fn transmit_downlink(&mut self, downlink: &Downlink) {
        let outcome = match self.backend.transmit(&downlink.transmission).await {
            Ok(transmitted) => {
                self.stats.downlinks_sent += 1;
                tracing::debug!(
                    frequency_hz = downlink.transmission.frequency_hz,
                    power_dbm = transmitted.power_dbm,
                    late_us =
                        now_ns().saturating_sub(downlink.at_unix_ns.unwrap_or(u64::MAX)) / 1000,
                    "downlink transmitted"
                );
                "transmitted"
            }
            Err(error) => {
                tracing::warn!(%error, "the radio did not send a network server's downlink");
                "radio_refused"
            }
        };
        (self.metrics.downlinks)
            .get_or_create(&label("outcome", outcome))
            .inc();
    }

    fn copy_radio_counters(&self) {
        for (name, value) in self.backend.counters() {
            self.metrics
                .radio
                .get_or_create(&label("event", name))
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// Beacons and witnesses until `shutdown` completes, delivering reports meanwhile. When the
    /// radio's stream ends the daemon keeps beaconing (if it may) and delivering. On shutdown
    /// an in-flight delivery is finished before returning; undelivered reports stay spooled.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<DaemonStats, DaemonError> {
        let delivery = self
            .outbox
            .spawn_delivery(self.client.clone(), self.backoff);
        let result = self.serve(shutdown).await;
        if let Err(error) = delivery.stop().await {
            tracing::error!(%error, "report delivery failed");
        }
        self.copy_radio_counters();
        result.map(|()| self.stats)
    }

    async fn serve(&mut self, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
        let mut entropy_call = None;
        let result = self.serve_radio(shutdown, &mut entropy_call).await;
        if let Some(call) = entropy_call {
            call.abort();
        }
        result
    }

    /// The radio loop: every branch is the radio's or the clock's; the oracle is only ever
    /// awaited through `entropy_call`, a task of its own.
    async fn serve_radio(
        &mut self,
        shutdown: impl Future<Output = ()>,
        entropy_call: &mut Option<EntropyCall>,
    ) -> Result<(), DaemonError> {
        tokio::pin!(shutdown);
        let mut rng = rand::rngs::StdRng::from_entropy();
        let mut next_beacon = self
            .interval_ms
            .map(|interval| next_beacon_ms(now_ms(), interval, BEACON_MARGIN_MS, &mut rng));
        let mut radio_open = true;
        let mut stats_tick = tokio::time::interval(RADIO_STATS_PERIOD);
        loop {
            let wait = Duration::from_millis(next_beacon.unwrap_or(0).saturating_sub(now_ms()));
            let downlink_wait = self.downlinks.wait(now_ns());
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = tokio::time::sleep(wait), if next_beacon.is_some() => {
                    self.start_beacon(entropy_call);
                    if let (Some(at), Some(interval)) = (next_beacon, self.interval_ms) {
                        let next_interval = (at / interval + 1) * interval;
                        next_beacon = Some(next_beacon_ms(next_interval, interval, BEACON_MARGIN_MS, &mut rng));
                    }
                }
                received = self.backend.receive(), if radio_open => match received? {
                    Some(reception) => {
                        self.hear(reception).await?;
                    }
                    None => {
                        tracing::info!("the radio's receive stream ended");
                        radio_open = false;
                    }
                },
                answer = entropy_answer(entropy_call), if entropy_call.is_some() => {
                    *entropy_call = None;
                    self.beacon(answer).await?;
                }
                Some(downlink) = self.downlinks.next() => {
                    if self.downlinks.pending.len() < MAX_PENDING_DOWNLINKS {
                        self.downlinks.push(downlink);
                    } else {
                        tracing::warn!("too many downlinks waiting: one dropped");
                        (self.metrics.downlinks)
                            .get_or_create(&label("outcome", "queue_full"))
                            .inc();
                    }
                }
                _ = tokio::time::sleep(downlink_wait.unwrap_or_default()),
                    if downlink_wait.is_some() => {
                    if let Some(downlink) = self.downlinks.pending.pop() {
                        self.transmit_downlink(&downlink).await;
                    }
                }
                _ = stats_tick.tick() => self.copy_radio_counters(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn downlink(at_unix_ns: Option<u64>) -> Downlink {
        Downlink {
            at_unix_ns,
            transmission: Transmission {
                frequency_hz: 923_300_000,
                params: radio::params::LoraParams::new(9, 500_000),
                payload: vec![1],
                power_dbm: 20.0,
            },
            inverted_iq: true,
        }
    }

    #[test]
    fn downlinks_go_to_the_radio_soonest_first_a_lead_before_their_time() {
        let mut downlinks = Downlinks {
            lead: Duration::from_millis(20),
            ..Downlinks::default()
        };
        assert_eq!(downlinks.wait(0), None);
        let now = 1_000_000_000_000;
        for at in [
            now + 2_000_000_000,
            now + 1_000_000_000,
            now + 3_000_000_000,
        ] {
            downlinks.push(downlink(Some(at)));
        }
        assert_eq!(downlinks.wait(now), Some(Duration::from_millis(980)));
        assert_eq!(downlinks.wait(now + 990_000_000), Some(Duration::ZERO));
        downlinks.push(downlink(None));
        assert_eq!(downlinks.wait(now), Some(Duration::ZERO));
        let order: Vec<_> = std::iter::from_fn(|| downlinks.pending.pop())
            .map(|downlink| downlink.at_unix_ns)
            .collect();
        assert_eq!(
            order,
            [
                None,
                Some(now + 1_000_000_000),
                Some(now + 2_000_000_000),
                Some(now + 3_000_000_000)
            ]
        );
    }
}
