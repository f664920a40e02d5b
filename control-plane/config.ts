/**
 * @module The control plane's configuration: every variable, parsed and checked once at start.
 */
import { resolve } from 'node:path'
import * as v from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER } from '../shared/tokens/claims.ts'

export { CONTROL_PLANE_VARIABLES } from '../shared/variables.ts'

/** One OIDC provider the control plane trusts for login. */
export interface OidcIssuerConfig {
  alias: string
  issuer: string
  clientId: string
  clientSecret?: string | undefined
}

export interface ControlPlaneConfig {
  dataDir: string
  /** `postgres://…`: every replica's state in PostgreSQL. Absent: SQLite in `dataDir`. */
  databaseUrl: string | undefined
  listen: v.ListenAddress
  /** On shutdown, how long requests in flight may finish. */
  drainTimeoutMs: number
  /** How clients reach this control plane; used in URLs it hands out. */
  publicUrl: string | undefined
  /** Origins besides its own whose cookie-authenticated requests are accepted (serialised, `scheme://host[:port]`). */
  allowedOrigins: string[]
  logLevel: LogLevel
  bodyLimitBytes: number
  tokens: {
    issuer: string
    audience: string
    sessionTtlMs: number
    apiKeyTtlMs: number
    /** How long a rotated-in signing key is published before it signs. */
    signingKeyPublishDelayMs: number
    jwksMaxAgeSec: number
  }
  rootKey: { value: string | undefined; file: string | undefined }
  oidc: {
    /** Empty: run the development IdP. */
    issuers: OidcIssuerConfig[]
    redirectUris: string[]
    devIdpListen: v.ListenAddress
    /** The development IdP's issuer URL when it differs from its listen address (containers). */
    devIdpUrl: string | undefined
    loginStateTtlMs: number
    /** Caps on pending (started, unfinished, unexpired) logins: overall and per client address. */
    loginPendingMax: number
    loginPendingPerClientMax: number
    autoProvision: boolean
    adminEmails: string[]
  }
  stream: {
    heartbeatMs: number
    /** A subscriber whose unsent bytes exceed this is disconnected. */
    maxBufferedBytes: number
  }
  enforceTimeoutMs: number
  secrets: { rotationGraceMs: number }
  /** How long audit records are kept. */
  auditRetentionMs: number
  revocationPurge: { intervalMs: number; leewayMs: number }
}

/**
 * The configuration in `input` (by default the config file, environment and flags), or a
 * `ConfigError` listing every problem in it.
 */
export function loadControlPlaneConfig(input: v.Vars = v.collectVars()): ControlPlaneConfig {
  return v.checkAll(input, parse)
}

function parse(vars: v.Vars): ControlPlaneConfig {
  const logLevel = v.logLevel(vars)
  const databaseUrl = v.guard(vars, () => parseDatabaseUrl(vars.AGENTROUTER_DATABASE_URL), undefined)
  // A generated development root key lives in one machine's data directory: replicas sharing a
  // database could not open each other's sealed data.
  if (databaseUrl && !vars.AGENTROUTER_ROOT_KEY && !vars.AGENTROUTER_ROOT_KEY_FILE)
    v.report(
      vars,
      new v.ConfigError(
        'AGENTROUTER_ROOT_KEY_FILE',
        'required with AGENTROUTER_DATABASE_URL (or AGENTROUTER_ROOT_KEY): every replica must use the same root key',
      ),
      undefined,
    )
  return {
    dataDir: resolve(v.str(vars, 'AGENTROUTER_DATA_DIR', './data')),
    databaseUrl,
    listen: v.listen(vars, 'AGENTROUTER_CP_LISTEN', '127.0.0.1:8080'),
    drainTimeoutMs: v.duration(vars, 'AGENTROUTER_DRAIN_TIMEOUT', 30_000),
    publicUrl: vars.AGENTROUTER_PUBLIC_URL ? v.url(vars, 'AGENTROUTER_PUBLIC_URL', '') : undefined,
    allowedOrigins: v.guard(vars, () => parseOrigins(vars), []),
    logLevel,
    bodyLimitBytes: v.int(vars, 'AGENTROUTER_BODY_LIMIT_BYTES', 256 * 1024, 1024, 64 * 1024 * 1024),
    tokens: {
      issuer: v.str(vars, 'AGENTROUTER_TOKEN_ISSUER', DEFAULT_TOKEN_ISSUER),
      audience: v.str(vars, 'AGENTROUTER_TOKEN_AUDIENCE', DEFAULT_TOKEN_AUDIENCE),
      sessionTtlMs: v.duration(vars, 'AGENTROUTER_SESSION_TTL', 12 * 3_600_000),
      apiKeyTtlMs: v.duration(vars, 'AGENTROUTER_API_KEY_TTL', 365 * 86_400_000),
      signingKeyPublishDelayMs: v.duration(vars, 'AGENTROUTER_SIGNING_KEY_PUBLISH_DELAY', 300_000),
      jwksMaxAgeSec: v.int(vars, 'AGENTROUTER_JWKS_MAX_AGE', 300, 0, 86_400),
    },
    rootKey: { value: vars.AGENTROUTER_ROOT_KEY, file: vars.AGENTROUTER_ROOT_KEY_FILE },
    oidc: {
      issuers: v.guard(vars, () => parseIssuers(vars.AGENTROUTER_OIDC_ISSUERS), []),
      redirectUris: v.list(vars, 'AGENTROUTER_OIDC_REDIRECT_URIS'),
      devIdpListen: v.listen(vars, 'AGENTROUTER_DEV_IDP_LISTEN', '127.0.0.1:8082'),
      devIdpUrl: vars.AGENTROUTER_DEV_IDP_URL ? v.url(vars, 'AGENTROUTER_DEV_IDP_URL', '') : undefined,
      loginStateTtlMs: v.duration(vars, 'AGENTROUTER_LOGIN_STATE_TTL', 10 * 60_000),
      loginPendingMax: v.int(vars, 'AGENTROUTER_LOGIN_PENDING_MAX', 10_000, 1),
      loginPendingPerClientMax: v.int(vars, 'AGENTROUTER_LOGIN_PENDING_PER_CLIENT_MAX', 100, 1),
      autoProvision: v.bool(vars, 'AGENTROUTER_AUTO_PROVISION', true),
      adminEmails: v.list(vars, 'AGENTROUTER_ADMIN_EMAILS').map((e) => e.toLowerCase()),
    },
    stream: {
      heartbeatMs: v.duration(vars, 'AGENTROUTER_STREAM_HEARTBEAT', 10_000),
      maxBufferedBytes: v.int(vars, 'AGENTROUTER_STREAM_MAX_BUFFER_BYTES', 8 * 1024 * 1024, 1024),
    },
    enforceTimeoutMs: v.duration(vars, 'AGENTROUTER_ENFORCE_TIMEOUT', 5_000),
    secrets: { rotationGraceMs: v.duration(vars, 'AGENTROUTER_SECRET_ROTATION_GRACE', 24 * 3_600_000) },
    auditRetentionMs: durationWithUnit(vars, 'AGENTROUTER_AUDIT_RETENTION', 90 * 86_400_000),
    revocationPurge: {
      intervalMs: positive(vars, 'AGENTROUTER_REVOCATION_PURGE_INTERVAL', 10 * 60_000),
      leewayMs: v.duration(vars, 'AGENTROUTER_REVOCATION_PURGE_LEEWAY', 5 * 60_000),
    },
  }
}

