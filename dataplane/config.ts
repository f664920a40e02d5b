/**
 * @module The dataplane's configuration: every variable it reads, parsed and checked once at
 * start into a typed object. A bad or missing value stops start-up with a message naming the
 * variable. `DATAPLANE_VARIABLES` lists every variable, so packaging can check it exposes them.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as v from '../shared/config.ts'
import { normalizeProvider, type Provider } from '../shared/contract/aikeys.ts'
import { type LogLevel, parseLogLevel } from '../shared/logger.ts'
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER } from '../shared/tokens/claims.ts'

/** The key file the control plane writes at bootstrap; used when no key variable is set. */
export const DATAPLANE_KEY_FILE = 'dataplane.key'

/** Every variable the dataplane reads, with its default and meaning (the README's table). */
export const DATAPLANE_VARIABLES = {
  AGENTROUTER_CONFIG_FILE: 'JSON file of variable → value (environment and flags win)',
  AGENTROUTER_DATA_DIR: 'data directory; the snapshot and journal go in <dir>/dataplane/ (default ./data)',
  AGENTROUTER_DP_LISTEN: 'address to listen on (default 127.0.0.1:8081)',
  AGENTROUTER_DP_NAME: 'how the control plane names this dataplane (default <hostname>:<port>)',
  AGENTROUTER_CONTROL_PLANE_URL:
    'the control plane, or several comma-separated (replicas: used in turn, failing over) (default http://127.0.0.1:8080)',
  AGENTROUTER_DATAPLANE_KEY: `this dataplane's KEY_TYPE_DATAPLANE key (default: <data dir>/${DATAPLANE_KEY_FILE})`,
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
  AGENTROUTER_DRAIN_TIMEOUT:
    'on SIGTERM/SIGINT, how long requests in flight (streams) may finish before they are cut (default 30s)',
} as const

export interface DataplaneConfig {
  dataDir: string
  /** Where the snapshot (revocation set, cursor, JWKS) is persisted. */
  stateDir: string
  listen: v.ListenAddress
  /** Undefined: `<hostname>:<port>` once listening. */
  name: string | undefined
  logLevel: LogLevel
  /** On shutdown, how long requests in flight may finish. */
  drainTimeoutMs: number
  /** `urls`: one or more (in order of preference); `url` is the first. */
  controlPlane: { url: string; urls: string[]; key: string; timeoutMs: number }
  upstreams: { openai: string; anthropic: string }
  tokens: { issuer: string; audience: string; clockLeewaySec: number; cacheSize: number }
  sync: {
    /** 0: never fail closed. */
    maxStalenessMs: number
    pollIntervalMs: number
    streamIdleTimeoutMs: number
    reconnectMaxMs: number
    jwksRefreshMs: number
    jwksMinIntervalMs: number
    persistDelayMs: number
  }
  byok: { ttlMs: number; maxEntries: number }
  /** What a client may hold: time to send its request, bytes buffered across all requests. */
  clients: { headersTimeoutMs: number; requestTimeoutMs: number; maxBufferedBytes: number }
  proxy: {
    bodyLimitBytes: number
    connectTimeoutMs: number
    headersTimeoutMs: number
    idleTimeoutMs: number
    connections: number
    /** Path prefixes under `/v1/` forwarded beyond each provider's inference API. */
    extraPaths: Array<{ provider: Provider; prefix: string }>
  }
}

