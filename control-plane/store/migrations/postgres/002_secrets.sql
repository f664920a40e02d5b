-- PostgreSQL: the same schema as ../sqlite/002_secrets.sql, integers as BIGINT, blobs as BYTEA.
-- Secrets under envelope encryption, the key-encryption keys that wrap their data keys, the
-- audit of plaintext reads, and BYOK AI keys (whose plaintext lives in the secrets).
-- Timestamps are integer microseconds since the epoch.

-- Key-encryption keys, each sealed under the root key (AAD binds it to its id). Exactly one is
-- 'active' (wraps new data keys); 'retiring' ones still open data keys until a rewrap moves them;
-- a 'retired' KEK wraps nothing and its key material is gone.
CREATE TABLE keks (
  id           TEXT PRIMARY KEY,
  state        TEXT NOT NULL CHECK (state IN ('active', 'retiring', 'retired')),
  wrapped_key  BYTEA,
  created_at   BIGINT NOT NULL,
  retired_at   BIGINT
);
CREATE UNIQUE INDEX keks_one_active ON keks (state) WHERE state = 'active';

CREATE TABLE secrets (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL,
  realm        TEXT NOT NULL,
  name         TEXT NOT NULL,
  description  TEXT NOT NULL,
  tags         TEXT NOT NULL,  -- a JSON object of string values
  version      BIGINT NOT NULL,  -- the current version
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  UNIQUE (user_id, realm, name)
);

-- One row per version: a fresh data key wrapped by a KEK, and the value sealed under that data
-- key. Both seals carry AAD naming the secret, version, realm and owner, so a moved or swapped
-- row fails to open. An expired version's key material is deleted (NULL).
CREATE TABLE secret_versions (
  secret_id         TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  version           BIGINT NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('active', 'rotated_pending', 'expired')),
  kek_id            TEXT REFERENCES keks(id),
  wrapped_data_key  BYTEA,
  ciphertext        BYTEA,
  created_at        BIGINT NOT NULL,
  expires_at        BIGINT,  -- rotated_pending: the end of the grace period
  PRIMARY KEY (secret_id, version)
);
CREATE INDEX secret_versions_by_kek ON secret_versions (kek_id, secret_id, version);

-- Every plaintext read (value endpoint, BYOK resolution): who, when, which secret and version,
-- and whether it was served. Never the value.
CREATE TABLE secret_reads (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at             BIGINT NOT NULL,
  identity_id    TEXT NOT NULL,
  credential_id  TEXT NOT NULL,
  secret_id      TEXT NOT NULL,
  realm          TEXT NOT NULL,
  name           TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  version        BIGINT NOT NULL,
  purpose        TEXT NOT NULL,
  outcome        TEXT NOT NULL,
  reason         TEXT NOT NULL
);
CREATE INDEX secret_reads_by_secret ON secret_reads (secret_id, at);

CREATE TABLE ai_keys (
  id              TEXT PRIMARY KEY,
  customer_id     TEXT NOT NULL REFERENCES customers(id),
  project_id      TEXT NOT NULL REFERENCES projects(id),
  provider        TEXT NOT NULL,
  name            TEXT NOT NULL,
  display_suffix  TEXT NOT NULL,
  user_scope      BIGINT NOT NULL,
  owner_id        TEXT NOT NULL REFERENCES identities(id),
  secret_id       TEXT NOT NULL,  -- the sec_ id of its plaintext (realm byok, owner system)
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  revoked_at      BIGINT
);
CREATE INDEX ai_keys_by_project ON ai_keys (project_id, provider, user_scope, owner_id, created_at);
