/**
 * Re-runs whole suites with every control plane on a fresh PostgreSQL database
 * (`AGENTROUTER_TEST_ENGINE=postgres`, read by test/support/control-plane.ts), each suite in its
 * own test process, one after the other; a failure shows the suite's own report. Without
 * PostgreSQL each is reported skipped, by name, with the reason. The suites are dealt over several
 * test files (test/control-plane/on-postgres-*.test.ts) so that each stays within the runner's
 * per-file timeout and they run beside the rest of `npm test`.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, it } from 'node:test'
import { POSTGRES_SKIP } from './postgres.ts'
import { REPO_ROOT } from './process.ts'

function runOnPostgres(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        '--test-concurrency=1',
        '--test-timeout=180000',
        file,
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, AGENTROUTER_TEST_ENGINE: 'postgres', NODE_TEST_CONTEXT: undefined },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let output = ''
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    child.once('exit', (code) => resolve({ code, output }))
  })
}

/**
 * One test per suite, each passing on PostgreSQL; `knownFailing` maps a suite to why it is skipped
 * (by name) until fixed.
 */
export function suitesOnPostgres(
  title: string,
  suites: readonly string[],
  knownFailing: Readonly<Record<string, string>> = {},
): void {
  describe(title, () => {
    for (const file of suites) {
      const skip = POSTGRES_SKIP || knownFailing[file] || false
      it(`${file} passes on PostgreSQL`, { skip, timeout: 600_000 }, async () => {
        const { code, output } = await runOnPostgres(file)
        const failures = output.slice(output.indexOf('✖ failing tests:'))
        assert.equal(code, 0, `${file} failed on PostgreSQL:\n${code === 0 ? '' : failures.slice(0, 8000)}`)
        assert.match(output, /ℹ fail 0/)
      })
    }
  })
}
