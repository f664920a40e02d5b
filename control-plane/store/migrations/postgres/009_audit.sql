-- PostgreSQL: the same as ../sqlite/009_audit.sql.
-- The audit trail: one row per state change or sensitive read, written in the same transaction as
-- the change it records. `seq` orders records as they were written (the listing's cursor).
-- Never a secret value or a token: targets are ids and names, details a small JSON object.
CREATE TABLE audit (
  seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at               BIGINT NOT NULL,
  actor_id         TEXT NOT NULL,
  credential_id    TEXT NOT NULL,
  credential_type  TEXT NOT NULL,
  action           TEXT NOT NULL,
  target           TEXT NOT NULL,
  outcome          TEXT NOT NULL,
  client_address   TEXT NOT NULL,
  request_id       TEXT NOT NULL,
  details          TEXT NOT NULL
);
CREATE INDEX audit_by_at ON audit (at);
CREATE INDEX audit_by_actor ON audit (actor_id, seq);
CREATE INDEX audit_by_action ON audit (action, seq);
CREATE INDEX audit_by_target ON audit (target, seq);
