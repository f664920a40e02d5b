/**
 * @module Proxy overhead: autocannon (50 connections) against a local OpenAI-like upstream,
 * for a plain JSON completion and an SSE stream, through each hop a user could put in front of
 * it: none (direct), the bare undici pass-through (the floor of a Node hop), the dataplane (auth
 * + BYOK injection), Portkey's open-source gateway (the peer), and nginx (the C reference) when
 * it is installed. The hop under test has a core to itself; rounds interleave the hops so that
 * drift on a shared machine lands on all of them, and each figure is the median over rounds.
 * Besides req/s and latency, each hop's CPU time per request is read from /proc: the figure that
 * still compares hops when the load generator, not the hop, is what saturates.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Budget } from './lib/budget.ts'
import { corePlan } from './lib/cpu.ts'
import { type LoadResult, runLoad } from './lib/load.ts'
import { treeCpuSeconds } from './lib/proc.ts'
import type { Report } from './lib/report.ts'
import { nginxPath, type Server, startNginx, startPortkey, startScript } from './lib/servers.ts'
import { createTenant, startBenchControlPlane, startBenchDataplane } from './lib/stack.ts'
import { median } from './lib/stats.ts'

const PROVIDER_KEY = 'sk-bench-upstream'
const CONNECTIONS = 50
const PATH = '/v1/chat/completions'
const JSON_BODY = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello.' }],
})
const SSE_BODY = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello.' }],
  stream: true,
})
/**
 * Saturated (50 connections: throughput, and latency under queueing) for JSON and SSE; and one
 * connection (latency with no queue: what the hop itself adds to a request).
 */
const MODES = {
  json: { body: JSON_BODY, connections: CONNECTIONS, suffix: '' },
  sse: { body: SSE_BODY, connections: CONNECTIONS, suffix: '_sse' },
  json_1conn: { body: JSON_BODY, connections: 1, suffix: '_1conn' },
}
type Mode = keyof typeof MODES
const MODE_NAMES = Object.keys(MODES) as Mode[]

export const HOPS = ['direct', 'bare_undici', 'dataplane', 'portkey', 'nginx'] as const
type HopName = (typeof HOPS)[number]

interface Hop {
  name: HopName
  server: Server
  headers: Record<string, string>
}

let settleMs = 200

interface Sample extends LoadResult {
  cpuUsPerReq: number
}

