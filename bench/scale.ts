/**
 * @module Scale. A control plane whose SQLite file already holds 1M live revocations (inserted
 * before it starts, into the schema its own migrations create), and:
 *
 * - the resident memory of a real dataplane that loaded all of them (its snapshot paging, its
 *   revocation set, its persisted copy), against the same dataplane with none;
 * - `GET /v1/tokens/revocations?since=` at 1M stored rows: the catch-up read a reconnecting
 *   dataplane makes (the last 100 entries), the full list in one response, and the paged full
 *   snapshot a starting dataplane reads (in the dataplane's own page size);
 * - control-plane write throughput with that table: API keys issued (`POST /v1/me/keys`) and
 *   revoked (`DELETE /v1/me/keys/{id}`) per second, 16 requests in flight; then the same with
 *   the control plane on PostgreSQL (`…_postgres`, a fresh database, dropped after).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { SNAPSHOT_PAGE_SIZE } from '../dataplane/sync/revocation-sync.ts'
import { Client } from '../shared/client/index.ts'
import { formatMicros } from '../shared/time.ts'
import type { TestControlPlane } from '../test/support/control-plane.ts'
import { REPO_ROOT, tempDir } from '../test/support/process.ts'
import type { Budget } from './lib/budget.ts'
import { corePlan, pin } from './lib/cpu.ts'
import { rssMb } from './lib/proc.ts'
import type { Report } from './lib/report.ts'
import { insertRevocations, readPagedSnapshot } from './lib/revocation-log.ts'
import { startScript } from './lib/servers.ts'
import { startBenchControlPlane, startBenchDataplane } from './lib/stack.ts'
import { median } from './lib/stats.ts'

/** Stored revocations; a quick run uses a tenth (its figures keep their names, not their meaning). */
const FULL_ROWS = 1_000_000
const QUICK_ROWS = 100_000
const PROVIDER_KEY = 'sk-bench-upstream'
const IN_FLIGHT = 16

