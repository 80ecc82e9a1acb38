//! One hotspot's proof-of-coverage logic: building and modulating its beacons, and turning the
//! frames its radio demodulates into signed witness reports.

use crate::config::{ConfigError, HotspotConfig};
use num_complex::Complex32;
use poc::proto::{self, Region};
use poc::{Address, Beacon, BeaconError, Keypair, RegionPlan, Signable};
use radio::demod::{Calibration, Receiver, RxFrame};
use radio::params::LoraParams;
use radio_io::Reception;

/// Sync word of proof-of-coverage beacons (LoRaWAN public).
pub const BEACON_SYNC_WORD: u8 = 0x34;

/// Errors of the hotspot's proof-of-coverage logic.
#[derive(Debug, thiserror::Error)]
pub enum HotspotError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The location is not a valid point on the globe.
    #[error(transparent)]
    Location(#[from] h3_coverage::GeoError),
    /// The region has no beacon plan.
    #[error("no beacon plan for region {0:?}")]
    NoPlan(Region),
    /// The oracle's entropy carries a bad signature.
    #[error("the oracle's entropy has a bad signature: {0}")]
    Entropy(#[from] poc::SignatureError),
    /// No beacon could be derived.
    #[error(transparent)]
    Beacon(#[from] BeaconError),
    /// The radio refused the frame.
    #[error("radio: {0}")]
    Radio(#[from] radio::error::RadioError),
}

/// A beacon ready to go on air, with the report that claims it.
#[derive(Debug, Clone)]
pub struct PreparedBeacon {
    /// What the entropy and key gave.
    pub beacon: Beacon,
    /// The modulation it goes out with.
    pub params: LoraParams,
    /// The signed report for the oracle.
    pub report: proto::BeaconReport,
    /// Complex baseband samples of the frame, unit amplitude, at `params.sample_rate()`.
    pub samples: Vec<Complex32>,
}

/// A hotspot: its key, where it stands, and its region's rules.
#[derive(Debug, Clone)]
pub struct Hotspot {
    key: Keypair,
    region: Region,
    plan: &'static RegionPlan,
    location: h3_coverage::CellIndex,
    gain_ddbi: i32,
    elevation_m: i32,
    calibration: Calibration,
    max_tx_power_ddbm: Option<i32>,
}

impl Hotspot {
    /// A hotspot from its key and configuration.
    pub fn from_config(key: Keypair, config: &HotspotConfig) -> Result<Self, HotspotError> {
        let hotspot = Self::new(
            key,
            config.region()?,
            (config.location.lat, config.location.lon),
            config.gain_ddbi(),
            config.location.elevation_m,
        )?;
        Ok(match config.max_tx_power_ddbm() {
            Some(max) => hotspot.with_max_tx_power_ddbm(max),
            None => hotspot,
        })
    }

    /// A hotspot at `(lat, lon)` with an antenna of `gain_ddbi` tenths of dBi.
    pub fn new(
        key: Keypair,
        region: Region,
        (lat, lon): (f64, f64),
        gain_ddbi: i32,
        elevation_m: i32,
    ) -> Result<Self, HotspotError> {
        let plan = RegionPlan::for_region(region).ok_or(HotspotError::NoPlan(region))?;
        Ok(Self {
            key,
            region,
            plan,
            location: h3_coverage::cell_at(lat, lon)?,
            gain_ddbi,
            elevation_m,
            calibration: Calibration::default(),
            max_tx_power_ddbm: None,
        })
    }

    /// Transmits at most `max_tx_power_ddbm` tenths of dBm, the radio's highest power: beacons
    /// go out at the region's limit or at this, whichever is lower.
    pub fn with_max_tx_power_ddbm(mut self, max_tx_power_ddbm: i32) -> Self {
        self.max_tx_power_ddbm = Some(max_tx_power_ddbm);
        self
    }

    /// The conducted power a beacon goes out at, in tenths of dBm: the region's limit with this
    /// antenna, or the radio's highest power when that is lower.
    pub fn beacon_power_ddbm(&self) -> i32 {
        let limit = self.plan.tx_power_ddbm(self.gain_ddbi);
        self.max_tx_power_ddbm.map_or(limit, |max| max.min(limit))
    }

    /// Uses a radio calibration other than the default (sample power 1.0 = 0 dBm).
    pub fn with_calibration(mut self, calibration: Calibration) -> Self {
        self.calibration = calibration;
        self
    }

    /// The hotspot's address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// The hotspot's public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.public_key()
    }

    /// The region's beacon plan.
    pub fn plan(&self) -> &'static RegionPlan {
        self.plan
    }

    /// The channel plan gateways must follow: the region's band, beacon channels and data
    /// rates (DR0 the slowest of the plan).
    pub fn channel_plan(&self) -> radio_io::ChannelPlan {
        radio_io::ChannelPlan {
            region: self.region.as_str_name().replace('_', "-"),
            band_hz: self.plan.band_hz,
            channels_hz: self.plan.channels_hz.to_vec(),
            datarates: self
                .plan
                .datarates
                .iter()
                .map(|rate| (rate.spreading_factor, rate.bandwidth_hz))
                .collect(),
        }
    }

    /// The asserted H3 cell.
    pub fn location(&self) -> h3_coverage::CellIndex {
        self.location
    }

    /// Antenna gain in tenths of dBi.
    pub fn gain_ddbi(&self) -> i32 {
        self.gain_ddbi
    }

    /// A signed assertion of the hotspot's location and antenna.
    pub fn assertion(&self, timestamp_ms: u64) -> proto::LocationAssertion {
        let mut assertion = proto::LocationAssertion {
            pub_key: self.public_key().to_vec(),
            location: u64::from(self.location),
            gain_ddbi: self.gain_ddbi,
            elevation_m: self.elevation_m,
            region: self.region as i32,
            timestamp_ms,
            signature: Vec::new(),
        };
        assertion.sign_with(&self.key);
        assertion
    }

    /// The LoRa modulation of a beacon at the given data rate.
    pub fn beacon_params(spreading_factor: u8, bandwidth_hz: u32) -> LoraParams {
        let mut params = LoraParams::new(spreading_factor, bandwidth_hz);
        params.sync_word = BEACON_SYNC_WORD;
        params
    }

    /// Builds, signs and modulates this interval's beacon from the oracle's entropy.
    pub fn prepare_beacon(
        &self,
        entropy: &proto::Entropy,
        local_entropy: [u8; 4],
        timestamp_ns: u64,
    ) -> Result<PreparedBeacon, HotspotError> {
        let mut prepared = self.prepare_beacon_unmodulated(entropy, local_entropy, timestamp_ns)?;
        prepared.samples = radio::modulator::modulate(&prepared.params, &prepared.beacon.payload)?;
        Ok(prepared)
    }

    /// Builds and signs this interval's beacon as [`Hotspot::prepare_beacon`] does, without
    /// its samples (left empty): for simulations that decide receptions from a link budget.
    pub fn prepare_beacon_unmodulated(
        &self,
        entropy: &proto::Entropy,
        local_entropy: [u8; 4],
        timestamp_ns: u64,
    ) -> Result<PreparedBeacon, HotspotError> {
        entropy.verify()?;
        let mut beacon = Beacon::derive(
            &entropy.data,
            &local_entropy,
            &self.public_key(),
            self.plan,
            self.gain_ddbi,
        )?;
        beacon.tx_power_ddbm = self.beacon_power_ddbm();
        let params = Self::beacon_params(
            beacon.datarate.spreading_factor,
            beacon.datarate.bandwidth_hz,
        );
        let mut report = proto::BeaconReport {
            pub_key: self.public_key().to_vec(),
            local_entropy: local_entropy.to_vec(),
            remote_entropy: entropy.data.clone(),
            data: beacon.payload.clone(),
            frequency_hz: beacon.frequency_hz,
            spreading_factor: u32::from(beacon.datarate.spreading_factor),
            bandwidth_hz: beacon.datarate.bandwidth_hz,
            tx_power_ddbm: beacon.tx_power_ddbm,
            timestamp_ns,
            signature: Vec::new(),
        };
        report.sign_with(&self.key);
        Ok(PreparedBeacon {
            beacon,
            params,
            report,
            samples: Vec::new(),
        })
    }

    /// Restates a prepared beacon at the power it went out at, when the radio sent it at another
    /// power than asked (a packet forwarder's TX_POWER warning), and signs its report again: a
    /// report states the power that was on air.
    pub fn sent_at_power(&self, prepared: &mut PreparedBeacon, tx_power_ddbm: i32) {
        prepared.beacon.tx_power_ddbm = tx_power_ddbm;
        prepared.report.tx_power_ddbm = tx_power_ddbm;
        prepared.report.sign_with(&self.key);
    }

    /// Demodulates samples heard on `frequency_hz` at the given data rate and returns a signed
    /// witness report for every beacon-sized frame with a good CRC. `start_ns` is the time of
    /// the first sample.
    pub fn listen(
        &self,
        frequency_hz: u64,
        params: &LoraParams,
        samples: &[Complex32],
        start_ns: u64,
    ) -> Result<Vec<proto::WitnessReport>, HotspotError> {
        Ok(self
            .demodulate(frequency_hz, params, samples, start_ns)?
            .iter()
            .filter_map(|heard| self.witness(&heard.frame, heard.frequency_hz, heard.timestamp_ns))
            .collect())
    }

    /// Demodulates samples heard on `frequency_hz` at the given data rate with this hotspot's
    /// calibration: every frame found, timed from `start_ns`, the time of the first sample.
    pub fn demodulate(
        &self,
        frequency_hz: u64,
        params: &LoraParams,
        samples: &[Complex32],
        start_ns: u64,
    ) -> Result<Vec<Reception>, HotspotError> {
        let mut receiver = Receiver::new(*params, self.calibration)?;
        let mut frames = receiver.process(samples);
        frames.extend(receiver.flush());
        let sample_period_ns = 1e9 / params.sample_rate();
        Ok(frames
            .into_iter()
            .map(|frame| {
                let offset_ns = (frame.sample_offset as f64 * sample_period_ns) as u64;
                Reception {
                    frame,
                    frequency_hz,
                    timestamp_ns: start_ns + offset_ns,
                }
            })
            .collect())
    }

    /// A signed witness report for a demodulated frame, if it can be a beacon: a good CRC, a
    /// beacon's length and its proprietary frame header.
    pub fn witness(
        &self,
        frame: &RxFrame,
        frequency_hz: u64,
        timestamp_ns: u64,
    ) -> Option<proto::WitnessReport> {
        if frame.crc_ok != Some(true)
            || frame.payload.len() != poc::BEACON_PAYLOAD_LEN
            || frame.payload.first() != Some(&poc::BEACON_MHDR)
        {
            return None;
        }
        let channel = self
            .plan
            .channels_hz
            .iter()
            .position(|&f| f == frequency_hz)
            .unwrap_or(0) as u32;
        let mut report = proto::WitnessReport {
            pub_key: self.public_key().to_vec(),
            data: frame.payload.clone(),
            timestamp_ns,
            rssi_ddbm: (frame.rssi_dbm * 10.0).round() as i32,
            snr_ddb: (frame.snr_db * 10.0).round() as i32,
            frequency_hz,
            spreading_factor: u32::from(frame.spreading_factor),
            bandwidth_hz: frame.bandwidth_hz,
            channel,
            signature: Vec::new(),
        };
        report.sign_with(&self.key);
        Some(report)
    }
}
