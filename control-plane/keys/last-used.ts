/**
 * @module Records when each API key was last used without a write per request: uses are kept in
 * memory and written in one transaction every few seconds.
 */
import type { CredentialStore } from '../store/credentials.ts'

export class LastUsed {
  #pending = new Map<string, number>()
  readonly #timer: NodeJS.Timeout

  constructor(
    private readonly store: CredentialStore,
    flushEveryMs = 5_000,
  ) {
    this.#timer = setInterval(() => this.flush(), flushEveryMs)
    this.#timer.unref()
  }

  touch(keyId: string, atMicros: number): void {
    this.#pending.set(keyId, atMicros)
  }

  flush(): void {
    if (this.#pending.size === 0) return
    const batch = this.#pending
    this.#pending = new Map()
    this.store.touchKeys(batch)
  }

  close(): void {
    clearInterval(this.#timer)
    this.flush()
  }
}
