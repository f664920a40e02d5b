/**
 * @module Revocation fan-out at scale. A control plane (a real process on the subject core)
 * revokes an API key through `DELETE /v1/me/keys/{id}`; lightweight stream subscribers (raw
 * WebSocket connections that speak the stream protocol and ack, a few thousand per child process,
 * all on the load core: see lib/fanout-fleet.ts) receive it. The figure is, per subscriber, the
 * time from the DELETE being sent to the revocation arriving; p99 over the subscribers, median
 * over the runs.
 *
 * - 1,000 subscribers on one control plane;
 * - 10,000 on one control plane (`…_1_replica`);
 * - 10,000 over three replicas on one PostgreSQL database (`…_3_replicas`): the same call with
 *   three URLs, the revocation made on the first; and `DELETE ?wait=enforced` across replicas.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TestControlPlane } from '../test/support/control-plane.ts'
import type { TestDataplane } from '../test/support/dataplane.ts'
import type { Budget } from './lib/budget.ts'
import { corePlan } from './lib/cpu.ts'
import { Fleet, monotonicMs } from './lib/fanout-fleet.ts'
import { mainThreadCpuMs } from './lib/proc.ts'
import type { Report } from './lib/report.ts'
import { createTenant, startBenchControlPlane, startBenchDataplane, type Tenant } from './lib/stack.ts'
import { median, percentile } from './lib/stats.ts'

/** Subscribers per child process: 10,000 take four. */
const PER_PROCESS = 2_500

interface Scenario {
  count: number
  /** The figure names' stem: `<stem>` is the p99, with `_p50`, `_max`, `_first` variants beside. */
  name: string
  note: string
}

const SCENARIOS: Scenario[] = [
  {
    count: 1_000,
    name: 'revocation_p99_ms_1000_clients_light',
    note: 'DELETE sent → received, 1,000 lightweight subscribers, one control plane',
  },
  {
    count: 10_000,
    name: 'revocation_p99_ms_10000_clients_1_replica',
    note: 'DELETE sent → received, 10,000 subscribers on ONE control plane (the 100 ms target is for 3 replicas)',
  },
]

export interface FanOutRun {
  /** Per subscriber, DELETE sent → revocation received (ms), sorted. */
  latencies: Float64Array
  deleteMs: number
  /** The control plane's main-thread CPU while the DELETE ran: the revocation and its sends to every subscriber. */
  cpDeleteCpuMs: number
  /** The control plane's main-thread CPU over the run (the first URL's process when one is given). */
  cpCpuMs: number
}

export interface FanOutOptions {
  /** Control-plane URLs the subscribers are spread over, round-robin (one per replica). */
  urls: string[]
  dataplaneKey: string
  /** The cursor subscribers start from: the head, so nothing is replayed. */
  since: string
  count: number
  runs: number
  /** Revokes through this tenant (any replica: its client's base URL). */
  tenant: Tenant
  core: number | undefined
  cpPid?: number
}

/** Starts the fleet, revokes `runs` fresh keys one after another and times each fan-out. */
export async function fanOut(options: FanOutOptions): Promise<FanOutRun[]> {
  const fleet = await Fleet.start({
    urls: options.urls,
    dataplaneKey: options.dataplaneKey,
    since: options.since,
    count: options.count,
    perProcess: PER_PROCESS,
    core: options.core,
  })
  try {
    await sleep(500)
    const runs: FanOutRun[] = []
    // One revocation first that is not counted: the first after connecting is the slowest.
    for (let r = -1; r < options.runs; r++) {
      const issued = await options.tenant.login.client.me.issueKey('bench-fanout')
      await sleep(100)
      const cp0 = mainThreadCpuMs(options.cpPid)
      const t0 = monotonicMs()
      await options.tenant.login.client.me.revokeKey(issued.key.id)
      const deleteMs = monotonicMs() - t0
      const cpDeleteCpuMs = mainThreadCpuMs(options.cpPid) - cp0
      const times = await fleet.arrivals(issued.key.id)
      const cpCpuMs = mainThreadCpuMs(options.cpPid) - cp0
      const latencies = times.map((t) => t - t0).sort()
      if (r >= 0) runs.push({ latencies, deleteMs, cpDeleteCpuMs, cpCpuMs })
      // Let the acks drain before the next one.
      await sleep(300)
    }
    return runs
  } finally {
    await fleet.stop()
  }
}

export async function benchFanOut(report: Report, budget: Budget): Promise<void> {
  const cores = corePlan()
  const runs = budget.quick ? 1 : 5
  const cp = await startBenchControlPlane(cores?.subject)
  try {
    const tenant = await createTenant(cp, 'bench-fanout@example.com', 'sk-bench-upstream')
    report.section('revocation fan-out (lightweight subscribers)')
    const scenarios = budget.quick ? SCENARIOS.map((s) => ({ ...s, count: s.count / 10 })) : SCENARIOS
    for (const scenario of scenarios) {
      const since = (await cp.admin.admin.listDataplanes()).head_cursor
      const results = await fanOut({
        urls: [cp.url],
        dataplaneKey: cp.dataplaneKey,
        since,
        count: scenario.count,
        runs,
        tenant,
        core: cores?.load,
        cpPid: cp.process.child.pid,
      })
      const stat = (f: (r: FanOutRun) => number) => median(results.map(f))
      const base = scenario.name.replace('_p99_', '_%_')
      report.add(
        scenario.name,
        stat((r) => percentile(r.latencies, 99)),
        'ms',
        { note: scenario.note },
      )
      report.add(
        base.replace('%', 'p50'),
        stat((r) => percentile(r.latencies, 50)),
        'ms',
      )
      report.add(
        base.replace('%', 'max'),
        stat((r) => r.latencies[r.latencies.length - 1]!),
        'ms',
      )
      report.add(
        base.replace('%', 'first'),
        stat((r) => r.latencies[0]!),
        'ms',
        {
          note: 'DELETE sent → first subscriber received',
        },
      )
      report.add(
        base.replace('%', 'delete'),
        stat((r) => r.deleteMs),
        'ms',
        { note: "the DELETE's own latency" },
      )
      report.add(
        base.replace('%', 'cp_send_cpu'),
        stat((r) => r.cpDeleteCpuMs),
        'ms',
        {
          note: "control plane's main thread CPU during the DELETE (its sends to every subscriber included)",
        },
      )
      report.add(
        base.replace('%', 'cp_cpu'),
        stat((r) => r.cpCpuMs),
        'ms',
        {
          note: "control plane's main thread CPU, DELETE sent → last received (+ acks)",
        },
      )
    }
  } finally {
    await cp.stop()
  }
  await benchFanOutReplicas(report, budget)
}

