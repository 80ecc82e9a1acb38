//! Why a report was refused or found invalid. Every reason has a stable snake_case code that the
//! database, the explorer API and epoch reports carry.

use serde::Serialize;

macro_rules! reasons {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every reason, in the order the checks run.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable snake_case code.
            pub fn code(&self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The reason with this code.
            pub fn from_code(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|r| r.code() == code)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

reasons! {
    /// Why a beacon report is invalid; the checks run in this order (Helium's, where it applies).
    BeaconReason {
        /// The beaconer is not a known gateway.
        UnknownGateway => "unknown_gateway",
        /// The beaconer has not asserted a location.
        NotAsserted => "not_asserted",
        /// The beaconer is on the denylist.
        Denylisted => "denylisted",
        /// The remote entropy is not one the oracle published.
        EntropyUnknown => "entropy_unknown",
        /// The report arrived outside the entropy's validity window.
        EntropyExpired => "entropy_expired",
        /// The hotspot already had a valid beacon in the same or a later interval bucket.
        IrregularInterval => "irregular_interval",
        /// The frequency is not one of the region's beacon channels.
        FrequencyNotAllowed => "frequency_not_allowed",
        /// The spreading factor and bandwidth are not a data rate of the region that carries
        /// the payload.
        DatarateNotAllowed => "datarate_not_allowed",
        /// Transmit power plus antenna gain exceeds the region's EIRP limit.
        PowerNotAllowed => "power_not_allowed",
        /// Regenerating the beacon does not reproduce payload, frequency, data rate or power.
        InvalidPayload => "invalid_payload",
    }
}

reasons! {
    /// Why a witness report is invalid; the checks run in this order.
    WitnessReason {
        /// The witness is not a known gateway.
        UnknownGateway => "unknown_gateway",
        /// The witness has not asserted a location.
        NotAsserted => "not_asserted",
        /// The same witness already reported this beacon.
        Duplicate => "duplicate",
        /// The witness is on the denylist.
        Denylisted => "denylisted",
        /// The pair beaconer–witness is on the denylist.
        DenylistedEdge => "denylisted_edge",
        /// The witness is the beaconer.
        SelfWitness => "self_witness",
        /// The witness arrived outside the beacon entropy's validity window.
        EntropyExpired => "entropy_expired",
        /// The witness arrived more than `witness_late_ms` after the beacon.
        TooLate => "too_late",
        /// A valid witness reached the oracle before the beacon, and this one arrived more than
        /// `witness_after_first_ms` after that first witness.
        TooLateAfterFirst => "too_late_after_first",
        /// Heard on the beacon's channel at the beacon's time, but with a different payload.
        PayloadMismatch => "payload_mismatch",
        /// The frequency is too far from the beacon's.
        FrequencyMismatch => "frequency_mismatch",
        /// The witness asserted another region than the beaconer.
        RegionMismatch => "region_mismatch",
        /// The witness stands too close to the beaconer.
        TooClose => "too_close",
        /// The witness stands too far from the beaconer.
        TooFar => "too_far",
        /// The RSSI exceeds the free-space bound.
        RssiTooHigh => "rssi_too_high",
        /// The SNR exceeds what the RSSI allows over the noise floor.
        SnrTooHigh => "snr_too_high",
        /// The SNR is far below what the spreading factor can demodulate.
        SnrTooLow => "snr_too_low",
        /// Much louder than the path-loss model fitted to the beacon's other witnesses.
        InconsistentSignal => "inconsistent_signal",
        /// The beacon it witnessed is invalid.
        InvalidBeacon => "invalid_beacon",
        /// No beacon with this payload arrived within the entropy window.
        UnknownBeacon => "unknown_beacon",
    }
}

reasons! {
    /// Why a valid report earns nothing when its epoch closes: HIP-106 reciprocity, and the
    /// epoch-wide defences ([`crate::defences`]), which flag a hotspot for the whole epoch.
    RewardReason {
        /// The beaconer has no valid witness report in the reciprocity window: its beacon
        /// (and so the beacon's witnesses) earns nothing.
        GatewayNoValidWitnesses => "gateway_no_valid_witnesses",
        /// The witness has no valid beacon in the reciprocity window: the witness earns nothing.
        GatewayNoValidBeacons => "gateway_no_valid_beacons",
        /// The hotspot's links over the epoch (who heard it, whom it heard) are far too
        /// improbable for its asserted location: a colluding ring, a spoofed location or a
        /// replayed receiver (`crate::defences::implausible_links`).
        ImplausibleLinks => "implausible_links",
        /// The hotspot's RSSI is, on average over the epoch, far louder than the other
        /// witnesses of the same beacons allow (`crate::defences::inflated_signals`).
        InflatedSignal => "inflated_signal",
        /// The path gains of the hotspot's links place it far from its asserted location: a
        /// spoofed location (`crate::defences::misplaced_locations`).
        MisplacedLocation => "misplaced_location",
        /// Another hotspot asserted elsewhere reports the same signals: one roof or one
        /// replayed receiver behind several keys (`crate::defences::shared_radios`).
        SharedRadio => "shared_radio",
        /// The witness has the same owner as the beaconer: an owner's hotspots earn nothing
        /// for witnessing each other.
        SameOwner => "same_owner",
        /// The defences flagged the hotspot in recent epochs and its suspicion has not decayed
        /// below the threshold yet (`crate::suspicion`).
        Suspected => "suspected",
    }
}

reasons! {
    /// Why a forwarded packet earns nothing when its epoch settles ([`crate::data_transfer`]);
    /// the checks run in this order.
    PacketReason {
        /// The packet's route is not one of the epoch's registered routes.
        UnknownRoute => "unknown_route",
        /// No network server acknowledged the packet.
        NotAcknowledged => "not_acknowledged",
        /// The same hotspot already reported this packet on this route.
        DuplicatePacket => "duplicate_packet",
        /// The route had already bought its `max_copies` copies of this packet.
        OverMultiBuy => "over_multi_buy",
        /// The route's payer could not pay for it, or stopped paying earlier in the epoch.
        PayerExhausted => "payer_exhausted",
    }
}

reasons! {
    /// Why a report was refused at ingest (and never stored as a report).
    IngestReason {
        /// Wrong key length, empty or oversized data, bad entropy lengths.
        Malformed => "malformed",
        /// The signature does not verify.
        BadSignature => "bad_signature",
        /// The signer is not a known gateway.
        UnknownGateway => "unknown_gateway",
        /// A location assertion not newer than the last one.
        StaleAssertion => "stale_assertion",
        /// A location that is not an H3 cell.
        InvalidLocation => "invalid_location",
        /// A location assertion without a region.
        RegionUnspecified => "region_unspecified",
        /// A location assertion by a hotspot that was never onboarded (the oracle requires
        /// makers' records).
        NotOnboarded => "not_onboarded",
        /// An onboarding request without a maker's signed record.
        NoMakerSignature => "no_maker_signature",
        /// The owner's signature on an onboarding request does not verify.
        BadOwnerSignature => "bad_owner_signature",
        /// The maker's record names another hotspot than the one onboarding.
        RecordMismatch => "record_mismatch",
        /// The record's maker is not one the oracle knows.
        UnknownMaker => "unknown_maker",
        /// The maker's signature on the record does not verify.
        BadMakerSignature => "bad_maker_signature",
        /// The hotspot is already onboarded, bound to another owner or by another maker.
        AlreadyOnboarded => "already_onboarded",
        /// The maker has onboarded as many hotspots as its allowance permits.
        MakerAllowanceExhausted => "maker_allowance_exhausted",
        /// The owner's data-credit balance does not cover the fee.
        InsufficientBalance => "insufficient_balance",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for r in WitnessReason::ALL {
            assert!(seen.insert(r.code()));
            assert_eq!(WitnessReason::from_code(r.code()), Some(*r));
            assert!(r.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(
                serde_json::to_string(r).unwrap(),
                format!("\"{}\"", r.code())
            );
        }
        for r in BeaconReason::ALL {
            assert_eq!(BeaconReason::from_code(r.code()), Some(*r));
            assert_eq!(
                serde_json::to_string(r).unwrap(),
                format!("\"{}\"", r.code())
            );
        }
        assert_eq!(IngestReason::BadSignature.code(), "bad_signature");
        let mut packet = std::collections::BTreeSet::new();
        for r in PacketReason::ALL {
            assert!(packet.insert(r.code()));
            assert_eq!(PacketReason::from_code(r.code()), Some(*r));
            assert_eq!(
                serde_json::to_string(r).unwrap(),
                format!("\"{}\"", r.code())
            );
        }
        assert_eq!(packet.len(), 5);
    }
}
