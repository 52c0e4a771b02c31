-- Admin → Metrics reads the last hour's launches by their request time.
CREATE INDEX kasms_created_date ON kasms (created_date);
