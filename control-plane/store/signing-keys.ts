/**
 * @module Rows of the signing-key table. Private keys are stored sealed; this store never sees
 * them in the clear.
 */
import type { Db } from './db.ts'

export interface SigningKeyRow {
  kid: string
  alg: string
  public_jwk: string
  sealed_private: Buffer
  created_at: number
  activates_at: number
  retired_at: number | null
  publish_until: number | null
}

export class SigningKeyStore {
  readonly #all
  readonly #insert
  readonly #retireCurrent

  constructor(readonly db: Db) {
    this.#all = db.prepare('SELECT * FROM signing_keys ORDER BY activates_at, created_at')
    this.#insert = db.prepare(
      `INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private, created_at, activates_at)
       VALUES (@kid, @alg, @public_jwk, @sealed_private, @created_at, @activates_at)`,
    )
    this.#retireCurrent = db.prepare(
      'UPDATE signing_keys SET retired_at = ?, publish_until = ? WHERE retired_at IS NULL',
    )
  }

  all(): SigningKeyRow[] {
    return this.#all.all() as SigningKeyRow[]
  }

  /** Adds a key; when `retireAt` is given, every unretired key retires then, in the same transaction. */
  add(
    row: Omit<SigningKeyRow, 'retired_at' | 'publish_until'>,
    retire?: { at: number; publishUntil: number },
  ): void {
    this.db.transaction(() => {
      if (retire) this.#retireCurrent.run(retire.at, retire.publishUntil)
      this.#insert.run(row)
    })()
  }
}
