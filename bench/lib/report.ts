/**
 * @module The figures of one run: each with its unit and, where one exists, the floor it is
 * compared with and the ratio to it. Writes `latest.json` and a dated copy in the shape that runs
 * are compared by: `{ date, node, cpus, results: { <name>: { value, unit, floor?, ratio? } } }`.
 * Targets and missing-figure reasons are printed, never written, so the JSON keeps that shape.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { TARGETS } from './targets.ts'

export interface Figure {
  value: number
  unit: string
  floor?: number
  ratio?: number
}

/** What a figure aims at: `value <= 2`, or `ratio >= 0.8`. */
export interface Target {
  on: 'value' | 'ratio'
  op: '<=' | '>='
  bound: number
}

export interface Row {
  name: string
  figure?: Figure
  target?: Target
  /** Why the figure is missing, when it is. */
  missing?: string
  note?: string
}

export interface ResultFile {
  date: string
  node: string
  cpus: number
  results: Record<string, Figure>
}

export class Report {
  readonly rows: Row[] = []
  readonly sections: { title: string; start: number }[] = []

  section(title: string): void {
    this.sections.push({ title, start: this.rows.length })
  }

  /**
   * Records a figure. With a floor, the ratio is value / floor (so for throughput below 1 is
   * slower than the floor, for latency above 1 is slower).
   */
  add(name: string, value: number, unit: string, extra: { floor?: number; note?: string } = {}): void {
    const figure: Figure = { value: round(value), unit }
    if (extra.floor !== undefined) {
      figure.floor = round(extra.floor)
      figure.ratio = round(value / extra.floor)
    }
    this.rows.push({ name, figure, target: TARGETS[name], note: extra.note })
  }

  missing(name: string, reason: string): void {
    this.rows.push({ name, missing: reason })
  }

  get(name: string): Figure | undefined {
    return this.rows.find((r) => r.name === name)?.figure
  }

  toFile(date = new Date()): ResultFile {
    const results: Record<string, Figure> = {}
    for (const row of this.rows) if (row.figure) results[row.name] = row.figure
    return {
      date: date.toISOString(),
      node: process.version,
      // The machine's CPUs, not this process's affinity (it pins itself to one).
      cpus: cpus().length,
      results,
    }
  }

  /** Writes `<dir>/latest.json` and `<dir>/<ISO date>.json`; returns both paths. */
  write(dir: string, date = new Date()): string[] {
    mkdirSync(dir, { recursive: true })
    const text = `${JSON.stringify(this.toFile(date), null, 2)}\n`
    const dated = join(dir, `${date.toISOString().replace(/:/g, '-')}.json`)
    const latest = join(dir, 'latest.json')
    writeFileSync(dated, text)
    writeFileSync(latest, text)
    return [latest, dated]
  }
}

export function targetMet(figure: Figure, target: Target): boolean {
  const x = target.on === 'value' ? figure.value : figure.ratio
  if (x === undefined || !Number.isFinite(x)) return false
  return target.op === '<=' ? x <= target.bound : x >= target.bound
}

/** Three significant digits is what a noisy shared machine can support. */
function round(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x
  const digits = Math.max(0, 3 - Math.ceil(Math.log10(Math.abs(x))))
  return Number(x.toFixed(Math.min(digits, 6)))
}
