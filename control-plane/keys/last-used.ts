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
    this.#timer = setInterval(() => void this.flush(), flushEveryMs)
    this.#timer.unref()
  }

  touch(keyId: string, atMicros: number): void {
    this.#pending.set(keyId, atMicros)
  }

  /** Writes the uses seen since the last flush; a failed write (database away) is retried next time. */
  async flush(): Promise<void> {
    if (this.#pending.size === 0) return
    const batch = this.#pending
    this.#pending = new Map()
    try {
      await this.store.touchKeys(batch)
    } catch {
      for (const [id, at] of batch) if ((this.#pending.get(id) ?? 0) < at) this.#pending.set(id, at)
    }
  }

  close(): Promise<void> {
    clearInterval(this.#timer)
    return this.flush()
  }
}
