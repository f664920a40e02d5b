/**
 * Cross-site request forgery against the control plane, with real session cookies from the
 * development IdP. A foreign page's `fetch(url, {method: 'POST', mode: 'no-cors', credentials:
 * 'include', body})` arrives with the victim's cookie, `Origin: <the page>`, `Sec-Fetch-Site:
 * cross-site` and a `text/plain` body (or no Content-Type at all): it must not issue keys, plant
 * an AI key or rotate the signing key. The dashboard on the control plane's own origin, an origin
 * in AGENTROUTER_ALLOWED_ORIGINS, and bearer callers keep working. The revocation stream takes no
 * cookie at all.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { WebSocket } from 'ws'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, type HttpResult, http, tableCounts } from '../support/http.ts'

const EVIL = 'https://evil.example'
const DASHBOARD = 'http://dashboard.test:3000'
const ADMIN_EMAIL = 'csrf-root@example.com'

interface Sent {
  cookie?: string
  token?: string
  origin?: string
  site?: string
  contentType?: string
  body?: string
}

/**
 * Exactly the headers given, nothing added (fetch would add a Content-Type to a string body and
 * may refuse to set Origin): what a browser sends is spelled out by each test.
 */
function send(baseUrl: string, method: string, path: string, s: Sent): Promise<HttpResult> {
  const headers: Record<string, string> = {}
  if (s.cookie) headers.cookie = `agentrouter_session=${s.cookie}`
  if (s.token) headers.authorization = `Bearer ${s.token}`
  if (s.origin !== undefined) headers.origin = s.origin
  if (s.site !== undefined) headers['sec-fetch-site'] = s.site
  if (s.contentType !== undefined) headers['content-type'] = s.contentType
  if (s.body !== undefined) headers['content-length'] = String(Buffer.byteLength(s.body))
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { method, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('end', () => {
        let body: unknown
        try {
          body = text ? JSON.parse(text) : undefined
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: new Headers(), text, body })
      })
    })
    req.on('error', reject)
    req.end(s.body)
  })
}

/** The three shapes a no-cors fetch can take: a text body, a typeless Blob body, no body. */
const NO_CORS_SHAPES: Array<{ what: string; contentType?: string; body?: string }> = [
  { what: 'text/plain body', contentType: 'text/plain;charset=UTF-8' },
  { what: 'body without a Content-Type' },
  { what: 'no body at all', body: '' },
]

