/**
 * @module Order statistics of latency samples, and the median that folds repeated runs into one
 * figure. Samples are kept in typed arrays so that recording one allocates nothing.
 */

export interface Distribution {
  p50: number
  p99: number
  p999: number
  max: number
  mean: number
  count: number
}

/** A growable Float64Array: `push` allocates only when it doubles. */
export class Samples {
  #data: Float64Array
  #length = 0

  constructor(capacity = 1024) {
    this.#data = new Float64Array(capacity)
  }

  get length(): number {
    return this.#length
  }

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2)
      bigger.set(this.#data)
      this.#data = bigger
    }
    this.#data[this.#length++] = value
  }

  values(): Float64Array {
    return this.#data.subarray(0, this.#length)
  }
}

/** Nearest-rank percentile of an ascending array; `p` in [0, 100]. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** p50, p99, p99.9, max and mean of the samples (which it does not modify). */
export function summarize(samples: Float64Array | Samples): Distribution {
  const values = samples instanceof Samples ? samples.values() : samples
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    count: sorted.length,
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The per-field median of several runs' distributions. */
export function medianDistribution(runs: readonly Distribution[]): Distribution {
  const field = (k: keyof Distribution) => median(runs.map((r) => r[k]))
  return {
    p50: field('p50'),
    p99: field('p99'),
    p999: field('p999'),
    max: field('max'),
    mean: field('mean'),
    count: runs.reduce((n, r) => n + r.count, 0),
  }
}
