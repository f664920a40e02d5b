/**
 * @module Counters and histograms for the request path. prom-client builds a label-hash string
 * on every `inc` and `observe` (even through a `labels()` child); here each label set is a cell
 * made once, and recording is a field increment. The metric renders in prom-client's own format
 * at scrape time, registered in the same registry as the rest.
 *
 * @example
 *   const decisions = new HotCounter(registry, 'x_total', 'help', ['outcome'])
 *   const ok = decisions.cell('ok')   // once
 *   ok.value++                        // per request
 */
import type { Metric, Registry } from 'prom-client'

export interface CounterCell {
  value: number
}

interface Rendered {
  name: string
  help: string
  type: string
  aggregator: string
  values: Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>
}

abstract class HotMetric<C> {
  readonly name: string
  readonly help: string
  readonly #labelNames: readonly string[]
  readonly #cells = new Map<string, { labels: Record<string, string>; cell: C }>()

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    this.name = name
    this.help = help
    this.#labelNames = labelNames
    registry.registerMetric(this as unknown as Metric)
  }

  /** The cell of one label set (label values in `labelNames` order); create it once, keep it. */
  cell(...values: string[]): C {
    const key = values.join('\u0000')
    let entry = this.#cells.get(key)
    if (!entry) {
      const labels: Record<string, string> = {}
      this.#labelNames.forEach((n, i) => {
        labels[n] = values[i] ?? ''
      })
      entry = { labels, cell: this.newCell() }
      this.#cells.set(key, entry)
    }
    return entry.cell
  }

  protected abstract newCell(): C
  protected abstract zero(cell: C): void
  protected abstract render(labels: Record<string, string>, cell: C): Rendered['values']
  protected abstract readonly type: string

  /** prom-client's registry calls this at scrape time. */
  async get(): Promise<Rendered> {
    const values: Rendered['values'] = []
    for (const { labels, cell } of this.#cells.values()) values.push(...this.render(labels, cell))
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values }
  }

  /** Zeroes every cell in place: callers keep their cells, so dropping them would lose counts. */
  reset(): void {
    for (const { cell } of this.#cells.values()) this.zero(cell)
  }
}

export class HotCounter extends HotMetric<CounterCell> {
  protected readonly type = 'counter'

  protected newCell(): CounterCell {
    return { value: 0 }
  }

  protected zero(cell: CounterCell): void {
    cell.value = 0
  }

  protected render(labels: Record<string, string>, cell: CounterCell): Rendered['values'] {
    return [{ labels, value: cell.value }]
  }
}

export class HistogramCell {
  readonly #bounds: readonly number[]
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }

  observe(value: number): void {
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    if (i < bounds.length) this.counts[i]!++
    this.sum += value
    this.count++
  }
}

export class HotHistogram extends HotMetric<HistogramCell> {
  protected readonly type = 'histogram'
  readonly #bounds: readonly number[]

  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly string[],
    bounds: number[],
  ) {
    super(registry, name, help, labelNames)
    this.#bounds = [...bounds].sort((a, b) => a - b)
  }

  protected newCell(): HistogramCell {
    return new HistogramCell(this.#bounds)
  }

  protected zero(cell: HistogramCell): void {
    cell.counts.fill(0)
    cell.sum = 0
    cell.count = 0
  }

  protected render(labels: Record<string, string>, cell: HistogramCell): Rendered['values'] {
    const out: Rendered['values'] = []
    let cumulative = 0
    this.#bounds.forEach((le, i) => {
      cumulative += cell.counts[i]!
      out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative })
    })
    out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cell.count })
    out.push({ metricName: `${this.name}_sum`, labels, value: cell.sum })
    out.push({ metricName: `${this.name}_count`, labels, value: cell.count })
    return out
  }
}