export function loadDataplaneConfig(vars: v.Vars = v.collectVars()): DataplaneConfig {
  const logLevel = parseLogLevel(vars.AGENTROUTER_LOG_LEVEL)
  if (!logLevel) throw new v.ConfigError('AGENTROUTER_LOG_LEVEL', 'expected debug, info, warn or error')
  const dataDir = resolve(v.str(vars, 'AGENTROUTER_DATA_DIR', './data'))
  const name = vars.AGENTROUTER_DP_NAME
  if (name !== undefined && !/^[\w.:@-]{1,128}$/.test(name)) {
    throw new v.ConfigError('AGENTROUTER_DP_NAME', 'expected 1–128 letters, digits or ._:@-')
  }
  const bodyLimitBytes = v.int(vars, 'AGENTROUTER_DP_BODY_LIMIT_BYTES', 32 * 1024 * 1024, 1024, 1024 ** 3)
  const controlPlaneUrls = controlPlanes(vars)
  return {
    dataDir,
    stateDir: join(dataDir, 'dataplane'),
    listen: v.listen(vars, 'AGENTROUTER_DP_LISTEN', '127.0.0.1:8081'),
    name,
    logLevel,
    drainTimeoutMs: v.duration(vars, 'AGENTROUTER_DRAIN_TIMEOUT', 30_000),
    controlPlane: {
      url: controlPlaneUrls[0]!,
      urls: controlPlaneUrls,
      key: dataplaneKey(vars, dataDir),
      timeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_CONTROL_PLANE_TIMEOUT', 10_000),
    },
    upstreams: {
      openai: v.url(vars, 'AGENTROUTER_UPSTREAM_OPENAI', 'https://api.openai.com'),
      anthropic: v.url(vars, 'AGENTROUTER_UPSTREAM_ANTHROPIC', 'https://api.anthropic.com'),
    },
    tokens: {
      issuer: v.str(vars, 'AGENTROUTER_TOKEN_ISSUER', DEFAULT_TOKEN_ISSUER),
      audience: v.str(vars, 'AGENTROUTER_TOKEN_AUDIENCE', DEFAULT_TOKEN_AUDIENCE),
      clockLeewaySec: clockLeeway(vars),
      cacheSize: v.int(vars, 'AGENTROUTER_DP_TOKEN_CACHE_SIZE', 10_000, 1, 10_000_000),
    },
    sync: {
      maxStalenessMs: v.duration(vars, 'AGENTROUTER_DP_MAX_STALENESS', 3_600_000),
      pollIntervalMs: positiveDuration(vars, 'AGENTROUTER_DP_POLL_INTERVAL', 30_000),
      streamIdleTimeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_STREAM_IDLE_TIMEOUT', 35_000),
      reconnectMaxMs: positiveDuration(vars, 'AGENTROUTER_DP_RECONNECT_MAX', 30_000),
      // The control plane's JWKS max-age is 5 minutes by default: refresh before it lapses.
      jwksRefreshMs: positiveDuration(vars, 'AGENTROUTER_DP_JWKS_REFRESH', 240_000),
      jwksMinIntervalMs: v.duration(vars, 'AGENTROUTER_DP_JWKS_MIN_INTERVAL', 10_000),
      persistDelayMs: v.duration(vars, 'AGENTROUTER_DP_PERSIST_DELAY', 1_000),
    },
    byok: {
      ttlMs: positiveDuration(vars, 'AGENTROUTER_DP_BYOK_CACHE_TTL', 300_000),
      maxEntries: v.int(vars, 'AGENTROUTER_DP_BYOK_CACHE_SIZE', 10_000, 1, 10_000_000),
    },
    clients: clientLimits(vars, bodyLimitBytes),
    proxy: {
      bodyLimitBytes,
      connectTimeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_CONNECT_TIMEOUT', 10_000),
      headersTimeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_HEADERS_TIMEOUT', 600_000),
      idleTimeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_IDLE_TIMEOUT', 300_000),
      connections: v.int(vars, 'AGENTROUTER_DP_UPSTREAM_CONNECTIONS', 256, 1, 65_536),
      extraPaths: extraPaths(vars.AGENTROUTER_DP_EXTRA_PATHS),
    },
  }
}

/** One URL or several, comma-separated; each an http(s) URL, no repeats. */
function controlPlanes(vars: v.Vars): string[] {
  const name = 'AGENTROUTER_CONTROL_PLANE_URL'
  const raw = vars[name] ?? 'http://127.0.0.1:8080'
  const urls = raw.split(',').map((entry) => v.url({ [name]: entry.trim() }, name, ''))
  if (new Set(urls).size !== urls.length) throw new v.ConfigError(name, 'lists a URL twice')
  return urls
}

