-- PostgreSQL: the same as ../sqlite/003_login_states_signing_keys.sql.
-- Pending logins are capped per client address and overall, counted on (client, expires_at) and
-- expires_at, and purged by expiry in batches off the request path. Existing rows predate the
-- client column: they count against the '' client until they expire.
ALTER TABLE login_states ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX login_states_expires_at ON login_states (expires_at);
CREATE INDEX login_states_client_expires_at ON login_states (client, expires_at);

-- When a signing key first signed a token: a key retired without ever signing has no token to
-- verify, so it leaves the JWKS. Keys that were active before this column existed may have signed:
-- they are marked as if they signed at their activation.
ALTER TABLE signing_keys ADD COLUMN first_signed_at BIGINT;
UPDATE signing_keys SET first_signed_at = activates_at
  WHERE activates_at <= (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT
    AND (retired_at IS NULL OR retired_at > activates_at);
