/**
 * @module How `tare` prints: the API response as JSON with `--json` (exactly what the server
 * answered), otherwise tables and `label: value` records for people. Results go to stdout;
 * notes, prompts and errors go to stderr so that stdout stays parseable.
 */
import type { Writable } from 'node:stream'

export type Cell = string | number | boolean | null | undefined
export interface Column<T> {
  header: string
  value(row: T): Cell
}

export class Output {
  constructor(
    readonly stdout: Writable,
    readonly stderr: Writable,
    readonly json: boolean,
  ) {}

  /** Prints `response` as JSON with `--json`, otherwise runs `human`. */
  result(response: unknown, human: () => void): void {
    if (this.json) this.line(JSON.stringify(response, null, 2))
    else human()
  }

  line(text = ''): void {
    this.stdout.write(`${text}\n`)
  }

  /** A note for the person at the terminal, on stderr. */
  note(text: string): void {
    this.stderr.write(`${text}\n`)
  }

  table<T>(rows: readonly T[], columns: Column<T>[], empty = 'No results.'): void {
    if (rows.length === 0) {
      this.line(empty)
      return
    }
    const cells = rows.map((row) => columns.map((c) => show(c.value(row))))
    const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)))
    const format = (values: string[]) =>
      values
        .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd()
    this.line(format(columns.map((c) => c.header.toUpperCase())))
    for (const r of cells) this.line(format(r))
  }

  /** `label: value` lines, aligned; undefined values are left out. */
  record(pairs: Array<[string, Cell]>): void {
    const shown = pairs.filter(([, v]) => v !== undefined)
    const width = Math.max(...shown.map(([k]) => k.length)) + 1
    for (const [k, v] of shown) this.line(`${`${k}:`.padEnd(width)} ${show(v)}`)
  }
}

function show(value: Cell): string {
  if (value === undefined || value === null || value === '') return '-'
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  return String(value)
}
