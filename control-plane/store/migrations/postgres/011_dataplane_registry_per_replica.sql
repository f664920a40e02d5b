-- PostgreSQL: the same as ../sqlite/011_dataplane_registry_per_replica.sql.
-- One row per replica and dataplane name (was: per name, taken over by the newest connection). A
-- name may be live on two replicas at once (a dataplane moving between them, two dataplanes given
-- the same name, a key holder choosing a real dataplane's name): each replica answers for its own
-- connections, so none hides another from ?wait=enforced. The rows are republished within seconds.
DROP TABLE dataplane_registry;
CREATE TABLE dataplane_registry (
  replica_id       TEXT NOT NULL,
  name             TEXT NOT NULL,
  id               TEXT NOT NULL,
  key_id           TEXT NOT NULL,
  remote_address   TEXT NOT NULL,
  enforcing        INTEGER NOT NULL,
  connected        INTEGER NOT NULL,
  connected_at     BIGINT NOT NULL,
  last_contact_at  BIGINT NOT NULL,
  applied_cursor   BIGINT NOT NULL,
  PRIMARY KEY (replica_id, name)
);
CREATE INDEX dataplane_registry_by_name ON dataplane_registry (name);