export async function benchScale(report: Report, budget: Budget): Promise<void> {
  const cores = corePlan()
  const rows = budget.quick ? QUICK_ROWS : FULL_ROWS
  const dataDir = tempDir('agentrouter-bench-scale-')
  const stops: Array<() => Promise<void>> = []
  try {
    const upstream = await startScript(
      'bench/upstream.ts',
      { BENCH_UPSTREAM_KEY: PROVIDER_KEY },
      'upstream listening',
      cores?.upstream,
    )
    stops.push(() => upstream.stop())
    report.section(`scale (${rows.toLocaleString('en-US')} revocations)`)

    // The same dataplane with an empty list: what the 1M entries add (skipped by a quick run).
    let idleRss: number | undefined
    let idleReadyMs: number | undefined
    if (!budget.quick) {
      const emptyCp = await startBenchControlPlane(cores?.helper, {}, dataDir)
      const idleStart = performance.now()
      const idleDp = await startBenchDataplane(emptyCp, upstream.url, cores?.subject)
      idleReadyMs = performance.now() - idleStart
      await sleep(2_000)
      idleRss = rssMb(idleDp.process.child.pid)
      await idleDp.stop()
      await emptyCp.stop()
    }

    const insertStart = performance.now()
    const firstCursor = await insertRevocations(dataDir, rows)
    const insertMs = performance.now() - insertStart

    const cpStart = performance.now()
    const cp = await startBenchControlPlane(cores?.subject, {}, dataDir)
    stops.push(() => cp.stop())
    report.add('cp_start_ms_1m_revocations', performance.now() - cpStart, 'ms', {
      note: `rows inserted beforehand in ${Math.round(insertMs)} ms`,
    })

    // The dataplane joins a fleet: the control plane serving its snapshot is another machine,
    // so here it runs on the helper core while the dataplane starts on the subject core (as the
    // empty control plane of the floor did), and goes back to the subject core afterwards.
    pin(cp.process.child.pid, cores?.helper)
    const dpStart = performance.now()
    const dp = await startBenchDataplane(
      cp,
      upstream.url,
      cores?.subject,
      { AGENTROUTER_DP_PERSIST_DELAY: '100ms' },
      120_000,
    )
    stops.push(() => dp.stop())
    const ready = await dp.waitFor((r) => r.ready && r.revoked_jtis >= rows, 120_000)
    report.add('dp_ready_ms_1m_revocations', performance.now() - dpStart, 'ms', {
      floor: idleReadyMs,
      note: 'process start → ready with the full snapshot (the compact form); floor: the same start with an empty list',
    })
    pin(cp.process.child.pid, cores?.subject)
    // The sync alone (request → every entry in the set), from the dataplane's own log line.
    const loaded = /revocation snapshot loaded[^\n]*"format":"(\w+)"[^\n]*"ms":(\d+)/.exec(
      dp.process.output(),
    )
    if (loaded) {
      report.add('dp_snapshot_load_ms_1m_revocations', Number(loaded[2]), 'ms', {
        note: `the dataplane's snapshot read alone (${loaded[1]} form), without the process start`,
      })
    }
    // Let the snapshot write finish and the collector catch up, as a running sidecar would.
    await sleep(budget.quick ? 1_000 : 3_000)
    report.add('dp_rss_mb_1m_revocations', rssMb(dp.process.child.pid), 'MB', {
      floor: idleRss,
      note: `${ready.revoked_jtis.toLocaleString('en-US')} JTIs loaded; floor: the same dataplane with none`,
    })
    const heap = await dp.metric('agentrouter_dp_nodejs_heap_size_used_bytes')
    if (heap !== undefined) {
      report.add('dp_heap_used_mb_1m_revocations', heap / 1048576, 'MB', {
        note: "the dataplane's own heap gauge, garbage not yet collected included",
      })
    }
    await dp.stop()
    stops.pop()
    const set = revocationSetMemory(rows)
    report.add('dp_revocation_set_mb_1m', set.retained_mb, 'MB', {
      note: `RevocationSet alone after GC (heap + array buffers): ${Math.round(set.bytes_per_jti)} bytes per JTI`,
    })

    // Pinned to the load core for the reads: the control plane is the subject here.
    const admin = new Client({ baseUrl: cp.url, apiKey: cp.adminKey, timeoutMs: 120_000 })
    const tailSince = formatMicros(firstCursor + rows - 101)
    const tail = await timed(budget.quick ? 3 : 11, async () => {
      const page = await admin.tokens.getRevocationList({ since: tailSince })
      if (page.revocations.length !== 100) throw new Error(`tail read: ${page.revocations.length} rows`)
    })
    report.add('revocations_get_since_ms_1m_rows', tail, 'ms', {
      note: '`since` = 100 entries before the head',
    })
    const full = await timed(budget.quick ? 1 : 2, async () => {
      const res = await fetch(
        `${cp.url}/v1/tokens/revocations?since=${encodeURIComponent(formatMicros(0))}`,
        {
          headers: { authorization: `Bearer ${cp.adminKey}` },
        },
      )
      const text = await res.text()
      if (res.status !== 200 || text.length < rows * 50) throw new Error(`full list: HTTP ${res.status}`)
    })
    report.add('revocations_get_full_ms_1m_rows', full, 'ms', { note: 'all 1M in one response' })
    const paged = await timed(budget.quick ? 1 : 2, async () => {
      const total = await readPagedSnapshot(admin)
      if (total < rows) throw new Error(`paged snapshot: ${total} rows`)
    })
    report.add('revocations_snapshot_paged_ms_1m_rows', paged, 'ms', {
      note: `${SNAPSHOT_PAGE_SIZE.toLocaleString('en-US')} per page, as a dataplane reads it`,
    })

    // Write throughput: a logged-in user issuing, then revoking, keys.
    const count = budget.quick ? 50 : 600
    const sqlite = await keyWriteRates(cp, 'bench-scale@example.com', count)
    report.add('cp_key_issue_per_s', sqlite.issue, 'ops/s', { note: `SQLite, ${IN_FLIGHT} in flight` })
    report.add('cp_key_revoke_per_s', sqlite.revoke, 'ops/s', {
      note: `SQLite, ${IN_FLIGHT} in flight, 1M rows stored`,
    })
    await cp.stop()
    stops.pop()
    await keyWriteRatesPostgres(report, count, sqlite, cores?.subject)
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined)
    // A million rows are 130 MB on disk: not left behind in /tmp.
    rmSync(dataDir, { recursive: true, force: true })
  }
}

