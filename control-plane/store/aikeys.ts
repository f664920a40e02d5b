/**
 * @module Rows of BYOK AI keys: metadata only. The provider key itself is a secret (realm `byok`,
 * owner `system`) that `secret_id` names.
 */
import type { Provider } from '../../shared/contract/aikeys.ts'
import type { Db } from './db.ts'

export interface AiKeyRow {
  id: string
  customer_id: string
  project_id: string
  provider: Provider
  name: string
  display_suffix: string
  user_scope: number
  owner_id: string
  secret_id: string
  created_at: number
  updated_at: number
  revoked_at: number | null
}

export class AiKeyStore {
  constructor(readonly db: Db) {}

  async insert(row: AiKeyRow): Promise<void> {
    await this.db.run(
      `INSERT INTO ai_keys (id, customer_id, project_id, provider, name, display_suffix, user_scope, owner_id,
         secret_id, created_at, updated_at, revoked_at)
       VALUES (@id, @customer_id, @project_id, @provider, @name, @display_suffix, @user_scope, @owner_id,
         @secret_id, @created_at, @updated_at, @revoked_at)`,
      row,
    )
  }

  byId(id: string): Promise<AiKeyRow | undefined> {
    return this.db.get<AiKeyRow>('SELECT * FROM ai_keys WHERE id = ?', [id])
  }

  /** The project's shared keys plus the identity's own user-scoped keys, oldest first. */
  visibleTo(projectId: string, identityId: string | null): Promise<AiKeyRow[]> {
    return this.db.all<AiKeyRow>(
      `SELECT * FROM ai_keys WHERE project_id = @project_id
         AND (user_scope = 0 OR owner_id = @identity_id)
       ORDER BY created_at, id`,
      { project_id: projectId, identity_id: identityId },
    )
  }

  async markRevoked(id: string, at: number): Promise<void> {
    await this.db.run(
      'UPDATE ai_keys SET revoked_at = ?, updated_at = ? WHERE id = ? AND revoked_at IS NULL',
      [at, at, id],
    )
  }

  // Newest wins: created_at, then the ULID id, which is monotonic within this process.
  activeUserKey(projectId: string, provider: Provider, identityId: string): Promise<AiKeyRow | undefined> {
    return this.db.get<AiKeyRow>(
      `SELECT * FROM ai_keys WHERE project_id = ? AND provider = ? AND user_scope = 1 AND owner_id = ?
         AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`,
      [projectId, provider, identityId],
    )
  }

  activeProjectKey(projectId: string, provider: Provider): Promise<AiKeyRow | undefined> {
    return this.db.get<AiKeyRow>(
      `SELECT * FROM ai_keys WHERE project_id = ? AND provider = ? AND user_scope = 0
         AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`,
      [projectId, provider],
    )
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(fn)
  }
}
