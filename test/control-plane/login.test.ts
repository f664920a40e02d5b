/**
 * The OIDC login flow against the real development IdP, driven over HTTP the way a browser and a
 * CLI would: login → IdP login form → redirect with code and state → callback. Every refusal on
 * the login side is `invalid_argument` naming the field at fault; a code the IdP will not redeem
 * is `invalid_argument` naming `code`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Browser } from '../support/browser.ts'
import { LOOPBACK_REDIRECT, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, decodeJwt, http, sleep, tableCounts } from '../support/http.ts'
import { pkcePair } from '../support/pkce.ts'
import { startTestIdp, type TestIdp } from '../support/test-idp.ts'

const REGISTERED_REDIRECT = 'https://app.example.test/auth/callback'

/** The first half of a login: the CP's answer and the IdP's redirect, not yet redeemed. */
async function authorize(
  cp: TestControlPlane,
  login: string,
  redirectUri = LOOPBACK_REDIRECT,
  issuer?: string,
) {
  const { verifier, challenge } = pkcePair()
  const started = await http(cp.url, 'POST', '/v1/auth/login', {
    json: {
      redirect_uri: redirectUri,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...(issuer ? { issuer } : {}),
    },
  })
  assert.equal(started.status, 200, started.text)
  const browser = new Browser()
  const redirect = await browser.authorize(started.body.authorization_url, redirectUri, login)
  return { verifier, challenge, started: started.body, redirect, browser }
}

const callback = (cp: TestControlPlane, body: Record<string, unknown>, headers?: Record<string, string>) =>
  http(cp.url, 'POST', '/v1/auth/callback', { json: body, ...(headers ? { headers } : {}) })

