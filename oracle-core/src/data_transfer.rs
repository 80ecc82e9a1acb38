//! Data-transfer rewards: hotspots forward LoRaWAN packets to the network servers of registered
//! routes, each route's payer pays for them in data credits, and the hotspots share a pool of
//! the epoch's emission by the credits burned for their packets.
//!
//! [`settle`] decides which of an epoch's packet reports are paid: copies of one packet (same
//! route, same payload) are bought in the order the oracle received them, up to the route's
//! `max_copies` (Helium's multi-buy); then payers are debited in the epoch's order, and a payer
//! that cannot pay a packet stops paying for the rest of the epoch.
//! [`data_transfer_rewards`] turns the credits into token amounts: each hotspot earns at most
//! `credits × credit_value`, the credits' own value in tokens, so that routing one's own
//! devices' packets through one's own hotspots never returns more than it costs; what the cap
//! leaves of the pool flows back to proof of coverage.
//!
//! Sums of credits saturate at `u64::MAX` (a payer's debits never exceed its balance, so only a
//! hotspot's credits summed over many payers could reach it); amounts are computed in `u128`
//! and sum exactly to the pool.

use crate::config::ConfigError;
use crate::reason::PacketReason;
use crate::reports::PacketRow;
use crate::rewards::{apportion, RewardError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Each payer's data-credit balance at the epoch's start, by payer key.
pub type PayerBalances = BTreeMap<[u8; 32], u64>;

/// Each registered route's `max_copies`: how many hotspots' copies of one packet it buys.
pub type RouteCopies = BTreeMap<String, u32>;

/// The data-transfer rule's parameters (`[data_transfer]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataTransferConfig {
    /// Percentage of each epoch's emission offered to data transfer, 0–100 (Helium: 50); what
    /// data transfer does not pay flows back to proof of coverage.
    pub share_percent: u8,
    /// Value of one data credit in the smallest token unit: the most a hotspot earns per
    /// credit burned for its packets. The default, 10 000 (0.01 of a 6-decimal token), values
    /// the token at $0.001 with Helium's $0.00001 credit.
    pub credit_value: u64,
}

impl Default for DataTransferConfig {
    fn default() -> Self {
        Self {
            share_percent: 50,
            credit_value: 10_000,
        }
    }
}

impl DataTransferConfig {
    /// Checks that the share is a percentage.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.share_percent > 100 {
            return Err(ConfigError::Invalid(
                "data_transfer.share_percent must be at most 100".into(),
            ));
        }
        Ok(())
    }

    /// The part of `emission` offered to data transfer (rounded down).
    pub fn pool(&self, emission: u64) -> u64 {
        let share = u128::from(self.share_percent.min(100));
        (u128::from(emission) * share / 100) as u64
    }

    /// Whether every field has its default (the rules' TOML then leaves the section out).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A packet a payer paid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidPacket {
    /// The packet report.
    pub report_id: [u8; 32],
    /// The hotspot that forwarded it.
    pub hotspot: [u8; 32],
    /// The payer debited.
    pub payer: [u8; 32],
    /// The credits debited.
    pub credits: u64,
}

/// A packet report that earns nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRefusal {
    /// The packet report.
    pub report_id: [u8; 32],
    /// The hotspot that forwarded it.
    pub hotspot: [u8; 32],
    /// Why.
    pub reason: PacketReason,
}

/// What an epoch's packets paid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// The packets paid, in the epoch's order (receive time, report id).
    pub paid: Vec<PaidPacket>,
    /// The packets refused, in the epoch's order.
    pub refused: Vec<PacketRefusal>,
    /// Credits burned per payer.
    pub burned: BTreeMap<[u8; 32], u64>,
    /// Credits burned for each hotspot's paid packets (saturating).
    pub credits_by_hotspot: BTreeMap<[u8; 32], u64>,
    /// Payers that could not pay a packet and paid nothing after it.
    pub exhausted: BTreeSet<[u8; 32]>,
}

impl Settlement {
    /// Refused packets counted by reason code.
    pub fn refusal_counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for refusal in &self.refused {
            *counts.entry(refusal.reason.code().to_string()).or_default() += 1;
        }
        counts
    }

    /// Credits burned by every payer together (saturating).
    pub fn burned_total(&self) -> u64 {
        self.burned
            .values()
            .fold(0u64, |sum, &credits| sum.saturating_add(credits))
    }
}