const REPLICAS_FIGURE = 'revocation_p99_ms_10000_clients_3_replicas'

/**
 * Three replicas on one PostgreSQL database (a fresh one, dropped after), the subscribers spread
 * over them round-robin, the revocation made on the first: every subscriber of the other two gets
 * it through NOTIFY and a read of the log. Then `DELETE ?wait=enforced` with one real dataplane
 * per replica, made on the first replica: the answer waits for the other replicas' dataplanes,
 * whose acknowledgements come back through the shared registry.
 */
async function benchFanOutReplicas(report: Report, budget: Budget): Promise<void> {
  const { POSTGRES_SKIP, createTestDatabase } = await import('../test/support/postgres.ts')
  if (POSTGRES_SKIP) {
    report.missing(REPLICAS_FIGURE, `no PostgreSQL: ${POSTGRES_SKIP}`)
    report.missing('revocation_delete_enforced_ms_3_replicas', `no PostgreSQL: ${POSTGRES_SKIP}`)
    return
  }
  const cores = corePlan()
  const runs = budget.quick ? 1 : 5
  const db = await createTestDatabase()
  const env = { AGENTROUTER_DATABASE_URL: db.url, AGENTROUTER_ROOT_KEY: randomBytes(32).toString('base64') }
  const replicas: TestControlPlane[] = []
  const dataplanes: TestDataplane[] = []
  try {
    // The first bootstraps; the others find the database ready.
    replicas.push(await startBenchControlPlane(cores?.subject, env))
    replicas.push(...(await Promise.all([1, 2].map(() => startBenchControlPlane(cores?.subject, env)))))
    const [first] = replicas as [TestControlPlane]
    const tenant = await createTenant(first, 'bench-replicas@example.com', 'sk-bench-upstream')
    report.section('revocation fan-out over three replicas (PostgreSQL)')
    const count = budget.quick ? 1_000 : 10_000
    const since = (await first.admin.admin.listDataplanes()).head_cursor
    const results = await fanOut({
      urls: replicas.map((r) => r.url),
      dataplaneKey: first.dataplaneKey,
      since,
      count,
      runs,
      tenant,
      core: cores?.load,
      cpPid: first.process.child.pid,
    })
    const stat = (f: (r: FanOutRun) => number) => median(results.map(f))
    report.add(
      REPLICAS_FIGURE,
      stat((r) => percentile(r.latencies, 99)),
      'ms',
      {
        note: `DELETE on replica 1 sent → received, ${count.toLocaleString('en')} subscribers over 3 replicas on one PostgreSQL`,
      },
    )
    report.add(
      'revocation_p50_ms_10000_clients_3_replicas',
      stat((r) => percentile(r.latencies, 50)),
      'ms',
    )
    report.add(
      'revocation_delete_ms_10000_clients_3_replicas',
      stat((r) => r.deleteMs),
      'ms',
      { note: "the DELETE's own latency on PostgreSQL" },
    )

    for (const replica of replicas) {
      // Only the replica that bootstrapped wrote the dataplane key file.
      const withKey = { ...replica, dataplaneKey: first.dataplaneKey }
      dataplanes.push(await startBenchDataplane(withKey, 'http://127.0.0.1:9', cores?.load))
    }
    const waits: number[] = []
    // A dataplane joins the fleet's waits once its replica has published it (a heartbeat, 500 ms):
    // warm up until all three confirm, then measure.
    let warmUps = 0
    for (let r = -1; r < (budget.quick ? 3 : 20); r++) {
      const issued = await tenant.login.client.me.issueKey('bench-enforced')
      const t0 = monotonicMs()
      const { enforcement } = await tenant.login.client.me.revokeKey(issued.key.id, {
        wait: 'enforced',
        timeoutMs: 5_000,
      })
      const took = monotonicMs() - t0
      if (
        r === -1 &&
        enforcement?.status === 'enforced' &&
        enforcement.enforced_by.length < 3 &&
        ++warmUps < 20
      ) {
        await sleep(250)
        r--
        continue
      }
      if (enforcement?.status !== 'enforced' || enforcement.enforced_by.length !== 3)
        throw new Error(`not enforced by the three dataplanes: ${JSON.stringify(enforcement)}`)
      if (r >= 0) waits.push(took)
      await sleep(50)
    }
    report.add('revocation_delete_enforced_ms_3_replicas', median(waits), 'ms', {
      note: 'DELETE ?wait=enforced on replica 1, one dataplane per replica (median)',
    })
  } finally {
    await Promise.all(dataplanes.map((d) => d.stop()))
    await Promise.all(replicas.map((r) => r.stop()))
    await db.drop().catch(() => {})
  }
}
