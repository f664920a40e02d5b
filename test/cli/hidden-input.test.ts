/**
 * `--secret -` at a terminal: the value is read with echo off. Through a real pseudo-terminal
 * (`script` from util-linux) the typed key never appears in what the terminal shows, and the key
 * registered is what was typed (after a backspace); in-process, the reader's line editing and
 * Ctrl-C with a fake TTY stream, and the terminal mode put back every time.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { Interrupted, readHiddenLine, type TtyInput } from '../../cli/hidden-input.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { REPO_ROOT, tempDir } from '../support/process.ts'
import { TARE_BIN } from '../support/tare.ts'

const hasScript = spawnSync('script', ['--version']).status === 0

describe('tare reads a secret typed at a terminal without echo', {
  skip: !hasScript && 'no script(1)',
}, () => {
  let cp: TestControlPlane
  let user: LoginResult

  before(async () => {
    cp = await startControlPlane()
    user = await cp.login('tty@example.com')
  })
  after(() => cp?.stop())

  it('byok add --secret - under a pseudo-terminal: the typed key is not shown, and is registered', async () => {
    const typed = 'sk-typed-at-tty-98765'
    const command = [process.execPath, TARE_BIN, 'api', 'byok', 'add', '--provider', 'openai']
      .concat(['--name', 'from-tty', '--secret', '-', '--user-scope', '--json'])
      .join(' ')
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: tempDir('tare-tty-home-'),
        XDG_CONFIG_HOME: tempDir('tare-tty-config-'),
        AGENTROUTER_BASE_URL: cp.url,
        AGENTROUTER_API_KEY: user.sessionToken,
        TERM: 'dumb',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let shown = ''
    const prompted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no prompt in 20 s:\n${shown}`)), 20_000)
      const onData = (c: Buffer) => {
        shown += c.toString()
        if (shown.includes('input is hidden')) {
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', onData)
    })
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
    await prompted
    // Typed as a person would, a key at a time, with one mistake taken back.
    for (const ch of `${typed}0\u007f\r`) {
      child.stdin.write(ch)
      await new Promise((r) => setTimeout(r, 5))
    }
    const code = await exited
    child.stdin.end()
    assert.equal(code, 0, shown)
    assert.ok(!shown.includes('sk-typed'), `the terminal showed the key:\n${shown}`)
    assert.ok(!shown.includes('98765'), 'not even its end')
    const { keys } = await user.client.aikeys.list('-', '-')
    const registered = keys.find((k) => k.name === 'from-tty')
    assert.equal(registered?.display_suffix, typed.slice(-4), 'the backspace removed the extra 0')
  })
})

/** A stream that says it is a TTY and records its raw-mode changes. */
function fakeTty(): TtyInput & PassThrough & { modes: boolean[] } {
  const stream = new PassThrough() as PassThrough & TtyInput & { modes: boolean[] }
  stream.isTTY = true
  stream.isRaw = false
  stream.modes = []
  stream.setRawMode = (mode: boolean) => {
    stream.modes.push(mode)
    stream.isRaw = mode
    return stream
  }
  return stream
}

describe('the hidden-line reader', () => {
  const read = async (keys: string[]) => {
    const input = fakeTty()
    const prompt = new PassThrough()
    let written = ''
    prompt.on('data', (c: Buffer) => {
      written += c.toString()
    })
    const result = readHiddenLine(input, prompt, 'Value')
    for (const k of keys) input.write(k)
    return { value: await result.catch((e: unknown) => e), input, written }
  }

  it('turns echo off while reading and back on after, writing nothing typed', async () => {
    const { value, input, written } = await read(['secret-1', '23\r', 'after the line'])
    assert.equal(value, 'secret-123')
    assert.deepEqual(input.modes, [true, false])
    assert.equal(written, 'Value (input is hidden; Enter to end): \n')
  })

  it('backspace, Ctrl-U and arrow keys edit the line; Ctrl-D ends it', async () => {
    const { value } = await read(['abX\u007fc', '\u001b[D', 'zz\u0015', 'key\u001bOA', '\u0004'])
    assert.equal(value, 'key')
  })

  it('Ctrl-C abandons with Interrupted, and the terminal is put back', async () => {
    const { value, input } = await read(['half-typed\u0003'])
    assert.ok(value instanceof Interrupted)
    assert.deepEqual(input.modes, [true, false])
  })
})
