/**
 * @module Reading one secret version: refuses a version past its grace period (deleting its key
 * material on the way), opens the envelope, and, for plaintext that leaves the control plane,
 * runs the value guards and writes the audit record (who, when, which secret and version, and
 * whether it was served; never the value).
 */
import { ApiError } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'
import type { AuditTrail } from '../audit/trail.ts'
import type { SecretReadRow, SecretRow, SecretStore, SecretVersionRow } from '../store/secrets.ts'
import { openVersion, Unreadable, type VersionBinding } from './envelope.ts'
import type { KeyEncryptionKeys } from './keks.ts'
import { effectiveStatus } from './view.ts'

/** Who reads a plaintext, for the audit. */
export interface PlaintextReader {
  identityId: string
  credentialId: string
}

/** Runs before a value is served; throws to refuse it (revoked AI keys, system realms over `value`). */
export type ValueGuard = (secret: SecretRow, purpose: SecretReadRow['purpose']) => void | Promise<void>

export function bindingOf(row: Pick<SecretRow, 'id' | 'realm' | 'user_id'>, version: number): VersionBinding {
  return { secretId: row.id, version, realm: row.realm, userId: row.user_id }
}

export class VersionReader {
  readonly #store: SecretStore
  readonly #keks: KeyEncryptionKeys
  readonly #log: Logger
  readonly #onAudited: (outcome: SecretReadRow['outcome']) => void
  readonly #audit: AuditTrail
  readonly #guards: ValueGuard[] = []

  /** `onAudited` hears the outcome of every audited read (for metrics). */
  constructor(
    store: SecretStore,
    keks: KeyEncryptionKeys,
    log: Logger,
    audit: AuditTrail,
    onAudited: (outcome: SecretReadRow['outcome']) => void = () => {},
  ) {
    this.#audit = audit
    this.#store = store
    this.#keks = keks
    this.#log = log
    this.#onAudited = onAudited
  }

  addGuard(guard: ValueGuard): void {
    this.#guards.push(guard)
  }

  /** The plaintext of a version; `Unreadable` with the reason when it cannot be had. */
  async open(row: SecretRow, v: SecretVersionRow): Promise<Buffer> {
    const now = nowMicros()
    if (effectiveStatus(v, now) === 'expired') {
      if (v.wrapped_data_key) await this.sweep(row.id, now)
      const ended = v.expires_at === null ? '' : ` at ${formatMicros(v.expires_at)}`
      throw new Unreadable(`version ${v.version} expired${ended}; it can no longer be decrypted`)
    }
    await this.#keks.ensureKnown(v.kek_id)
    return openVersion(this.#keks, bindingOf(row, v.version), {
      kekId: v.kek_id ?? undefined,
      wrappedDataKey: v.wrapped_data_key ?? undefined,
      ciphertext: v.ciphertext ?? undefined,
    })
  }

  /**
   * The plaintext as text, for a reader outside the control plane: guarded and audited. A version
   * that does not decrypt is `failed_precondition` with the reason.
   */
  async serve(
    row: SecretRow,
    v: SecretVersionRow,
    reader: PlaintextReader,
    purpose: SecretReadRow['purpose'],
  ): Promise<string> {
    const audit = async (outcome: SecretReadRow['outcome'], reason: string): Promise<void> => {
      const read = {
        at: nowMicros(),
        identity_id: reader.identityId,
        credential_id: reader.credentialId,
        secret_id: row.id,
        realm: row.realm,
        name: row.name,
        user_id: row.user_id,
        version: v.version,
        purpose,
        outcome,
        reason,
      }
      if (purpose === 'value') {
        // A value read is in the audit trail too; a BYOK resolution is counted there instead, per
        // key and minute, by the AI-key service.
        await this.#audit.batch(async () => {
          await this.#store.insertRead(read)
          await this.#audit.record({
            action: 'secret.value.read',
            target: `${row.realm}/${row.name}`,
            outcome: outcome === 'served' ? 'success' : 'denied',
            details: { id: row.id, version: v.version, owner: row.user_id, ...(reason ? { reason } : {}) },
          })
        })
      } else await this.#store.insertRead(read)
      this.#log.info('secret plaintext read', {
        id: row.id,
        realm: row.realm,
        version: v.version,
        identity_id: reader.identityId,
        purpose,
        outcome,
      })
      this.#onAudited(outcome)
    }
    try {
      for (const guard of this.#guards) await guard(row, purpose)
      const plaintext = await this.open(row, v)
      const text = plaintext.toString('utf8')
      plaintext.fill(0)
      await audit('served', '')
      return text
    } catch (err) {
      if (err instanceof ApiError) {
        await audit('refused', err.message)
        throw err
      }
      if (err instanceof Unreadable) {
        await audit('refused', err.message)
        throw new ApiError(
          'failed_precondition',
          `secret "${row.name}" (realm ${row.realm}) version ${v.version} cannot be decrypted: ${err.message}`,
        )
      }
      throw err
    }
  }

  /** Deletes the key material of the secret's versions whose grace period is over. */
  async sweep(secretId: string, now: number): Promise<void> {
    for (const version of await this.#store.dueVersionsOf(secretId, now)) {
      await this.#store.expireVersion(secretId, version, now)
    }
  }
}
