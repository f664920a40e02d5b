/**
 * @module Rows of the revocation log.
 */
import type { RevocationKind } from '../../shared/contract/tokens.ts'
import type { Db } from './db.ts'

export interface RevocationRow {
  jti: string
  kind: RevocationKind
  /** Microseconds; strictly increasing, unique: the cursor. */
  revoked_at: number
  expires_at: number
  reason: string
}

export class RevocationStore {
  readonly #insert
  readonly #find
  readonly #after
  readonly #countAfter
  readonly #head
  readonly #live

  constructor(readonly db: Db) {
    this.#insert = db.prepare(
      'INSERT INTO revocations (jti, kind, revoked_at, expires_at, reason) VALUES (@jti, @kind, @revoked_at, @expires_at, @reason)',
    )
    this.#find = db.prepare('SELECT * FROM revocations WHERE jti = ?')
    this.#after = db.prepare('SELECT * FROM revocations WHERE revoked_at > ? ORDER BY revoked_at LIMIT ?')
    // The log is append-only and rows are inserted in cursor order, so rowids follow cursors:
    // the count after a cursor is a subtraction of two index lookups, not a scan.
    this.#countAfter = db
      .prepare(
        `SELECT COALESCE((SELECT MAX(rowid) FROM revocations), 0)
              - COALESCE((SELECT rowid FROM revocations WHERE revoked_at <= ? ORDER BY revoked_at DESC LIMIT 1), 0)`,
      )
      .pluck()
    this.#head = db.prepare('SELECT MAX(revoked_at) FROM revocations').pluck()
    this.#live = db.prepare('SELECT jti FROM revocations WHERE expires_at > ?').pluck()
  }

  insert(row: RevocationRow): void {
    this.#insert.run(row)
  }

  find(jti: string): RevocationRow | undefined {
    return this.#find.get(jti) as RevocationRow | undefined
  }

  after(since: number, limit: number): RevocationRow[] {
    return this.#after.all(since, limit) as RevocationRow[]
  }

  countAfter(since: number): number {
    return this.#countAfter.get(since) as number
  }

  head(): number {
    return (this.#head.get() as number | null) ?? 0
  }

  /** JTIs whose credential has not expired yet. */
  liveJtis(now: number): Iterable<string> {
    return this.#live.iterate(now) as Iterable<string>
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }
}
