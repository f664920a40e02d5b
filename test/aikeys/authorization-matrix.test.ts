/**
 * The AI-keys authorization matrix, as one table: {owner, member, another member, non-member,
 * admin, dataplane} × {register, get, list, revoke} × {project-level, user-scoped key}. The
 * user-scoped key in each cell belongs to `member`. A refused register or revoke must also have
 * changed nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ApiError, type Client } from '../../shared/client/index.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { tableCounts } from '../support/http.ts'

type Actor = 'owner' | 'member' | 'another member' | 'non-member' | 'admin' | 'dataplane'
type Operation = 'register' | 'get' | 'list' | 'revoke'
type Scope = 'project-level' | 'user-scoped'
/** `ok`; for list, whether the key is `listed` or `hidden`; otherwise the error code. */
type Outcome = string

const ok = 'ok'
const denied = 'permission_denied'

const EXPECTED: Record<Actor, Record<Operation, Record<Scope, Outcome>>> = {
  owner: {
    register: { 'project-level': ok, 'user-scoped': ok },
    get: { 'project-level': ok, 'user-scoped': denied },
    list: { 'project-level': 'listed', 'user-scoped': 'hidden' },
    revoke: { 'project-level': ok, 'user-scoped': denied },
  },
  member: {
    register: { 'project-level': denied, 'user-scoped': ok },
    get: { 'project-level': ok, 'user-scoped': ok },
    list: { 'project-level': 'listed', 'user-scoped': 'listed' },
    revoke: { 'project-level': denied, 'user-scoped': ok },
  },
  'another member': {
    register: { 'project-level': denied, 'user-scoped': ok },
    get: { 'project-level': ok, 'user-scoped': denied },
    list: { 'project-level': 'listed', 'user-scoped': 'hidden' },
    revoke: { 'project-level': denied, 'user-scoped': denied },
  },
  'non-member': {
    register: { 'project-level': denied, 'user-scoped': denied },
    get: { 'project-level': denied, 'user-scoped': denied },
    list: { 'project-level': denied, 'user-scoped': denied },
    revoke: { 'project-level': denied, 'user-scoped': denied },
  },
  // An admin counts as the owner of every project for project-level keys; another user's
  // user-scoped key stays that user's own.
  admin: {
    register: { 'project-level': ok, 'user-scoped': denied },
    get: { 'project-level': ok, 'user-scoped': denied },
    list: { 'project-level': 'listed', 'user-scoped': 'hidden' },
    revoke: { 'project-level': ok, 'user-scoped': denied },
  },
  // A dataplane key has no account scope: the Authenticated persona refuses it.
  dataplane: {
    register: { 'project-level': denied, 'user-scoped': denied },
    get: { 'project-level': denied, 'user-scoped': denied },
    list: { 'project-level': denied, 'user-scoped': denied },
    revoke: { 'project-level': denied, 'user-scoped': denied },
  },
}

describe('AI keys authorization', () => {
  let cp: TestControlPlane
  let customerId: string
  let projectId: string
  const clients = {} as Record<Actor, Client>

  before(async () => {
    cp = await startControlPlane()
    const [owner, member, another, outsider] = await Promise.all([
      cp.login('owner@example.com'),
      cp.login('member@example.com'),
      cp.login('another@example.com'),
      cp.login('outsider@example.com'),
    ])
    customerId = (await cp.admin.admin.createCustomer('matrix corp')).customer.id
    projectId = (await cp.admin.admin.createProject(customerId, 'shared')).project.id
    await cp.admin.admin.setMember(customerId, projectId, owner.identityId, 'owner')
    await cp.admin.admin.setMember(customerId, projectId, member.identityId, 'member')
    await cp.admin.admin.setMember(customerId, projectId, another.identityId, 'member')
    // Sessions and prompt API keys alike are the Authenticated persona.
    clients.owner = owner.client
    clients.member = cp.client((await member.client.me.issueKey('member prompt')).secret)
    clients['another member'] = another.client
    clients['non-member'] = cp.client((await outsider.client.me.issueKey('outsider prompt')).secret)
    clients.admin = cp.admin
    clients.dataplane = cp.client(cp.dataplaneKey)
  })
  after(() => cp?.stop())

  /** A target key: project-level keys are the owner's, user-scoped ones the member's. */
  const target = async (scope: Scope) => {
    const registrar = scope === 'project-level' ? clients.owner : clients.member
    const { key } = await registrar.aikeys.register(
      customerId,
      projectId,
      'openai',
      `target ${scope}`,
      `sk-target-${Math.random()}`,
      scope === 'user-scoped',
    )
    return key
  }

  const outcomeOf = async (call: () => Promise<unknown>): Promise<Outcome> => {
    try {
      await call()
      return ok
    } catch (err) {
      if (err instanceof ApiError) return err.code
      throw err
    }
  }

  async function cell(actor: Actor, operation: Operation, scope: Scope): Promise<Outcome> {
    const c = clients[actor]
    const userScope = scope === 'user-scoped'
    switch (operation) {
      case 'register': {
        const before = tableCounts(cp.dataDir)
        const outcome = await outcomeOf(() =>
          c.aikeys.register(
            customerId,
            projectId,
            'anthropic',
            `by ${actor}`,
            'sk-ant-registered',
            userScope,
          ),
        )
        if (outcome !== ok) assert.deepEqual(tableCounts(cp.dataDir), before, `${actor} register wrote`)
        return outcome
      }
      case 'get': {
        const key = await target(scope)
        return outcomeOf(async () => {
          const got = await c.aikeys.get(customerId, projectId, key.id)
          assert.deepEqual(got.key, key)
        })
      }
      case 'list': {
        const key = await target(scope)
        let listed = false
        const outcome = await outcomeOf(async () => {
          listed = (await c.aikeys.list(customerId, projectId)).keys.some((k) => k.id === key.id)
        })
        return outcome === ok ? (listed ? 'listed' : 'hidden') : outcome
      }
      case 'revoke': {
        const key = await target(scope)
        const outcome = await outcomeOf(() => c.aikeys.revoke(customerId, projectId, key.id))
        const registrar = userScope ? clients.member : clients.owner
        const after = (await registrar.aikeys.get(customerId, projectId, key.id)).key
        assert.equal(after.revoked_at !== undefined, outcome === ok, `${actor} revoke ${scope}: revoked_at`)
        return outcome
      }
    }
  }

  it('gives every actor exactly the access the AiKeys document describes', async () => {
    const actual = {} as typeof EXPECTED
    for (const actor of Object.keys(EXPECTED) as Actor[]) {
      actual[actor] = {} as (typeof EXPECTED)[Actor]
      for (const operation of Object.keys(EXPECTED[actor]) as Operation[]) {
        actual[actor][operation] = {} as Record<Scope, Outcome>
        for (const scope of ['project-level', 'user-scoped'] as const) {
          actual[actor][operation][scope] = await cell(actor, operation, scope)
        }
      }
    }
    assert.deepEqual(actual, EXPECTED)
  })
})
