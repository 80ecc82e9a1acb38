//! The oracle's configuration, read from TOML; every field has a default.

use crate::reputation::ReputationConfig;
use crate::rewards::RewardParams;
use serde::{Deserialize, Serialize};

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The TOML does not parse or has unknown fields.
    #[error("{0}")]
    Parse(String),
    /// A value is out of its range or inconsistent with another.
    #[error("{0}")]
    Invalid(String),
}

/// How hotspots near one another share their place in the hex density scaling (`[density]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DensitySharing {
    /// HIP-104's levels at resolutions 4 to 10, as Helium ran them: hotspots in one
    /// resolution-8 hex share it, so a location moved a few hundred metres into an empty hex
    /// doubles a share.
    Hexes,
    /// HIP-104's levels at resolutions 4 to 7, and each hotspot's own place shared with the
    /// hotspots within `radius_m` by distance (`h3_coverage::shared_density_scales`), so a
    /// share changes smoothly with a move no location check can see.
    Distance,
}

/// The density scaling's rule (`[density]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DensityConfig {
    /// Hexes or distance.
    pub sharing: DensitySharing,
    /// With `distance`: how far a hotspot's place reaches, in metres (840: a resolution-8
    /// hex's area).
    pub radius_m: f64,
}

impl Default for DensityConfig {
    fn default() -> Self {
        Self {
            sharing: DensitySharing::Distance,
            radius_m: 840.0,
        }
    }
}

impl DensityConfig {
    /// HIP-104's seven levels, as Helium ran them.
    pub fn hexes() -> Self {
        Self {
            sharing: DensitySharing::Hexes,
            ..Self::default()
        }
    }

    /// Each hotspot's density scale under this rule, given its asserted cell (see
    /// `h3_coverage::density`).
    pub fn scales<K: Ord + Clone>(
        &self,
        hotspots: &[(K, h3_coverage::CellIndex)],
    ) -> std::collections::BTreeMap<K, f64> {
        match self.sharing {
            DensitySharing::Hexes => {
                h3_coverage::density_scales(hotspots, &h3_coverage::hip104_levels())
            }
            DensitySharing::Distance => h3_coverage::shared_density_scales(
                hotspots,
                &h3_coverage::hip104_coarse_levels(),
                self.radius_m,
            ),
        }
    }

    /// Checks the radius.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1.0..=100_000.0).contains(&self.radius_m) {
            return Err(ConfigError::Invalid(
                "density.radius_m must be between 1 and 100 000".into(),
            ));
        }
        Ok(())
    }
}

/// Reward parameters as configured; converted to [`RewardParams`] when an epoch closes.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardConfig {
    /// Proof-of-coverage emission per epoch, in the smallest token unit.
    pub emission: u64,
    /// Weight of the beacon pool.
    pub beacon_weight: u64,
    /// Weight of the witness pool.
    pub witness_weight: u64,
    /// Witness count up to which rewards grow linearly (HIP-15 `N`).
    pub witness_target: u32,
    /// Decay of rewards beyond the target (HIP-15 `r`).
    pub witness_decay: f64,
    /// The rewarded token's symbol, as the explorer shows amounts.
    pub token: String,
    /// Decimal places of the token: an amount of `n` smallest units is `n / 10^decimals`
    /// tokens.
    pub decimals: u32,
}

/// Most decimal places a token may have (`10^19` overflows a `u64`).
pub const MAX_TOKEN_DECIMALS: u32 = 18;

impl Default for RewardConfig {
    fn default() -> Self {
        let params = RewardParams::default();
        Self {
            emission: params.emission,
            beacon_weight: params.beacon_weight,
            witness_weight: params.witness_weight,
            witness_target: params.witness_target,
            witness_decay: params.witness_decay,
            token: "IOT".into(),
            decimals: 6,
        }
    }
}

impl RewardConfig {
    /// The parameters the reward computation takes.
    pub fn params(&self) -> RewardParams {
        RewardParams {
            emission: self.emission,
            beacon_weight: self.beacon_weight,
            witness_weight: self.witness_weight,
            witness_target: self.witness_target,
            witness_decay: self.witness_decay,
        }
    }
}