interface WriteRates {
  issue: number
  revoke: number
}

/**
 * A logged-in user issuing `count` keys, then revoking them, `IN_FLIGHT` at a time. The requests
 * are sent on a keep-alive pool so that the client's own cost stays out of the figure.
 */
async function keyWriteRates(cp: TestControlPlane, email: string, count: number): Promise<WriteRates> {
  const user = await cp.login(email)
  const ids: string[] = []
  const pool = new Pool(cp.url, { connections: IN_FLIGHT })
  const headers = { authorization: `Bearer ${user.sessionToken}`, 'content-type': 'application/json' }
  const call = async (method: 'POST' | 'DELETE', path: string, body?: string): Promise<unknown> => {
    const res = await pool.request({ method, path, headers, body })
    const json = await res.body.json()
    if (res.statusCode !== 200)
      throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${JSON.stringify(json)}`)
    return json
  }
  try {
    const issue = await throughput(count, async () => {
      const issued = (await call('POST', '/v1/me/keys', '{"name":"bench-write"}')) as { key: { id: string } }
      ids.push(issued.key.id)
    })
    const revoke = await throughput(count, async (i) => {
      await call('DELETE', `/v1/me/keys/${ids[i]}`)
    })
    return { issue, revoke }
  } finally {
    await pool.close()
  }
}

const PG_ISSUE = 'cp_key_issue_per_s_postgres'
const PG_REVOKE = 'cp_key_revoke_per_s_postgres'

/**
 * The same writes with the control plane on PostgreSQL: a fresh database (so no stored
 * revocations, unlike the SQLite figures' 1M rows), a root key as PostgreSQL requires, the
 * control plane on the same core; the PostgreSQL server itself runs outside the core plan.
 * Each figure's floor is SQLite's in this run. Without a server both are reported missing.
 */
async function keyWriteRatesPostgres(
  report: Report,
  count: number,
  sqlite: WriteRates,
  core: number | undefined,
): Promise<void> {
  const { POSTGRES_SKIP, createTestDatabase } = await import('../test/support/postgres.ts')
  if (POSTGRES_SKIP) {
    report.missing(PG_ISSUE, `no PostgreSQL: ${POSTGRES_SKIP}`)
    report.missing(PG_REVOKE, `no PostgreSQL: ${POSTGRES_SKIP}`)
    return
  }
  const db = await createTestDatabase()
  let cp: TestControlPlane | undefined
  try {
    cp = await startBenchControlPlane(core, {
      AGENTROUTER_DATABASE_URL: db.url,
      AGENTROUTER_ROOT_KEY: randomBytes(32).toString('base64'),
    })
    const pg = await keyWriteRates(cp, 'bench-scale-pg@example.com', count)
    const floor = "floor: SQLite's figure above (ratio = PostgreSQL ÷ SQLite)"
    report.add(PG_ISSUE, pg.issue, 'ops/s', {
      floor: sqlite.issue,
      note: `PostgreSQL, ${IN_FLIGHT} in flight; ${floor}`,
    })
    report.add(PG_REVOKE, pg.revoke, 'ops/s', {
      floor: sqlite.revoke,
      note: `PostgreSQL, ${IN_FLIGHT} in flight, fresh database (none stored); ${floor}`,
    })
  } finally {
    await cp?.stop().catch(() => undefined)
    await db.drop().catch(() => undefined)
  }
}

/** bench/revocation-set-memory.ts in a fresh process. */
function revocationSetMemory(rows: number): { retained_mb: number; bytes_per_jti: number } {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', join(REPO_ROOT, 'bench/revocation-set-memory.ts'), String(rows)],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  )
  return JSON.parse(out) as { retained_mb: number; bytes_per_jti: number }
}

async function timed(runs: number, fn: () => Promise<void>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    await fn()
    times.push(performance.now() - t0)
  }
  return median(times)
}

async function throughput(count: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) await op(next++)
    }),
  )
  return count / ((performance.now() - t0) / 1000)
}
