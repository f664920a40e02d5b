/**
 * @module Sends the keys this dataplane served to the control plane, as one `usage` message on the
 * revocation stream per interval at most (never per request), of at most
 * `USAGE_REPORT_MAX_KEYS` keys; more wait for the next interval. While the stream is down the
 * keys wait in `KeyUsage` (bounded), their ages growing, and go out once it is back. A message
 * written to a connection that then fails is lost: `last_used_at` is informational, and the
 * key's next use reports it again.
 */
import {
  type StreamClientMessage,
  USAGE_REPORT_MAX_AGE_SECONDS,
  USAGE_REPORT_MAX_KEYS,
} from '../../shared/contract/tokens.ts'
import type { KeyUsage } from '../auth/key-usage.ts'

export interface UsageReporterOptions {
  intervalMs: number
  /** Sends on the stream; false when it is not connected. */
  send: (message: StreamClientMessage) => boolean
  connected: () => boolean
}

export class UsageReporter {
  readonly #usage: KeyUsage
  readonly #options: UsageReporterOptions
  #timer: NodeJS.Timeout | undefined
  #reports = 0

  constructor(usage: KeyUsage, options: UsageReporterOptions) {
    this.#usage = usage
    this.#options = options
  }

  /** Reports sent. */
  get reports(): number {
    return this.#reports
  }

  start(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => this.report(), this.#options.intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** One interval's report (the timer calls it). */
  report(): void {
    const usage = this.#usage
    // A key used in the interval now ending has age 0: it was used at most one interval ago.
    if (usage.pending > 0 && this.#options.connected()) {
      const keys = usage.take(USAGE_REPORT_MAX_KEYS, this.#options.intervalMs / 1000)
      for (const entry of keys) entry[1] = Math.min(entry[1], USAGE_REPORT_MAX_AGE_SECONDS)
      if (this.#options.send({ type: 'usage', keys })) this.#reports++
    }
    usage.advance()
  }
}
