/**
 * @module Applies the versioned migrations of the engine in use (`migrations/<engine>/NNN_*.sql`,
 * the same numbers meaning the same change on both), each in its own transaction, recording each
 * version in `schema_migrations`. Every step holds the migrations lock (an advisory lock on
 * PostgreSQL), and re-reads what is applied under it, so replicas starting together apply each
 * migration once. A SQLite database from before `schema_migrations` counts its `user_version` as
 * applied.
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { Queryable, Sql } from './sql.ts'
import { SqliteSql } from './sqlite.ts'

const LOCK = 'agentrouter.migrations'

export interface Migration {
  version: number
  name: string
  sql: string
}

export function migrationsOf(engine: Sql['engine']): Migration[] {
  const dir = new URL(`./migrations/${engine}/`, import.meta.url)
  return readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .map((name) => ({
      version: Number(name.slice(0, 3)),
      name,
      sql: readFileSync(new URL(name, dir), 'utf8'),
    }))
}

/** Applies what is missing; returns the versions this call applied. */
export async function migrate(sql: Sql, migrations = migrationsOf(sql.engine)): Promise<number[]> {
  await sql.transaction(
    async (tx) => {
      await tx.run(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
      )
      if (sql instanceof SqliteSql) await adoptUserVersion(tx)
    },
    { lock: LOCK },
  )
  const applied: number[] = []
  for (const migration of migrations) {
    const done = await sql.transaction(
      async (tx) => {
        if (await tx.get('SELECT version FROM schema_migrations WHERE version = ?', [migration.version]))
          return true
        if (sql instanceof SqliteSql) {
          sql.exec(migration.sql)
          await tx.run(`PRAGMA user_version = ${migration.version}`)
        } else {
          await tx.run(migration.sql)
        }
        await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [
          migration.version,
          Date.now() * 1000,
        ])
        return false
      },
      { lock: LOCK },
    )
    if (!done) applied.push(migration.version)
  }
  return applied
}

/** A database migrated before `schema_migrations` existed recorded its version in user_version. */
async function adoptUserVersion(tx: Queryable): Promise<void> {
  const row = await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM schema_migrations')
  if ((row?.n ?? 0) > 0) return
  const version = (await tx.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0
  for (let v = 1; v <= version; v++)
    await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [v, Date.now() * 1000])
}
