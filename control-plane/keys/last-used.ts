/**
 * @module Records when each API key was last used without a write per request: uses are kept in
 * memory and written in one transaction every few seconds. Uses come from the control plane's own
 * requests and from the dataplanes' usage reports (see http/stream.ts), each a batch of keys with
 * how long ago they were used. An id that names no key changes nothing: the write is an UPDATE.
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

  /** The latest use of a key is kept: a report may carry an older use than one already seen. */
  touch(keyId: string, atMicros: number): void {
    if ((this.#pending.get(keyId) ?? 0) < atMicros) this.#pending.set(keyId, atMicros)
  }

  /** A dataplane's report, received at `receivedAtMicros`: each key used `ageSeconds` before it. */
  reported(
    keys: ReadonlyArray<readonly [keyId: string, ageSeconds: number]>,
    receivedAtMicros: number,
  ): void {
    for (const [keyId, ageSeconds] of keys) this.touch(keyId, receivedAtMicros - ageSeconds * 1_000_000)
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