/// Hotspots and beaconer–witness pairs whose reports are refused (`denylisted`,
/// `denylisted_edge`), by address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DenylistConfig {
    /// Hotspot addresses: their beacons and witnesses are invalid.
    pub hotspots: Vec<String>,
    /// Address pairs: either one's witness reports of the other's beacons are invalid.
    pub edges: Vec<[String; 2]>,
}

impl DenylistConfig {
    fn parse(text: &str) -> Result<[u8; 32], ConfigError> {
        text.parse::<poc::Address>()
            .map(|a| a.0)
            .map_err(|e| ConfigError::Invalid(format!("denylist address {text:?}: {e}")))
    }

    /// Whether a hotspot is denylisted (unparsable entries, refused by `validate`, match none).
    pub fn has_hotspot(&self, key: &[u8; 32]) -> bool {
        self.hotspots
            .iter()
            .any(|a| Self::parse(a).is_ok_and(|k| &k == key))
    }

    /// Whether the pair of `beaconer` and `witness` is denylisted, in either order (edges are
    /// not directional, as in Helium).
    pub fn has_edge(&self, beaconer: &[u8; 32], witness: &[u8; 32]) -> bool {
        self.edges.iter().any(|[a, b]| {
            let (Ok(a), Ok(b)) = (Self::parse(a), Self::parse(b)) else {
                return false;
            };
            (&a == beaconer && &b == witness) || (&a == witness && &b == beaconer)
        })
    }

    /// Checks that every entry is an address.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for a in self.hotspots.iter().chain(self.edges.iter().flatten()) {
            Self::parse(a)?;
        }
        Ok(())
    }
}

/// Limits of the gRPC ingest server (`[grpc]`): how long a request may take, how many a
/// connection may have open at once, and how a silent peer is found out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    /// Longest time a request may take, from its headers to its answer; then it is answered
    /// `CANCELLED` and its stream reset.
    pub request_timeout_ms: u64,
    /// Most requests (HTTP/2 streams) one connection may have open at once, announced to the
    /// client in the connection's settings.
    pub max_concurrent_streams: u32,
    /// How often an idle connection is pinged (HTTP/2 PING).
    pub keepalive_interval_ms: u64,
    /// How long a ping may go unanswered; then the connection is closed.
    pub keepalive_timeout_ms: u64,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            max_concurrent_streams: 64,
            keepalive_interval_ms: 60_000,
            keepalive_timeout_ms: 20_000,
        }
    }
}

impl GrpcConfig {
    /// Checks that every limit is positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.request_timeout_ms == 0
            || self.max_concurrent_streams == 0
            || self.keepalive_interval_ms == 0
            || self.keepalive_timeout_ms == 0
        {
            return Err(ConfigError::Invalid(
                "every [grpc] limit must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Limits of the explorer's HTTP server (`[http]`): how long a client may take to send a
/// request, how many connections it may hold and how fast it may ask.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Longest time a connection may take to send a request's headers, counted from when the
    /// server starts waiting for them (an idle keep-alive connection waits for the next
    /// request's headers); then the connection is closed.
    pub header_read_timeout_ms: u64,
    /// Longest time a request's body may take to arrive once its headers have; then the request
    /// is answered 408 and the connection closed.
    pub body_read_timeout_ms: u64,
    /// Longest time a response may wait to be written without the client taking any of it (a
    /// client that stops reading); then the connection is closed.
    pub response_write_timeout_ms: u64,
    /// Most connections open at once from one client (an IPv4 address or an IPv6 /64); further
    /// ones are closed at once. 0: no cap.
    pub max_connections_per_client: u32,
    /// Requests per second each client may make in the long run (token bucket refill rate);
    /// beyond it, 429 with `Retry-After`. 0: no rate limit.
    pub requests_per_second: u32,
    /// Requests a client may make in a burst (token bucket size).
    pub burst: u32,
    /// Most clients whose bucket is remembered; beyond it, the fullest buckets are forgotten.
    pub max_tracked_clients: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            response_write_timeout_ms: 30_000,
            max_connections_per_client: 32,
            requests_per_second: 20,
            burst: 100,
            max_tracked_clients: 10_000,
        }
    }
}

impl HttpConfig {
    /// Checks that the timeouts are positive and the bucket can hold a request.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.header_read_timeout_ms == 0
            || self.body_read_timeout_ms == 0
            || self.response_write_timeout_ms == 0
        {
            return Err(ConfigError::Invalid(
                "http.header_read_timeout_ms, http.body_read_timeout_ms and \
                 http.response_write_timeout_ms must be positive"
                    .into(),
            ));
        }
        if self.requests_per_second > 0 && (self.burst == 0 || self.max_tracked_clients == 0) {
            return Err(ConfigError::Invalid(
                "http.burst and http.max_tracked_clients must be positive with a rate limit".into(),
            ));
        }
        Ok(())
    }
}

