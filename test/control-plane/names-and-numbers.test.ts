/**
 * Names are text, numbers are decimal, cursors are printable (issue 9, items 9 and 10).
 *
 * Every name, label and identifier a caller chooses refuses terminal escapes (ESC, NUL, DEL, the
 * 8-bit CSI U+009B) and bidirectional overrides (U+202E) with `invalid_argument` naming the field,
 * writing nothing, while an ordinary Unicode name is stored as sent. An IdP's display name has
 * them removed, and an email carrying one is no email (so never an admin's). Every number in a
 * query string is plain decimal digits (`0x10`, `1e2`, `0b11`, ` 5`, `+5`… are refused). A `since`
 * cursor outside what the cursor format prints back (before 1970, past 2255, a five-digit year) is
 * refused naming `since`, and every cursor the API answers with parses back to itself.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { MAX_MICROS, parseMicros } from '../../shared/time.ts'
import { assertRefusedWithoutWrites, type BadInput, json, query } from '../support/bad-input.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, http, tableCounts } from '../support/http.ts'
import { listenToStream } from '../support/stream-listener.ts'

/** What an attacker plants in a name: each must be refused wherever a name goes. */
const HOSTILE: ReadonlyArray<[string, string]> = [
  ['ESC (clear screen)', 'x\u001b[2Jy'],
  ['NUL', 'x\u0000y'],
  ['DEL', 'x\u007fy'],
  ['C1 CSI', 'x\u009b31my'],
  ['right-to-left override', 'invoice\u202Etxt.exe'],
  ['carriage return', 'ok\rEVIL'],
  ['right-to-left isolate', 'x\u2067y'],
]
const UNICODE_NAME = 'Café 東京 🚀'

/** The strict form every cursor and timestamp on the wire takes. */
const WIRE_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

function assertCursor(text: unknown, what: string): void {
  assert.equal(typeof text, 'string', what)
  assert.match(text as string, WIRE_TIMESTAMP, what)
  const micros = parseMicros(text as string)
  assert.ok(micros !== undefined && micros >= 0 && micros <= MAX_MICROS, `${what}: ${text} parses`)
}

