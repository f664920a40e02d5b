import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { connectionListed, downstreamHeaders, upstreamHeaders } from '../../dataplane/proxy/headers.ts'

/** Headers as node and undici hand them over: a flat `[name, value, …]` list. */
const flat = (headers: Array<[string, string]>) => headers.flat()
const rawFlat = (headers: Array<[string, string]>) => flat(headers).map((s) => Buffer.from(s, 'latin1'))
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

describe('headers across the proxy', () => {
  it('upstream: the caller’s credential, hop-by-hop headers and those its Connection names are dropped; the provider key is added', () => {
    const client = flat([
      ['Host', 'dp.local'],
      ['Authorization', 'Bearer ak-caller'],
      ['X-Api-Key', 'ak-caller'],
      ['Cookie', 'agentrouter_session=s'],
      ['Connection', 'keep-alive, X-Hop'],
      ['X-Hop', 'dropped'],
      ['Proxy-Authorization', 'Basic x'],
      ['Content-Length', '2'],
      ['traceparent', TRACEPARENT],
      ['X-Custom', 'kept'],
    ])
    const drop = connectionListed('keep-alive, X-Hop')
    assert.deepEqual(
      upstreamHeaders(client, 'authorization', 'Bearer sk-provider', 2, drop),
      flat([
        ['traceparent', TRACEPARENT],
        ['x-custom', 'kept'],
        ['authorization', 'Bearer sk-provider'],
        ['content-length', '2'],
      ]),
    )
  })

  it('downstream: hop-by-hop headers and those the upstream’s Connection headers name are dropped', () => {
    const upstream = rawFlat([
      ['Content-Type', 'application/json'],
      ['X-Upstream-Private', 'hop'],
      ['Connection', 'keep-alive, X-Upstream-Private'],
      ['Keep-Alive', 'timeout=5'],
      ['Transfer-Encoding', 'chunked'],
      ['Connection', 'X-Second'],
      ['X-Second', 'hop'],
      ['X-Request-Id', 'req_1'],
    ])
    assert.deepEqual(
      downstreamHeaders(upstream),
      flat([
        ['Content-Type', 'application/json'],
        ['X-Request-Id', 'req_1'],
      ]),
    )
  })

  it('downstream: a plain keep-alive response keeps every end-to-end header, in order', () => {
    const upstream = rawFlat([
      ['Content-Type', 'text/event-stream'],
      ['Connection', 'keep-alive'],
      ['Cache-Control', 'no-cache'],
    ])
    assert.deepEqual(
      downstreamHeaders(upstream),
      flat([
        ['Content-Type', 'text/event-stream'],
        ['Cache-Control', 'no-cache'],
      ]),
    )
  })
})
