/**
 * @module Key-encryption keys (KEKs): random 256-bit keys, each identified by id and stored
 * sealed under the root key. Exactly one is active and wraps new data keys; retiring ones still
 * unwrap the data keys they wrapped until a rewrap moves those to the active KEK. A KEK that
 * does not open under the configured root key is remembered as unavailable, never fatal: the
 * control plane keeps serving and reports each affected secret as unreadable.
 */
import { randomBytes } from 'node:crypto'
import { ApiError } from '../../shared/errors.ts'
import { newId } from '../../shared/ids.ts'
import type { Logger } from '../../shared/logger.ts'
import { nowMicros } from '../../shared/time.ts'
import type { AuditTrail } from '../audit/trail.ts'
import { KEY_BYTES, open, SealError, seal } from '../crypto/seal.ts'
import type { KekRow, KekStore } from '../store/keks.ts'

/** Why a data key could not be unwrapped: the reason names the KEK, never key material. */
export class KekUnavailable extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'KekUnavailable'
  }
}

const kekAad = (id: string): string => JSON.stringify(['kek', id])
/** Held while KEKs are created or superseded, across every replica. */
const KEK_LOCK = 'agentrouter.keks'

export class KeyEncryptionKeys {
  readonly #store: KekStore
  readonly #rootKey: Buffer
  readonly #log: Logger
  #rows: KekRow[] = []
  readonly #keys = new Map<string, Buffer>()
  readonly #unopened = new Set<string>()

  constructor(
    store: KekStore,
    rootKey: Buffer,
    log: Logger,
    private readonly audit: AuditTrail,
  ) {
    this.#store = store
    this.#rootKey = rootKey
    this.#log = log
  }

  /** Loads every KEK, creating the first one on a fresh database (once, however many replicas start). */
  async load(): Promise<void> {
    await this.#store.transaction(
      async () => {
        if ((await this.#store.all()).length === 0) await this.#insertActive()
      },
      { lock: KEK_LOCK },
    )
    await this.#reload()
    if (this.#unopened.size > 0) {
      this.#log.error(
        'key-encryption keys do not open under the configured root key: the secrets they wrap are unreadable',
        { kek_ids: [...this.#unopened] },
      )
    }
  }

  get activeId(): string {
    const active = this.#rows.find((r) => r.state === 'active')
    if (!active) throw new ApiError('internal', 'no active key-encryption key')
    return active.id
  }

  /** The KEK that wraps new data keys; `failed_precondition` when the root key cannot open it. */
  active(): { id: string; key: Buffer } {
    const id = this.activeId
    const key = this.#keys.get(id)
    if (!key) {
      throw new ApiError(
        'failed_precondition',
        `the active key-encryption key ${id} does not open under the configured root key: check AGENTROUTER_ROOT_KEY / AGENTROUTER_ROOT_KEY_FILE`,
      )
    }
    return { id, key }
  }

  /** The key of KEK `id`; `KekUnavailable` with the reason when there is none to use. */
  key(id: string): Buffer {
    const key = this.#keys.get(id)
    if (key) return key
    const row = this.#rows.find((r) => r.id === id)
    if (!row) throw new KekUnavailable(`key-encryption key ${id} is unknown`)
    if (row.state === 'retired') throw new KekUnavailable(`key-encryption key ${id} is retired`)
    throw new KekUnavailable(`key-encryption key ${id} does not open under the configured root key`)
  }

  /** KEKs that must not be superseded: rotating while one does not open would strand its data. */
  requireAllOpen(): void {
    if (this.#unopened.size === 0) return
    throw new ApiError(
      'failed_precondition',
      `key-encryption keys ${[...this.#unopened].join(', ')} do not open under the configured root key: fix the root key before rotating`,
    )
  }

  /**
   * Re-reads the KEKs: another replica may have introduced or retired one. Run before wrapping a
   * new data key, so it goes under the KEK that is active now.
   */
  refresh(): Promise<void> {
    return this.#reload()
  }

  /** Re-reads the KEKs when `id` is one this replica has not seen yet (introduced elsewhere). */
  async ensureKnown(id: string | null | undefined): Promise<void> {
    if (id && !this.#rows.some((r) => r.id === id)) await this.#reload()
  }

  /** Makes a new KEK the active one; the previous active KEK becomes retiring. */
  async introduce(): Promise<string> {
    this.requireAllOpen()
    const id = await this.#store.transaction(
      async () => {
        for (const row of await this.#store.all())
          if (row.state === 'active') await this.#store.setState(row.id, 'retiring')
        const id = await this.#insertActive()
        await this.audit.record({ action: 'kek.rotate', target: id })
        return id
      },
      { lock: KEK_LOCK },
    )
    await this.#reload()
    return id
  }

  retiringIds(): string[] {
    return this.#rows.filter((r) => r.state === 'retiring').map((r) => r.id)
  }

  /** Retires a KEK that wraps nothing any more, deleting its key material. */
  async retire(id: string): Promise<boolean> {
    const retired = await this.#store.retire(id, nowMicros())
    if (retired) {
      this.#keys.get(id)?.fill(0)
      await this.#reload()
    }
    return retired
  }

  async #insertActive(): Promise<string> {
    const id = newId('kek')
    const key = randomBytes(KEY_BYTES)
    await this.#store.insert({
      id,
      state: 'active',
      wrapped_key: seal(this.#rootKey, key, kekAad(id)),
      created_at: nowMicros(),
    })
    key.fill(0)
    return id
  }

  async #reload(): Promise<void> {
    this.#rows = await this.#store.all()
    for (const row of this.#rows) {
      if (row.state === 'retired' || !row.wrapped_key) {
        this.#keys.delete(row.id)
        this.#unopened.delete(row.id)
        continue
      }
      if (this.#keys.has(row.id)) continue
      try {
        this.#keys.set(row.id, open(this.#rootKey, row.wrapped_key, kekAad(row.id)))
        this.#unopened.delete(row.id)
      } catch (err) {
        if (!(err instanceof SealError)) throw err
        this.#unopened.add(row.id)
      }
    }
  }
}
