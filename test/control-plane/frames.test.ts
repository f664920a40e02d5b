/**
 * The shared broadcast frame (control-plane/http/frames.ts) against the `ws` library it reaches
 * into: the frame is what ws itself would put on the wire, the fast path is taken on a server
 * socket without permessage-deflate (so a ws upgrade that changed the internals fails here rather
 * than silently falling back), it is refused when an extension was negotiated, and either way a ws
 * client reads the message. Pins ws 8.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import * as wsModule from 'ws'
import WebSocket, { WebSocketServer } from 'ws'
import { canWriteFramed, prepareText, sendPrepared } from '../../control-plane/http/frames.ts'
import { REPO_ROOT } from '../support/process.ts'

/** ws's own framing (a named export at runtime, not in its types). */
const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] }
}

const wsVersion = (
  JSON.parse(readFileSync(`${REPO_ROOT}/node_modules/ws/package.json`, 'utf8')) as { version: string }
).version

/** A server and one connected client; resolves the server-side socket. */
async function pair(
  perMessageDeflate: boolean,
): Promise<{ server: WebSocket; client: WebSocket; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const { port } = wss.address() as AddressInfo
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve))
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate })
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve())
    client.once('error', reject)
  })
  const server = await serverSide
  return {
    server,
    client,
    async close() {
      client.terminate()
      for (const c of wss.clients) c.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })),
  )
}

describe('shared broadcast frames', () => {
  it(`is checked against ws 8 (installed: ${wsVersion})`, () => {
    assert.match(wsVersion, /^8\./, 'frames.ts reaches into ws 8 internals: re-check it against this version')
  })

  it('builds the frame ws itself would send, for short, 16-bit and 64-bit lengths and multi-byte text', () => {
    for (const text of ['{"type":"hello"}', 'é'.repeat(100), 'x'.repeat(126), 'y'.repeat(70_000), '']) {
      const prepared = prepareText(text)
      const ours = Buffer.from(text)
      const expected = Buffer.concat(
        Sender.frame(ours, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false }),
      )
      assert.deepEqual(prepared.frame, expected, `frame of ${text.length} chars`)
      assert.deepEqual(prepared.payload, ours)
    }
  })

  describe('on a server socket without permessage-deflate', () => {
    let p: Awaited<ReturnType<typeof pair>>
    before(async () => {
      p = await pair(false)
    })
    after(() => p.close())

    it('writes the shared frame itself, and the client reads the text message', async () => {
      assert.equal(canWriteFramed(p.server), true, 'the fast path is available (ws internals as expected)')
      const prepared = prepareText(JSON.stringify({ type: 'revocation', cursor: 'c1' }))
      const got = nextMessage(p.client)
      sendPrepared(p.server, prepared)
      const { data, isBinary } = await got
      assert.equal(isBinary, false)
      assert.deepEqual(JSON.parse(data.toString()), { type: 'revocation', cursor: 'c1' })
    })

    it('counts what it wrote in bufferedAmount while the peer reads nothing', async () => {
      const socket = (p.client as unknown as { _socket: { pause(): void; resume(): void } })._socket
      socket.pause()
      const big = prepareText('z'.repeat(1024 * 1024))
      for (let i = 0; i < 16; i++) sendPrepared(p.server, big)
      assert.ok(p.server.bufferedAmount > 1024 * 1024, `bufferedAmount ${p.server.bufferedAmount}`)
      let received = 0
      const all = new Promise<void>((resolve) =>
        p.client.on('message', () => {
          if (++received === 16) resolve()
        }),
      )
      socket.resume()
      await all
    })

    it('keeps the order of frames sent through ws.send in between', async () => {
      const seen: string[] = []
      const done = new Promise<void>((resolve) =>
        p.client.on('message', (data) => {
          seen.push(data.toString())
          if (seen.length === 3) resolve()
        }),
      )
      sendPrepared(p.server, prepareText('one'))
      p.server.send('two')
      sendPrepared(p.server, prepareText('three'))
      await done
      assert.deepEqual(seen, ['one', 'two', 'three'])
    })
  })

  it('falls back to ws.send when permessage-deflate was negotiated, and the client still reads it', async () => {
    const p = await pair(true)
    try {
      assert.equal(canWriteFramed(p.server), false)
      const got = nextMessage(p.client)
      sendPrepared(p.server, prepareText('{"type":"heartbeat"}'))
      const { data, isBinary } = await got
      assert.equal(isBinary, false)
      assert.equal(data.toString(), '{"type":"heartbeat"}')
    } finally {
      await p.close()
    }
  })
})
