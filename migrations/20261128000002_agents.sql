-- Where the manager reaches each agent's API, and which images an agent lacks.
ALTER TABLE servers ADD COLUMN agent_url text NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN images_missing text[] NOT NULL DEFAULT '{}';
-- Seconds between check-ins the agent promised; offline after three missed.
ALTER TABLE servers ADD COLUMN checkin_interval integer NOT NULL DEFAULT 5 CHECK (checkin_interval > 0);

