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
  /** The project the key is bound to; both null when unbound. */
  customer_id: string | null
  project_id: string | null
}

export interface SessionRow {
  id: string
  identity_id: string
  created_at: number
  expires_at: number
  revoked_at: number | null
}

export interface KeyFilter {
  identityId?: string | undefined
  type?: KeyType | undefined
  /** Active: not revoked (an expired key still counts as active here, as in every listing). */
  state?: 'active' | 'revoked' | undefined
  /** Keys of identities that are members of this project. */
  projectId?: string | undefined
}

export class CredentialStore {
  constructor(readonly db: Db) {}

  async insertKey(row: ApiKeyRow): Promise<void> {
    await this.db.run(
      `INSERT INTO api_keys (id, identity_id, name, type, prefix, created_at, expires_at, last_used_at, revoked_at,
         idempotency_key, request_hash, sealed_secret, customer_id, project_id)
       VALUES (@id, @identity_id, @name, @type, @prefix, @created_at, @expires_at, @last_used_at, @revoked_at,
         @idempotency_key, @request_hash, @sealed_secret, @customer_id, @project_id)`,
      row,
    )
  }

  key(id: string): Promise<ApiKeyRow | undefined> {
    return this.db.get<ApiKeyRow>('SELECT * FROM api_keys WHERE id = ?', [id])
  }

  keyByIdempotency(identityId: string, idempotencyKey: string): Promise<ApiKeyRow | undefined> {
    return this.db.get<ApiKeyRow>('SELECT * FROM api_keys WHERE identity_id = ? AND idempotency_key = ?', [
      identityId,
      idempotencyKey,
    ])
  }

  /** A page of an identity's keys, in id order, after `afterId`. */
  keysOf(identityId: string, afterId: string, limit: number): Promise<ApiKeyRow[]> {
    return this.db.all<ApiKeyRow>(
      'SELECT * FROM api_keys WHERE identity_id = ? AND id > ? ORDER BY id LIMIT ?',
      [identityId, afterId, limit],
    )
  }

  /** Every key of an identity that is not revoked yet. */
  activeKeysOf(identityId: string): Promise<ApiKeyRow[]> {
    return this.db.all<ApiKeyRow>(
      'SELECT * FROM api_keys WHERE identity_id = ? AND revoked_at IS NULL ORDER BY id',
      [identityId],
    )
  }

  /** A page of every key matching `filter`, in id order, after `afterId`. */
  keysPage(filter: KeyFilter, afterId: string, limit: number): Promise<ApiKeyRow[]> {
    const where = ['k.id > @after']
    const params: Record<string, unknown> = { after: afterId, limit }
    if (filter.identityId !== undefined) {
      where.push('k.identity_id = @identity_id')
      params.identity_id = filter.identityId
    }
    if (filter.type !== undefined) {
      where.push('k.type = @type')
      params.type = filter.type
    }
    if (filter.state !== undefined)
      where.push(filter.state === 'active' ? 'k.revoked_at IS NULL' : 'k.revoked_at IS NOT NULL')
    if (filter.projectId !== undefined) {
      where.push(
        '(k.project_id = @project_id OR (k.project_id IS NULL AND k.identity_id IN (SELECT identity_id FROM memberships WHERE project_id = @project_id)))',
      )
      params.project_id = filter.projectId
    }
    return this.db.all<ApiKeyRow>(
      `SELECT k.* FROM api_keys k WHERE ${where.join(' AND ')} ORDER BY k.id LIMIT @limit`,
      params,
    )
  }

  async markKeyRevoked(id: string, at: number): Promise<void> {
    await this.db.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at, id])
  }

  async touchKeys(lastUsed: Map<string, number>): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const [id, at] of lastUsed)
        await tx.run(
          'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
          [at, id, at],
        )
    })
  }

  /** Drops sealed secrets of keys issued before `before`: the idempotency window is over. */
  async forgetSealedSecrets(before: number): Promise<number> {
    const { changes } = await this.db.run(
      'UPDATE api_keys SET sealed_secret = NULL WHERE sealed_secret IS NOT NULL AND created_at < ?',
      [before],
    )
    return changes
  }

  async insertSession(row: Omit<SessionRow, 'revoked_at'>): Promise<void> {
    await this.db.run(
      'INSERT INTO sessions (id, identity_id, created_at, expires_at, revoked_at) VALUES (@id, @identity_id, @created_at, @expires_at, NULL)',
      row,
    )
  }

  session(id: string): Promise<SessionRow | undefined> {
    return this.db.get<SessionRow>('SELECT * FROM sessions WHERE id = ?', [id])
  }

  async markSessionRevoked(id: string, at: number): Promise<void> {
    await this.db.run('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at, id])
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(fn)
  }
}