/// Where the oracle writes each closed epoch's report archive (`[archive]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// The archive's directory; unset: `archive/` in the data directory (an oracle over a
    /// store alone, without a data directory, keeps no archive unless this is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<std::path::PathBuf>,
    /// Row ids per record file of an epoch's beacons or witnesses: the file of block `b` holds
    /// the epoch's reports whose row ids divided by this are `b`. Operators sharing a report
    /// log must use the same value, or their manifests differ.
    #[serde(skip_serializing_if = "is_default_block_rows")]
    pub block_rows: u32,
}

/// Row ids per archive record file unless configured.
pub const DEFAULT_BLOCK_ROWS: u32 = 1 << 15;

fn is_default_block_rows(rows: &u32) -> bool {
    *rows == DEFAULT_BLOCK_ROWS
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            dir: None,
            block_rows: DEFAULT_BLOCK_ROWS,
        }
    }
}

/// The report log several oracle operators share (`[report_log]`): a NATS JetStream stream
/// into which each operator publishes what it ingests, and from which every operator applies
/// every entry in the log's order (`oracle::report_log`). Unset `url`: one oracle alone, its
/// ingest storing directly.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportLogConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`; unset: no shared log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The JetStream stream's name; its one subject is `<stream>.entries`.
    pub stream: String,
    /// Base58 addresses of the operators whose entries are applied (this operator's own
    /// included); entries signed by any other key are skipped, by every operator alike.
    pub operators: Vec<String>,
    /// How often an operator publishes a tick, which moves the log's time on while no
    /// reports arrive.
    pub tick_ms: u64,
    /// How many operators must sign an epoch's ledger entry (version 4); 0: a majority,
    /// `operators / 2 + 1`.
    pub threshold: u32,
}

impl Default for ReportLogConfig {
    fn default() -> Self {
        Self {
            url: None,
            stream: "LORAPOC_REPORTS".into(),
            operators: Vec::new(),
            tick_ms: 1_000,
            threshold: 0,
        }
    }
}

impl ReportLogConfig {
    /// Whether no shared log is configured.
    pub fn is_off(&self) -> bool {
        self.url.is_none()
    }

    /// Checks a configured log: a stream name of letters, digits, `-` and `_`, at least one
    /// operator, each a distinct address, a threshold no larger than the operators, and a
    /// positive tick.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.is_off() {
            return Ok(());
        }
        let invalid = |what: String| Err(ConfigError::Invalid(format!("[report_log] {what}")));
        let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.stream.is_empty() || self.stream.len() > 64 || !self.stream.chars().all(name_ok) {
            return invalid(format!(
                "stream {:?} must be 1 to 64 letters, digits, '-' or '_'",
                self.stream
            ));
        }
        if self.operators.is_empty() {
            return invalid("needs at least one operator address".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for operator in &self.operators {
            let Ok(address) = operator.parse::<poc::Address>() else {
                return invalid(format!("operator {operator:?} is not a base58 address"));
            };
            if !seen.insert(address.0) {
                return invalid(format!("operator {operator} is listed twice"));
            }
        }
        if self.tick_ms == 0 {
            return invalid("tick_ms must be positive".into());
        }
        if self.threshold as usize > self.operators.len() {
            return invalid(format!(
                "threshold {} is more than the {} operators",
                self.threshold,
                self.operators.len()
            ));
        }
        Ok(())
    }

    /// How many operators must sign an entry: `threshold`, or a majority when it is 0.
    pub fn quorum_threshold(&self) -> u32 {
        match self.threshold {
            0 => (self.operators.len() / 2 + 1) as u32,
            t => t,
        }
    }
}