describe('OIDC login through the development IdP', () => {
  let cp: TestControlPlane
  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_OIDC_REDIRECT_URIS: REGISTERED_REDIRECT })
  })
  after(() => cp?.stop())

  it('logs a browser in: session token, HttpOnly SameSite=Lax cookie, and /v1/me through the cookie', async () => {
    const { verifier, challenge, started, redirect } = await authorize(cp, 'carol@example.com')

    const authUrl = new URL(started.authorization_url)
    assert.equal(authUrl.origin, cp.devIdp, 'the authorization URL points at the IdP')
    assert.equal(authUrl.searchParams.get('code_challenge'), challenge)
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256')
    assert.equal(authUrl.searchParams.get('redirect_uri'), LOOPBACK_REDIRECT)
    assert.equal(authUrl.searchParams.get('state'), started.state)
    assert.ok(authUrl.searchParams.get('nonce'), 'a nonce binds the ID token to this login')
    assert.equal(redirect.state, started.state, 'the IdP echoes the state')
    assert.ok(redirect.code)

    const done = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: verifier })
    assert.equal(done.status, 200, done.text)
    const { session_token: token, identity, expires_at: expiresAt } = done.body
    assert.equal(identity.email, 'carol@example.com')
    assert.equal(identity.kind, 'user')
    assert.equal(identity.issuer, cp.devIdp)
    assert.match(identity.id, /^usr_/)
    assert.ok(Date.parse(expiresAt) > Date.now() + 3_600_000, 'a session lasts hours')
    const claims = decodeJwt(token).payload
    assert.match(String(claims.jti), /^ses_/)
    assert.equal(claims.sub, identity.id)

    // First login provisions a personal customer and project owned by the new identity.
    assert.match(identity.default_customer_id, /^cust_/)
    assert.match(identity.default_project_id, /^proj_/)
    assert.deepEqual(
      identity.memberships.map((m: { project_id: string; role: string }) => [m.project_id, m.role]),
      [[identity.default_project_id, 'owner']],
    )

    const cookie = done.headers.get('set-cookie') ?? ''
    assert.match(cookie, new RegExp(`^agentrouter_session=${token.replaceAll('.', '\\.')};`))
    assert.match(cookie, /;\s*HttpOnly/i)
    assert.match(cookie, /;\s*SameSite=Lax/i)
    assert.match(cookie, /;\s*Path=\//)
    assert.doesNotMatch(cookie, /Secure/i, 'plain HTTP: no Secure attribute')

    const bearer = await http(cp.url, 'GET', '/v1/me', { token })
    assert.equal(bearer.status, 200)
    assert.equal(bearer.body.identity.id, identity.id)
    const viaCookie = await http(cp.url, 'GET', '/v1/me', {
      headers: { cookie: `other=1; ${cookie.split(';')[0]}` },
    })
    assert.equal(viaCookie.status, 200, viaCookie.text)
    assert.equal(viaCookie.body.identity.id, identity.id)
  })

  it('finds the same identity on a second login instead of provisioning another', async () => {
    const first = await cp.login('dave@example.com')
    const second = await cp.login('dave@example.com')
    assert.equal(second.identityId, first.identityId)
    assert.equal(second.projectId, first.projectId)
    assert.notEqual(second.sessionToken, first.sessionToken)
    const { body } = await http(cp.url, 'GET', '/v1/me', { token: second.sessionToken })
    assert.equal(body.identity.memberships.length, 1, 'no second personal project')
  })

  it('marks the cookie Secure when the request came over TLS', async () => {
    const { verifier, redirect } = await authorize(cp, 'erin@example.com')
    const done = await callback(
      cp,
      { code: redirect.code, state: redirect.state, code_verifier: verifier },
      { 'x-forwarded-proto': 'https' },
    )
    assert.equal(done.status, 200, done.text)
    assert.match(done.headers.get('set-cookie') ?? '', /;\s*Secure/)
  })

  it('refuses a replayed state, even with a fresh code for it', async () => {
    const { verifier, started, redirect, browser } = await authorize(cp, 'frank@example.com')
    const ok = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: verifier })
    assert.equal(ok.status, 200, ok.text)

    const replay = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: verifier })
    assertError(replay, 'invalid_argument', 'state', 'the same callback twice')

    // The IdP hands out a new code for the same authorization URL; the state is still spent.
    const again = await browser.authorize(started.authorization_url, LOOPBACK_REDIRECT, 'frank@example.com')
    assert.equal(again.state, started.state)
    assert.notEqual(again.code, redirect.code)
    const fresh = await callback(cp, { code: again.code, state: again.state, code_verifier: verifier })
    assertError(fresh, 'invalid_argument', 'state', 'a new code with a spent state')
  })

  it('lets exactly one of several concurrent callbacks with the same state through', async () => {
    const { verifier, redirect } = await authorize(cp, 'olga@example.com')
    const body = { code: redirect.code, state: redirect.state, code_verifier: verifier }
    const results = await Promise.all(Array.from({ length: 6 }, () => callback(cp, body)))
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400, 400, 400, 400])
    for (const r of results.filter((r) => r.status !== 200)) assertError(r, 'invalid_argument', 'state')
  })

  it('refuses a state it never issued', async () => {
    const { verifier, redirect } = await authorize(cp, 'gina@example.com')
    const res = await callback(cp, { code: redirect.code, state: 'x'.repeat(32), code_verifier: verifier })
    assertError(res, 'invalid_argument', 'state')
  })

  it('refuses a wrong code_verifier, and that attempt spends the state', async () => {
    const { verifier, redirect } = await authorize(cp, 'hank@example.com')
    const wrong = pkcePair().verifier
    const res = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: wrong })
    assertError(res, 'invalid_argument', 'code_verifier')
    const retry = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: verifier })
    assertError(retry, 'invalid_argument', 'state', 'a state is single-use, even after a failed attempt')
  })

  it('leaves the state usable after a callback refused for malformed input', async () => {
    const { verifier, redirect } = await authorize(cp, 'ivy@example.com')
    const missing = await callback(cp, { state: redirect.state, code_verifier: verifier })
    assertError(missing, 'invalid_argument', 'code')
    const short = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: 'abc' })
    assertError(short, 'invalid_argument', 'code_verifier')
    const ok = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: verifier })
    assert.equal(ok.status, 200, ok.text)
  })

  it('refuses a code the IdP already redeemed, presented with another login’s state', async () => {
    const first = await authorize(cp, 'jack@example.com')
    const ok = await callback(cp, {
      code: first.redirect.code,
      state: first.redirect.state,
      code_verifier: first.verifier,
    })
    assert.equal(ok.status, 200, ok.text)
    const second = await authorize(cp, 'jack@example.com')
    const res = await callback(cp, {
      code: first.redirect.code,
      state: second.redirect.state,
      code_verifier: second.verifier,
    })
    assertError(res, 'invalid_argument', 'code')
    const garbage = await authorize(cp, 'jack@example.com')
    const bad = await callback(cp, {
      code: 'not-a-code-the-idp-issued',
      state: garbage.redirect.state,
      code_verifier: garbage.verifier,
    })
    assertError(bad, 'invalid_argument', 'code')
  })

  it('accepts only S256: `plain` and a missing method are refused naming code_challenge_method', async () => {
    const { verifier } = pkcePair()
    const before = tableCounts(cp.dataDir).login_states
    for (const method of ['plain', 's256', 'S512', '']) {
      const res = await http(cp.url, 'POST', '/v1/auth/login', {
        json: { redirect_uri: LOOPBACK_REDIRECT, code_challenge: verifier, code_challenge_method: method },
      })
      assertError(res, 'invalid_argument', 'code_challenge_method', `method "${method}"`)
    }
    const missing = await http(cp.url, 'POST', '/v1/auth/login', {
      json: { redirect_uri: LOOPBACK_REDIRECT, code_challenge: verifier },
    })
    assertError(missing, 'invalid_argument', 'code_challenge_method')
    assert.equal(tableCounts(cp.dataDir).login_states, before, 'a refused login stores no state')
  })

  it('refuses a foreign redirect_uri, and accepts registered and loopback ones on any port', async () => {
    const { challenge } = pkcePair()
    const login = (redirectUri: string) =>
      http(cp.url, 'POST', '/v1/auth/login', {
        json: { redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256' },
      })
    for (const foreign of [
      'https://evil.example/callback',
      'http://evil.example/callback',
      'https://app.example.test/auth/callback/extra',
      'http://127.0.0.1.evil.example/callback',
      'http://127.0.0.1:8000/elsewhere',
      'http://127.0.0.1:8000/callback?next=https://evil.example',
      'http://user@127.0.0.1:8000/callback',
      'https://127.0.0.1:8000/callback',
      'javascript:alert(1)',
      'not a url',
    ]) {
      assertError(await login(foreign), 'invalid_argument', 'redirect_uri', foreign)
    }
    for (const allowed of [
      REGISTERED_REDIRECT,
      'http://127.0.0.1:1/callback',
      'http://127.0.0.1:65000/callback',
      'http://[::1]:4242/callback',
    ]) {
      const res = await login(allowed)
      assert.equal(res.status, 200, `${allowed}: ${res.text}`)
      assert.equal(new URL(res.body.authorization_url).searchParams.get('redirect_uri'), allowed)
    }
  })

  it('completes a login through a registered (non-loopback) redirect URI', async () => {
    const { verifier, redirect } = await authorize(cp, 'kate@example.com', REGISTERED_REDIRECT)
    const done = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: verifier })
    assert.equal(done.status, 200, done.text)
    assert.equal(done.body.identity.email, 'kate@example.com')
  })

  it('refuses an unknown issuer alias naming issuer', async () => {
    const { challenge } = pkcePair()
    const res = await http(cp.url, 'POST', '/v1/auth/login', {
      json: {
        issuer: 'nope',
        redirect_uri: LOOPBACK_REDIRECT,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      },
    })
    assertError(res, 'invalid_argument', 'issuer')
    const named = await http(cp.url, 'POST', '/v1/auth/login', {
      json: {
        issuer: 'dev',
        redirect_uri: LOOPBACK_REDIRECT,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      },
    })
    assert.equal(named.status, 200, named.text)
  })

  it('logout revokes the session: 401 after, listed as a session revocation, API keys untouched', async () => {
    const user = await cp.login('liam@example.com')
    const key = await user.client.me.issueKey('survives logout')
    const jti = decodeJwt(user.sessionToken).payload.jti as string

    const out = await http(cp.url, 'POST', '/v1/auth/logout', {
      // What the dashboard's browser sends: the cookie, from the control plane's own origin.
      headers: { cookie: `agentrouter_session=${user.sessionToken}`, origin: cp.url },
      json: {},
    })
    assert.equal(out.status, 200, out.text)
    assert.match(out.headers.get('set-cookie') ?? '', /^agentrouter_session=;.*Max-Age=0/, 'cookie cleared')

    assertError(await http(cp.url, 'GET', '/v1/me', { token: user.sessionToken }), 'unauthenticated')
    assertError(
      await http(cp.url, 'GET', '/v1/me', {
        headers: { cookie: `agentrouter_session=${user.sessionToken}` },
      }),
      'unauthenticated',
    )
    assertError(
      await http(cp.url, 'POST', '/v1/auth/logout', { token: user.sessionToken, json: {} }),
      'unauthenticated',
      undefined,
      'a second logout',
    )

    const list = await cp.admin.tokens.getRevocationList()
    const entry = list.revocations.find((r) => r.jti === jti)
    assert.ok(entry, 'the session is on the revocation list')
    assert.equal(entry.kind, 'session')
    assert.equal(Date.parse(entry.expires_at), (decodeJwt(user.sessionToken).payload.exp as number) * 1000)

    const me = await http(cp.url, 'GET', '/v1/me', { token: key.secret })
    assert.equal(me.status, 200, 'logout does not revoke the API keys the identity issued')
  })
})

