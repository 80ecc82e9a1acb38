//! Closing an epoch: valid beacons and their selected witnesses become reward shares.
//!
//! Epoch `n` covers reports received in `[n·epoch_ms, (n+1)·epoch_ms)`. It can be closed once it
//! has settled, i.e. `now >= (n+1)·epoch_ms + entropy_window_ms`, so that every report received in
//! it has been verified. Hex density scales come from the asserted locations of the hotspots
//! with a valid beacon in the epoch that the epoch-wide defences ([`oracle_core::defences`]) did not
//! flag. A closed epoch is stored once; closing it again returns the stored report.
//!
//! Two rules decide rewards beyond validity. HIP-106 reciprocity: a valid beacon earns only if
//! its beaconer has a valid witness report received from `reciprocity_window_ms` before the
//! beacon to the epoch's end (else `gateway_no_valid_witnesses`, and its witnesses earn nothing
//! from it either), and a selected witness earns only if its hotspot has a valid beacon in the
//! same span (else `gateway_no_valid_beacons`). Only eligible witnesses (valid, not flagged,
//! reciprocal) compete for the `max_witnesses_per_beacon` paid places of a beacon, in
//! selection-key order ([`oracle_core::selection`]): a witness is selected once, here. Reputation
//! ([`oracle_core::reputation`]) as of the epoch's end multiplies each hotspot's density scale and its
//! own witness units. The closed epoch, with what was paid for each beacon, is then stored and
//! appended to the signed reward ledger ([`ledger`]), which pins exactly what was paid.
//!
//! The close runs as named steps, each timed in the log: `verify` (pending reports),
//! `read_reports`, `read_gateways`, `defences`, `tallies` ([`Oracle::load_epoch`]), `decide`
//! ([`oracle_core::epoch::decide`], pure), `archive` (everything it decided from, written to
//! the report archive, [`crate::archive`]: the epoch's reports are there already, written as
//! they were verified, and any block of them the verification left uncovered is written while
//! the earlier steps run; this step writes the smaller files and the manifest), `store` and
//! `ledger` (whose entry pins the archive's manifest).

pub use oracle_core::epoch::{EpochReport, HotspotRewardRow};

use crate::error::OracleError;
use crate::phases::PhaseTimes;
use crate::store::{BeaconRow, EpochWitness, GatewayRow, ReportKind, ReportTally};
use crate::Oracle;
use oracle_core::defences::{EvidenceRecord, Flags};
use oracle_core::epoch::{self as decide, DecidedEpoch, EpochInputs, LatestValid, Placements};
use oracle_core::suspicion;
use std::collections::HashMap;

/// What [`Oracle::load_reports`] loads: the epoch's valid reports as
/// [`Oracle::load_valid_reports`] reads them, and the defences' flags.
type LoadedReports = (ValidReports, Flags);

/// The epoch's valid beacons and witnesses, where their hotspots asserted (with the gateway
/// rows that say so), and their owners.
type ValidReports = (
    Vec<BeaconRow>,
    Vec<EpochWitness>,
    Placements,
    HashMap<[u8; 32], [u8; 32]>,
    Vec<GatewayRow>,
);

/// The first and the first-after millisecond of epoch `epoch`.
pub(crate) fn epoch_span(epoch: u64, epoch_ms: u64) -> (u64, u64) {
    let start_ms = epoch.saturating_mul(epoch_ms);
    (start_ms, start_ms.saturating_add(epoch_ms))
}

impl Oracle {
    /// When epoch `epoch` can be closed.
    pub fn epoch_ready_at_ms(&self, epoch: u64) -> u64 {
        let config = self.config();
        (epoch + 1)
            .saturating_mul(config.epoch_ms)
            .saturating_add(config.entropy_window_ms)
    }

    /// Whether epoch `epoch` can be closed now.
    pub fn epoch_settled(&self, epoch: u64) -> bool {
        self.now_ms() >= self.epoch_ready_at_ms(epoch)
    }

