-- The head of the log: one row whose cursor every write that appends to the log advances inside
-- its own transaction (UPDATE ... SET cursor = MAX(cursor + 1, now)). The row lock serializes
-- appenders, so cursors are handed out in commit order with no gap a reader could pass.
CREATE TABLE log_head (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  cursor  INTEGER NOT NULL
);
INSERT INTO log_head (id, cursor) SELECT 1, COALESCE(MAX(revoked_at), 0) FROM revocations;

-- Identities by email, case-insensitively, the same way on both engines.
CREATE INDEX identities_by_lower_email ON identities (lower(email));
