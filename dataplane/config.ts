/**
 * @module The dataplane's configuration: every variable it reads, parsed and checked once at
 * start into a typed object. A bad or missing value stops start-up with a message naming the
 * variable. `DATAPLANE_VARIABLES` lists every variable, so packaging can check it exposes them.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as v from '../shared/config.ts'
import { normalizeProvider, type Provider } from '../shared/contract/aikeys.ts'
import type { LogLevel } from '../shared/logger.ts'
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER } from '../shared/tokens/claims.ts'

/** The key file the control plane writes at bootstrap; used when no key variable is set. */
export const DATAPLANE_KEY_FILE = 'dataplane.key'

export { DATAPLANE_VARIABLES } from '../shared/variables.ts'

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
    pruneIntervalMs: number
    streamIdleTimeoutMs: number
    reconnectMaxMs: number
    jwksRefreshMs: number
    jwksMinIntervalMs: number
    persistDelayMs: number
    /** How often the keys served are reported to the control plane (`last_used_at`). */
    usageReportIntervalMs: number
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

/**
 * The configuration in `input` (by default the config file, environment and flags), or a
 * `ConfigError` listing every problem in it.
 */
export function loadDataplaneConfig(input: v.Vars = v.collectVars()): DataplaneConfig {
  return v.checkAll(input, parse)
}

function parse(vars: v.Vars): DataplaneConfig {
  const logLevel = v.logLevel(vars)
  const dataDir = resolve(v.str(vars, 'AGENTROUTER_DATA_DIR', './data'))
  const name = vars.AGENTROUTER_DP_NAME
  if (name !== undefined && !/^[\w.:@-]{1,128}$/.test(name)) {
    v.report(
      vars,
      new v.ConfigError('AGENTROUTER_DP_NAME', 'expected 1–128 letters, digits or ._:@-'),
      undefined,
    )
  }
  const bodyLimitBytes = v.int(vars, 'AGENTROUTER_DP_BODY_LIMIT_BYTES', 32 * 1024 * 1024, 1024, 1024 ** 3)
  const controlPlaneUrls = v.guard(vars, () => controlPlanes(vars), ['http://127.0.0.1:8080'])
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
      key: v.guard(vars, () => dataplaneKey(vars, dataDir), ''),
      timeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_CONTROL_PLANE_TIMEOUT', 10_000),
    },
    upstreams: {
      openai: v.url(vars, 'AGENTROUTER_UPSTREAM_OPENAI', 'https://api.openai.com'),
      anthropic: v.url(vars, 'AGENTROUTER_UPSTREAM_ANTHROPIC', 'https://api.anthropic.com'),
    },
    tokens: {
      issuer: v.str(vars, 'AGENTROUTER_TOKEN_ISSUER', DEFAULT_TOKEN_ISSUER),
      audience: v.str(vars, 'AGENTROUTER_TOKEN_AUDIENCE', DEFAULT_TOKEN_AUDIENCE),
      clockLeewaySec: v.guard(vars, () => clockLeeway(vars), 30),
      cacheSize: v.int(vars, 'AGENTROUTER_DP_TOKEN_CACHE_SIZE', 10_000, 1, 10_000_000),
    },
    sync: {
      maxStalenessMs: v.duration(vars, 'AGENTROUTER_DP_MAX_STALENESS', 3_600_000),
      pollIntervalMs: positiveDuration(vars, 'AGENTROUTER_DP_POLL_INTERVAL', 30_000),
      pruneIntervalMs: positiveDuration(vars, 'AGENTROUTER_DP_REVOCATION_PRUNE_INTERVAL', 600_000),
      streamIdleTimeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_STREAM_IDLE_TIMEOUT', 35_000),
      reconnectMaxMs: positiveDuration(vars, 'AGENTROUTER_DP_RECONNECT_MAX', 30_000),
      // The control plane's JWKS max-age is 5 minutes by default: refresh before it lapses.
      jwksRefreshMs: positiveDuration(vars, 'AGENTROUTER_DP_JWKS_REFRESH', 240_000),
      jwksMinIntervalMs: v.duration(vars, 'AGENTROUTER_DP_JWKS_MIN_INTERVAL', 10_000),
      persistDelayMs: v.duration(vars, 'AGENTROUTER_DP_PERSIST_DELAY', 1_000),
      usageReportIntervalMs: usageReportInterval(vars),
    },
    byok: {
      ttlMs: positiveDuration(vars, 'AGENTROUTER_DP_BYOK_CACHE_TTL', 300_000),
      maxEntries: v.int(vars, 'AGENTROUTER_DP_BYOK_CACHE_SIZE', 10_000, 1, 10_000_000),
    },
    clients: v.guard(vars, () => clientLimits(vars, bodyLimitBytes), {
      headersTimeoutMs: 0,
      requestTimeoutMs: 0,
      maxBufferedBytes: 0,
    }),
    proxy: {
      bodyLimitBytes,
      connectTimeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_CONNECT_TIMEOUT', 10_000),
      headersTimeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_HEADERS_TIMEOUT', 600_000),
      idleTimeoutMs: positiveDuration(vars, 'AGENTROUTER_DP_IDLE_TIMEOUT', 300_000),
      connections: v.int(vars, 'AGENTROUTER_DP_UPSTREAM_CONNECTIONS', 256, 1, 65_536),
      extraPaths: v.guard(vars, () => extraPaths(vars.AGENTROUTER_DP_EXTRA_PATHS), []),
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

/**
 * With a unit (a bare number would read as milliseconds, a report per few ms), and at least a
 * second: the control plane refuses reports from one stream closer together than half that.
 */
function usageReportInterval(vars: v.Vars): number {
  const name = 'AGENTROUTER_DP_USAGE_REPORT_INTERVAL'
  const raw = vars[name]
  if (raw !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(raw))
    throw new v.ConfigError(name, `a unit is required, such as 2s, got "${raw}"`)
  const ms = v.duration(vars, name, 2_000)
  if (ms < 1_000 || ms > 3_600_000) throw new v.ConfigError(name, 'must be between 1s and 1h')
  return ms
}

function positiveDuration(vars: v.Vars, name: string, fallbackMs: number): number {
  const ms = v.duration(vars, name, fallbackMs)
  if (ms <= 0) return v.report(vars, new v.ConfigError(name, 'must be more than zero'), fallbackMs)
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
