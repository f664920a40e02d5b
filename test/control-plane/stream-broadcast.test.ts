/**
 * The revocation stream frames each broadcast once and writes the same bytes to every
 * subscriber: seen on the wire by raw TCP subscribers (which read the frames themselves, so a
 * compressed, masked or fragmented frame would show), with the real dataplane still applying what
 * it receives, and the bounded-buffer rule still cutting off a subscriber that stops reading while
 * the others get every revocation.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { createServer } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { DataplaneRegistry } from '../../control-plane/dataplanes/registry.ts'
import type { Authenticator } from '../../control-plane/http/authenticate.ts'
import { prepareText } from '../../control-plane/http/frames.ts'
import { RevocationStream } from '../../control-plane/http/stream.ts'
import type { ControlPlaneMetrics } from '../../control-plane/metrics.ts'
import type { RevocationLog } from '../../control-plane/revocations/log.ts'
import { createLogger } from '../../shared/logger.ts'
import { sleep } from '../support/http.ts'
import { type Caller, chat, type InferenceWorld, startInferenceWorld, within } from '../support/inference.ts'

interface Frame {
  /** The whole frame as it arrived: header and payload. */
  raw: Buffer
  opcode: number
  payload: Buffer
}

/** A stream subscriber on a bare socket: does the upgrade and splits what arrives into frames. */
class RawSubscriber {
  readonly frames: Frame[] = []
  readonly closed: Promise<void>
  #buf = Buffer.alloc(0)
  #upgraded = false
  #wake: (() => void) | undefined

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.#data(chunk))
    socket.on('error', () => undefined)
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    this.closed.then(() => this.#wake?.())
  }

  static async connect(baseUrl: string, key: string, since: string, name: string): Promise<RawSubscriber> {
    const url = new URL(baseUrl)
    const socket = connect({ host: url.hostname, port: Number(url.port) })
    const sub = new RawSubscriber(socket)
    socket.write(
      `GET /v1/tokens/revocations/stream?${since ? `since=${encodeURIComponent(since)}&` : ''}name=${name} HTTP/1.1\r\n` +
        `Host: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n` +
        `Authorization: Bearer ${key}\r\n\r\n`,
    )
    await sub.waitFor((f) => f.opcode === 1 && JSON.parse(f.payload.toString()).type === 'hello')
    return sub
  }

  /** The first text frame whose JSON names `jti` as the revoked credential. */
  revocationOf(jti: string): Promise<Frame> {
    return this.waitFor((f) => {
      if (f.opcode !== 1) return false
      const m = JSON.parse(f.payload.toString())
      return m.type === 'revocation' && m.revocation.jti === jti
    })
  }

