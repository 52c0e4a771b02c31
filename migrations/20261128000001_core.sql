-- The core schema of Berth. Names follow Kasm's Developer API where it has them:
-- a session is a "kasm" (kasm_id), an agent host is a "server" (server_id).

CREATE TABLE users (
    user_id            uuid PRIMARY KEY,
    username           text NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    password_hash      text,
    first_name         text NOT NULL DEFAULT '',
    last_name          text NOT NULL DEFAULT '',
    phone              text NOT NULL DEFAULT '',
    organization       text NOT NULL DEFAULT '',
    role               text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    locked             boolean NOT NULL DEFAULT false,
    disabled           boolean NOT NULL DEFAULT false,
    created            timestamptz NOT NULL DEFAULT now(),
    last_session       timestamptz,
    password_set_date  timestamptz
);
-- Usernames are unique regardless of case.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE groups (
    group_id     uuid PRIMARY KEY,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    priority     integer NOT NULL DEFAULT 100,
    is_system    boolean NOT NULL DEFAULT false,
    created      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX groups_name_key ON groups (lower(name));

CREATE TABLE user_groups (
    user_id   uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    group_id  uuid NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    added     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE user_attributes (
    user_attributes_id    uuid PRIMARY KEY,
    user_id               uuid NOT NULL UNIQUE REFERENCES users (user_id) ON DELETE CASCADE,
    ssh_public_key        text NOT NULL DEFAULT '',
    show_tips             boolean NOT NULL DEFAULT true,
    theme                 text NOT NULL DEFAULT 'Light',
    preferred_language    text NOT NULL DEFAULT '',
    preferred_timezone    text NOT NULL DEFAULT '',
    toggle_control_panel  boolean NOT NULL DEFAULT false,
    default_image         uuid,
    auto_login_kasm       boolean NOT NULL DEFAULT false
);

-- Browser sign-ins. Only a hash of the cookie token is stored.
CREATE TABLE user_sessions (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created     timestamptz NOT NULL DEFAULT now(),
    expires     timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL DEFAULT now(),
    user_agent  text NOT NULL DEFAULT ''
);
CREATE INDEX user_sessions_user_id ON user_sessions (user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires);

-- Docker hosts running a Berth agent.
CREATE TABLE servers (
    server_id         uuid PRIMARY KEY,
    hostname          text NOT NULL,
    address           text NOT NULL DEFAULT '127.0.0.1',
    status            text NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'offline')),
    enabled           boolean NOT NULL DEFAULT true,
    draining          boolean NOT NULL DEFAULT false,
    cores             double precision NOT NULL DEFAULT 0,
    memory            bigint NOT NULL DEFAULT 0,
    gpus              integer NOT NULL DEFAULT 0,
    disk_free         bigint NOT NULL DEFAULT 0,
    cores_override    double precision CHECK (cores_override IS NULL OR cores_override > 0),
    memory_override   bigint CHECK (memory_override IS NULL OR memory_override > 0),
    images_present    text[] NOT NULL DEFAULT '{}',
    version           text NOT NULL DEFAULT '',
    last_checkin      timestamptz,
    created           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX servers_hostname_key ON servers (hostname);

-- Registered workspace images. Only these can run.
CREATE TABLE images (
    image_id            uuid PRIMARY KEY,
    name                text NOT NULL CHECK (length(name) > 0),
    friendly_name       text NOT NULL CHECK (length(friendly_name) > 0),
    description         text NOT NULL DEFAULT '',
    image_src           text NOT NULL DEFAULT '',
    categories          text[] NOT NULL DEFAULT '{}',
    cores               double precision NOT NULL CHECK (cores > 0),
    memory              bigint NOT NULL CHECK (memory > 0),
    gpu_count           integer NOT NULL DEFAULT 0 CHECK (gpu_count >= 0),
    network_mode        text NOT NULL DEFAULT 'bridge',
    enabled             boolean NOT NULL DEFAULT true,
    restrict_to_server  boolean NOT NULL DEFAULT false,
    server_id           uuid REFERENCES servers (server_id) ON DELETE SET NULL,
    run_config          jsonb NOT NULL DEFAULT '{}',
    exec_config         jsonb NOT NULL DEFAULT '{}',
    volume_mappings     jsonb NOT NULL DEFAULT '{}',
    created             timestamptz NOT NULL DEFAULT now(),
    updated             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX images_friendly_name_key ON images (lower(friendly_name));

-- Sessions ("kasms"): one container each.
CREATE TABLE kasms (
    kasm_id               uuid PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    image_id              uuid NOT NULL REFERENCES images (image_id),
    server_id             uuid REFERENCES servers (server_id) ON DELETE SET NULL,
    container_id          text,
    hostname              text NOT NULL DEFAULT '',
    port                  integer,
    session_secret        text NOT NULL,
    operational_status    text NOT NULL DEFAULT 'requested' CHECK (operational_status IN
        ('requested', 'provisioning', 'starting', 'running', 'paused', 'stopped', 'deleting', 'deleted')),
    operational_message   text NOT NULL DEFAULT '',
    operational_progress  integer NOT NULL DEFAULT 0 CHECK (operational_progress BETWEEN 0 AND 100),
    share_id              text UNIQUE,
    cores                 double precision NOT NULL,
    memory                bigint NOT NULL,
    start_date            timestamptz,
    keepalive_date        timestamptz,
    expiration_date       timestamptz NOT NULL,
    created_date          timestamptz NOT NULL DEFAULT now(),
    destroyed_date        timestamptz
);
CREATE INDEX kasms_user_id ON kasms (user_id);
CREATE INDEX kasms_server_id ON kasms (server_id);
CREATE INDEX kasms_live ON kasms (operational_status) WHERE operational_status <> 'deleted';

-- Developer API keys. The secret is stored hashed.
CREATE TABLE api_keys (
    api_key_id   uuid PRIMARY KEY,
    name         text NOT NULL,
    api_key      text NOT NULL UNIQUE,
    secret_hash  text NOT NULL,
    permissions  text[] NOT NULL DEFAULT '{}',
    read_only    boolean NOT NULL DEFAULT false,
    expires      timestamptz,
    revoked      boolean NOT NULL DEFAULT false,
    created_by   uuid REFERENCES users (user_id) ON DELETE SET NULL,
    created      timestamptz NOT NULL DEFAULT now(),
    last_used    timestamptz
);

CREATE TABLE settings (
    name         text PRIMARY KEY,
    value        jsonb NOT NULL,
    description  text NOT NULL DEFAULT '',
    updated      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO settings (name, value, description) VALUES
    ('session_lifetime_seconds', '3600', 'How long a session lives without keepalive.'),
    ('keepalive_seconds', '3600', 'How far a keepalive pushes a session''s expiration forward.'),
    ('max_kasms_per_user', '2', 'Sessions one user may run at once (0 = no limit).'),
    ('allow_kasm_sharing', 'true', 'Whether owners may share their sessions.'),
    ('login_session_hours', '12', 'How long a browser sign-in lasts.');

CREATE TABLE audit_log (
    audit_id       bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor_user_id  uuid,
    actor_api_key  uuid,
    action         text NOT NULL,
    target         text NOT NULL DEFAULT '',
    outcome        text NOT NULL DEFAULT 'ok',
    details        jsonb NOT NULL DEFAULT '{}',
    source_ip      text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
