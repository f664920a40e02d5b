-- Project-bound API keys: the project a key's traffic is bound to (both NULL: unbound, the
-- identity's default project, or the one a request names in x-agentrouter-project).
ALTER TABLE api_keys ADD COLUMN customer_id TEXT;
ALTER TABLE api_keys ADD COLUMN project_id TEXT;

-- Service accounts: the service identities an admin created as such (not the ones behind admin
-- and dataplane keys). Deleting one deletes its identity, keys and memberships.
CREATE TABLE service_accounts (
  identity_id  TEXT PRIMARY KEY REFERENCES identities(id),
  created_by   TEXT NOT NULL,
  created_at   BIGINT NOT NULL
);