    /// The stored report of a closed epoch.
    pub async fn epoch_report(&self, epoch: u64) -> Result<Option<EpochReport>, OracleError> {
        self.store()
            .epoch_report(epoch)
            .await?
            .map(|json| {
                serde_json::from_str(&json)
                    .map_err(|source| OracleError::StoredReport { epoch, source })
            })
            .transpose()
    }

    /// Closes every epoch that has settled by the oracle's clock, in order.
    /// `next` is the next epoch to close (`None`: not known yet, found in the store); it
    /// moves on with each epoch closed, also when a later close fails.
    pub(crate) async fn close_settled(&self, next: &mut Option<u64>) -> Result<(), OracleError> {
        if next.is_none() {
            *next = self.first_open_epoch().await?;
        }
        while let Some(epoch) = next.filter(|&epoch| self.epoch_settled(epoch)) {
            let report = self.close_epoch(epoch).await?;
            tracing::info!(epoch, hotspots = report.rewards.len(), "closed epoch");
            *next = Some(epoch + 1);
        }
        Ok(())
    }

    /// The first epoch not closed yet: after the last closed one, or the earliest report's
    /// (`None` when nothing is stored).
    pub(crate) async fn first_open_epoch(&self) -> Result<Option<u64>, OracleError> {
        if let Some(epoch) = self.store().last_closed_epoch().await? {
            return Ok(Some(epoch + 1));
        }
        let earliest = self.store().earliest_report_ms().await?;
        Ok(earliest.map(|ms| ms / self.config().epoch_ms))
    }

    /// Closes an epoch: verifies pending reports, computes, stores and returns its rewards.
    /// Closing a closed epoch returns the stored report; an epoch that has not settled yet is
    /// refused with [`OracleError::EpochNotSettled`].
    pub async fn close_epoch(&self, epoch: u64) -> Result<EpochReport, OracleError> {
        let _guard = self.lock_verifier().await?;
        if let Some(report) = self.epoch_report(epoch).await? {
            // A crash between storing the epoch and appending its ledger entry leaves the entry
            // missing; it is appended now, from the stored report (and the archive written
            // before the epoch was stored).
            let archive = self.archived_manifest(epoch)?;
            self.append_ledger_entry(&report, None, archive).await?;
            return Ok(report);
        }
        let ready_at_ms = self.epoch_ready_at_ms(epoch);
        if self.now_ms() < ready_at_ms {
            return Err(OracleError::EpochNotSettled { epoch, ready_at_ms });
        }
        let mut phases = PhaseTimes::start();
        self.verify_pending_locked().await?;
        phases.mark("verify");
        let archiving = self
            .archive()
            .map(|dir| (dir, self.start_archive(dir, epoch)));
        let (inputs, gateways) = self.load_epoch(epoch, &mut phases).await?;
        let DecidedEpoch {
            report, rows, paid, ..
        } = decide::decide(&inputs, self.config())?;
        phases.mark("decide");
        let archive = match archiving {
            Some((dir, started)) => {
                Some(self.finish_archive(dir, started, &inputs, gateways).await?)
            }
            None => None,
        };
        phases.mark("archive");
        let json = serde_json::to_string(&report)
            .map_err(|source| OracleError::ReportEncoding { epoch, source })?;
        self.store()
            .put_epoch(epoch, self.now_ms(), &json, &rows, &paid)
            .await?;
        phases.mark("store");
        self.append_ledger_entry(&report, Some(&rows), archive)
            .await?;
        phases.mark("ledger");
        tracing::info!(epoch, phases = %phases, "epoch closed");
        Ok(report)
    }

