-- The RSSI of a witness report as a column of its own, so that the epoch close reads it
-- without decoding the stored report. Rows stored before this migration keep NULL (the raw
-- report is decoded for them).
ALTER TABLE witnesses ADD COLUMN rssi_ddbm INTEGER;
