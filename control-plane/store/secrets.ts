/**
 * @module Rows of secrets and their versions, and the audit of plaintext reads. Values are held
 * only as ciphertext under per-version data keys, themselves wrapped by a KEK.
 */
import type { Db } from './db.ts'

export type VersionStatus = 'active' | 'rotated_pending' | 'expired'

export interface SecretRow {
  id: string
  user_id: string
  realm: string
  name: string
  description: string
  /** A JSON object of string values. */
  tags: string
  version: number
  created_at: number
  updated_at: number
}

export interface SecretVersionRow {
  secret_id: string
  version: number
  status: VersionStatus
  kek_id: string | null
  wrapped_data_key: Buffer | null
  ciphertext: Buffer | null
  created_at: number
  expires_at: number | null
}

/** What a version's metadata shows: no key material, no ciphertext. */
export type SecretVersionMeta = Pick<
  SecretVersionRow,
  'secret_id' | 'version' | 'status' | 'created_at' | 'expires_at'
>
const VERSION_META = 'secret_id, version, status, created_at, expires_at'

/** A version with what its AAD binds it to: the secret's realm and owner. */
export interface BoundVersionRow extends SecretVersionRow {
  realm: string
  user_id: string
}

export interface SecretReadRow {
  at: number
  identity_id: string
  credential_id: string
  secret_id: string
  realm: string
  name: string
  user_id: string
  version: number
  purpose: 'value' | 'byok_resolve'
  outcome: 'served' | 'refused'
  reason: string
}

export interface SecretListFilter {
  user_id: string
  realm: string | null
  status: VersionStatus | null
  /** A JSON object: every key must be present with that value. */
  tags: string
  after: string
  now: number
  limit: number
}

export class SecretStore {
  readonly #list: string
  readonly #versionsOfMany: string

