-- A browser's sign-in is a sign-in: "session" means a desktop (a "kasm") and nothing else, in
-- the schema as in the code. The trigger that announces ended sign-ins follows the table.
ALTER TABLE user_sessions RENAME TO sign_ins;
ALTER TABLE sign_ins RENAME CONSTRAINT user_sessions_pkey TO sign_ins_pkey;
ALTER TABLE sign_ins RENAME CONSTRAINT user_sessions_user_id_fkey TO sign_ins_user_id_fkey;
ALTER INDEX user_sessions_user_id RENAME TO sign_ins_user_id;
ALTER INDEX user_sessions_expires RENAME TO sign_ins_expires;
ALTER TRIGGER user_sessions_ended ON sign_ins RENAME TO sign_ins_ended;
