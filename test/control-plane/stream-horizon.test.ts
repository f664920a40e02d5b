/**
 * The revocation stream when a purge overtakes a subscriber during its catch-up: the entries
 * between its cursor and the head are gone, so it could never reach the head; it is closed with
 * 4412 (a reconnect from that cursor gets 412, and the dataplane re-snapshots), not left reading
 * forever. The log is a stand-in: a real purge cannot be timed between an upgrade and its first
 * catch-up read. (The upgrade's own 412 is tested end to end in test/dataplane/revocation-purge.test.ts.)
 */
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { DataplaneRegistry } from '../../control-plane/dataplanes/registry.ts'
import type { Authenticator } from '../../control-plane/http/authenticate.ts'
import { CLOSE_BEHIND_HORIZON, RevocationStream } from '../../control-plane/http/stream.ts'
import type { ControlPlaneMetrics } from '../../control-plane/metrics.ts'
import type { RevocationLog } from '../../control-plane/revocations/log.ts'
import { createLogger } from '../../shared/logger.ts'
import { formatMicros } from '../../shared/time.ts'

const HEAD = 1_800_000_000_000_000
const HORIZON = HEAD - 10
const SINCE = HEAD - 20

describe('revocation stream: a purge overtakes a catching-up subscriber', () => {
  let reads = 0
  const revocations = Object.assign(new EventEmitter(), {
    head: HEAD,
    after: async () => {
      reads++
      return []
    },
    // At the upgrade the cursor was complete; the purge ran just after.
    requireComplete: async () => {},
    horizon: async () => HORIZON,
  })
  const principal = {
    claims: { jti: 'ak_stream', kt: 'KEY_TYPE_DATAPLANE', scope: 'revocations/read' },
    isAdmin: false,
  }
  const stream = new RevocationStream(
    { authenticate: () => principal } as unknown as Authenticator,
    revocations as unknown as RevocationLog,
    new DataplaneRegistry(),
    { streamDisconnects: { inc: () => {} } } as unknown as ControlPlaneMetrics,
    createLogger({ level: 'error' }),
    { heartbeatMs: 600_000, maxBufferedBytes: 1 << 20 },
  )
  const server = createServer()
  let url = ''

  before(async () => {
    stream.attach(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/tokens/revocations/stream`
  })
  after(async () => {
    stream.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('closes it with 4412 naming the purge, after one read, instead of reading again and again', async () => {
    const ws = new WebSocket(`${url}?since=${encodeURIComponent(formatMicros(SINCE))}&name=behind`, {
      headers: { authorization: 'Bearer key' },
    })
    const [code, reason] = await new Promise<[number, string]>((resolve, reject) => {
      ws.on('close', (c, r) => resolve([c, r.toString()]))
      ws.on('error', reject)
      setTimeout(() => reject(new Error(`still open after 5 s and ${reads} reads`)), 5_000).unref()
    })
    assert.equal(code, CLOSE_BEHIND_HORIZON)
    assert.match(reason, /purge horizon/)
    assert.equal(reads, 1)
  })

  it('lets a subscriber at the horizon go live (nothing after it is missing)', async () => {
    reads = 0
    revocations.head = HORIZON
    const ws = new WebSocket(`${url}?since=${encodeURIComponent(formatMicros(HORIZON))}&name=current`, {
      headers: { authorization: 'Bearer key' },
    })
    const hello = await new Promise<{ type: string }>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString()) as { type: string }))
      ws.on('error', reject)
    })
    assert.equal(hello.type, 'hello')
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(ws.readyState, WebSocket.OPEN)
    assert.equal(reads, 1)
    ws.terminate()
  })
})
