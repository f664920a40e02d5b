/**
 * @module Direct access to a control plane's SQLite database for the secrets tests: read the
 * audit of plaintext reads, and tamper with stored ciphertexts through a second connection
 * (WAL mode lets it write while the control plane runs). On PostgreSQL (AGENTROUTER_TEST_ENGINE)
 * `withDatabase` hands over a small stand-in with the same prepare/pluck/get/all/run calls,
 * run through psql so that callers stay synchronous.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { postgresUrlFor } from './control-plane.ts'

export function openDatabaseFile(dataDir: string, readonly = false): Database.Database {
  const db = new Database(join(dataDir, 'agentrouter.db'), { readonly, fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  return db
}

/** A connection to the control plane's database, whichever engine it runs on (close it). */
export function openAnyDatabase(dataDir: string): Database.Database {
  const url = postgresUrlFor(dataDir)
  return url ? psqlDatabase(url) : openDatabaseFile(dataDir, true)
}

/** Runs `fn` with a connection to the database, closing it afterwards. */
export function withDatabase<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const url = postgresUrlFor(dataDir)
  if (url) return fn(psqlDatabase(url))
  const db = openDatabaseFile(dataDir)
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

export interface VersionRow {
  secret_id: string
  version: number
  kek_id: string | null
  wrapped_data_key: Buffer | null
  ciphertext: Buffer | null
}

export function currentVersionRow(db: Database.Database, secretId: string): VersionRow {
  return db
    .prepare(
      `SELECT v.* FROM secret_versions v JOIN secrets s ON s.id = v.secret_id AND s.version = v.version
       WHERE s.id = ?`,
    )
    .get(secretId) as VersionRow
}

export function setVersionCrypto(
  db: Database.Database,
  row: Pick<VersionRow, 'secret_id' | 'version'>,
  values: Partial<Pick<VersionRow, 'kek_id' | 'wrapped_data_key' | 'ciphertext'>>,
): void {
  for (const [column, value] of Object.entries(values)) {
    db.prepare(`UPDATE secret_versions SET ${column} = ? WHERE secret_id = ? AND version = ?`).run(
      value,
      row.secret_id,
      row.version,
    )
  }
}

/** The better-sqlite3 calls the tests make, answered by PostgreSQL through psql. */
function psqlDatabase(url: string): Database.Database {
  const psql = (query: string): string => {
    const out = spawnSync('psql', [url, '-XAtqv', 'ON_ERROR_STOP=1', '-c', query], { encoding: 'utf8' })
    if (out.status !== 0) throw new Error(`psql failed: ${out.stderr}`)
    return out.stdout.trim()
  }
  const literal = (v: unknown): string => {
    if (v === null || v === undefined) return 'NULL'
    if (typeof v === 'number' || typeof v === 'bigint') return String(v)
    if (Buffer.isBuffer(v)) return `'\\x${v.toString('hex')}'::bytea`
    return `'${String(v).replaceAll("'", "''")}'`
  }
  const bind = (sql: string, params: unknown[]): string => {
    let i = 0
    return sql.replace(/\?/g, () => literal(params[i++]))
  }
  // As better-sqlite3 gives them: booleans as 0/1, BYTEA as Buffers.
  const revive = (v: unknown): unknown =>
    typeof v === 'boolean'
      ? Number(v)
      : typeof v === 'string' && /^\\x([0-9a-f]{2})*$/.test(v)
        ? Buffer.from(v.slice(2), 'hex')
        : v
  const rows = (sql: string, params: unknown[]): Record<string, unknown>[] => {
    const text = psql(`SELECT COALESCE(json_agg(t), '[]') FROM (${bind(sql, params)}) t`)
    return (JSON.parse(text) as Record<string, unknown>[]).map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, revive(v)])),
    )
  }
  const statement = (sql: string, plucked = false) => ({
    pluck: () => statement(sql, true),
    get: (...params: unknown[]) => {
      const row = rows(sql, params)[0]
      return plucked && row ? Object.values(row)[0] : row
    },
    all: (...params: unknown[]) => rows(sql, params).map((r) => (plucked ? Object.values(r)[0] : r)),
    run: (...params: unknown[]) => {
      const out = psql(`WITH changed AS (${bind(sql, params)} RETURNING 1) SELECT COUNT(*) FROM changed`)
      return { changes: Number(out) }
    },
  })
  return { prepare: (sql: string) => statement(sql), close: () => {} } as unknown as Database.Database
}
