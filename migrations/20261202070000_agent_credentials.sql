-- Each agent has its own credential, bound to its server row: issued by an administrator
-- (Admin → Servers) or, for the agent inside `berth serve`, by the server as it starts. Only
-- the SHA-256 of its secret is kept; NULL means none (never issued, or revoked), and such a
-- server cannot check in. Rows from before this migration have none until one is issued.
ALTER TABLE servers ADD COLUMN credential_hash bytea;
ALTER TABLE servers ADD COLUMN credential_issued timestamptz;
-- What the manager presents when it calls the agent's API: chosen by each agent process and
-- sent in its check-ins (which its credential authenticates), so one agent's secret opens no
-- other agent's API.
ALTER TABLE servers ADD COLUMN api_secret text NOT NULL DEFAULT '';
