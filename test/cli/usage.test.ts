/**
 * How `tare` is called: `--help` on every group and command (walked from the command tree itself,
 * so a new command cannot ship without it), and usage errors, which exit 2 with a message naming
 * the problem. In-process through `run()`, which is all the binary does: the tree has some forty
 * nodes, and tare.test.ts runs the binary itself end to end.
 */
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { describe, it } from 'node:test'
import type { CommandSpec, GroupSpec } from '../../cli/command.ts'
import { readCliEnv } from '../../cli/env.ts'
import { ROOT, run } from '../../cli/main.ts'

async function runInProcess(
  argv: string[],
  stdinText = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
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
  const stdin = new PassThrough()
  stdin.end(stdinText)
  const code = await run(argv, env, { stdout, stderr, stdin })
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
      'tare api admin keys revoke',
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

describe('usage errors exit 2 with a message naming the problem', () => {
  const usage: Array<[string[], RegExp]> = [
    [['api', 'keys', 'create'], /tare api keys create: --name is required/],
    [['api', 'keys', 'create', '--name', 'x', '--colour', 'red'], /unknown option --colour/],
    [
      ['api', 'keys', 'create', '--name', 'x', '--type', 'superuser'],
      /--type must be one of KEY_TYPE_PROMPT/,
    ],
    [['api', 'keys', 'revoke'], /KEY_ID is required/],
    [['api', 'keys', 'list', '--page-size', 'many'], /--page-size expects an integer/],
    [['api', 'whoami', 'extra'], /takes no arguments, got: extra/],
    [['api', 'kyes', 'list'], /unknown command "kyes" for "tare api" \(one of: login, logout, whoami, keys/],
    [['api', 'keys'], /tare api keys: a command is required/],
    [['api', 'byok', 'add', '--provider', 'openai', '--name', 'n'], /--secret is required/],
    [['api', 'secret', 'get'], /NAME is required \(as an argument or --name\)/],
    [
      ['api', 'secret', 'create', 'n', '--value', '@/nonexistent/file'],
      /--value: cannot read \/nonexistent\/file: ENOENT/,
    ],
    [
      ['api', 'admin', 'members', 'set', 'c', 'p', 'i', '--role', 'boss'],
      /--role must be one of owner, member/,
    ],
    [['api', 'whoami', '--base-url', 'not a url'], /--base-url: "not a url" is not a URL/],
  ]
  for (const [args, message] of usage) {
    it(`tare ${args.join(' ')}`, async () => {
      const r = await runInProcess(args)
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, message)
      assert.match(r.stderr, /Run "tare [a-z -<>]+ --help"/, 'says where to find help')
      assert.equal(r.stdout, '')
    })
  }

  it('--secret - with an empty stdin is a usage error', async () => {
    const r = await runInProcess(
      ['api', 'byok', 'add', '--provider', 'openai', '--name', 'n', '--secret', '-'],
      '\n',
    )
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--secret: standard input is empty/)
  })

  it('a group without a command prints the group help on stderr', async () => {
    const r = await runInProcess(['api', 'secret'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^ {2}secret-value +/m)
  })
})