    /// Loads what the close of `epoch` decides from, with the gateway rows its placements come
    /// from. The store tallies the hotspots' recent reports (for reputation and HIP-106) while
    /// the epoch's reports are read and the defences run on every core.
    async fn load_epoch(
        &self,
        epoch: u64,
        phases: &mut PhaseTimes,
    ) -> Result<(EpochInputs, Vec<GatewayRow>), OracleError> {
        let config = self.config();
        let (start_ms, end_ms) = epoch_span(epoch, config.epoch_ms);
        let reputation_start = end_ms.saturating_sub(config.reputation.window_ms);
        let limit = config.reputation.max_reports;
        let tallies = async {
            futures::try_join!(
                self.store()
                    .report_tallies(ReportKind::Beacons, reputation_start, end_ms, limit),
                self.store()
                    .report_tallies(ReportKind::Witnesses, reputation_start, end_ms, limit),
                self.store().rejection_counts_between(start_ms, end_ms),
            )
        };
        let (tallies, reports) =
            futures::join!(tallies, self.load_reports(start_ms, end_ms, phases));
        let ((beacons, witnesses, placements, owners, gateways), mut flags) = reports?;
        let (beacon_tallies, witness_tallies, rejections) = tallies?;
        phases.mark("tallies");
        if config.defences.enabled {
            let history = self.flag_history(epoch).await?;
            let suspected =
                suspicion::flag_suspected(&mut flags, &history, epoch, &config.defences);
            tracing::debug!(epoch, suspected, "suspicion carried from earlier epochs");
        }
        let (active_beacons, active_witnesses) = self
            .reciprocity_activity((start_ms, end_ms), (&beacons, &witnesses), &witness_tallies)
            .await?;
        let mut recent = beacon_tallies;
        recent.extend(witness_tallies);
        let inputs = EpochInputs {
            epoch,
            start_ms,
            end_ms,
            beacons,
            witnesses,
            placements,
            flags,
            recent,
            active_beacons,
            active_witnesses,
            rejections,
            owners,
            // Packet reports are not loaded yet: no data transfer is paid, and proof of
            // coverage splits the whole emission.
            packets: Vec::new(),
            payer_balances: Default::default(),
            route_copies: Default::default(),
        };
        Ok((inputs, gateways))
    }

    /// The epoch's valid beacons and witnesses, where their hotspots asserted, their owners,
    /// and the flags of the epoch-wide defences (run on a thread of their own, and on every
    /// core).
    async fn load_reports(
        &self,
        start_ms: u64,
        end_ms: u64,
        phases: &mut PhaseTimes,
    ) -> Result<LoadedReports, OracleError> {
        let valid = self.load_valid_reports(start_ms, end_ms, phases).await?;
        let config = self.config();
        let flags = if config.defences.enabled {
            let evidence = decide::evidence(&valid.0, &valid.1, &valid.2);
            let (config, owners) = (config.clone(), valid.3.clone());
            match tokio::task::spawn_blocking(move || {
                decide::defence_flags(&evidence, &owners, &config)
            })
            .await
            {
                Ok(flags) => flags,
                Err(failed) => std::panic::resume_unwind(failed.into_panic()),
            }
        } else {
            Flags::new()
        };
        phases.mark("defences");
        Ok((valid, flags))
    }

    /// The epoch's valid beacons and witnesses, where their hotspots asserted, and their
    /// owners.
    async fn load_valid_reports(
        &self,
        start_ms: u64,
        end_ms: u64,
        phases: &mut PhaseTimes,
    ) -> Result<ValidReports, OracleError> {
        let (beacons, witnesses) = futures::try_join!(
            self.store().valid_beacons_between(start_ms, end_ms),
            self.store().epoch_witnesses(start_ms, end_ms),
        )?;
        phases.mark("read_reports");
        let gateways = self.gateways_of(&beacons, &witnesses).await?;
        let placements = decide::placements(&beacons, &witnesses, &gateways);
        let owners: HashMap<[u8; 32], [u8; 32]> = self
            .store()
            .bindings()
            .await?
            .into_iter()
            .filter(|b| placements.contains_key(&b.hotspot))
            .map(|b| (b.hotspot, b.owner))
            .collect();
        phases.mark("read_gateways");
        Ok((beacons, witnesses, placements, owners, gateways))
    }

