-- The purge horizon of the revocation log: the highest cursor of an entry purged because its
-- credential had expired. Before it the log is incomplete, so a reader whose cursor is older is
-- told to take a fresh snapshot. One row, only ever advanced.
CREATE TABLE revocation_purge (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  horizon  INTEGER NOT NULL
);
INSERT INTO revocation_purge (id, horizon) VALUES (1, 0);

-- The purge finds expired entries without scanning the log.
CREATE INDEX revocations_by_expiry ON revocations (expires_at);
