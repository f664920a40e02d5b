/**
 * Credentials that must not work: revoked, expired, signed by a key the control plane does not
 * own, `alg: none`, HS256 keyed with the public key, tampered, wrong issuer, wrong audience,
 * malformed. Each is answered `unauthenticated`, the refusal reason shows in
 * `agentrouter_cp_auth_failures_total` (so each case proves the check it names), and the control
 * plane keeps serving.
 *
 * The forged tokens carry claims copied from a real token of the same control plane, so the only
 * thing wrong with each is the thing the case is about. Expiry, issuer and audience cannot be
 * forged that way (the control plane would refuse the signature first), so they come from the
 * control plane itself: short TTLs, and restarts on the same data directory (same signing keys)
 * with a different `AGENTROUTER_TOKEN_ISSUER` or `AGENTROUTER_TOKEN_AUDIENCE`.
 */
import assert from 'node:assert/strict'
import { createPublicKey } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair, type JWK, SignJWT } from 'jose'
import { ulid } from 'ulid'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, decodeJwt, http, metrics, metricValue, sleep } from '../support/http.ts'
import { tempDir } from '../support/process.ts'

const FAILURES = 'agentrouter_cp_auth_failures_total'
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Asserts `token` is refused on /v1/me and that the refusal was counted under `reason`. */
async function assertRefused(cp: TestControlPlane, token: string, reason: string, what: string) {
  const before = metricValue(await metrics(cp.url), FAILURES, { reason })
  assertError(await http(cp.url, 'GET', '/v1/me', { token }), 'unauthenticated', undefined, what)
  const afterCount = metricValue(await metrics(cp.url), FAILURES, { reason })
  assert.equal(afterCount, before + 1, `${what}: expected one refusal counted as "${reason}"`)
}

async function assertStillServing(cp: TestControlPlane, user: LoginResult) {
  assert.equal(cp.process.child.exitCode, null, 'the control plane is still running')
  assert.equal((await http(cp.url, 'GET', '/healthz')).status, 200)
  const me = await http(cp.url, 'GET', '/v1/me', { token: user.sessionToken })
  assert.equal(me.status, 200, 'a good credential still works')
  assert.doesNotMatch(cp.process.output(), /unexpected error/, 'no bad token reached an unexpected error')
}

