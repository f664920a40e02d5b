/**
 * @module Deletes expired login states (and pending device logins) on a timer, off the request path, in batches of a bounded
 * size with the event loop free between them, so a purge after a flood never holds the database
 * (or delays a request) for long.
 */
import type { Logger } from '../../shared/logger.ts'
import { nowMicros } from '../../shared/time.ts'

/** A table of pending logins whose expired rows can be deleted in batches. */
export interface ExpiringStore {
  purgeExpired(now: number, limit: number): Promise<number>
}

export const PURGE_BATCH = 500

export interface Purger {
  stop(): void
}

/** Purges every `periodMs`; the timer does not keep the process alive. */
export function startLoginStatePurge(stores: ExpiringStore[], periodMs: number, log: Logger): Purger {
  let stopped = false
  let running = false
  const purge = async () => {
    if (running) return
    running = true
    try {
      let deleted = 0
      for (const store of stores) {
        for (;;) {
          if (stopped) return
          const n = await store.purgeExpired(nowMicros(), PURGE_BATCH)
          deleted += n
          if (n < PURGE_BATCH) break
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
      if (deleted > 0) log.debug('expired login states purged', { deleted })
    } catch (err) {
      log.error('purging expired login states failed', { err })
    } finally {
      running = false
    }
  }
  const timer = setInterval(purge, periodMs)
  timer.unref()
  return {
    stop() {
      stopped = true
      clearInterval(timer)
    },
  }
}
