/**
 * @module Graceful shutdown of an HTTP server: stop accepting, let the requests in flight (a
 * streamed completion can run for minutes) finish for up to the drain timeout, then cut what is
 * left and say how many. Both components use it on SIGTERM / SIGINT (`AGENTROUTER_DRAIN_TIMEOUT`).
 * WebSocket upgrades are not requests: the control plane's revocation stream is closed by its owner.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Logger } from './logger.ts'

export interface DrainOutcome {
  /** Requests in flight when the drain began. */
  inFlight: number
  /** Requests that finished during the drain (those in flight, and any that came on open connections). */
  completed: number
  /** Requests still running at the timeout: their connections were closed. */
  cut: number
}

/** Counts a server's requests in flight, at the cost of one counter and one listener per request. */
export class InFlightRequests {
  #count = 0
  #draining = false
  #completedWhileDraining = 0
  #onIdle: (() => void) | undefined

  constructor(readonly server: Server) {
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.#count++
      // A request arriving on an open connection during the drain is served, then the connection closes.
      if (this.#draining && !res.headersSent) res.shouldKeepAlive = false
      res.once('close', this.#finished)
    })
  }

  get count(): number {
    return this.#count
  }

  readonly #finished = (): void => {
    this.#count--
    if (this.#draining) {
      this.#completedWhileDraining++
      if (this.#count === 0) this.#onIdle?.()
    }
  }

  /**
   * Stops accepting connections, closes the idle ones, waits up to `timeoutMs` for the requests in
   * flight, then closes every connection left.
   */
  async drain(timeoutMs: number): Promise<DrainOutcome> {
    this.#draining = true
    const inFlight = this.#count
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeIdleConnections()
    if (this.#count > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs)
        this.#onIdle = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    const cut = this.#count
    const completed = this.#completedWhileDraining
    this.server.closeAllConnections()
    await closed
    return { inFlight, completed, cut }
  }
}

/** One record per shutdown: how many requests were in flight, finished, and cut (a warning). */
export function logDrain(log: Logger, outcome: DrainOutcome, timeoutMs: number): void {
  const fields = {
    in_flight: outcome.inFlight,
    completed: outcome.completed,
    cut: outcome.cut,
    drain_timeout_ms: timeoutMs,
  }
  if (outcome.cut > 0) log.warn('requests in flight cut at the drain timeout', fields)
  else log.info('requests in flight drained', fields)
}
