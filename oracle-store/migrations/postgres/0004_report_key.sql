-- Replays are found by `report_key`, the first 16 bytes of the report's SHA-256 (the bytes
-- that `report_id` spells in hex), instead of the 64-character `report_id` itself: a smaller
-- unique index, compared byte by byte rather than by the database's text collation. An id
-- that is not 64 hex digits (tests, tools) is its own key.
ALTER TABLE beacons ADD COLUMN report_key BYTEA;
ALTER TABLE witnesses ADD COLUMN report_key BYTEA;
UPDATE beacons SET report_key = CASE
    WHEN report_id ~ '^[0-9a-fA-F]{64}$' THEN substring(decode(report_id, 'hex') FROM 1 FOR 16)
    ELSE convert_to(report_id, 'UTF8') END;
UPDATE witnesses SET report_key = CASE
    WHEN report_id ~ '^[0-9a-fA-F]{64}$' THEN substring(decode(report_id, 'hex') FROM 1 FOR 16)
    ELSE convert_to(report_id, 'UTF8') END;
DROP INDEX beacons_report_id;
DROP INDEX witnesses_report_id;
CREATE UNIQUE INDEX beacons_report_key ON beacons (report_key);
CREATE UNIQUE INDEX witnesses_report_key ON witnesses (report_key);
