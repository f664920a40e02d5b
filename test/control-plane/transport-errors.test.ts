/**
 * What the control plane answers when Node's HTTP parser refuses a request before any route sees
 * it, sent over a raw TCP socket: oversized headers get 431, a malformed request or a bad `Host`
 * 400, each with the contract's JSON error body (never an empty reply), and the server keeps
 * serving.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { isErrorCode } from '../../shared/errors.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'

interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** Writes `bytes` as they are and reads the answer until the server closes the connection. */
function raw(baseUrl: string, bytes: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
    })
    // The server may close while the rest of an oversized request is still being written.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err)
    })
    socket.on('close', () => {
      const split = text.indexOf('\r\n\r\n')
      if (split < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`))
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body: text.slice(split + 4) })
    })
    socket.write(bytes)
  })
}

function assertContractError(answer: RawAnswer, status: number, code: string, field: string): void {
  const label = JSON.stringify(answer).slice(0, 400)
  assert.equal(answer.status, status, label)
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/, label)
  assert.equal(Number(answer.headers['content-length']), Buffer.byteLength(answer.body), label)
  const body = JSON.parse(answer.body) as { code: unknown; message: unknown; details: unknown }
  assert.ok(isErrorCode(body.code), label)
  assert.equal(body.code, code, label)
  assert.equal(typeof body.message, 'string', label)
  assert.deepEqual(
    (body.details as Array<{ field?: string }>).map((d) => d.field),
    [field],
    label,
  )
}

describe("the control plane's transport errors", () => {
  let cp: TestControlPlane
  before(async () => {
    cp = await startControlPlane()
  })
  after(() => cp?.stop())

  it('answers 64 KiB of headers with 431 and the contract’s invalid_argument naming headers', async () => {
    const { host } = new URL(cp.url)
    const filler = Array.from({ length: 64 }, (_, i) => `x-filler-${i}: ${'a'.repeat(1000)}\r\n`).join('')
    const answer = await raw(cp.url, `GET /v1/me HTTP/1.1\r\nhost: ${host}\r\n${filler}\r\n`)
    assertContractError(answer, 431, 'invalid_argument', 'headers')
  })

  it('answers a garbage request line with 400 and the contract’s invalid_argument', async () => {
    for (const line of [
      'NOT AN HTTP REQUEST\r\n\r\n',
      'GET /v1/me HTTP/9.9\r\nhost: x\r\n\r\n',
      '\x00\x01\x02\r\n\r\n',
    ]) {
      assertContractError(await raw(cp.url, line), 400, 'invalid_argument', 'request')
    }
  })

  it('answers a missing or invalid Host with 400 and invalid_argument naming Host; HTTP/1.0 needs none', async () => {
    assertContractError(await raw(cp.url, 'GET /healthz HTTP/1.1\r\n\r\n'), 400, 'invalid_argument', 'Host')
    for (const host of ['exa mple.com', 'a@b', '[::1']) {
      const answer = await raw(cp.url, `GET /healthz HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`)
      assertContractError(answer, 400, 'invalid_argument', 'Host')
    }
    const { host } = new URL(cp.url)
    const backslash = await raw(
      cp.url,
      `GET /v1\\..\\me HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`,
    )
    assertContractError(backslash, 400, 'invalid_argument', 'request')
    const old = await raw(cp.url, 'GET /healthz HTTP/1.0\r\n\r\n')
    assert.equal(old.status, 200, old.body)
  })

  it('answers a malformed header with 400 and the contract’s invalid_argument, then serves as before', async () => {
    const { host } = new URL(cp.url)
    const answer = await raw(cp.url, `GET /healthz HTTP/1.1\r\nhost: ${host}\r\nbad header line\r\n\r\n`)
    assertContractError(answer, 400, 'invalid_argument', 'request')
    const ok = await raw(cp.url, `GET /healthz HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`)
    assert.equal(ok.status, 200, ok.body)
  })
})
