/**
 * The benchmark harness works: `npm run bench -- --quick` runs every family and writes every
 * named figure. Nothing here is timed; the figures of a quick run are not meant to be compared.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { POSTGRES_FIGURES, REQUIRED_FIGURES } from '../../bench/lib/required.ts'
import { REPO_ROOT, tempDir } from '../support/process.ts'

interface ResultFile {
  date: string
  node: string
  cpus: number
  results: Record<string, { value: number; unit: string; floor?: number; ratio?: number }>
}

function runQuickBench(out: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'bench/run.ts'), '--quick', '--out', out],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: 'pipe' },
    )
    let output = ''
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.once('exit', (code) => resolve({ code, output }))
  })
}

describe('benchmark harness', () => {
  it('a quick run writes every named figure, each a positive number with its unit', async () => {
    const out = tempDir('agentrouter-bench-results-')
    const { code, output } = await runQuickBench(out)
    assert.equal(code, 0, output.slice(-4000))

    const latest = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as ResultFile
    assert.deepEqual(Object.keys(latest).sort(), ['cpus', 'date', 'node', 'results'])
    assert.ok(!Number.isNaN(Date.parse(latest.date)))
    assert.equal(latest.node, process.version)
    assert.ok(latest.cpus >= 1)
    for (const name of REQUIRED_FIGURES) {
      const figure = latest.results[name]
      assert.ok(figure, `${name} is missing\n${output.slice(-4000)}`)
      assert.ok(Number.isFinite(figure.value) && figure.value > 0, `${name} = ${figure.value}`)
      assert.ok(figure.unit, `${name} has no unit`)
    }
    // PostgreSQL figures may be missing (no server), but then the printed table says so, by name.
    for (const name of POSTGRES_FIGURES) {
      if (latest.results[name]) continue
      assert.match(output, new RegExp(`^${name} .*missing: no PostgreSQL`, 'm'), `${name} dropped silently`)
    }
    for (const [name, figure] of Object.entries(latest.results)) {
      assert.deepEqual(
        Object.keys(figure).filter((k) => !['value', 'unit', 'floor', 'ratio'].includes(k)),
        [],
        `${name} has fields outside the result shape`,
      )
    }
  })
})
