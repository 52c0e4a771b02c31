-- Sessions that survive restarts, faults and bursts.

-- The replica (a `berth serve` process) supervising a launch under way; another replica takes
-- the launch over when this one stops heartbeating.
ALTER TABLE kasms ADD COLUMN supervisor uuid;
-- What a launch that waits for its turn needs (image, limits, the caller's environment); kept
-- until the container starts, so a queued launch survives a restart of Berth.
ALTER TABLE kasms ADD COLUMN launch_spec jsonb;
-- Check-ins in a row in which the session's agent did not report its container.
ALTER TABLE kasms ADD COLUMN absent_checkins integer NOT NULL DEFAULT 0;
CREATE INDEX kasms_in_progress ON kasms (operational_status)
    WHERE operational_status IN ('requested', 'provisioning', 'starting');

-- Each agent process has its own instance id; reporting_since is when the current instance
-- first checked in (its first reports are never taken as proof that a container is gone).
ALTER TABLE servers ADD COLUMN agent_instance uuid;
ALTER TABLE servers ADD COLUMN reporting_since timestamptz;

-- Live `berth serve` processes of this deployment, heartbeating.
CREATE TABLE replicas (
    replica_id  uuid PRIMARY KEY,
    hostname    text NOT NULL DEFAULT '',
    started     timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);
