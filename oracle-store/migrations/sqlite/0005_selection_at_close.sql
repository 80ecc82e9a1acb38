-- A witness is selected for reward once, by the epoch close, among the witnesses that are
-- eligible then. The verifier's own `selected` mark (a selection among every valid witness)
-- is gone; what the close paid is kept per beacon, with the epoch, as the row ids of the paid
-- witnesses (8 bytes each, little-endian).
ALTER TABLE witnesses DROP COLUMN selected;
CREATE TABLE epoch_selections (
    beacon_id    INTEGER PRIMARY KEY NOT NULL,
    epoch        INTEGER NOT NULL REFERENCES epochs (epoch),
    witness_ids  BLOB NOT NULL
);
