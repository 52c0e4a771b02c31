-- One-time sign-in links of the Developer API (Kasm's session_token inside kasm_url): opening
-- one signs the browser in as `user_id` and opens the session (or, with share_id, joins it as
-- a viewer). Only the token's SHA-256 is stored; a new status call replaces the previous token.
CREATE TABLE connect_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    kasm_id     uuid NOT NULL REFERENCES kasms (kasm_id) ON DELETE CASCADE,
    share_id    text,
    created     timestamptz NOT NULL DEFAULT now(),
    expires     timestamptz NOT NULL
);
CREATE INDEX connect_tokens_user_kasm ON connect_tokens (user_id, kasm_id);
