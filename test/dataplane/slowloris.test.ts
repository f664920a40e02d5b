import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import {
  type Caller,
  chat,
  type InferenceWorld,
  openaiErrorOf,
  startInferenceWorld,
  within,
} from '../support/inference.ts'

const SOCKETS = 200
/** Generous: the timeouts below are 1 s and 2 s, checked every 250 ms; the box is loaded. */
const DEADLINE_MS = 20_000

interface SlowClient {
  socket: Socket
  received: string
  /** The server sent FIN. */
  ended: boolean
  /** The socket is gone: the server destroyed its side (a half-closed server would keep it). */
  closed: boolean
}

/**
 * A client that sends `head` and then `trickle` every 100 ms, forever, and keeps writing after
 * the server's FIN (`allowHalfOpen`): only a server that destroyed its socket makes the writes
 * fail and the socket close; one that only half-closed would keep reading them.
 */
function slowClient(port: number, head: string, trickle: string): SlowClient {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  const client: SlowClient = { socket, received: '', ended: false, closed: false }
  socket.setEncoding('latin1')
  socket.on('data', (d: string) => {
    client.received += d
  })
  socket.on('end', () => {
    client.ended = true
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    client.closed = true
  })
  if (head) socket.write(head)
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer)
    else if (client.ended) socket.write('x')
    else if (trickle) socket.write(trickle)
  }, 100)
  socket.on('close', () => clearInterval(timer))
  return client
}

/** The status line and JSON body of what a raw client received. */
function parsed(received: string): { status: number; body: Record<string, unknown> | undefined } {
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(received)?.[1] ?? 0)
  const at = received.indexOf('\r\n\r\n')
  let body: Record<string, unknown> | undefined
  try {
    body = JSON.parse(received.slice(at + 4)) as Record<string, unknown>
  } catch {
    body = undefined
  }
  return { status, body }
}

describe('slowloris at the dataplane', () => {
  let world: InferenceWorld
  let alice: Caller
  let port: number

  before(async () => {
    world = await startInferenceWorld({
      dpEnv: {
        AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT: '1s',
        AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT: '2s',
      },
    })
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-slowloris')
    port = Number(new URL(world.dp.url).port)
  })
  after(() => world?.stop())

  it(`${SOCKETS} sockets trickling their headers are answered 408 and destroyed; others are served meanwhile`, async () => {
    const clients: SlowClient[] = []
    for (let i = 0; i < SOCKETS; i++) {
      // A tenth send nothing at all; the rest a partial request line or headers, then a byte at a time.
      const head =
        i % 10 === 0
          ? ''
          : i % 2 === 0
            ? 'POST /openai/v1/chat/comp'
            : `POST /openai/v1/chat/completions HTTP/1.1\r\nHost: dp\r\nAuthorization: Bearer ${alice.apiKey}\r\nX-Slow: `
      clients.push(slowClient(port, head, head ? 'a' : ''))
    }
    // Served while the sockets are held open.
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'a request during the flood')

    await within(DEADLINE_MS, async () => clients.every((c) => c.closed), 'every slow socket closed')
    // A socket destroyed with trickled bytes still unread in its receive buffer is reset rather
    // than ended (the kernel's rule), and on a loaded machine the reset can overtake the 408. So:
    // every socket is gone; the silent ones (nothing unread) each read the 408; and every answer
    // that arrived at all is the 408 in the contract's JSON.
    const silent = clients.filter((_, i) => i % 10 === 0)
    assert.equal(silent.filter((c) => c.ended).length, silent.length, 'the server ended every silent socket')
    const answers = clients.filter((c) => c.received !== '').map((c) => parsed(c.received))
    assert.ok(answers.length >= silent.length, `${answers.length} of ${SOCKETS} sockets read an answer`)
    assert.equal(answers.filter((a) => a.status === 408).length, answers.length, 'each answer is a 408')
    assert.equal(
      answers.filter((a) => a.body?.code === 'deadline_exceeded' && Array.isArray(a.body.details)).length,
      answers.length,
      "each answer is the contract's JSON (no request line parsed: no route, no dialect)",
    )
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'a request after the flood')
  })

  it('a request whose body never finishes is answered 408 after the request timeout, and its buffered bytes are released', async () => {
    const auth = `Authorization: Bearer ${alice.apiKey}\r\nContent-Type: application/json\r\n`
    const clients: SlowClient[] = []
    for (let i = 0; i < 20; i++) {
      const declared = i % 2 === 0
      const head = declared
        ? `POST /openai/v1/chat/completions HTTP/1.1\r\nHost: dp\r\n${auth}Content-Length: 100000\r\n\r\n{"model":`
        : `POST /openai/v1/chat/completions HTTP/1.1\r\nHost: dp\r\n${auth}Transfer-Encoding: chunked\r\n\r\n9\r\n{"model":\r\n`
      clients.push(slowClient(port, head, declared ? ' ' : '1\r\n \r\n'))
    }
    await within(
      DEADLINE_MS / 2,
      async () => ((await world.dp.metric('agentrouter_dp_buffered_request_bytes')) ?? 0) > 0,
      'the bodies are being buffered',
    )
    await within(DEADLINE_MS, async () => clients.every((c) => c.closed), 'every slow socket closed')
    const answers = clients.map((c) => parsed(c.received))
    assert.equal(answers.filter((a) => a.status === 408).length, clients.length, 'each was answered 408')
    // The request line was parsed: answered in its route's dialect (OpenAI's here).
    for (const a of answers) {
      const error = openaiErrorOf(a.body)
      assert.equal(error.code, 'deadline_exceeded')
      assert.equal(error.type, 'invalid_request_error')
    }
    assert.equal(await world.dp.metric('agentrouter_dp_buffered_request_bytes'), 0, 'nothing left reserved')
    assert.equal(world.upstream.requests.filter((r) => r.body.startsWith('{"model": ')).length, 0)
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'the next request is served')
  })

  it("other transport errors are the contract's JSON too, and their sockets are destroyed", async () => {
    const oversized = slowClient(
      port,
      `GET /healthz HTTP/1.1\r\nHost: dp\r\nX-Big: ${'a'.repeat(20_000)}`,
      'a',
    )
    const malformed = slowClient(port, 'GET /healthz HTTP/1.1\r\nHost: dp\r\nBad Header\r\n\r\n', '')
    await within(DEADLINE_MS, async () => oversized.closed && malformed.closed, 'both sockets closed')
    for (const [client, message] of [
      [oversized, 'request headers too large'],
      [malformed, 'malformed HTTP request'],
    ] as const) {
      const { status, body } = parsed(client.received)
      assert.equal(status, 400)
      assert.deepEqual(body, { code: 'invalid_argument', message, details: [] })
    }
  })

  it('nothing went unhandled', () => {
    assert.equal(world.dp.process.child.exitCode, null, 'the dataplane is still running')
    assert.doesNotMatch(world.dp.process.output(), /unhandled|uncaught/i)
  })
})
