/**
 * @module Keeps the revocation log small: on a timer, off the request path, deletes the entries
 * whose credential expired more than the leeway ago (no verifier accepts such a token any more, so
 * nobody needs its revocation), in bounded batches with the event loop free between them. Each
 * batch advances the purge horizon in its own transaction (see `RevocationStore.purgeExpired`);
 * replicas sharing a PostgreSQL database may all run it.
 */
import type { Logger } from '../../shared/logger.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'
import type { RevocationLog } from './log.ts'

export const REVOCATION_PURGE_BATCH = 1_000

export interface RevocationPurgeOptions {
  intervalMs: number
  /** How long past its credential's expiry an entry is kept: at least any verifier's clock leeway. */
  leewayMs: number
}

export interface RevocationPurger {
  /** One purge now (what the timer runs); resolves with how many entries were deleted. */
  run(): Promise<number>
  stop(): void
}

export function startRevocationPurge(
  log: RevocationLog,
  options: RevocationPurgeOptions,
  logger: Logger,
): RevocationPurger {
  let stopped = false
  let running: Promise<number> | undefined
  const purge = async (): Promise<number> => {
    let deleted = 0
    let horizon = 0
    const before = nowMicros() - options.leewayMs * 1000
    try {
      for (;;) {
        if (stopped) break
        const step = await log.purgeExpired(before, REVOCATION_PURGE_BATCH)
        deleted += step.purged
        horizon = step.horizon
        if (step.purged < REVOCATION_PURGE_BATCH) break
        await new Promise((resolve) => setImmediate(resolve))
      }
      log.forgetExpired(before)
      if (deleted > 0) logger.info('expired revocations purged', { deleted, horizon: formatMicros(horizon) })
    } catch (err) {
      logger.error('purging expired revocations failed', { err })
    }
    return deleted
  }
  const run = (): Promise<number> => {
    running ??= purge().finally(() => {
      running = undefined
    })
    return running
  }
  const timer = setInterval(() => void run(), options.intervalMs)
  timer.unref()
  return {
    run,
    stop() {
      stopped = true
      clearInterval(timer)
    },
  }
}