  async waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.frames.find(match)
      if (hit) return hit
      if (Date.now() > deadline || this.socket.destroyed)
        throw new Error(`no matching frame in ${timeoutMs} ms (${this.frames.length} frames)`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  #data(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk])
    if (!this.#upgraded) {
      const end = this.#buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = this.#buf.subarray(0, end).toString('latin1')
      assert.match(head, /^HTTP\/1\.1 101/)
      assert.doesNotMatch(head, /sec-websocket-extensions/i, 'no extension is negotiated')
      this.#upgraded = true
      this.#buf = this.#buf.subarray(end + 4)
    }
    for (;;) {
      if (this.#buf.length < 2) break
      let length = this.#buf[1]! & 0x7f
      let header = 2
      if (length === 126) [length, header] = [this.#buf.length >= 4 ? this.#buf.readUInt16BE(2) : -1, 4]
      else if (length === 127)
        [length, header] = [this.#buf.length >= 10 ? this.#buf.readUInt32BE(6) : -1, 10]
      if (length < 0 || this.#buf.length < header + length) break
      const raw = Buffer.from(this.#buf.subarray(0, header + length))
      this.frames.push({ raw, opcode: raw[0]! & 0x0f, payload: raw.subarray(header) })
      this.#buf = this.#buf.subarray(header + length)
    }
    this.#wake?.()
  }

  close(): void {
    this.socket.destroy()
  }
}

describe('revocation stream broadcast', () => {
  let world: InferenceWorld
  let alice: Caller
  const subscribers: RawSubscriber[] = []
  const head = async () => (await world.cp.admin.admin.listDataplanes()).head_cursor
  const subscribe = async (name: string) => {
    const sub = await RawSubscriber.connect(world.cp.url, world.cp.dataplaneKey, await head(), name)
    subscribers.push(sub)
    return sub
  }

  before(async () => {
    world = await startInferenceWorld({
      cpEnv: { AGENTROUTER_STREAM_HEARTBEAT: '10m' },
    })
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-alice-project')
  })
  after(async () => {
    for (const s of subscribers) s.close()
    await world?.stop()
  })

  it('sends every subscriber the same bytes, one unmasked, unfragmented, uncompressed text frame, and the dataplane applies it', async () => {
    const subs = await Promise.all(Array.from({ length: 5 }, (_, i) => subscribe(`raw-${i}`)))
    const { key, secret } = await alice.client.me.issueKey('broadcast')
    assert.equal((await chat(world.dp.url, secret)).status, 200)
    const { key: revoked } = await alice.client.me.revokeKey(key.id)

    const frames = await Promise.all(subs.map((s) => s.revocationOf(key.id)))
    for (const f of frames) assert.deepEqual(f.raw, frames[0]!.raw, 'byte-identical on every socket')
    const frame = frames[0]!.raw
    assert.equal(frame[0], 0x81, 'FIN, text, no RSV bit (not compressed)')
    assert.equal(frame[1]! & 0x80, 0, 'not masked')
    const message = JSON.parse(frames[0]!.payload.toString())
    assert.equal(message.cursor, revoked.revoked_at)
    assert.equal(message.revocation.jti, key.id)
    assert.deepEqual(frame, prepareText(frames[0]!.payload.toString()).frame)

    await within(
      2_000,
      async () => (await chat(world.dp.url, secret)).status === 401,
      'refused at the dataplane',
    )
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'other keys are unaffected')
    for (const s of subs.splice(0)) s.close()
  })
})

/**
 * The bounded-buffer rule with the shared frame, on a stream in this process: the kernel's
 * socket buffers hold megabytes before the control plane holds a byte, more revocations than a
 * test can make through the API, so the log here is a stand-in that appends as fast as wanted.
 */
describe('revocation stream buffer limit, with shared frames', () => {
  const LIMIT = 64 * 1024
  const revocations = Object.assign(new EventEmitter(), {
    head: 0,
    after: async () => [],
    requireComplete: async () => {},
    horizon: async () => 0,
  })
  const registry = new DataplaneRegistry()
  const disconnects: string[] = []
  const metricsStub = { streamDisconnects: { inc: (l: { reason: string }) => disconnects.push(l.reason) } }
  const principal = {
    claims: { jti: 'ak_stream', kt: 'KEY_TYPE_DATAPLANE', scope: 'revocations/read' },
    isAdmin: false,
  }
  const stream = new RevocationStream(
    { authenticate: () => principal } as unknown as Authenticator,
    revocations as unknown as RevocationLog,
    registry,
    metricsStub as unknown as ControlPlaneMetrics,
    createLogger({ level: 'error' }),
    { heartbeatMs: 600_000, maxBufferedBytes: LIMIT },
  )
  const server = createServer()
  let url = ''
  const subs: RawSubscriber[] = []

  before(async () => {
    stream.attach(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    for (const s of subs) s.close()
    stream.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('cuts off a subscriber that stops reading once its unsent bytes pass the limit; the others get every revocation', async () => {
    const slow = await RawSubscriber.connect(url, 'key', '', 'stalled')
    const fast = await RawSubscriber.connect(url, 'key', '', 'reading')
    subs.push(slow, fast)
    await sleep(50) // both past their (empty) backlog
    slow.socket.pause()

    const reason = 'r'.repeat(1_000)
    let appended = 0
    while (!disconnects.includes('too_slow') && appended < 40_000) {
      for (let i = 0; i < 100; i++) {
        appended++
        revocations.head = appended
        revocations.emit('appended', {
          jti: `ak_${appended}`,
          kind: 'api_key',
          revoked_at: appended,
          expires_at: 4_000_000_000_000_000,
          reason,
        })
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.deepEqual(disconnects, ['too_slow'], `cut off after ${appended} revocations`)
    assert.ok(appended > 100, 'not before the kernel buffers filled')
    assert.deepEqual(
      registry.list().map((d) => d.name),
      ['reading'],
      'the stalled subscriber is gone, the reading one stays',
    )
    slow.socket.resume()
    await Promise.race([slow.closed, sleep(5_000)])
    assert.ok(slow.socket.destroyed, 'the stalled subscriber was disconnected')

    const last = await fast.revocationOf(`ak_${appended}`)
    const cursors = fast.frames
      .filter((f) => f.opcode === 1)
      .map((f) => JSON.parse(f.payload.toString()))
      .filter((m) => m.type === 'revocation')
      .map((m) => m.revocation.jti)
    assert.equal(cursors.length, appended, 'the reading subscriber got every revocation')
    assert.deepEqual(cursors.slice(0, 3), ['ak_1', 'ak_2', 'ak_3'])
    assert.equal(JSON.parse(last.payload.toString()).revocation.reason, reason)
    assert.ok(!fast.socket.destroyed, 'and is still connected')
  })
})