    /// What the epoch-wide defences judge `epoch` on: its valid reports' evidence and the
    /// owners of their hotspots, as plain data that can be judged again under other
    /// thresholds. Reports still pending verification are left out.
    pub async fn epoch_evidence(&self, epoch: u64) -> Result<EvidenceRecord, OracleError> {
        let (start_ms, end_ms) = epoch_span(epoch, self.config().epoch_ms);
        let mut phases = PhaseTimes::start();
        let (beacons, witnesses, placements, owners, _) = self
            .load_valid_reports(start_ms, end_ms, &mut phases)
            .await?;
        let evidence = decide::evidence(&beacons, &witnesses, &placements);
        Ok(EvidenceRecord::new(&evidence, &owners))
    }

    /// The gateway rows of the hotspots of the epoch's reports: where they asserted.
    async fn gateways_of(
        &self,
        beacons: &[BeaconRow],
        witnesses: &[EpochWitness],
    ) -> Result<Vec<GatewayRow>, OracleError> {
        let mut keys: Vec<[u8; 32]> = beacons
            .iter()
            .map(|b| b.pub_key)
            .chain(witnesses.iter().map(|w| w.pub_key))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Ok(self.store().gateways_with_keys(&keys).await?)
    }

    /// The defences' flags of the closed epochs whose suspicion still counts for `epoch`
    /// ([`suspicion`]), read from their stored reports.
    async fn flag_history(&self, epoch: u64) -> Result<suspicion::FlagHistory, OracleError> {
        /// The part of a stored epoch report the history reads.
        #[derive(serde::Deserialize)]
        struct Flagged {
            #[serde(default)]
            flagged: std::collections::BTreeMap<String, Vec<String>>,
        }
        let back = u64::from(self.config().defences.suspicion_epochs);
        let mut history = suspicion::FlagHistory::new();
        for earlier in epoch.saturating_sub(back)..epoch {
            let Some(json) = self.store().epoch_report(earlier).await? else {
                continue;
            };
            let report: Flagged =
                serde_json::from_str(&json).map_err(|source| OracleError::StoredReport {
                    epoch: earlier,
                    source,
                })?;
            history.insert(earlier, suspicion::evidence_of(&report.flagged));
        }
        Ok(history)
    }

    /// HIP-106 activity from `reciprocity_window_ms` before the epoch to its end: each
    /// hotspot's latest valid beacon that someone heard ([`decide::latest_heard`]; the epoch's
    /// own beacons from what the close loaded, the earlier ones from the store) and its latest
    /// valid witness. When the reputation span covers every reciprocity span, its tallies
    /// (`reputation_witnesses`) answer for the witnesses; otherwise the store tallies the
    /// longer span.
    async fn reciprocity_activity(
        &self,
        (start_ms, end_ms): (u64, u64),
        epoch_reports: (&[BeaconRow], &[EpochWitness]),
        reputation_witnesses: &[ReportTally],
    ) -> Result<(LatestValid, LatestValid), OracleError> {
        let config = self.config();
        let window = config.reciprocity_window_ms;
        let reciprocity_start = start_ms.saturating_sub(window);
        let reputation_start = end_ms.saturating_sub(config.reputation.window_ms);
        if window == 0 {
            return Ok((LatestValid::new(), LatestValid::new()));
        }
        let mut hearings = self
            .store()
            .beacon_hearings(reciprocity_start, start_ms)
            .await?;
        hearings.extend(decide::hearings(epoch_reports.0, epoch_reports.1));
        let beacons = decide::latest_heard(&hearings);
        if reputation_start <= reciprocity_start {
            return Ok((beacons, decide::latest_valid(reputation_witnesses)));
        }
        let limit = config.reputation.max_reports;
        let witnesses = self
            .store()
            .report_tallies(ReportKind::Witnesses, reciprocity_start, end_ms, limit)
            .await?;
        Ok((beacons, decide::latest_valid(&witnesses)))
    }
}
