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
  /** When it first signed a token; null: it never signed. */
  first_signed_at: number | null
}

/** What a rotation does to the keys already there, at `now` (microseconds). */
export interface Supersede {
  now: number
  /** When the key signing now stops signing: the new key's activation. */
  retireAt: number
  /** How long the key signing now stays published: `retireAt` plus the longest token lifetime. */
  publishUntil: number
}

export class SigningKeyStore {
  readonly #all
  readonly #insert
  readonly #dropPending
  readonly #retireActive
  readonly #markSigned

  constructor(readonly db: Db) {
    this.#all = db.prepare('SELECT * FROM signing_keys ORDER BY activates_at, created_at')
    this.#insert = db.prepare(
      `INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private, created_at, activates_at)
       VALUES (@kid, @alg, @public_jwk, @sealed_private, @created_at, @activates_at)`,
    )
    // A key still waiting for its activation has signed nothing: it retires and leaves the JWKS now.
    this.#dropPending = db.prepare(
      `UPDATE signing_keys SET retired_at = @now, publish_until = @now
       WHERE activates_at > @now AND first_signed_at IS NULL AND (retired_at IS NULL OR retired_at > @now)`,
    )
    this.#retireActive = db.prepare(
      `UPDATE signing_keys SET retired_at = @retireAt, publish_until = @publishUntil
       WHERE activates_at <= @now AND (retired_at IS NULL OR retired_at > @now)`,
    )
    this.#markSigned = db.prepare(
      'UPDATE signing_keys SET first_signed_at = ? WHERE kid = ? AND first_signed_at IS NULL',
    )
  }

  all(): SigningKeyRow[] {
    return this.#all.all() as SigningKeyRow[]
  }

  /**
   * Adds a key; with `supersede`, in the same transaction, every key still pending activation
   * retires unpublished and the key signing now retires at `supersede.retireAt`.
   */
  add(
    row: Omit<SigningKeyRow, 'retired_at' | 'publish_until' | 'first_signed_at'>,
    supersede?: Supersede,
  ): void {
    this.db.transaction(() => {
      if (supersede) {
        this.#dropPending.run({ now: supersede.now })
        this.#retireActive.run(supersede)
      }
      this.#insert.run(row)
    })()
  }

  /** Records the key's first signature (later calls change nothing). */
  markSigned(kid: string, at: number): void {
    this.#markSigned.run(at, kid)
  }
}
