-- Staging (warm pool): per image, and optionally per agent, a number of sessions started ahead
-- of demand. A staged session is a session row that belongs to nobody (user_id NULL) and names
-- the config it was started for; a launch takes it over (user_id set, handed_over stamped).
-- Deleting a config leaves its owner-less sessions without one: the manager then recycles them.
CREATE TABLE staging_configs (
    staging_config_id  uuid PRIMARY KEY,
    image_id           uuid NOT NULL REFERENCES images (image_id) ON DELETE CASCADE,
    -- The one agent these sessions are started on; NULL: any agent placement chooses.
    server_id          uuid REFERENCES servers (server_id) ON DELETE CASCADE,
    desired            integer NOT NULL CHECK (desired BETWEEN 0 AND 100),
    -- How long a staged session may wait for a user before it is recycled.
    expiry_secs        integer NOT NULL CHECK (expiry_secs BETWEEN 60 AND 604800),
    created            timestamptz NOT NULL DEFAULT now(),
    updated            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staging_configs_image_id_server_id_key
    ON staging_configs (image_id, server_id) NULLS NOT DISTINCT;

ALTER TABLE sessions ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE sessions ADD COLUMN staging_config_id uuid
    REFERENCES staging_configs (staging_config_id) ON DELETE SET NULL;
ALTER TABLE sessions ADD COLUMN handed_over timestamptz;
-- An owner-less session is a staged one: it never had a user, so it was never handed over.
ALTER TABLE sessions ADD CONSTRAINT sessions_staged_never_handed_over
    CHECK (user_id IS NOT NULL OR handed_over IS NULL);
CREATE INDEX sessions_staged ON sessions (staging_config_id, operational_status)
    WHERE user_id IS NULL;
