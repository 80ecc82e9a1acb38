-- Gateways and their latest location assertion. A NULL location means onboarded, not asserted.
CREATE TABLE gateways (
    pub_key      BLOB PRIMARY KEY NOT NULL,
    location     INTEGER,
    gain_ddbi    INTEGER NOT NULL,
    elevation_m  INTEGER NOT NULL,
    region       INTEGER NOT NULL,
    asserted_ms  INTEGER NOT NULL,
    raw          BLOB NOT NULL
);

-- Entropy published by this oracle.
CREATE TABLE entropy (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    data         BLOB NOT NULL UNIQUE,
    timestamp_ms INTEGER NOT NULL,
    raw          BLOB NOT NULL
);
CREATE INDEX entropy_ts ON entropy (timestamp_ms);

-- Beacon reports: the raw protobuf plus the columns the verifier queries.
CREATE TABLE beacons (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id      TEXT NOT NULL,
    pub_key        BLOB NOT NULL,
    data           BLOB NOT NULL,
    remote_entropy BLOB NOT NULL,
    frequency_hz   INTEGER NOT NULL,
    received_ms    INTEGER NOT NULL,
    raw            BLOB NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    reason         TEXT,
    verified_ms    INTEGER
);
CREATE INDEX beacons_status ON beacons (status);
CREATE INDEX beacons_data ON beacons (data);
CREATE INDEX beacons_key_time ON beacons (pub_key, received_ms);
CREATE INDEX beacons_time ON beacons (received_ms);
CREATE INDEX beacons_freq_time ON beacons (frequency_hz, received_ms);

-- Witness reports, with the beacon they were matched to and whether they are rewarded.
CREATE TABLE witnesses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id    TEXT NOT NULL,
    pub_key      BLOB NOT NULL,
    data         BLOB NOT NULL,
    frequency_hz INTEGER NOT NULL,
    received_ms  INTEGER NOT NULL,
    raw          BLOB NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    reason       TEXT,
    beacon_id    INTEGER REFERENCES beacons (id),
    selected     INTEGER NOT NULL DEFAULT 0,
    verified_ms  INTEGER
);
CREATE INDEX witnesses_status ON witnesses (status);
CREATE INDEX witnesses_beacon ON witnesses (beacon_id);
CREATE INDEX witnesses_key_time ON witnesses (pub_key, received_ms);
CREATE INDEX witnesses_time ON witnesses (received_ms);

-- Reports refused at ingest.
CREATE TABLE ingest_rejections (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    claimed_key  BLOB NOT NULL,
    received_ms  INTEGER NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX ingest_rejections_time ON ingest_rejections (received_ms);
CREATE INDEX ingest_rejections_key ON ingest_rejections (claimed_key);

-- Closed epochs: the full report as JSON, and one row per rewarded hotspot.
CREATE TABLE epochs (
    epoch        INTEGER PRIMARY KEY NOT NULL,
    closed_ms    INTEGER NOT NULL,
    report_json  TEXT NOT NULL
);
CREATE TABLE epoch_rewards (
    epoch          INTEGER NOT NULL REFERENCES epochs (epoch),
    pub_key        BLOB NOT NULL,
    beacons        INTEGER NOT NULL,
    witnesses      INTEGER NOT NULL,
    beacon_amount  INTEGER NOT NULL,
    witness_amount INTEGER NOT NULL,
    total          INTEGER NOT NULL,
    PRIMARY KEY (epoch, pub_key)
);
