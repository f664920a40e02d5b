/**
 * @module Opens the configured database (PostgreSQL when a URL is given, else SQLite in the data
 * directory) and brings its schema up to date.
 */
import { migrate } from './migrate.ts'
import { PostgresSql } from './postgres.ts'
import type { Sql } from './sql.ts'
import { openSqlite } from './sqlite.ts'

export interface StoreOptions {
  /** `postgres://…`; absent: SQLite in `dataDir`. */
  databaseUrl: string | undefined
  dataDir: string
  /** Told about errors of idle PostgreSQL connections. */
  onIdleError?: (err: Error) => void
}

export async function openStore(options: StoreOptions): Promise<Sql> {
  const sql: Sql = options.databaseUrl
    ? new PostgresSql({
        connectionString: options.databaseUrl,
        ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
      })
    : openSqlite(options.dataDir)
  try {
    await migrate(sql)
  } catch (err) {
    await sql.close().catch(() => {})
    throw err
  }
  return sql
}
