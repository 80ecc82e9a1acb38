-- How far this operator has applied the report log that several oracle operators share (a
-- NATS JetStream stream, one row per stream): the last applied entry's sequence number and
-- the log's time after it.
CREATE TABLE report_log_positions (
    stream   TEXT PRIMARY KEY NOT NULL,
    seq      BIGINT NOT NULL,
    time_ms  BIGINT NOT NULL
);
