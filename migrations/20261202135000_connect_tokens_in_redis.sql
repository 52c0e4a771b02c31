-- The Developer API's one-time sign-in links (kasm_url) live in Redis now, with their expiry:
-- handing one out on every get_kasm_status no longer writes to the database.
DROP TABLE connect_tokens;
