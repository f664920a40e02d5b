/**
 * @module The API keys this dataplane served since its last usage report, for the control
 * plane's `last_used_at`. Recording is on the request path, so it is one `Map.set` of the JTI
 * (the cached claims' own string) to a small integer tick: no clock read, no allocation once the
 * key is in the map. The reporter advances the tick once per report interval, so a key's age is
 * known to within one interval. The map is bounded: a key first seen while it is full is not
 * recorded (counted in `dropped`); it is recorded again on its next request after a report.
 */

/** One reported key: its JTI and how many seconds ago it was last used. */
export type KeyUse = [jti: string, ageSeconds: number]

export class KeyUsage {
  readonly #used = new Map<string, number>()
  readonly #maxKeys: number
  #tick = 0
  #dropped = 0

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys
  }

  /** A request authenticated with this key was served. */
  record(jti: string): void {
    const used = this.#used
    if (used.size >= this.#maxKeys && !used.has(jti)) {
      this.#dropped++
      return
    }
    used.set(jti, this.#tick)
  }

  /** Keys waiting to be reported. */
  get pending(): number {
    return this.#used.size
  }

  /** Keys not recorded because the map was full. */
  get dropped(): number {
    return this.#dropped
  }

  /**
   * Removes and returns at most `max` recorded keys, with their age in seconds given that each
   * tick lasts `tickSeconds`; the rest wait for the next take.
   */
  take(max: number, tickSeconds: number): KeyUse[] {
    const out: KeyUse[] = []
    for (const [jti, tick] of this.#used) {
      if (out.length >= max) break
      out.push([jti, Math.round((this.#tick - tick) * tickSeconds)])
      this.#used.delete(jti)
    }
    return out
  }

  /** One report interval has passed. */
  advance(): void {
    this.#tick++
  }
}