export async function benchProxy(report: Report, budget: Budget): Promise<void> {
  const cores = corePlan()
  const seconds = budget.quick ? { json: 0.5, sse: 0.5, json_1conn: 0.5 } : { json: 3, sse: 3, json_1conn: 2 }
  settleMs = budget.quick ? 50 : 200
  const rounds = budget.quick ? 1 : 3
  const unloadedRounds = budget.quick ? 1 : 2
  const started: Server[] = []
  const hops: Hop[] = []
  const missing = new Map<HopName, string>()
  const keep = <T extends Server>(s: T): T => {
    started.push(s)
    return s
  }
  try {
    const env = { BENCH_UPSTREAM_KEY: PROVIDER_KEY }
    // The upstream the hops forward to shares the load core; the one measured directly is the
    // subject itself, so it gets the subject core.
    const upstream = keep(await startScript('bench/upstream.ts', env, 'upstream listening', cores?.upstream))
    const direct = keep(await startScript('bench/upstream.ts', env, 'upstream listening', cores?.subject))
    hops.push({ name: 'direct', server: direct, headers: { authorization: `Bearer ${PROVIDER_KEY}` } })

    const bare = keep(
      await startScript(
        'bench/bare-proxy.ts',
        { BENCH_UPSTREAM: upstream.url, BENCH_UPSTREAM_KEY: PROVIDER_KEY },
        'proxy listening',
        cores?.subject,
      ),
    )
    hops.push({ name: 'bare_undici', server: bare, headers: { authorization: 'Bearer client-credential' } })

    const cp = await startBenchControlPlane(cores?.helper)
    started.push({ url: cp.url, pid: cp.process.child.pid, stop: () => cp.stop() })
    const dp = await startBenchDataplane(cp, upstream.url, cores?.subject)
    started.push({ url: dp.url, pid: dp.process.child.pid, stop: () => dp.stop() })
    const tenant = await createTenant(cp, 'bench-proxy@example.com', PROVIDER_KEY)
    hops.push({
      name: 'dataplane',
      server: { url: dp.url, pid: dp.process.child.pid, stop: () => dp.stop() },
      headers: { authorization: `Bearer ${tenant.apiKey}` },
    })

    try {
      const portkey = keep(await startPortkey(cores?.subject))
      hops.push({
        name: 'portkey',
        server: portkey,
        headers: {
          authorization: `Bearer ${PROVIDER_KEY}`,
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${upstream.url}/v1`,
        },
      })
    } catch (err) {
      missing.set('portkey', (err as Error).message.split('\n')[0]!)
    }

    const nginx = nginxPath()
    if (!nginx) missing.set('nginx', 'nginx is not installed (apt-get install nginx-light)')
    else {
      try {
        const server = keep(await startNginx(nginx, upstream.url, PROVIDER_KEY, cores?.subject))
        hops.push({ name: 'nginx', server, headers: { authorization: 'Bearer client-credential' } })
      } catch (err) {
        missing.set('nginx', (err as Error).message.split('\n')[0]!)
      }
    }

    // Every hop must answer correctly, or its speed means nothing.
    for (const hop of [...hops]) {
      const problem = await checkHop(hop)
      if (problem) {
        missing.set(hop.name, problem)
        hops.splice(hops.indexOf(hop), 1)
      }
    }

    // Warm-up: the JIT, the pools and the caches, outside the figures.
    if (!budget.quick)
      for (const hop of hops) for (const mode of ['json', 'sse'] as Mode[]) await measure(hop, mode, 1)

    const samples = new Map<string, Sample[]>()
    for (let r = 0; r < rounds; r++) {
      // A different order each round, so that no hop always runs after the same neighbour.
      const order = hops.map((_, i) => hops[(i + r) % hops.length]!)
      for (const hop of order) {
        for (const mode of MODE_NAMES) {
          if (mode === 'json_1conn' && r >= unloadedRounds) continue
          const s = await measure(hop, mode, seconds[mode])
          if (s.failures > 0) {
            throw new Error(
              `${hop.name} (${mode}): ${s.failures} failed responses (first status ${s.firstFailureStatus})`,
            )
          }
          const key = `${hop.name}/${mode}`
          samples.set(key, [...(samples.get(key) ?? []), s])
        }
      }
    }
    record(report, samples, missing)
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => undefined)
  }
}

async function measure(hop: Hop, mode: Mode, durationSec: number): Promise<Sample> {
  const cpu0 = treeCpuSeconds(hop.server.pid)
  const result = await runLoad({
    url: hop.server.url + PATH,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...hop.headers },
    body: MODES[mode].body,
    connections: MODES[mode].connections,
    durationSec,
  })
  const cpu = treeCpuSeconds(hop.server.pid) - cpu0
  // Let sockets and timers from the run settle before the next one starts.
  await sleep(settleMs)
  return { ...result, cpuUsPerReq: result.ok ? (cpu * 1e6) / result.ok : Number.NaN }
}

/** One JSON and one streamed completion through the hop; a description of what is wrong, if anything. */
async function checkHop(hop: Hop): Promise<string | undefined> {
  try {
    for (const mode of ['json', 'sse'] as Mode[]) {
      const res = await fetch(hop.server.url + PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...hop.headers },
        body: MODES[mode].body,
      })
      const text = await res.text()
      if (res.status !== 200) return `${mode}: HTTP ${res.status}: ${text.slice(0, 200)}`
      const complete = mode === 'json' ? text.includes('"chat.completion"') : text.includes('data: [DONE]')
      if (!complete) return `${mode}: unexpected body: ${text.slice(0, 200)}`
    }
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

function record(report: Report, samples: Map<string, Sample[]>, missing: Map<HopName, string>): void {
  const med = (hop: HopName, mode: Mode, field: keyof Sample): number | undefined => {
    const list = samples.get(`${hop}/${mode}`)
    return list ? median(list.map((s) => s[field] as number)) : undefined
  }
  const titles: Record<Mode, string> = {
    json: `proxy, plain JSON (${CONNECTIONS} connections)`,
    sse: `proxy, SSE stream (${CONNECTIONS} connections)`,
    json_1conn: 'proxy, plain JSON, one connection (latency with no queueing)',
  }
  for (const mode of MODE_NAMES) {
    const sfx = MODES[mode].suffix
    report.section(titles[mode])
    const floor = {
      rps: med('bare_undici', mode, 'rps'),
      p50: med('bare_undici', mode, 'p50Ms'),
      p99: med('bare_undici', mode, 'p99Ms'),
      cpu: med('bare_undici', mode, 'cpuUsPerReq'),
    }
    for (const hop of HOPS) {
      const rps = med(hop, mode, 'rps')
      if (rps === undefined) {
        report.missing(`proxy_*_${hop}${sfx}`, missing.get(hop) ?? 'not measured')
        continue
      }
      const vsFloor = hop !== 'bare_undici' && hop !== 'direct'
      // One connection's req/s is only 1 / latency: not a throughput figure.
      if (mode !== 'json_1conn') {
        report.add(`proxy_rps_${hop}${sfx}`, rps, 'req/s', {
          floor: vsFloor ? floor.rps : undefined,
        })
      }
      report.add(`proxy_p50_ms_${hop}${sfx}`, med(hop, mode, 'p50Ms')!, 'ms', {
        floor: vsFloor ? floor.p50 : undefined,
      })
      report.add(`proxy_p99_ms_${hop}${sfx}`, med(hop, mode, 'p99Ms')!, 'ms', {
        floor: vsFloor ? floor.p99 : undefined,
      })
      report.add(`proxy_cpu_us_per_req_${hop}${sfx}`, med(hop, mode, 'cpuUsPerReq')!, 'µs CPU/req', {
        floor: vsFloor ? floor.cpu : undefined,
      })
    }
    const dp = med('dataplane', mode, 'rps')
    const dpP99 = med('dataplane', mode, 'p99Ms')
    if (dpP99 !== undefined && floor.p99 !== undefined) {
      report.add(`proxy_p99_added_ms_dataplane${sfx}`, dpP99 - floor.p99, 'ms', {
        note: 'dataplane p99 − bare undici p99',
      })
    }
    const pk = med('portkey', mode, 'rps')
    if (dp !== undefined && pk !== undefined && mode !== 'json_1conn') {
      report.add(`proxy_rps_dataplane_over_portkey${sfx}`, dp / pk, '×')
    }
  }
}