/// Everything the oracle can be tuned with.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OracleConfig {
    /// How often fresh entropy is published.
    pub entropy_period_ms: u64,
    /// How long after its timestamp an entropy value may be used.
    pub entropy_window_ms: u64,
    /// One beacon per hotspot per interval bucket; must divide `epoch_ms`.
    pub beacon_interval_ms: u64,
    /// Length of a reward epoch.
    pub epoch_ms: u64,
    /// Most witnesses of one beacon that are rewarded.
    pub max_witnesses_per_beacon: u32,
    /// Least H3 grid distance (between resolution-11 parents) from witness to beaconer.
    pub min_witness_grid_distance: u32,
    /// Greatest great-circle distance from witness to beaconer, in metres.
    pub max_witness_distance_m: f64,
    /// Latest a witness report may arrive after its beacon report.
    pub witness_late_ms: u64,
    /// Latest a witness report may arrive after the beacon's first valid witness (Helium:
    /// 1 500 ms).
    pub witness_after_first_ms: u64,
    /// Largest difference between a witness's and its beacon's frequency.
    pub max_frequency_offset_hz: u64,
    /// Receiver noise figure assumed by the SNR check, in dB (added to the thermal floor).
    pub noise_figure_db: f64,
    /// Slack granted above the free-space RSSI bound, in tenths of dB (Helium: none).
    pub rssi_margin_ddb: i32,
    /// How far below its spreading factor's demodulation floor (−7.5 dB at SF7 … −20 dB at
    /// SF12) a witness's SNR may be before it is `snr_too_low`, in dB.
    pub snr_floor_margin_db: f64,
    /// How much louder than the path-loss model fitted to a beacon's other witnesses a witness
    /// may be before it is `inconsistent_signal`, in dB.
    pub consistency_margin_db: f64,
    /// Fewest valid witnesses of a beacon (the suspect included) for the consistency check.
    pub consistency_min_witnesses: u32,
    /// HIP-106 reciprocity: a beacon earns only if its beaconer has a valid witness report, and
    /// a witness earns only if its hotspot has a valid beacon, received from this long before
    /// the report to the epoch's end; 0 turns the rule off.
    pub reciprocity_window_ms: u64,
    /// Onboarding, makers and fees (`[identity]`).
    pub identity: crate::identity::IdentityConfig,
    /// Denylisted hotspots and pairs.
    pub denylist: DenylistConfig,
    /// Reputation parameters.
    pub reputation: ReputationConfig,
    /// Thresholds of the epoch-wide defences (`[defences]`).
    pub defences: crate::defences::DefenceConfig,
    /// Coverage that nobody independent corroborates (`[corroboration]`).
    pub corroboration: crate::corroboration::CorroborationConfig,
    /// How hotspots near one another share their place in the density scaling (`[density]`).
    pub density: DensityConfig,
    /// How often `run` verifies pending reports.
    pub verify_period_ms: u64,
    /// Most refusals of reports signed by keys that are not onboarded gateways recorded in
    /// `ingest_rejections` per minute; beyond it they are only counted in the log, so that a
    /// flood of forged reports cannot fill the store. A gateway's own refusals are always
    /// recorded (its owner reads them in the explorer).
    pub max_stranger_rejections_per_minute: u32,
    /// Reward parameters.
    pub rewards: RewardConfig,
    /// Data-transfer rewards: their share of the emission and the credits' value
    /// (`[data_transfer]`; left out of the TOML while it has its defaults, so that the rules'
    /// configuration recorded before it existed reads the same).
    #[serde(skip_serializing_if = "crate::data_transfer::DataTransferConfig::is_default")]
    pub data_transfer: crate::data_transfer::DataTransferConfig,
    /// Limits of the explorer's HTTP server (`[http]`).
    pub http: HttpConfig,
    /// Limits of the gRPC ingest server (`[grpc]`).
    pub grpc: GrpcConfig,
    /// PostgreSQL URL (`postgres://user:password@host/db`) of a store shared by several
    /// oracle processes; unset means the embedded SQLite file in the data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// The report archive (`[archive]`).
    pub archive: ArchiveConfig,
    /// The report log shared with other operators (`[report_log]`).
    #[serde(skip_serializing_if = "ReportLogConfig::is_off")]
    pub report_log: ReportLogConfig,
}

