-- A report is stored once: a replay of the same signed bytes (same report_id, the SHA-256 of
-- its encoding) is acknowledged with the stored row instead of being stored again. Copies
-- stored before this migration are folded into their first row.
UPDATE witnesses SET beacon_id = (
    SELECT MIN(b2.id) FROM beacons b1 JOIN beacons b2 ON b2.report_id = b1.report_id
    WHERE b1.id = witnesses.beacon_id
) WHERE beacon_id IS NOT NULL;
DELETE FROM beacons WHERE id NOT IN (SELECT MIN(id) FROM beacons GROUP BY report_id);
DELETE FROM witnesses WHERE id NOT IN (SELECT MIN(id) FROM witnesses GROUP BY report_id);
CREATE UNIQUE INDEX beacons_report_id ON beacons (report_id);
CREATE UNIQUE INDEX witnesses_report_id ON witnesses (report_id);
