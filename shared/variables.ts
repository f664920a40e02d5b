/**
 * @module Every configuration variable of both components, with its meaning and default: the one
 * place a variable is declared (one line in its component's table). `--help` prints a table, the
 * README documents every name, packaging is checked against them, and each component refuses an
 * `AGENTROUTER_*` name that no table here knows, so a typo stops start-up instead of being ignored.
 *
 * The rule for unknown names: a component accepts every name known to ANY of these tables (the
 * other component's too), because `npm start` and many deployments hand one environment to both;
 * a name of the other component is accepted and ignored. `AGENTROUTER_TEST_*` belongs to the test
 * suite and is never refused.
 */
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER } from './tokens/claims.ts'

/** The control plane's variables (`control-plane/config.ts` reads them). */
export const CONTROL_PLANE_VARIABLES = {
  AGENTROUTER_CONFIG_FILE: 'JSON file of variable → value (environment and flags win)',
  AGENTROUTER_DATA_DIR: 'SQLite database, root key, bootstrap-admin.key, dataplane.key (default ./data)',
  AGENTROUTER_DATABASE_URL:
    'postgres://… to keep all state in PostgreSQL (replicas share it; needs a configured root key); default: SQLite in the data dir',
  AGENTROUTER_CP_LISTEN: 'address to listen on (default 127.0.0.1:8080)',
  AGENTROUTER_PUBLIC_URL: 'how clients reach the control plane, used in URLs it hands out (default: none)',
  AGENTROUTER_ALLOWED_ORIGINS:
    'comma-separated origins (scheme://host[:port]) whose pages may call with the session cookie, besides its own (default: none)',
  AGENTROUTER_LOG_LEVEL: 'debug, info, warn or error (default info)',
  AGENTROUTER_BODY_LIMIT_BYTES: 'largest request body (default 256 KiB)',
  AGENTROUTER_TOKEN_ISSUER: `iss of the tokens it signs (default ${DEFAULT_TOKEN_ISSUER})`,
  AGENTROUTER_TOKEN_AUDIENCE: `aud of the tokens it signs (default ${DEFAULT_TOKEN_AUDIENCE})`,
  AGENTROUTER_SESSION_TTL: 'session lifetime (default 12h)',
  AGENTROUTER_API_KEY_TTL: 'API key lifetime (default 365d)',
  AGENTROUTER_SIGNING_KEY_PUBLISH_DELAY:
    'how long a new signing key is published before it signs (default 5m)',
  AGENTROUTER_JWKS_MAX_AGE: 'Cache-Control max-age of the JWKS, in seconds (default 300)',
  AGENTROUTER_ROOT_KEY: 'the root key (base64 or hex of 32 bytes); prefer AGENTROUTER_ROOT_KEY_FILE',
  AGENTROUTER_ROOT_KEY_FILE:
    'file holding the root key (default: generated in the data dir, development only)',
  AGENTROUTER_OIDC_ISSUERS:
    'JSON array of {alias, issuer, client_id, client_secret} (default: the development IdP)',
  AGENTROUTER_OIDC_REDIRECT_URIS:
    'comma-separated registered redirect URIs (loopback URIs are always allowed)',
  AGENTROUTER_DEV_IDP_LISTEN: 'address of the development IdP (default 127.0.0.1:8082)',
  AGENTROUTER_DEV_IDP_URL:
    "the development IdP's issuer URL as browsers reach it (default http://<its listen address>)",
  AGENTROUTER_LOGIN_STATE_TTL: 'how long a login may take (default 10m)',
  AGENTROUTER_LOGIN_PENDING_MAX:
    'most logins started and not finished or expired, overall; device logins count apart (default 10000)',
  AGENTROUTER_LOGIN_PENDING_PER_CLIENT_MAX:
    'most such logins per client address (an IPv6 address counts by its /64) (default 100)',
  AGENTROUTER_AUTO_PROVISION: 'a first login creates a personal customer and project (default true)',
  AGENTROUTER_ADMIN_EMAILS: 'comma-separated emails whose identities are admins',
  AGENTROUTER_STREAM_HEARTBEAT: 'revocation stream heartbeat period (default 10s)',
  AGENTROUTER_STREAM_MAX_BUFFER_BYTES: 'a stream subscriber further behind is disconnected (default 8 MiB)',
  AGENTROUTER_ENFORCE_TIMEOUT: 'default bound of ?wait=enforced (default 5s)',
  AGENTROUTER_SECRET_ROTATION_GRACE: 'how long a rotated secret version stays decryptable (default 24h)',
  AGENTROUTER_DRAIN_TIMEOUT:
    'on SIGTERM/SIGINT, how long requests in flight may finish before they are cut (default 30s)',
  AGENTROUTER_AUDIT_RETENTION: 'how long audit records are kept; a unit is required (default 90d)',
  AGENTROUTER_REVOCATION_PURGE_INTERVAL:
    'how often expired revocations are purged from the log (default 10m)',
  AGENTROUTER_REVOCATION_PURGE_LEEWAY:
    "how long past its credential's expiry a revocation is kept; at least every dataplane's clock leeway (default 5m)",
} as const

