/**
 * @module The PostgreSQL engine of the SQL interface: a node-postgres pool; a transaction takes
 * one client for its duration. `?` and `@name` placeholders become `$n` (once per statement text),
 * BIGINT reads as a number (every integer we store is below 2^53), BYTEA as a Buffer. A
 * transaction that loses a serialization or deadlock race is run again, a bounded number of
 * times; a database that cannot be reached is the contract's `unavailable`.
 */
import pg from 'pg'
import { ConnectionSlots } from './connection-slots.ts'
import {
  BaseSql,
  databaseUnavailable,
  isDriverUniqueViolation,
  type OpenTransaction,
  type Params,
  type Queryable,
  UniqueViolation,
} from './sql.ts'

const INT8_OID = 20
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
}
/** serialization_failure, deadlock_detected: the transaction may simply be run again. */
const RETRYABLE = new Set(['40001', '40P01'])
const MAX_ATTEMPTS = 5

export interface PostgresOptions {
  connectionString: string
  /** Connections in the pool (default 10). */
  max?: number
  /** How long to wait for a connection before answering `unavailable` (default 5 s). */
  connectTimeoutMs?: number
  /** How long a caller waits for its turn when every connection is busy (default 30 s). */
  queueTimeoutMs?: number
  /** Told about errors of idle connections, which have no caller to throw to. */
  onIdleError?: (err: Error) => void
}

interface Compiled {
  text: string
  /** The `@name`s in `$n` order, or null for positional `?` placeholders. */
  names: string[] | null
}

export class PostgresSql extends BaseSql {
  readonly engine = 'postgres' as const
  readonly pool: pg.Pool
  readonly #compiled = new Map<string, Compiled>()
  readonly #pooled: Queryable
  readonly #slots: ConnectionSlots

  constructor(options: PostgresOptions) {
    super()
    const max = options.max ?? 10
    this.#slots = new ConnectionSlots(max, options.queueTimeoutMs ?? 30_000)
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      types: TYPES,
    })
    this.pool.on('error', (err) => options.onIdleError?.(err))
    this.#pooled = this.#queryable((text, values) =>
      this.#slots.run(() => this.pool.query(text, values), busy),
    )
  }

  /**
   * A client of the pool for the caller's own use, taken in turn (`release` it, once). Rejects
   * with `unavailable` when the database cannot be reached or every connection stayed busy.
   */
  async connect(): Promise<pg.PoolClient> {
    await this.#slots.acquire(busy)
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (err) {
      this.#slots.release()
      throw databaseUnavailable(err)
    }
    // The pool sets `release` afresh at every checkout: this one also ends the turn, once.
    const release = client.release
    let released = false
    client.release = (err?: Error | boolean) => {
      if (!released) {
        released = true
        this.#slots.release()
      }
      return release(err)
    }
    return client
  }

  #queryable(query: (text: string, values: unknown[]) => Promise<pg.QueryResult>): Queryable {
    const exec = async (sql: string, params: Params | undefined) => {
      const { text, values } = this.#bind(sql, params)
      try {
        return await query(text, values)
      } catch (err) {
        if (isConnectionError(err)) throw databaseUnavailable(err)
        throw isDriverUniqueViolation(err) ? new UniqueViolation(err) : err
      }
    }
    return {
      all: async <T>(sql: string, params?: Params) => (await exec(sql, params)).rows as T[],
      get: async <T>(sql: string, params?: Params) => (await exec(sql, params)).rows[0] as T | undefined,
      run: async (sql: string, params?: Params) => ({ changes: (await exec(sql, params)).rowCount ?? 0 }),
    }
  }

  #bind(sql: string, params: Params | undefined): { text: string; values: unknown[] } {
    let compiled = this.#compiled.get(sql)
    if (!compiled) {
      compiled = compile(sql)
      this.#compiled.set(sql, compiled)
    }
    if (params === undefined) return { text: compiled.text, values: [] }
    if (Array.isArray(params)) return { text: compiled.text, values: params }
    const named = params as Readonly<Record<string, unknown>>
    const values = (compiled.names ?? []).map((name) => {
      if (!(name in named)) throw new TypeError(`missing named parameter "${name}"`)
      return named[name]
    })
    return { text: compiled.text, values }
  }

  protected outside<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return fn(this.#pooled)
  }

  protected async begin<T>(fn: (tx: OpenTransaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect()
      const tx: OpenTransaction = {
        ...this.#queryable((text, values) => client.query(text, values)),
        open: true,
        savepoints: 0,
      }
      let broken: Error | undefined
      try {
        await tx.run('BEGIN')
        const result = await fn(tx)
        await tx.run('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackFailed: Error) => {
          broken = rollbackFailed
        })
        const code = (err as { code?: unknown }).code
        if (typeof code === 'string' && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) continue
        throw err
      } finally {
        tx.open = false
        client.release(broken)
      }
    }
  }

  protected async lock(tx: OpenTransaction, name: string): Promise<void> {
    await tx.get('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [name])
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}

const busy = () => databaseUnavailable(new Error('every database connection stayed busy'))

/**
 * Rewrites `?` (positional) or `@name` (named) placeholders to `$n`, leaving string literals,
 * quoted identifiers, comments and `::` casts alone.
 */
export function compile(sql: string): Compiled {
  let text = ''
  let positional = 0
  const names: string[] = []
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i] as string
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1)
      const stop = end === -1 ? sql.length : end + 1
      text += sql.slice(i, stop)
      i = stop - 1
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      const stop = end === -1 ? sql.length : end
      text += sql.slice(i, stop)
      i = stop - 1
    } else if (c === '?') {
      text += `$${++positional}`
    } else if (c === '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))?.[0] as string
      let index = names.indexOf(name)
      if (index === -1) index = names.push(name) - 1
      text += `$${index + 1}`
      i += name.length
    } else {
      text += c
    }
  }
  if (positional > 0 && names.length > 0) throw new TypeError('mixed ? and @name placeholders')
  return { text, names: names.length > 0 ? names : null }
}

const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
])

/** Whether an error means the database could not be reached (rather than refused the query). */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') {
    if (CONNECTION_ERRNOS.has(code)) return true
    // connection_exception, admin/crash shutdown, cannot_connect_now, too_many_connections
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300')
      return true
  }
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable/i.test(
    err.message,
  )
}
