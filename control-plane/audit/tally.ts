/**
 * @module Audit records for events too frequent to write one by one (BYOK resolutions, refused
 * requests): counted in memory per actor credential, action, target and outcome within each
 * minute, and written as one record per count, all in one transaction, once the minute is over
 * (and at shutdown). A crash loses at most the current minute's counts; the hot path never
 * writes. Targets must come from a bounded set (ids, route patterns), never raw request input:
 * each distinct one is a map entry until the minute is written.
 */
import type { Logger } from '../../shared/logger.ts'
import { formatMicros } from '../../shared/time.ts'
import { type Actor, currentRequest, SYSTEM_ACTOR } from './request-context.ts'
import type { AuditOutcome, AuditTrail } from './trail.ts'

const MINUTE_MS = 60_000

interface Count {
  minute: number
  actor: Actor
  clientAddress: string
  action: string
  target: string
  outcome: AuditOutcome
  count: number
}

export class AuditTally {
  readonly #trail: AuditTrail
  readonly #log: Logger
  readonly #now: () => number
  #counts = new Map<string, Count>()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()

  /** `now` (milliseconds) is injectable for tests. */
  constructor(trail: AuditTrail, log: Logger, now: () => number = Date.now) {
    this.#trail = trail
    this.#log = log
    this.#now = now
  }

  /** Counts one event for the current request's actor. */
  count(action: string, target: string, outcome: AuditOutcome = 'success'): void {
    const request = currentRequest()
    const actor = request?.actor ?? SYSTEM_ACTOR
    const minute = Math.floor(this.#now() / MINUTE_MS) * MINUTE_MS
    const key = `${minute}\n${actor.credentialId}\n${action}\n${target}\n${outcome}`
    const existing = this.#counts.get(key)
    if (existing) existing.count++
    else
      this.#counts.set(key, {
        minute,
        actor,
        clientAddress: request?.clientAddress ?? '',
        action,
        target,
        outcome,
        count: 1,
      })
  }

  /** Flushes each minute once it is over. */
  start(): void {
    const schedule = (): void => {
      const wait = MINUTE_MS - (this.#now() % MINUTE_MS) + 50
      this.#timer = setTimeout(() => {
        void this.flush(false)
        schedule()
      }, wait)
      this.#timer.unref()
    }
    schedule()
  }

  /** Writes the counts of minutes that are over (`all`: every count, at shutdown). */
  flush(all = true): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write(all))
    return this.#flushing
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer)
    await this.flush(true)
  }

  async #write(all: boolean): Promise<void> {
    const current = Math.floor(this.#now() / MINUTE_MS) * MINUTE_MS
    const due: Count[] = []
    for (const [key, c] of this.#counts) {
      if (!all && c.minute >= current) continue
      due.push(c)
      this.#counts.delete(key)
    }
    if (due.length === 0) return
    try {
      await this.#trail.batch(async () => {
        for (const c of due)
          await this.#trail.record({
            action: c.action,
            target: c.target,
            outcome: c.outcome,
            actor: c.actor,
            clientAddress: c.clientAddress,
            requestId: '',
            details: { count: c.count, minute: formatMicros(c.minute * 1000) },
          })
      })
    } catch (err) {
      this.#log.error('writing aggregated audit records failed; their counts are lost', {
        err,
        records: due.length,
      })
    }
  }
}
