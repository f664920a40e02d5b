import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { KeyUsage } from '../../dataplane/auth/key-usage.ts'
import { loadDataplaneConfig } from '../../dataplane/config.ts'
import { metrics as metricsText, metricValue, tableCounts } from '../support/http.ts'
import { type Caller, chat, type InferenceWorld, startInferenceWorld, within } from '../support/inference.ts'

const REPORTS = 'agentrouter_cp_dataplane_usage_reports_total'
const INTERVAL_MS = 2_000 // the default AGENTROUTER_DP_USAGE_REPORT_INTERVAL
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const UNKNOWN_KEY = 'key_01JZZZZZZZZZZZZZZZZZZZZZZZ'

interface RawStream {
  ws: WebSocket
  closed: Promise<number>
  send(message: unknown): void
}

/** A stream connection of our own, to send what a dataplane (or an impostor) might. */
async function openStream(cpUrl: string, key: string, name: string): Promise<RawStream> {
  const ws = new WebSocket(
    `${cpUrl.replace(/^http/, 'ws')}/v1/tokens/revocations/stream?name=${encodeURIComponent(name)}`,
    { headers: { authorization: `Bearer ${key}` }, perMessageDeflate: false },
  )
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
  return { ws, closed, send: (message) => ws.send(JSON.stringify(message)) }
}

