/**
 * @module The load generator: autocannon, run in this process (which is pinned to the load
 * core). Latency is recorded per response from autocannon's own timer with sub-millisecond
 * precision (its built-in histogram rounds to whole milliseconds, too coarse for a 1 ms target);
 * throughput is completed 2xx responses per second of the run.
 */
import { createRequire } from 'node:module'
import { Samples, summarize } from './stats.ts'

interface AutocannonResult {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  start: Date
  finish: Date
}
interface AutocannonInstance {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void
  on(event: 'done', fn: (result: AutocannonResult) => void): void
}
type Autocannon = (
  options: Record<string, unknown>,
  done: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

export interface LoadSpec {
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  connections: number
  durationSec: number
}

export interface LoadResult {
  rps: number
  p50Ms: number
  p99Ms: number
  ok: number
  /** Non-2xx responses, errors and timeouts: a healthy run has none. */
  failures: number
  /** The status of the first non-2xx response, to say what went wrong. */
  firstFailureStatus: number | undefined
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies = new Samples(1 << 16)
  let firstFailure: number | undefined
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: spec.method ?? 'GET',
        headers: spec.headers,
        body: spec.body,
        connections: spec.connections,
        duration: spec.durationSec,
        pipelining: 1,
      },
      (err, result) => {
        if (err) return reject(err)
        const seconds = (result.finish.getTime() - result.start.getTime()) / 1000
        const d = summarize(latencies)
        resolve({
          rps: latencies.length / seconds,
          p50Ms: d.p50,
          p99Ms: d.p99,
          ok: latencies.length,
          failures: result.non2xx + result.errors + result.timeouts,
          firstFailureStatus: firstFailure,
        })
      },
    )
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms)
      else firstFailure ??= status
    })
  })
}
