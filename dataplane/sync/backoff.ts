/**
 * @module Reconnect delays: exponential with full jitter (a random delay between zero and the
 * exponential step), so that many dataplanes cut off together do not all return together.
 */

export class Backoff {
  readonly #baseMs: number
  readonly #maxMs: number
  readonly #random: () => number
  #attempt = 0

  constructor(baseMs: number, maxMs: number, random: () => number = Math.random) {
    this.#baseMs = baseMs
    this.#maxMs = maxMs
    this.#random = random
  }

  /** The delay before the next attempt; each call doubles the ceiling, up to the maximum. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#attempt, 30))
    this.#attempt++
    return Math.round(this.#random() * ceiling)
  }

  reset(): void {
    this.#attempt = 0
  }
}
