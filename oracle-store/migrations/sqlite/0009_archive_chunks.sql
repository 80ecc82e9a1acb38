-- The report archive's record files written as reports are verified: one per epoch, kind
-- ('beacons' or 'witnesses') and block of row ids (`block` = row id / the block size), holding
-- the epoch's reports of that kind whose row ids fall in the block, with how many of them were
-- still pending when it was written.
CREATE TABLE archive_chunks (
    epoch    INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    block    INTEGER NOT NULL,
    sha256   TEXT NOT NULL,
    records  INTEGER NOT NULL,
    bytes    INTEGER NOT NULL,
    pending  INTEGER NOT NULL,
    PRIMARY KEY (epoch, kind, block)
);