/** The upgrade's refusal: status and the contract's JSON error. */
function refusedUpgrade(
  cp: TestControlPlane,
  q: Record<string, string>,
): Promise<{ status: number; body: { code: string; details: Array<{ field?: string }> } }> {
  const url = `${cp.url.replace(/^http/, 'ws')}/v1/tokens/revocations/stream?${new URLSearchParams(q)}`
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${cp.dataplaneKey}` } })
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (c: Buffer) => {
        text += c.toString()
      })
      res.on('end', () => {
        ws.terminate()
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) })
      })
    })
    ws.once('open', () => {
      ws.terminate()
      reject(new Error('the upgrade was accepted'))
    })
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err)
    })
  })
}

describe('names are text, not control sequences', () => {
  let cp: TestControlPlane
  let user: LoginResult

  before(async () => {
    cp = await startControlPlane()
    user = await cp.login('names@example.com')
  })
  after(() => cp?.stop())

  interface NameCase extends BadInput {
    token: 'session' | 'admin' | 'dataplane' | 'none'
  }
  const tokenFor = (c: NameCase): string =>
    ({ session: user.sessionToken, admin: cp.adminKey, dataplane: cp.dataplaneKey, none: '' })[c.token]

  /** Every place a chosen name or label enters the API, with `bad` planted in it. */
  function cases(bad: string, label: string): NameCase[] {
    const enc = encodeURIComponent(bad)
    const secret = { name: 'plain', value: 'v' }
    const c = (
      what: string,
      token: NameCase['token'],
      method: string,
      path: string,
      field: string,
      options: BadInput['options'],
    ): NameCase => ({ what: `${what} with ${label}`, token, method, path, field, options })
    return [
      c('API key name', 'session', 'POST', '/v1/me/keys', 'name', json({ name: bad })),
      c(
        'idempotency key',
        'session',
        'POST',
        '/v1/me/keys',
        'idempotency_key',
        json({ name: 'k', idempotency_key: bad }),
      ),
      c('customer name', 'admin', 'POST', '/v1/admin/customers', 'name', json({ name: bad })),
      c(
        'project name',
        'admin',
        'POST',
        `/v1/admin/customers/${user.customerId}/projects`,
        'name',
        json({ name: bad }),
      ),
      c(
        'admin key name',
        'admin',
        'POST',
        '/v1/admin/keys',
        'name',
        json({ name: bad, type: 'KEY_TYPE_DATAPLANE' }),
      ),
      c(
        'AI key name',
        'session',
        'POST',
        '/v1/customers/-/projects/-/aikeys',
        'name',
        json({ provider: 'openai', name: bad, secret: 'sk-test-1234' }),
      ),
      c(
        'AI key customer segment',
        'session',
        'GET',
        `/v1/customers/${enc}/projects/-/aikeys`,
        'customer_id',
        undefined,
      ),
      c(
        'AI key project segment',
        'session',
        'GET',
        `/v1/customers/-/projects/${enc}/aikeys`,
        'project_id',
        undefined,
      ),
      c('secret name', 'admin', 'POST', '/v1/secrets', 'name', json({ ...secret, name: bad })),
      c('secret realm', 'admin', 'POST', '/v1/secrets', 'realm', json({ ...secret, realm: bad })),
      c('secret owner', 'admin', 'POST', '/v1/secrets', 'user_id', json({ ...secret, user_id: bad })),
      c(
        'secret tag value',
        'admin',
        'POST',
        '/v1/secrets',
        'tags.env',
        json({ ...secret, tags: { env: bad } }),
      ),
      c(
        'secret description',
        'admin',
        'POST',
        '/v1/secrets',
        'description',
        json({ ...secret, description: bad }),
      ),
      c('secret name in the path', 'admin', 'GET', `/v1/secrets/${enc}`, 'name', undefined),
      c(
        'secret name in a rotate path',
        'admin',
        'POST',
        `/v1/secrets/${enc}/rotate`,
        'name',
        json({ new_value: 'v2' }),
      ),
      c('secret owner in the query', 'admin', 'GET', '/v1/secrets', 'user_id', query({ user_id: bad })),
      c('secret tags filter', 'admin', 'GET', '/v1/secrets', 'tags', query({ tags: `env=${bad}` })),
      c('identity email filter', 'admin', 'GET', '/v1/admin/identities', 'email', query({ email: bad })),
      c('login issuer alias', 'none', 'POST', '/v1/auth/login', 'issuer', json({ issuer: bad })),
      c(
        'resolve customer',
        'dataplane',
        'POST',
        '/v1/internal/byok/resolve',
        'customer_id',
        json({ customer_id: bad, identity_id: user.identityId, provider: 'openai' }),
      ),
      c(
        'resolve project',
        'dataplane',
        'POST',
        '/v1/internal/byok/resolve',
        'project_id',
        json({ project_id: bad, identity_id: user.identityId, provider: 'openai' }),
      ),
    ]
  }

  it('refuses every hostile character in every name, label and identifier, writing nothing', async () => {
    const keysBefore = (await user.client.me.listKeys()).keys
    const secretsBefore = (await cp.admin.secret.listSecrets()).secrets
    const aiKeysBefore = (await user.client.aikeys.list('-', '-')).keys
    for (const [label, bad] of HOSTILE) await assertRefusedWithoutWrites(cp, cases(bad, label), tokenFor)
    assert.deepEqual((await user.client.me.listKeys()).keys, keysBefore, 'no API key was issued')
    assert.deepEqual((await cp.admin.secret.listSecrets()).secrets, secretsBefore, 'no secret was written')
    assert.deepEqual((await user.client.aikeys.list('-', '-')).keys, aiKeysBefore, 'no AI key was registered')
  })

  it('names the character it refused, and echoes a hostile key only escaped', async () => {
    const res = await http(cp.url, 'POST', '/v1/me/keys', {
      token: user.sessionToken,
      json: { name: 'a\u001b[2J' },
    })
    assertError(res, 'invalid_argument', 'name')
    assert.match(res.body.message, /U\+001B/)
    const counts = tableCounts(cp.dataDir)
    const tagKey = await http(cp.url, 'POST', '/v1/secrets', {
      token: cp.adminKey,
      json: { name: 'tagged', value: 'v', tags: { '\u001b[2Jenv': 'prod' } },
    })
    assertError(tagKey, 'invalid_argument', 'tags.\\x1b[2Jenv')
    const unknown = await http(cp.url, 'POST', '/v1/me/keys', {
      token: user.sessionToken,
      json: { name: 'k', '\u009b31m': true },
    })
    assertError(unknown, 'invalid_argument', '\\x9b31m')
    for (const [r, raw] of [
      [tagKey, '\u001b'],
      [unknown, '\u009b'],
    ] as const) {
      assert.ok(!r.body.message.includes(raw), 'the message does not echo the raw control character')
      assert.ok(!JSON.stringify(r.body.details).includes(raw), 'nor do the details')
    }
    assert.deepEqual(tableCounts(cp.dataDir), counts)
  })

  it('refuses a hostile dataplane name on the revocation stream, and takes a plain one', async () => {
    for (const [label, bad] of HOSTILE) {
      const refused = await refusedUpgrade(cp, { name: bad })
      assert.equal(refused.status, 400, label)
      assert.equal(refused.body.code, 'invalid_argument', label)
      assert.ok(
        refused.body.details.some((d) => d.field === 'name'),
        label,
      )
    }
    const listener = await listenToStream(cp.url, cp.dataplaneKey, UNICODE_NAME)
    try {
      const { dataplanes } = await cp.admin.admin.listDataplanes()
      assert.ok(
        dataplanes.some((d) => d.name === UNICODE_NAME),
        'the plain Unicode name is kept',
      )
    } finally {
      listener.close()
    }
  })

  it('accepts and keeps an ordinary Unicode name everywhere', async () => {
    const key = await user.client.me.issueKey(UNICODE_NAME)
    assert.equal(key.key.name, UNICODE_NAME)
    assert.ok((await user.client.me.listKeys()).keys.some((k) => k.name === UNICODE_NAME))
    const customer = (await cp.admin.admin.createCustomer(UNICODE_NAME)).customer
    assert.equal(customer.name, UNICODE_NAME)
    const project = (await cp.admin.admin.createProject(customer.id, UNICODE_NAME)).project
    assert.equal(project.name, UNICODE_NAME)
    const aiKey = await user.client.aikeys.register('-', '-', 'openai', UNICODE_NAME, 'sk-test-5678')
    assert.equal(aiKey.key.name, UNICODE_NAME)
    const created = await cp.admin.secret.createSecret({
      name: 'unicode-labels',
      value: 'v',
      description: `${UNICODE_NAME}\nsecond line\twith a tab`,
      tags: { [UNICODE_NAME]: UNICODE_NAME },
    })
    assert.deepEqual(created.secret.tags, { [UNICODE_NAME]: UNICODE_NAME })
    assert.equal(
      created.secret.description,
      `${UNICODE_NAME}\nsecond line\twith a tab`,
      'a description may span lines',
    )
    const found = await http(cp.url, 'GET', '/v1/admin/identities', {
      token: cp.adminKey,
      query: { email: 'names@example.com' },
    })
    assert.equal(found.status, 200, found.text)
  })
})

describe('an identity provider’s profile is made text', () => {
  it('strips control characters from the display name and drops an email that carries one', async () => {
    const { startTestIdp } = await import('../support/test-idp.ts')
    const { pkcePair } = await import('../support/pkce.ts')
    const { Browser } = await import('../support/browser.ts')
    const { LOOPBACK_REDIRECT } = await import('../support/control-plane.ts')
    const idp = await startTestIdp((login) => ({
      // An email that, with the mark stripped, would be the admin's address.
      email: login === 'spoof' ? 'boss@corp.example\u200e' : login,
      email_verified: true,
      name: 'Mallory\u001b]0;owned\u0007 \u202Eevil',
    }))
    const cp = await startControlPlane({
      AGENTROUTER_OIDC_ISSUERS: JSON.stringify([idp.entry('corp')]),
      AGENTROUTER_ADMIN_EMAILS: 'boss@corp.example',
    })
    try {
      const login = async (who: string) => {
        const { verifier, challenge } = pkcePair()
        const started = await http(cp.url, 'POST', '/v1/auth/login', {
          json: { redirect_uri: LOOPBACK_REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' },
        })
        assert.equal(started.status, 200, started.text)
        const redirect = await new Browser().authorize(started.body.authorization_url, LOOPBACK_REDIRECT, who)
        const done = await http(cp.url, 'POST', '/v1/auth/callback', {
          json: { code: redirect.code, state: redirect.state, code_verifier: verifier },
        })
        assert.equal(done.status, 200, done.text)
        return done.body.identity
      }
      const spoof = await login('spoof')
      assert.equal(spoof.name, 'Mallory]0;owned evil', 'the control characters are gone, the text stays')
      assert.equal(spoof.email, '', 'an email with a control character is no email')
      assert.equal(spoof.is_admin, false, 'and never makes an admin')
      const plain = await login('pat@corp.example')
      assert.equal(plain.email, 'pat@corp.example', 'a plain email is kept')
    } finally {
      await cp.stop()
      await idp.close()
    }
  })
})

describe('numbers in query strings are decimal integers', () => {
  let cp: TestControlPlane
  let user: LoginResult

  before(async () => {
    cp = await startControlPlane()
    user = await cp.login('numbers@example.com')
  })
  after(() => cp?.stop())

  const BAD_SPELLINGS = [
    '0x10',
    '1e2',
    '0b11',
    '0o7',
    ' 5',
    '5 ',
    '5.0',
    '+5',
    '-0',
    '-5',
    '010',
    '5abc',
    'Infinity',
    '١٠',
    '9'.repeat(400),
  ]

  it('refuses every other spelling of page_size, limit and timeout_ms, naming the field', async () => {
    const key = await user.client.me.issueKey('numbers-target')
    const cases: Array<BadInput & { token: string }> = []
    const add = (what: string, token: string, method: string, path: string, field: string, value: string) =>
      cases.push({
        what: `${what} ${field}=${JSON.stringify(value)}`,
        token,
        method,
        path,
        field,
        options: query({ [field]: value }),
      })
    for (const v of [...BAD_SPELLINGS, '0', '1001']) {
      add('my keys', user.sessionToken, 'GET', '/v1/me/keys', 'page_size', v)
      add('secrets', cp.adminKey, 'GET', '/v1/secrets', 'page_size', v)
    }
    for (const v of [...BAD_SPELLINGS, '0', '100001']) {
      add('revocations', cp.adminKey, 'GET', '/v1/tokens/revocations', 'limit', v)
    }
    for (const v of [...BAD_SPELLINGS, '0', '60001']) {
      add('revoke', user.sessionToken, 'DELETE', `/v1/me/keys/${key.key.id}`, 'timeout_ms', v)
    }
    await assertRefusedWithoutWrites(cp, cases, (c) => c.token)
    const still = (await user.client.me.listKeys()).keys.find((k) => k.id === key.key.id)
    assert.equal(still?.state, 'KEY_STATE_ACTIVE', 'no refused revoke revoked the key')
  })

  it('accepts 10, and an empty value as absent', async () => {
    for (let i = 0; i < 12; i++) await user.client.me.issueKey(`page-${i}`)
    const page = await http(cp.url, 'GET', '/v1/me/keys', {
      token: user.sessionToken,
      query: { page_size: '10' },
    })
    assert.equal(page.status, 200, page.text)
    assert.equal(page.body.keys.length, 10)
    const bare = await http(cp.url, 'GET', '/v1/me/keys', {
      token: user.sessionToken,
      query: { page_size: '' },
    })
    assert.equal(bare.status, 200, bare.text)
    assert.equal(bare.body.keys.length, 13, 'the default page holds them all')
    for (const [path, field] of [
      ['/v1/secrets', 'page_size'],
      ['/v1/tokens/revocations', 'limit'],
    ] as const) {
      const ok = await http(cp.url, 'GET', path, { token: cp.adminKey, query: { [field]: '10' } })
      assert.equal(ok.status, 200, ok.text)
    }
    const revoke = await http(cp.url, 'DELETE', `/v1/me/keys/${page.body.keys[0].id}`, {
      token: user.sessionToken,
      query: { wait: 'enforced', timeout_ms: '10' },
    })
    assert.equal(revoke.status, 200, revoke.text)
  })
})

describe('cursors are RFC 3339 the format can print back', () => {
  let cp: TestControlPlane
  let user: LoginResult

  before(async () => {
    cp = await startControlPlane()
    user = await cp.login('cursors@example.com')
  })
  after(() => cp?.stop())

  const UNPRINTABLE_SINCE = [
    '10000-01-01T00:00:00Z',
    '+010000-01-01T00:00:00Z',
    '-000001-01-01T00:00:00Z',
    '0000-00-00T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '1969-12-31T23:59:59.999999Z',
    '1970-01-01T00:30:00+01:00',
    '9999-12-31T23:59:59Z',
    '2255-06-05T23:47:34.740992Z',
    '2255-06-05T23:47:34.740991-00:01',
  ]

  it('refuses a since outside what the cursor format prints, on the list and the stream', async () => {
    await assertRefusedWithoutWrites(
      cp,
      UNPRINTABLE_SINCE.map((since) => ({
        what: `since=${since}`,
        method: 'GET',
        path: '/v1/tokens/revocations',
        field: 'since',
        options: query({ since }),
      })),
      () => cp.adminKey,
    )
    for (const since of UNPRINTABLE_SINCE) {
      const refused = await refusedUpgrade(cp, { since })
      assert.equal(refused.status, 400, since)
      assert.equal(refused.body.code, 'invalid_argument', since)
      assert.ok(
        refused.body.details.some((d) => d.field === 'since'),
        since,
      )
    }
  })

  it('takes the ends of the range, and answers with cursors that round-trip', async () => {
    for (const key of ['a', 'b', 'c']) {
      const issued = await user.client.me.issueKey(`cursor-${key}`)
      await user.client.me.revokeKey(issued.key.id)
    }
    const all = await http(cp.url, 'GET', '/v1/tokens/revocations', {
      token: cp.adminKey,
      query: { since: '1970-01-01T00:00:00Z' },
    })
    assert.equal(all.status, 200, all.text)
    assert.ok(all.body.revocations.length >= 3)
    assertCursor(all.body.snapshot_at, 'snapshot_at')
    for (const r of all.body.revocations) {
      assertCursor(r.revoked_at, 'revoked_at')
      assertCursor(r.expires_at, 'expires_at')
    }
    // Page by page with limit=1: each snapshot_at is the next since, and nothing repeats.
    const seen: string[] = []
    let since = '1970-01-01T00:00:00.000000Z'
    for (;;) {
      const page = await http(cp.url, 'GET', '/v1/tokens/revocations', {
        token: cp.adminKey,
        query: { since, limit: '1' },
      })
      assert.equal(page.status, 200, page.text)
      assertCursor(page.body.snapshot_at, 'snapshot_at')
      if (page.body.revocations.length === 0) {
        assert.equal(page.body.snapshot_at, since, 'an empty page answers the since it was given')
        break
      }
      seen.push(page.body.revocations[0].jti)
      since = page.body.snapshot_at
    }
    assert.deepEqual(
      seen,
      all.body.revocations.map((r: { jti: string }) => r.jti),
    )
    const end = await http(cp.url, 'GET', '/v1/tokens/revocations', {
      token: cp.adminKey,
      query: { since: '2255-06-05T23:47:34.740991Z' },
    })
    assert.equal(end.status, 200, end.text)
    assert.equal(
      end.body.snapshot_at,
      '2255-06-05T23:47:34.740991Z',
      'the last printable cursor prints as itself',
    )
    assert.equal(end.body.revocations.length, 0)
  })

  it('never prints a cursor a dataplane acknowledged outside the range', async () => {
    const listener = await listenToStream(cp.url, cp.dataplaneKey, 'acks')
    const ws = new WebSocket(`${cp.url.replace(/^http/, 'ws')}/v1/tokens/revocations/stream?name=liar`, {
      headers: { authorization: `Bearer ${cp.dataplaneKey}` },
    })
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      for (const cursor of ['1969-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '10000-01-01T00:00:00Z']) {
        ws.send(JSON.stringify({ type: 'ack', cursor }))
      }
      const issued = await user.client.me.issueKey('acked')
      const revoked = await http(cp.url, 'DELETE', `/v1/me/keys/${issued.key.id}`, {
        token: user.sessionToken,
        query: { wait: 'enforced', timeout_ms: '200' },
      })
      assert.equal(revoked.status, 200, revoked.text)
      assertCursor(revoked.body.enforcement.cursor, 'enforcement.cursor')
      const { head_cursor, dataplanes } = await cp.admin.admin.listDataplanes()
      assertCursor(head_cursor, 'head_cursor')
      assert.ok(dataplanes.some((d) => d.name === 'liar'))
      for (const d of dataplanes) {
        assertCursor(d.applied_cursor, `${d.name} applied_cursor`)
        assertCursor(d.connected_at, `${d.name} connected_at`)
        assertCursor(d.last_contact_at, `${d.name} last_contact_at`)
      }
    } finally {
      ws.terminate()
      listener.close()
    }
  })
})
