/**
 * Who may call what. Every endpoint's success path with the persona it is for, and each
 * persona's refusals: session-only endpoints refuse every API key, admin endpoints refuse prompt
 * keys, dataplane keys and non-admin sessions, the revocation list takes admin and dataplane
 * keys only, and no identity sees or revokes another identity's keys. A refused call writes
 * nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Persona, routes } from '../../shared/contract/routes.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, decodeJwt, type HttpResult, http, tableCounts } from '../support/http.ts'

const ROOT_EMAIL = 'root@example.com'

describe('personas', () => {
  let cp: TestControlPlane
  let alice: LoginResult
  let bob: LoginResult
  let root: LoginResult
  let alicePrompt: string
  let aliceKeyId: string

  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_ADMIN_EMAILS: ROOT_EMAIL })
    ;[alice, bob, root] = await Promise.all([
      cp.login('alice@example.com'),
      cp.login('bob@example.com'),
      cp.login(ROOT_EMAIL),
    ])
    const issued = await alice.client.me.issueKey('alice prompt')
    alicePrompt = issued.secret
    aliceKeyId = issued.key.id
  })
  after(() => cp?.stop())

  const call = (method: string, path: string, token: string | undefined, json?: unknown) =>
    http(cp.url, method, path, { ...(token ? { token } : {}), ...(json !== undefined ? { json } : {}) })

  describe('refusals', () => {
    type Who =
      | 'nobody'
      | 'alice session'
      | 'alice prompt key'
      | 'dataplane key'
      | 'admin key'
      | 'root session'
    const token = (who: Who): string | undefined =>
      ({
        nobody: undefined,
        'alice session': alice.sessionToken,
        'alice prompt key': alicePrompt,
        'dataplane key': cp.dataplaneKey,
        'admin key': cp.adminKey,
        'root session': root.sessionToken,
      })[who]

    /** [method, path, body] of every admin endpoint, with bodies that would be valid. */
    const adminEndpoints = (): Array<[string, string, unknown?]> => [
      ['POST', '/v1/admin/customers', { name: 'acme' }],
      ['POST', `/v1/admin/customers/${alice.customerId}/projects`, { name: 'p2' }],
      [
        'PUT',
        `/v1/admin/customers/${alice.customerId}/projects/${alice.projectId}/members/${bob.identityId}`,
        { role: 'member' },
      ],
      [
        'DELETE',
        `/v1/admin/customers/${alice.customerId}/projects/${alice.projectId}/members/${alice.identityId}`,
      ],
      ['GET', '/v1/admin/identities?email=alice@example.com'],
      ['POST', '/v1/admin/keys', { name: 'sneaky', type: 'KEY_TYPE_ADMIN' }],
      ['GET', '/v1/admin/dataplanes'],
      ['POST', '/v1/admin/signing-keys/rotate', {}],
      ['DELETE', `/v1/admin/keys/${aliceKeyId}`],
    ]

    it('refuses every non-public endpoint without a credential (unauthenticated)', async () => {
      const counts = tableCounts(cp.dataDir)
      const endpoints: Array<[string, string, unknown?]> = [
        ['POST', '/v1/auth/logout', {}],
        ['GET', '/v1/me'],
        ['POST', '/v1/me/keys', { name: 'x' }],
        ['GET', '/v1/me/keys'],
        ['DELETE', `/v1/me/keys/${aliceKeyId}`],
        ['GET', '/v1/tokens/revocations'],
        ...adminEndpoints(),
      ]
      for (const [method, path, body] of endpoints) {
        assertError(
          await call(method, path, undefined, body),
          'unauthenticated',
          undefined,
          `${method} ${path}`,
        )
      }
      assert.deepEqual(tableCounts(cp.dataDir), counts)
    })

    /** Who each persona of the route table refuses with permission_denied. */
    const REFUSED: Record<Exclude<Persona, 'public'>, Who[]> = {
      session: ['alice prompt key', 'dataplane key', 'admin key'],
      authenticated: ['dataplane key'],
      admin: ['alice prompt key', 'alice session', 'dataplane key'],
      revocations: ['alice prompt key', 'alice session'],
      secret_value: ['alice prompt key', 'alice session', 'root session'],
      dataplane: ['alice prompt key', 'alice session', 'admin key', 'root session'],
    }

    it('checks the credential and the persona of every route in the route table before reading its input', async () => {
      const counts = tableCounts(cp.dataDir)
      for (const [id, spec] of Object.entries(routes)) {
        if (spec.persona === 'public') continue
        // Placeholders: a refusal must come before the path, query and body are even validated.
        const path = spec.path.replace(/\{\w+\}/g, 'x')
        const body = spec.method === 'POST' || spec.method === 'PUT' ? {} : undefined
        assertError(await call(spec.method, path, undefined, body), 'unauthenticated', undefined, id)
        for (const who of REFUSED[spec.persona]) {
          assertError(
            await call(spec.method, path, token(who), body),
            'permission_denied',
            undefined,
            `${who} ${id}`,
          )
        }
      }
      assert.deepEqual(tableCounts(cp.dataDir), counts, 'nothing written')
    })

    it('session-only endpoints (logout, issue key, revoke key) refuse API keys with permission_denied', async () => {
      const counts = tableCounts(cp.dataDir)
      for (const who of ['alice prompt key', 'dataplane key', 'admin key'] as const) {
        for (const [method, path, body] of [
          ['POST', '/v1/auth/logout', {}],
          ['POST', '/v1/me/keys', { name: 'via api key' }],
          ['DELETE', `/v1/me/keys/${aliceKeyId}`],
        ] as const) {
          assertError(
            await call(method, path, token(who), body),
            'permission_denied',
            undefined,
            `${who} ${method} ${path}`,
          )
        }
      }
      assert.deepEqual(tableCounts(cp.dataDir), counts, 'nothing written')
      assert.equal((await call('GET', '/v1/me', alicePrompt)).status, 200, 'the prompt key was not revoked')
      assert.equal((await call('GET', '/v1/me', cp.adminKey)).status, 200, 'no logout happened')
    })

    it('admin endpoints refuse prompt keys, dataplane keys and non-admin sessions', async () => {
      const counts = tableCounts(cp.dataDir)
      for (const who of ['alice prompt key', 'alice session', 'dataplane key'] as const) {
        for (const [method, path, body] of adminEndpoints()) {
          assertError(
            await call(method, path, token(who), body),
            'permission_denied',
            undefined,
            `${who} ${method} ${path}`,
          )
        }
      }
      assert.deepEqual(tableCounts(cp.dataDir), counts, 'nothing written')
      const me = await alice.client.me.get()
      assert.equal(me.identity.memberships.length, 1, 'alice is still a member of her project')
    })

    it('the revocation list refuses prompt keys and non-admin sessions, and serves admin and dataplane keys', async () => {
      for (const who of ['alice prompt key', 'alice session'] as const) {
        assertError(
          await call('GET', '/v1/tokens/revocations', token(who)),
          'permission_denied',
          undefined,
          who,
        )
      }
      for (const who of ['admin key', 'dataplane key', 'root session'] as const) {
        const res = await call('GET', '/v1/tokens/revocations', token(who))
        assert.equal(res.status, 200, `${who}: ${res.text}`)
        assert.ok(Array.isArray(res.body.revocations))
      }
    })

    it('dataplane keys carry no account scope: /v1/me and key listing refuse them', async () => {
      assertError(await call('GET', '/v1/me', cp.dataplaneKey), 'permission_denied')
      assertError(await call('GET', '/v1/me/keys', cp.dataplaneKey), 'permission_denied')
    })

    it('only admins issue KEY_TYPE_ADMIN and KEY_TYPE_DATAPLANE keys', async () => {
      const counts = tableCounts(cp.dataDir)
      for (const type of ['KEY_TYPE_ADMIN', 'KEY_TYPE_DATAPLANE']) {
        const res = await call('POST', '/v1/me/keys', alice.sessionToken, { name: 'escalate', type })
        assertError(res, 'permission_denied', undefined, type)
      }
      assert.deepEqual(tableCounts(cp.dataDir), counts, 'nothing written')

      const admin = await call('POST', '/v1/me/keys', root.sessionToken, {
        name: 'root admin',
        type: 'KEY_TYPE_ADMIN',
      })
      assert.equal(admin.status, 200, admin.text)
      assert.equal(admin.body.key.type, 'KEY_TYPE_ADMIN')
      assert.equal((await call('GET', '/v1/admin/dataplanes', admin.body.secret)).status, 200)

      const dp = await call('POST', '/v1/me/keys', root.sessionToken, {
        name: 'root dp',
        type: 'KEY_TYPE_DATAPLANE',
      })
      assert.equal(dp.status, 200, dp.text)
      assert.equal(dp.body.key.type, 'KEY_TYPE_DATAPLANE')
      assert.equal((await call('GET', '/v1/tokens/revocations', dp.body.secret)).status, 200)
      assertError(await call('GET', '/v1/admin/dataplanes', dp.body.secret), 'permission_denied')
    })
  })

  describe('no identity sees or revokes another identity’s keys', () => {
    it('lists only the caller’s own keys, even with another caller’s page token', async () => {
      for (let i = 0; i < 3; i++) await alice.client.me.issueKey(`alice-${i}`)
      await bob.client.me.issueKey('bob-only')
      const bobs = await bob.client.me.listKeys()
      assert.ok(bobs.keys.length >= 1)
      assert.ok(bobs.keys.every((k) => k.identity_id === bob.identityId))
      assert.ok(!JSON.stringify(bobs).includes(aliceKeyId))

      const alicePage = await alice.client.me.listKeys({ pageSize: 1 })
      assert.ok(alicePage.page.next_page_token)
      const borrowed = await bob.client.me.listKeys({ pageToken: alicePage.page.next_page_token })
      assert.ok(
        borrowed.keys.every((k) => k.identity_id === bob.identityId),
        'no alice keys through her token',
      )
    })

    it('answers another identity’s key id exactly like an unknown one, and leaves the key working', async () => {
      const counts = tableCounts(cp.dataDir)
      const theirs = await call('DELETE', `/v1/me/keys/${aliceKeyId}`, bob.sessionToken)
      const unknownId = `key_${aliceKeyId.slice(4, -1)}${aliceKeyId.endsWith('0') ? '1' : '0'}`
      const unknown = await call('DELETE', `/v1/me/keys/${unknownId}`, bob.sessionToken)
      assertError(theirs, 'not_found')
      assertError(unknown, 'not_found')
      assert.equal(
        theirs.body.message.replace(aliceKeyId, 'ID'),
        unknown.body.message.replace(unknownId, 'ID'),
      )
      assert.deepEqual(tableCounts(cp.dataDir), counts, 'nothing written')
      assert.equal((await call('GET', '/v1/me', alicePrompt)).status, 200, 'alice’s key still works')

      const rootTry = await call('DELETE', `/v1/me/keys/${aliceKeyId}`, root.sessionToken)
      assertError(rootTry, 'not_found', undefined, 'even an admin session revokes only its own keys here')
    })
  })

  describe('success paths', () => {
    it('GET /v1/me answers the identity behind a session, a prompt key and an admin key', async () => {
      const viaSession = await call('GET', '/v1/me', alice.sessionToken)
      const viaKey = await call('GET', '/v1/me', alicePrompt)
      assert.equal(viaSession.status, 200)
      assert.deepEqual(viaKey.body, viaSession.body)
      assert.equal(viaSession.body.identity.email, 'alice@example.com')
      assert.equal(viaSession.body.identity.is_admin, false)
      const adminMe = await call('GET', '/v1/me', cp.adminKey)
      assert.equal(adminMe.body.identity.kind, 'service')
      assert.equal(adminMe.body.identity.is_admin, true)
      const rootMe = await call('GET', '/v1/me', root.sessionToken)
      assert.equal(rootMe.body.identity.is_admin, true, 'AGENTROUTER_ADMIN_EMAILS makes root an admin')
    })

    it('serves the JWKS and the OpenAPI document to anyone', async () => {
      const jwks = await call('GET', '/.well-known/jwks.json', undefined)
      assert.equal(jwks.status, 200)
      const kid = decodeJwt(alicePrompt).header.kid
      assert.ok(
        jwks.body.keys.some((k: { kid: string }) => k.kid === kid),
        'the signing key is published',
      )
      const openapi = await call('GET', '/openapi.json', undefined)
      assert.equal(openapi.status, 200)
      assert.equal(openapi.body.openapi, '3.1.0')
      for (const [path, method] of [
        ['/v1/auth/login', 'post'],
        ['/v1/auth/callback', 'post'],
        ['/v1/auth/logout', 'post'],
        ['/v1/me', 'get'],
        ['/v1/me/keys', 'post'],
        ['/v1/me/keys', 'get'],
        ['/v1/me/keys/{key_id}', 'delete'],
        ['/v1/tokens/revocations', 'get'],
        ['/.well-known/jwks.json', 'get'],
        ['/v1/admin/customers', 'post'],
        ['/v1/admin/identities', 'get'],
        ['/v1/admin/keys', 'post'],
        ['/v1/admin/signing-keys/rotate', 'post'],
      ] as const) {
        assert.ok(openapi.body.paths[path]?.[method], `${method} ${path} is documented`)
      }
    })

    for (const who of ['admin key', 'root session'] as const) {
      it(`admin endpoints work with the ${who}: customers, projects, members, identities, keys, dataplanes`, async () => {
        const t = who === 'admin key' ? cp.adminKey : root.sessionToken
        const ok = (res: HttpResult, what: string) => {
          assert.equal(res.status, 200, `${what}: ${res.text}`)
          return res.body
        }
        const { customer } = ok(
          await call('POST', '/v1/admin/customers', t, { name: `Acme ${who}` }),
          'customer',
        )
        assert.match(customer.id, /^cust_/)
        assert.equal(customer.name, `Acme ${who}`)
        const { project } = ok(
          await call('POST', `/v1/admin/customers/${customer.id}/projects`, t, { name: 'web' }),
          'project',
        )
        assert.match(project.id, /^proj_/)
        assert.equal(project.customer_id, customer.id)
        assertError(
          await call('POST', `/v1/admin/customers/${customer.id}/projects`, t, { name: 'web' }),
          'already_exists',
          undefined,
          'a second project with the same name',
        )

        const memberPath = `/v1/admin/customers/${customer.id}/projects/${project.id}/members/${bob.identityId}`
        const { member } = ok(await call('PUT', memberPath, t, { role: 'member' }), 'put member')
        assert.deepEqual(
          [member.customer_id, member.project_id, member.identity_id, member.role],
          [customer.id, project.id, bob.identityId, 'member'],
        )
        const role = async () =>
          (await bob.client.me.get()).identity.memberships.find((m) => m.project_id === project.id)?.role
        assert.equal(await role(), 'member')
        ok(await call('PUT', memberPath, t, { role: 'owner' }), 'change role')
        assert.equal(await role(), 'owner')
        assert.deepEqual(ok(await call('DELETE', memberPath, t), 'delete member'), { success: true })
        assert.equal(await role(), undefined)
        assert.deepEqual(ok(await call('DELETE', memberPath, t), 'delete again'), { success: false })

        const { identities } = ok(
          await call('GET', '/v1/admin/identities?email=ALICE@example.com', t),
          'identities',
        )
        assert.deepEqual(
          identities.map((i: { id: string }) => i.id),
          [alice.identityId],
        )
        assert.equal(identities[0].memberships.length >= 1, true)
        const none = ok(
          await call('GET', '/v1/admin/identities?email=nobody@example.com', t),
          'no identities',
        )
        assert.deepEqual(none.identities, [])
        const all = ok(await call('GET', '/v1/admin/identities', t), 'all identities')
        assert.ok(all.identities.length >= 5)

        const dp = ok(
          await call('POST', '/v1/admin/keys', t, { name: `dp ${who}`, type: 'KEY_TYPE_DATAPLANE' }),
          'dp key',
        )
        assert.equal(dp.key.type, 'KEY_TYPE_DATAPLANE')
        assert.notEqual(dp.key.identity_id, alice.identityId)
        assert.match(dp.secret, /^ak-eyJ/)
        assert.equal((await call('GET', '/v1/tokens/revocations', dp.secret)).status, 200)
        const svc = ok(await call('GET', '/v1/admin/identities', t), 'identities').identities.find(
          (i: { id: string }) => i.id === dp.key.identity_id,
        )
        assert.equal(svc.kind, 'service', 'a new service identity holds the key')

        const forAlice = ok(
          await call('POST', '/v1/admin/keys', t, {
            name: 'alice admin',
            type: 'KEY_TYPE_ADMIN',
            identity_id: alice.identityId,
          }),
          'admin key for alice',
        )
        assert.equal(forAlice.key.identity_id, alice.identityId)
        assert.equal((await call('GET', '/v1/admin/dataplanes', forAlice.secret)).status, 200)
        assertError(
          await call('POST', '/v1/admin/keys', t, {
            name: 'ghost',
            type: 'KEY_TYPE_ADMIN',
            identity_id: 'usr_01HZZZZZZZZZZZZZZZZZZZZZZZ',
          }),
          'not_found',
        )

        const dps = ok(await call('GET', '/v1/admin/dataplanes', t), 'dataplanes')
        assert.ok(typeof dps.head_cursor === 'string')
        assert.deepEqual(dps.dataplanes, [])
      })
    }

    it('lets an admin revoke any key: a dataplane key it issued, and a user’s key', async () => {
      const dp = await cp.admin.admin.issueKey({ name: 'leaked dp', type: 'KEY_TYPE_DATAPLANE' })
      assert.equal((await call('GET', '/v1/tokens/revocations', dp.secret)).status, 200)
      const res = await call('DELETE', `/v1/admin/keys/${dp.key.id}`, cp.adminKey)
      assert.equal(res.status, 200, res.text)
      assert.equal(res.body.key.state, 'KEY_STATE_REVOKED')
      assertError(await call('GET', '/v1/tokens/revocations', dp.secret), 'unauthenticated')
      const entry = (await cp.admin.tokens.getRevocationList()).revocations.find((r) => r.jti === dp.key.id)
      assert.equal(entry?.kind, 'api_key')

      const bobKey = await bob.client.me.issueKey('bob, revoked by an admin')
      const viaRoot = await call('DELETE', `/v1/admin/keys/${bobKey.key.id}`, root.sessionToken)
      assert.equal(viaRoot.status, 200, viaRoot.text)
      assertError(await call('GET', '/v1/me', bobKey.secret), 'unauthenticated')
      const listed = (await bob.client.me.listKeys()).keys.find((k) => k.id === bobKey.key.id)
      assert.equal(listed?.state, 'KEY_STATE_REVOKED')

      assertError(
        await call('DELETE', '/v1/admin/keys/key_01HZZZZZZZZZZZZZZZZZZZZZZZ', cp.adminKey),
        'not_found',
      )
      assertError(await call('DELETE', '/v1/admin/keys/bogus', cp.adminKey), 'invalid_argument', 'key_id')
    })

    it('resolves the `-` segment to the admin session’s default customer and project, for members and new projects', async () => {
      const path = `/v1/admin/customers/-/projects/-/members/${bob.identityId}`
      const res = await call('PUT', path, root.sessionToken, { role: 'member' })
      assert.equal(res.status, 200, res.text)
      assert.equal(res.body.member.project_id, root.projectId)
      assert.equal(res.body.member.customer_id, root.customerId)
      const viaKey = await call('PUT', path, cp.adminKey, { role: 'member' })
      assertError(viaKey, 'failed_precondition', undefined, 'the bootstrap admin has no default project')

      const project = await call('POST', '/v1/admin/customers/-/projects', root.sessionToken, {
        name: 'dash',
      })
      assert.equal(project.status, 200, project.text)
      assert.equal(project.body.project.customer_id, root.customerId)
      assertError(
        await call('POST', '/v1/admin/customers/-/projects', cp.adminKey, { name: 'dash' }),
        'failed_precondition',
        undefined,
        'the bootstrap admin has no default customer',
      )
    })

    it('answers not_found for a well-formed customer or project that does not exist', async () => {
      const ghostCustomer = 'cust_01HZZZZZZZZZZZZZZZZZZZZZZZ'
      assertError(
        await call('POST', `/v1/admin/customers/${ghostCustomer}/projects`, cp.adminKey, { name: 'x' }),
        'not_found',
      )
      assertError(
        await call(
          'PUT',
          `/v1/admin/customers/${alice.customerId}/projects/${bob.projectId}/members/${bob.identityId}`,
          cp.adminKey,
          { role: 'member' },
        ),
        'not_found',
        undefined,
        'a project under another customer',
      )
      assertError(
        await call(
          'PUT',
          `/v1/admin/customers/${alice.customerId}/projects/${alice.projectId}/members/usr_01HZZZZZZZZZZZZZZZZZZZZZZZ`,
          cp.adminKey,
          { role: 'member' },
        ),
        'not_found',
      )
    })
  })

  describe('replacing the bootstrap admin key', () => {
    it('issues a new admin key, revokes the bootstrap key with it, and the bootstrap key stops working', async () => {
      const next = await cp.admin.admin.issueKey({ name: 'operator', type: 'KEY_TYPE_ADMIN' })
      const bootstrapJti = decodeJwt(cp.adminKey).payload.jti as string
      const res = await call('DELETE', `/v1/admin/keys/${bootstrapJti}`, next.secret)
      assert.equal(res.status, 200, res.text)
      assertError(await call('GET', '/v1/admin/dataplanes', cp.adminKey), 'unauthenticated')
      assert.equal((await call('GET', '/v1/admin/dataplanes', next.secret)).status, 200)
    })
  })
})