describe('last_used_at from traffic through the dataplanes', () => {
  let world: InferenceWorld
  let alice: Caller
  let bob: Caller

  const reports = async (labels: Record<string, string> = {}) =>
    metricValue(await metricsText(world.cp.url), REPORTS, labels)
  const lastUsedOf = async (caller: Caller, keyId: string) =>
    (await caller.client.me.listKeys()).keys.find((k) => k.id === keyId)?.last_used_at

  before(async () => {
    world = await startInferenceWorld()
    ;[alice, bob] = await Promise.all([world.caller('alice@example.com'), world.caller('bob@example.com')])
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-alice-project')
  })
  after(() => world?.stop())

  it('a key used only at a dataplane shows last_used_at within 10 seconds', async () => {
    // The key is issued with the session and never shown to the control plane: only the
    // dataplane's report can set it.
    const { key, secret } = await alice.client.me.issueKey('only at the dataplane')
    assert.equal(await lastUsedOf(alice, key.id), undefined)
    const sentAt = Date.now()
    assert.equal((await chat(world.dp.url, secret)).status, 200)
    await within(10_000, async () => (await lastUsedOf(alice, key.id)) !== undefined, 'last_used_at set')
    const at = Date.parse((await lastUsedOf(alice, key.id))!)
    // Reported to within one interval; never in the future.
    assert.ok(at >= sentAt - INTERVAL_MS - 1_000 && at <= Date.now(), `last_used_at ${at}, sent ${sentAt}`)
    assert.ok((await world.dp.metric('agentrouter_dp_usage_reports'))! >= 1)
  })

  it('the control plane gets at most one report per interval from a dataplane, whatever the rate', async () => {
    const keys = await Promise.all(
      [1, 2, 3].map((i) => alice.client.me.issueKey(`busy ${i}`).then((k) => k.secret)),
    )
    const before = await reports()
    const started = Date.now()
    let requests = 0
    const worker = async (n: number) => {
      while (Date.now() - started < 3 * INTERVAL_MS) {
        assert.equal((await chat(world.dp.url, keys[n % keys.length]!)).status, 200)
        requests++
      }
    }
    await Promise.all(Array.from({ length: 16 }, (_, n) => worker(n)))
    const elapsed = Date.now() - started
    const received = (await reports()) - before
    assert.ok(requests > 50, `${requests} requests`)
    assert.ok(received >= 1, 'reports arrived')
    assert.ok(
      received <= Math.floor(elapsed / INTERVAL_MS) + 1,
      `${received} reports in ${elapsed} ms for ${requests} requests`,
    )
    assert.equal(await reports({ outcome: 'too_frequent' }), 0)
    assert.equal(await reports({ outcome: 'invalid' }), 0)
  })

  it('refuses reports from an admin observer, too frequent, malformed or oversized ones; unknown keys change nothing', async () => {
    const { key: bobKey } = await bob.client.me.issueKey('never used')
    const counts = tableCounts(world.cp.dataDir)

    const observer = await openStream(world.cp.url, world.cp.adminKey, 'observer')
    observer.send({ type: 'usage', keys: [[bobKey.id, 0]] })
    await within(5_000, async () => (await reports({ outcome: 'not_a_dataplane' })) === 1, 'observer refused')

    const impostor = await openStream(world.cp.url, world.cp.dataplaneKey, 'impostor')
    // Well-formed but naming no key: accepted as a report, and writes nothing.
    impostor.send({ type: 'usage', keys: [[UNKNOWN_KEY, 0]] })
    impostor.send({ type: 'usage', keys: [[bobKey.id, 0]] }) // at once: over the rate
    await within(5_000, async () => (await reports({ outcome: 'too_frequent' })) === 1, 'too frequent')
    await sleep(600)
    const oversized = Array.from({ length: 1_001 }, () => [bobKey.id, 0])
    impostor.send({ type: 'usage', keys: oversized })
    await within(5_000, async () => (await reports({ outcome: 'invalid' })) === 1, 'oversized refused')
    for (const keys of [[[bobKey.id, -1]], [['ses_01JZZZZZZZZZZZZZZZZZZZZZZZ', 0]], [[bobKey.id]], []]) {
      await sleep(600)
      impostor.send({ type: 'usage', keys })
    }
    await within(5_000, async () => (await reports({ outcome: 'invalid' })) === 5, 'malformed refused')

    // The refusals left the socket open: it still delivers revocations.
    assert.equal(impostor.ws.readyState, WebSocket.OPEN)
    assert.equal(observer.ws.readyState, WebSocket.OPEN)

    // A real use through the dataplane is written in a later batch than everything above...
    const { key: sentinel, secret } = await alice.client.me.issueKey('sentinel')
    assert.equal((await chat(world.dp.url, secret)).status, 200)
    await within(10_000, async () => (await lastUsedOf(alice, sentinel.id)) !== undefined, 'sentinel written')
    // ... and none of it touched bob's key, nor added a row anywhere.
    assert.equal(await lastUsedOf(bob, bobKey.id), undefined)
    const now = tableCounts(world.cp.dataDir)
    assert.deepEqual({ ...now, api_keys: now.api_keys! - 1 }, counts, 'only the sentinel key was added')

    // A frame over the stream's 64 KiB limit ends that connection, not the control plane.
    await sleep(600)
    impostor.send({ type: 'usage', keys: [['x'.repeat(70_000), 0]] })
    assert.equal(await impostor.closed, 1009)
    observer.ws.close()
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200)
  })

  it('the dataplane refuses an interval without a unit or under a second', () => {
    const base = { AGENTROUTER_DATAPLANE_KEY: 'ak-a.b.c', AGENTROUTER_DATA_DIR: '/tmp/x' }
    const interval = (value?: string) =>
      loadDataplaneConfig({
        ...base,
        ...(value === undefined ? {} : { AGENTROUTER_DP_USAGE_REPORT_INTERVAL: value }),
      }).sync.usageReportIntervalMs
    assert.equal(interval(), 2_000)
    assert.equal(interval('5s'), 5_000)
    for (const bad of ['2000', '500ms', '2h', 'soon'])
      assert.throws(
        () => interval(bad),
        (err: Error) => err.message.startsWith('AGENTROUTER_DP_USAGE_REPORT_INTERVAL:'),
        bad,
      )
  })

  it('keeps a bounded set of keys between reports, counting those it drops', () => {
    const usage = new KeyUsage(2)
    usage.record('key_a')
    usage.record('key_a')
    usage.advance()
    usage.record('key_b')
    usage.record('key_c')
    assert.equal(usage.pending, 2)
    assert.equal(usage.dropped, 1)
    usage.advance()
    assert.deepEqual(usage.take(1, 2), [['key_a', 4]])
    assert.equal(usage.pending, 1)
    usage.record('key_c')
    assert.deepEqual(usage.take(10, 2), [
      ['key_b', 2],
      ['key_c', 0],
    ])
    assert.equal(usage.pending, 0)
  })
})
