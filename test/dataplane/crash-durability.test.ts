/**
 * Issue 9, item 1: an acknowledged revocation (`?wait=enforced` answered `enforced`) survives a
 * crash. The dataplane and the control plane are killed with SIGKILL right after the answer,
 * the dataplane restarts with the control plane down, then the control plane comes back: the
 * revoked key is never served again. The snapshot write is debounced far beyond the kill (10 s),
 * so what carries the revocation across the crash is the journal. And the control plane refuses
 * to resolve a provider key for a revoked credential, so a dataplane that lags gets none.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '../../shared/client/index.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { rejectsWith } from '../support/http.ts'
import { type Caller, chat, openaiErrorOf, within } from '../support/inference.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

const ROUNDS = 20
/** Each round restarts both processes: a minute on a quiet machine, over three on a loaded one. */
const ROUNDS_TIMEOUT_MS = 480_000
const PROVIDER_KEY = 'sk-crash-durability-9876'
/** Far beyond the kill: the snapshot cannot be what carries a revocation across it. */
const PERSIST_DELAY = '10s'
/** An issuer nobody logs in with (the control plane does not load its development IdP). */
const NO_LOGIN = JSON.stringify([{ alias: 'none', issuer: 'http://127.0.0.1:9/', client_id: 'none' }])

describe('a confirmed revocation survives a dataplane crash', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  let link: TcpProxy
  let dp: TestDataplane
  let alice: Caller
  let cpListen: string

  const startDp = () =>
    startDataplane({
      controlPlaneUrl: link.url,
      dataplaneKey: cp.dataplaneKey,
      upstream: upstream.url,
      dataDir: dp?.dataDir,
      name: dp?.name,
      waitReady: false,
      env: { AGENTROUTER_DP_PERSIST_DELAY: PERSIST_DELAY, AGENTROUTER_DP_RECONNECT_MAX: '250ms' },
    })
  // Same address and data. No development IdP: nobody logs in after the first start, and
  // loading it is most of a restart.
  const restartCp = () =>
    startControlPlane({ AGENTROUTER_CP_LISTEN: cpListen, AGENTROUTER_OIDC_ISSUERS: NO_LOGIN }, cp.dataDir)

  before(async () => {
    ;[cp, upstream] = await Promise.all([startControlPlane(), startUpstream()])
    cpListen = new URL(cp.url).host
    link = await startTcpProxy(cp.url)
    dp = await startDp()
    await dp.waitFor((r) => r.ready)
    const login = await cp.login('alice@example.com')
    const { key, secret } = await login.client.me.issueKey('stays valid')
    alice = { ...login, email: 'alice@example.com', apiKey: secret, apiKeyId: key.id }
    await alice.client.aikeys.register('-', '-', 'openai', 'project', PROVIDER_KEY)
    assert.equal((await chat(dp.url, alice.apiKey)).status, 200)
  })
  after(async () => {
    await dp?.stop()
    await cp?.stop()
    await link?.close()
    await upstream?.close()
  })

  it('the control plane refuses to resolve a provider key for a revoked credential, and resolves for a live one', async () => {
    const dataplane: Client = cp.client(cp.dataplaneKey)
    const resolve = (credentialJti: string) =>
      dataplane.internal.resolveProviderKey({
        identityId: alice.identityId,
        provider: 'openai',
        credentialJti,
      })
    const { key } = await alice.client.me.issueKey('revoked, then resolved for')
    assert.equal((await resolve(key.id)).secret, PROVIDER_KEY, 'a live credential resolves')
    await alice.client.me.revokeKey(key.id)
    const refused = await rejectsWith(resolve(key.id), 'permission_denied', 'credential_jti')
    assert.ok(!JSON.stringify(refused).includes(PROVIDER_KEY), 'no provider key in the refusal')
    const live = await resolve(alice.apiKeyId)
    assert.equal(live.secret, PROVIDER_KEY, 'a live credential still resolves')
  })
  it(`kill -9 right after "enforced", restart with the control plane down, then up: never a 2xx for the revoked key (${ROUNDS} rounds)`, {
    timeout: ROUNDS_TIMEOUT_MS,
  }, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const what = `round ${round}`
      const { key, secret } = await alice.client.me.issueKey(`doomed ${round}`)
      assert.equal((await chat(dp.url, secret)).status, 200, `${what}: served before the revocation`)

      const { enforcement } = await alice.client.me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 5_000 })
      const answeredAt = Date.now()
      dp.process.kill('SIGKILL')
      cp.process.kill('SIGKILL')
      const killedAfterMs = Date.now() - answeredAt
      assert.equal(enforcement?.status, 'enforced', `${what}: ${JSON.stringify(enforcement)}`)
      // Nothing runs between the answer and the kills: a few ms, 50 at most on a quiet machine.
      // What the test rests on is that the kill lands long before the snapshot's debounce.
      assert.ok(killedAfterMs < 1_000, `${what}: killed ${killedAfterMs} ms after the answer`)
      link.cut()
      await Promise.all([dp.process.exited, cp.process.exited])

      // The control plane is down for the dataplane (killed, and while it starts again the link
      // to it stays cut): whatever the dataplane does comes from its own disk.
      const cpBack = restartCp()
      dp = await startDp()
      const statuses: number[] = []
      const probe = async () => {
        const res = await chat(dp.url, secret)
        statuses.push(res.status)
        assert.equal(res.status, 401, `${what}: the revoked key after the crash: ${res.text}`)
        assert.equal(openaiErrorOf(res.body).code, 'unauthenticated')
      }
      for (let i = 0; i < 20; i++) await probe()
      // It is serving from its persisted state, not failing closed: a valid key authenticates
      // (only its provider key, never on disk, waits for the control plane).
      const valid = await chat(dp.url, alice.apiKey)
      assert.equal(valid.status, 503, `${what}: ${valid.text}`)
      assert.equal(openaiErrorOf(valid.body).code, 'unavailable')
      const r = await dp.readiness()
      assert.equal(r.snapshot_source, 'persisted')
      assert.equal(r.stream_connected, false)

      // The control plane back: the dataplane reconnects; the revoked key stays refused
      // throughout, the valid one is served again.
      let probing = true
      const background = (async () => {
        while (probing) await probe()
      })()
      try {
        cp = await cpBack
        const backAt = Date.now()
        link.restore()
        await within(
          15_000,
          async () => (await chat(dp.url, alice.apiKey)).status === 200,
          `${what}: the valid key served once the control plane is back`,
        )
        // Reconnected, and the control plane confirmed nothing after its cursor is missing.
        await dp.waitFor((x) => x.stream_connected && Date.parse(x.synced_at ?? '') >= backAt)
      } finally {
        probing = false
        await background
      }
      for (let i = 0; i < 5; i++) await probe()
      assert.ok(statuses.length >= 25, `${what}: ${statuses.length} requests`)
      assert.ok(
        statuses.every((s) => s === 401),
        `${what}: ${statuses.length} requests, none 2xx`,
      )
    }
  })
})