describe('forged, tampered, revoked and malformed tokens', () => {
  let cp: TestControlPlane
  let user: LoginResult
  let realKid: string
  let jwk: JWK
  /** Claims exactly like a real admin API key's, for a fresh key id. */
  let claims: () => Record<string, unknown>

  before(async () => {
    cp = await startControlPlane()
    user = await cp.login('alice@example.com')
    const { keys } = (await http(cp.url, 'GET', '/.well-known/jwks.json')).body
    jwk = keys[0]
    realKid = jwk.kid as string
    const admin = decodeJwt(cp.adminKey).payload
    claims = () => ({ ...admin, jti: `key_${ulid()}` })
  })
  after(() => cp?.stop())

  it('accepts the genuine admin key the forgeries imitate', async () => {
    const res = await http(cp.url, 'GET', '/v1/admin/dataplanes', { token: cp.adminKey })
    assert.equal(res.status, 200)
  })

  it('refuses a token signed by an unknown key, with its own kid or the control plane’s', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256')
    const ownKid = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', kid: 'attacker-key', typ: 'JWT' })
      .sign(privateKey)
    await assertRefused(cp, ownKid, 'unknown_key', 'own key, own kid')
    const noKid = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .sign(privateKey)
    await assertRefused(cp, noKid, 'unknown_key', 'own key, no kid')
    const stolenKid = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', kid: realKid, typ: 'JWT' })
      .sign(privateKey)
    await assertRefused(cp, stolenKid, 'signature', 'own key, the control plane’s kid')
    const embedded = await new SignJWT(claims())
      .setProtectedHeader({
        alg: 'RS256',
        kid: realKid,
        typ: 'JWT',
        jwk: await import('jose').then((j) => j.exportJWK(publicKey)),
      })
      .sign(privateKey)
    await assertRefused(cp, embedded, 'signature', 'own key embedded in the header (jwk)')
  })

  it('refuses alg: none', async () => {
    const header = { alg: 'none', kid: realKid, typ: 'JWT' }
    await assertRefused(cp, `${b64(header)}.${b64(claims())}.`, 'malformed', 'alg none, empty signature')
    await assertRefused(cp, `${b64(header)}.${b64(claims())}.AAAA`, 'algorithm', 'alg none with a signature')
    const noneCase = { ...header, alg: 'NONE' }
    await assertRefused(cp, `${b64(noneCase)}.${b64(claims())}.AAAA`, 'algorithm', 'alg NONE')
  })

  it('refuses HS256 signed with the public key (PEM, modulus bytes, JWK text) as the HMAC secret', async () => {
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' })
    const secrets = {
      pem: new TextEncoder().encode(String(pem)),
      n: Buffer.from(jwk.n as string, 'base64url'),
      jwk: new TextEncoder().encode(JSON.stringify(jwk)),
    }
    for (const [name, secret] of Object.entries(secrets)) {
      for (const alg of ['HS256', 'HS512']) {
        const token = await new SignJWT(claims())
          .setProtectedHeader({ alg, kid: realKid, typ: 'JWT' })
          .sign(new Uint8Array(secret))
        await assertRefused(cp, token, 'algorithm', `${alg} keyed with the ${name}`)
      }
    }
  })

  it('refuses a genuine token whose payload or header was altered', async () => {
    const [h, p, s] = user.sessionToken.split('.') as [string, string, string]
    const payload = decodeJwt(user.sessionToken).payload
    const elevated = b64({ ...payload, sub: decodeJwt(cp.adminKey).payload.sub })
    await assertRefused(cp, `${h}.${elevated}.${s}`, 'signature', 'payload swapped')
    const longer = b64({ ...payload, exp: (payload.exp as number) + 86_400 })
    await assertRefused(cp, `${h}.${longer}.${s}`, 'signature', 'exp extended')
    const otherAlg = b64({ ...decodeJwt(user.sessionToken).header, alg: 'RS512' })
    await assertRefused(cp, `${otherAlg}.${p}.${s}`, 'algorithm', 'alg changed')
    const flipped = s.slice(0, -4) + (s.endsWith('AAAA') ? 'BBBB' : 'AAAA')
    await assertRefused(cp, `${h}.${p}.${flipped}`, 'signature', 'signature altered')
  })

  it('refuses malformed tokens', async () => {
    const cases: Array<[string, string]> = [
      ['garbage', 'malformed'],
      ['a.b.c', 'malformed'],
      ['a.b', 'malformed'],
      ['..', 'malformed'],
      ['a.b.c.d', 'malformed'],
      [`${b64({ alg: 'RS256', kid: realKid })}.${b64(claims())}.sig.extra`, 'malformed'],
      [`not json.${b64(claims())}.AAAA`, 'malformed'],
      [`${Buffer.from('not json').toString('base64url')}.${b64(claims())}.AAAA`, 'malformed'],
      [`${b64([1, 2])}.${b64(claims())}.AAAA`, 'malformed'],
      [`${b64({ alg: 'RS256', kid: realKid, typ: 'JWT' })}.e30.${'A'.repeat(342)}`, 'signature'],
      ['ak-', 'missing'],
      ['ak-ak-garbage', 'malformed'],
      ['é.é.é', 'malformed'],
      [`${'A'.repeat(6000)}.${'B'.repeat(6000)}.C`, 'malformed'],
    ]
    for (const [token, reason] of cases) await assertRefused(cp, token, reason, `token ${token.slice(0, 40)}`)
    assertError(
      await http(cp.url, 'GET', '/v1/me', { headers: { authorization: 'Basic abc' } }),
      'unauthenticated',
    )
    assertError(
      await http(cp.url, 'GET', '/v1/me', { headers: { authorization: 'Bearer' } }),
      'unauthenticated',
    )
  })

  it('refuses a revoked API key and a logged-out session', async () => {
    const key = await user.client.me.issueKey('to revoke')
    assert.equal((await http(cp.url, 'GET', '/v1/me', { token: key.secret })).status, 200)
    await user.client.me.revokeKey(key.key.id)
    await assertRefused(cp, key.secret, 'revoked', 'revoked API key')
    await assertRefused(cp, key.secret.slice(3), 'revoked', 'revoked API key without ak-')

    const other = await cp.login('alice@example.com')
    await other.client.me.logout()
    await assertRefused(cp, other.sessionToken, 'revoked', 'logged-out session')
  })

  it('keeps serving after every bad token', async () => {
    await assertStillServing(cp, user)
  })
})

