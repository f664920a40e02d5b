/**
 * @module Pending OIDC logins, keyed by `state`: single use, with an expiry.
 */
import type { Db } from './db.ts'

export interface LoginStateRow {
  state: string
  issuer_alias: string
  redirect_uri: string
  code_challenge: string
  nonce: string
  created_at: number
  expires_at: number
}

export class LoginStateStore {
  readonly #insert
  readonly #take
  readonly #purge

  constructor(readonly db: Db) {
    this.#insert = db.prepare(
      `INSERT INTO login_states (state, issuer_alias, redirect_uri, code_challenge, nonce, created_at, expires_at)
       VALUES (@state, @issuer_alias, @redirect_uri, @code_challenge, @nonce, @created_at, @expires_at)`,
    )
    this.#take = db.prepare('DELETE FROM login_states WHERE state = ? RETURNING *')
    this.#purge = db.prepare('DELETE FROM login_states WHERE expires_at <= ?')
  }

  insert(row: LoginStateRow): void {
    this.#insert.run(row)
  }

  /** Removes and returns the state: a second take of the same state finds nothing. */
  take(state: string): LoginStateRow | undefined {
    return this.#take.get(state) as LoginStateRow | undefined
  }

  purgeExpired(now: number): number {
    return this.#purge.run(now).changes
  }
}
