import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { type Caller, chat, within } from '../support/inference.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

/**
 * One control plane reachable under two URLs (two TCP relays), the dataplane given both: cutting
 * the one it uses moves it to the other, where it resumes from its durable cursor.
 */
describe('a dataplane given several control plane URLs', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  let first: TcpProxy
  let second: TcpProxy
  let dp: TestDataplane
  let alice: Caller
  let revocations = 0

  const applied = async () =>
    (await dp.metric('agentrouter_dp_revocations_applied_total', { kind: 'api_key' })) ?? 0
  const refusedWithin = (secret: string, ms: number, what: string) =>
    within(ms, async () => (await chat(dp.url, secret)).status === 401, what)

  before(async () => {
    ;[cp, upstream] = await Promise.all([
      startControlPlane({ AGENTROUTER_STREAM_HEARTBEAT: '500ms' }),
      startUpstream(),
    ])
    ;[first, second] = await Promise.all([startTcpProxy(cp.url), startTcpProxy(cp.url)])
    dp = await startDataplane({
      controlPlaneUrl: `${first.url},${second.url}`,
      dataplaneKey: cp.dataplaneKey,
      upstream: upstream.url,
    })
    const login = await cp.login('alice@example.com')
    const { key, secret } = await login.client.me.issueKey('long-lived')
    alice = { ...login, email: 'alice@example.com', apiKey: secret, apiKeyId: key.id }
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-failover')
  })
  after(async () => {
    await dp?.stop()
    await cp?.stop()
    await Promise.all([first?.close(), second?.close(), upstream?.close()])
  })

  const revoke = async (id: string) => {
    revocations++
    return alice.client.me.revokeKey(id, { wait: 'enforced', timeoutMs: 5_000 })
  }

  it('moves to the next control plane when its link is cut, keeps enforcing, and applies each revocation once', async () => {
    const keys = await Promise.all([1, 2, 3, 4].map((i) => alice.client.me.issueKey(`k${i}`)))
    for (const k of keys) assert.equal((await chat(dp.url, k.secret)).status, 200)

    const before = await revoke(keys[0]!.key.id)
    assert.equal(before.enforcement?.status, 'enforced')
    await refusedWithin(keys[0]!.secret, 1_000, 'revoked before the cut')

    first.cut()
    // Revoked while the dataplane is between control planes: it resumes from its cursor on the other.
    await alice.client.me.revokeKey(keys[1]!.key.id)
    revocations++
    await refusedWithin(keys[1]!.secret, 3_000, 'revoked during the cut')
    await dp.waitFor((r) => r.stream_connected, 5_000)

    const t0 = Date.now()
    const during = await revoke(keys[2]!.key.id)
    assert.equal(during.enforcement?.status, 'enforced', JSON.stringify(during.enforcement))
    await refusedWithin(keys[2]!.secret, 1_000, 'revoked after the failover')
    assert.ok(Date.now() - t0 < 1_000, `enforced in ${Date.now() - t0} ms`)

    // The other calls follow too: a BYOK resolution (its cache was dropped on reconnect) and a valid key.
    assert.equal((await chat(dp.url, keys[3]!.secret)).status, 200)
    assert.equal((await chat(dp.url, alice.apiKey)).status, 200)
    assert.equal((await chat(dp.url, keys[0]!.secret)).status, 401)

    // Back again: the second link cut, the first restored.
    const failovers = () => dp.process.output().split('failing over').length
    const seen = failovers()
    first.restore()
    second.cut()
    await within(5_000, async () => failovers() > seen, 'failing back')
    await dp.waitFor((r) => r.stream_connected, 5_000)
    const back = await revoke(keys[3]!.key.id)
    assert.equal(back.enforcement?.status, 'enforced', JSON.stringify(back.enforcement))
    await refusedWithin(keys[3]!.secret, 1_000, 'revoked after failing back')

    for (const k of keys) assert.equal((await chat(dp.url, k.secret)).status, 401, k.key.id)
    assert.equal((await chat(dp.url, alice.apiKey)).status, 200)
    // Each revocation applied exactly once, whichever control plane delivered it and however often it reconnected.
    await within(2_000, async () => (await applied()) >= revocations, 'every revocation applied')
    assert.equal(await applied(), revocations)
    assert.match(dp.process.output(), /failing over/)
  })
})