impl Default for OracleConfig {
    fn default() -> Self {
        Self {
            entropy_period_ms: 60_000,
            entropy_window_ms: 180_000,
            beacon_interval_ms: 6 * 3_600_000,
            epoch_ms: 24 * 3_600_000,
            max_witnesses_per_beacon: 14,
            min_witness_grid_distance: 8,
            max_witness_distance_m: 100_000.0,
            witness_late_ms: 4_000,
            witness_after_first_ms: 1_500,
            max_frequency_offset_hz: 100_000,
            noise_figure_db: 3.0,
            rssi_margin_ddb: 0,
            snr_floor_margin_db: 10.0,
            consistency_margin_db: 25.0,
            consistency_min_witnesses: 4,
            reciprocity_window_ms: 48 * 3_600_000,
            identity: crate::identity::IdentityConfig::default(),
            denylist: DenylistConfig::default(),
            reputation: ReputationConfig::default(),
            defences: crate::defences::DefenceConfig::default(),
            corroboration: crate::corroboration::CorroborationConfig::default(),
            density: DensityConfig::default(),
            verify_period_ms: 5_000,
            max_stranger_rejections_per_minute: 600,
            rewards: RewardConfig::default(),
            data_transfer: crate::data_transfer::DataTransferConfig::default(),
            http: HttpConfig::default(),
            grpc: GrpcConfig::default(),
            database_url: None,
            archive: ArchiveConfig::default(),
            report_log: ReportLogConfig::default(),
        }
    }
}

impl OracleConfig {
    /// The defaults on an open network, where any key becomes a hotspot by asserting a location,
    /// free of charge ([`crate::identity::Onboarding::Open`]): for simulations and tests.
    pub fn open() -> Self {
        Self {
            identity: crate::identity::IdentityConfig::open(),
            ..Self::default()
        }
    }

