//! The identity part of a store ([`IdentityStore`]): onboarded hotspots with their makers and
//! owners, the owners' data-credit balances, and the journal of credits and fees.
//!
//! The writes load what the rule reads, decide with [`oracle_core::identity`] and apply the
//! decision in one transaction, so that two requests racing for an owner's last credits or a
//! maker's last allowance cannot both pass.

use super::{GatewayRow, StoreResult};
use futures::future::BoxFuture;
pub use oracle_core::identity::{Binding, Makers, Refusal};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a journal entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DcKind {
    /// Data credits added to an owner's balance.
    Credit,
    /// The fee for onboarding a hotspot.
    Onboarding,
    /// The fee for a location assertion.
    Assertion,
}

impl DcKind {
    /// The stored code.
    pub fn code(&self) -> &'static str {
        match self {
            DcKind::Credit => "credit",
            DcKind::Onboarding => "onboarding",
            DcKind::Assertion => "assertion",
        }
    }

    /// The kind stored as `code`.
    pub fn from_code(code: &str) -> Option<Self> {
        [DcKind::Credit, DcKind::Onboarding, DcKind::Assertion]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// One credit or fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DcEntry {
    /// Journal order.
    pub id: i64,
    /// The owner whose balance changed.
    #[serde(serialize_with = "address")]
    pub owner: [u8; 32],
    /// When.
    pub at_ms: u64,
    /// Positive for a credit, negative for a fee.
    pub amount: i64,
    /// What it was for.
    pub kind: DcKind,
    /// The hotspot a fee was for.
    #[serde(serialize_with = "optional_address")]
    pub hotspot: Option<[u8; 32]>,
    /// Free text (a credit's reference).
    pub memo: String,
}

fn address<S: serde::Serializer>(key: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&poc::Address(*key))
}

fn optional_address<S: serde::Serializer>(key: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    match key {
        Some(key) => s.collect_str(&poc::Address(*key)),
        None => s.serialize_none(),
    }
}

impl DcEntry {
    /// The entry as the ledger's journal digest reads it.
    pub fn journal_item(&self) -> ledger::JournalItem<'_> {
        ledger::JournalItem {
            owner: self.owner,
            at_ms: self.at_ms,
            amount: self.amount,
            kind: self.kind.code(),
            hotspot: self.hotspot,
            memo: &self.memo,
        }
    }
}

/// The columns of a binding, as every binding read selects them.
pub(crate) const BINDING_SELECT: &str = "SELECT hotspot_key, owner_key, maker_key FROM onboardings";

/// An onboarding to apply: the request's checked binding, the fee, and the request's bytes.
#[derive(Debug, Clone)]
pub struct OnboardingWrite<'a> {
    /// The hotspot's binding, checked by [`oracle_core::identity::check_request`].
    pub binding: Binding,
    /// The registered makers (for the allowance).
    pub makers: &'a Makers,
    /// The onboarding fee.
    pub fee_dc: u64,
    /// When it was received.
    pub at_ms: u64,
    /// The request's encoding.
    pub raw: Vec<u8>,
}

/// What an accepted onboarding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Onboarded {
    /// The hotspot is onboarded and its owner paid.
    New,
    /// The same binding existed: nothing changed.
    Replay,
}

