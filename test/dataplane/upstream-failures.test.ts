import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import type { TestDataplane } from '../support/dataplane.ts'
import {
  type Caller,
  chat,
  type InferenceWorld,
  openaiErrorOf,
  startInferenceWorld,
  within,
} from '../support/inference.ts'
import { freePort } from '../support/ports.ts'

const STREAM = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true }

async function poolState(dp: TestDataplane, state: string): Promise<number> {
  return (
    ((await dp.metric('agentrouter_dp_upstream_pool_connections', { provider: 'openai', state })) ?? 0) +
    ((await dp.metric('agentrouter_dp_upstream_pool_connections', { provider: 'anthropic', state })) ?? 0)
  )
}

describe('upstream failures and clients that go away', () => {
  let world: InferenceWorld
  let alice: Caller

  before(async () => {
    world = await startInferenceWorld({
      dpEnv: {
        AGENTROUTER_DP_HEADERS_TIMEOUT: '1s',
        AGENTROUTER_DP_IDLE_TIMEOUT: '1s',
        AGENTROUTER_DP_BODY_LIMIT_BYTES: '4096',
      },
    })
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-failures')
  })
  after(() => world?.stop())

  it('an upstream 500 keeps the provider’s status and body', async () => {
    const res = await chat(world.dp.url, alice.apiKey, { headers: { 'x-upstream-behaviour': 'error500' } })
    assert.equal(res.status, 500)
    assert.deepEqual(res.body, { error: { message: 'upstream exploded', type: 'server_error' } })
    assert.equal(res.headers.get('x-upstream-marker'), 'yes')
  })

  it('an upstream that never answers is deadline_exceeded after the headers timeout', async () => {
    const started = Date.now()
    const res = await chat(world.dp.url, alice.apiKey, { headers: { 'x-upstream-behaviour': 'stall' } })
    assert.equal(res.status, 504, res.text)
    const error = openaiErrorOf(res.body)
    assert.equal(error.code, 'deadline_exceeded')
    assert.equal(error.type, 'server_error')
    assert.match(error.message, /openai/)
    assert.ok(Date.now() - started < 5_000)
  })

  it('a stream that stalls mid-way is cut after the idle timeout, not held open', async () => {
    const started = Date.now()
    const res = await fetch(`${world.dp.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.apiKey}`,
        'content-type': 'application/json',
        'x-upstream-behaviour': 'stall-body',
      },
      body: JSON.stringify(STREAM),
    })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/event-stream', 'headers arrive before any event')
    await assert.rejects(res.text(), 'the body ends in an error, not a clean end')
    const took = Date.now() - started
    assert.ok(took < 5_000, `cut after ${took} ms (idle timeout 1 s)`)
  })

  it('a client that disconnects mid-stream cancels the upstream request, and no socket leaks', async () => {
    const before = world.upstream.requests.length
    const abort = new AbortController()
    const res = await fetch(`${world.dp.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.apiKey}`,
        'content-type': 'application/json',
        'x-upstream-behaviour': 'slow',
        'x-upstream-interval-ms': '200',
      },
      body: JSON.stringify(STREAM),
      signal: abort.signal,
    })
    const reader = res.body!.getReader()
    await reader.read() // the first event is here: the stream is live
    abort.abort()
    const upstreamSide = world.upstream.requests[before]!
    await within(1_000, async () => upstreamSide.aborted, 'the upstream saw the request cancelled')
    assert.equal(upstreamSide.finished, false)
    assert.ok(upstreamSide.sentAt.length < 8, 'the upstream stopped streaming')
    await within(2_000, async () => (await poolState(world.dp, 'running')) === 0, 'no request left running')
    assert.equal(await poolState(world.dp, 'pending'), 0)
    // Every upstream socket is one the pool knows about (kept alive for reuse), none orphaned.
    await within(
      2_000,
      async () => (await poolState(world.dp, 'connected')) === world.upstream.openSockets(),
      'pool sockets match upstream sockets',
    )
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'the next request is served')
  })

  it('an unreachable upstream is unavailable', async () => {
    const dp = await world.dataplane({
      env: { AGENTROUTER_UPSTREAM_OPENAI: `http://127.0.0.1:${await freePort()}` },
    })
    const res = await chat(dp.url, alice.apiKey)
    assert.equal(res.status, 503, res.text)
    const error = openaiErrorOf(res.body)
    assert.equal(error.code, 'unavailable')
    assert.match(error.message, /openai/)
    assert.equal(await poolState(dp, 'running'), 0)
  })

  it('a body over the limit is invalid_argument; an unknown path is not_found', async () => {
    const big = await chat(world.dp.url, alice.apiKey, {
      body: { model: 'gpt-test', messages: [{ role: 'user', content: 'x'.repeat(10_000) }] },
    })
    assert.equal(big.status, 400)
    assert.equal(openaiErrorOf(big.body).code, 'invalid_argument')
    assert.equal(openaiErrorOf(big.body).param, 'body')
    const lost = await fetch(`${world.dp.url}/nowhere`)
    assert.equal(lost.status, 404)
    assert.equal(((await lost.json()) as { code: string }).code, 'not_found')
    // node:http sends the path as written (fetch would resolve the dot segments first).
    for (const path of ['/openai/v1/%2e%2e/admin', '/openai/v1/../../admin', '/v1/./x']) {
      const status = await new Promise<number>((resolve, reject) => {
        const { hostname, port } = new URL(world.dp.url)
        const req = request({
          hostname,
          port,
          path,
          method: 'POST',
          headers: { authorization: `Bearer ${alice.apiKey}` },
        })
        req.on('response', (r) => {
          r.resume()
          resolve(r.statusCode ?? 0)
        })
        req.on('error', reject)
        req.end()
      })
      assert.equal(status, 400, path)
    }
    assert.equal(world.upstream.requests.filter((r) => r.path.includes('admin')).length, 0)
  })

  it('nothing went unhandled', () => {
    for (const dp of [world.dp]) {
      assert.equal(dp.process.child.exitCode, null, 'the dataplane is still running')
      assert.doesNotMatch(dp.process.output(), /unhandled|uncaught/i)
    }
  })
})
