/**
 * @module The database the stores share: the asynchronous SQL interface of `sql.ts`, on SQLite
 * or PostgreSQL (`open.ts` opens the configured one and migrates it).
 */
import type { Sql } from './sql.ts'

export type Db = Sql

/** Whether the database answers a query: the readiness check. */
export function databaseOk(db: Db): Promise<boolean> {
  return db.ping()
}
