/**
 * A log that stays small: revocations whose credential expired (plus the leeway) leave the
 * control plane's log and every dataplane's set; a reader whose cursor is older than the purge
 * horizon is told so (`failed_precondition` naming the horizon, over HTTP and at the stream's
 * upgrade), and a dataplane cut off while a purge passed it recovers by a fresh snapshot and
 * still refuses a live revoked key. Runs on PostgreSQL too (test/control-plane/on-postgres-secrets.test.ts).
 *
 * Sessions live 3 s here (a logout revokes one: an entry that expires in 3 s), API keys the
 * default year; the control plane purges every 300 ms with a 1 s leeway, the dataplanes prune
 * every 300 ms with a 1 s clock leeway.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import type { Revocation } from '../../shared/contract/tokens.ts'
import { parseMicros } from '../../shared/time.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { metrics, metricValue } from '../support/http.ts'
import { chat } from '../support/inference.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

const DP_ENV = { AGENTROUTER_DP_CLOCK_LEEWAY: '1s', AGENTROUTER_DP_REVOCATION_PRUNE_INTERVAL: '300ms' }

interface ListError {
  code: string
  message: string
  details: Array<{ field?: string; horizon?: string }>
}

async function listRaw(
  cp: TestControlPlane,
  since?: string,
): Promise<{ status: number; body: { revocations: Revocation[]; total_count: number } & ListError }> {
  const query = since === undefined ? '' : `?since=${encodeURIComponent(since)}`
  const res = await fetch(`${cp.url}/v1/tokens/revocations${query}`, {
    headers: { authorization: `Bearer ${cp.dataplaneKey}` },
  })
  return { status: res.status, body: (await res.json()) as never }
}

/** The stream's answer to an upgrade from `since`: 101, or the refusal's status and JSON body. */
function upgrade(cp: TestControlPlane, since: string): Promise<{ status: number; body?: ListError }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(cp.client(cp.dataplaneKey).tokens.streamUrl(since, 'purge-probe'), {
      headers: { authorization: `Bearer ${cp.dataplaneKey}` },
    })
    ws.on('open', () => {
      ws.terminate()
      resolve({ status: 101 })
    })
    ws.on('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (c: Buffer) => {
        text += c
      })
      res.on('end', () => {
        ws.terminate()
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as ListError })
      })
    })
    ws.on('error', (err) => {
      if (!err.message.includes('Unexpected server response')) reject(err)
    })
  })
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('expired revocations are purged from the log and the dataplanes', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  let proxy: TcpProxy
  let live: TestDataplane
  let cutOff: TestDataplane
  let alice: LoginResult
  let validSecret: string
  let revokedSecret: string
  /** The cursor both dataplanes had when the second was cut off. */
  let cutCursor: string
  let horizon: string

  before(async () => {
    ;[cp, upstream] = await Promise.all([
      startControlPlane({
        AGENTROUTER_SESSION_TTL: '3s',
        AGENTROUTER_REVOCATION_PURGE_INTERVAL: '300ms',
        AGENTROUTER_REVOCATION_PURGE_LEEWAY: '1s',
      }),
      startUpstream(),
    ])
    proxy = await startTcpProxy(cp.url)
    alice = await cp.login('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-purge')
    const valid = await alice.client.me.issueKey('valid')
    const revoked = await alice.client.me.issueKey('revoked')
    validSecret = valid.secret
    revokedSecret = revoked.secret
    await alice.client.me.revokeKey(revoked.key.id)
    const dp = (url: string) =>
      startDataplane({
        controlPlaneUrl: url,
        dataplaneKey: cp.dataplaneKey,
        upstream: upstream.url,
        env: DP_ENV,
      })
    ;[live, cutOff] = await Promise.all([dp(cp.url), dp(proxy.url)])
    cutCursor = (await listRaw(cp)).body.revocations.at(-1)!.revoked_at
    await cutOff.waitFor((r) => r.cursor === cutCursor && r.stream_connected)
  })
  after(async () => {
    await Promise.all([live?.stop(), cutOff?.stop()])
    await proxy?.close()
    await cp?.stop()
    await upstream?.close()
  })

  it('purges short-lived entries from the log and the live dataplane, keeping the live one', async () => {
    proxy.cut()
    await cutOff.waitFor((r) => !r.stream_connected)
    // Three sessions revoked by logout: entries whose credential expires within 3 s.
    const sessions: string[] = []
    for (let i = 0; i < 3; i++) {
      const s = await cp.login(`short${i}@example.com`)
      sessions.push(s.sessionToken)
      await s.client.me.logout({ wait: 'enforced', timeoutMs: 5_000 })
    }
    const withSessions = await listRaw(cp)
    assert.equal(withSessions.body.revocations.length, 4)
    await live.waitFor((r) => r.revoked_jtis === 4)
    assert.equal((await chat(live.url, sessions[0]!)).status, 401)

    // The control plane: only the year-long key's entry is left, and a full read counts it exactly.
    const left = await eventually('the sessions purged from the log', async () => {
      const list = await listRaw(cp)
      return list.body.revocations.length === 1 ? list : undefined
    })
    assert.equal(left.status, 200)
    assert.equal(left.body.total_count, 1)
    assert.equal(left.body.revocations[0]!.kind, 'api_key')
    assert.equal(metricValue(await metrics(cp.url), 'agentrouter_cp_revocations_purged_total'), 3)
    // The live dataplane: the same, by its own clock and leeway.
    await live.waitFor((r) => r.revoked_jtis === 1, 20_000)
    assert.match(live.process.output(), /expired revocations pruned/)
    assert.equal((await chat(live.url, revokedSecret)).status, 401)
    assert.equal((await chat(live.url, validSecret)).status, 200)
    // The cut-off dataplane still holds the sessions it never saw, and enforces what it had.
    assert.equal((await cutOff.readiness()).cursor, cutCursor)
  })

  it('tells a reader behind the horizon so, naming it, over HTTP and at the stream', async () => {
    const refused = await listRaw(cp, cutCursor)
    assert.equal(refused.status, 412, JSON.stringify(refused.body).slice(0, 2000) + cutCursor)
    assert.equal(refused.body.code, 'failed_precondition')
    const detail = refused.body.details.find((d) => d.field === 'since')
    assert.ok(detail?.horizon, JSON.stringify(refused.body))
    horizon = detail.horizon
    assert.ok(parseMicros(horizon)! > parseMicros(cutCursor)!, `horizon ${horizon} after ${cutCursor}`)
    assert.ok(refused.body.message.includes(horizon), refused.body.message)

    const stream = await upgrade(cp, cutCursor)
    assert.equal(stream.status, 412)
    assert.equal(stream.body?.code, 'failed_precondition')
    assert.ok(stream.body?.message.includes(horizon))

    // At the horizon the log is complete: nothing after it yet, counted exactly.
    const atHorizon = await listRaw(cp, horizon)
    assert.equal(atHorizon.status, 200)
    assert.deepEqual([atHorizon.body.revocations.length, atHorizon.body.total_count], [0, 0])
    assert.equal((await upgrade(cp, horizon)).status, 101)

    // The snapshot declares the horizon as its cursor (the newest entries were purged: the head
    // does not move back) and only what is left.
    const snap = await fetch(`${cp.url}/v1/tokens/revocations/snapshot`, {
      headers: { authorization: `Bearer ${cp.dataplaneKey}` },
    })
    assert.equal(snap.status, 200)
    assert.equal(snap.headers.get('x-revocation-count'), '1')
    assert.equal(snap.headers.get('x-revocation-cursor'), horizon)
    await snap.arrayBuffer()
  })

  it('the cut-off dataplane, back, takes a fresh snapshot, resumes, and refuses live revoked keys', async () => {
    proxy.restore()
    const r = await cutOff.waitFor((x) => x.stream_connected && x.cursor === horizon, 20_000)
    assert.equal(r.revoked_jtis, 1)
    assert.match(cutOff.process.output(), /behind the purge horizon: taking a fresh snapshot/)
    assert.equal((await chat(cutOff.url, revokedSecret)).status, 401)
    assert.equal((await chat(cutOff.url, validSecret)).status, 200)

    // It follows the stream again: a new revocation is enforced there, and pages from the
    // horizon with an exact count.
    alice = await cp.login('alice@example.com')
    const { key, secret } = await alice.client.me.issueKey('later')
    assert.equal((await chat(cutOff.url, secret)).status, 200)
    const revoked = await alice.client.me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 10_000 })
    assert.equal(revoked.enforcement?.status, 'enforced')
    assert.equal((await chat(cutOff.url, secret)).status, 401)
    const page = await listRaw(cp, horizon)
    assert.deepEqual([page.body.revocations.map((x) => x.jti), page.body.total_count], [[key.id], 1])
    const all = await listRaw(cp)
    assert.equal(all.body.total_count, all.body.revocations.length)
    assert.equal(all.body.total_count, 2)
  })
})
