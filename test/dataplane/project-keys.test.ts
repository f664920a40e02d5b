/**
 * Project-bound keys and per-request project selection, through a real dataplane with the
 * official `openai` SDK: a member of two projects (of two customers) with a key bound to each
 * sends traffic that reaches the upstream with each project's provider key (their own
 * user-scoped key first); an unbound key or a session picks a project with the
 * `x-agentrouter-project` header, which never reaches the upstream; a bound key cannot be
 * pointed elsewhere; a non-member is refused; a removed member is refused within a second.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import OpenAI, { PermissionDeniedError } from 'openai'
import { ApiError } from '../../shared/client/index.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { anthropicErrorOf, chat, openaiErrorOf, within } from '../support/inference.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

const HEADER = 'x-agentrouter-project'
const KEY_A = 'sk-project-a-key-1111'
const KEY_B = 'sk-project-b-key-2222'
const KEY_C = 'sk-project-c-key-3333'
const BOB_IN_A = 'sk-bob-own-key-in-a-4444'
const MISSING_PROJECT = 'proj_01JD0000000000000000000000'

describe('project-bound keys and the x-agentrouter-project header', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  let dp: TestDataplane
  const ids = { acme: '', globex: '', a: '', b: '', c: '' }
  let bob: { identityId: string; session: string; unbound: string; boundA: string; boundB: string }
  let carol: {
    identityId: string
    session: string
    key: string
    client: ReturnType<TestControlPlane['client']>
  }

  /** The provider key the upstream saw on its latest request, and that the header was not forwarded. */
  const lastKey = (): string => {
    const seen = upstream.requests.at(-1)!
    assert.equal(seen.headers[HEADER], undefined, 'the project header is not forwarded upstream')
    return String(seen.headers.authorization)
  }

  const sdk = (apiKey: string, project?: string) =>
    new OpenAI({
      apiKey,
      baseURL: `${dp.url}/openai/v1`,
      maxRetries: 0,
      defaultHeaders: project ? { [HEADER]: project } : {},
    })

  const complete = async (apiKey: string, project?: string): Promise<string> => {
    const completion = await sdk(apiKey, project).chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
    })
    assert.ok(completion.choices[0]?.message.content)
    return lastKey()
  }

  /** Refused by the SDK as a 403 `permission_denied`, with nothing reaching the upstream. */
  const deniedBySdk = async (apiKey: string, project: string | undefined, mentions: string) => {
    const before = upstream.requests.length
    await assert.rejects(
      sdk(apiKey, project).chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'hi' }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof PermissionDeniedError, String(err))
        assert.equal(err.status, 403)
        assert.equal(err.code, 'permission_denied')
        assert.equal(err.type, 'permission_error')
        assert.ok(err.message.includes(mentions), err.message)
        return true
      },
    )
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream')
  }

  before(async () => {
    ;[cp, upstream] = await Promise.all([
      startControlPlane({ AGENTROUTER_AUTO_PROVISION: 'false', AGENTROUTER_STREAM_HEARTBEAT: '500ms' }),
      startUpstream(),
    ])
    // A TTL nothing here can wait out: every refusal below comes from an eviction or a check.
    dp = await startDataplane({
      controlPlaneUrl: cp.url,
      dataplaneKey: cp.dataplaneKey,
      upstream: upstream.url,
      env: { AGENTROUTER_DP_BYOK_CACHE_TTL: '5m' },
    })
    const admin = cp.admin.admin
    ids.acme = (await admin.createCustomer('acme')).customer.id
    ids.globex = (await admin.createCustomer('globex')).customer.id
    ids.a = (await admin.createProject(ids.acme, 'alpha')).project.id
    ids.b = (await admin.createProject(ids.acme, 'beta')).project.id
    ids.c = (await admin.createProject(ids.globex, 'gamma')).project.id
    await cp.admin.aikeys.register(ids.acme, ids.a, 'openai', 'a', KEY_A)
    await cp.admin.aikeys.register(ids.acme, ids.b, 'openai', 'b', KEY_B)
    await cp.admin.aikeys.register(ids.globex, ids.c, 'openai', 'c', KEY_C)

    const b = await cp.login('bob@example.com')
    await admin.setMember(ids.acme, ids.a, b.identityId, 'member')
    await admin.setMember(ids.acme, ids.b, b.identityId, 'member')
    await admin.setMember(ids.globex, ids.c, b.identityId, 'member')
    // Bob's own key in alpha: what his alpha traffic uses, before the project's.
    await b.client.aikeys.register(ids.acme, ids.a, 'openai', 'mine', BOB_IN_A, true)
    bob = {
      identityId: b.identityId,
      session: b.sessionToken,
      unbound: (await b.client.me.issueKey('unbound')).secret,
      boundA: (await b.client.me.issueKey('alpha', { projectId: ids.a, customerId: ids.acme })).secret,
      boundB: (await b.client.me.issueKey('beta', { projectId: ids.b })).secret,
    }
    const c = await cp.login('carol@example.com')
    await admin.setMember(ids.acme, ids.a, c.identityId, 'member')
    carol = {
      identityId: c.identityId,
      session: c.sessionToken,
      key: (await c.client.me.issueKey('carol')).secret,
      client: c.client,
    }
  })
  after(async () => {
    await dp?.stop()
    await cp?.stop()
    await upstream?.close()
  })

  it("a key bound to each of two projects sends traffic with that project's provider key, the member's own key first", async () => {
    assert.equal(await complete(bob.boundA), `Bearer ${BOB_IN_A}`)
    assert.equal(await complete(bob.boundB), `Bearer ${KEY_B}`)
    // Again, from the cache: still each its own.
    assert.equal(await complete(bob.boundA), `Bearer ${BOB_IN_A}`)
    assert.equal(await complete(bob.boundB), `Bearer ${KEY_B}`)
    // Naming its own project is allowed.
    assert.equal(await complete(bob.boundB, ids.b), `Bearer ${KEY_B}`)
  })

  it("listing keys shows each key's project; an unbound key shows none", async () => {
    const login = await cp.client(bob.session).me.listKeys()
    const byName = Object.fromEntries(login.keys.map((k) => [k.name, k]))
    assert.equal(byName.alpha?.project_id, ids.a)
    assert.equal(byName.alpha?.customer_id, ids.acme)
    assert.equal(byName.beta?.project_id, ids.b)
    assert.equal(byName.beta?.customer_id, ids.acme, 'the customer is found from the project')
    assert.equal(byName.unbound?.project_id, undefined)
    assert.equal(byName.unbound?.customer_id, undefined)
  })

  it('the header selects the project for an unbound key and for a session, across customers; absent, the default project', async () => {
    // Bob's default project is alpha (his first membership).
    assert.equal(await complete(bob.unbound), `Bearer ${BOB_IN_A}`)
    assert.equal(await complete(bob.unbound, ids.b), `Bearer ${KEY_B}`)
    assert.equal(await complete(bob.unbound, ids.c), `Bearer ${KEY_C}`)
    assert.equal(await complete(bob.session, ids.c), `Bearer ${KEY_C}`)
    assert.equal(await complete(bob.session, ids.b), `Bearer ${KEY_B}`)
    assert.equal(await complete(bob.unbound), `Bearer ${BOB_IN_A}`)
  })

  it('a bound key with another project in the header is permission_denied, in the OpenAI and the Anthropic dialect', async () => {
    await deniedBySdk(bob.boundA, ids.b, `bound to project ${ids.a}`)
    await deniedBySdk(bob.boundB, ids.c, `bound to project ${ids.b}`)
    const before = upstream.requests.length
    const res = await chat(dp.url, bob.boundA, { headers: { [HEADER]: ids.b } })
    assert.equal(res.status, 403)
    const error = openaiErrorOf(res.body)
    assert.equal(error.param, HEADER)
    const anthropic = await chat(dp.url, bob.boundA, {
      path: '/anthropic/v1/messages',
      headers: { [HEADER]: ids.b },
      body: { model: 'claude-test', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
    })
    assert.equal(anthropic.status, 403)
    assert.equal(anthropicErrorOf(anthropic.body).type, 'permission_error')
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream')
  })

  it('a non-member naming a project is refused, the same for a project that does not exist; a malformed header is invalid_argument', async () => {
    await deniedBySdk(carol.key, ids.b, `not a member of project ${ids.b}`)
    await deniedBySdk(carol.session, ids.c, `not a member of project ${ids.c}`)
    await deniedBySdk(carol.key, MISSING_PROJECT, `not a member of project ${MISSING_PROJECT}`)
    assert.equal(await complete(carol.key), `Bearer ${KEY_A}`, 'her own project still serves her')
    const before = upstream.requests.length
    for (const bad of ['beta', `${ids.b}, ${ids.a}`, `${ids.b}x`, 'proj_', ids.b.toLowerCase()]) {
      const res = await chat(dp.url, carol.key, { headers: { [HEADER]: bad } })
      assert.equal(res.status, 400, bad)
      const error = openaiErrorOf(res.body)
      assert.equal(error.code, 'invalid_argument')
      assert.equal(error.param, HEADER)
    }
    assert.equal(upstream.requests.length, before)
  })

  it('binding a key to a project the caller is not a member of is permission_denied; bad ids name the field; nothing is written', async () => {
    const keysBefore = (await carol.client.me.listKeys()).keys.length
    const refusals: [Parameters<typeof carol.client.me.issueKey>[1], string, string | undefined][] = [
      [{ projectId: ids.b }, 'permission_denied', undefined],
      [{ projectId: MISSING_PROJECT }, 'permission_denied', undefined],
      [{ projectId: 'beta' }, 'invalid_argument', 'project_id'],
      [{ projectId: ids.a, customerId: 'acme' }, 'invalid_argument', 'customer_id'],
      [{ projectId: ids.a, customerId: ids.globex }, 'invalid_argument', 'customer_id'],
      [{ customerId: ids.acme }, 'invalid_argument', 'project_id'],
      [{ projectId: ids.a, type: 'KEY_TYPE_ADMIN' }, 'permission_denied', undefined],
    ]
    for (const [options, code, field] of refusals) {
      await assert.rejects(carol.client.me.issueKey('nope', options), (err: unknown) => {
        assert.ok(err instanceof ApiError, String(err))
        assert.equal(err.code, code, `${JSON.stringify(options)}: ${err.message}`)
        if (field) assert.equal(err.details[0]?.field, field, JSON.stringify(err.details))
        return true
      })
    }
    assert.equal((await carol.client.me.listKeys()).keys.length, keysBefore, 'no key was issued')
  })

  it('a member removed from a project is refused within a second: the bound key and the header alike; the other project keeps serving', async () => {
    assert.equal(await complete(bob.boundB), `Bearer ${KEY_B}`)
    assert.equal(await complete(bob.unbound, ids.b), `Bearer ${KEY_B}`)
    await cp.admin.admin.removeMember(ids.acme, ids.b, bob.identityId)
    const took = await within(
      1_000,
      async () => (await chat(dp.url, bob.boundB)).status === 403,
      'the bound key refused',
    )
    assert.ok(took <= 1_000)
    await within(
      1_000,
      async () => (await chat(dp.url, bob.unbound, { headers: { [HEADER]: ids.b } })).status === 403,
      'the header refused',
    )
    await deniedBySdk(bob.boundB, undefined, `not a member of project ${ids.b}`)
    await deniedBySdk(bob.session, ids.b, `not a member of project ${ids.b}`)
    assert.equal(await complete(bob.boundA), `Bearer ${BOB_IN_A}`)
    assert.equal(await complete(bob.unbound, ids.c), `Bearer ${KEY_C}`)
  })
})