  constructor(readonly db: Db) {
    const postgres = db.engine === 'postgres'
    // Every key of the filter present with that value: JSON containment on PostgreSQL, a walk of
    // both objects on SQLite.
    const tagsMatch = postgres
      ? 'CAST(s.tags AS jsonb) @> CAST(@tags AS jsonb)'
      : `NOT EXISTS (
           SELECT 1 FROM json_each(@tags) f
           WHERE NOT EXISTS (SELECT 1 FROM json_each(s.tags) t WHERE t.key = f.key AND t.value = f.value))`
    this.#list = `SELECT s.* FROM secrets s
       WHERE s.user_id = @user_id
         AND (CAST(@realm AS TEXT) IS NULL OR s.realm = @realm)
         AND s.id > @after
         AND ${tagsMatch}
         AND (CAST(@status AS TEXT) IS NULL OR @status = (
           CASE WHEN EXISTS (
             SELECT 1 FROM secret_versions v
             WHERE v.secret_id = s.id AND v.status = 'rotated_pending' AND v.expires_at > @now)
           THEN 'rotated_pending' ELSE 'active' END))
       ORDER BY s.id LIMIT @limit`
    const ids = postgres
      ? 'SELECT jsonb_array_elements_text(CAST(? AS jsonb))'
      : 'SELECT value FROM json_each(?)'
    this.#versionsOfMany = `SELECT ${VERSION_META} FROM secret_versions WHERE secret_id IN (${ids})
       ORDER BY secret_id, version`
  }

  async insertSecret(row: SecretRow): Promise<void> {
    await this.db.run(
      `INSERT INTO secrets (id, user_id, realm, name, description, tags, version, created_at, updated_at)
       VALUES (@id, @user_id, @realm, @name, @description, @tags, @version, @created_at, @updated_at)`,
      row,
    )
  }

  async updateSecret(
    row: Pick<SecretRow, 'id' | 'description' | 'tags' | 'version' | 'updated_at'>,
  ): Promise<void> {
    await this.db.run(
      'UPDATE secrets SET description = @description, tags = @tags, version = @version, updated_at = @updated_at WHERE id = @id',
      row,
    )
  }

  byId(id: string): Promise<SecretRow | undefined> {
    return this.db.get<SecretRow>('SELECT * FROM secrets WHERE id = ?', [id])
  }

  byKey(userId: string, realm: string, name: string): Promise<SecretRow | undefined> {
    return this.db.get<SecretRow>('SELECT * FROM secrets WHERE user_id = ? AND realm = ? AND name = ?', [
      userId,
      realm,
      name,
    ])
  }

  async deleteSecret(id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM secrets WHERE id = ?', [id])).changes === 1
  }

  list(filter: SecretListFilter): Promise<SecretRow[]> {
    return this.db.all<SecretRow>(this.#list, filter)
  }

  async insertVersion(row: SecretVersionRow): Promise<void> {
    await this.db.run(
      `INSERT INTO secret_versions (secret_id, version, status, kek_id, wrapped_data_key, ciphertext, created_at, expires_at)
       VALUES (@secret_id, @version, @status, @kek_id, @wrapped_data_key, @ciphertext, @created_at, @expires_at)`,
      row,
    )
  }

  /** The metadata of a secret's versions, oldest first. */
  versionsOf(secretId: string): Promise<SecretVersionMeta[]> {
    return this.db.all<SecretVersionMeta>(
      `SELECT ${VERSION_META} FROM secret_versions WHERE secret_id = ? ORDER BY version`,
      [secretId],
    )
  }

  /** The metadata of several secrets' versions in one query, by secret id, oldest first. */
  async versionsOfMany(secretIds: readonly string[]): Promise<Map<string, SecretVersionMeta[]>> {
    const bySecret = new Map<string, SecretVersionMeta[]>()
    for (const v of await this.db.all<SecretVersionMeta>(this.#versionsOfMany, [JSON.stringify(secretIds)])) {
      const versions = bySecret.get(v.secret_id)
      if (versions) versions.push(v)
      else bySecret.set(v.secret_id, [v])
    }
    return bySecret
  }

  version(secretId: string, version: number): Promise<SecretVersionRow | undefined> {
    return this.db.get<SecretVersionRow>(
      'SELECT * FROM secret_versions WHERE secret_id = ? AND version = ?',
      [secretId, version],
    )
  }

  async markRotatedPending(secretId: string, version: number, expiresAt: number): Promise<void> {
    await this.db.run(
      "UPDATE secret_versions SET status = 'rotated_pending', expires_at = ? WHERE secret_id = ? AND version = ? AND status = 'active'",
      [expiresAt, secretId, version],
    )
  }

  /** Marks a version expired and deletes its key material and ciphertext. */
  async expireVersion(secretId: string, version: number, now: number): Promise<void> {
    await this.db.run(
      `UPDATE secret_versions SET status = 'expired', kek_id = NULL, wrapped_data_key = NULL, ciphertext = NULL,
         expires_at = COALESCE(expires_at, @now)
       WHERE secret_id = @secret_id AND version = @version`,
      { secret_id: secretId, version, now },
    )
  }

  /** Versions of one secret whose grace period is over but still hold key material. */
  async dueVersionsOf(secretId: string, now: number): Promise<number[]> {
    const rows = await this.db.all<{ version: number }>(
      "SELECT version FROM secret_versions WHERE secret_id = ? AND status = 'rotated_pending' AND expires_at <= ?",
      [secretId, now],
    )
    return rows.map((r) => r.version)
  }

  allDueVersions(now: number): Promise<Array<{ secret_id: string; version: number }>> {
    return this.db.all<{ secret_id: string; version: number }>(
      "SELECT secret_id, version FROM secret_versions WHERE status = 'rotated_pending' AND expires_at <= ?",
      [now],
    )
  }

  /** A batch of versions wrapped by a KEK other than `activeKekId`, after a position, in key order. */
  versionsUnderOtherKeks(
    activeKekId: string,
    after: { secretId: string; version: number },
    limit: number,
  ): Promise<BoundVersionRow[]> {
    return this.db.all<BoundVersionRow>(
      `SELECT v.*, s.realm, s.user_id FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
       WHERE v.kek_id IS NOT NULL AND v.kek_id != @active AND (v.secret_id, v.version) > (@after_id, @after_version)
       ORDER BY v.secret_id, v.version LIMIT @limit`,
      { active: activeKekId, after_id: after.secretId, after_version: after.version, limit },
    )
  }

  /** Moves one data key from one KEK to another; false when the row changed meanwhile. */
  async rewrap(row: {
    secret_id: string
    version: number
    from_kek: string
    to_kek: string
    wrapped_data_key: Buffer
  }): Promise<boolean> {
    const { changes } = await this.db.run(
      `UPDATE secret_versions SET kek_id = @to_kek, wrapped_data_key = @wrapped_data_key
       WHERE secret_id = @secret_id AND version = @version AND kek_id = @from_kek`,
      row,
    )
    return changes === 1
  }

  async countUnderKek(kekId: string): Promise<number> {
    return (
      await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM secret_versions WHERE kek_id = ?', [kekId])
    )?.n as number
  }

  async insertRead(row: SecretReadRow): Promise<void> {
    await this.db.run(
      `INSERT INTO secret_reads (at, identity_id, credential_id, secret_id, realm, name, user_id, version, purpose, outcome, reason)
       VALUES (@at, @identity_id, @credential_id, @secret_id, @realm, @name, @user_id, @version, @purpose, @outcome, @reason)`,
      row,
    )
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(fn)
  }
}
