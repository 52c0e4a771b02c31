-- Persistent profiles and volume mappings (issue #15 items 1 and 2).
-- An image's profile location: a template relative to each agent's profile root
-- ({username}, {user_id}, {image_id}); empty for none.
ALTER TABLE images ADD COLUMN persistent_profile_path text NOT NULL DEFAULT '';

-- The profiles that exist on each agent host, and whose they are: a path is one user's for
-- good (a renamed user's old path is never handed to whoever takes the name).
CREATE TABLE profiles (
    server_id     uuid NOT NULL REFERENCES servers (server_id) ON DELETE CASCADE,
    profile_path  text NOT NULL,
    user_id       uuid NOT NULL,
    image_id      uuid,
    created       timestamptz NOT NULL DEFAULT now(),
    last_used     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, profile_path)
);
CREATE INDEX profiles_user_id ON profiles (user_id);

-- Which session mounts which profile (claimed under the placement lock; a claim counts while
-- its session is not deleted).
CREATE TABLE session_profiles (
    session_id    uuid PRIMARY KEY,
    profile_path  text NOT NULL,
    server_id     uuid NOT NULL
);
CREATE INDEX session_profiles_path ON session_profiles (profile_path);

-- The host folders each agent's operator allows volume mappings under (BERTH_VOLUME_ROOTS),
-- as its last check-in reported them.
CREATE TABLE agent_volume_roots (
    server_id  uuid PRIMARY KEY REFERENCES servers (server_id) ON DELETE CASCADE,
    roots      text[] NOT NULL,
    updated    timestamptz NOT NULL DEFAULT now()
);
