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
  readonly #insertSecret
  readonly #updateSecret
  readonly #byId
  readonly #byKey
  readonly #deleteSecret
  readonly #list
  readonly #insertVersion
  readonly #versionsOf
  readonly #versionsOfMany
  readonly #version
  readonly #markPending
  readonly #expire
  readonly #dueOf
  readonly #allDue
  readonly #underOtherKeks
  readonly #rewrap
  readonly #countUnder
  readonly #insertRead

  constructor(readonly db: Db) {
    this.#insertSecret = db.prepare(
      `INSERT INTO secrets (id, user_id, realm, name, description, tags, version, created_at, updated_at)
       VALUES (@id, @user_id, @realm, @name, @description, @tags, @version, @created_at, @updated_at)`,
    )
    this.#updateSecret = db.prepare(
      'UPDATE secrets SET description = @description, tags = @tags, version = @version, updated_at = @updated_at WHERE id = @id',
    )
    this.#byId = db.prepare('SELECT * FROM secrets WHERE id = ?')
    this.#byKey = db.prepare('SELECT * FROM secrets WHERE user_id = ? AND realm = ? AND name = ?')
    this.#deleteSecret = db.prepare('DELETE FROM secrets WHERE id = ?')
    this.#list = db.prepare(
      `SELECT s.* FROM secrets s
       WHERE s.user_id = @user_id
         AND (@realm IS NULL OR s.realm = @realm)
         AND s.id > @after
         AND NOT EXISTS (
           SELECT 1 FROM json_each(@tags) f
           WHERE NOT EXISTS (SELECT 1 FROM json_each(s.tags) t WHERE t.key = f.key AND t.value = f.value))
         AND (@status IS NULL OR @status = (
           CASE WHEN EXISTS (
             SELECT 1 FROM secret_versions v
             WHERE v.secret_id = s.id AND v.status = 'rotated_pending' AND v.expires_at > @now)
           THEN 'rotated_pending' ELSE 'active' END))
       ORDER BY s.id LIMIT @limit`,
    )
    this.#insertVersion = db.prepare(
      `INSERT INTO secret_versions (secret_id, version, status, kek_id, wrapped_data_key, ciphertext, created_at, expires_at)
       VALUES (@secret_id, @version, @status, @kek_id, @wrapped_data_key, @ciphertext, @created_at, @expires_at)`,
    )
    this.#versionsOf = db.prepare(
      `SELECT ${VERSION_META} FROM secret_versions WHERE secret_id = ? ORDER BY version`,
    )
    this.#versionsOfMany = db.prepare(
      `SELECT ${VERSION_META} FROM secret_versions WHERE secret_id IN (SELECT value FROM json_each(?))
       ORDER BY secret_id, version`,
    )
    this.#version = db.prepare('SELECT * FROM secret_versions WHERE secret_id = ? AND version = ?')
    this.#markPending = db.prepare(
      "UPDATE secret_versions SET status = 'rotated_pending', expires_at = ? WHERE secret_id = ? AND version = ? AND status = 'active'",
    )
    this.#expire = db.prepare(
      `UPDATE secret_versions SET status = 'expired', kek_id = NULL, wrapped_data_key = NULL, ciphertext = NULL,
         expires_at = COALESCE(expires_at, @now)
       WHERE secret_id = @secret_id AND version = @version`,
    )
    this.#dueOf = db.prepare(
      "SELECT version FROM secret_versions WHERE secret_id = ? AND status = 'rotated_pending' AND expires_at <= ?",
    )
    this.#allDue = db.prepare(
      "SELECT secret_id, version FROM secret_versions WHERE status = 'rotated_pending' AND expires_at <= ?",
    )
    this.#underOtherKeks = db.prepare(
      `SELECT v.*, s.realm, s.user_id FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
       WHERE v.kek_id IS NOT NULL AND v.kek_id != @active AND (v.secret_id, v.version) > (@after_id, @after_version)
       ORDER BY v.secret_id, v.version LIMIT @limit`,
    )
    this.#rewrap = db.prepare(
      `UPDATE secret_versions SET kek_id = @to_kek, wrapped_data_key = @wrapped_data_key
       WHERE secret_id = @secret_id AND version = @version AND kek_id = @from_kek`,
    )
    this.#countUnder = db.prepare('SELECT COUNT(*) FROM secret_versions WHERE kek_id = ?').pluck()
    this.#insertRead = db.prepare(
      `INSERT INTO secret_reads (at, identity_id, credential_id, secret_id, realm, name, user_id, version, purpose, outcome, reason)
       VALUES (@at, @identity_id, @credential_id, @secret_id, @realm, @name, @user_id, @version, @purpose, @outcome, @reason)`,
    )
  }

  insertSecret(row: SecretRow): void {
    this.#insertSecret.run(row)
  }

  updateSecret(row: Pick<SecretRow, 'id' | 'description' | 'tags' | 'version' | 'updated_at'>): void {
    this.#updateSecret.run(row)
  }

  byId(id: string): SecretRow | undefined {
    return this.#byId.get(id) as SecretRow | undefined
  }

  byKey(userId: string, realm: string, name: string): SecretRow | undefined {
    return this.#byKey.get(userId, realm, name) as SecretRow | undefined
  }

  deleteSecret(id: string): boolean {
    return this.#deleteSecret.run(id).changes === 1
  }

  list(filter: SecretListFilter): SecretRow[] {
    return this.#list.all(filter) as SecretRow[]
  }

  insertVersion(row: SecretVersionRow): void {
    this.#insertVersion.run(row)
  }

  /** The metadata of a secret's versions, oldest first. */
  versionsOf(secretId: string): SecretVersionMeta[] {
    return this.#versionsOf.all(secretId) as SecretVersionMeta[]
  }

  /** The metadata of several secrets' versions in one query, by secret id, oldest first. */
  versionsOfMany(secretIds: readonly string[]): Map<string, SecretVersionMeta[]> {
    const bySecret = new Map<string, SecretVersionMeta[]>()
    for (const v of this.#versionsOfMany.all(JSON.stringify(secretIds)) as SecretVersionMeta[]) {
      const versions = bySecret.get(v.secret_id)
      if (versions) versions.push(v)
      else bySecret.set(v.secret_id, [v])
    }
    return bySecret
  }

  version(secretId: string, version: number): SecretVersionRow | undefined {
    return this.#version.get(secretId, version) as SecretVersionRow | undefined
  }

  markRotatedPending(secretId: string, version: number, expiresAt: number): void {
    this.#markPending.run(expiresAt, secretId, version)
  }

  /** Marks a version expired and deletes its key material and ciphertext. */
  expireVersion(secretId: string, version: number, now: number): void {
    this.#expire.run({ secret_id: secretId, version, now })
  }

  /** Versions of one secret whose grace period is over but still hold key material. */
  dueVersionsOf(secretId: string, now: number): number[] {
    return (this.#dueOf.all(secretId, now) as Array<{ version: number }>).map((r) => r.version)
  }

  allDueVersions(now: number): Array<{ secret_id: string; version: number }> {
    return this.#allDue.all(now) as Array<{ secret_id: string; version: number }>
  }

  /** A batch of versions wrapped by a KEK other than `activeKekId`, after a position, in key order. */
  versionsUnderOtherKeks(
    activeKekId: string,
    after: { secretId: string; version: number },
    limit: number,
  ): BoundVersionRow[] {
    return this.#underOtherKeks.all({
      active: activeKekId,
      after_id: after.secretId,
      after_version: after.version,
      limit,
    }) as BoundVersionRow[]
  }

  /** Moves one data key from one KEK to another; false when the row changed meanwhile. */
  rewrap(row: {
    secret_id: string
    version: number
    from_kek: string
    to_kek: string
    wrapped_data_key: Buffer
  }): boolean {
    return this.#rewrap.run(row).changes === 1
  }

  countUnderKek(kekId: string): number {
    return this.#countUnder.get(kekId) as number
  }

  insertRead(row: SecretReadRow): void {
    this.#insertRead.run(row)
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }
}
