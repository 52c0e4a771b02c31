-- Names: inside Berth a desktop is a "session"; "kasm" stays only at the Kasm API boundary
-- (its endpoints and fields), and in Kasm's own setting names (max_kasms_per_user...).
ALTER TABLE kasms RENAME TO sessions;
ALTER TABLE sessions RENAME COLUMN kasm_id TO session_id;
ALTER TABLE kasm_viewers RENAME TO session_viewers;
ALTER TABLE session_viewers RENAME COLUMN kasm_id TO session_id;
ALTER TABLE chat_messages RENAME COLUMN kasm_id TO session_id;
ALTER TRIGGER kasms_access_changed ON sessions RENAME TO sessions_access_changed;
ALTER TRIGGER kasm_viewers_changed ON session_viewers RENAME TO session_viewers_changed;

-- Constraints, then the remaining indexes, named after their tables and columns.
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT conrelid::regclass AS owner, conname AS name
        FROM pg_constraint
        WHERE connamespace = current_schema()::regnamespace AND conname LIKE '%kasm%'
    LOOP
        EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', item.owner, item.name,
            replace(replace(item.name, 'kasms', 'sessions'), 'kasm', 'session'));
    END LOOP;
    FOR item IN
        SELECT relname AS name
        FROM pg_class
        WHERE relnamespace = current_schema()::regnamespace AND relkind = 'i'
          AND relname LIKE '%kasm%'
    LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', item.name,
            replace(replace(item.name, 'kasms', 'sessions'), 'kasm', 'session'));
    END LOOP;
END
$$;

-- The access announcement names the session by its new column (and says "session:").
CREATE OR REPLACE FUNCTION berth_notify_session_access() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_access',
        'session:' || (CASE WHEN TG_OP = 'DELETE' THEN OLD.session_id ELSE NEW.session_id END)::text);
    RETURN NULL;
END
$$;
