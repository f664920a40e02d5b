-- Pending device logins (RFC 8628): the control plane polls the identity provider on the caller's
-- behalf, so replicas stay stateless. A row is keyed by the SHA-256 of the handle handed to the
-- caller (the handle itself is never stored); next_poll_at throttles polling (slow_down); the
-- rows are capped per client address and overall like login_states, and purged by expiry.
CREATE TABLE device_logins (
  handle_hash TEXT PRIMARY KEY,
  issuer_alias TEXT NOT NULL,
  device_code TEXT NOT NULL,
  interval_ms INTEGER NOT NULL,
  next_poll_at INTEGER NOT NULL,
  client TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX device_logins_expires_at ON device_logins (expires_at);
CREATE INDEX device_logins_client_expires_at ON device_logins (client, expires_at);
