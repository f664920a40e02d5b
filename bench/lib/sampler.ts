/**
 * @module Timing synchronous calls. `sampleLatency` times every call on its own (for the
 * percentiles; the timer costs about 50 ns, the same for a floor and for what it bounds), and
 * `opsPerSecond` times a tight loop with no per-call timer (for throughput). Both warm up first
 * so that the JIT has optimised the call before anything is recorded.
 */
import { performance } from 'node:perf_hooks'
import { type Distribution, medianDistribution, median as medianOf, summarize } from './stats.ts'

/** Keeps results reachable so the JIT cannot drop the call. */
export let sink: unknown

export interface LatencyOptions {
  /** Calls timed per run. */
  samples: number
  /** Runs; the figure is the per-percentile median across them. */
  runs: number
  warmup?: number
}

/**
 * Per-call latency of `fn(i)` in microseconds. `i` counts up from 0 across the run, so a caller
 * can cycle through a pool of inputs.
 */
export function sampleLatency(fn: (i: number) => unknown, options: LatencyOptions): Distribution {
  const warmup = options.warmup ?? Math.min(options.samples, 20_000)
  for (let i = 0; i < warmup; i++) sink = fn(i)
  const runs: Distribution[] = []
  const buf = new Float64Array(options.samples)
  let i = 0
  for (let r = 0; r < options.runs; r++) {
    for (let s = 0; s < options.samples; s++) {
      const t0 = performance.now()
      sink = fn(i++)
      buf[s] = (performance.now() - t0) * 1000
    }
    runs.push(summarize(buf))
  }
  return medianDistribution(runs)
}

/**
 * A floor and what it bounds, run by turns (floor, subject, floor, subject, …) so that neither
 * always runs in the other's wake (a collection the other set off, a neighbour's burst).
 */
export function sampleLatencyPair(
  floor: (i: number) => unknown,
  subject: (i: number) => unknown,
  options: LatencyOptions,
): [floor: Distribution, subject: Distribution] {
  const once = { ...options, runs: 1 }
  const a: Distribution[] = []
  const b: Distribution[] = []
  for (let r = 0; r < options.runs; r++) {
    a.push(sampleLatency(floor, r === 0 ? once : { ...once, warmup: 1_000 }))
    b.push(sampleLatency(subject, r === 0 ? once : { ...once, warmup: 1_000 }))
  }
  return [medianDistribution(a), medianDistribution(b)]
}

/** Calls per second of `fn(i)` in a loop of about `ms` milliseconds; median of `runs`. */
export function opsPerSecond(fn: (i: number) => unknown, ms: number, runs: number): number {
  const rates: number[] = []
  let i = 0
  for (let r = 0; r < runs; r++) {
    let n = 0
    const start = performance.now()
    const end = start + ms
    let now = start
    while (now < end) {
      // Check the clock every 256 calls so its cost stays out of the rate.
      for (let k = 0; k < 256; k++) sink = fn(i++)
      n += 256
      now = performance.now()
    }
    rates.push(n / ((now - start) / 1000))
  }
  return medianOf(rates)
}