/// The identity records of a store.
pub trait IdentityStore {
    /// Loads the state [`oracle_core::identity::decide_onboarding`] reads, decides, and applies
    /// an accepted onboarding: the binding, an unasserted gateway row, the owner's debit and
    /// its journal entry, all in one transaction.
    fn onboard<'a>(
        &'a self,
        write: OnboardingWrite<'a>,
    ) -> BoxFuture<'a, StoreResult<Result<Onboarded, Refusal>>>;

    /// Applies a location assertion of an onboarded hotspot, debiting its owner `fee_dc`, in
    /// one transaction; refuses it (`not_onboarded`, `insufficient_balance`) without change.
    fn put_paid_gateway<'a>(
        &'a self,
        gateway: &'a GatewayRow,
        fee_dc: u64,
        at_ms: u64,
    ) -> BoxFuture<'a, StoreResult<Result<(), Refusal>>>;

    /// Adds `amount` data credits to `owner`'s balance; returns the new balance.
    fn credit<'a>(
        &'a self,
        owner: &'a [u8; 32],
        amount: u64,
        at_ms: u64,
        memo: &'a str,
    ) -> BoxFuture<'a, StoreResult<u64>>;

    /// An owner's balance (0 for an owner never credited).
    fn balance<'a>(&'a self, owner: &'a [u8; 32]) -> BoxFuture<'a, StoreResult<u64>>;

    /// A hotspot's binding.
    fn binding<'a>(&'a self, hotspot: &'a [u8; 32]) -> BoxFuture<'a, StoreResult<Option<Binding>>>;

    /// Every binding, ordered by hotspot key.
    fn bindings(&self) -> BoxFuture<'_, StoreResult<Vec<Binding>>>;

    /// The hotspots of one owner, ordered by hotspot key.
    fn owner_bindings<'a>(
        &'a self,
        owner: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Vec<Binding>>>;

    /// How many hotspots each maker onboarded.
    fn maker_counts(&self) -> BoxFuture<'_, StoreResult<BTreeMap<[u8; 32], u64>>>;

    /// The onboarding requests accepted from `start_ms` (inclusive) to `end_ms` (exclusive),
    /// as received (their protobuf encoding), ordered by time and hotspot key.
    fn onboardings_between(&self, span: (u64, u64)) -> BoxFuture<'_, StoreResult<Vec<Vec<u8>>>>;

    /// The journal entries from `start_ms` (inclusive) to `end_ms` (exclusive), of one owner
    /// or of all, in journal order: at most `limit` after skipping `offset`.
    fn dc_journal<'a>(
        &'a self,
        owner: Option<&'a [u8; 32]>,
        span: (u64, u64),
        limit: u32,
        offset: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<DcEntry>>>;
}

/// The journal entry of a fee.
pub(crate) fn fee_entry(
    binding: &Binding,
    kind: DcKind,
    fee_dc: u64,
    at_ms: u64,
) -> Option<DcEntry> {
    (fee_dc > 0).then(|| DcEntry {
        id: 0,
        owner: binding.owner,
        at_ms,
        amount: -(fee_dc.min(i64::MAX as u64) as i64),
        kind,
        hotspot: Some(binding.hotspot),
        memo: String::new(),
    })
}

/// The gateway row of a hotspot just onboarded: known, not asserted.
pub(crate) fn unasserted_gateway(hotspot: [u8; 32]) -> GatewayRow {
    GatewayRow {
        pub_key: hotspot,
        location: None,
        gain_ddbi: 0,
        elevation_m: 0,
        region: 0,
        asserted_ms: 0,
        raw: Vec::new(),
    }
}

/// `sql` with its `?` placeholders numbered `$1`, `$2`, … (PostgreSQL's form). The statements
/// given to it hold no `?` other than placeholders.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Upserts a gateway row (the statement both stores' identity writes use).
pub(crate) const UPSERT_GATEWAY: &str =
    "INSERT INTO gateways (pub_key, location, gain_ddbi, elevation_m, region, asserted_ms, raw)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (pub_key) DO UPDATE SET location = excluded.location,
       gain_ddbi = excluded.gain_ddbi, elevation_m = excluded.elevation_m,
       region = excluded.region, asserted_ms = excluded.asserted_ms, raw = excluded.raw";