/// The epoch's order of packet reports: receive time, then report id, then every other field,
/// so that the order never depends on how the rows were loaded.
type OrderKey<'a> = (
    u64,
    &'a [u8; 32],
    &'a [u8; 32],
    &'a str,
    &'a [u8; 32],
    &'a [u8; 32],
    u64,
    bool,
);

fn order_key(p: &PacketRow) -> OrderKey<'_> {
    (
        p.received_ms,
        &p.report_id,
        &p.hotspot,
        &p.route_id,
        &p.payload_hash,
        &p.payer,
        p.credits,
        p.acked,
    )
}

/// The copies of one packet on one route seen so far.
#[derive(Default)]
struct Group {
    /// Hotspots with an acknowledged report of the packet.
    hotspots: BTreeSet<[u8; 32]>,
    /// Copies bought.
    bought: u32,
}

/// Payers' balances as the epoch debits them.
struct Debits {
    balances: PayerBalances,
    exhausted: BTreeSet<[u8; 32]>,
}

impl Debits {
    /// Debits `credits` from `payer`, or stops the payer for the rest of the epoch.
    fn debit(&mut self, payer: &[u8; 32], credits: u64) -> bool {
        if self.exhausted.contains(payer) {
            return false;
        }
        let balance = self.balances.entry(*payer).or_insert(0);
        if *balance < credits {
            self.exhausted.insert(*payer);
            return false;
        }
        *balance -= credits;
        true
    }
}

/// Settles an epoch's packet reports against the payers' balances at its start and the
/// registered routes' `max_copies`.
///
/// Every report is taken in the epoch's order (receive time, then report id); since copies of
/// one packet are ordered the same way, this is also their order within their group (same
/// route, same payload hash). A report is refused, checks in this order:
/// `unknown_route` (its route is not registered), `not_acknowledged` (no network server
/// acknowledged it), `duplicate_packet` (its hotspot already has an acknowledged report of
/// the packet on the route), `over_multi_buy` (the route already bought `max_copies` copies),
/// `payer_exhausted` (its payer's balance does not cover its credits, or the payer stopped
/// earlier in the epoch: a payer that cannot pay one packet pays for none after it). A copy
/// refused takes no multi-buy place.
pub fn settle(
    packets: &[PacketRow],
    balances: &PayerBalances,
    max_copies: &RouteCopies,
) -> Settlement {
    let mut order: Vec<&PacketRow> = packets.iter().collect();
    order.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    let mut groups: BTreeMap<(&str, [u8; 32]), Group> = BTreeMap::new();
    let mut debits = Debits {
        balances: balances.clone(),
        exhausted: BTreeSet::new(),
    };
    let mut settlement = Settlement::default();
    for packet in order {
        match buy(packet, &mut groups, &mut debits, max_copies) {
            Ok(()) => {
                let burned = settlement.burned.entry(packet.payer).or_default();
                *burned = burned.saturating_add(packet.credits);
                let earned = settlement
                    .credits_by_hotspot
                    .entry(packet.hotspot)
                    .or_default();
                *earned = earned.saturating_add(packet.credits);
                settlement.paid.push(PaidPacket {
                    report_id: packet.report_id,
                    hotspot: packet.hotspot,
                    payer: packet.payer,
                    credits: packet.credits,
                });
            }
            Err(reason) => settlement.refused.push(PacketRefusal {
                report_id: packet.report_id,
                hotspot: packet.hotspot,
                reason,
            }),
        }
    }
    settlement.exhausted = debits.exhausted;
    settlement
}

/// One report's checks, in their order; on success the payer is debited and the copy bought.
fn buy<'a>(
    packet: &'a PacketRow,
    groups: &mut BTreeMap<(&'a str, [u8; 32]), Group>,
    debits: &mut Debits,
    max_copies: &RouteCopies,
) -> Result<(), PacketReason> {
    let Some(&copies) = max_copies.get(&packet.route_id) else {
        return Err(PacketReason::UnknownRoute);
    };
    if !packet.acked {
        return Err(PacketReason::NotAcknowledged);
    }
    let group = groups
        .entry((packet.route_id.as_str(), packet.payload_hash))
        .or_default();
    if !group.hotspots.insert(packet.hotspot) {
        return Err(PacketReason::DuplicatePacket);
    }
    if group.bought >= copies {
        return Err(PacketReason::OverMultiBuy);
    }
    if !debits.debit(&packet.payer, packet.credits) {
        return Err(PacketReason::PayerExhausted);
    }
    group.bought += 1;
    Ok(())
}

