-- A report is stored once: a replay of the same signed bytes (same report_id, the SHA-256 of
-- its encoding) is acknowledged with the stored row instead of being stored again. Copies
-- stored before this migration are folded into their first row.
UPDATE witnesses w SET beacon_id = first.id
FROM beacons b, (SELECT report_id, MIN(id) AS id FROM beacons GROUP BY report_id) first
WHERE w.beacon_id = b.id AND first.report_id = b.report_id AND w.beacon_id <> first.id;
DELETE FROM beacons WHERE id NOT IN (SELECT MIN(id) FROM beacons GROUP BY report_id);
DELETE FROM witnesses WHERE id NOT IN (SELECT MIN(id) FROM witnesses GROUP BY report_id);
CREATE UNIQUE INDEX beacons_report_id ON beacons (report_id);
CREATE UNIQUE INDEX witnesses_report_id ON witnesses (report_id);