/** The dataplane's variables (`dataplane/config.ts` reads them). */
export const DATAPLANE_VARIABLES = {
  AGENTROUTER_CONFIG_FILE: 'JSON file of variable → value (environment and flags win)',
  AGENTROUTER_DATA_DIR: 'data directory; the snapshot and journal go in <dir>/dataplane/ (default ./data)',
  AGENTROUTER_DP_LISTEN: 'address to listen on (default 127.0.0.1:8081)',
  AGENTROUTER_DP_NAME: 'how the control plane names this dataplane (default <hostname>:<port>)',
  AGENTROUTER_CONTROL_PLANE_URL:
    'the control plane, or several comma-separated (replicas: used in turn, failing over) (default http://127.0.0.1:8080)',
  AGENTROUTER_DATAPLANE_KEY: `this dataplane's KEY_TYPE_DATAPLANE key (default: <data dir>/dataplane.key)`,
  AGENTROUTER_DATAPLANE_KEY_FILE: 'a file holding that key, when AGENTROUTER_DATAPLANE_KEY is not set',
  AGENTROUTER_UPSTREAM_OPENAI: 'OpenAI base URL (default https://api.openai.com)',
  AGENTROUTER_UPSTREAM_ANTHROPIC: 'Anthropic base URL (default https://api.anthropic.com)',
  AGENTROUTER_TOKEN_ISSUER: `expected token iss (default ${DEFAULT_TOKEN_ISSUER})`,
  AGENTROUTER_TOKEN_AUDIENCE: `expected token aud (default ${DEFAULT_TOKEN_AUDIENCE})`,
  AGENTROUTER_DP_CLOCK_LEEWAY: 'leeway for token exp and nbf (default 30s)',
  AGENTROUTER_LOG_LEVEL: 'debug, info, warn or error (default info)',
  AGENTROUTER_DP_MAX_STALENESS: 'fail closed after this long without a sync; 0 never (default 1h)',
  AGENTROUTER_DP_POLL_INTERVAL: 'safety-net `since` poll of the revocation list (default 30s)',
  AGENTROUTER_DP_STREAM_IDLE_TIMEOUT: 'reconnect when the stream is silent this long (default 35s)',
  AGENTROUTER_DP_RECONNECT_MAX: 'longest back-off between stream reconnects (default 30s)',
  AGENTROUTER_DP_JWKS_REFRESH: 'background JWKS refresh period, under its max-age (default 4m)',
  AGENTROUTER_DP_JWKS_MIN_INTERVAL: 'least time between two unknown-kid refetches (default 10s)',
  AGENTROUTER_DP_PERSIST_DELAY: 'debounce of snapshot writes after a change (default 1s)',
  AGENTROUTER_DRAIN_TIMEOUT:
    'on SIGTERM/SIGINT, how long requests in flight (streams) may finish before they are cut (default 30s)',
  AGENTROUTER_DP_USAGE_REPORT_INTERVAL:
    'how often the keys served are reported for their last_used_at, with a unit, at least 1s (default 2s)',
  AGENTROUTER_DP_REVOCATION_PRUNE_INTERVAL:
    'how often revocations whose credential expired (plus the clock leeway) leave the set (default 10m)',
  AGENTROUTER_DP_TOKEN_CACHE_SIZE: 'verified tokens kept (default 10000)',
  AGENTROUTER_DP_BYOK_CACHE_TTL: 'how long a provider key is served before re-resolving (default 5m)',
  AGENTROUTER_DP_BYOK_CACHE_SIZE: 'provider keys kept (default 10000)',
  AGENTROUTER_DP_BODY_LIMIT_BYTES: 'largest request body forwarded (default 32 MiB)',
  AGENTROUTER_DP_MAX_BUFFERED_BYTES:
    'request body bytes buffered across all in-flight requests; past it, 429 (default 256 MiB)',
  AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT: "a client's request headers must arrive within this (default 10s)",
  AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT: "a client's whole request must arrive within this (default 5m)",
  AGENTROUTER_DP_CONNECT_TIMEOUT: 'upstream connect timeout (default 10s)',
  AGENTROUTER_DP_HEADERS_TIMEOUT: 'upstream time to response headers (default 10m)',
  AGENTROUTER_DP_IDLE_TIMEOUT: 'upstream silence allowed while streaming a body (default 5m)',
  AGENTROUTER_DP_UPSTREAM_CONNECTIONS: 'keep-alive connections per upstream (default 256)',
  AGENTROUTER_DP_EXTRA_PATHS:
    'provider:prefix entries, comma-separated, forwarded beyond the inference API (e.g. openai:fine_tuning)',
  AGENTROUTER_DP_CONTROL_PLANE_TIMEOUT: 'timeout of each call to the control plane (default 10s)',
} as const

/** What `tare` reads (cli/env.ts), and what the README's examples export for an application. */
export const CLIENT_VARIABLES = {
  AGENTROUTER_BASE_URL: "tare: the control plane's URL (default http://127.0.0.1:8080)",
  AGENTROUTER_API_KEY: 'tare: an API key or session token, instead of the stored login session',
  AGENTROUTER_KEY: "the README's examples: an application's API key, read by the application",
} as const

/** Names of the test suite's own settings: never refused. */
export const TEST_VARIABLE_PREFIX = 'AGENTROUTER_TEST_'

/** Every name some part of AgentRouter reads. */
export const KNOWN_VARIABLES: ReadonlySet<string> = new Set([
  ...Object.keys(CONTROL_PLANE_VARIABLES),
  ...Object.keys(DATAPLANE_VARIABLES),
  ...Object.keys(CLIENT_VARIABLES),
])
