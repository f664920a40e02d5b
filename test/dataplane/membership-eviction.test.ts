/**
 * Membership changes reach the dataplane: a member removed from a project stops getting the
 * project's provider key at the dataplane within a second (the `membership_changed` stream
 * message evicts the cached entry), not after the 5-minute cache TTL; the members who stay keep
 * working; a role change is announced too; and a dataplane whose stream was down when the change
 * was made expires its cache when the stream comes back.
 *
 * Tenancy has no project deletion (no route in the contract), so there is nothing to test for it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { chat, openaiErrorOf, within } from '../support/inference.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

const PROJECT_KEY = 'sk-project-key-membership-7f3a'
/** The cache TTL, stated so that nothing here can pass by waiting it out. */
const TTL = '5m'

interface Member {
  identityId: string
  /** An API key issued after joining: its `pid` is the project. */
  apiKey: string
  /** The login's session: no `pid`, so the dataplane resolves in the identity's default project. */
  sessionToken: string
}

describe('membership changes at the dataplane', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  let link: TcpProxy
  /** Connected to the control plane directly. */
  let dp: TestDataplane
  /** Connected through `link`, which the reconnect test cuts. */
  let linked: TestDataplane
  let customerId: string
  let projectId: string
  const members = {} as Record<'bob' | 'carol' | 'dave' | 'erin', Member>

  /** Requests the upstream received carrying the project's key. */
  const withProjectKey = () =>
    upstream.requests.filter((r) => r.headers.authorization === `Bearer ${PROJECT_KEY}`).length

  const join = async (email: string, role: 'owner' | 'member'): Promise<Member> => {
    const login = await cp.login(email)
    await cp.admin.admin.setMember(customerId, projectId, login.identityId, role)
    const { secret } = await login.client.me.issueKey(`${email} inference`)
    return { identityId: login.identityId, apiKey: secret, sessionToken: login.sessionToken }
  }

  /** A 200 through `at` with the project's key reaching the upstream. */
  const servedWithProjectKey = async (at: TestDataplane, token: string) => {
    const before = withProjectKey()
    const res = await chat(at.url, token)
    assert.equal(res.status, 200, res.text)
    assert.equal(withProjectKey(), before + 1, "the upstream saw the project's key")
  }

  /** Refused with `code` and nothing forwarded to the upstream. */
  const refused = async (at: TestDataplane, token: string, code: string, status: number) => {
    const before = upstream.requests.length
    const res = await chat(at.url, token)
    assert.equal(res.status, status, res.text)
    assert.equal(openaiErrorOf(res.body).code, code)
    assert.ok(!res.text.includes(PROJECT_KEY))
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream')
  }

  before(async () => {
    // No personal projects: each user's default project is the one they are added to.
    ;[cp, upstream] = await Promise.all([
      startControlPlane({ AGENTROUTER_AUTO_PROVISION: 'false', AGENTROUTER_STREAM_HEARTBEAT: '500ms' }),
      startUpstream(),
    ])
    link = await startTcpProxy(cp.url)
    const env = { AGENTROUTER_DP_BYOK_CACHE_TTL: TTL }
    ;[dp, linked] = await Promise.all([
      startDataplane({ controlPlaneUrl: cp.url, dataplaneKey: cp.dataplaneKey, upstream: upstream.url, env }),
      startDataplane({
        controlPlaneUrl: link.url,
        dataplaneKey: cp.dataplaneKey,
        upstream: upstream.url,
        env,
      }),
    ])
    customerId = (await cp.admin.admin.createCustomer('acme')).customer.id
    projectId = (await cp.admin.admin.createProject(customerId, 'shared')).project.id
    await cp.admin.aikeys.register(customerId, projectId, 'openai', 'project key', PROJECT_KEY)
    for (const [name, role] of [
      ['bob', 'member'],
      ['carol', 'member'],
      ['dave', 'member'],
      ['erin', 'owner'],
    ] as const) {
      members[name] = await join(`${name}@example.com`, role)
    }
  })
  after(async () => {
    await Promise.all([dp?.stop(), linked?.stop()])
    await cp?.stop()
    await link?.close()
    await upstream?.close()
  })

  it('a removed member is refused the project key within a second, by project and by default project; the others keep it', async () => {
    const { bob, carol } = members
    await servedWithProjectKey(dp, bob.apiKey)
    await servedWithProjectKey(dp, bob.sessionToken)
    await servedWithProjectKey(dp, carol.apiKey)
    // Cached: served again without asking the control plane.
    const hits = (await dp.metric('agentrouter_dp_byok_cache_total', { result: 'hit' })) ?? 0
    await servedWithProjectKey(dp, bob.apiKey)
    assert.equal(await dp.metric('agentrouter_dp_byok_cache_total', { result: 'hit' }), hits + 1)

    await cp.admin.admin.removeMember(customerId, projectId, bob.identityId)
    const took = await within(
      1_000,
      async () => (await chat(dp.url, bob.apiKey)).status !== 200,
      'the removed member refused',
    )
    assert.ok(took <= 1_000)
    // Not a member of the token's project any more.
    await refused(dp, bob.apiKey, 'permission_denied', 403)
    // The session names no project: its default went with the membership, so no key resolves.
    await refused(dp, bob.sessionToken, 'failed_precondition', 412)
    await servedWithProjectKey(dp, carol.apiKey)
  })

  it('a role change is announced: the entry is resolved again within a second, and (roles do not gate the key) still served', async () => {
    const { erin } = members
    await servedWithProjectKey(dp, erin.apiKey)
    await servedWithProjectKey(dp, erin.apiKey)
    const misses = async () => (await dp.metric('agentrouter_dp_byok_cache_total', { result: 'miss' })) ?? 0
    const before = await misses()
    await servedWithProjectKey(dp, erin.apiKey)
    assert.equal(await misses(), before, 'a cache hit before the change')

    await cp.admin.admin.setMember(customerId, projectId, erin.identityId, 'member')
    await within(
      1_000,
      async () => {
        await servedWithProjectKey(dp, erin.apiKey)
        return (await misses()) > before
      },
      'the entry resolved again',
    )
    await servedWithProjectKey(dp, erin.apiKey)
  })

  it('a member removed while the dataplane’s stream is cut is refused as soon as the stream is back', async () => {
    const { dave, carol } = members
    await servedWithProjectKey(linked, dave.apiKey)
    await servedWithProjectKey(linked, carol.apiKey)

    link.cut()
    await linked.waitFor((r) => !r.stream_connected, 5_000)
    await cp.admin.admin.removeMember(customerId, projectId, dave.identityId)
    // The directly connected dataplane heard it; the cut one cannot have.
    await within(1_000, async () => (await chat(dp.url, dave.apiKey)).status === 403, 'refused at dp')
    await servedWithProjectKey(linked, dave.apiKey)

    link.restore()
    await linked.waitFor((r) => r.stream_connected, 10_000)
    await refused(linked, dave.apiKey, 'permission_denied', 403)
    await servedWithProjectKey(linked, carol.apiKey)
  })
})
