/**
 * @module The secret service: create (upsert by owner, realm and name), get, list, delete,
 * rotate, validate and value. Values are kept only under envelope encryption; the plaintext
 * exists in memory while it is sealed or opened, and leaves only through `value` (audited; never
 * for a system realm) and `plaintextFor` (BYOK resolution, audited). The system realms are
 * written over the API only with `secrets/write/internal` (see `owner.ts`); `put` and `shred` are
 * their owning services' path. A value change (upsert, rotate, delete, shred) is
 * announced as `changed` so dataplanes drop what they cached from it.
 */
import { EventEmitter } from 'node:events'
import type { SECRET_STATUSES, Secret } from '../../shared/contract/secrets.ts'
import { ApiError } from '../../shared/errors.ts'
import { isId, newId } from '../../shared/ids.ts'
import type { Logger } from '../../shared/logger.ts'
import { nowMicros } from '../../shared/time.ts'
import type { AuditTrail } from '../audit/trail.ts'
import type { PageTokens } from '../crypto/page-token.ts'
import type { SecretReadRow, SecretRow, SecretStore, SecretVersionRow } from '../store/secrets.ts'
import { sealVersion, Unreadable } from './envelope.ts'
import type { KeyEncryptionKeys } from './keks.ts'
import { listPage } from './listing.ts'
import {
  type Access,
  isSystemRealm,
  mayActFor,
  ownerFor,
  realmOrDefault,
  requireMayWriteRealm,
  type SecretCaller,
  systemValueRefused,
} from './owner.ts'
import { bindingOf, type PlaintextReader, type ValueGuard, VersionReader } from './version-reader.ts'
import { secretView } from './view.ts'

export type { PlaintextReader, ValueGuard } from './version-reader.ts'

/** How a request names a secret: `name` is the name or the `sec_` id. */
export interface SecretRef {
  name: string
  realm?: string | undefined
  userId?: string | undefined
}

export interface CreateSecretInput {
  name: string
  realm?: string | undefined
  description?: string | undefined
  value: string
  tags?: Record<string, string> | undefined
  user_id?: string | undefined
}

export interface ListSecretsInput {
  realm?: string | undefined
  status?: (typeof SECRET_STATUSES)[number] | undefined
  tags?: string | undefined
  user_id?: string | undefined
  page_size?: number | undefined
  page_token?: string | undefined
}

export interface ChangedSecret {
  realm: string
  name: string
  user_id: string
}

