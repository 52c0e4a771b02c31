-- Identifies this Berth deployment. Agents label the containers they create with it, so two
-- deployments sharing a Docker host never reconcile away each other's sessions.
INSERT INTO settings (name, value, description)
VALUES ('deployment_id', to_jsonb(gen_random_uuid()::text), 'Identifies this deployment on shared Docker hosts.')
ON CONFLICT (name) DO NOTHING;
