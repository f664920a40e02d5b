/**
 * @module The control plane's JWKS, kept current in the verifier. Fetched at start, in the
 * background on a period shorter than its max-age, when the stream says it changed, and when a
 * token names an unknown `kid`. Fetches are single-flight; the unknown-kid trigger is also rate
 * limited (a client can send any `kid` it likes, and must not be able to turn that into a storm
 * of fetches). A failed fetch keeps the last good set.
 */
import type { Logger } from '../../shared/logger.ts'
import type { JsonWebKeySet, TokenVerifier } from '../../shared/tokens/verifier.ts'

export type KeySetTrigger = 'start' | 'periodic' | 'jwks_changed' | 'reconnect' | 'unknown_kid'

export interface KeySetOptions {
  refreshMs: number
  /** Least time between two fetches triggered by an unknown `kid`. */
  minIntervalMs: number
}

export interface KeySetHooks {
  /** A new set is in the verifier (to persist it). */
  loaded?: (jwks: JsonWebKeySet) => void
  /** Every fetch's outcome (for metrics). */
  fetched?: (trigger: KeySetTrigger, ok: boolean) => void
}

export class KeySet {
  readonly #fetch: () => Promise<JsonWebKeySet>
  readonly #verifier: TokenVerifier
  readonly #options: KeySetOptions
  readonly #hooks: KeySetHooks
  readonly #log: Logger
  #current: JsonWebKeySet | undefined
  #inFlight: Promise<boolean> | undefined
  /** A fetch was asked for while one was running; run one more after it. */
  #again: KeySetTrigger | undefined
  #lastUnknownKidFetchAt = Number.NEGATIVE_INFINITY
  #timer: NodeJS.Timeout | undefined

  constructor(
    fetchJwks: () => Promise<JsonWebKeySet>,
    verifier: TokenVerifier,
    options: KeySetOptions,
    log: Logger,
    hooks: KeySetHooks = {},
  ) {
    this.#fetch = fetchJwks
    this.#verifier = verifier
    this.#options = options
    this.#log = log
    this.#hooks = hooks
  }

  /** The last set loaded, from the control plane or the snapshot. */
  get current(): JsonWebKeySet | undefined {
    return this.#current
  }

  /** Loads a set without fetching (the persisted one, at start). */
  async load(jwks: JsonWebKeySet): Promise<void> {
    await this.#verifier.setKeySet(jwks)
    this.#current = jwks
  }

  /** Starts the background refresh. */
  start(): void {
    this.#timer ??= setInterval(() => void this.refresh('periodic'), this.#options.refreshMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /**
   * Fetches the set now (joining a fetch already running); resolves whether it loaded one.
   * Never rejects: a failure is logged and the last good set stays.
   */
  refresh(trigger: KeySetTrigger): Promise<boolean> {
    if (this.#inFlight) {
      // The running fetch may predate the change this trigger stands for: one more after it.
      if (trigger === 'jwks_changed' || trigger === 'reconnect') this.#again = trigger
      return this.#inFlight
    }
    this.#inFlight = this.#run(trigger).finally(() => {
      this.#inFlight = undefined
      const again = this.#again
      this.#again = undefined
      if (again) void this.refresh(again)
    })
    return this.#inFlight
  }

  /** A token named `kid`, which the verifier does not hold: fetch, unless that was done lately. */
  unknownKey(_kid: string, now: number = Date.now()): void {
    if (this.#inFlight) return
    if (now - this.#lastUnknownKidFetchAt < this.#options.minIntervalMs) return
    this.#lastUnknownKidFetchAt = now
    void this.refresh('unknown_kid')
  }

  /** The fetch running now, if any: a request with an unknown `kid` may wait for it. */
  get pending(): Promise<boolean> | undefined {
    return this.#inFlight
  }

  async #run(trigger: KeySetTrigger): Promise<boolean> {
    try {
      const jwks = await this.#fetch()
      if (!Array.isArray(jwks?.keys)) throw new Error('the JWKS has no "keys" array')
      await this.#verifier.setKeySet(jwks)
      this.#current = jwks
      this.#hooks.fetched?.(trigger, true)
      this.#hooks.loaded?.(jwks)
      this.#log.debug('JWKS loaded', { trigger, kids: this.#verifier.keyIds })
      return true
    } catch (err) {
      this.#hooks.fetched?.(trigger, false)
      this.#log.warn('JWKS fetch failed; keeping the last good set', {
        trigger,
        err,
        has_keys: this.#verifier.hasKeys,
      })
      return false
    }
  }
}