/** At most 5 minutes: revoked JTIs are pruned 5 minutes after their credential expires. */
function clockLeeway(vars: v.Vars): number {
  const ms = v.duration(vars, 'AGENTROUTER_DP_CLOCK_LEEWAY', 30_000)
  if (ms > 300_000) throw new v.ConfigError('AGENTROUTER_DP_CLOCK_LEEWAY', 'must be at most 5m')
  return ms / 1000
}

/**
 * The buffered-bytes bound defaults to eight largest bodies at once (thousands of typical chat
 * requests), which keeps the dataplane within a few hundred MiB; below one largest body, a
 * request the per-request limit allows could never be admitted. Node refuses a headers timeout
 * longer than the request timeout.
 */
function clientLimits(vars: v.Vars, bodyLimitBytes: number): DataplaneConfig['clients'] {
  const headersTimeoutMs = positiveDuration(vars, 'AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT', 10_000)
  const requestTimeoutMs = positiveDuration(vars, 'AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT', 300_000)
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new v.ConfigError(
      'AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT',
      'must be at least AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT',
    )
  }
  const maxBufferedBytes = v.int(
    vars,
    'AGENTROUTER_DP_MAX_BUFFERED_BYTES',
    Math.max(256 * 1024 * 1024, bodyLimitBytes),
    bodyLimitBytes,
    1024 ** 4,
  )
  return { headersTimeoutMs, requestTimeoutMs, maxBufferedBytes }
}

function positiveDuration(vars: v.Vars, name: string, fallbackMs: number): number {
  const ms = v.duration(vars, name, fallbackMs)
  if (ms <= 0) throw new v.ConfigError(name, 'must be more than zero')
  return ms
}

/** Segments of letters, digits, `_` and `-`: nothing a dot segment or an escape could hide in. */
const PATH_PREFIX = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/

/** `openai:fine_tuning,anthropic:organizations/usage_report`: a provider and a prefix under `/v1/`. */
function extraPaths(value: string | undefined): Array<{ provider: Provider; prefix: string }> {
  const out: Array<{ provider: Provider; prefix: string }> = []
  for (const entry of (value ?? '').split(',')) {
    const item = entry.trim()
    if (!item) continue
    const colon = item.indexOf(':')
    const provider = colon > 0 ? normalizeProvider(item.slice(0, colon)) : undefined
    const prefix = item.slice(colon + 1).replace(/^\/?(v1\/)?/, '')
    if (!provider || !PATH_PREFIX.test(prefix)) {
      throw new v.ConfigError(
        'AGENTROUTER_DP_EXTRA_PATHS',
        `${JSON.stringify(item)}: expected provider:prefix, a provider the dataplane knows and a path under /v1/ of letters, digits, _ and - segments`,
      )
    }
    out.push({ provider, prefix })
  }
  return out
}

/** A JWS compact serialisation, optionally with the `ak-` prefix API keys are issued with. */
const KEY_SHAPE = /^(ak-)*[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

function dataplaneKey(vars: v.Vars, dataDir: string): string {
  let name = 'AGENTROUTER_DATAPLANE_KEY'
  let key = vars[name]?.trim()
  const keyFile = vars.AGENTROUTER_DATAPLANE_KEY_FILE
  if (!key && keyFile) {
    name = 'AGENTROUTER_DATAPLANE_KEY_FILE'
    try {
      key = readFileSync(keyFile, 'utf8').trim()
    } catch (err) {
      throw new v.ConfigError(name, `cannot read ${keyFile}: ${(err as Error).message}`)
    }
  }
  if (!key) {
    const file = join(dataDir, DATAPLANE_KEY_FILE)
    if (!existsSync(file)) {
      throw new v.ConfigError(
        name,
        `required: the dataplane's KEY_TYPE_DATAPLANE key (or a ${DATAPLANE_KEY_FILE} file in AGENTROUTER_DATA_DIR)`,
      )
    }
    key = readFileSync(file, 'utf8').trim()
  }
  if (!KEY_SHAPE.test(key)) throw new v.ConfigError(name, 'is not an API key (expected ak-<jwt>)')
  return key
}