describe('CSRF: cookie-authenticated requests from other origins', () => {
  let cp: TestControlPlane
  let user: LoginResult
  let root: LoginResult
  let aikeysPath: string

  before(async () => {
    cp = await startControlPlane({
      AGENTROUTER_ALLOWED_ORIGINS: `${DASHBOARD}, https://other.test`,
      AGENTROUTER_ADMIN_EMAILS: ADMIN_EMAIL,
    })
    user = await cp.login('csrf-victim@example.com')
    root = await cp.login(ADMIN_EMAIL)
    aikeysPath = `/v1/customers/${user.customerId}/projects/${user.projectId}/aikeys`
  })
  after(() => cp?.stop())

  const keyNames = async () => (await user.client.me.listKeys()).keys.map((k) => k.name).sort()
  const aiKeyIds = async () =>
    (await user.client.aikeys.list(user.customerId, user.projectId)).keys.map((k) => k.id).sort()
  const jwksKids = async () => {
    const { body } = await http(cp.url, 'GET', '/.well-known/jwks.json')
    return (body.keys as Array<{ kid: string }>).map((k) => k.kid).sort()
  }
  /** Everything the attacks aim at, and every table's row count. */
  const snapshot = async () => ({
    keys: await keyNames(),
    aiKeys: await aiKeyIds(),
    jwks: await jwksKids(),
    rows: tableCounts(cp.dataDir),
  })

  const attacks = () => [
    {
      what: 'issue an API key',
      path: '/v1/me/keys',
      cookie: user.sessionToken,
      json: JSON.stringify({ name: 'planted-by-evil' }),
    },
    {
      what: 'plant an AI key',
      path: aikeysPath,
      cookie: user.sessionToken,
      json: JSON.stringify({ provider: 'openai', name: 'evil-ai-key', secret: 'sk-attacker-0000' }),
    },
    {
      what: "rotate the signing key with an admin's cookie",
      path: '/v1/admin/signing-keys/rotate',
      cookie: root.sessionToken,
      json: '{}',
    },
    {
      what: "create a service account (an identity that gets keys) with an admin's cookie",
      path: '/v1/admin/service-accounts',
      cookie: root.sessionToken,
      json: JSON.stringify({
        name: 'evil-robot',
        customer_id: user.customerId,
        project_id: user.projectId,
        role: 'owner',
      }),
    },
  ]

  it('refuses the no-cors attacks (issue a key, plant an AI key, rotate the signing key): permission_denied naming Origin, nothing written', async () => {
    const before = await snapshot()
    for (const attack of attacks()) {
      for (const shape of NO_CORS_SHAPES) {
        const label = `${attack.what}, ${shape.what}`
        const res = await send(cp.url, 'POST', attack.path, {
          cookie: attack.cookie,
          origin: EVIL,
          site: 'cross-site',
          ...(shape.contentType !== undefined ? { contentType: shape.contentType } : {}),
          body: shape.body ?? attack.json,
        })
        assertError(res, 'permission_denied', 'Origin', label)
        assert.ok(res.body.message.includes(EVIL), `${label}: the message names the origin`)
      }
    }
    assert.deepEqual(await snapshot(), before, 'no key, no AI key, no signing key, no row')
  })

  it('refuses a foreign Origin even with a JSON body (and without Sec-Fetch-Site), and Origin: null', async () => {
    const before = await snapshot()
    for (const attack of attacks()) {
      for (const origin of [EVIL, 'null', `${cp.url}.evil.example`, cp.url.replace('http:', 'https:')]) {
        const res = await send(cp.url, 'POST', attack.path, {
          cookie: attack.cookie,
          origin,
          contentType: 'application/json',
          body: attack.json,
        })
        assertError(res, 'permission_denied', 'Origin', `${attack.what} from ${origin}`)
      }
    }
    assert.deepEqual(await snapshot(), before)
  })

  it('refuses Sec-Fetch-Site: cross-site without an allowed Origin, and a cookie request with neither header', async () => {
    const before = await snapshot()
    for (const attack of attacks()) {
      const cases: Sent[] = [
        { site: 'cross-site' },
        { site: 'same-site' },
        {},
        // The control plane's own origin claimed, but the browser says the page is cross-site.
        { origin: cp.url, site: 'cross-site' },
      ]
      for (const extra of cases) {
        const res = await send(cp.url, 'POST', attack.path, {
          cookie: attack.cookie,
          contentType: 'application/json',
          body: attack.json,
          ...extra,
        })
        assertError(res, 'permission_denied', 'Origin', `${attack.what} ${JSON.stringify(extra)}`)
      }
    }
    // DELETE is as unsafe as POST: revoking the victim's key from a foreign page is refused too.
    const { key } = await user.client.me.issueKey('kept')
    const revoke = await send(cp.url, 'DELETE', `/v1/me/keys/${key.id}`, {
      cookie: user.sessionToken,
      origin: EVIL,
      site: 'cross-site',
    })
    assertError(revoke, 'permission_denied', 'Origin')
    const kept = (await user.client.me.listKeys()).keys.find((k) => k.id === key.id)
    assert.equal(kept?.revoked_at, undefined, 'the key is not revoked')
    await user.client.me.revokeKey(key.id)
    assert.deepEqual((await snapshot()).aiKeys, before.aiKeys)
    assert.deepEqual((await snapshot()).jwks, before.jwks)
  })

  it('accepts the dashboard on its own origin: issues a key, registers an AI key, rotates the signing key', async () => {
    const sameOrigin = { origin: cp.url, site: 'same-origin', contentType: 'application/json' }
    const issued = await send(cp.url, 'POST', '/v1/me/keys', {
      ...sameOrigin,
      cookie: user.sessionToken,
      body: JSON.stringify({ name: 'from-the-dashboard' }),
    })
    assert.equal(issued.status, 200, issued.text)
    assert.ok((await keyNames()).includes('from-the-dashboard'))

    const registered = await send(cp.url, 'POST', aikeysPath, {
      ...sameOrigin,
      cookie: user.sessionToken,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ provider: 'openai', name: 'dashboard-ai-key', secret: 'sk-dashboard-1234' }),
    })
    assert.equal(registered.status, 200, registered.text)
    assert.ok((await aiKeyIds()).includes(registered.body.key.id))

    const kids = await jwksKids()
    const rotated = await send(cp.url, 'POST', '/v1/admin/signing-keys/rotate', {
      ...sameOrigin,
      cookie: root.sessionToken,
      body: '{}',
    })
    assert.equal(rotated.status, 200, rotated.text)
    const published = await jwksKids()
    assert.equal(published.filter((kid) => !kids.includes(kid)).length, 1, 'a new signing key is published')

    // A same-origin browser that sends Sec-Fetch-Site but (unusually) no Origin.
    const noOrigin = await send(cp.url, 'POST', '/v1/me/keys', {
      cookie: user.sessionToken,
      site: 'same-origin',
      contentType: 'application/json',
      body: JSON.stringify({ name: 'same-origin-no-origin' }),
    })
    assert.equal(noOrigin.status, 200, noOrigin.text)

    // Logout through the cookie, as the dashboard does it, works and clears the cookie.
    const session = await cp.login('csrf-logout@example.com')
    const out = await send(cp.url, 'POST', '/v1/auth/logout', {
      ...sameOrigin,
      cookie: session.sessionToken,
      body: '{}',
    })
    assert.equal(out.status, 200, out.text)
  })

  it('accepts an origin listed in AGENTROUTER_ALLOWED_ORIGINS, whatever Sec-Fetch-Site says', async () => {
    for (const site of ['same-site', 'cross-site']) {
      const res = await send(cp.url, 'POST', '/v1/me/keys', {
        cookie: user.sessionToken,
        origin: DASHBOARD,
        site,
        contentType: 'application/json',
        body: JSON.stringify({ name: `allowed-${site}` }),
      })
      assert.equal(res.status, 200, res.text)
    }
    const names = await keyNames()
    assert.ok(names.includes('allowed-same-site') && names.includes('allowed-cross-site'))
    // Only the listed origin: another port on the same host is foreign.
    const otherPort = await send(cp.url, 'POST', '/v1/me/keys', {
      cookie: user.sessionToken,
      origin: 'http://dashboard.test:3001',
      contentType: 'application/json',
      body: JSON.stringify({ name: 'other-port' }),
    })
    assertError(otherPort, 'permission_denied', 'Origin')
    assert.ok(!(await keyNames()).includes('other-port'))
  })

  it('leaves bearer callers alone: no Origin needed, and a foreign Origin does not matter', async () => {
    for (const origin of [undefined, EVIL]) {
      const name = `bearer-${origin ? 'foreign' : 'plain'}`
      const res = await send(cp.url, 'POST', '/v1/me/keys', {
        token: user.sessionToken,
        ...(origin ? { origin, site: 'cross-site' } : {}),
        contentType: 'application/json',
        body: JSON.stringify({ name }),
      })
      assert.equal(res.status, 200, res.text)
      assert.ok((await keyNames()).includes(name))
    }
    // The admin API key, as a program sends it: no Origin, JSON.
    const kids = await jwksKids()
    const rotated = await send(cp.url, 'POST', '/v1/admin/signing-keys/rotate', {
      token: cp.adminKey,
      contentType: 'application/json',
      body: '{}',
    })
    assert.equal(rotated.status, 200, rotated.text)
    // A new key is published (a pending key that never signed leaves the JWKS as it does).
    const after = await jwksKids()
    assert.equal(after.filter((kid) => !kids.includes(kid)).length, 1)
  })

  it('requires Content-Type: application/json on every body, bearer callers included: invalid_argument naming Content-Type, nothing written', async () => {
    const before = tableCounts(cp.dataDir)
    const body = JSON.stringify({ name: 'typeless' })
    const cases: Array<{ what: string; contentType?: string; body?: string }> = [
      { what: 'text/plain', contentType: 'text/plain;charset=UTF-8', body },
      { what: 'a form', contentType: 'application/x-www-form-urlencoded', body: 'name=typeless' },
      { what: 'multipart', contentType: 'multipart/form-data; boundary=x', body },
      { what: 'no Content-Type', body },
      { what: 'a JSON look-alike', contentType: 'application/jsonx', body },
      { what: 'text/plain, empty body', contentType: 'text/plain', body: '' },
    ]
    for (const c of cases) {
      const res = await send(cp.url, 'POST', '/v1/me/keys', {
        token: user.sessionToken,
        ...(c.contentType !== undefined ? { contentType: c.contentType } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
      })
      assertError(res, 'invalid_argument', 'Content-Type', c.what)
    }
    assert.deepEqual(tableCounts(cp.dataDir), before)
    assert.ok(!(await keyNames()).includes('typeless'))

    // What the CLI and the SDK send: JSON with a charset, or no body and no type at all.
    const ok = await send(cp.url, 'POST', '/v1/me/keys', {
      token: user.sessionToken,
      contentType: 'Application/JSON; charset=utf-8',
      body,
    })
    assert.equal(ok.status, 200, ok.text)
    const { key } = await user.client.me.issueKey('revoked without a body')
    const revoked = await send(cp.url, 'DELETE', `/v1/me/keys/${key.id}`, { token: user.sessionToken })
    assert.equal(revoked.status, 200, revoked.text)
  })

  it('refuses the revocation stream to a cookie (even an admin’s), and opens it to the dataplane key', async () => {
    const upgrade = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const ws = new WebSocket(`${cp.url.replace(/^http/, 'ws')}/v1/tokens/revocations/stream`, {
          headers,
        })
        ws.once('unexpected-response', (_req, res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            body += chunk
          })
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body })
            ws.terminate()
          })
        })
        ws.once('open', () => {
          ws.terminate()
          resolve({ status: 101, body: '' })
        })
        ws.once('error', (err) => {
          if (!/Unexpected server response/.test(err.message)) reject(err)
        })
      })
    for (const session of [root.sessionToken, user.sessionToken]) {
      for (const origin of [cp.url, EVIL]) {
        const refused = await upgrade({ cookie: `agentrouter_session=${session}`, origin })
        assert.equal(refused.status, 401, refused.body)
        assert.equal(JSON.parse(refused.body).code, 'unauthenticated')
      }
    }
    assert.equal((await upgrade({ authorization: `Bearer ${cp.dataplaneKey}` })).status, 101)
    assert.equal((await upgrade({ authorization: `Bearer ${cp.adminKey}` })).status, 101)
  })
})

describe('CSRF: the own origin comes from AGENTROUTER_PUBLIC_URL when it is set', () => {
  let cp: TestControlPlane
  let user: LoginResult
  const PUBLIC = 'https://cp.example.test'

  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_PUBLIC_URL: `${PUBLIC}/` })
    user = await cp.login('csrf-public@example.com')
  })
  after(() => cp?.stop())

  it('accepts the public origin and refuses the address it happens to be reached at', async () => {
    const issue = (origin: string, name: string) =>
      send(cp.url, 'POST', '/v1/me/keys', {
        cookie: user.sessionToken,
        origin,
        site: 'same-origin',
        contentType: 'application/json',
        body: JSON.stringify({ name }),
      })
    const ok = await issue(PUBLIC, 'via-public-url')
    assert.equal(ok.status, 200, ok.text)
    assertError(await issue(cp.url, 'via-host'), 'permission_denied', 'Origin')
    const names = (await user.client.me.listKeys()).keys.map((k) => k.name)
    assert.deepEqual(names, ['via-public-url'])
  })
})
