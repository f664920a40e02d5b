/**
 * @module The bound on request-body bytes buffered across every in-flight exchange. The proxy
 * holds a whole body before it forwards it (providers want a `content-length`), so without a
 * global bound a few callers sending the largest allowed body at once could take the process
 * past its memory. An exchange reserves bytes before it buffers them and releases them exactly
 * once when it is over; a reservation that does not fit is refused, never partly granted.
 *
 * @example
 *   const budget = new BodyBudget(256 * 1024 * 1024)
 *   if (!budget.reserve(n)) refuse()   // resource_exhausted
 *   budget.release(n)                  // when the exchange ends, however it ends
 */
export class BodyBudget {
  readonly limit: number
  #used = 0

  constructor(limitBytes: number) {
    this.limit = limitBytes
  }

  /** Bytes reserved right now (a gauge at scrape time; 0 when nothing is in flight). */
  get used(): number {
    return this.#used
  }

  /** Reserves `bytes`, or reserves nothing and answers false when that would pass the limit. */
  reserve(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false
    this.#used += bytes
    return true
  }

  release(bytes: number): void {
    this.#used -= bytes
  }
}
