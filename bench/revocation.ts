/**
 * @module Revocation propagation. The control plane (a real process on the subject core) revokes
 * an API key through `DELETE /v1/me/keys/{id}`, and the benchmark times:
 *
 * - end to end, what a user sees: from the DELETE returning to the first 401 at a real dataplane
 *   (a request loop polling it back to back; the figure is the arrival of the first 401 among
 *   requests sent after the DELETE returned, so it includes one request's round trip). Also the
 *   DELETE's own latency, plain and with `?wait=enforced`;
 * - fan-out: until each of N stream subscribers (N = 1, 10, 100, 1000; the dataplane's own sync
 *   code with its own journal each, spread over a few child processes on the load core, as a
 *   fleet has one journal per process: see lib/sync-fleet.ts; the p99 still includes their
 *   queueing behind each other on that one core, an upper bound on N separate dataplanes) has
 *   applied it, from the DELETE being sent; at 1000, also until each has acknowledged it
 *   (journaled and fsynced: what `?wait=enforced` waits for), a thousand journals fsyncing on
 *   one disk at once;
 * - the journal's fsync cost per applied batch: one `RevocationJournal` in a temporary directory
 *   (the disk the dataplanes write to), committing one entry at a time as a revocation arriving
 *   alone does (write + fdatasync), and batches of 100 as a burst does.
 */
import { rmSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { RevocationJournal } from '../dataplane/sync/revocation-journal.ts'
import { newId } from '../shared/ids.ts'
import { formatMicros } from '../shared/time.ts'
import { tempDir } from '../test/support/process.ts'
import type { Budget } from './lib/budget.ts'
import { type CorePlan, corePlan } from './lib/cpu.ts'
import { monotonicMs } from './lib/fanout-fleet.ts'
import { mainThreadCpuMs } from './lib/proc.ts'
import type { Report } from './lib/report.ts'
import { type Server, startScript } from './lib/servers.ts'
import { createTenant, startBenchControlPlane, startBenchDataplane, type Tenant } from './lib/stack.ts'
import { median, percentile } from './lib/stats.ts'
import { SyncFleet } from './lib/sync-fleet.ts'

const PROVIDER_KEY = 'sk-bench-upstream'
const FAN_OUT = [1, 10, 100, 1000]
const DEFAULT_SYNC_PROCESSES = 4
const DEFAULT_SYNC_CORES = 'load'
/** A subscriber persists its set 1 s after a change: the next revocation waits until that is done. */
const SETTLE_MS = 1_300
let settleMs = SETTLE_MS

export async function benchRevocation(report: Report, budget: Budget): Promise<void> {
  const cores = corePlan()
  const reps = budget.quick ? 1 : 5
  settleMs = budget.quick ? 200 : SETTLE_MS
  const cp = await startBenchControlPlane(cores?.subject)
  const stops: Array<() => Promise<void> | void> = [() => cp.stop()]
  try {
    const upstream: Server = await startScript(
      'bench/upstream.ts',
      { BENCH_UPSTREAM_KEY: PROVIDER_KEY },
      'upstream listening',
      cores?.upstream,
    )
    stops.push(() => upstream.stop())
    const tenant = await createTenant(cp, 'bench-revocation@example.com', PROVIDER_KEY)

    report.section('revocation propagation')
    const dp = await startBenchDataplane(cp, upstream.url, cores?.subject)
    const e2e: number[] = []
    const fromRequest: number[] = []
    const deleteMs: number[] = []
    for (let r = 0; r < reps; r++) {
      const m = await endToEnd(tenant, dp.url).catch((err: Error) => {
        throw new Error(`${err.message}; the dataplane said:\n${dp.process.output().slice(-3000)}`)
      })
      e2e.push(m.e2eMs)
      fromRequest.push(m.fromRequestMs)
      deleteMs.push(m.deleteMs)
    }
    const enforced: number[] = []
    for (let r = 0; r < Math.max(1, reps - 2); r++) enforced.push(await revokeEnforced(tenant))
    await dp.stop()

    report.add('revocation_e2e_ms', median(e2e), 'ms', {
      note: 'DELETE returns → first 401 at a dataplane',
    })
    report.add('revocation_e2e_max_ms', Math.max(...e2e), 'ms')
    report.add('revocation_e2e_from_request_ms', median(fromRequest), 'ms', {
      note: 'DELETE sent → first 401',
    })
    report.add('revocation_delete_ms', median(deleteMs), 'ms')
    report.add('revocation_delete_enforced_ms', median(enforced), 'ms', {
      note: '?wait=enforced, one dataplane (its ack waits for the journal fsync)',
    })

    const journal = await journalCost(budget.quick ? 50 : 500, budget.quick ? 10 : 100)
    report.add('revocation_journal_fsync_p50_us', journal.single.p50, 'µs', {
      note: 'journal write + fdatasync of one applied batch (1 entry)',
    })
    report.add('revocation_journal_fsync_p99_us', journal.single.p99, 'µs')
    report.add('revocation_journal_fsync_p50_us_100_entries', journal.hundred.p50, 'µs', {
      note: 'a batch of 100 entries: one write, one fdatasync',
    })
    report.add('revocation_journal_fsync_p99_us_100_entries', journal.hundred.p99, 'µs')

    const stateDir = tempDir('agentrouter-bench-subscribers-')
    const processes = syncProcesses()
    const subscriberCores = syncCores(cores)
    const where =
      cores === undefined ? 'not pinned' : subscriberCores.length > 1 ? 'on both cores' : 'on one core'
    const fleet = await SyncFleet.start(processes, subscriberCores)
    stops.push(async () => {
      await fleet.stop()
      rmSync(stateDir, { recursive: true, force: true })
    })
    for (const n of FAN_OUT) {
      await fleet.grow(n, cp.url, cp.dataplaneKey, stateDir)
      await sleep(200)
      const runs: FanOut[] = []
      for (let r = 0; r < reps; r++) runs.push(await fanOut(tenant, fleet, cp.process.child.pid))
      report.add(`revocation_p50_ms_${n}_clients`, median(runs.map((x) => x.p50)), 'ms')
      report.add(`revocation_p99_ms_${n}_clients`, median(runs.map((x) => x.p99)), 'ms', {
        note: `DELETE sent → applied by each of ${n.toLocaleString('en-US')} full dataplane syncs (own journal each), ${Math.min(n, processes)} process${Math.min(n, processes) > 1 ? 'es' : ''} ${where}`,
      })
      report.add(`revocation_max_ms_${n}_clients`, median(runs.map((x) => x.max)), 'ms')
      if (n === FAN_OUT.at(-1)) {
        // What the p99 is made of: the control plane's reaction (the first subscriber), then a
        // slope that is the per-subscriber cost of whichever side is slower.
        report.add(`revocation_ack_p99_ms_${n}_clients`, median(runs.map((x) => x.ackP99)), 'ms', {
          note: `DELETE sent → acknowledged (journal fsynced), ${n.toLocaleString('en-US')} journals over ${processes} processes, one disk`,
        })
        report.add(`revocation_first_ms_${n}_clients`, median(runs.map((x) => x.min)), 'ms', {
          note: 'DELETE sent → first subscriber applied',
        })
        report.add(
          `revocation_per_client_us_${n}_clients`,
          median(runs.map((x) => ((x.max - x.min) * 1000) / (n - 1))),
          'µs',
          { note: `added per subscriber, ${processes} processes ${where}` },
        )
        report.add(`revocation_cp_cpu_ms_${n}_clients`, median(runs.map((x) => x.cpCpuMs)), 'ms', {
          note: "control plane's main thread CPU, DELETE sent → last applied",
        })
        report.add(`revocation_subscribers_cpu_ms_${n}_clients`, median(runs.map((x) => x.ownCpuMs)), 'ms', {
          note: `the subscribers' ${processes} processes (main threads), each until its last applied`,
        })
      }
    }
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined)
  }
}

