import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { type Caller, type InferenceWorld, startInferenceWorld } from '../support/inference.ts'
import { type RawResult, rawRequest } from '../support/raw-http.ts'

const OPENAI_KEY = `sk-echo-openai-${randomBytes(24).toString('hex')}`
const ANTHROPIC_KEY = `sk-ant-echo-${randomBytes(24).toString('hex')}`
const masked = (key: string) => `${key.slice(0, 3)}...${key.slice(-4)}`

/** The body `echo-key` writes (test/support/upstream.ts), to find where the key sits in it. */
function echoBody(key: string, pad = 0): string {
  const p = 'p'.repeat(pad)
  return JSON.stringify({
    error: { message: `${p}Incorrect API key provided: ${key}.${p}`, type: 'invalid_request_error', key },
  })
}

/** Every byte the caller received: the raw header lines and the body. */
function allBytes(res: RawResult): Buffer {
  return Buffer.concat([Buffer.from(res.rawHeaders.join('\n')), res.body])
}

function assertMasked(res: RawResult, key: string, status = 401): void {
  assert.equal(res.status, status, res.body.toString().slice(0, 300))
  assert.equal(allBytes(res).indexOf(key), -1, 'the key is in no byte of the response')
  // Nor any long piece of it (a partial replacement would leave one).
  assert.equal(allBytes(res).indexOf(key.slice(3, -4)), -1)
  assert.equal(res.json.error.key, masked(key))
  assert.match(res.json.error.message, new RegExp(`provided: ${masked(key).replace(/\./g, '\\.')}\\.`))
  assert.equal(res.headers['x-echoed-key'], `key=${masked(key)}`)
  assert.equal(res.headers['content-encoding'], undefined)
}

describe('upstream errors never echo the injected provider key', () => {
  let world: InferenceWorld
  let alice: Caller

  before(async () => {
    world = await startInferenceWorld()
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', OPENAI_KEY)
    await alice.client.aikeys.register('-', '-', 'anthropic', 'project', ANTHROPIC_KEY)
  })
  after(() => world?.stop())

  const echo = (path: string, headers: Record<string, string> = {}): Promise<RawResult> =>
    rawRequest(
      world.dp.url,
      'POST',
      path,
      {
        authorization: `Bearer ${alice.apiKey}`,
        'content-type': 'application/json',
        'x-upstream-behaviour': 'echo-key',
        ...headers,
      },
      '{"model":"m"}',
    )

  it('an OpenAI error echoing the key reaches the caller with the key masked, body and headers', async () => {
    const res = await echo('/openai/v1/chat/completions')
    assertMasked(res, OPENAI_KEY)
    assert.equal(world.upstream.requests.at(-1)!.headers.authorization, `Bearer ${OPENAI_KEY}`)
    const viaV1 = await echo('/v1/chat/completions', { 'x-upstream-status': '429' })
    assertMasked(viaV1, OPENAI_KEY, 429)
  })

  it('an Anthropic error echoing x-api-key is masked too', async () => {
    const res = await echo('/anthropic/v1/messages', { 'x-upstream-status': '403' })
    assertMasked(res, ANTHROPIC_KEY, 403)
    assert.equal(world.upstream.requests.at(-1)!.headers['x-api-key'], ANTHROPIC_KEY)
  })

  it('a key split across two body chunks is still masked, wherever the split falls', async () => {
    const body = echoBody(OPENAI_KEY)
    const first = body.indexOf(OPENAI_KEY)
    const second = body.lastIndexOf(OPENAI_KEY)
    const len = OPENAI_KEY.length
    for (const at of [
      first,
      first + 1,
      first + 3,
      first + (len >> 1),
      first + len - 1,
      first + len,
      second + 5,
    ]) {
      const res = await echo('/openai/v1/chat/completions', { 'x-upstream-split-at': String(at) })
      assertMasked(res, OPENAI_KEY)
    }
  })

  it('a large error body (past 64 KiB) is scanned as it streams, to its end', async () => {
    const pad = 100 * 1024
    const body = echoBody(OPENAI_KEY, pad)
    for (const at of ['0', String(body.lastIndexOf(OPENAI_KEY) + 10)]) {
      const res = await echo('/openai/v1/chat/completions', {
        'x-upstream-pad': String(pad),
        'x-upstream-split-at': at,
      })
      assertMasked(res, OPENAI_KEY)
      assert.ok(res.body.length > 2 * pad)
    }
  })

  it('a compressed error body (gzip, deflate, br) is decoded, masked and sent plain', async () => {
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const res = await echo('/openai/v1/chat/completions', { 'x-upstream-encoding': encoding })
      assertMasked(res, OPENAI_KEY)
      assert.equal(Number(res.headers['content-length']), res.body.length, encoding)
    }
  })

  it('an error body in an encoding the dataplane cannot check is withheld, the status kept', async () => {
    // `x-unknown` is sent uncompressed: the key would be readable if it were passed on.
    const res = await echo('/openai/v1/chat/completions', { 'x-upstream-encoding': 'x-unknown' })
    assert.equal(res.status, 401)
    assert.equal(allBytes(res).indexOf(OPENAI_KEY), -1)
    assert.equal(res.json.code, 'unauthenticated')
    assert.match(res.json.message, /openai upstream answered 401.*withheld/)
    assert.equal(res.headers['content-type'], 'application/json')
    assert.equal(res.headers['content-encoding'], undefined)
  })

  it('a 2xx body holding the same string is passed on untouched', async () => {
    const res = await echo('/openai/v1/chat/completions', { 'x-upstream-status': '200' })
    assert.equal(res.status, 200)
    assert.equal(res.body.toString(), echoBody(OPENAI_KEY))
    assert.equal(res.headers['x-echoed-key'], `key=${OPENAI_KEY}`)
    assert.equal(Number(res.headers['content-length']), res.body.length)
  })

  it('other upstream errors keep their status and body', async () => {
    const res = await rawRequest(
      world.dp.url,
      'POST',
      '/v1/chat/completions',
      {
        authorization: `Bearer ${alice.apiKey}`,
        'content-type': 'application/json',
        'x-upstream-behaviour': 'error500',
      },
      '{}',
    )
    assert.equal(res.status, 500)
    assert.deepEqual(res.json, { error: { message: 'upstream exploded', type: 'server_error' } })
    const ok = await rawRequest(
      world.dp.url,
      'POST',
      '/v1/chat/completions',
      { authorization: `Bearer ${alice.apiKey}`, 'content-type': 'application/json' },
      '{"model":"m"}',
    )
    assert.equal(ok.status, 200)
    assert.equal(ok.json.object, 'chat.completion')
  })

  it('nothing went unhandled', () => {
    assert.equal(world.dp.process.child.exitCode, null)
    assert.doesNotMatch(world.dp.process.output(), /unhandled|uncaught/i)
    assert.ok(!world.dp.process.output().includes(OPENAI_KEY), 'the key is not in the logs')
  })
})
