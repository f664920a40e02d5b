/**
 * @module Turns for the pool's connections. node-postgres's `connectionTimeoutMillis` bounds both
 * the wait for a free pooled client and the connecting itself, so a burst of writes queued behind
 * a busy pool (revocations serialise on the log head) was answered `unavailable` after 5 s as if
 * the database were down. Callers take a turn here first, with a longer bound of their own; the
 * pool then always has a client to hand out or a connection to open, and its timeout means only
 * what it says: the database did not answer.
 */
export class ConnectionSlots {
  #free: number
  readonly #waiting: Array<() => void> = []

  constructor(
    slots: number,
    private readonly waitMs: number,
  ) {
    this.#free = slots
  }

  /** Waits for a turn; rejects with `busy()` after `waitMs`. */
  acquire(busy: () => Error): Promise<void> {
    if (this.#free > 0) {
      this.#free--
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        const at = this.#waiting.indexOf(grant)
        if (at >= 0) this.#waiting.splice(at, 1)
        reject(busy())
      }, this.waitMs)
      this.#waiting.push(grant)
    })
  }

  /** Hands the turn straight to the next waiter, or gives it back. */
  release(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#free++
  }

  /** Runs `fn` in a turn. */
  async run<T>(fn: () => Promise<T>, busy: () => Error): Promise<T> {
    await this.acquire(busy)
    try {
      return await fn()
    } finally {
      this.release()
    }
  }
}
