-- The counter of check-ins in a row whose report disagreed with a session's row: its
-- container absent, or in another state (paused, exited) than the row says. It used to count
-- absences only; a single report of another state then changed the session at once, which
-- a report taken just before a resume (and read just after it) turned back to paused.
ALTER TABLE kasms RENAME COLUMN absent_checkins TO disagreeing_checkins;
