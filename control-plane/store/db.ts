/**
 * @module Opens the SQLite database (WAL mode) and applies the versioned migrations in
 * `migrations/` in order, each in its own transaction, recording the version in `user_version`.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'

export type Db = Database.Database

const MIGRATIONS_DIR = new URL('./migrations/sqlite/', import.meta.url)

export function openDatabase(dataDir: string, file = 'agentrouter.db'): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, file)
  const db = new Database(path)
  chmodSync(path, 0o600)
  db.pragma('journal_mode = WAL')
  // NORMAL in WAL mode loses nothing on a process crash (only on power loss), at a fraction of
  // FULL's fsync cost; a SIGKILLed control plane keeps every acknowledged write.
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  migrate(db)
  return db
}

/** Whether the database answers a query: the readiness check. */
export function databaseOk(db: Db): boolean {
  try {
    return db.prepare('SELECT 1').pluck().get() === 1
  } catch {
    return false
  }
}

function migrate(db: Db): void {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
  const current = db.pragma('user_version', { simple: true }) as number
  for (const file of files) {
    const version = Number(file.slice(0, 3))
    if (version <= current) continue
    const sql = readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8')
    db.transaction(() => {
      db.exec(sql)
      db.pragma(`user_version = ${version}`)
    })()
  }
}