/// Implements [`IdentityStore`] for a store over one sqlx database type. The store provides
/// `identity_sql(&str) -> Cow<str>` (its placeholder form), `identity_lock()` (held
/// across each identity write: serialises them in this process), `identity_begin()` (a
/// transaction that holds the write lock from its start, so that its reads and writes are not
/// interleaved with another process's) and `gateway_written(GatewayRow)` (its gateway cache).
macro_rules! identity_store {
    ($store:ty, $db:ty, $row:ty) => {
        impl $crate::identity::IdentityStore for $store {
            fn onboard<'a>(
                &'a self,
                write: $crate::identity::OnboardingWrite<'a>,
            ) -> futures::future::BoxFuture<
                'a,
                $crate::StoreResult<
                    Result<$crate::identity::Onboarded, $crate::identity::Refusal>,
                >,
            > {
                Box::pin(async move {
                    use oracle_core::identity::{decide_onboarding, OnboardingDecision, OnboardingState};
                    use $crate::identity::{fee_entry, unasserted_gateway, DcKind, Onboarded};
                    let _serialised = self.identity_lock().await;
                    let mut tx = self.identity_begin().await?;
                    let b = write.binding;
                    let state = OnboardingState {
                        existing: identity_sql::binding_in(self, &mut *tx, &b.hotspot).await?,
                        maker_onboarded: identity_sql::count(
                            self,
                            &mut *tx,
                            "SELECT COUNT(*) FROM onboardings WHERE maker_key = ?",
                            &b.maker,
                        )
                        .await?,
                        owner_balance: identity_sql::balance_in(self, &mut *tx, &b.owner).await?,
                    };
                    let fee_dc = match decide_onboarding(b, &state, write.makers, write.fee_dc) {
                        Err(refusal) => return Ok(Err(refusal)),
                        Ok(OnboardingDecision::Replay(_)) => return Ok(Ok(Onboarded::Replay)),
                        Ok(OnboardingDecision::Onboard { fee_dc, .. }) => fee_dc,
                    };
                    sqlx::query(&self.identity_sql(
                        "INSERT INTO onboardings (hotspot_key, owner_key, maker_key, onboarded_ms, fee_dc, raw)
                         VALUES (?, ?, ?, ?, ?, ?)",
                    ))
                    .bind(b.hotspot.as_slice())
                    .bind(b.owner.as_slice())
                    .bind(b.maker.as_slice())
                    .bind(write.at_ms as i64)
                    .bind(fee_dc as i64)
                    .bind(write.raw.as_slice())
                    .execute(&mut *tx)
                    .await?;
                    let gateway = unasserted_gateway(b.hotspot);
                    identity_sql::upsert_gateway(self, &mut *tx, &gateway).await?;
                    if let Some(entry) = fee_entry(&b, DcKind::Onboarding, fee_dc, write.at_ms) {
                        identity_sql::journal(self, &mut *tx, &entry).await?;
                    }
                    tx.commit().await?;
                    self.gateway_written(gateway);
                    Ok(Ok(Onboarded::New))
                })
            }

            fn put_paid_gateway<'a>(
                &'a self,
                gateway: &'a $crate::GatewayRow,
                fee_dc: u64,
                at_ms: u64,
            ) -> futures::future::BoxFuture<
                'a,
                $crate::StoreResult<Result<(), $crate::identity::Refusal>>,
            > {
                Box::pin(async move {
                    use oracle_core::identity::check_balance;
                    use oracle_core::reason::IngestReason;
                    use $crate::identity::{fee_entry, DcKind, Refusal};
                    let _serialised = self.identity_lock().await;
                    let mut tx = self.identity_begin().await?;
                    let Some(binding) = identity_sql::binding_in(self, &mut *tx, &gateway.pub_key).await? else {
                        return Ok(Err(Refusal {
                            reason: IngestReason::NotOnboarded,
                            detail: format!("{} was never onboarded", poc::Address(gateway.pub_key)),
                        }));
                    };
                    let balance = identity_sql::balance_in(self, &mut *tx, &binding.owner).await?;
                    if let Err(refusal) = check_balance(balance, fee_dc, "assertion") {
                        return Ok(Err(refusal));
                    }
                    identity_sql::upsert_gateway(self, &mut *tx, gateway).await?;
                    if let Some(entry) = fee_entry(&binding, DcKind::Assertion, fee_dc, at_ms) {
                        identity_sql::journal(self, &mut *tx, &entry).await?;
                    }
                    tx.commit().await?;
                    self.gateway_written(gateway.clone());
                    Ok(Ok(()))
                })
            }

            fn credit<'a>(
                &'a self,
                owner: &'a [u8; 32],
                amount: u64,
                at_ms: u64,
                memo: &'a str,
            ) -> futures::future::BoxFuture<'a, $crate::StoreResult<u64>> {
                Box::pin(async move {
                    use $crate::identity::{DcEntry, DcKind};
                    let amount = i64::try_from(amount)
                        .map_err(|_| $crate::StoreError::AmountTooLarge(amount))?;
                    let _serialised = self.identity_lock().await;
                    let mut tx = self.identity_begin().await?;
                    let entry = DcEntry {
                        id: 0,
                        owner: *owner,
                        at_ms,
                        amount,
                        kind: DcKind::Credit,
                        hotspot: None,
                        memo: memo.to_string(),
                    };
                    identity_sql::journal(self, &mut *tx, &entry).await?;
                    let balance = identity_sql::balance_in(self, &mut *tx, owner).await?;
                    tx.commit().await?;
                    Ok(balance)
                })
            }

            fn balance<'a>(
                &'a self,
                owner: &'a [u8; 32],
            ) -> futures::future::BoxFuture<'a, $crate::StoreResult<u64>> {
                Box::pin(async move {
                    let mut conn = self.pool.acquire().await?;
                    identity_sql::balance_in(self, &mut *conn, owner).await
                })
            }

            fn binding<'a>(
                &'a self,
                hotspot: &'a [u8; 32],
            ) -> futures::future::BoxFuture<
                'a,
                $crate::StoreResult<Option<$crate::identity::Binding>>,
            > {
                Box::pin(async move {
                    let mut conn = self.pool.acquire().await?;
                    identity_sql::binding_in(self, &mut *conn, hotspot).await
                })
            }

            fn bindings(
                &self,
            ) -> futures::future::BoxFuture<
                '_,
                $crate::StoreResult<Vec<$crate::identity::Binding>>,
            > {
                Box::pin(async move {
                    let sql = format!("{} ORDER BY hotspot_key", $crate::identity::BINDING_SELECT);
                    let rows = sqlx::query(&sql)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(identity_sql::binding_row).collect()
                })
            }

            fn owner_bindings<'a>(
                &'a self,
                owner: &'a [u8; 32],
            ) -> futures::future::BoxFuture<
                'a,
                $crate::StoreResult<Vec<$crate::identity::Binding>>,
            > {
                Box::pin(async move {
                    let sql = format!(
                        "{} WHERE owner_key = ? ORDER BY hotspot_key",
                        $crate::identity::BINDING_SELECT
                    );
                    let rows = sqlx::query(&self.identity_sql(&sql))
                    .bind(owner.as_slice())
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(identity_sql::binding_row).collect()
                })
            }

            fn maker_counts(
                &self,
            ) -> futures::future::BoxFuture<
                '_,
                $crate::StoreResult<std::collections::BTreeMap<[u8; 32], u64>>,
            > {
                Box::pin(async move {
                    use sqlx::Row;
                    let rows = sqlx::query(
                        "SELECT maker_key, COUNT(*) AS n FROM onboardings GROUP BY maker_key",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    let mut counts = std::collections::BTreeMap::new();
                    for row in &rows {
                        let key: Vec<u8> = row.try_get("maker_key")?;
                        let n: i64 = row.try_get("n")?;
                        counts.insert($crate::key32(&key)?, n.max(0) as u64);
                    }
                    Ok(counts)
                })
            }

            fn onboardings_between(
                &self,
                (start_ms, end_ms): (u64, u64),
            ) -> futures::future::BoxFuture<'_, $crate::StoreResult<Vec<Vec<u8>>>> {
                Box::pin(async move {
                    let rows = sqlx::query(&self.identity_sql(
                        "SELECT raw FROM onboardings WHERE onboarded_ms >= ? AND onboarded_ms < ?
                         ORDER BY onboarded_ms, hotspot_key",
                    ))
                    .bind(start_ms.min(i64::MAX as u64) as i64)
                    .bind(end_ms.min(i64::MAX as u64) as i64)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|row| Ok(sqlx::Row::try_get(row, 0)?))
                        .collect()
                })
            }

            fn dc_journal<'a>(
                &'a self,
                owner: Option<&'a [u8; 32]>,
                (start_ms, end_ms): (u64, u64),
                limit: u32,
                offset: u64,
            ) -> futures::future::BoxFuture<
                'a,
                $crate::StoreResult<Vec<$crate::identity::DcEntry>>,
            > {
                Box::pin(async move {
                    let rows = sqlx::query(&self.identity_sql(
                        "SELECT id, owner_key, at_ms, amount, kind, hotspot_key, memo FROM dc_journal
                         WHERE at_ms >= ? AND at_ms < ? AND (? OR owner_key = ?)
                         ORDER BY id LIMIT ? OFFSET ?",
                    ))
                    .bind(start_ms.min(i64::MAX as u64) as i64)
                    .bind(end_ms.min(i64::MAX as u64) as i64)
                    .bind(owner.is_none())
                    .bind(owner.map(|o| o.as_slice()).unwrap_or_default())
                    .bind(i64::from(limit))
                    .bind(offset.min(i64::MAX as u64) as i64)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(identity_sql::journal_row).collect()
                })
            }
        }

        /// The identity store's statements over this database.
        mod identity_sql {
            use super::*;
            use sqlx::Row;
            use $crate::identity::{Binding, DcEntry, DcKind};
            use $crate::{key32, GatewayRow, StoreResult};

            pub(super) async fn count(
                store: &$store,
                conn: &mut <$db as sqlx::Database>::Connection,
                sql: &'static str,
                key: &[u8; 32],
            ) -> StoreResult<u64> {
                let n: i64 = sqlx::query_scalar(&store.identity_sql(sql))
                    .bind(key.as_slice())
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(n.max(0) as u64)
            }

            pub(super) async fn balance_in(
                store: &$store,
                conn: &mut <$db as sqlx::Database>::Connection,
                owner: &[u8; 32],
            ) -> StoreResult<u64> {
                count(
                    store,
                    conn,
                    "SELECT COALESCE(MAX(balance), 0) FROM dc_balances WHERE owner_key = ?",
                    owner,
                )
                .await
            }

            pub(super) async fn binding_in(
                store: &$store,
                conn: &mut <$db as sqlx::Database>::Connection,
                hotspot: &[u8; 32],
            ) -> StoreResult<Option<Binding>> {
                let sql = format!(
                    "{} WHERE hotspot_key = ?",
                    $crate::identity::BINDING_SELECT
                );
                let row = sqlx::query(&store.identity_sql(&sql))
                .bind(hotspot.as_slice())
                .fetch_optional(&mut *conn)
                .await?;
                row.as_ref().map(binding_row).transpose()
            }

            pub(super) fn binding_row(row: &$row) -> StoreResult<Binding> {
                let key = |column: &str| -> StoreResult<[u8; 32]> {
                    let bytes: Vec<u8> = row.try_get(column)?;
                    key32(&bytes)
                };
                Ok(Binding {
                    hotspot: key("hotspot_key")?,
                    owner: key("owner_key")?,
                    maker: key("maker_key")?,
                })
            }

            pub(super) fn journal_row(row: &$row) -> StoreResult<DcEntry> {
                let owner: Vec<u8> = row.try_get("owner_key")?;
                let hotspot: Option<Vec<u8>> = row.try_get("hotspot_key")?;
                let kind: String = row.try_get("kind")?;
                let at_ms: i64 = row.try_get("at_ms")?;
                Ok(DcEntry {
                    id: row.try_get("id")?,
                    owner: key32(&owner)?,
                    at_ms: at_ms.max(0) as u64,
                    amount: row.try_get("amount")?,
                    kind: DcKind::from_code(&kind).ok_or_else(|| {
                        $crate::StoreError::from($crate::Corrupt::JournalKind(kind.clone()))
                    })?,
                    hotspot: hotspot.as_deref().map(key32).transpose()?,
                    memo: row.try_get("memo")?,
                })
            }

            pub(super) async fn upsert_gateway(
                store: &$store,
                conn: &mut <$db as sqlx::Database>::Connection,
                g: &GatewayRow,
            ) -> StoreResult<()> {
                sqlx::query(&store.identity_sql($crate::identity::UPSERT_GATEWAY))
                    .bind(g.pub_key.as_slice())
                    .bind(g.location.map(|l| l as i64))
                    .bind(g.gain_ddbi)
                    .bind(g.elevation_m)
                    .bind(g.region)
                    .bind(g.asserted_ms as i64)
                    .bind(g.raw.as_slice())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// Appends a journal entry and applies it to the owner's balance.
            pub(super) async fn journal(
                store: &$store,
                conn: &mut <$db as sqlx::Database>::Connection,
                e: &DcEntry,
            ) -> StoreResult<()> {
                sqlx::query(&store.identity_sql(
                    "INSERT INTO dc_journal (owner_key, at_ms, amount, kind, hotspot_key, memo)
                     VALUES (?, ?, ?, ?, ?, ?)",
                ))
                .bind(e.owner.as_slice())
                .bind(e.at_ms.min(i64::MAX as u64) as i64)
                .bind(e.amount)
                .bind(e.kind.code())
                .bind(e.hotspot.as_ref().map(|h| h.as_slice()))
                .bind(e.memo.as_str())
                .execute(&mut *conn)
                .await?;
                // A fee updates the balance row its check found; a credit may create it (a
                // negative row would fail the table's check before any conflict resolution).
                let statement = if e.amount < 0 {
                    "UPDATE dc_balances SET balance = balance + ? WHERE owner_key = ?"
                } else {
                    "INSERT INTO dc_balances (balance, owner_key) VALUES (?, ?)
                     ON CONFLICT (owner_key) DO UPDATE SET balance = dc_balances.balance + excluded.balance"
                };
                sqlx::query(&store.identity_sql(statement))
                    .bind(e.amount)
                    .bind(e.owner.as_slice())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use identity_store;