describe('OIDC login state expiry, without auto-provisioning', () => {
  let cp: TestControlPlane
  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_LOGIN_STATE_TTL: '3s', AGENTROUTER_AUTO_PROVISION: 'false' })
  })
  after(() => cp?.stop())

  it('refuses a state older than AGENTROUTER_LOGIN_STATE_TTL naming state; a prompt callback succeeds', async () => {
    const slow = await authorize(cp, 'mona@example.com')
    const prompt = await authorize(cp, 'mona@example.com')
    const ok = await callback(cp, {
      code: prompt.redirect.code,
      state: prompt.redirect.state,
      code_verifier: prompt.verifier,
    })
    assert.equal(ok.status, 200, ok.text)

    await sleep(3_200)
    const late = await callback(cp, {
      code: slow.redirect.code,
      state: slow.redirect.state,
      code_verifier: slow.verifier,
    })
    assertError(late, 'invalid_argument', 'state')
  })

  it('provisions no personal customer or project when AGENTROUTER_AUTO_PROVISION is off', async () => {
    const user = await cp.login('nora@example.com')
    const { identity } = await user.client.me.get()
    assert.equal(identity.email, 'nora@example.com')
    assert.deepEqual(identity.memberships, [])
    assert.equal(identity.default_customer_id, '')
    assert.equal(identity.default_project_id, '')
  })
})