describe('expired tokens', () => {
  let cp: TestControlPlane
  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_SESSION_TTL: '3s', AGENTROUTER_API_KEY_TTL: '3s' })
  })
  after(() => cp?.stop())

  it('refuses a session and API keys once they expire, and keeps serving', async () => {
    const user = await cp.login('bob@example.com')
    const key = await user.client.me.issueKey('short-lived')
    assert.equal((await http(cp.url, 'GET', '/v1/me', { token: key.secret })).status, 200)
    const exp = Math.max(
      decodeJwt(user.sessionToken).payload.exp as number,
      decodeJwt(key.secret).payload.exp as number,
    )
    assert.ok(exp * 1000 - Date.now() <= 3_000, 'the TTLs were applied')
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 50)

    await assertRefused(cp, user.sessionToken, 'expired', 'expired session')
    await assertRefused(cp, key.secret, 'expired', 'expired API key')
    await assertRefused(cp, cp.adminKey, 'expired', 'expired bootstrap admin key')

    const fresh = await cp.login('bob@example.com')
    await assertStillServing(cp, fresh)
  })
})

describe('tokens for another issuer or audience', () => {
  const dataDir = tempDir()
  let token: { key: string; session: string }
  const run = async <T>(env: Record<string, string>, fn: (cp: TestControlPlane) => Promise<T>) => {
    const cp = await startControlPlane(env, dataDir)
    try {
      return await fn(cp)
    } finally {
      await cp.stop()
    }
  }

  before(async () => {
    token = await run({}, async (cp) => {
      const user = await cp.login('carol@example.com')
      const key = await user.client.me.issueKey('issued under the default issuer')
      assert.equal((await http(cp.url, 'GET', '/v1/me', { token: key.secret })).status, 200)
      return { key: key.secret, session: user.sessionToken }
    })
  })

  it('refuses tokens whose issuer is not the configured one (same signing keys)', async () => {
    await run({ AGENTROUTER_TOKEN_ISSUER: 'https://other-issuer.example' }, async (cp) => {
      await assertRefused(cp, token.key, 'issuer', 'API key from the old issuer')
      await assertRefused(cp, token.session, 'issuer', 'session from the old issuer')
      const fresh = await cp.login('carol@example.com')
      assert.equal(decodeJwt(fresh.sessionToken).payload.iss, 'https://other-issuer.example')
      assert.equal(
        decodeJwt(fresh.sessionToken).header.kid,
        decodeJwt(token.key).header.kid,
        'the same signing key',
      )
      await assertStillServing(cp, fresh)
    })
  })

  it('refuses tokens whose audience is not the configured one (same signing keys)', async () => {
    await run({ AGENTROUTER_TOKEN_AUDIENCE: 'someone-else' }, async (cp) => {
      await assertRefused(cp, token.key, 'audience', 'API key for the old audience')
      await assertRefused(cp, token.session, 'audience', 'session for the old audience')
      await assertStillServing(cp, await cp.login('carol@example.com'))
    })
  })

  it('accepts the same tokens again under the original issuer and audience', async () => {
    await run({}, async (cp) => {
      assert.equal((await http(cp.url, 'GET', '/v1/me', { token: token.key })).status, 200)
      assert.equal((await http(cp.url, 'GET', '/v1/me', { token: token.session })).status, 200)
    })
  })
})
