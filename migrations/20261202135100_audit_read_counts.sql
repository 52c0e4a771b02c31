-- Reads of the Developer API are audited in aggregate: one row per key, endpoint, outcome and
-- minute (`window_start`, NULL for an entry of one action), counting its calls (`calls`).
ALTER TABLE audit_log
    ADD COLUMN calls bigint NOT NULL DEFAULT 1,
    ADD COLUMN window_start timestamptz;
CREATE UNIQUE INDEX audit_log_read_window
    ON audit_log (actor_api_key, action, outcome, window_start) NULLS NOT DISTINCT
    WHERE window_start IS NOT NULL;