/// The data-transfer pool handed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataTransferRewards {
    /// Each hotspot's amount, for every hotspot with paid packets.
    pub amounts: BTreeMap<[u8; 32], u64>,
    /// The amounts' sum.
    pub paid_total: u64,
    /// What the pool keeps: `pool − paid_total`, which flows back to proof of coverage.
    pub unused: u64,
}

/// Hands out `pool` by the credits burned for each hotspot's packets: each hotspot gets
/// `min(credits × credit_value, its proportional share of the pool)`.
///
/// When `Σ credits × credit_value ≤ pool` every hotspot gets exactly `credits × credit_value`;
/// otherwise the pool is apportioned by credits by the largest-remainder method (ties to the
/// smaller key), which never gives a hotspot more than its credits' value. Always
/// `Σ amounts + unused == pool`.
pub fn data_transfer_rewards(
    pool: u64,
    credits_by_hotspot: &BTreeMap<[u8; 32], u64>,
    credit_value: u64,
) -> Result<DataTransferRewards, RewardError> {
    let value = |credits: u64| u128::from(credits) * u128::from(credit_value);
    let capped_total = credits_by_hotspot
        .values()
        .try_fold(0u128, |sum, &credits| sum.checked_add(value(credits)));
    let amounts: Vec<u64> = match capped_total {
        Some(total) if total <= u128::from(pool) => credits_by_hotspot
            .values()
            // Each value is at most the total, which fits the pool's u64.
            .map(|&credits| value(credits) as u64)
            .collect(),
        _ => {
            let shares: Vec<u128> = credits_by_hotspot.values().map(|&c| c.into()).collect();
            let apportioned =
                apportion(pool, &shares)?.unwrap_or_else(|| vec![0; credits_by_hotspot.len()]);
            // Apportioning a pool smaller than the credits' value keeps each amount below its
            // cap; the clamp holds it even where wide shares were rounded.
            apportioned
                .into_iter()
                .zip(credits_by_hotspot.values())
                // The minimum is at most `amount`, so it fits.
                .map(|(amount, &credits)| value(credits).min(u128::from(amount)) as u64)
                .collect()
        }
    };
    let paid: u128 = amounts.iter().map(|&a| u128::from(a)).sum();
    let paid_total = u64::try_from(paid).map_err(|_| RewardError::Overflow)?;
    let unused = pool.checked_sub(paid_total).ok_or(RewardError::Overflow)?;
    Ok(DataTransferRewards {
        amounts: credits_by_hotspot.keys().copied().zip(amounts).collect(),
        paid_total,
        unused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROUTE: &str = "route-a";

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    /// A packet of `payload` heard by `hotspot` at `at_ms`, on `ROUTE`, paid by payer 100.
    fn packet(id: u8, hotspot: u8, payload: u8, at_ms: u64) -> PacketRow {
        PacketRow {
            report_id: key(id),
            hotspot: key(hotspot),
            route_id: ROUTE.into(),
            payer: key(100),
            payload_hash: key(payload),
            credits: 1,
            received_ms: at_ms,
            acked: true,
        }
    }

    fn routes(copies: u32) -> RouteCopies {
        [(ROUTE.to_string(), copies)].into_iter().collect()
    }

    fn rich() -> PayerBalances {
        [(key(100), 1_000_000)].into_iter().collect()
    }

    fn reason_of(s: &Settlement, id: u8) -> Option<PacketReason> {
        s.refused
            .iter()
            .find(|r| r.report_id == key(id))
            .map(|r| r.reason)
    }

    fn paid_ids(s: &Settlement) -> Vec<u8> {
        s.paid.iter().map(|p| p.report_id[0]).collect()
    }

    /// The smallest PHY payload price: one credit per 24 bytes, rounded up, at least one.
    fn credits_for(payload_len: usize) -> u64 {
        (payload_len.div_ceil(24) as u64).max(1)
    }

    #[test]
    fn credits_for_rounds_up_per_24_bytes() {
        assert_eq!([0, 1, 24, 25, 48, 49].map(credits_for), [1, 1, 1, 2, 2, 3]);
    }

    #[test]
    fn an_unknown_route_is_refused() {
        let mut p = packet(1, 1, 9, 10);
        p.route_id = "nobody".into();
        let s = settle(&[p], &rich(), &routes(3));
        assert_eq!(reason_of(&s, 1), Some(PacketReason::UnknownRoute));
        assert!(s.paid.is_empty() && s.burned.is_empty());
    }

    #[test]
    fn an_unacknowledged_packet_is_refused_and_takes_no_place() {
        let mut first = packet(1, 1, 9, 10);
        first.acked = false;
        let s = settle(&[first, packet(2, 2, 9, 20)], &rich(), &routes(1));
        assert_eq!(reason_of(&s, 1), Some(PacketReason::NotAcknowledged));
        assert_eq!(
            paid_ids(&s),
            vec![2],
            "the acknowledged copy takes the place"
        );
    }

    #[test]
    fn a_hotspot_reporting_a_packet_twice_is_paid_once() {
        let s = settle(
            &[
                packet(1, 1, 9, 10),
                packet(2, 1, 9, 20),
                packet(3, 1, 8, 30),
            ],
            &rich(),
            &routes(3),
        );
        assert_eq!(reason_of(&s, 2), Some(PacketReason::DuplicatePacket));
        assert_eq!(
            paid_ids(&s),
            vec![1, 3],
            "another payload is another packet"
        );
        assert_eq!(s.credits_by_hotspot[&key(1)], 2);
    }

    #[test]
    fn the_first_max_copies_are_bought_in_receive_order() {
        // Given out of order; copies 3 and 1 arrive first.
        let packets = [
            packet(4, 4, 9, 40),
            packet(2, 2, 9, 30),
            packet(3, 3, 9, 10),
            packet(1, 1, 9, 20),
        ];
        let s = settle(&packets, &rich(), &routes(2));
        assert_eq!(paid_ids(&s), vec![3, 1]);
        assert_eq!(reason_of(&s, 2), Some(PacketReason::OverMultiBuy));
        assert_eq!(reason_of(&s, 4), Some(PacketReason::OverMultiBuy));
        assert_eq!(s.burned[&key(100)], 2);
        let none = settle(&packets, &rich(), &routes(0));
        assert!(none.paid.is_empty() && none.refused.len() == 4);
    }

    #[test]
    fn copies_received_at_the_same_millisecond_go_by_report_id() {
        let packets = [
            packet(7, 1, 9, 10),
            packet(5, 2, 9, 10),
            packet(6, 3, 9, 10),
        ];
        let s = settle(&packets, &rich(), &routes(1));
        assert_eq!(paid_ids(&s), vec![5]);
        let mut reversed = packets.to_vec();
        reversed.reverse();
        assert_eq!(settle(&reversed, &rich(), &routes(1)), s);
    }

    #[test]
    fn an_exhausted_payer_pays_for_nothing_later_in_the_epoch() {
        let mut big = packet(2, 2, 8, 20);
        big.credits = 5;
        let small_later = packet(3, 3, 7, 30);
        let mut other_payer = packet(4, 4, 6, 40);
        other_payer.payer = key(101);
        let balances: PayerBalances = [(key(100), 3), (key(101), 1)].into_iter().collect();
        let s = settle(
            &[packet(1, 1, 9, 10), big, small_later, other_payer],
            &balances,
            &routes(3),
        );
        assert_eq!(paid_ids(&s), vec![1, 4]);
        assert_eq!(reason_of(&s, 2), Some(PacketReason::PayerExhausted));
        assert_eq!(
            reason_of(&s, 3),
            Some(PacketReason::PayerExhausted),
            "one credit was left, but the payer stopped"
        );
        assert_eq!(s.burned[&key(100)], 1);
        assert_eq!(s.burned[&key(101)], 1);
        assert_eq!(s.exhausted, [key(100)].into_iter().collect());
        let counts = s.refusal_counts();
        assert_eq!(counts.get("payer_exhausted"), Some(&2));
    }

    #[test]
    fn a_payer_without_a_balance_pays_nothing() {
        let s = settle(&[packet(1, 1, 9, 10)], &PayerBalances::new(), &routes(1));
        assert_eq!(reason_of(&s, 1), Some(PacketReason::PayerExhausted));
    }

    #[test]
    fn the_checks_run_in_their_order() {
        // Unacknowledged on an unknown route: the route is named first.
        let mut p = packet(1, 1, 9, 10);
        p.route_id = "nobody".into();
        p.acked = false;
        let s = settle(&[p], &PayerBalances::new(), &routes(0));
        assert_eq!(reason_of(&s, 1), Some(PacketReason::UnknownRoute));
        // A duplicate beyond the multi-buy places, of a payer without credits: a duplicate.
        let s = settle(
            &[packet(1, 1, 9, 10), packet(2, 1, 9, 20)],
            &PayerBalances::new(),
            &routes(0),
        );
        assert_eq!(reason_of(&s, 1), Some(PacketReason::OverMultiBuy));
        assert_eq!(reason_of(&s, 2), Some(PacketReason::DuplicatePacket));
    }

    #[test]
    fn the_credits_value_caps_each_hotspot_and_the_rest_flows_back() {
        let credits: BTreeMap<[u8; 32], u64> = [(key(1), 3), (key(2), 1)].into_iter().collect();
        let r = data_transfer_rewards(1_000, &credits, 100).unwrap();
        assert_eq!(r.amounts[&key(1)], 300);
        assert_eq!(r.amounts[&key(2)], 100);
        assert_eq!((r.paid_total, r.unused), (400, 600));
        // A pool smaller than the credits' value is apportioned by credits.
        let r = data_transfer_rewards(10, &credits, 100).unwrap();
        assert_eq!(r.amounts[&key(1)], 8, "7.5 rounds up: the larger remainder");
        assert_eq!(r.amounts[&key(2)], 2);
        assert_eq!((r.paid_total, r.unused), (10, 0));
        // Equal remainders go to the smaller key.
        let even: BTreeMap<[u8; 32], u64> = [(key(1), 1), (key(2), 1)].into_iter().collect();
        let r = data_transfer_rewards(3, &even, 100).unwrap();
        assert_eq!((r.amounts[&key(1)], r.amounts[&key(2)]), (2, 1));
        // Nothing to pay: the whole pool flows back.
        let r = data_transfer_rewards(5, &BTreeMap::new(), 100).unwrap();
        assert_eq!((r.paid_total, r.unused), (0, 5));
        let r = data_transfer_rewards(5, &credits, 0).unwrap();
        assert_eq!((r.paid_total, r.unused), (0, 5));
    }

    #[test]
    fn huge_credits_and_values_never_panic() {
        let huge: BTreeMap<[u8; 32], u64> = (0..4u8).map(|n| (key(n), u64::MAX)).collect();
        for pool in [0, 1, 7, u64::MAX - 1, u64::MAX] {
            for value in [0, 1, u64::MAX] {
                let r = data_transfer_rewards(pool, &huge, value).unwrap();
                let sum: u128 = r.amounts.values().map(|&a| u128::from(a)).sum();
                assert_eq!(sum + u128::from(r.unused), u128::from(pool));
            }
        }
        // A hotspot paid by many payers with huge balances: its credits saturate.
        let packets: Vec<PacketRow> = (0..4u8)
            .map(|n| PacketRow {
                payer: key(200 + n),
                credits: u64::MAX,
                ..packet(n, 1, n, u64::from(n))
            })
            .collect();
        let balances: PayerBalances = (0..4u8).map(|n| (key(200 + n), u64::MAX)).collect();
        let s = settle(&packets, &balances, &routes(1));
        assert_eq!(s.paid.len(), 4);
        assert_eq!(s.credits_by_hotspot[&key(1)], u64::MAX);
        assert_eq!(s.burned_total(), u64::MAX);
        let r = data_transfer_rewards(u64::MAX, &s.credits_by_hotspot, u64::MAX).unwrap();
        assert_eq!(r.amounts[&key(1)], u64::MAX);
    }

    /// Random packets: hotspots 0–7, payers 100–103, two routes, a few payloads.
    fn packets_strategy() -> impl Strategy<Value = Vec<PacketRow>> {
        let one = (
            any::<u8>(),
            0..8u8,
            0..2u8,
            100..104u8,
            0..6u8,
            1..40u64,
            0..50u64,
            prop::bool::weighted(0.9),
        )
            .prop_map(|(id, hotspot, route, payer, payload, credits, at, acked)| {
                PacketRow {
                    report_id: key(id),
                    hotspot: key(hotspot),
                    route_id: format!("route-{route}"),
                    payer: key(payer),
                    payload_hash: key(payload),
                    credits,
                    received_ms: at,
                    acked,
                }
            });
        // Report ids are unique (the first byte is the row's place).
        prop::collection::vec(one, 0..60).prop_map(|mut rows| {
            for (i, row) in rows.iter_mut().enumerate() {
                row.report_id[0] = i as u8;
            }
            rows
        })
    }

    fn balances_strategy() -> impl Strategy<Value = PayerBalances> {
        prop::collection::btree_map((100..104u8).prop_map(key), 0..300u64, 0..4)
    }

    fn copies_strategy() -> impl Strategy<Value = RouteCopies> {
        prop::collection::btree_map((0..3u8).prop_map(|r| format!("route-{r}")), 0..4u32, 0..3)
    }

    proptest! {
        #[test]
        fn settlement_is_consistent_and_order_free(
            packets in packets_strategy(),
            balances in balances_strategy(),
            copies in copies_strategy(),
            seed in any::<u64>(),
        ) {
            let s = settle(&packets, &balances, &copies);
            prop_assert_eq!(s.paid.len() + s.refused.len(), packets.len());
            for (payer, &burned) in &s.burned {
                prop_assert!(burned <= balances.get(payer).copied().unwrap_or(0));
            }
            let by_payer: u64 = s.burned.values().sum();
            let by_hotspot: u64 = s.credits_by_hotspot.values().sum();
            prop_assert_eq!(by_payer, by_hotspot);
            // Never more than max_copies copies of a packet, never two from one hotspot.
            let mut bought: BTreeMap<(String, [u8; 32]), Vec<[u8; 32]>> = BTreeMap::new();
            let row = |id: &[u8; 32], hotspot: &[u8; 32]| {
                packets.iter().find(|p| &p.report_id == id && &p.hotspot == hotspot).unwrap()
            };
            for p in &s.paid {
                let r = row(&p.report_id, &p.hotspot);
                prop_assert!(r.acked);
                bought.entry((r.route_id.clone(), r.payload_hash)).or_default().push(p.hotspot);
            }
            for ((route, _), hotspots) in &bought {
                prop_assert!(hotspots.len() as u32 <= copies[route]);
                let distinct: BTreeSet<_> = hotspots.iter().collect();
                prop_assert_eq!(distinct.len(), hotspots.len());
            }
            // The rows' order does not matter.
            let mut shuffled = packets.clone();
            let n = shuffled.len().max(1);
            shuffled.rotate_left((seed as usize) % n);
            shuffled.reverse();
            prop_assert_eq!(settle(&shuffled, &balances, &copies), s);
        }

        #[test]
        fn amounts_and_unused_sum_to_the_pool(
            credits in prop::collection::btree_map((0..50u8).prop_map(key), any::<u64>(), 0..12),
            pool in any::<u64>(),
            value in prop_oneof![Just(0u64), 1..1_000_000u64, any::<u64>()],
        ) {
            let r = data_transfer_rewards(pool, &credits, value).unwrap();
            let sum: u128 = r.amounts.values().map(|&a| u128::from(a)).sum();
            prop_assert_eq!(sum, u128::from(r.paid_total));
            prop_assert_eq!(sum + u128::from(r.unused), u128::from(pool));
            for (hotspot, &amount) in &r.amounts {
                prop_assert!(u128::from(amount) <= u128::from(credits[hotspot]) * u128::from(value));
            }
        }

        /// An owner pays, as payer 100, for packets of its own devices forwarded only by its own
        /// hotspots 0–3; honest payers' packets go through hotspots 4–7. Whatever the pool and
        /// the others do, the owner's hotspots earn at most what it burned, in tokens.
        #[test]
        fn self_dealing_never_returns_more_than_it_costs(
            packets in packets_strategy(),
            balances in balances_strategy(),
            pool in any::<u64>(),
            value in 0..1_000_000u64,
        ) {
            let packets: Vec<PacketRow> = packets
                .into_iter()
                .map(|mut p| {
                    let own = p.hotspot[0] < 4;
                    if own { p.payer = key(100) } else if p.payer == key(100) { p.payer = key(101) }
                    p
                })
                .collect();
            let copies: RouteCopies = [("route-0".to_string(), 3), ("route-1".to_string(), 1)]
                .into_iter()
                .collect();
            let s = settle(&packets, &balances, &copies);
            let r = data_transfer_rewards(pool, &s.credits_by_hotspot, value).unwrap();
            let earned: u128 = r
                .amounts
                .iter()
                .filter(|(k, _)| k[0] < 4)
                .map(|(_, &a)| u128::from(a))
                .sum();
            let cost = u128::from(s.burned.get(&key(100)).copied().unwrap_or(0)) * u128::from(value);
            prop_assert!(earned <= cost, "earned {} for {} burned", earned, cost);
        }
    }
}
