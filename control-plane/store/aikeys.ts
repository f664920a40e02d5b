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
  readonly #insert
  readonly #byId
  readonly #visibleTo
  readonly #markRevoked
  readonly #activeUserKey
  readonly #activeProjectKey

  constructor(readonly db: Db) {
    this.#insert = db.prepare(
      `INSERT INTO ai_keys (id, customer_id, project_id, provider, name, display_suffix, user_scope, owner_id,
         secret_id, created_at, updated_at, revoked_at)
       VALUES (@id, @customer_id, @project_id, @provider, @name, @display_suffix, @user_scope, @owner_id,
         @secret_id, @created_at, @updated_at, @revoked_at)`,
    )
    this.#byId = db.prepare('SELECT * FROM ai_keys WHERE id = ?')
    this.#visibleTo = db.prepare(
      `SELECT * FROM ai_keys WHERE project_id = @project_id
         AND (user_scope = 0 OR owner_id = @identity_id)
       ORDER BY created_at, id`,
    )
    this.#markRevoked = db.prepare(
      'UPDATE ai_keys SET revoked_at = ?, updated_at = ? WHERE id = ? AND revoked_at IS NULL',
    )
    // Newest wins: created_at, then the ULID id, which is monotonic within this process.
    this.#activeUserKey = db.prepare(
      `SELECT * FROM ai_keys WHERE project_id = ? AND provider = ? AND user_scope = 1 AND owner_id = ?
         AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`,
    )
    this.#activeProjectKey = db.prepare(
      `SELECT * FROM ai_keys WHERE project_id = ? AND provider = ? AND user_scope = 0
         AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`,
    )
  }

  insert(row: AiKeyRow): void {
    this.#insert.run(row)
  }

  byId(id: string): AiKeyRow | undefined {
    return this.#byId.get(id) as AiKeyRow | undefined
  }

  /** The project's shared keys plus the identity's own user-scoped keys, oldest first. */
  visibleTo(projectId: string, identityId: string | null): AiKeyRow[] {
    return this.#visibleTo.all({ project_id: projectId, identity_id: identityId }) as AiKeyRow[]
  }

  markRevoked(id: string, at: number): void {
    this.#markRevoked.run(at, at, id)
  }

  activeUserKey(projectId: string, provider: Provider, identityId: string): AiKeyRow | undefined {
    return this.#activeUserKey.get(projectId, provider, identityId) as AiKeyRow | undefined
  }

  activeProjectKey(projectId: string, provider: Provider): AiKeyRow | undefined {
    return this.#activeProjectKey.get(projectId, provider) as AiKeyRow | undefined
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }
}
