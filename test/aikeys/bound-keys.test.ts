/**
 * A project-bound API key (the kind handed to a CI job) is confined to its project on the control
 * plane too: on the AI-keys endpoints `-` means the bound project, and any other project of the
 * same user (or another customer's, or one that does not exist) is `permission_denied` with
 * nothing written, exactly as on the dataplane.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ApiError, type Client } from '../../shared/client/index.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { tableCounts } from '../support/http.ts'

describe('AI keys with a project-bound key', () => {
  let cp: TestControlPlane
  let session: Client
  let bound: Client
  let unbound: Client
  const ids = { c1: '', p1: '', p2: '', c2: '', p3: '' }

  before(async () => {
    cp = await startControlPlane()
    const owner = await cp.login('ci-owner@example.com')
    session = owner.client
    ids.c1 = (await cp.admin.admin.createCustomer('bound corp')).customer.id
    ids.c2 = (await cp.admin.admin.createCustomer('other corp')).customer.id
    ids.p1 = (await cp.admin.admin.createProject(ids.c1, 'ci')).project.id
    ids.p2 = (await cp.admin.admin.createProject(ids.c1, 'prod')).project.id
    ids.p3 = (await cp.admin.admin.createProject(ids.c2, 'elsewhere')).project.id
    // The owner's default project is not P1, so `-` resolving to P1 can only be the binding.
    await cp.admin.admin.setMember(ids.c1, ids.p2, owner.identityId, 'owner')
    await cp.admin.admin.setMember(ids.c1, ids.p1, owner.identityId, 'owner')
    await cp.admin.admin.setMember(ids.c2, ids.p3, owner.identityId, 'owner')
    bound = cp.client((await session.me.issueKey('ci', { projectId: ids.p1 })).secret)
    unbound = cp.client((await session.me.issueKey('laptop')).secret)
  })
  after(() => cp?.stop())

  const refusal = async (call: () => Promise<unknown>): Promise<ApiError> => {
    try {
      await call()
    } catch (err) {
      if (err instanceof ApiError) return err
      throw err
    }
    assert.fail('the call was allowed')
  }

  const register = (c: Client, customer: string, project: string, userScope = false) =>
    c.aikeys.register(customer, project, 'openai', `k ${Math.random()}`, `sk-${Math.random()}`, userScope)

  it('refuses register, get, list and revoke in the user’s other projects, writing nothing', async () => {
    const inP2 = (await register(session, ids.c1, ids.p2)).key
    const mineInP2 = (await register(session, ids.c1, ids.p2, true)).key
    const inP3 = (await register(session, ids.c2, ids.p3)).key
    const elsewhere: [string, string, string][] = [
      [ids.c1, ids.p2, inP2.id],
      [ids.c1, ids.p2, mineInP2.id],
      ['-', ids.p2, inP2.id],
      [ids.c2, ids.p3, inP3.id],
    ]
    for (const [customer, project, keyId] of elsewhere) {
      const where = `${customer}/${project}`
      const before = tableCounts(cp.dataDir)
      for (const userScope of [false, true]) {
        const err = await refusal(() => register(bound, customer, project, userScope))
        assert.equal(err.code, 'permission_denied', where)
        assert.match(err.message, new RegExp(`bound to project ${ids.p1}`))
        assert.equal(err.details[0]?.field, 'project_id')
      }
      assert.equal(
        (await refusal(() => bound.aikeys.list(customer, project))).code,
        'permission_denied',
        where,
      )
      assert.equal(
        (await refusal(() => bound.aikeys.get(customer, project, keyId))).code,
        'permission_denied',
      )
      assert.equal(
        (await refusal(() => bound.aikeys.revoke(customer, project, keyId))).code,
        'permission_denied',
      )
      assert.deepEqual(tableCounts(cp.dataDir), before, `nothing written for ${where}`)
    }
    for (const [customer, project, keyId] of elsewhere) {
      const key = (await session.aikeys.get(customer === '-' ? ids.c1 : customer, project, keyId)).key
      assert.equal(key.revoked_at, undefined, `${keyId} is not revoked`)
    }
    // The same user's unbound key still reaches them: the refusal is the binding.
    assert.ok((await unbound.aikeys.list(ids.c1, ids.p2)).keys.some((k) => k.id === inP2.id))
  })

  it('refuses its own project under another customer, and a project that does not exist, alike', async () => {
    const wrongCustomer = await refusal(() => bound.aikeys.list(ids.c2, ids.p1))
    assert.equal(wrongCustomer.code, 'permission_denied')
    assert.equal(wrongCustomer.details[0]?.field, 'customer_id')
    const missing = await refusal(() => bound.aikeys.list(ids.c1, 'proj_00000000000000000000000000'))
    assert.equal(missing.code, 'permission_denied')
  })

  it('`-` means the bound project (not the default one), and its own project works in full', async () => {
    const viaDefault = (await register(bound, '-', '-')).key
    const viaCustomer = (await register(bound, ids.c1, '-')).key
    const p1 = (await session.aikeys.list(ids.c1, ids.p1)).keys.map((k) => k.id)
    const p2 = (await session.aikeys.list(ids.c1, ids.p2)).keys.map((k) => k.id)
    assert.ok(p1.includes(viaDefault.id) && p1.includes(viaCustomer.id), 'registered in P1')
    assert.ok(!p2.includes(viaDefault.id), 'not in the default project P2')
    assert.deepEqual(
      (await bound.aikeys.list('-', '-')).keys.map((k) => k.id),
      (await bound.aikeys.list(ids.c1, ids.p1)).keys.map((k) => k.id),
    )

    const explicit = (await register(bound, ids.c1, ids.p1)).key
    assert.equal((await bound.aikeys.get(ids.c1, ids.p1, explicit.id)).key.id, explicit.id)
    const { key } = await bound.aikeys.revoke('-', '-', explicit.id)
    assert.ok(key.revoked_at)
    // Unbound, the same user's `-` is the default project, not P1.
    const me = (await session.me.get()).identity
    assert.notEqual(me.default_project_id, ids.p1)
    const unboundDefault = (await register(unbound, '-', '-')).key
    const inDefault = await session.aikeys.list(me.default_customer_id, me.default_project_id)
    assert.ok(inDefault.keys.some((k) => k.id === unboundDefault.id))
  })
})
