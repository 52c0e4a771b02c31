-- A session that ends (deleting, deleted) also ends its open chat and desktop streams: the
-- session's state joins the changes announced on `berth_access`.
DROP TRIGGER kasms_access_changed ON kasms;
CREATE TRIGGER kasms_access_changed
    AFTER UPDATE OF share_id, control_user_id, user_id, operational_status OR DELETE ON kasms
    FOR EACH ROW EXECUTE FUNCTION berth_notify_session_access();
