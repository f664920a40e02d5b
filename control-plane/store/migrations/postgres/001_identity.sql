-- PostgreSQL: the same schema as ../sqlite/001_identity.sql, integers as BIGINT, blobs as BYTEA.
-- Tenancy, identities, credentials, revocations and signing keys.
-- Timestamps are integer microseconds since the epoch.

CREATE TABLE customers (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);

CREATE TABLE projects (
  id           TEXT PRIMARY KEY,
  customer_id  TEXT NOT NULL REFERENCES customers(id),
  name         TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  UNIQUE (customer_id, name)
);

CREATE TABLE identities (
  id                   TEXT PRIMARY KEY,
  kind                 TEXT NOT NULL CHECK (kind IN ('user', 'service')),
  issuer               TEXT NOT NULL DEFAULT '',
  subject              TEXT NOT NULL DEFAULT '',
  email                TEXT NOT NULL DEFAULT '',
  name                 TEXT NOT NULL DEFAULT '',
  is_admin             BIGINT NOT NULL DEFAULT 0,
  default_customer_id  TEXT REFERENCES customers(id),
  default_project_id   TEXT REFERENCES projects(id),
  created_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX identities_by_subject ON identities (issuer, subject) WHERE kind = 'user';
CREATE INDEX identities_by_email ON identities (email);

CREATE TABLE memberships (
  project_id   TEXT NOT NULL REFERENCES projects(id),
  identity_id  TEXT NOT NULL REFERENCES identities(id),
  role         TEXT NOT NULL CHECK (role IN ('owner', 'member')),
  created_at   BIGINT NOT NULL,
  PRIMARY KEY (project_id, identity_id)
);
CREATE INDEX memberships_by_identity ON memberships (identity_id);

CREATE TABLE api_keys (
  id               TEXT PRIMARY KEY,
  identity_id      TEXT NOT NULL REFERENCES identities(id),
  name             TEXT NOT NULL,
  type             TEXT NOT NULL,
  prefix           TEXT NOT NULL,
  created_at       BIGINT NOT NULL,
  expires_at       BIGINT NOT NULL,
  last_used_at     BIGINT,
  revoked_at       BIGINT,
  -- Idempotent issue: the request's key and a hash of its body, and the issued secret sealed
  -- under the root key so that a retried request gets the same answer (cleared after a day).
  idempotency_key  TEXT,
  request_hash     TEXT,
  sealed_secret    BYTEA
);
CREATE INDEX api_keys_by_identity ON api_keys (identity_id, id);
CREATE UNIQUE INDEX api_keys_by_idempotency ON api_keys (identity_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,
  identity_id  TEXT NOT NULL REFERENCES identities(id),
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  revoked_at   BIGINT
);

-- The revocation log. revoked_at is strictly increasing and is the cursor dataplanes sync by.
CREATE TABLE revocations (
  jti         TEXT PRIMARY KEY,
  kind        TEXT NOT NULL CHECK (kind IN ('api_key', 'session', 'ai_key')),
  revoked_at  BIGINT NOT NULL UNIQUE,
  expires_at  BIGINT NOT NULL,
  reason      TEXT NOT NULL
);

CREATE TABLE signing_keys (
  kid            TEXT PRIMARY KEY,
  alg            TEXT NOT NULL,
  public_jwk     TEXT NOT NULL,
  sealed_private BYTEA NOT NULL,
  created_at     BIGINT NOT NULL,
  activates_at   BIGINT NOT NULL,
  -- Set when a newer key takes over; the key stays published until publish_until.
  retired_at     BIGINT,
  publish_until  BIGINT
);

CREATE TABLE login_states (
  state           TEXT PRIMARY KEY,
  issuer_alias    TEXT NOT NULL,
  redirect_uri    TEXT NOT NULL,
  code_challenge  TEXT NOT NULL,
  nonce           TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  expires_at      BIGINT NOT NULL
);

CREATE TABLE settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);
