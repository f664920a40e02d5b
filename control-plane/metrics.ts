/**
 * @module The control plane's Prometheus metrics, in a registry of its own (several control
 * planes can live in one test process).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { DataplaneRegistry } from './dataplanes/registry.ts'
import type { RevocationLog } from './revocations/log.ts'

export type ControlPlaneMetrics = ReturnType<typeof createMetrics>

export function createMetrics(deps: { dataplanes: DataplaneRegistry; revocations: RevocationLog }) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'agentrouter_cp_' })
  return {
    registry,
    httpRequests: new Counter({
      name: 'agentrouter_cp_http_requests_total',
      help: 'HTTP requests by route and response code',
      labelNames: ['method', 'route', 'code'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'agentrouter_cp_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'agentrouter_cp_auth_failures_total',
      help: 'Credentials refused (answered unauthenticated), by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    revocationsIssued: new Counter({
      name: 'agentrouter_cp_revocations_issued_total',
      help: 'Revocations written, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    revocationsPurged: new Counter({
      name: 'agentrouter_cp_revocations_purged_total',
      help: 'Revocations purged from the log by this process, their credential expired (plus the leeway)',
      registers: [registry],
    }),
    streamClients: new Gauge({
      name: 'agentrouter_cp_stream_clients',
      help: 'Connected revocation-stream clients',
      registers: [registry],
      collect() {
        this.set(deps.dataplanes.size)
      },
    }),
    streamDisconnects: new Counter({
      name: 'agentrouter_cp_stream_disconnects_total',
      help: 'Stream clients disconnected, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    dataplaneLag: new Gauge({
      name: 'agentrouter_cp_dataplane_lag_seconds',
      help: 'Age of the oldest revocation each connected dataplane has not acknowledged',
      labelNames: ['dataplane'] as const,
      registers: [registry],
      async collect() {
        const lags: Array<[string, number]> = []
        for (const dp of deps.dataplanes.list()) {
          const oldest = await deps.revocations.oldestAfter(dp.appliedCursor)
          lags.push([dp.name, oldest === undefined ? 0 : (Date.now() * 1000 - oldest) / 1e6])
        }
        this.reset()
        for (const [dataplane, lag] of lags) this.set({ dataplane }, lag)
      },
    }),
    usageReports: new Counter({
      name: 'agentrouter_cp_dataplane_usage_reports_total',
      help: "Dataplanes' key-usage reports (last_used_at) received on the stream, by outcome (accepted, not_a_dataplane, too_frequent, invalid)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    secretValueReads: new Counter({
      name: 'agentrouter_cp_secret_value_reads_total',
      help: 'Plaintext reads of secrets, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  }
}
