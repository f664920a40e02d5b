/**
 * @module The README's Performance table, rendered from `bench/results/latest.json`: the figures
 * the targets are set on, with their floors, ratios and whether each target (lib/targets.ts) is met. A full
 * `npm run bench` rewrites it in README.md; a test checks the README shows the committed results.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { type ResultFile, type Target, targetMet } from './report.ts'
import { TARGETS } from './targets.ts'

interface ReadmeRow {
  name: string
  label: string
}

const ROWS: ReadmeRow[] = [
  {
    name: 'auth_cached_p99_us',
    label: 'cached auth check, p99 (floor: Map.get + Set.has)',
  },
  {
    name: 'auth_cached_p99_us_1m_revocations',
    label: 'cached auth check, p99, 1M revocations',
  },
  {
    name: 'auth_verify_p50_us',
    label: 'first-seen token, RS256 verify, p50 (floor: raw crypto.verify)',
  },
  { name: 'auth_verify_floor_p50_us', label: 'raw RS256 crypto.verify, p50' },
  { name: 'auth_verify_p50_us_es256', label: 'first-seen token, ES256, p50' },
  { name: 'auth_verify_p50_us_eddsa', label: 'first-seen token, EdDSA, p50' },
  { name: 'auth_jose_jwtverify_p50_us', label: 'jose.jwtVerify RS256, p50 (reference, not used)' },
  { name: 'auth_revoked_p99_us', label: 'revoked token presented again, p99' },
  { name: 'auth_malformed_p99_us', label: 'malformed token, p99' },
  { name: 'proxy_rps_direct', label: 'JSON, 50 connections: direct to the upstream' },
  { name: 'proxy_rps_bare_undici', label: 'through a bare undici pass-through proxy' },
  { name: 'proxy_rps_dataplane', label: 'through the dataplane (auth + BYOK)' },
  { name: 'proxy_rps_nginx', label: 'through nginx' },
  { name: 'proxy_rps_portkey', label: "through Portkey's gateway" },
  {
    name: 'proxy_rps_dataplane_over_portkey',
    label: 'dataplane ÷ Portkey, req/s',
  },
  { name: 'proxy_p99_ms_bare_undici', label: 'p99, bare undici proxy' },
  { name: 'proxy_p99_ms_dataplane', label: 'p99, dataplane' },
  {
    name: 'proxy_p99_added_ms_dataplane',
    label: 'p99 added by the dataplane over the bare proxy',
  },
  { name: 'proxy_cpu_us_per_req_dataplane', label: 'dataplane CPU per request (floor: bare proxy)' },
  {
    name: 'proxy_rps_dataplane_sse',
    label: 'SSE streaming, through the dataplane',
  },
  { name: 'proxy_p99_added_ms_dataplane_sse', label: 'SSE p99 added by the dataplane' },
  {
    name: 'proxy_p99_added_ms_dataplane_1conn',
    label: 'p99 added at 1 connection (no queueing)',
  },
  { name: 'revocation_e2e_ms', label: 'DELETE returns → first 401 at a dataplane' },
  { name: 'revocation_delete_enforced_ms', label: 'DELETE ?wait=enforced, one dataplane' },
  { name: 'revocation_p99_ms_100_clients', label: 'revocation applied by 100 stream subscribers, p99' },
  {
    name: 'revocation_p99_ms_1000_clients',
    label: 'revocation applied by 1,000 full dataplane syncs, p99',
  },
  {
    name: 'revocation_p99_ms_1000_clients_light',
    label: '1,000 lightweight subscribers, one replica, p99',
  },
  {
    name: 'dp_rss_mb_1m_revocations',
    label: 'dataplane RSS with 1M revoked JTIs (floor: none loaded)',
  },
  { name: 'dp_revocation_set_mb_1m', label: 'the revocation set alone, 1M JTIs' },
  {
    name: 'revocations_get_since_ms_1m_rows',
    label: 'GET /v1/tokens/revocations?since= at 1M rows (last 100)',
  },
  { name: 'dp_ready_ms_1m_revocations', label: 'dataplane start → ready with a 1M-entry snapshot' },
  { name: 'cp_key_issue_per_s', label: 'control plane: API keys issued' },
  { name: 'cp_key_revoke_per_s', label: 'control plane: API keys revoked (1M rows stored)' },
]

const number = (n: number): string =>
  Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : String(Number(n.toPrecision(3)))

function targetText(target: Target): string {
  return `${target.op === '<=' ? '≤' : '≥'} ${target.on === 'ratio' ? `${target.bound}× floor` : target.bound}`
}

export function renderPerformanceTable(file: ResultFile): string {
  const rows = ROWS.map((row) => {
    const label = `${row.label} (\`${row.name}\`)`
    const figure = file.results[row.name]
    if (!figure) return [label, 'missing', '', '', '', '']
    const goal = TARGETS[row.name]
    return [
      label,
      number(figure.value),
      figure.unit,
      figure.floor === undefined ? '' : number(figure.floor),
      figure.ratio === undefined ? '' : `${number(figure.ratio)}×`,
      goal ? `${targetText(goal)} ${targetMet(figure, goal) ? '✔' : '✘ missed'}` : '',
    ]
  })
  return markdownTable(['figure', 'value', 'unit', 'floor', 'ratio', 'target'], rows)
}

/** A Markdown table with its columns padded, as the formatter (Biome) lays tables out. */
function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n')
}

const START = /<!-- bench:start[^>]*-->\n/
const END = '<!-- bench:end -->'

/** The table between the README's bench markers; `undefined` when the markers are missing. */
export function readmePerformanceTable(readme: string): string | undefined {
  const start = START.exec(readme)
  const end = readme.indexOf(END)
  if (!start || end < 0) return undefined
  return readme.slice(start.index + start[0].length, end).trim()
}

/** Rewrites the table in README.md from a full run's results. */
export function updateReadme(readmePath: string, file: ResultFile): void {
  const readme = readFileSync(readmePath, 'utf8')
  const start = START.exec(readme)
  const end = readme.indexOf(END)
  if (!start || end < 0) return
  const header = `Run of ${file.date.slice(0, 16).replace('T', ' ')} UTC on ${file.cpus} CPUs, Node ${file.node}.\n\n`
  const updated = `${readme.slice(0, start.index + start[0].length)}${header}${renderPerformanceTable(file)}\n${readme.slice(end)}`
  writeFileSync(readmePath, updated)
}
