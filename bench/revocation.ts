/**
 * @module Revocation propagation. The control plane (a real process on the subject core) revokes
 * an API key through `DELETE /v1/me/keys/{id}`, and the benchmark times:
 *
 * - end to end, what a user sees: from the DELETE returning to the first 401 at a real dataplane
 *   (a request loop polling it back to back; the figure is the arrival of the first 401 among
 *   requests sent after the DELETE returned, so it includes one request's round trip). Also the
 *   DELETE's own latency, plain and with `?wait=enforced`;
 * - fan-out: until each of N stream subscribers (N = 1, 10, 100, 1000; the dataplane's own sync
 *   code, all in this process on the load core, so the p99 includes their queueing behind each
 *   other: an upper bound on N separate dataplanes) has applied it, from the DELETE being sent;
 *   at 1000, also until each has acknowledged it (journaled and fsynced: what `?wait=enforced`
 *   waits for), a thousand journals fsyncing on one disk at once;
 * - the journal's fsync cost per applied batch: one `RevocationJournal` in a temporary directory
 *   (the disk the dataplanes write to), committing one entry at a time as a revocation arriving
 *   alone does (write + fdatasync), and batches of 100 as a burst does.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { RevocationJournal } from '../dataplane/sync/revocation-journal.ts'
import { newId } from '../shared/ids.ts'
import { formatMicros } from '../shared/time.ts'
import { tempDir } from '../test/support/process.ts'
import type { Budget } from './lib/budget.ts'
import { corePlan } from './lib/cpu.ts'
import { mainThreadCpuMs } from './lib/proc.ts'
import type { Report } from './lib/report.ts'
import { type Server, startScript } from './lib/servers.ts'
import { createTenant, startBenchControlPlane, startBenchDataplane, type Tenant } from './lib/stack.ts'
import { median, percentile } from './lib/stats.ts'
import { Subscriber } from './lib/subscribers.ts'

const PROVIDER_KEY = 'sk-bench-upstream'
const FAN_OUT = [1, 10, 100, 1000]
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
    const subscribers: Subscriber[] = []
    stops.push(async () => {
      await Promise.all(subscribers.map((s) => s.stop()))
      rmSync(stateDir, { recursive: true, force: true })
    })
    for (const n of FAN_OUT) {
      await connectSubscribers(subscribers, n, cp.url, cp.dataplaneKey, stateDir)
      await sleep(200)
      const runs: FanOut[] = []
      for (let r = 0; r < reps; r++) runs.push(await fanOut(tenant, subscribers, cp.process.child.pid))
      report.add(`revocation_p50_ms_${n}_clients`, median(runs.map((x) => x.p50)), 'ms')
      report.add(`revocation_p99_ms_${n}_clients`, median(runs.map((x) => x.p99)), 'ms')
      report.add(`revocation_max_ms_${n}_clients`, median(runs.map((x) => x.max)), 'ms')
      if (n === FAN_OUT.at(-1)) {
        // What the p99 is made of: the control plane's reaction (the first subscriber), then a
        // slope that is the per-subscriber cost of whichever side is slower.
        report.add(`revocation_ack_p99_ms_${n}_clients`, median(runs.map((x) => x.ackP99)), 'ms', {
          note: 'DELETE sent → acknowledged (journal fsynced), 1000 journals on one disk',
        })
        report.add(`revocation_first_ms_${n}_clients`, median(runs.map((x) => x.min)), 'ms', {
          note: 'DELETE sent → first subscriber applied',
        })
        report.add(
          `revocation_per_client_us_${n}_clients`,
          median(runs.map((x) => ((x.max - x.min) * 1000) / (n - 1))),
          'µs',
          { note: 'added per subscriber, all in one process' },
        )
        report.add(`revocation_cp_cpu_ms_${n}_clients`, median(runs.map((x) => x.cpCpuMs)), 'ms', {
          note: "control plane's main thread CPU, DELETE sent → last applied",
        })
        report.add(`revocation_subscribers_cpu_ms_${n}_clients`, median(runs.map((x) => x.ownCpuMs)), 'ms', {
          note: "the subscribers' process, same window",
        })
      }
    }
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined)
  }
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

async function connectSubscribers(
  subscribers: Subscriber[],
  n: number,
  controlPlaneUrl: string,
  dataplaneKey: string,
  stateDir: string,
): Promise<void> {
  mkdirSync(stateDir, { recursive: true })
  while (subscribers.length < n) {
    const batch: Subscriber[] = []
    for (let i = 0; i < 50 && subscribers.length + batch.length < n; i++) {
      batch.push(
        new Subscriber(controlPlaneUrl, dataplaneKey, stateDir, `bench-sub-${subscribers.length + i}`),
      )
    }
    await Promise.all(batch.map((s) => s.start()))
    await Promise.all(batch.map((s) => s.connected()))
    subscribers.push(...batch)
  }
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
async function fanOut(tenant: Tenant, subscribers: Subscriber[], cpPid: number | undefined): Promise<FanOut> {
  const issued = await tenant.login.client.me.issueKey('bench-fanout')
  const jti = issued.key.id
  const watched = new Set([jti])
  for (const s of subscribers) s.watch(watched)
  const writes = subscribers.map((s) => s.writes)
  const cp0 = mainThreadCpuMs(cpPid)
  const own0 = mainThreadCpuMs(process.pid)
  const t0 = performance.now()
  await tenant.login.client.me.revokeKey(jti)
  const deadline = Date.now() + 15_000
  while (!subscribers.every((s) => s.appliedAt.has(jti))) {
    if (Date.now() > deadline) {
      const late = subscribers.filter((s) => !s.appliedAt.has(jti)).length
      throw new Error(`fan-out: ${late} of ${subscribers.length} subscribers did not apply ${jti} in 15 s`)
    }
    await sleep(2)
  }
  const cpCpuMs = mainThreadCpuMs(cpPid) - cp0
  const ownCpuMs = mainThreadCpuMs(process.pid) - own0
  const latencies = Float64Array.from(subscribers.map((s) => s.appliedAt.get(jti)! - t0)).sort()
  while (!subscribers.every((s) => s.ackedAt.has(jti))) {
    if (Date.now() > deadline) {
      const late = subscribers.filter((s) => !s.ackedAt.has(jti)).length
      throw new Error(
        `fan-out: ${late} of ${subscribers.length} subscribers did not acknowledge ${jti} in 15 s`,
      )
    }
    await sleep(2)
  }
  const acks = Float64Array.from(subscribers.map((s) => s.ackedAt.get(jti)! - t0)).sort()
  for (const s of subscribers) {
    s.appliedAt.delete(jti)
    s.ackedAt.delete(jti)
  }
  // Each subscriber persists its set a second later: the next revocation waits for all of those
  // writes, or it would be measured against a thousand snapshot writes. (Not in a quick run.)
  const writesDue = Date.now() + (settleMs < SETTLE_MS ? 0 : 30_000)
  while (subscribers.some((s, i) => s.writes <= writes[i]!) && Date.now() < writesDue) await sleep(20)
  await sleep(100)
  return {
    cpCpuMs,
    ownCpuMs,
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
