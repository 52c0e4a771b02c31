-- Sharing a live session: a share link (kasms.share_id, set while sharing is on), the people
-- who joined through it, who may control the desktop, and the session's chat.
ALTER TABLE kasms ADD COLUMN control_user_id uuid REFERENCES users (user_id) ON DELETE SET NULL;

CREATE TABLE kasm_viewers (
    kasm_id   uuid NOT NULL REFERENCES kasms (kasm_id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    -- The link they joined through: a revoked link (a new share_id) lets nobody in.
    share_id  text NOT NULL,
    joined    timestamptz NOT NULL DEFAULT now(),
    removed   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (kasm_id, user_id)
);

CREATE TABLE chat_messages (
    message_id  bigserial PRIMARY KEY,
    kasm_id     uuid NOT NULL REFERENCES kasms (kasm_id) ON DELETE CASCADE,
    user_id     uuid REFERENCES users (user_id) ON DELETE SET NULL,
    username    text NOT NULL,
    body        text NOT NULL,
    sent        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_kasm ON chat_messages (kasm_id, message_id DESC);
