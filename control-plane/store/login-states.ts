/**
 * @module Pending OIDC logins, keyed by `state`: single use, with an expiry, and the client
 * address that started them. A state is pending from its insert until it is taken or expires;
 * expired rows are deleted in bounded batches, off the request path.
 */
import type { Db } from './db.ts'

export interface LoginStateRow {
  state: string
  issuer_alias: string
  redirect_uri: string
  code_challenge: string
  nonce: string
  /** Who started it: the client address (or its network), for the per-client cap. */
  client: string
  created_at: number
  expires_at: number
}

export interface PendingCaps {
  /** Pending states overall. */
  max: number
  /** Pending states per `client`. */
  perClientMax: number
}

/** Stored, or refused because `scope` already holds its cap; `oldestExpiresAt` frees a slot. */
export type InsertOutcome =
  | { stored: true }
  | { stored: false; scope: 'client' | 'global'; oldestExpiresAt: number }

export class LoginStateStore {
  readonly #insert
  readonly #take
  readonly #purgeBatch
  readonly #countClient
  readonly #countAll
  readonly #oldestClient
  readonly #oldestAll
  readonly #insertWithinCaps

  constructor(readonly db: Db) {
    this.#insert = db.prepare(
      `INSERT INTO login_states (state, issuer_alias, redirect_uri, code_challenge, nonce, client, created_at, expires_at)
       VALUES (@state, @issuer_alias, @redirect_uri, @code_challenge, @nonce, @client, @created_at, @expires_at)`,
    )
    this.#take = db.prepare('DELETE FROM login_states WHERE state = ? RETURNING *')
    // SQLite's DELETE … LIMIT is a compile-time option; a rowid sub-select bounds the batch anywhere.
    this.#purgeBatch = db.prepare(
      'DELETE FROM login_states WHERE rowid IN (SELECT rowid FROM login_states WHERE expires_at <= ? LIMIT ?)',
    )
    // Both counts walk an index (client, expires_at) or (expires_at), never the table.
    this.#countClient = db
      .prepare('SELECT COUNT(*) FROM login_states WHERE client = ? AND expires_at > ?')
      .pluck()
    this.#countAll = db.prepare('SELECT COUNT(*) FROM login_states WHERE expires_at > ?').pluck()
    this.#oldestClient = db
      .prepare('SELECT MIN(expires_at) FROM login_states WHERE client = ? AND expires_at > ?')
      .pluck()
    this.#oldestAll = db.prepare('SELECT MIN(expires_at) FROM login_states WHERE expires_at > ?').pluck()
    // IMMEDIATE: the counts and the insert are one step for every process sharing the file.
    this.#insertWithinCaps = db.transaction((row: LoginStateRow, caps: PendingCaps): InsertOutcome => {
      const now = row.created_at
      if ((this.#countClient.get(row.client, now) as number) >= caps.perClientMax) {
        return {
          stored: false,
          scope: 'client',
          oldestExpiresAt: this.#oldestClient.get(row.client, now) as number,
        }
      }
      if ((this.#countAll.get(now) as number) >= caps.max) {
        return { stored: false, scope: 'global', oldestExpiresAt: this.#oldestAll.get(now) as number }
      }
      this.#insert.run(row)
      return { stored: true }
    })
  }

  /**
   * Stores the state unless its client, or everyone together, already has the most pending
   * states allowed at `row.created_at`.
   */
  insertWithinCaps(row: LoginStateRow, caps: PendingCaps): InsertOutcome {
    return this.#insertWithinCaps.immediate(row, caps)
  }

  /** Removes and returns the state: a second take of the same state finds nothing. */
  take(state: string): LoginStateRow | undefined {
    return this.#take.get(state) as LoginStateRow | undefined
  }

  /** Deletes up to `limit` states expired at `now`; answers how many. */
  purgeExpired(now: number, limit: number): number {
    return this.#purgeBatch.run(now, limit).changes
  }
}
