/**
 * @module The printed table: one line per figure, grouped by benchmark family, with its floor,
 * ratio and whether it meets its target.
 */
import { type Report, type Row, type Target, targetMet } from './report.ts'

const HEADERS = ['figure', 'value', 'unit', 'floor', 'ratio', 'target', '']

export function renderTable(report: Report): string {
  const lines: string[][] = []
  const sectionAt = new Map(report.sections.map((s) => [s.start, s.title]))
  const out: (string[] | string)[] = []
  report.rows.forEach((row, i) => {
    const title = sectionAt.get(i)
    if (title) out.push(`— ${title}`)
    const cells = cellsOf(row)
    lines.push(cells)
    out.push(cells)
  })
  const widths = HEADERS.map((h, c) => Math.max(h.length, ...lines.map((l) => (l[c] ?? '').length)))
  const fmt = (cells: string[]) =>
    cells
      .map((cell, c) => (c === 0 || c >= 5 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [fmt(HEADERS), rule, ...out.map((o) => (typeof o === 'string' ? o : fmt(o)))].join('\n')
}

/** The same table as Markdown, for the README. */
export function renderMarkdown(report: Report): string {
  const rows = report.rows.map((row) => `| ${cellsOf(row).join(' | ')} |`)
  return [`| ${HEADERS.join(' | ')} |`, `|${HEADERS.map(() => '---').join('|')}|`, ...rows].join('\n')
}

function cellsOf(row: Row): string[] {
  if (!row.figure) return [row.name, '—', '', '', '', '', `missing: ${row.missing ?? ''}`]
  const f = row.figure
  const verdict = row.target ? (targetMet(f, row.target) ? 'met' : 'MISSED') : ''
  return [
    row.name,
    num(f.value),
    f.unit,
    f.floor === undefined ? '' : num(f.floor),
    f.ratio === undefined ? '' : `${num(f.ratio)}×`,
    row.target ? describeTarget(row.target) : '',
    [verdict, row.note].filter(Boolean).join(' · '),
  ]
}

function describeTarget(t: Target): string {
  return `${t.on === 'ratio' ? 'ratio ' : ''}${t.op === '<=' ? '≤' : '≥'} ${t.bound}`
}

function num(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US')
  return String(x)
}
