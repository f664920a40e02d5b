/**
 * @module The SQLite engine of the SQL interface: better-sqlite3 on one connection (WAL),
 * statements prepared once per SQL text. better-sqlite3 is synchronous, so a query outside a
 * transaction completes before anything else runs; a transaction spans awaits, so it holds a
 * mutex that queries outside it wait on.
 */
import { chmodSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import {
  BaseSql,
  isDriverUniqueViolation,
  type OpenTransaction,
  type Params,
  type Queryable,
  UniqueViolation,
} from './sql.ts'

export class SqliteSql extends BaseSql {
  readonly engine = 'sqlite' as const
  readonly #db: Database.Database
  readonly #statements = new Map<string, Database.Statement>()
  readonly #direct: Queryable
  #held = false
  readonly #waiters: Array<() => void> = []

  constructor(db: Database.Database) {
    super()
    this.#db = db
    this.#direct = {
      all: async <T>(sql: string, params?: Params) => this.#call(sql, params, 'all') as T[],
      get: async <T>(sql: string, params?: Params) => this.#call(sql, params, 'get') as T | undefined,
      run: async (sql: string, params?: Params) => {
        const { changes } = this.#call(sql, params, 'run') as Database.RunResult
        return { changes }
      },
    }
  }

  /** The better-sqlite3 handle: for the few callers that need SQLite itself (tests, tools). */
  get handle(): Database.Database {
    return this.#db
  }

  /** Runs a script of statements (migrations) on the current connection. */
  exec(sql: string): void {
    this.#db.exec(sql)
  }

  #call(sql: string, params: Params | undefined, method: 'all' | 'get' | 'run'): unknown {
    let stmt = this.#statements.get(sql)
    if (!stmt) {
      stmt = this.#db.prepare(sql)
      this.#statements.set(sql, stmt)
    }
    try {
      if (params === undefined) return stmt[method]()
      if (Array.isArray(params)) return stmt[method](...params)
      return stmt[method](params)
    } catch (err) {
      throw isDriverUniqueViolation(err) ? new UniqueViolation(err) : err
    }
  }

  protected async outside<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    if (!this.#held) return fn(this.#direct)
    await this.#acquire()
    try {
      return await fn(this.#direct)
    } finally {
      this.#release()
    }
  }

  protected async begin<T>(fn: (tx: OpenTransaction) => Promise<T>): Promise<T> {
    await this.#acquire()
    const tx: OpenTransaction = { ...this.#direct, open: true, savepoints: 0 }
    try {
      this.#call('BEGIN IMMEDIATE', undefined, 'run')
      let result: T
      try {
        result = await fn(tx)
      } catch (err) {
        if (this.#db.inTransaction) this.#call('ROLLBACK', undefined, 'run')
        throw err
      }
      this.#call('COMMIT', undefined, 'run')
      return result
    } finally {
      tx.open = false
      this.#release()
    }
  }

  protected async lock(): Promise<void> {
    // BEGIN IMMEDIATE already holds SQLite's one write lock, across processes too.
  }

  async #acquire(): Promise<void> {
    if (!this.#held) {
      this.#held = true
      return
    }
    // Handed over by #release with #held still true.
    await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  #release(): void {
    const next = this.#waiters.shift()
    if (next) next()
    else this.#held = false
  }

  async close(): Promise<void> {
    if (this.#held) {
      await this.#acquire()
      this.#release()
    }
    this.#db.close()
  }
}

/** Opens (creating) the SQLite database file in `dataDir`, owner-only, WAL. */
export function openSqlite(dataDir: string, file = 'agentrouter.db'): SqliteSql {
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
  return new SqliteSql(db)
}
