/**
 * @module The dataplane's Prometheus metrics, in a registry of its own. Those recorded on the
 * request path are `HotCounter` / `HotHistogram` cells (see `hot-metrics.ts`): recording is a
 * field increment; the rest are prom-client metrics, most read from their sources at scrape time.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import { HotCounter, HotHistogram } from './hot-metrics.ts'

export interface MetricSources {
  revocationSetSize(): number
  streamConnected(): boolean
  /** Epoch ms of the last confirmed sync; 0 never. */
  syncedAtMs(): number
  /** Epoch ms of the last snapshot write; 0 never. */
  snapshotWrittenAtMs(): number
  cachedTokens(): number
  cachedProviderKeys(): number
  /** Per upstream origin: undici pool stats. */
  poolStats(): Array<{ provider: string; connected: number; free: number; pending: number; running: number }>
  /** Request-body bytes held by in-flight requests (the body budget's use). */
  bufferedBodyBytes(): number
  /** Key-usage reports sent, keys waiting for one, keys not recorded (the map was full). */
  usage(): { reports: number; pending: number; dropped: number }
}

export type DataplaneMetrics = ReturnType<typeof createMetrics>

export function createMetrics(sources: MetricSources) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'agentrouter_dp_' })
  const authDecisions = new HotCounter(
    registry,
    'agentrouter_dp_auth_decisions_total',
    'Auth checks by outcome (ok, or the refusal reason)',
    ['outcome'],
  )
  const upstreamResponses = new HotCounter(
    registry,
    'agentrouter_dp_upstream_responses_total',
    'Upstream responses by provider and status (0: no response: connection failure or timeout)',
    ['provider', 'status'],
  )
  const upstreamLatency = new HotHistogram(
    registry,
    'agentrouter_dp_upstream_latency_seconds',
    'Time from dispatch to the upstream response headers, by provider',
    ['provider'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  )
  const byokLookups = new HotCounter(
    registry,
    'agentrouter_dp_byok_cache_total',
    'Provider-key cache lookups: hit, miss, stale_served (control plane unreachable)',
    ['result'],
  )
  const authDuration = new HotHistogram(
    registry,
    'agentrouter_dp_auth_check_duration_seconds',
    'Time to authenticate a request, one check in 16 sampled (cached hits are ~1 µs; first-seen tokens pay a verify)',
    [],
    [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2],
  )
  const perLabel = <T>(make: (label: string) => T) => {
    const cells = new Map<string, T>()
    return (label: string): T => {
      let cell = cells.get(label)
      if (cell === undefined) {
        cell = make(label)
        cells.set(label, cell)
      }
      return cell
    }
  }
  const statusCells = perLabel((provider) => perLabel((status) => upstreamResponses.cell(provider, status)))

  return {
    registry,
    /** The counter cell of an auth outcome: `.value++`. */
    authDecision: perLabel((outcome) => authDecisions.cell(outcome)),
    authDuration: authDuration.cell(),
    upstreamStatus(provider: string, status: number) {
      statusCells(provider)(String(status)).value++
    },
    upstreamLatency: perLabel((provider) => upstreamLatency.cell(provider)),
    /** The counter cell of a provider-key cache event: `.value++`. */
    byokLookup: perLabel((result) => byokLookups.cell(result)),
    jwksRefreshes: new Counter({
      name: 'agentrouter_dp_jwks_refreshes_total',
      help: 'JWKS fetches by trigger and result',
      labelNames: ['trigger', 'result'] as const,
      registers: [registry],
    }),
    revocationsApplied: new Counter({
      name: 'agentrouter_dp_revocations_applied_total',
      help: 'Revocations applied, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    gauges: [
      new Gauge({
        name: 'agentrouter_dp_revocation_set_size',
        help: 'Revoked JTIs held (pruned once their credential has expired)',
        registers: [registry],
        collect() {
          this.set(sources.revocationSetSize())
        },
      }),
      new Gauge({
        name: 'agentrouter_dp_stream_connected',
        help: '1 while the revocation stream is connected',
        registers: [registry],
        collect() {
          this.set(sources.streamConnected() ? 1 : 0)
        },
      }),
      new Gauge({
        name: 'agentrouter_dp_sync_lag_seconds',
        help: 'Time since the control plane last confirmed the revocation set current (-1: never)',
        registers: [registry],
        collect() {
          const at = sources.syncedAtMs()
          this.set(at ? (Date.now() - at) / 1000 : -1)
        },
      }),
      new Gauge({
        name: 'agentrouter_dp_snapshot_age_seconds',
        help: 'Age of the persisted snapshot (-1: none written by this process)',
        registers: [registry],
        collect() {
          const at = sources.snapshotWrittenAtMs()
          this.set(at ? (Date.now() - at) / 1000 : -1)
        },
      }),
      new Gauge({
        name: 'agentrouter_dp_cache_entries',
        help: 'Entries in the verified-token and provider-key caches',
        labelNames: ['cache'] as const,
        registers: [registry],
        collect() {
          this.set({ cache: 'tokens' }, sources.cachedTokens())
          this.set({ cache: 'provider_keys' }, sources.cachedProviderKeys())
        },
      }),
      new Gauge({
        name: 'agentrouter_dp_buffered_request_bytes',
        help: 'Request-body bytes held by in-flight requests (bounded by AGENTROUTER_DP_MAX_BUFFERED_BYTES)',
        registers: [registry],
        collect() {
          this.set(sources.bufferedBodyBytes())
        },
      }),
      new Gauge({
        name: 'agentrouter_dp_usage_reports',
        help: 'Key-usage reports (last_used_at) sent to the control plane since start',
        registers: [registry],
        collect() {
          this.set(sources.usage().reports)
        },
      }),
      new Gauge({
        name: 'agentrouter_dp_usage_keys',
        help: 'Keys served awaiting a usage report (pending), and keys not recorded because that was full (dropped, since start)',
        labelNames: ['state'] as const,
        registers: [registry],
        collect() {
          const usage = sources.usage()
          this.set({ state: 'pending' }, usage.pending)
          this.set({ state: 'dropped' }, usage.dropped)
        },
      }),
      new Gauge({
        name: 'agentrouter_dp_upstream_pool_connections',
        help: 'Upstream pool sockets by provider and state (connected, free, pending, running)',
        labelNames: ['provider', 'state'] as const,
        registers: [registry],
        collect() {
          this.reset()
          for (const s of sources.poolStats()) {
            this.set({ provider: s.provider, state: 'connected' }, s.connected)
            this.set({ provider: s.provider, state: 'free' }, s.free)
            this.set({ provider: s.provider, state: 'pending' }, s.pending)
            this.set({ provider: s.provider, state: 'running' }, s.running)
          }
        },
      }),
    ],
  }
}