describe('a configured OIDC issuer (AGENTROUTER_OIDC_ISSUERS)', () => {
  let idp: TestIdp
  let cp: TestControlPlane
  before(async () => {
    // `unverified:<email>` logs in a subject whose email the provider has not verified.
    idp = await startTestIdp((login) =>
      login.startsWith('unverified:')
        ? { email: login.slice('unverified:'.length), email_verified: false, name: 'mallory' }
        : { email: login, email_verified: true, name: login.split('@')[0] },
    )
    cp = await startControlPlane({
      AGENTROUTER_OIDC_ISSUERS: JSON.stringify([idp.entry('corp')]),
      AGENTROUTER_ADMIN_EMAILS: 'boss@corp.example',
    })
  })
  after(async () => {
    await cp?.stop()
    await idp?.close()
  })

  const login = async (who: string, issuer?: string) => {
    const { verifier, redirect, started } = await authorize(cp, who, LOOPBACK_REDIRECT, issuer)
    assert.equal(new URL(started.authorization_url).origin, idp.issuer)
    const done = await callback(cp, { code: redirect.code, state: redirect.state, code_verifier: verifier })
    assert.equal(done.status, 200, done.text)
    return done.body.identity
  }

  it('logs in through the configured provider instead of running the development IdP', async () => {
    assert.equal(cp.devIdp, '', 'no development IdP when an issuer is configured')
    const identity = await login('pat@corp.example')
    assert.equal(identity.issuer, idp.issuer)
    assert.equal(identity.subject, 'pat@corp.example')
    assert.equal(identity.is_admin, false)
    const again = await login('pat@corp.example', 'corp')
    assert.equal(again.id, identity.id, 'the alias names the same provider')
  })

  it('makes an admin of a verified AGENTROUTER_ADMIN_EMAILS address only', async () => {
    const boss = await login('boss@corp.example')
    assert.equal(boss.is_admin, true)
    const impostor = await login('unverified:boss@corp.example')
    assert.equal(impostor.email, 'boss@corp.example')
    assert.notEqual(impostor.id, boss.id)
    assert.equal(impostor.is_admin, false, 'an unverified email claim grants nothing')
  })
})