/**
 * Processes the full-sync subscribers are spread over (`BENCH_SYNC_PROCESSES` to try others):
 * on one core, 4 measured best of 1, 2, 4 and 8 (see the README's Performance section).
 */
/**
 * The cores the subscribers' processes are pinned to (`BENCH_SYNC_CORES`): `load` (default), the
 * load generator's core, leaving the control plane its own; `both`, dealt over the load and the
 * subject core, the control plane's, whose sends are over once the last frame is written.
 */
function syncCores(cores: CorePlan | undefined): Array<number | undefined> {
  const choice = process.env.BENCH_SYNC_CORES ?? DEFAULT_SYNC_CORES
  if (choice !== 'load' && choice !== 'both') throw new Error('BENCH_SYNC_CORES: load or both')
  if (!cores) return [undefined]
  return choice === 'both' ? [cores.load, cores.subject] : [cores.load]
}

function syncProcesses(): number {
  const n = Number(process.env.BENCH_SYNC_PROCESSES ?? DEFAULT_SYNC_PROCESSES)
  if (!Number.isInteger(n) || n < 1) throw new Error('BENCH_SYNC_PROCESSES: a positive integer')
  return n
}

/** Revokes a fresh key while polling a dataplane with it; times the first 401. */
async function endToEnd(
  tenant: Tenant,
  dataplaneUrl: string,
): Promise<{ e2eMs: number; fromRequestMs: number; deleteMs: number }> {
  const issued = await tenant.login.client.me.issueKey('bench-e2e')
  const pool = new Pool(dataplaneUrl, { connections: 1 })
  const headers = { authorization: `Bearer ${issued.secret}` }
  let deleteReturnedAt: number | undefined
  let okCount = 0
  let failed: unknown
  const poll = (async () => {
    let firstAny: number | undefined
    const deadline = performance.now() + 10_000
    while (performance.now() < deadline) {
      const sentAt = performance.now()
      const res = await pool.request({ path: '/v1/models', method: 'GET', headers })
      await res.body.dump()
      const at = performance.now()
      if (res.statusCode === 200) {
        okCount++
        continue
      }
      if (res.statusCode !== 401) throw new Error(`e2e poll: unexpected HTTP ${res.statusCode}`)
      firstAny ??= at
      if (deleteReturnedAt !== undefined && sentAt >= deleteReturnedAt) return { firstAny, first: at }
    }
    throw new Error('e2e poll: no 401 within 10 s of the revocation')
  })()
  poll.catch((err) => {
    failed = err
  })
  while (okCount < 20 && failed === undefined) await sleep(5)
  if (failed !== undefined) throw failed
  const deleteSentAt = performance.now()
  await tenant.login.client.me.revokeKey(issued.key.id)
  deleteReturnedAt = performance.now()
  const { firstAny, first } = await poll
  await pool.close()
  await sleep(settleMs)
  return {
    e2eMs: first - deleteReturnedAt,
    fromRequestMs: firstAny - deleteSentAt,
    deleteMs: deleteReturnedAt - deleteSentAt,
  }
}

