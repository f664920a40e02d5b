/**
 * @module Raw HTTP for tests that need to see exactly what went over the wire (status, headers,
 * error body), plus the assertions the control-plane tests share: an error's code and field, a
 * token's decoded parts, a Prometheus sample, and the row counts of the control plane's database
 * (to prove a refused request wrote nothing).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { ApiError, type ErrorCode } from '../../shared/errors.ts'
import { postgresUrlFor } from './control-plane.ts'

export interface HttpOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined
  /** Serialised as the JSON body, with `Content-Type: application/json`. */
  json?: unknown
  /** A raw body, sent as is. */
  body?: string | Uint8Array | ReadableStream<Uint8Array>
  headers?: Record<string, string>
  query?: Record<string, string>
}

export interface HttpResult {
  status: number
  headers: Headers
  text: string
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  body: any
}

export async function http(
  baseUrl: string,
  method: string,
  path: string,
  options: HttpOptions = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  let body: HttpOptions['body']
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json'
    body = JSON.stringify(options.json)
  } else body = options.body
  const url = new URL(baseUrl + path)
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v)
  const response = await fetch(url, {
    method,
    headers,
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit)
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  return { status: response.status, headers: response.headers, text, body: parsed }
}

/**
 * The contract's code → HTTP table, restated from api.md on purpose rather than imported from
 * `shared/errors.ts`: a test that took the server's own table could not catch it drifting.
 */
const STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 412,
  resource_exhausted: 429,
  internal: 500,
  unavailable: 503,
  deadline_exceeded: 504,
}

/** Asserts a contract error: HTTP status, JSON body with `code`, and (when given) the field named. */
export function assertError(res: HttpResult, code: ErrorCode, field?: string, what = ''): void {
  const label = `${what}${what ? ': ' : ''}HTTP ${res.status} ${res.text.slice(0, 300)}`
  assert.equal(res.status, STATUS[code], label)
  assert.equal(res.body?.code, code, label)
  assert.equal(typeof res.body.message, 'string', label)
  assert.ok(Array.isArray(res.body.details), label)
  if (field !== undefined) {
    const fields = (res.body.details as Array<{ field?: string }>).map((d) => d.field)
    assert.ok(fields.includes(field), `${label}: expected details to name "${field}", got ${fields}`)
    assert.ok(res.body.message.includes(field), `${label}: the message should name "${field}"`)
  }
}

/** Awaits a client call that must fail with `code` (and name `field`). */
export async function rejectsWith(
  call: Promise<unknown>,
  code: ErrorCode,
  field?: string,
): Promise<ApiError> {
  try {
    await call
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${err}`)
    assert.equal(err.code, code, err.message)
    if (field !== undefined) {
      assert.ok(
        err.details.some((d) => d.field === field),
        `expected details to name "${field}": ${JSON.stringify(err.details)}`,
      )
    }
    return err
  }
  assert.fail(`expected ${code}, but the call succeeded`)
}

/** The header and payload of a JWT (or an `ak-` API key), unverified. */
export function decodeJwt(token: string): {
  header: Record<string, unknown>
  payload: Record<string, unknown>
} {
  const jwt = token.replace(/^(ak-)+/, '')
  const [h, p] = jwt.split('.')
  const part = (s: string | undefined) => JSON.parse(Buffer.from(s ?? '', 'base64url').toString('utf8'))
  return { header: part(h), payload: part(p) }
}

/** The value of one Prometheus sample (0 when absent). `labels` must all match. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0
  let found = false
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const wanted = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))
    if (!wanted) continue
    found = true
    total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return found ? total : 0
}

export async function metrics(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`)
  assert.equal(res.status, 200)
  return res.text()
}

/**
 * Row counts of every table in a running control plane's database (opened read-only), to show a
 * refused request wrote nothing. The audit trail is left out: recording a refusal (outcome
 * `denied`) is what it is for; `test/control-plane/audit.test.ts` checks those records.
 */
export function tableCounts(dataDir: string): Record<string, number> {
  const postgres = postgresUrlFor(dataDir)
  if (postgres) return postgresTableCounts(postgres)
  const db = new Database(join(dataDir, 'agentrouter.db'), { readonly: true, fileMustExist: true })
  try {
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'audit'",
      )
      .pluck()
      .all() as string[]
    const counts: Record<string, number> = {}
    for (const t of tables) counts[t] = db.prepare(`SELECT COUNT(*) FROM "${t}"`).pluck().get() as number
    return counts
  } finally {
    db.close()
  }
}

/** The same on PostgreSQL, through psql so that callers stay synchronous. */
function postgresTableCounts(url: string): Record<string, number> {
  const psql = (query: string): string[] => {
    const out = spawnSync('psql', [url, '-XAtqc', query], { encoding: 'utf8' })
    if (out.status !== 0) throw new Error(`psql failed: ${out.stderr}`)
    return out.stdout.split('\n').filter(Boolean)
  }
  const tables = psql(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'audit'",
  )
  const counts: Record<string, number> = {}
  const rows = psql(tables.map((t) => `SELECT '${t}', COUNT(*) FROM "${t}"`).join(' UNION ALL '))
  for (const row of rows) {
    const [t, n] = row.split('|')
    counts[t as string] = Number(n)
  }
  return counts
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
