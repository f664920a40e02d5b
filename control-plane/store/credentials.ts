/**
 * @module Rows of credentials: API keys and sessions. Never holds a usable secret: an API key's
 * secret is kept only sealed, and only for the idempotency window.
 */
import type { KeyType } from '../../shared/tokens/claims.ts'
import type { Db } from './db.ts'

export interface ApiKeyRow {
  id: string
  identity_id: string
  name: string
  type: KeyType
  prefix: string
  created_at: number
  expires_at: number
  last_used_at: number | null
  revoked_at: number | null
  idempotency_key: string | null
  request_hash: string | null
  sealed_secret: Buffer | null
}

export interface SessionRow {
  id: string
  identity_id: string
  created_at: number
  expires_at: number
  revoked_at: number | null
}

export class CredentialStore {
  readonly #insertKey
  readonly #key
  readonly #keyByIdempotency
  readonly #keysOf
  readonly #revokeKey
  readonly #touchKey
  readonly #forgetSealed
  readonly #insertSession
  readonly #session
  readonly #revokeSession

  constructor(readonly db: Db) {
    this.#insertKey = db.prepare(
      `INSERT INTO api_keys (id, identity_id, name, type, prefix, created_at, expires_at, last_used_at, revoked_at,
         idempotency_key, request_hash, sealed_secret)
       VALUES (@id, @identity_id, @name, @type, @prefix, @created_at, @expires_at, @last_used_at, @revoked_at,
         @idempotency_key, @request_hash, @sealed_secret)`,
    )
    this.#key = db.prepare('SELECT * FROM api_keys WHERE id = ?')
    this.#keyByIdempotency = db.prepare(
      'SELECT * FROM api_keys WHERE identity_id = ? AND idempotency_key = ?',
    )
    this.#keysOf = db.prepare('SELECT * FROM api_keys WHERE identity_id = ? AND id > ? ORDER BY id LIMIT ?')
    this.#revokeKey = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
    this.#touchKey = db.prepare(
      'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
    )
    this.#forgetSealed = db.prepare(
      'UPDATE api_keys SET sealed_secret = NULL WHERE sealed_secret IS NOT NULL AND created_at < ?',
    )
    this.#insertSession = db.prepare(
      'INSERT INTO sessions (id, identity_id, created_at, expires_at, revoked_at) VALUES (@id, @identity_id, @created_at, @expires_at, NULL)',
    )
    this.#session = db.prepare('SELECT * FROM sessions WHERE id = ?')
    this.#revokeSession = db.prepare('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
  }

  insertKey(row: ApiKeyRow): void {
    this.#insertKey.run(row)
  }

  key(id: string): ApiKeyRow | undefined {
    return this.#key.get(id) as ApiKeyRow | undefined
  }

  keyByIdempotency(identityId: string, idempotencyKey: string): ApiKeyRow | undefined {
    return this.#keyByIdempotency.get(identityId, idempotencyKey) as ApiKeyRow | undefined
  }

  /** A page of an identity's keys, in id order, after `afterId`. */
  keysOf(identityId: string, afterId: string, limit: number): ApiKeyRow[] {
    return this.#keysOf.all(identityId, afterId, limit) as ApiKeyRow[]
  }

  markKeyRevoked(id: string, at: number): void {
    this.#revokeKey.run(at, id)
  }

  touchKeys(lastUsed: Map<string, number>): void {
    this.db.transaction(() => {
      for (const [id, at] of lastUsed) this.#touchKey.run(at, id, at)
    })()
  }

  /** Drops sealed secrets of keys issued before `before`: the idempotency window is over. */
  forgetSealedSecrets(before: number): number {
    return this.#forgetSealed.run(before).changes
  }

  insertSession(row: Omit<SessionRow, 'revoked_at'>): void {
    this.#insertSession.run(row)
  }

  session(id: string): SessionRow | undefined {
    return this.#session.get(id) as SessionRow | undefined
  }

  markSessionRevoked(id: string, at: number): void {
    this.#revokeSession.run(at, id)
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }
}
