/**
 * @module The dataplane's own endpoints: `/healthz` (the process answers), `/readyz` (signing
 * keys and a revocation snapshot are loaded and the set is within the staleness bound, with the
 * figures an operator needs to see why not) and `/metrics` (Prometheus text).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DataplaneMetrics } from '../metrics.ts'
import { send } from './errors.ts'

export interface Readiness {
  ready: boolean
  checks: { signing_keys: boolean; revocation_snapshot: boolean; within_staleness_bound: boolean }
  snapshot_source: string | null
  cursor: string
  synced_at: string | null
  staleness_ms: number | null
  max_staleness_ms: number | null
  stream_connected: boolean
  revoked_jtis: number
}

export class OpsRoutes {
  readonly #readiness: () => Readiness
  readonly #metrics: DataplaneMetrics

  constructor(readiness: () => Readiness, metrics: DataplaneMetrics) {
    this.#readiness = readiness
    this.#metrics = metrics
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url!.split('?', 1)[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 'not_found', `no route for ${req.method} ${path}`)
      return
    }
    switch (path) {
      case '/healthz':
        json(res, 200, { status: 'ok' })
        return
      case '/readyz': {
        const readiness = this.#readiness()
        json(res, readiness.ready ? 200 : 503, readiness)
        return
      }
      case '/metrics':
        this.#metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.#metrics.registry.contentType })
            res.end(text)
          },
          (err) => send(res, 'internal', `metrics: ${(err as Error).message}`),
        )
        return
      default:
        send(
          res,
          'not_found',
          `no route for ${path}: inference goes to /openai/v1/*, /anthropic/v1/* or /v1/*`,
        )
    }
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