    /// The configuration as the rules read it, as TOML: without the store's address or the
    /// archive's place, which decide nothing (what a report archive records).
    pub fn rules_toml(&self) -> Result<String, ConfigError> {
        let rules = Self {
            database_url: None,
            archive: ArchiveConfig::default(),
            report_log: ReportLogConfig::default(),
            ..self.clone()
        };
        toml::to_string(&rules).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Parses and checks the rules' configuration as an archive recorded it. A rule recorded
    /// before its setting existed meant what the oracle did then, not today's default: without
    /// `[density]`, [`DensityConfig::hexes`]; without `defences.single_source_excused`, no
    /// excuse; without `defences.shared_few_min_beaconers`, no `shared_radio` pair with fewer
    /// than `shared_min_beaconers` beaconers; without `reputation.inconsistent_signal_weight`,
    /// a weight of 4.
    pub fn from_recorded_rules(text: &str) -> Result<Self, ConfigError> {
        let mut config = Self::from_toml(text)?;
        let table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let recorded = |section: &str, key: &str| {
            table
                .get(section)
                .and_then(|value| value.as_table())
                .is_some_and(|section| section.contains_key(key))
        };
        if !table.contains_key("density") {
            config.density = DensityConfig::hexes();
        }
        if !recorded("defences", "shared_few_min_beaconers") {
            config.defences.shared_few_min_beaconers = config.defences.shared_min_beaconers;
        }
        if !recorded("defences", "single_source_excused") {
            config.defences.single_source_excused = false;
        }
        if !recorded("reputation", "inconsistent_signal_weight") {
            config.reputation.inconsistent_signal_weight = 4.0;
        }
        Ok(config)
    }

    /// Parses and checks a TOML text; missing fields take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks that the periods are usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what: &str| Err(ConfigError::Invalid(what.to_string()));
        if self.entropy_period_ms == 0 || self.entropy_window_ms == 0 || self.epoch_ms == 0 {
            return bad("entropy_period_ms, entropy_window_ms and epoch_ms must be positive");
        }
        if self.epoch_ms.checked_rem(self.beacon_interval_ms) != Some(0) {
            return bad("beacon_interval_ms must be positive and divide epoch_ms");
        }
        if self.verify_period_ms == 0 {
            return bad("verify_period_ms must be positive");
        }
        if self.archive.block_rows == 0 {
            return bad("archive.block_rows must be positive");
        }
        let token = &self.rewards.token;
        if token.is_empty() || token.len() > 12 || !token.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return bad("rewards.token must be 1 to 12 ASCII letters or digits");
        }
        if self.rewards.decimals > MAX_TOKEN_DECIMALS {
            return bad("rewards.decimals must be at most 18");
        }
        let non_negative = |value: f64| value.is_finite() && value >= 0.0;
        if !non_negative(self.snr_floor_margin_db) || !non_negative(self.consistency_margin_db) {
            return bad("snr_floor_margin_db and consistency_margin_db must be non-negative");
        }
        let d = &self.defences;
        let positive = d.suspicion_threshold.is_finite() && d.suspicion_threshold > 0.0;
        if !(0.0..1.0).contains(&d.suspicion_decay) || !positive {
            return bad(
                "defences.suspicion_decay must be in [0, 1) and suspicion_threshold positive",
            );
        }
        self.identity.makers()?;
        self.corroboration.validate()?;
        self.density.validate()?;
        self.data_transfer.validate()?;
        self.denylist.validate()?;
        self.reputation.validate()?;
        self.http.validate()?;
        self.grpc.validate()?;
        self.report_log.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_named_and_its_decimals_bounded() {
        let config = OracleConfig::from_toml("[rewards]\ntoken = \"POC\"\ndecimals = 8\n").unwrap();
        assert_eq!(
            (config.rewards.token.as_str(), config.rewards.decimals),
            ("POC", 8)
        );
        let defaults = OracleConfig::default();
        assert_eq!(
            (defaults.rewards.token.as_str(), defaults.rewards.decimals),
            ("IOT", 6)
        );
        for bad in [
            "token = \"\"",
            "token = \"I O T\"",
            "token = \"ABCDEFGHIJKLM\"",
            "decimals = 19",
        ] {
            assert!(
                matches!(
                    OracleConfig::from_toml(&format!("[rewards]\n{bad}\n")),
                    Err(ConfigError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn partial_toml_keeps_defaults_and_bad_values_are_refused() {
        let config =
            OracleConfig::from_toml("epoch_ms = 43200000\n[rewards]\nemission = 77\n").unwrap();
        assert_eq!(config.epoch_ms, 43_200_000);
        assert_eq!(config.rewards.emission, 77);
        assert_eq!(config.entropy_window_ms, 180_000);
        assert!(matches!(
            OracleConfig::from_toml("beacon_interval_ms = 7\n"),
            Err(ConfigError::Invalid(_))
        ));
        for zero in [
            "[http]\nheader_read_timeout_ms = 0\n",
            "[http]\nresponse_write_timeout_ms = 0\n",
            "[grpc]\nmax_concurrent_streams = 0\n",
            "[grpc]\nrequest_timeout_ms = 0\n",
        ] {
            assert!(matches!(
                OracleConfig::from_toml(zero),
                Err(ConfigError::Invalid(_))
            ));
        }
        assert!(matches!(
            OracleConfig::from_toml("no_such_field = 1\n"),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn density_sharing_is_by_distance_unless_recorded_before_it_existed() {
        let config = OracleConfig::default();
        assert_eq!(config.density.sharing, DensitySharing::Distance);
        assert_eq!(config.density.radius_m, 840.0);
        let rules = config.rules_toml().unwrap();
        assert!(rules.contains("[density]"), "{rules}");
        assert_eq!(OracleConfig::from_recorded_rules(&rules).unwrap(), config);
        let hexes = OracleConfig::from_toml("[density]\nsharing = \"hexes\"\n").unwrap();
        assert_eq!(hexes.density, DensityConfig::hexes());
        assert_eq!(
            OracleConfig::from_toml(&hexes.rules_toml().unwrap()).unwrap(),
            hexes
        );
        let before = OracleConfig::from_recorded_rules("epoch_ms = 86400000\n").unwrap();
        assert_eq!(before.density, DensityConfig::hexes());
        assert!(!before.defences.single_source_excused);
        assert_eq!(
            before.defences.shared_few_min_beaconers,
            before.defences.shared_min_beaconers
        );
        assert_eq!(before.reputation.inconsistent_signal_weight, 4.0);
        let now = OracleConfig::from_recorded_rules(&rules).unwrap();
        assert!(now.defences.single_source_excused);
        assert_eq!(now.defences.shared_few_min_beaconers, 3);
        assert_eq!(now.reputation.inconsistent_signal_weight, 1.0);
        for bad in [
            "[density]\nsharing = \"distance\"\nradius_m = 0.0\n",
            "[density]\nradius_m = nan\n",
        ] {
            assert!(matches!(
                OracleConfig::from_toml(bad),
                Err(ConfigError::Invalid(_))
            ));
        }
        for bad in [
            "[density]\nsharing = \"rings\"\n",
            "[density]\nsharing = \"hexes\"\nx = 1\n",
        ] {
            assert!(matches!(
                OracleConfig::from_toml(bad),
                Err(ConfigError::Parse(_))
            ));
        }
    }

    #[test]
    fn the_data_transfer_share_is_a_percentage_and_its_defaults_stay_out_of_the_rules() {
        let config =
            OracleConfig::from_toml("[data_transfer]\nshare_percent = 30\ncredit_value = 7\n")
                .unwrap();
        assert_eq!(config.data_transfer.share_percent, 30);
        assert_eq!(config.data_transfer.credit_value, 7);
        assert!(config.rules_toml().unwrap().contains("[data_transfer]"));
        assert_eq!(
            OracleConfig::from_toml(&config.rules_toml().unwrap()).unwrap(),
            config
        );
        assert!(!OracleConfig::default()
            .rules_toml()
            .unwrap()
            .contains("data_transfer"));
        assert!(OracleConfig::from_toml("[data_transfer]\nshare_percent = 100\n").is_ok());
        assert!(matches!(
            OracleConfig::from_toml("[data_transfer]\nshare_percent = 101\n"),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            OracleConfig::from_toml("[data_transfer]\nenabled = true\n"),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn a_report_log_needs_valid_operators_a_stream_name_and_a_reachable_threshold() {
        let address = |i| poc::Keypair::from_seed(3, i).address().to_string();
        let operator = address(0);
        let with = |extra: &str| {
            OracleConfig::from_toml(&format!(
                "[report_log]\nurl = \"nats://127.0.0.1:4222\"\n{extra}"
            ))
        };
        let ok = with(&format!("operators = [\"{operator}\"]\nthreshold = 1")).unwrap();
        assert_eq!(ok.report_log.quorum_threshold(), 1);
        let majority = with(&format!(
            "operators = [\"{operator}\", \"{}\", \"{}\"]",
            address(1),
            address(2)
        ))
        .unwrap();
        assert_eq!(majority.report_log.quorum_threshold(), 2);
        for bad in [
            String::new(),
            "operators = [\"not-an-address\"]".to_string(),
            format!("operators = [\"{operator}\"]\nthreshold = 2"),
            format!("operators = [\"{operator}\"]\nstream = \"a.b\""),
            format!("operators = [\"{operator}\"]\ntick_ms = 0"),
            format!("operators = [\"{operator}\", \"{operator}\"]"),
        ] {
            assert!(
                matches!(with(&bad), Err(ConfigError::Invalid(_))),
                "{bad:?} accepted"
            );
        }
        // Without a url the section is off and nothing else is checked.
        assert!(OracleConfig::from_toml("[report_log]\nthreshold = 9\n").is_ok());
    }

    #[test]
    fn the_example_file_spells_out_the_defaults() {
        let example: OracleConfig =
            toml::from_str(include_str!("../../oracle/oracle.example.toml")).unwrap();
        assert_eq!(example, OracleConfig::default());
    }
}
