/**
 * @module The targets issue 6 sets, by figure name: the one place they are written. The report
 * attaches them to figures as they are recorded; the README's table reads them too.
 */
import type { Target } from './report.ts'

const atMost = (bound: number): Target => ({ on: 'value', op: '<=', bound })
const atLeast = (bound: number): Target => ({ on: 'value', op: '>=', bound })

export const TARGETS: Readonly<Record<string, Target>> = {
  auth_cached_p99_us: atMost(2),
  auth_cached_p99_us_100k_revocations: atMost(2),
  auth_cached_p99_us_1m_revocations: atMost(2),
  auth_verify_p50_us: { on: 'ratio', op: '<=', bound: 1.5 },
  proxy_rps_dataplane: { on: 'ratio', op: '>=', bound: 0.8 },
  proxy_rps_dataplane_sse: { on: 'ratio', op: '>=', bound: 0.8 },
  proxy_rps_dataplane_over_portkey: atLeast(5),
  proxy_rps_dataplane_over_portkey_sse: atLeast(5),
  proxy_p99_added_ms_dataplane: atMost(1),
  proxy_p99_added_ms_dataplane_sse: atMost(1),
  proxy_p99_added_ms_dataplane_1conn: atMost(1),
  revocation_e2e_ms: atMost(100),
  // Issue 9: 1,000 full dataplane syncs, each journaling durably before it acknowledges.
  revocation_p99_ms_1000_clients: atMost(50),
  // Issue 10: 1,000 lightweight subscribers (the stream protocol and an ack) on one replica.
  revocation_p99_ms_1000_clients_light: atMost(25),
  revocation_p99_ms_10000_clients_3_replicas: atMost(100),
  dp_rss_mb_1m_revocations: atMost(200),
  dp_ready_ms_1m_revocations: atMost(1_000),
}
