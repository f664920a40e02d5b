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
  constructor(readonly db: Db) {}

  all(): Promise<SigningKeyRow[]> {
    return this.db.all<SigningKeyRow>('SELECT * FROM signing_keys ORDER BY activates_at, created_at')
  }

  /**
   * Adds a key; with `supersede`, in the same transaction, every key still pending activation
   * retires unpublished and the key signing now retires at `supersede.retireAt`.
   */
  async add(
    row: Omit<SigningKeyRow, 'retired_at' | 'publish_until' | 'first_signed_at'>,
    supersede?: Supersede,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      if (supersede) {
        // A key still waiting for its activation has signed nothing: it retires and leaves the JWKS now.
        await tx.run(
          `UPDATE signing_keys SET retired_at = @now, publish_until = @now
           WHERE activates_at > @now AND first_signed_at IS NULL AND (retired_at IS NULL OR retired_at > @now)`,
          { now: supersede.now },
        )
        // Every other key not retired yet: the one signing now, or one whose first signature
        // (by a replica whose clock saw it active) came first. It may have signed: it stays published.
        await tx.run(
          `UPDATE signing_keys SET retired_at = @retireAt, publish_until = @publishUntil
           WHERE retired_at IS NULL OR retired_at > @now`,
          supersede,
        )
      }
      await tx.run(
        `INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private, created_at, activates_at)
         VALUES (@kid, @alg, @public_jwk, @sealed_private, @created_at, @activates_at)`,
        row,
      )
    })
  }

  /**
   * Records the key's first signature at `at` (a later call keeps the first), unless the key is
   * retired by then. False: it is retired in the database (a rotation this process has not read
   * yet), so it must not sign. A rotation holding the row waits this out, then this re-reads it.
   */
  async markSigned(kid: string, at: number): Promise<boolean> {
    const { changes } = await this.db.run(
      `UPDATE signing_keys SET first_signed_at = COALESCE(first_signed_at, @at)
       WHERE kid = @kid AND (retired_at IS NULL OR retired_at > @at)`,
      { kid, at },
    )
    return changes > 0
  }

  /** Runs `fn` in a transaction holding the signing-key lock, across every replica. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(fn, { lock: 'agentrouter.signing-keys' })
  }
}
