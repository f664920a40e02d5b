/**
 * A service account end to end: an admin creates it in a project and issues it a prompt key
 * bound to that project; with the official `openai` SDK through a real dataplane it completes
 * a chat with the project's provider key, reads its own identity, and is refused every other
 * endpoint it tries. Deleting it revokes its key on the log: the dataplane refuses it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import OpenAI, { AuthenticationError } from 'openai'
import { ApiError, type Client } from '../../shared/client/index.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

const PROJECT_KEY = 'sk-ci-project-key-5555'
const OTHER_PROJECT_KEY = 'sk-other-project-key-6666'

describe('a service account through the dataplane', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  let dp: TestDataplane
  let customerId: string
  let projectId: string
  let otherProjectId: string
  let accountId: string
  let keyId: string
  let secret: string
  let sa: Client

  const openai = () => new OpenAI({ apiKey: secret, baseURL: `${dp.url}/openai/v1`, maxRetries: 0 })

  before(async () => {
    ;[cp, upstream] = await Promise.all([startControlPlane(), startUpstream()])
    dp = await startDataplane({
      controlPlaneUrl: cp.url,
      dataplaneKey: cp.dataplaneKey,
      upstream: upstream.url,
    })
    const admin = cp.admin.admin
    customerId = (await admin.createCustomer('acme')).customer.id
    projectId = (await admin.createProject(customerId, 'ci')).project.id
    otherProjectId = (await admin.createProject(customerId, 'other')).project.id
    await cp.admin.aikeys.register(customerId, projectId, 'openai', 'ci', PROJECT_KEY)
    await cp.admin.aikeys.register(customerId, otherProjectId, 'openai', 'other', OTHER_PROJECT_KEY)
    const created = await admin.createServiceAccount({
      name: 'ci-runner',
      customerId,
      projectId,
      role: 'member',
    })
    accountId = created.service_account.id
    const issued = await admin.issueKey({
      name: 'ci',
      type: 'KEY_TYPE_PROMPT',
      identityId: accountId,
      projectId,
    })
    keyId = issued.key.id
    secret = issued.secret
    sa = cp.client(secret)
  })
  after(async () => {
    await dp?.stop()
    await cp?.stop()
    await upstream?.close()
  })

  it('is a service identity, a member of its project, with a prompt key bound to it', async () => {
    const { identity } = await sa.me.get()
    assert.equal(identity.id, accountId)
    assert.match(identity.id, /^usr_/)
    assert.equal(identity.kind, 'service')
    assert.equal(identity.is_admin, false)
    assert.equal(identity.issuer, '', 'no issuer: no OIDC login reaches it')
    assert.deepEqual(
      identity.memberships.map((m) => [m.project_id, m.role]),
      [[projectId, 'member']],
    )
  })

  it("completes a chat through the dataplane with its project's provider key", async () => {
    const completion = await openai().chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'build passed?' }],
    })
    assert.ok(completion.choices[0]?.message.content)
    const seen = upstream.requests.at(-1)!
    assert.equal(seen.headers.authorization, `Bearer ${PROJECT_KEY}`)
    assert.ok(
      !JSON.stringify(seen.headers).includes(secret.slice(3)),
      'its own key never reaches the upstream',
    )
  })

  it('is refused every other endpoint it tries', async () => {
    const attempts: [string, () => Promise<unknown>][] = [
      ['POST /v1/me/keys', () => sa.me.issueKey('more')],
      ['GET /v1/me/keys', () => sa.me.listKeys()],
      ['DELETE /v1/me/keys/{id}', () => sa.me.revokeKey(keyId)],
      ['POST /v1/auth/logout', () => sa.me.logout()],
      ['GET …/aikeys', () => sa.aikeys.list(customerId, projectId)],
      ['POST …/aikeys', () => sa.aikeys.register(customerId, projectId, 'openai', 'x', 'sk-x', true)],
      ['POST /v1/admin/customers', () => sa.admin.createCustomer('evil')],
      [
        'POST /v1/admin/keys',
        () => sa.admin.issueKey({ name: 'x', type: 'KEY_TYPE_PROMPT', identityId: accountId }),
      ],
      [
        'POST /v1/admin/service-accounts',
        () => sa.admin.createServiceAccount({ name: 'x', customerId, projectId, role: 'owner' }),
      ],
      ['GET /v1/admin/service-accounts', () => sa.admin.listServiceAccounts()],
      ['PUT …/members/{id}', () => sa.admin.setMember(customerId, otherProjectId, accountId, 'owner')],
      ['GET /v1/admin/identities', () => sa.admin.listIdentities()],
      ['GET /v1/secrets', () => sa.secret.listSecrets()],
      ['GET /v1/tokens/revocations', () => sa.tokens.getRevocationList({})],
      [
        'POST /v1/internal/byok/resolve',
        () =>
          sa.internal.resolveProviderKey({
            identityId: accountId,
            provider: 'openai',
            projectId: otherProjectId,
          }),
      ],
    ]
    for (const [what, attempt] of attempts) {
      await assert.rejects(attempt(), (err: unknown) => {
        assert.ok(err instanceof ApiError, `${what}: ${String(err)}`)
        assert.equal(err.code, 'permission_denied', `${what}: ${err.code} ${err.message}`)
        return true
      })
    }
    // Nothing it tried took: still one key, one membership, no new customer.
    const { identity } = await sa.me.get()
    assert.equal(identity.memberships.length, 1)
    const { service_accounts } = await cp.admin.admin.listServiceAccounts()
    assert.deepEqual(
      service_accounts.map((s) => s.id),
      [accountId],
    )
  })

  it('cannot send traffic to another project, by header', async () => {
    const before = upstream.requests.length
    const res = await fetch(`${dp.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        'x-agentrouter-project': otherProjectId,
      },
      body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }),
    })
    assert.equal(res.status, 403)
    assert.equal(upstream.requests.length, before)
  })

  it('deleted, its key is revoked on the log and the dataplane refuses it; it is gone from the list', async () => {
    const deleted = await cp.admin.admin.deleteServiceAccount(accountId, {
      wait: 'enforced',
      timeoutMs: 10_000,
    })
    assert.equal(deleted.success, true)
    assert.deepEqual(deleted.revoked_key_ids, [keyId])
    assert.equal(deleted.enforcement?.status, 'enforced')
    await assert.rejects(
      openai().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) => err instanceof AuthenticationError && err.status === 401,
    )
    const { revocations } = await cp.admin.tokens.getRevocationList({})
    assert.ok(revocations.some((r) => r.jti === keyId))
    assert.deepEqual((await cp.admin.admin.listServiceAccounts()).service_accounts, [])
    await assert.rejects(
      sa.me.get(),
      (err: unknown) => err instanceof ApiError && err.code === 'unauthenticated',
    )
    await assert.rejects(
      cp.admin.admin.deleteServiceAccount(accountId),
      (err: unknown) => err instanceof ApiError && err.code === 'not_found',
    )
  })
})
