-- PostgreSQL: the same as ../sqlite/005_dataplane_registry.sql.
-- The fleet's registry, shared by the replicas: each replica's heartbeat, and every dataplane it
-- serves with the cursor that dataplane acknowledged. Each replica writes its own rows, batched;
-- any replica reads them all for GET /v1/admin/dataplanes and ?wait=enforced.
CREATE TABLE control_plane_replicas (
  id            TEXT PRIMARY KEY,
  started_at    BIGINT NOT NULL,
  heartbeat_at  BIGINT NOT NULL
);

-- One row per dataplane name: its id stays the same across reconnects and replicas. The replica
-- holding the newest connection owns the row.
CREATE TABLE dataplane_registry (
  name             TEXT PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  replica_id       TEXT NOT NULL,
  key_id           TEXT NOT NULL,
  remote_address   TEXT NOT NULL,
  enforcing        INTEGER NOT NULL,
  connected        INTEGER NOT NULL,
  connected_at     BIGINT NOT NULL,
  last_contact_at  BIGINT NOT NULL,
  applied_cursor   BIGINT NOT NULL
);
CREATE INDEX dataplane_registry_by_replica ON dataplane_registry (replica_id);
