/**
 * @module Direct access to a control plane's SQLite database for the secrets tests: read the
 * audit of plaintext reads, and tamper with stored ciphertexts through a second connection
 * (WAL mode lets it write while the control plane runs).
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'

export function openDatabaseFile(dataDir: string, readonly = false): Database.Database {
  const db = new Database(join(dataDir, 'agentrouter.db'), { readonly, fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  return db
}

/** Runs `fn` with a connection to the database, closing it afterwards. */
export function withDatabase<T>(dataDir: string, fn: (db: Database.Database) => T): T {
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
