-- The PostgreSQL schema: the same tables as the SQLite one (oracle/migrations/sqlite), with
-- identity columns so that several ingest processes can share one database safely.

-- Gateways and their latest location assertion. A NULL location means onboarded, not asserted.
CREATE TABLE gateways (
    pub_key      BYTEA PRIMARY KEY,
    location     BIGINT,
    gain_ddbi    INTEGER NOT NULL,
    elevation_m  INTEGER NOT NULL,
    region       INTEGER NOT NULL,
    asserted_ms  BIGINT NOT NULL,
    raw          BYTEA NOT NULL
);

-- Entropy published by the oracle(s).
CREATE TABLE entropy (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    data         BYTEA NOT NULL UNIQUE,
    timestamp_ms BIGINT NOT NULL,
    raw          BYTEA NOT NULL
);
CREATE INDEX entropy_ts ON entropy (timestamp_ms);

-- Beacon reports: the raw protobuf plus the columns the verifier queries.
CREATE TABLE beacons (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id      TEXT NOT NULL,
    pub_key        BYTEA NOT NULL,
    data           BYTEA NOT NULL,
    remote_entropy BYTEA NOT NULL,
    frequency_hz   BIGINT NOT NULL,
    received_ms    BIGINT NOT NULL,
    raw            BYTEA NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    reason         TEXT,
    verified_ms    BIGINT
);
-- Only pending rows are looked up by status: a partial index stays small.
CREATE INDEX beacons_pending ON beacons (received_ms, id) WHERE status = 'pending';
CREATE INDEX beacons_data ON beacons (data);
CREATE INDEX beacons_key_time ON beacons (pub_key, received_ms);
CREATE INDEX beacons_time ON beacons (received_ms);
CREATE INDEX beacons_freq_time ON beacons (frequency_hz, received_ms);

-- Witness reports, with the beacon they were matched to and whether they are rewarded.
CREATE TABLE witnesses (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id    TEXT NOT NULL,
    pub_key      BYTEA NOT NULL,
    data         BYTEA NOT NULL,
    frequency_hz BIGINT NOT NULL,
    received_ms  BIGINT NOT NULL,
    raw          BYTEA NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    reason       TEXT,
    beacon_id    BIGINT REFERENCES beacons (id),
    selected     BOOLEAN NOT NULL DEFAULT FALSE,
    verified_ms  BIGINT
);
CREATE INDEX witnesses_pending ON witnesses (received_ms, id) WHERE status = 'pending';
CREATE INDEX witnesses_beacon ON witnesses (beacon_id);
CREATE INDEX witnesses_key_time ON witnesses (pub_key, received_ms);
CREATE INDEX witnesses_time ON witnesses (received_ms);

-- Reports refused at ingest.
CREATE TABLE ingest_rejections (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    claimed_key  BYTEA NOT NULL,
    received_ms  BIGINT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX ingest_rejections_time ON ingest_rejections (received_ms);
CREATE INDEX ingest_rejections_key ON ingest_rejections (claimed_key);

-- Closed epochs: the full report as JSON, and one row per rewarded hotspot.
CREATE TABLE epochs (
    epoch        BIGINT PRIMARY KEY,
    closed_ms    BIGINT NOT NULL,
    report_json  TEXT NOT NULL
);
CREATE TABLE epoch_rewards (
    epoch          BIGINT NOT NULL REFERENCES epochs (epoch),
    pub_key        BYTEA NOT NULL,
    beacons        BIGINT NOT NULL,
    witnesses      BIGINT NOT NULL,
    beacon_amount  BIGINT NOT NULL,
    witness_amount BIGINT NOT NULL,
    total          BIGINT NOT NULL,
    PRIMARY KEY (epoch, pub_key)
);
