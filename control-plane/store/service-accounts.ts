/**
 * @module Rows of service accounts: which service identities an admin created as such, and
 * removing one with everything that names its identity.
 */
import type { Db } from './db.ts'
import type { IdentityRow } from './tenancy.ts'

export interface ServiceAccountRow {
  identity_id: string
  created_by: string
  created_at: number
}

export class ServiceAccountStore {
  constructor(readonly db: Db) {}

  async insert(row: ServiceAccountRow): Promise<void> {
    await this.db.run(
      'INSERT INTO service_accounts (identity_id, created_by, created_at) VALUES (@identity_id, @created_by, @created_at)',
      row,
    )
  }

  async exists(identityId: string): Promise<boolean> {
    return (
      (await this.db.get('SELECT 1 AS one FROM service_accounts WHERE identity_id = ?', [identityId])) !==
      undefined
    )
  }

  /** A page of service accounts' identities, in id order, after `afterId`. */
  page(afterId: string, limit: number): Promise<IdentityRow[]> {
    return this.db.all<IdentityRow>(
      `SELECT i.* FROM service_accounts s JOIN identities i ON i.id = s.identity_id
       WHERE s.identity_id > ? ORDER BY s.identity_id LIMIT ?`,
      [afterId, limit],
    )
  }

  /**
   * Deletes the service account, its identity, and the rows naming it (sessions, memberships, and
   * its keys, which must be revoked on the log already: a key issued meanwhile, not revoked, is
   * not deleted, so the identity's row cannot be and the whole delete fails, changing nothing).
   * False when there was none.
   */
  async delete(identityId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { changes } = await tx.run('DELETE FROM service_accounts WHERE identity_id = ?', [identityId])
      if (changes === 0) return false
      await tx.run('DELETE FROM memberships WHERE identity_id = ?', [identityId])
      await tx.run('DELETE FROM sessions WHERE identity_id = ?', [identityId])
      await tx.run('DELETE FROM api_keys WHERE identity_id = ? AND revoked_at IS NOT NULL', [identityId])
      await tx.run('DELETE FROM identities WHERE id = ?', [identityId])
      return true
    })
  }
}