/** `changed`: a value changed (dataplanes drop what they cached); `read`: a plaintext read was audited. */
export class Secrets extends EventEmitter<{
  changed: [ChangedSecret]
  read: [outcome: SecretReadRow['outcome']]
}> {
  readonly #store: SecretStore
  readonly #keks: KeyEncryptionKeys
  readonly #pageTokens: PageTokens
  readonly #graceMicros: number
  readonly #reader: VersionReader
  readonly #audit: AuditTrail

  constructor(
    store: SecretStore,
    keks: KeyEncryptionKeys,
    pageTokens: PageTokens,
    options: { rotationGraceMs: number },
    log: Logger,
    audit: AuditTrail,
  ) {
    super()
    this.#audit = audit
    this.#store = store
    this.#keks = keks
    this.#pageTokens = pageTokens
    this.#graceMicros = options.rotationGraceMs * 1000
    this.#reader = new VersionReader(store, keks, log, audit, (outcome) => this.emit('read', outcome))
    // Guarded (so audited as refused) rather than checked up front: every attempt on a provider
    // key leaves a record.
    this.#reader.addGuard((secret, purpose) => {
      if (purpose === 'value' && isSystemRealm(secret.realm)) throw systemValueRefused(secret.realm)
    })
  }

  addValueGuard(guard: ValueGuard): void {
    this.#reader.addGuard(guard)
  }

  async create(caller: SecretCaller, input: CreateSecretInput): Promise<Secret> {
    const realm = realmOrDefault(input.realm)
    requireMayWriteRealm(caller, realm)
    const owner = ownerFor(caller, realm, input.user_id, 'write')
    const row = await this.put(owner, realm, input.name, input.value, input, (row, created) =>
      this.#audit.record({
        action: created ? 'secret.create' : 'secret.update',
        target: secretTarget(row),
        details: { id: row.id, version: row.version, owner: row.user_id },
      }),
    )
    return this.#view(row)
  }

  /**
   * Stores `value` under (owner, realm, name): a new secret, or a new version of an existing one
   * whose previous version expires at once (rotate is the path with a grace period). The same
   * value again changes only the metadata given. `written` runs in the same transaction (the
   * audit record of an API write; a service storing a system secret records its own change).
   */
  async put(
    owner: string,
    realm: string,
    name: string,
    value: string,
    meta: { description?: string | undefined; tags?: Record<string, string> | undefined } = {},
    written?: (row: SecretRow, created: boolean) => Promise<void>,
  ): Promise<SecretRow> {
    const plaintext = Buffer.from(value, 'utf8')
    let changed = false
    await this.#keks.refresh()
    const row = await this.#store.transaction(async (): Promise<SecretRow> => {
      const now = nowMicros()
      const existing = await this.#store.byKey(owner, realm, name)
      if (!existing) {
        const fresh: SecretRow = {
          id: newId('secret'),
          user_id: owner,
          realm,
          name,
          description: meta.description ?? '',
          tags: JSON.stringify(meta.tags ?? {}),
          version: 1,
          created_at: now,
          updated_at: now,
        }
        await this.#store.insertSecret(fresh)
        await this.#insertVersion(fresh, 1, plaintext, now)
        await written?.(fresh, true)
        return fresh
      }
      const updated: SecretRow = {
        ...existing,
        description: meta.description ?? existing.description,
        tags: meta.tags ? JSON.stringify(meta.tags) : existing.tags,
        updated_at: now,
      }
      if (!(await this.#currentValueEquals(existing, plaintext))) {
        updated.version = existing.version + 1
        await this.#insertVersion(updated, updated.version, plaintext, now)
        await this.#store.expireVersion(existing.id, existing.version, now)
        changed = true
      }
      await this.#store.updateSecret(updated)
      await written?.(updated, false)
      return updated
    })
    plaintext.fill(0)
    if (changed) this.#announce(row)
    return row
  }

  async get(caller: SecretCaller, ref: SecretRef): Promise<Secret> {
    return this.#view(await this.#locate(caller, ref, 'read'))
  }

  async list(
    caller: SecretCaller,
    input: ListSecretsInput,
  ): Promise<{ secrets: Secret[]; next_page_token: string }> {
    const owner = ownerFor(caller, realmOrDefault(input.realm), input.user_id, 'read')
    const { rows, nextPageToken } = await listPage(
      this.#store,
      this.#pageTokens,
      { owner, realm: input.realm, status: input.status, tags: input.tags },
      { size: input.page_size, token: input.page_token },
    )
    const now = nowMicros()
    const versions = await this.#store.versionsOfMany(rows.map((r) => r.id))
    return {
      secrets: rows.map((r) => secretView(r, versions.get(r.id) ?? [], now)),
      next_page_token: nextPageToken,
    }
  }

  async delete(caller: SecretCaller, ref: SecretRef): Promise<void> {
    const row = await this.#store.transaction(async () => {
      const row = await this.#locate(caller, ref, 'write')
      await this.#store.deleteSecret(row.id)
      await this.#audit.record({
        action: 'secret.delete',
        target: secretTarget(row),
        details: { id: row.id, owner: row.user_id },
      })
      return row
    })
    this.#announce(row)
  }

  /** Adds a version; the previous one stays decryptable for the grace period. */
  async rotate(caller: SecretCaller, ref: SecretRef, newValue: string): Promise<Secret> {
    const plaintext = Buffer.from(newValue, 'utf8')
    await this.#keks.refresh()
    const row = await this.#store.transaction(async () => {
      const now = nowMicros()
      const row = await this.#locate(caller, ref, 'write')
      await this.#reader.sweep(row.id, now)
      const next: SecretRow = { ...row, version: row.version + 1, updated_at: now }
      await this.#store.markRotatedPending(row.id, row.version, now + this.#graceMicros)
      await this.#insertVersion(next, next.version, plaintext, now)
      await this.#store.updateSecret(next)
      await this.#audit.record({
        action: 'secret.rotate',
        target: secretTarget(next),
        details: { id: next.id, version: next.version, owner: next.user_id },
      })
      return next
    })
    plaintext.fill(0)
    this.#announce(row)
    return this.#view(row)
  }

  /** Whether a version (the current one by default) decrypts, with the reason when it does not. */
  async validate(
    caller: SecretCaller,
    ref: SecretRef,
    version?: number,
  ): Promise<{ valid: boolean; error: string }> {
    const row = await this.#locate(caller, ref, 'read')
    const v = await this.#version(row, version)
    let outcome: { valid: boolean; error: string }
    try {
      ;(await this.#reader.open(row, v)).fill(0)
      outcome = { valid: true, error: '' }
    } catch (err) {
      if (!(err instanceof Unreadable)) throw err
      outcome = { valid: false, error: err.message }
    }
    await this.#audit.record({
      action: 'secret.validate',
      target: secretTarget(row),
      details: { id: row.id, version: v.version, valid: outcome.valid },
    })
    return outcome
  }

  /** The plaintext of a version (the current one by default). Every call is audited. */
  async value(
    caller: SecretCaller,
    ref: SecretRef,
    version?: number,
  ): Promise<{ value: string; secret: Secret }> {
    const row = await this.#locate(caller, ref, 'read')
    const v = await this.#version(row, version)
    const value = await this.#reader.serve(row, v, caller, 'value')
    return { value, secret: await this.#view(row) }
  }

  /** The current plaintext of secret `secretId`, for BYOK resolution. Audited. */
  async plaintextFor(secretId: string, reader: PlaintextReader): Promise<string> {
    const row = await this.#store.byId(secretId)
    if (!row) throw new ApiError('failed_precondition', `the stored key ${secretId} is missing`)
    return this.#reader.serve(row, await this.#version(row), reader, 'byok_resolve')
  }

  /** Expires every version of a secret at once, deleting its key material. */
  async shred(secretId: string): Promise<void> {
    const row = await this.#store.byId(secretId)
    if (!row) return
    const now = nowMicros()
    await this.#store.transaction(async () => {
      for (const v of await this.#store.versionsOf(secretId))
        await this.#store.expireVersion(secretId, v.version, now)
    })
    this.#announce(row)
  }

  /** Deletes the key material of every version whose grace period is over. */
  async sweepExpired(): Promise<number> {
    const now = nowMicros()
    const due = await this.#store.allDueVersions(now)
    await this.#store.transaction(async () => {
      for (const d of due) await this.#store.expireVersion(d.secret_id, d.version, now)
    })
    return due.length
  }

  async #currentValueEquals(row: SecretRow, plaintext: Buffer): Promise<boolean> {
    const v = await this.#store.version(row.id, row.version)
    if (!v) return false
    try {
      const current = await this.#reader.open(row, v)
      const same = current.equals(plaintext)
      current.fill(0)
      return same
    } catch (err) {
      if (err instanceof Unreadable) return false
      throw err
    }
  }

  async #insertVersion(row: SecretRow, version: number, plaintext: Buffer, now: number): Promise<void> {
    const sealed = sealVersion(this.#keks, bindingOf(row, version), plaintext)
    await this.#store.insertVersion({
      secret_id: row.id,
      version,
      status: 'active',
      kek_id: sealed.kekId,
      wrapped_data_key: sealed.wrappedDataKey,
      ciphertext: sealed.ciphertext,
      created_at: now,
      expires_at: null,
    })
  }

  /** The version asked for, or the current one; `not_found` naming `version` when there is none. */
  async #version(row: SecretRow, version?: number): Promise<SecretVersionRow> {
    const v = await this.#store.version(row.id, version ?? row.version)
    if (!v) {
      throw new ApiError('not_found', `secret "${row.name}" has no version ${version}`, [
        { field: 'version', description: `no such version (current: ${row.version})` },
      ])
    }
    return v
  }

  async #locate(caller: SecretCaller, ref: SecretRef, access: Access): Promise<SecretRow> {
    if (isId('secret', ref.name)) {
      const row = await this.#store.byId(ref.name)
      if (
        row &&
        (ref.realm === undefined || ref.realm === row.realm) &&
        (ref.userId === undefined || ref.userId === row.user_id || isSystemRealm(row.realm)) &&
        mayActFor(caller, row.user_id, row.realm, access)
      ) {
        if (access === 'write') requireMayWriteRealm(caller, row.realm)
        return row
      }
    }
    const realm = realmOrDefault(ref.realm)
    if (access === 'write') requireMayWriteRealm(caller, realm)
    const owner = ownerFor(caller, realm, ref.userId, access)
    const row = await this.#store.byKey(owner, realm, ref.name)
    if (!row) throw new ApiError('not_found', `secret "${ref.name}" not found in realm "${realm}"`)
    return row
  }

  async #view(row: SecretRow): Promise<Secret> {
    return secretView(row, await this.#store.versionsOf(row.id), nowMicros())
  }

  #announce(row: SecretRow): void {
    this.emit('changed', { realm: row.realm, name: row.name, user_id: row.user_id })
  }
}

/** How the audit trail names a secret: `realm/name` (the id and owner go in the details). */
export function secretTarget(row: Pick<SecretRow, 'realm' | 'name'>): string {
  return `${row.realm}/${row.name}`
}
