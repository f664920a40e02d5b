/**
 * @module How `tare` prints: the API response as JSON with `--json` (exactly what the server
 * answered), otherwise tables and `label: value` records for people. Results go to stdout;
 * notes, prompts and errors go to stderr so that stdout stays parseable.
 *
 * Nothing the server sent reaches the terminal as a control sequence: control characters and
 * bidirectional controls print as visible escapes (`\x1b`, `\u{202e}`) in tables, records, lines
 * and notes, and as `\uXXXX` in JSON (the same JSON value; `JSON.stringify` alone leaves DEL, C1
 * and the bidirectional controls raw). Only `raw` prints bytes as they are: a secret's value.
 *
 * Errors go to stderr: with `--json` as one line of the contract's error object (`code`,
 * `message`, `details`, and a `hint` when there is one), otherwise `error: <code>: <message>` and
 * a line per detail the message does not already say.
 */
import type { Writable } from 'node:stream'
import type { ErrorBody } from '../shared/errors.ts'
import { escapeJsonNonText, escapeNonText } from '../shared/text.ts'

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
    if (this.json) this.raw(escapeJsonNonText(JSON.stringify(response, null, 2)))
    else human()
  }

  /** A line of text; newlines and tabs in it are kept, other control characters escaped. */
  line(text = ''): void {
    this.stdout.write(`${escapeNonText(text, true)}\n`)
  }

  /** A line exactly as given: for a value the caller asked for byte for byte (a secret's plaintext). */
  raw(text: string): void {
    this.stdout.write(`${text}\n`)
  }

  /** A note for the person at the terminal, on stderr. */
  note(text: string): void {
    this.stderr.write(`${escapeNonText(text, true)}\n`)
  }

  /** An error, on stderr: JSON with `--json`, else `error: code: message` and its details. */
  error(body: ErrorBody, hint?: string): void {
    if (this.json) {
      const shown = hint ? { ...body, hint } : body
      this.stderr.write(`${escapeJsonNonText(JSON.stringify(shown))}\n`)
      return
    }
    // The server's words, which can quote what a request carried: escaped for the terminal.
    const lines = [`error: ${body.code}: ${escapeNonText(body.message)}`]
    for (const d of body.details) {
      const line = d.field ? `${d.field}: ${d.description}` : undefined
      // `invalid_argument` says "field: description" in its message already: once is enough.
      if (line && !body.message.includes(line)) lines.push(`  ${escapeNonText(line)}`)
    }
    if (hint) lines.push(hint)
    this.stderr.write(`${lines.join('\n')}\n`)
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

/** A cell: one line, so a newline or tab in a value is escaped too, and the columns stay aligned. */
function show(value: Cell): string {
  if (value === undefined || value === null || value === '') return '-'
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  return escapeNonText(String(value))
}
