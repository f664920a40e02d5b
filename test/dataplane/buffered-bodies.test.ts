import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import {
  anthropicErrorOf,
  type Caller,
  chat,
  type InferenceWorld,
  openaiErrorOf,
  startInferenceWorld,
  within,
} from '../support/inference.ts'
import { freePort } from '../support/ports.ts'

const MiB = 1024 * 1024
const BOUND = 64 * MiB
const BODY = 31 * MiB
/**
 * Beyond the baseline and the bound: the heap's garbage between collections (refused bodies
 * are read and discarded, admitted ones arrive in 64 KiB chunks) and the upstream's responses.
 */
const MARGIN = 32 * MiB

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) * 1024
}

/** A chat body of exactly `size` bytes (a streamed request, so the slow upstream holds it). */
function bodyOf(size: number): Buffer {
  const head = '{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"'
  const tail = '"}]}'
  return Buffer.from(head + 'x'.repeat(size - head.length - tail.length) + tail)
}

describe('request bodies buffered at the dataplane', () => {
  let world: InferenceWorld
  let alice: Caller
  let pid: number

  before(async () => {
    world = await startInferenceWorld({
      dpEnv: {
        AGENTROUTER_DP_MAX_BUFFERED_BYTES: String(BOUND),
        AGENTROUTER_DP_BODY_LIMIT_BYTES: String(32 * MiB),
        // Anthropic is unreachable: the upstream-failure path.
        AGENTROUTER_UPSTREAM_ANTHROPIC: `http://127.0.0.1:${await freePort()}`,
      },
    })
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-bodies')
    await alice.client.aikeys.register('-', '-', 'anthropic', 'project', 'sk-ant-bodies')
    pid = world.dp.process.child.pid!
  })
  after(() => world?.stop())

  const buffered = async () => (await world.dp.metric('agentrouter_dp_buffered_request_bytes')) ?? -1

  it('8 concurrent 31 MiB bodies: past the bound they are resource_exhausted, and RSS stays within the bound', async () => {
    const body = bodyOf(BODY)
    // Warm: the path has run once, so the baseline holds what a served request leaves behind.
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200)
    const baseline = rssBytes(pid)
    let peakRss = baseline
    let peakBuffered = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        peakRss = Math.max(peakRss, rssBytes(pid))
        peakBuffered = Math.max(peakBuffered, await buffered())
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    const upstreamBefore = world.upstream.requests.length
    const results = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await fetch(`${world.dp.url}/openai/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${alice.apiKey}`,
            'content-type': 'application/json',
            'x-upstream-behaviour': 'slow',
            'x-upstream-interval-ms': '300',
          },
          body,
        })
        const text = await res.text()
        return { status: res.status, text, retryAfter: res.headers.get('retry-after') }
      }),
    )
    sampling = false
    await sampler
    const served = results.filter((r) => r.status === 200)
    const refused = results.filter((r) => r.status === 429)
    const outcomes = JSON.stringify(results.map((r) => [r.status, r.text.slice(0, 200)]))
    assert.equal(served.length + refused.length, 8, outcomes)
    assert.ok(served.length >= 1, 'some are served')
    assert.ok(refused.length >= 1, 'some are refused')
    for (const r of refused) {
      const error = openaiErrorOf(JSON.parse(r.text))
      assert.equal(error.code, 'resource_exhausted')
      assert.equal(error.type, 'rate_limit_error')
      assert.equal(error.param, 'body')
      assert.equal(r.retryAfter, '1')
    }
    for (const r of served) assert.match(r.text, /data: \[DONE\]/)
    assert.equal(
      world.upstream.requests.length - upstreamBefore,
      served.length,
      'only the served reached the upstream',
    )
    assert.ok(peakBuffered <= BOUND, `buffered ${peakBuffered} bytes at most, bound ${BOUND}`)
    assert.ok(peakBuffered >= BODY, 'the gauge saw a body buffered')
    const over = peakRss - baseline
    assert.ok(
      over <= BOUND + MARGIN,
      `RSS rose ${(over / MiB).toFixed(1)} MiB over its baseline of ${(baseline / MiB).toFixed(1)} MiB (bound 64 + margin 32)`,
    )
    assert.equal(await buffered(), 0, 'every reservation was released')
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'a normal request is served after')
  })

  it('every way an exchange ends releases its bytes: served, upstream error, upstream down, no provider key, client gone, refused', async () => {
    const mib = JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'x'.repeat(MiB) }] })
    const post = (path: string, token: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
      fetch(`${world.dp.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        body: mib,
        signal,
      })
    const chatPath = '/openai/v1/chat/completions'

    assert.equal((await post(chatPath, alice.apiKey)).status, 200, 'served')
    assert.equal((await post(chatPath, alice.apiKey, { 'x-upstream-behaviour': 'error500' })).status, 500)
    const down = await post('/anthropic/v1/messages', alice.apiKey)
    assert.equal(down.status, 503, 'the upstream is unreachable')
    assert.equal(anthropicErrorOf(await down.json()).type, 'api_error')
    const bob = await world.caller('bob@example.com')
    const noKey = await post(chatPath, bob.apiKey)
    assert.equal(noKey.status, 412, 'no provider key')
    await noKey.text()
    // Gone mid-stream, after the body was forwarded.
    const abort = new AbortController()
    const streaming = await post(chatPath, alice.apiKey, { 'x-upstream-behaviour': 'slow' }, abort.signal)
    await streaming.body!.getReader().read()
    abort.abort()
    await within(5_000, async () => (await buffered()) === 0, 'released after the client left mid-stream')

    // Gone mid-body: two clients declare 31 MiB each and send a little of it, holding 62 MiB.
    const port = Number(new URL(world.dp.url).port)
    const holders: Socket[] = []
    for (let i = 0; i < 2; i++) {
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => {})
      socket.write(
        `POST ${chatPath} HTTP/1.1\r\nHost: dp\r\nAuthorization: Bearer ${alice.apiKey}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${BODY}\r\n\r\n{"model":`,
      )
      holders.push(socket)
    }
    await within(10_000, async () => (await buffered()) === 2 * BODY, 'both bodies reserved')
    // A declared body that does not fit (3 MiB; 2 MiB are left) is refused whole, before any of it is read.
    const declared = await fetch(`${world.dp.url}${chatPath}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.apiKey}`, 'content-type': 'application/json' },
      body: bodyOf(3 * MiB),
    })
    assert.equal(declared.status, 429)
    assert.equal(declared.headers.get('retry-after'), '1')
    assert.equal(openaiErrorOf(await declared.json()).code, 'resource_exhausted')
    // A chunked body is refused when it crosses the bound, and its connection closed.
    const chunked = await chunkedUntilAnswered(port, alice.apiKey, chatPath)
    assert.match(chunked.head, /^HTTP\/1\.1 429 /)
    assert.match(chunked.head, /\r\nretry-after: 1\r\n/i)
    assert.match(chunked.head, /\r\nconnection: close\r\n/i)
    assert.equal(openaiErrorOf(JSON.parse(chunked.body)).code, 'resource_exhausted')
    assert.equal(await buffered(), 2 * BODY, 'the refused chunked body holds nothing')
    for (const s of holders) s.destroy()
    await within(5_000, async () => (await buffered()) === 0, 'released when the clients went away mid-body')

    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'a normal request is served after')
    assert.equal(await buffered(), 0)
  })

  it('nothing went unhandled', () => {
    assert.equal(world.dp.process.child.exitCode, null, 'the dataplane is still running')
    assert.doesNotMatch(world.dp.process.output(), /unhandled|uncaught/i)
  })
})

/**
 * Sends a chunked body 256 KiB at a time, pausing between chunks, until the server answers;
 * resolves the answer's head and body once the server has closed the connection.
 */
function chunkedUntilAnswered(
  port: number,
  token: string,
  path: string,
): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    const chunk = `40000\r\n${'x'.repeat(0x40000)}\r\n`
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => {
      received += d
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearInterval(timer)
      const at = received.indexOf('\r\n\r\n')
      if (at < 0) reject(new Error(`closed without an answer: ${JSON.stringify(received)}`))
      else resolve({ head: received.slice(0, at + 2), body: received.slice(at + 4) })
    })
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: dp\r\nAuthorization: Bearer ${token}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    )
    let sent = 0
    const timer = setInterval(() => {
      if (received || socket.destroyed) return
      if (sent++ > 64) {
        socket.destroy()
        return
      }
      socket.write(chunk)
    }, 20)
  })
}
