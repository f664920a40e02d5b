/**
 * @module The one asynchronous SQL interface every store uses, over two engines: SQLite
 * (better-sqlite3, the embedded default) and PostgreSQL (node-postgres). SQL is written once, in
 * the subset both engines share, with `?` placeholders (positional, an array of values) or
 * `@name` placeholders (an object of values); the PostgreSQL engine rewrites them to `$n` once per
 * statement text. Integers are microseconds (BIGINT, read as numbers), blobs are Buffers,
 * booleans are INTEGER 0/1.
 *
 * A transaction runs its function with the transaction bound to the async context: every query a
 * store makes inside it (however deep the call) runs in that transaction, so domain code keeps
 * calling its stores as usual. On SQLite, which has one connection, a query outside the
 * transaction waits until it commits rather than slip into it.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { ApiError } from '../../shared/errors.ts'

export type Params = readonly unknown[] | object
export type Engine = 'sqlite' | 'postgres'

export interface Queryable {
  all<T>(sql: string, params?: Params): Promise<T[]>
  get<T>(sql: string, params?: Params): Promise<T | undefined>
  run(sql: string, params?: Params): Promise<{ changes: number }>
}

export interface TransactionOptions {
  /**
   * A name to serialize on across every process sharing the database (an advisory lock on
   * PostgreSQL; SQLite's write transaction already is one).
   */
  lock?: string
}

export interface Sql extends Queryable {
  readonly engine: Engine
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. A
   * transaction begun inside another is a savepoint of it.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>
  /**
   * Runs `fn` once the transaction the caller is inside commits (never when it rolls back), or
   * now when outside any: for what must not be said before it is durable (a log line).
   */
  afterCommit(fn: () => void): void
  /** Whether the database answers a query: the readiness check. */
  ping(): Promise<boolean>
  close(): Promise<void>
}

/** One open transaction on one connection, as the async context carries it. */
export interface OpenTransaction extends Queryable {
  /** Cleared when the transaction ends: a late query from its context goes the normal way. */
  open: boolean
  savepoints: number
  /** `afterCommit` callbacks, run when the outermost transaction commits. */
  committed?: Array<() => void>
}

/** Base of both engines: routes a query to the transaction in the async context, if any. */
export abstract class BaseSql implements Sql {
  abstract readonly engine: Engine
  protected readonly context = new AsyncLocalStorage<OpenTransaction>()

  /** The transaction the caller is inside, if it is still open. */
  protected current(): OpenTransaction | undefined {
    const tx = this.context.getStore()
    return tx?.open ? tx : undefined
  }

  all<T>(sql: string, params?: Params): Promise<T[]> {
    const tx = this.current()
    return tx ? tx.all<T>(sql, params) : this.outside((q) => q.all<T>(sql, params))
  }

  get<T>(sql: string, params?: Params): Promise<T | undefined> {
    const tx = this.current()
    return tx ? tx.get<T>(sql, params) : this.outside((q) => q.get<T>(sql, params))
  }

  run(sql: string, params?: Params): Promise<{ changes: number }> {
    const tx = this.current()
    return tx ? tx.run(sql, params) : this.outside((q) => q.run(sql, params))
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const tx = this.current()
    if (tx) return savepoint(tx, fn)
    const committed: Array<() => void> = []
    const result = await this.begin(async (opened) => {
      opened.committed = committed
      if (options.lock) await this.lock(opened, options.lock)
      return this.context.run(opened, () => fn(opened))
    })
    for (const done of committed) done()
    return result
  }

  afterCommit(fn: () => void): void {
    const tx = this.current()
    if (!tx) {
      fn()
      return
    }
    tx.committed ??= []
    tx.committed.push(fn)
  }

  /** Runs one query outside any transaction. */
  protected abstract outside<T>(fn: (q: Queryable) => Promise<T>): Promise<T>
  /** Opens a transaction, runs `fn` in it, commits or rolls back. */
  protected abstract begin<T>(fn: (tx: OpenTransaction) => Promise<T>): Promise<T>
  protected abstract lock(tx: OpenTransaction, name: string): Promise<void>

  async ping(): Promise<boolean> {
    try {
      return (await this.get<{ ok: number }>('SELECT 1 AS ok'))?.ok === 1
    } catch {
      return false
    }
  }

  abstract close(): Promise<void>
}

async function savepoint<T>(tx: OpenTransaction, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  const name = `sp_${++tx.savepoints}`
  const pending = tx.committed?.length ?? 0
  await tx.run(`SAVEPOINT ${name}`)
  try {
    const result = await fn(tx)
    await tx.run(`RELEASE SAVEPOINT ${name}`)
    return result
  } catch (err) {
    // What the rolled-back part registered will not be committed.
    tx.committed?.splice(pending)
    await tx.run(`ROLLBACK TO SAVEPOINT ${name}`)
    await tx.run(`RELEASE SAVEPOINT ${name}`)
    throw err
  }
}

/** The contract's `unavailable`, for a database that cannot be reached. */
export function databaseUnavailable(cause: unknown): ApiError {
  const err = new ApiError('unavailable', 'the database is unavailable; retry shortly')
  ;(err as Error & { cause?: unknown }).cause = cause
  return err
}

/**
 * A write refused by a unique constraint: the contract's `already_exists` (typically two replicas
 * creating the same thing at once; the second one to commit gets this). The engines throw it in
 * place of the driver's error, which stays as `cause` (its detail names values: never shown).
 */
export class UniqueViolation extends ApiError {
  constructor(cause: unknown) {
    super('already_exists', 'it already exists: created by a concurrent request')
    ;(this as Error & { cause?: unknown }).cause = cause
  }
}

/** Whether a driver error is a unique-constraint failure, on either engine. */
export function isDriverUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505'
}

/** Whether an insert failed on a unique constraint, on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof UniqueViolation || isDriverUniqueViolation(err)
}
