-- Open desktop and chat streams end as soon as the access they were opened with does: every
-- change that can take access away announces itself on the channel `berth_access`, and each
-- Berth replica re-checks the streams it holds for that user (payload: a user id) or session
-- (payload: "kasm:" and a kasm id).
CREATE FUNCTION berth_notify_user_access() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_access',
        (CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END)::text);
    RETURN NULL;
END
$$;

CREATE FUNCTION berth_notify_session_access() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_access',
        'kasm:' || (CASE WHEN TG_OP = 'DELETE' THEN OLD.kasm_id ELSE NEW.kasm_id END)::text);
    RETURN NULL;
END
$$;

-- Disabled, locked, deleted, another role, a new password.
CREATE TRIGGER users_access_changed
    AFTER UPDATE OF disabled, locked, role, password_hash OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION berth_notify_user_access();
-- Signed out (logout, password change, an administrator ending sign-ins, expiry purge).
CREATE TRIGGER user_sessions_ended
    AFTER DELETE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION berth_notify_user_access();
-- A viewer removed.
CREATE TRIGGER kasm_viewers_changed
    AFTER UPDATE OF removed OR DELETE ON kasm_viewers
    FOR EACH ROW EXECUTE FUNCTION berth_notify_user_access();
-- Sharing turned off or the link replaced, control moved, the session given up.
CREATE TRIGGER kasms_access_changed
    AFTER UPDATE OF share_id, control_user_id, user_id OR DELETE ON kasms
    FOR EACH ROW EXECUTE FUNCTION berth_notify_session_access();
