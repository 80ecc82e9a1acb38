-- What an operator following the shared report log keeps between entries besides its
-- position (the rounds of shared entropy in progress), written with the position.
ALTER TABLE report_log_positions ADD COLUMN follower_state BLOB NOT NULL DEFAULT x'';
