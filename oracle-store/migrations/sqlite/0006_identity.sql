-- Identities that cost something: each onboarded hotspot's maker and owner, the owners'
-- data-credit balances, and the journal of every credit and fee (the ledger pins each
-- epoch's part of it).
CREATE TABLE onboardings (
    hotspot_key   BLOB PRIMARY KEY NOT NULL,
    owner_key     BLOB NOT NULL,
    maker_key     BLOB NOT NULL,
    onboarded_ms  INTEGER NOT NULL,
    fee_dc        INTEGER NOT NULL,
    raw           BLOB NOT NULL
);
CREATE INDEX onboardings_owner ON onboardings (owner_key);
CREATE INDEX onboardings_maker ON onboardings (maker_key);
CREATE TABLE dc_balances (
    owner_key  BLOB PRIMARY KEY NOT NULL,
    balance    INTEGER NOT NULL CHECK (balance >= 0)
);
-- `amount` is positive for a credit and negative for a fee; `kind` is `credit`, `onboarding`
-- or `assertion`.
CREATE TABLE dc_journal (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_key    BLOB NOT NULL,
    at_ms        INTEGER NOT NULL,
    amount       INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    hotspot_key  BLOB,
    memo         TEXT NOT NULL
);
CREATE INDEX dc_journal_at ON dc_journal (at_ms);
CREATE INDEX dc_journal_owner ON dc_journal (owner_key);