/** A duration whose unit is written (`90d`, not `90`), at least a minute: the audit retention. */
function durationWithUnit(vars: v.Vars, name: string, fallbackMs: number): number {
  const raw = vars[name]
  if (raw !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(raw))
    return v.report(
      vars,
      new v.ConfigError(
        name,
        `a duration needs a unit: write ${raw.trim()}d, ${raw.trim()}h or ${raw.trim()}s`,
      ),
      fallbackMs,
    )
  const ms = v.duration(vars, name, fallbackMs)
  if (ms < 60_000)
    return v.report(vars, new v.ConfigError(name, `must be at least 1m, got "${raw}"`), fallbackMs)
  return ms
}

/** A timer's period: more than 0 and at most a day (Node's timers stop at about 24.8 days). */
function positive(vars: v.Vars, name: string, fallback: number): number {
  const ms = v.duration(vars, name, fallback)
  if (ms <= 0 || ms > 86_400_000)
    return v.report(vars, new v.ConfigError(name, 'must be longer than 0 and at most 24h'), fallback)
  return ms
}

/** `AGENTROUTER_DATABASE_URL`: a `postgres://` or `postgresql://` URL, or nothing (SQLite). */
function parseDatabaseUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new v.ConfigError('AGENTROUTER_DATABASE_URL', 'expected a postgres:// URL')
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new v.ConfigError('AGENTROUTER_DATABASE_URL', 'expected a postgres:// URL')
  return raw
}

/**
 * `AGENTROUTER_ALLOWED_ORIGINS`: each entry an http(s) origin exactly (no path, query, fragment,
 * credentials or wildcard), kept in the form a browser sends in `Origin`.
 */
function parseOrigins(vars: v.Vars): string[] {
  return v.list(vars, 'AGENTROUTER_ALLOWED_ORIGINS').map((raw) => {
    const fail = (problem: string): never => {
      throw new v.ConfigError('AGENTROUTER_ALLOWED_ORIGINS', `"${raw}": ${problem}`)
    }
    if (!URL.canParse(raw)) fail('expected an origin such as https://dashboard.example.com')
    const url = new URL(raw)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('expected an http or https origin')
    if (url.username || url.password) fail('an origin has no credentials')
    if (url.pathname !== '/' || /[?#]/.test(raw)) fail('an origin has no path, query or fragment')
    if (url.hostname.includes('*')) fail('wildcards are not supported: list each origin')
    return url.origin
  })
}

/**
 * `AGENTROUTER_OIDC_ISSUERS`: a JSON array of `{ "alias", "issuer", "client_id", "client_secret" }`.
 * The first entry is the default issuer.
 */
function parseIssuers(raw: string | undefined): OidcIssuerConfig[] {
  if (!raw) return []
  const fail = (problem: string): never => {
    throw new v.ConfigError('AGENTROUTER_OIDC_ISSUERS', problem)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    fail('expected a JSON array of {"alias","issuer","client_id","client_secret"}')
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return fail('expected a non-empty JSON array')
  const aliases = new Set<string>()
  return parsed.map((entry, i) => {
    const e = entry as Record<string, unknown>
    if (typeof e?.alias !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/i.test(e.alias))
      fail(`[${i}].alias: expected a name`)
    if (typeof e.issuer !== 'string' || !URL.canParse(e.issuer)) fail(`[${i}].issuer: expected a URL`)
    if (typeof e.client_id !== 'string' || !e.client_id) fail(`[${i}].client_id: required`)
    if (e.client_secret !== undefined && typeof e.client_secret !== 'string')
      fail(`[${i}].client_secret: a string`)
    if (aliases.has(e.alias as string)) fail(`[${i}].alias: duplicate "${e.alias}"`)
    aliases.add(e.alias as string)
    return {
      alias: e.alias as string,
      issuer: e.issuer as string,
      clientId: e.client_id as string,
      clientSecret: e.client_secret as string | undefined,
    }
  })
}
