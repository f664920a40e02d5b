import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { type DataplaneOptions, startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { type Caller, chat, openaiErrorOf, within } from '../support/inference.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

describe('the dataplane when its control plane is unreachable', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  let link: TcpProxy
  let dp: TestDataplane
  let alice: Caller
  const others: TestDataplane[] = []
  /** Revoked while the dataplane was connected. */
  let revokedEarly: string
  /** Revoked while the dataplane was cut off. */
  const revokedWhileCut: string[] = []

  const dataplane = async (o: Partial<DataplaneOptions> = {}) => {
    const d = await startDataplane({
      controlPlaneUrl: link.url,
      dataplaneKey: cp.dataplaneKey,
      upstream: upstream.url,
      ...o,
    })
    others.push(d)
    return d
  }
  const streamConnected = (d: TestDataplane, connected: boolean) =>
    d.waitFor((r) => r.stream_connected === connected, 5_000)

  before(async () => {
    ;[cp, upstream] = await Promise.all([
      startControlPlane({ AGENTROUTER_STREAM_HEARTBEAT: '500ms' }),
      startUpstream(),
    ])
    link = await startTcpProxy(cp.url)
    dp = await dataplane()
    const login = await cp.login('alice@example.com')
    const { key, secret } = await login.client.me.issueKey('long-lived')
    alice = { ...login, email: 'alice@example.com', apiKey: secret, apiKeyId: key.id }
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-outage')
    const early = await alice.client.me.issueKey('revoked early')
    revokedEarly = early.secret
    assert.equal((await chat(dp.url, revokedEarly)).status, 200)
    const enforced = await alice.client.me.revokeKey(early.key.id, { wait: 'enforced' })
    assert.equal(enforced.enforcement?.status, 'enforced')
  })
  after(async () => {
    await Promise.all(others.map((d) => d.stop()))
    await cp?.stop()
    await link?.close()
    await upstream?.close()
  })

  it('cut off, it keeps serving valid tokens and refusing revoked ones; reconnected, it applies every revocation made meanwhile', async () => {
    const doomed = await Promise.all([1, 2, 3, 4, 5].map((i) => alice.client.me.issueKey(`doomed ${i}`)))
    for (const k of doomed) assert.equal((await chat(dp.url, k.secret)).status, 200)

    link.cut()
    await streamConnected(dp, false)
    assert.equal((await chat(dp.url, alice.apiKey)).status, 200, 'a valid token is served from the caches')
    assert.equal((await chat(dp.url, revokedEarly)).status, 401, 'a revoked one stays refused')

    for (const k of doomed) {
      await alice.client.me.revokeKey(k.key.id)
      revokedWhileCut.push(k.secret)
    }
    link.restore()
    await within(
      5_000,
      async () => {
        for (const secret of revokedWhileCut) if ((await chat(dp.url, secret)).status !== 401) return false
        return true
      },
      'every revocation made while cut off is enforced',
    )
    // And it acknowledged them: the control plane sees it caught up, at the head.
    await within(
      2_000,
      async () => {
        const { head_cursor, dataplanes } = await cp.admin.admin.listDataplanes()
        const mine = dataplanes.find((d) => d.name === dp.name)
        return mine?.lag_entries === 0 && mine.applied_cursor === head_cursor
      },
      'acknowledged up to the head',
    )
    const { head_cursor } = await cp.admin.admin.listDataplanes()
    assert.equal((await dp.readiness()).cursor, head_cursor)
    assert.equal((await chat(dp.url, alice.apiKey)).status, 200)
  })

  it('fails closed once the staleness bound passes without a sync, and recovers when the link returns', async () => {
    const strict = await dataplane({ env: { AGENTROUTER_DP_MAX_STALENESS: '2s' } })
    assert.equal((await chat(strict.url, alice.apiKey)).status, 200)
    link.cut()
    await streamConnected(strict, false)
    const failedClosed = await strict.waitFor((r) => !r.checks.within_staleness_bound, 5_000)
    assert.equal(failedClosed.ready, false)
    const refused = await chat(strict.url, alice.apiKey)
    assert.equal(refused.status, 503)
    assert.equal(openaiErrorOf(refused.body).code, 'unavailable')
    link.restore()
    await strict.waitFor((r) => r.ready, 5_000)
    assert.equal((await chat(strict.url, alice.apiKey)).status, 200)
  })

  it('with the control plane down, valid tokens work and revoked ones stay refused, across a restart', async () => {
    await cp.stop()
    assert.equal((await chat(dp.url, alice.apiKey)).status, 200)
    for (const secret of [revokedEarly, ...revokedWhileCut])
      assert.equal((await chat(dp.url, secret)).status, 401)

    await dp.stop()
    const restarted = await dataplane({ dataDir: dp.dataDir, name: dp.name, waitReady: false })
    const r = await restarted.waitFor((x) => x.snapshot_source === 'persisted', 5_000)
    assert.equal(r.ready, true, JSON.stringify(r))
    assert.ok(r.revoked_jtis >= 1 + revokedWhileCut.length)
    for (const secret of [revokedEarly, ...revokedWhileCut]) {
      const res = await chat(restarted.url, secret)
      assert.equal(res.status, 401, `still refused after a restart: ${res.text}`)
    }
    // A valid token still authenticates; only its provider key, never written to disk, is unknown.
    const valid = await chat(restarted.url, alice.apiKey)
    assert.equal(openaiErrorOf(valid.body).code, 'unavailable', valid.text)
    assert.ok(
      !valid.text.includes('/v1/'),
      `the control plane's address and paths stay inside: ${valid.text}`,
    )
  })

  it('started with the control plane unreachable and nothing persisted, it answers unavailable, not unauthenticated', async () => {
    const blind = await dataplane({ waitReady: false })
    const r = await blind.readiness()
    assert.equal(r.ready, false)
    assert.equal(r.checks.signing_keys, false)
    for (const token of [alice.apiKey, revokedEarly, 'garbage.token.here']) {
      const res = await chat(blind.url, token)
      assert.equal(res.status, 503, res.text)
      assert.equal(openaiErrorOf(res.body).code, 'unavailable')
    }
    assert.equal((await fetch(`${blind.url}/readyz`)).status, 503)
  })
})
