/**
 * @module KEK rotation: introduce a new active KEK, then rewrap every data key still under an
 * older one, in small transactions that yield to the event loop between them, so the control
 * plane keeps serving. Every version stays readable throughout: a row names the KEK that wraps
 * it and changes in one atomic update. A KEK that no longer wraps anything is retired (its key
 * material deleted). An interrupted rotation resumes at the next start.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { ApiError } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import type { SecretStore } from '../store/secrets.ts'
import { rewrapDataKey, Unreadable } from './envelope.ts'
import type { KeyEncryptionKeys } from './keks.ts'
import { bindingOf } from './version-reader.ts'

export interface KekRotationResult {
  kekId: string
  rewrapped: number
  retiredKekIds: string[]
  /** `sec_…@vN` versions that did not open and stay under their old KEK. */
  unreadable: string[]
}

const BATCH = 64

export class KekRotation {
  readonly #keks: KeyEncryptionKeys
  readonly #store: SecretStore
  readonly #log: Logger
  #running: Promise<KekRotationResult> | undefined

  constructor(keks: KeyEncryptionKeys, store: SecretStore, log: Logger) {
    this.#keks = keks
    this.#store = store
    this.#log = log
  }

  /** Introduces a new KEK and moves every data key under it. */
  async rotate(): Promise<KekRotationResult> {
    if (this.#running) throw new ApiError('failed_precondition', 'a key-encryption key rotation is running')
    const kekId = await this.#keks.introduce()
    this.#log.info('key-encryption key rotation started', { kek_id: kekId })
    return this.#track(this.#rewrapAll(kekId))
  }

  /** Finishes a rotation a previous process did not (it stopped with KEKs still retiring). */
  resumeIfInterrupted(): void {
    if (this.#running || this.#keks.retiringIds().length === 0) return
    try {
      this.#keks.requireAllOpen()
    } catch {
      return // already logged at load: with a root key that opens nothing there is nothing to move
    }
    const kekId = this.#keks.activeId
    this.#log.info('resuming an interrupted key-encryption key rotation', { kek_id: kekId })
    this.#track(this.#rewrapAll(kekId)).catch((err) =>
      this.#log.error('resuming the key-encryption key rotation failed', { err }),
    )
  }

  /** Resolves when no rotation is running (for shutdown). */
  async settled(): Promise<void> {
    await this.#running?.catch(() => undefined)
  }

  #track(work: Promise<KekRotationResult>): Promise<KekRotationResult> {
    this.#running = work
    return work.finally(() => {
      this.#running = undefined
    })
  }

  async #rewrapAll(kekId: string): Promise<KekRotationResult> {
    let after = { secretId: '', version: 0 }
    let rewrapped = 0
    const unreadable: string[] = []
    for (;;) {
      const batch = await this.#store.versionsUnderOtherKeks(kekId, after, BATCH)
      if (batch.length === 0) break
      for (const row of batch) await this.#keks.ensureKnown(row.kek_id)
      await this.#store.transaction(async () => {
        for (const row of batch) {
          const binding = bindingOf(
            { id: row.secret_id, realm: row.realm, user_id: row.user_id },
            row.version,
          )
          try {
            const wrapped = rewrapDataKey(
              this.#keks,
              binding,
              { kekId: row.kek_id!, wrappedDataKey: row.wrapped_data_key!, ciphertext: row.ciphertext! },
              kekId,
            )
            const moved = await this.#store.rewrap({
              secret_id: row.secret_id,
              version: row.version,
              from_kek: row.kek_id!,
              to_kek: kekId,
              wrapped_data_key: wrapped,
            })
            if (moved) rewrapped++
          } catch (err) {
            if (!(err instanceof Unreadable)) throw err
            unreadable.push(`${row.secret_id}@v${row.version}`)
          }
        }
      })
      const last = batch.at(-1)!
      after = { secretId: last.secret_id, version: last.version }
      await yieldToEventLoop()
    }
    const retiredKekIds: string[] = []
    for (const id of this.#keks.retiringIds()) {
      if ((await this.#store.countUnderKek(id)) === 0 && (await this.#keks.retire(id))) retiredKekIds.push(id)
    }
    this.#log.info('key-encryption key rotation finished', {
      kek_id: kekId,
      rewrapped,
      retired_kek_ids: retiredKekIds,
      unreadable_versions: unreadable,
    })
    return { kekId, rewrapped, retiredKekIds, unreadable }
  }
}