async function revokeEnforced(tenant: Tenant): Promise<number> {
  const issued = await tenant.login.client.me.issueKey('bench-enforced')
  const t0 = performance.now()
  const res = await tenant.login.client.me.revokeKey(issued.key.id, { wait: 'enforced' })
  const ms = performance.now() - t0
  if (res.enforcement?.status !== 'enforced') {
    throw new Error(`?wait=enforced answered ${JSON.stringify(res.enforcement)}`)
  }
  await sleep(settleMs)
  return ms
}

interface FanOut {
  /** CPU time each side's main thread spent between the DELETE and the last apply. */
  cpCpuMs: number
  ownCpuMs: number
  min: number
  p50: number
  p99: number
  max: number
  /** p99 of DELETE sent → the subscriber acknowledged it (on disk). */
  ackP99: number
}

/** Revokes a fresh key and waits for every subscriber to apply it; per-subscriber latency from the DELETE. */
async function fanOut(tenant: Tenant, fleet: SyncFleet, cpPid: number | undefined): Promise<FanOut> {
  const issued = await tenant.login.client.me.issueKey('bench-fanout')
  const jti = issued.key.id
  let t0 = 0
  let cp0 = 0
  let cpCpuMs = 0
  // Each subscriber persists its set a second later: the next revocation waits for all of
  // those writes (not in a quick run).
  const round = await fleet.round(
    jti,
    settleMs >= SETTLE_MS,
    async () => {
      cp0 = mainThreadCpuMs(cpPid)
      t0 = monotonicMs()
      await tenant.login.client.me.revokeKey(jti)
    },
    () => {
      cpCpuMs = mainThreadCpuMs(cpPid) - cp0
    },
  )
  const latencies = round.applied.map((t) => t - t0).sort()
  const acks = round.acked.map((t) => t - t0).sort()
  await sleep(100)
  return {
    cpCpuMs,
    ownCpuMs: round.cpuMs,
    min: latencies[0]!,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1]!,
    ackP99: percentile(acks, 99),
  }
}

/** Write + fdatasync per commit of one journal, in µs: `single` commits 1 entry, `hundred` 100. */
async function journalCost(
  singles: number,
  hundreds: number,
): Promise<{ single: { p50: number; p99: number }; hundred: { p50: number; p99: number } }> {
  const dir = tempDir('agentrouter-bench-journal-')
  const journal = new RevocationJournal(dir)
  try {
    await journal.replay(0, () => {})
    let micros: number[] = []
    journal.onCommitted = (_entries, us) => micros.push(us)
    let cursor = 0
    const commit = async (entries: number) => {
      for (let i = 0; i < entries; i++) journal.append(newId('apiKey'), 2e9, formatMicros(++cursor))
      await journal.commit()
    }
    for (let i = 0; i < 20; i++) await commit(1) // the segment's creation, and a warm disk
    const measure = async (count: number, entries: number) => {
      micros = []
      for (let i = 0; i < count; i++) await commit(entries)
      const sorted = Float64Array.from(micros).sort()
      return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
    }
    return { single: await measure(singles, 1), hundred: await measure(hundreds, 100) }
  } finally {
    await journal.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
