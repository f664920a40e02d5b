/**
 * The README stays true to the code: every variable either component reads is documented, the
 * endpoint table is the route table's, the Performance table shows the committed bench results, and the two commands a new user runs are the ones
 * package.json defines.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { readmePerformanceTable, renderPerformanceTable } from '../bench/lib/readme-table.ts'
import type { ResultFile } from '../bench/lib/report.ts'
import { CONTROL_PLANE_VARIABLES } from '../control-plane/config.ts'
import { DATAPLANE_VARIABLES } from '../dataplane/config.ts'
import { renderEndpointTable } from '../shared/contract/endpoint-table.ts'
import { REPO_ROOT } from './support/process.ts'

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>
}

/** A markdown table's cells, whatever padding a formatter gave it; separator rows dropped. */
const cells = (table: string): string[][] =>
  table
    .split('\n')
    .map((row) =>
      row
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .filter((row) => !row.every((cell) => /^-+$/.test(cell)))

describe('README', () => {
  it('documents every configuration variable of both components', () => {
    const missing = [...Object.keys(CONTROL_PLANE_VARIABLES), ...Object.keys(DATAPLANE_VARIABLES)].filter(
      (name) => !readme.includes(`\`${name}\``),
    )
    assert.deepEqual(missing, [])
  })

  it('lists every endpoint of the route table, as the route table renders it', () => {
    const table = /<!-- endpoints:start[^>]*-->\n([\s\S]*?)\n<!-- endpoints:end -->/.exec(readme)?.[1] ?? ''
    assert.deepEqual(
      cells(table),
      cells(renderEndpointTable()),
      'run: node --import tsx scripts/readme-endpoints.ts',
    )
  })

  it('shows the committed benchmark results in its Performance table', () => {
    const latest = JSON.parse(
      readFileSync(join(REPO_ROOT, 'bench/results/latest.json'), 'utf8'),
    ) as ResultFile
    const shown = readmePerformanceTable(readme) ?? ''
    assert.ok(
      shown.includes(`Run of ${latest.date.slice(0, 16).replace('T', ' ')} UTC`),
      'the run the table is from',
    )
    const table = shown.slice(shown.indexOf('|'))
    assert.deepEqual(cells(table), cells(renderPerformanceTable(latest)), 'a full npm run bench rewrites it')
  })

  it('has a quick start that works top to bottom: no exported admin key, a runnable snippet, SDK base URLs', () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Configuration'))
    // Exported, the admin key would take precedence over the session `tare api login` stores.
    assert.doesNotMatch(quickStart, /export AGENTROUTER_API_KEY/)
    assert.match(quickStart, /AGENTROUTER_API_KEY=\$\(cat data\/bootstrap-admin\.key\) npx tare api admin/)
    assert.match(quickStart, /Save this as `hello\.mjs` in the repository's directory/)
    assert.match(quickStart, /run `node hello\.mjs`/)
    assert.match(quickStart, /baseURL: 'http:\/\/127\.0\.0\.1:8081\/openai\/v1'/)
    assert.match(quickStart, /baseURL: 'http:\/\/127\.0\.0\.1:8081\/anthropic'/)
    assert.match(quickStart, /AGENTROUTER_DRAIN_TIMEOUT/)
  })

  it('gives the commands that install, start and test', () => {
    assert.match(readme, /npm install && npm start/)
    assert.match(readme, /npm test/)
    for (const script of ['start', 'test', 'bench', 'typecheck', 'lint', 'control-plane', 'dataplane']) {
      assert.ok(packageJson.scripts[script], `package.json has the ${script} script`)
    }
  })
})
