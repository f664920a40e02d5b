/**
 * Bad input on every endpoint of the identity API (missing, wrong-typed and oversized fields,
 * unknown fields, malformed JSON, a wrong Content-Type, bad ids in paths, bad query values, a
 * body over AGENTROUTER_BODY_LIMIT_BYTES) is `invalid_argument` naming the field, and writes
 * nothing: every table of the database has the same row count after each refused request, and
 * the objects the request aimed at are unchanged.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  LOOPBACK_REDIRECT,
  type LoginResult,
  startControlPlane,
  type TestControlPlane,
} from '../support/control-plane.ts'
import { assertError, type HttpOptions, http, tableCounts } from '../support/http.ts'
import { pkcePair } from '../support/pkce.ts'

const LIMIT = 4096

interface Case {
  what: string
  method: string
  path: string
  /** Defaults to the user's session. */
  token?: 'session' | 'admin' | 'none'
  json?: unknown
  body?: HttpOptions['body']
  contentType?: string
  query?: Record<string, string>
  field: string
}

describe('bad input', () => {
  let cp: TestControlPlane
  let user: LoginResult
  let keyId: string
  let keySecret: string

  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_BODY_LIMIT_BYTES: String(LIMIT) })
    user = await cp.login('input@example.com')
    const key = await user.client.me.issueKey('target')
    keyId = key.key.id
    keySecret = key.secret
  })
  after(() => cp?.stop())

  async function run(cases: Case[]): Promise<void> {
    for (const c of cases) {
      const before = tableCounts(cp.dataDir)
      const token = { session: user.sessionToken, admin: cp.adminKey, none: undefined }[c.token ?? 'session']
      const headers: Record<string, string> = {}
      if (c.contentType !== undefined) headers['content-type'] = c.contentType
      else if (c.body !== undefined && !(c.body instanceof ReadableStream))
        headers['content-type'] = 'application/json'
      const res = await http(cp.url, c.method, c.path, {
        ...(token ? { token } : {}),
        ...(c.json !== undefined ? { json: c.json } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.query ? { query: c.query } : {}),
        headers,
      })
      const label = `${c.method} ${c.path} ${c.what}`
      assertError(res, 'invalid_argument', c.field, label)
      assert.deepEqual(tableCounts(cp.dataDir), before, `${label}: nothing written`)
    }
  }

  const big = (n: number) => 'x'.repeat(n)
  const overLimit = JSON.stringify({ name: big(LIMIT) })
  const chunked = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode(big(1024)))
        controller.close()
      },
    })

  /** Body problems every JSON endpoint must refuse the same way. */
  const bodyCases = (method: string, path: string, token: Case['token']): Case[] => [
    { what: 'malformed JSON', method, path, token, body: '{"name": "x",', field: 'body' },
    { what: 'a JSON array', method, path, token, body: '[]', field: 'body' },
    { what: 'JSON null', method, path, token, body: 'null', field: 'body' },
    { what: 'a JSON string', method, path, token, body: '"name"', field: 'body' },
    { what: 'not UTF-8', method, path, token, body: new Uint8Array([0xff, 0xfe, 0x7b]), field: 'body' },
    { what: 'text/plain', method, path, token, body: '{}', contentType: 'text/plain', field: 'Content-Type' },
    {
      what: 'a form',
      method,
      path,
      token,
      body: 'name=x',
      contentType: 'application/x-www-form-urlencoded',
      field: 'Content-Type',
    },
    { what: 'over the body limit', method, path, token, body: overLimit, field: 'body' },
    {
      what: 'over the body limit, chunked',
      method,
      path,
      token,
      body: chunked(),
      contentType: 'application/json',
      field: 'body',
    },
  ]

  it('POST /v1/auth/login', async () => {
    const { challenge } = pkcePair()
    const ok = { redirect_uri: LOOPBACK_REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' }
    const p = '/v1/auth/login'
    const t = 'none' as const
    await run([
      {
        what: 'missing redirect_uri',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, redirect_uri: undefined },
        field: 'redirect_uri',
      },
      {
        what: 'missing code_challenge',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code_challenge: undefined },
        field: 'code_challenge',
      },
      {
        what: 'redirect_uri a number',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, redirect_uri: 5 },
        field: 'redirect_uri',
      },
      {
        what: 'redirect_uri too long',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, redirect_uri: `${LOOPBACK_REDIRECT}${big(2100)}` },
        field: 'redirect_uri',
      },
      {
        what: 'code_challenge too short',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code_challenge: 'abc' },
        field: 'code_challenge',
      },
      {
        what: 'code_challenge too long',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code_challenge: big(129) },
        field: 'code_challenge',
      },
      {
        what: 'code_challenge not base64url',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code_challenge: `${big(42)}+/=` },
        field: 'code_challenge',
      },
      {
        what: 'code_challenge_method a number',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code_challenge_method: 256 },
        field: 'code_challenge_method',
      },
      {
        what: 'issuer too long',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, issuer: big(200) },
        field: 'issuer',
      },
      {
        what: 'an unknown field',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, scope: 'admin' },
        field: 'scope',
      },
      {
        what: 'an unknown query parameter',
        method: 'POST',
        path: p,
        token: t,
        json: ok,
        query: { prompt: 'none' },
        field: 'prompt',
      },
      ...bodyCases('POST', p, t),
    ])
  })

  it('POST /v1/auth/callback', async () => {
    const ok = { code: 'abc', state: 'def', code_verifier: pkcePair().verifier }
    const p = '/v1/auth/callback'
    const t = 'none' as const
    await run([
      {
        what: 'missing code',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code: undefined },
        field: 'code',
      },
      {
        what: 'missing state',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, state: undefined },
        field: 'state',
      },
      {
        what: 'missing code_verifier',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code_verifier: undefined },
        field: 'code_verifier',
      },
      { what: 'code a number', method: 'POST', path: p, token: t, json: { ...ok, code: 1 }, field: 'code' },
      { what: 'empty code', method: 'POST', path: p, token: t, json: { ...ok, code: '' }, field: 'code' },
      {
        what: 'state too long',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, state: big(257) },
        field: 'state',
      },
      {
        what: 'code_verifier too long',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code_verifier: big(129) },
        field: 'code_verifier',
      },
      {
        what: 'code_verifier not base64url',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, code_verifier: `${big(50)}~.` },
        field: 'code_verifier',
      },
      {
        what: 'an unknown field',
        method: 'POST',
        path: p,
        token: t,
        json: { ...ok, nonce: 'n' },
        field: 'nonce',
      },
      ...bodyCases('POST', p, t),
    ])
  })

  it('POST /v1/auth/logout, and the session survives every refused logout', async () => {
    const p = '/v1/auth/logout'
    await run([
      { what: 'an unknown field', method: 'POST', path: p, json: { everywhere: true }, field: 'everywhere' },
      { what: 'wait=now', method: 'POST', path: p, json: {}, query: { wait: 'now' }, field: 'wait' },
      {
        what: 'timeout_ms=0',
        method: 'POST',
        path: p,
        json: {},
        query: { wait: 'enforced', timeout_ms: '0' },
        field: 'timeout_ms',
      },
      {
        what: 'timeout_ms=soon',
        method: 'POST',
        path: p,
        json: {},
        query: { timeout_ms: 'soon' },
        field: 'timeout_ms',
      },
      {
        what: 'timeout_ms too large',
        method: 'POST',
        path: p,
        json: {},
        query: { timeout_ms: '60001' },
        field: 'timeout_ms',
      },
      {
        what: 'an unknown query parameter',
        method: 'POST',
        path: p,
        json: {},
        query: { all: '1' },
        field: 'all',
      },
      ...bodyCases('POST', p, 'session'),
    ])
    assert.equal((await http(cp.url, 'GET', '/v1/me', { token: user.sessionToken })).status, 200)
  })

  it('GET /v1/me and GET /.well-known/jwks.json refuse unknown query parameters', async () => {
    await run([
      {
        what: 'an unknown query parameter',
        method: 'GET',
        path: '/v1/me',
        query: { expand: 'all' },
        field: 'expand',
      },
      {
        what: 'an unknown query parameter',
        method: 'GET',
        path: '/.well-known/jwks.json',
        token: 'none',
        query: { kid: 'x' },
        field: 'kid',
      },
    ])
  })

  it('POST /v1/me/keys, and no key is issued', async () => {
    const before = (await user.client.me.listKeys()).keys
    const p = '/v1/me/keys'
    await run([
      { what: 'missing name', method: 'POST', path: p, json: {}, field: 'name' },
      { what: 'empty name', method: 'POST', path: p, json: { name: '' }, field: 'name' },
      { what: 'blank name', method: 'POST', path: p, json: { name: '   ' }, field: 'name' },
      { what: 'name too long', method: 'POST', path: p, json: { name: big(129) }, field: 'name' },
      { what: 'name a number', method: 'POST', path: p, json: { name: 5 }, field: 'name' },
      { what: 'name an object', method: 'POST', path: p, json: { name: { en: 'x' } }, field: 'name' },
      {
        what: 'an unknown type',
        method: 'POST',
        path: p,
        json: { name: 'x', type: 'KEY_TYPE_ROOT' },
        field: 'type',
      },
      { what: 'type a number', method: 'POST', path: p, json: { name: 'x', type: 1 }, field: 'type' },
      {
        what: 'empty idempotency_key',
        method: 'POST',
        path: p,
        json: { name: 'x', idempotency_key: '' },
        field: 'idempotency_key',
      },
      {
        what: 'idempotency_key too long',
        method: 'POST',
        path: p,
        json: { name: 'x', idempotency_key: big(129) },
        field: 'idempotency_key',
      },
      {
        what: 'idempotency_key a number',
        method: 'POST',
        path: p,
        json: { name: 'x', idempotency_key: 7 },
        field: 'idempotency_key',
      },
      {
        what: 'an unknown field',
        method: 'POST',
        path: p,
        json: { name: 'x', secret: 'mine' },
        field: 'secret',
      },
      {
        what: '__proto__',
        method: 'POST',
        path: p,
        body: '{"name":"x","__proto__":{"type":"KEY_TYPE_ADMIN"}}',
        field: '__proto__',
      },
      {
        what: 'an unknown query parameter',
        method: 'POST',
        path: p,
        json: { name: 'x' },
        query: { type: 'admin' },
        field: 'type',
      },
      ...bodyCases('POST', p, 'session'),
    ])
    assert.deepEqual((await user.client.me.listKeys()).keys, before)
  })

  it('GET /v1/me/keys refuses bad paging values', async () => {
    const p = '/v1/me/keys'
    const cases: Case[] = []
    for (const v of ['0', '-1', '1.5', 'ten', '1001', '1e9']) {
      cases.push({
        what: `page_size=${v}`,
        method: 'GET',
        path: p,
        query: { page_size: v },
        field: 'page_size',
      })
    }
    for (const v of [
      'garbage',
      'a.b',
      big(1025),
      'eyJrIjoiYXBpLWtleXMiLCJwIjp7ImFmdGVyIjoiIn19.AAAAAAAAAAAAAAAAAAAAAA',
    ]) {
      cases.push({
        what: `page_token=${v.slice(0, 20)}`,
        method: 'GET',
        path: p,
        query: { page_token: v },
        field: 'page_token',
      })
    }
    cases.push({
      what: 'an unknown query parameter',
      method: 'GET',
      path: p,
      query: { limit: '5' },
      field: 'limit',
    })
    await run(cases)
  })

  it('DELETE /v1/me/keys/{key_id}, and the key is not revoked', async () => {
    const cases: Case[] = []
    for (const id of [
      'abc',
      'key_123',
      'usr_01HZZZZZZZZZZZZZZZZZZZZZZZ',
      keyId.toLowerCase(),
      `${keyId}0`,
      `${keyId.slice(0, -1)}U`,
      '%00',
      '%E0%A4%A',
      `${keyId}%20`,
    ]) {
      cases.push({ what: `id ${id}`, method: 'DELETE', path: `/v1/me/keys/${id}`, field: 'key_id' })
    }
    const p = `/v1/me/keys/${keyId}`
    cases.push(
      { what: 'wait=yes', method: 'DELETE', path: p, query: { wait: 'yes' }, field: 'wait' },
      {
        what: 'timeout_ms=0',
        method: 'DELETE',
        path: p,
        query: { wait: 'enforced', timeout_ms: '0' },
        field: 'timeout_ms',
      },
      { what: 'timeout_ms=-5', method: 'DELETE', path: p, query: { timeout_ms: '-5' }, field: 'timeout_ms' },
      {
        what: 'an unknown query parameter',
        method: 'DELETE',
        path: p,
        query: { force: 'true' },
        field: 'force',
      },
    )
    await run(cases)
    assert.equal(
      (await http(cp.url, 'GET', '/v1/me', { token: keySecret })).status,
      200,
      'the key still works',
    )
    const listed = (await user.client.me.listKeys()).keys.find((k) => k.id === keyId)
    assert.equal(listed?.state, 'KEY_STATE_ACTIVE')
  })

  it('GET /v1/tokens/revocations refuses bad since and limit', async () => {
    const p = '/v1/tokens/revocations'
    await run([
      {
        what: 'since not a timestamp',
        method: 'GET',
        path: p,
        token: 'admin',
        query: { since: 'now' },
        field: 'since',
      },
      {
        what: 'since Feb 30',
        method: 'GET',
        path: p,
        token: 'admin',
        query: { since: '2026-02-30T00:00:00Z' },
        field: 'since',
      },
      { what: 'limit=0', method: 'GET', path: p, token: 'admin', query: { limit: '0' }, field: 'limit' },
      { what: 'limit=all', method: 'GET', path: p, token: 'admin', query: { limit: 'all' }, field: 'limit' },
    ])
  })

  it('admin: customers and projects', async () => {
    const customer = (await cp.admin.admin.createCustomer('inputs inc')).customer
    const t = 'admin' as const
    const cp1 = '/v1/admin/customers'
    const pp = `/v1/admin/customers/${customer.id}/projects`
    await run([
      { what: 'missing name', method: 'POST', path: cp1, token: t, json: {}, field: 'name' },
      { what: 'name too long', method: 'POST', path: cp1, token: t, json: { name: big(129) }, field: 'name' },
      { what: 'name a number', method: 'POST', path: cp1, token: t, json: { name: 42 }, field: 'name' },
      {
        what: 'an unknown field',
        method: 'POST',
        path: cp1,
        token: t,
        json: { name: 'x', id: 'cust_mine' },
        field: 'id',
      },
      ...bodyCases('POST', cp1, t),
      { what: 'missing name', method: 'POST', path: pp, token: t, json: {}, field: 'name' },
      { what: 'blank name', method: 'POST', path: pp, token: t, json: { name: ' ' }, field: 'name' },
      {
        what: 'an unknown field',
        method: 'POST',
        path: pp,
        token: t,
        json: { name: 'x', owner: 'me' },
        field: 'owner',
      },
      ...bodyCases('POST', pp, t),
      {
        what: 'a customer name for an id',
        method: 'POST',
        path: '/v1/admin/customers/acme/projects',
        token: t,
        json: { name: 'x' },
        field: 'customer_id',
      },
      {
        what: 'a malformed customer id',
        method: 'POST',
        path: '/v1/admin/customers/cust_123/projects',
        token: t,
        json: { name: 'x' },
        field: 'customer_id',
      },
      {
        what: 'a project id for a customer id',
        method: 'POST',
        path: `/v1/admin/customers/${user.projectId}/projects`,
        token: t,
        json: { name: 'x' },
        field: 'customer_id',
      },
    ])
  })

  it('admin: members, and memberships are unchanged', async () => {
    const before = (await user.client.me.get()).identity.memberships
    const t = 'admin' as const
    const base = `/v1/admin/customers/${user.customerId}/projects/${user.projectId}/members`
    const ok = `${base}/${user.identityId}`
    const cases: Case[] = []
    for (const method of ['PUT', 'DELETE']) {
      const json = method === 'PUT' ? { role: 'member' } : undefined
      cases.push(
        { what: 'identity id malformed', method, path: `${base}/bob`, token: t, json, field: 'identity_id' },
        {
          what: 'identity id of a key',
          method,
          path: `${base}/${keyId}`,
          token: t,
          json,
          field: 'identity_id',
        },
        {
          what: 'project id malformed',
          method,
          path: `/v1/admin/customers/${user.customerId}/projects/proj_x/members/${user.identityId}`,
          token: t,
          json,
          field: 'project_id',
        },
        {
          what: 'customer id malformed',
          method,
          path: `/v1/admin/customers/x/projects/${user.projectId}/members/${user.identityId}`,
          token: t,
          json,
          field: 'customer_id',
        },
      )
    }
    cases.push(
      { what: 'role admin', method: 'PUT', path: ok, token: t, json: { role: 'admin' }, field: 'role' },
      { what: 'missing role', method: 'PUT', path: ok, token: t, json: {}, field: 'role' },
      { what: 'role a number', method: 'PUT', path: ok, token: t, json: { role: 1 }, field: 'role' },
      {
        what: 'an unknown field',
        method: 'PUT',
        path: ok,
        token: t,
        json: { role: 'member', admin: true },
        field: 'admin',
      },
      {
        what: 'an unknown query parameter',
        method: 'DELETE',
        path: ok,
        token: t,
        query: { cascade: '1' },
        field: 'cascade',
      },
      ...bodyCases('PUT', ok, t),
    )
    await run(cases)
    assert.deepEqual((await user.client.me.get()).identity.memberships, before)
  })

  it('admin: identities, keys, dataplanes and signing-key rotation', async () => {
    const t = 'admin' as const
    const jwksBefore = (await http(cp.url, 'GET', '/.well-known/jwks.json')).body
    await run([
      {
        what: 'email too long',
        method: 'GET',
        path: '/v1/admin/identities',
        token: t,
        query: { email: `${big(320)}@x` },
        field: 'email',
      },
      {
        what: 'an unknown query parameter',
        method: 'GET',
        path: '/v1/admin/identities',
        token: t,
        query: { name: 'x' },
        field: 'name',
      },
      {
        what: 'missing type',
        method: 'POST',
        path: '/v1/admin/keys',
        token: t,
        json: { name: 'dp' },
        field: 'type',
      },
      {
        // A prompt key acts as an existing identity: none is created for it.
        what: 'a prompt type without identity_id',
        method: 'POST',
        path: '/v1/admin/keys',
        token: t,
        json: { name: 'dp', type: 'KEY_TYPE_PROMPT' },
        field: 'identity_id',
      },
      {
        what: 'missing name',
        method: 'POST',
        path: '/v1/admin/keys',
        token: t,
        json: { type: 'KEY_TYPE_DATAPLANE' },
        field: 'name',
      },
      {
        what: 'identity_id malformed',
        method: 'POST',
        path: '/v1/admin/keys',
        token: t,
        json: { name: 'dp', type: 'KEY_TYPE_DATAPLANE', identity_id: 'alice' },
        field: 'identity_id',
      },
      {
        what: 'an unknown field',
        method: 'POST',
        path: '/v1/admin/keys',
        token: t,
        json: { name: 'dp', type: 'KEY_TYPE_DATAPLANE', scope: 'all' },
        field: 'scope',
      },
      ...bodyCases('POST', '/v1/admin/keys', t),
      {
        what: 'an unknown query parameter',
        method: 'GET',
        path: '/v1/admin/dataplanes',
        token: t,
        query: { all: '1' },
        field: 'all',
      },
      {
        what: 'negative delay',
        method: 'POST',
        path: '/v1/admin/signing-keys/rotate',
        token: t,
        json: { activate_after_ms: -1 },
        field: 'activate_after_ms',
      },
      {
        what: 'fractional delay',
        method: 'POST',
        path: '/v1/admin/signing-keys/rotate',
        token: t,
        json: { activate_after_ms: 1.5 },
        field: 'activate_after_ms',
      },
      {
        what: 'delay as a string',
        method: 'POST',
        path: '/v1/admin/signing-keys/rotate',
        token: t,
        json: { activate_after_ms: '5' },
        field: 'activate_after_ms',
      },
      {
        what: 'delay over a day',
        method: 'POST',
        path: '/v1/admin/signing-keys/rotate',
        token: t,
        json: { activate_after_ms: 86_400_001 },
        field: 'activate_after_ms',
      },
      {
        what: 'an unknown field',
        method: 'POST',
        path: '/v1/admin/signing-keys/rotate',
        token: t,
        json: { alg: 'HS256' },
        field: 'alg',
      },
      ...bodyCases('POST', '/v1/admin/signing-keys/rotate', t),
    ])
    assert.deepEqual(
      (await http(cp.url, 'GET', '/.well-known/jwks.json')).body,
      jwksBefore,
      'no key was rotated in',
    )
  })

  it('admin: DELETE /v1/admin/keys/{key_id}, and the key is not revoked', async () => {
    const t = 'admin' as const
    await run([
      { what: 'a malformed id', method: 'DELETE', path: '/v1/admin/keys/key_1', token: t, field: 'key_id' },
      {
        what: 'an identity id',
        method: 'DELETE',
        path: `/v1/admin/keys/${user.identityId}`,
        token: t,
        field: 'key_id',
      },
      {
        what: 'wait=maybe',
        method: 'DELETE',
        path: `/v1/admin/keys/${keyId}`,
        token: t,
        query: { wait: 'maybe' },
        field: 'wait',
      },
      {
        what: 'an unknown query parameter',
        method: 'DELETE',
        path: `/v1/admin/keys/${keyId}`,
        token: t,
        query: { reason: 'x' },
        field: 'reason',
      },
    ])
    assert.equal(
      (await http(cp.url, 'GET', '/v1/me', { token: keySecret })).status,
      200,
      'the key still works',
    )
  })

  it('reports every bad field of one request, and never a 500', async () => {
    const res = await http(cp.url, 'POST', '/v1/me/keys', {
      token: user.sessionToken,
      json: { name: '', type: 'nope', idempotency_key: 5, extra: 1 },
    })
    assertError(res, 'invalid_argument')
    const fields = res.body.details.map((d: { field: string }) => d.field).sort()
    assert.deepEqual(fields, ['extra', 'idempotency_key', 'name', 'type'])
    assert.doesNotMatch(cp.process.output(), /unexpected error/)
  })
})
