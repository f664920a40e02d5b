/**
 * `--help` on every group and command of `tare`, walked from the command tree itself so that a
 * new command cannot ship without it. In-process: the tree has some forty nodes, and the binary
 * is tested end to end in tare.test.ts.
 */
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { describe, it } from 'node:test'
import type { CommandSpec, GroupSpec } from '../../cli/command.ts'
import { readCliEnv } from '../../cli/env.ts'
import { ROOT, run } from '../../cli/main.ts'

async function runInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  stderr.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const env = { ...readCliEnv({}), configDir: '/nonexistent/agentrouter' }
  const code = await run(argv, env, { stdout, stderr, stdin: new PassThrough() })
  return { code, stdout: out, stderr: err }
}

function walk(
  node: GroupSpec | CommandSpec,
  words: string[],
  visit: (n: GroupSpec | CommandSpec, w: string[]) => void,
) {
  visit(node, words)
  if (node.kind === 'group') for (const child of node.children) walk(child, [...words, child.name], visit)
}

describe('tare --help', () => {
  const nodes: Array<[GroupSpec | CommandSpec, string[]]> = []
  walk(ROOT, [], (n, w) => nodes.push([n, w]))

  it('covers every command of the documents’ table and the admin commands', () => {
    const commands = nodes.filter(([n]) => n.kind === 'command').map(([, w]) => ['tare', ...w].join(' '))
    for (const expected of [
      'tare api login',
      'tare api logout',
      'tare api whoami',
      'tare api keys create',
      'tare api keys list',
      'tare api keys revoke',
      'tare api byok add',
      'tare api byok get',
      'tare api byok list',
      'tare api byok remove',
      'tare api tokens revocation-list get',
      'tare api secret create',
      'tare api secret get',
      'tare api secret list',
      'tare api secret delete',
      'tare api secret rotate',
      'tare api secret validate',
      'tare api secret secret-value get',
      'tare api auth jwks get',
      'tare api admin customers create',
      'tare api admin projects create',
      'tare api admin members set',
      'tare api admin members remove',
      'tare api admin identities list',
      'tare api admin keys create',
      'tare api admin dataplanes list',
      'tare api admin signing-keys rotate',
      'tare api admin keks rotate',
    ]) {
      assert.ok(commands.includes(expected), `${expected} exists`)
    }
  })

  for (const [node, words] of nodes) {
    const path = ['tare', ...words].join(' ')
    it(`${path} --help`, async () => {
      const r = await runInProcess([...words, '--help'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, '')
      assert.ok(r.stdout.startsWith(`Usage: ${path} `), r.stdout)
      assert.ok(r.stdout.includes(node.summary))
      if (node.kind === 'group') {
        for (const child of node.children) assert.match(r.stdout, new RegExp(`^  ${child.name} +\\S`, 'm'))
      } else {
        for (const name of Object.keys(node.options ?? {}))
          assert.ok(r.stdout.includes(`--${name}`), `--${name}`)
        assert.ok(r.stdout.includes('--json') && r.stdout.includes('--base-url'))
      }
    })
  }

  it('-h works like --help, anywhere after the command', async () => {
    const r = await runInProcess(['api', 'keys', 'create', '--name', 'x', '-h'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^Usage: tare api keys create --name NAME \[options\]$/m)
  })

  it('--version prints the version', async () => {
    const r = await runInProcess(['--version'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^tare \d+\.\d+\.\d+\n$/)
  })
})
