/**
 * The service-account endpoints and the prompt keys `POST /v1/admin/keys` now issues: who may
 * call them (only the Admin persona: no credential, a user's session or key, a service
 * account's key and a dataplane key are refused), bad input (`invalid_argument` naming the
 * field, or the contract's code for a well-formed request that cannot be done, and in every
 * case nothing written), paging, and a prompt key bound to a project carrying that project in
 * its claims.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, decodeJwt, http, tableCounts } from '../support/http.ts'

const SA = '/v1/admin/service-accounts'
const MISSING_PROJECT = 'proj_01JD0000000000000000000000'
const MISSING_IDENTITY = 'usr_01JD0000000000000000000000'

describe('service accounts and admin-issued prompt keys', () => {
  let cp: TestControlPlane
  let user: LoginResult
  let userKey: string
  let customerId: string
  let projectId: string
  let otherCustomerId: string
  let otherProjectId: string
  let accountId: string
  let accountKey: string

  before(async () => {
    cp = await startControlPlane()
    user = await cp.login('member@example.com')
    userKey = (await user.client.me.issueKey('mine')).secret
    const admin = cp.admin.admin
    customerId = (await admin.createCustomer('acme')).customer.id
    projectId = (await admin.createProject(customerId, 'ci')).project.id
    otherCustomerId = (await admin.createCustomer('globex')).customer.id
    otherProjectId = (await admin.createProject(otherCustomerId, 'x')).project.id
    accountId = (await admin.createServiceAccount({ name: 'builder', customerId, projectId, role: 'member' }))
      .service_account.id
    accountKey = (await admin.issueKey({ name: 'ci', type: 'KEY_TYPE_PROMPT', identityId: accountId })).secret
  })
  after(() => cp?.stop())

  it('only the Admin persona may create, list or delete service accounts', async () => {
    const calls = [
      {
        method: 'POST',
        path: SA,
        json: { name: 'x', customer_id: customerId, project_id: projectId, role: 'member' },
      },
      { method: 'GET', path: SA },
      { method: 'DELETE', path: `${SA}/${accountId}` },
    ]
    const counts = tableCounts(cp.dataDir)
    for (const call of calls) {
      const label = `${call.method} ${call.path}`
      assertError(
        await http(cp.url, call.method, call.path, { json: call.json }),
        'unauthenticated',
        undefined,
        label,
      )
      for (const [who, token] of [
        ['a user session', user.sessionToken],
        ['a user prompt key', userKey],
        ['a service account key', accountKey],
        ['a dataplane key', cp.dataplaneKey],
      ] as const) {
        const res = await http(cp.url, call.method, call.path, { token, json: call.json })
        assertError(res, 'permission_denied', undefined, `${label} with ${who}`)
      }
    }
    assert.deepEqual(tableCounts(cp.dataDir), counts, 'nothing written')
    // The account is still there, with its membership.
    const listed = await cp.admin.admin.listServiceAccounts()
    assert.deepEqual(
      listed.service_accounts.map((s) => s.id),
      [accountId],
    )
  })

  it('bad input names the field and writes nothing', async () => {
    const good = { name: 'svc', customer_id: customerId, project_id: projectId, role: 'member' }
    const cases: {
      what: string
      method: string
      path: string
      json?: unknown
      query?: Record<string, string>
      field: string
    }[] = [
      { what: 'no name', method: 'POST', path: SA, json: { ...good, name: undefined }, field: 'name' },
      { what: 'empty name', method: 'POST', path: SA, json: { ...good, name: '  ' }, field: 'name' },
      {
        what: 'control characters',
        method: 'POST',
        path: SA,
        json: { ...good, name: 'a\u001b[2Jb' },
        field: 'name',
      },
      {
        what: 'bad customer id',
        method: 'POST',
        path: SA,
        json: { ...good, customer_id: 'acme' },
        field: 'customer_id',
      },
      {
        what: 'no project',
        method: 'POST',
        path: SA,
        json: { ...good, project_id: undefined },
        field: 'project_id',
      },
      {
        what: 'bad project id',
        method: 'POST',
        path: SA,
        json: { ...good, project_id: '-' },
        field: 'project_id',
      },
      { what: 'bad role', method: 'POST', path: SA, json: { ...good, role: 'admin' }, field: 'role' },
      {
        what: 'unknown field',
        method: 'POST',
        path: SA,
        json: { ...good, is_admin: true },
        field: 'is_admin',
      },
      { what: 'page size 0', method: 'GET', path: SA, query: { page_size: '0' }, field: 'page_size' },
      { what: 'unknown query', method: 'GET', path: SA, query: { kind: 'service' }, field: 'kind' },
      { what: 'bad id in path', method: 'DELETE', path: `${SA}/builder`, field: 'identity_id' },
      {
        what: 'prompt key without identity',
        method: 'POST',
        path: '/v1/admin/keys',
        json: { name: 'k', type: 'KEY_TYPE_PROMPT' },
        field: 'identity_id',
      },
      {
        what: 'admin key bound to a project',
        method: 'POST',
        path: '/v1/admin/keys',
        json: { name: 'k', type: 'KEY_TYPE_ADMIN', project_id: projectId },
        field: 'project_id',
      },
      {
        what: 'customer without project',
        method: 'POST',
        path: '/v1/admin/keys',
        json: { name: 'k', type: 'KEY_TYPE_PROMPT', identity_id: accountId, customer_id: customerId },
        field: 'project_id',
      },
      {
        what: 'project of another customer',
        method: 'POST',
        path: '/v1/admin/keys',
        json: {
          name: 'k',
          type: 'KEY_TYPE_PROMPT',
          identity_id: accountId,
          customer_id: otherCustomerId,
          project_id: projectId,
        },
        field: 'customer_id',
      },
      {
        what: 'an admin key for a service account',
        method: 'POST',
        path: '/v1/admin/keys',
        json: { name: 'k', type: 'KEY_TYPE_ADMIN', identity_id: accountId },
        field: 'type',
      },
      {
        what: 'a bad key type',
        method: 'POST',
        path: '/v1/admin/keys',
        json: { name: 'k', type: 'KEY_TYPE_ROOT', identity_id: accountId },
        field: 'type',
      },
    ]
    const counts = tableCounts(cp.dataDir)
    for (const c of cases) {
      const res = await http(cp.url, c.method, c.path, { token: cp.adminKey, json: c.json, query: c.query })
      assertError(res, 'invalid_argument', c.field, c.what)
      assert.deepEqual(tableCounts(cp.dataDir), counts, `${c.what}: no row added or removed`)
    }
  })

  it('well-formed requests that cannot be done answer the contract’s code and write nothing', async () => {
    const counts = tableCounts(cp.dataDir)
    const cases = [
      {
        what: 'unknown project',
        path: SA,
        json: { name: 's', customer_id: customerId, project_id: MISSING_PROJECT, role: 'member' },
        code: 'not_found' as const,
      },
      {
        what: 'project under another customer',
        path: SA,
        json: { name: 's', customer_id: otherCustomerId, project_id: projectId, role: 'member' },
        code: 'not_found' as const,
      },
      {
        what: 'prompt key bound to a project the identity is not in',
        path: '/v1/admin/keys',
        json: { name: 'k', type: 'KEY_TYPE_PROMPT', identity_id: accountId, project_id: otherProjectId },
        code: 'failed_precondition' as const,
      },
      {
        what: 'prompt key for an unknown identity',
        path: '/v1/admin/keys',
        json: { name: 'k', type: 'KEY_TYPE_PROMPT', identity_id: MISSING_IDENTITY },
        code: 'not_found' as const,
      },
    ]
    for (const c of cases) {
      const res = await http(cp.url, 'POST', c.path, { token: cp.adminKey, json: c.json })
      assertError(res, c.code, undefined, c.what)
      assert.deepEqual(tableCounts(cp.dataDir), counts, `${c.what}: nothing written`)
    }
    assertError(
      await http(cp.url, 'DELETE', `${SA}/${MISSING_IDENTITY}`, { token: cp.adminKey }),
      'not_found',
    )
    // A user is no service account: not deleted through this endpoint.
    assertError(await http(cp.url, 'DELETE', `${SA}/${user.identityId}`, { token: cp.adminKey }), 'not_found')
    assert.deepEqual(tableCounts(cp.dataDir), counts)
  })

  it('an admin issues a prompt key for any identity, bound to one of its projects: the claims carry it', async () => {
    await cp.admin.admin.setMember(customerId, projectId, user.identityId, 'member')
    const bound = await cp.admin.admin.issueKey({
      name: 'for the user',
      type: 'KEY_TYPE_PROMPT',
      identityId: user.identityId,
      projectId,
    })
    assert.equal(bound.key.type, 'KEY_TYPE_PROMPT')
    assert.equal(bound.key.identity_id, user.identityId)
    assert.equal(bound.key.project_id, projectId)
    assert.equal(bound.key.customer_id, customerId)
    const claims = decodeJwt(bound.secret).payload
    assert.equal(claims.pid, projectId)
    assert.equal(claims.cid, customerId)
    assert.equal(claims.bound, true)
    assert.equal(claims.scope, 'inference account')
    // The user sees it among their keys, with its project.
    const mine = await user.client.me.listKeys()
    assert.equal(mine.keys.find((k) => k.id === bound.key.id)?.project_id, projectId)
    // An unbound key carries the default project and no binding.
    const unbound = decodeJwt(userKey).payload
    assert.equal(unbound.bound, undefined)
  })

  it('lists service accounts a page at a time, with their memberships; dataplane identities are not among them', async () => {
    const made = [accountId]
    for (const name of ['two', 'three']) {
      made.push(
        (await cp.admin.admin.createServiceAccount({ name, customerId, projectId: projectId, role: 'owner' }))
          .service_account.id,
      )
    }
    const first = await cp.admin.admin.listServiceAccounts({ pageSize: 2 })
    assert.equal(first.service_accounts.length, 2)
    assert.ok(first.page.next_page_token)
    const second = await cp.admin.admin.listServiceAccounts({
      pageSize: 2,
      pageToken: first.page.next_page_token,
    })
    assert.equal(second.page.next_page_token, '')
    const all = [...first.service_accounts, ...second.service_accounts]
    assert.deepEqual(all.map((s) => s.id).sort(), made.sort())
    for (const s of all) {
      assert.equal(s.kind, 'service')
      assert.equal(s.is_admin, false)
      assert.equal(s.memberships[0]?.project_id, projectId)
    }
    assertError(
      await http(cp.url, 'GET', SA, { token: cp.adminKey, query: { page_token: 'forged' } }),
      'invalid_argument',
      'page_token',
    )
  })
})
