/**
 * Signing-key rotation (`POST /v1/admin/signing-keys/rotate`): the new key is in the JWKS before
 * it signs anything (dataplanes are told on the stream to refetch), tokens issued after its
 * activation carry its kid, tokens signed by the retired key keep verifying, and the retired key
 * stays published, across a restart too.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import WebSocket from 'ws'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, decodeJwt, http, sleep } from '../support/http.ts'

const kidOf = (token: string) => decodeJwt(token).header.kid as string
const jwksKids = async (cp: TestControlPlane) => {
  const res = await http(cp.url, 'GET', '/.well-known/jwks.json')
  assert.equal(res.status, 200)
  assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/)
  return (res.body.keys as Array<{ kid: string; alg: string; use: string }>).map((k) => k.kid)
}

describe('signing-key rotation', () => {
  let cp: TestControlPlane
  let user: LoginResult
  const tokens: Record<string, string> = {}
  let oldKid: string
  let newKid: string

  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_SIGNING_KEY_PUBLISH_DELAY: '3s' })
    user = await cp.login('rotor@example.com')
  })
  after(() => cp?.stop())

  const works = async (token: string, what: string) => {
    const res = await http(cp.url, 'GET', '/v1/me', { token })
    assert.equal(res.status, 200, `${what}: ${res.text}`)
  }

  it('publishes the new key at once but keeps signing with the old one until the publish delay passes', async () => {
    oldKid = kidOf(cp.adminKey)
    assert.deepEqual(await jwksKids(cp), [oldKid])

    const ws = new WebSocket(`${cp.url.replace(/^http/, 'ws')}/v1/tokens/revocations/stream`, {
      headers: { authorization: `Bearer ${cp.dataplaneKey}` },
    })
    const told = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        if (JSON.parse(data.toString()).type === 'jwks_changed') resolve()
      }),
    )
    await new Promise((resolve) => ws.once('open', resolve))

    const requested = Date.now()
    const res = await http(cp.url, 'POST', '/v1/admin/signing-keys/rotate', { token: cp.adminKey, json: {} })
    assert.equal(res.status, 200, res.text)
    newKid = res.body.kid
    assert.notEqual(newKid, oldKid)
    assert.equal(res.body.alg, 'RS256')
    assert.equal(res.body.retiring_kid, oldKid)
    const activatesAt = Date.parse(res.body.activates_at)
    assert.ok(activatesAt >= requested + 2_900 && activatesAt <= Date.now() + 3_100, 'the configured delay')

    assert.deepEqual((await jwksKids(cp)).sort(), [oldKid, newKid].sort(), 'published before it signs')
    await Promise.race([told, sleep(2_000).then(() => assert.fail('no jwks_changed on the stream'))])
    ws.close()

    const early = await user.client.me.issueKey('before activation')
    assert.ok(Date.now() < activatesAt, 'issued before the activation time')
    assert.equal(kidOf(early.secret), oldKid, 'the new key does not sign before its activation')
    tokens.early = early.secret

    await sleep(activatesAt - Date.now() + 50)
    const late = await user.client.me.issueKey('after activation')
    assert.equal(kidOf(late.secret), newKid)
    tokens.late = late.secret
    const session = await cp.login('rotor@example.com')
    assert.equal(kidOf(session.sessionToken), newKid)
    tokens.session = session.sessionToken
  })

  it('keeps verifying tokens signed by the retired key, and keeps publishing it', async () => {
    await works(cp.adminKey, 'bootstrap admin key (old kid)')
    await works(user.sessionToken, 'session from before the rotation')
    await works(tokens.early!, 'key issued before activation')
    await works(tokens.late!, 'key issued after activation')
    await works(tokens.session!, 'session issued after activation')
    assert.deepEqual((await jwksKids(cp)).sort(), [oldKid, newKid].sort())
  })

  it('rotates again with an explicit activate_after_ms of 0: signs with the newest key at once', async () => {
    const res = await http(cp.url, 'POST', '/v1/admin/signing-keys/rotate', {
      token: cp.adminKey,
      json: { activate_after_ms: 0 },
    })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.retiring_kid, newKid)
    const third = res.body.kid as string
    const issued = await user.client.me.issueKey('third key')
    assert.equal(kidOf(issued.secret), third)
    assert.deepEqual((await jwksKids(cp)).sort(), [oldKid, newKid, third].sort())
    await works(cp.adminKey, 'first-generation token')
    await works(tokens.late!, 'second-generation token')
    await works(issued.secret, 'third-generation token')
    tokens.third = issued.secret
  })

  it('lets the latest rotation win: a key superseded before its activation never signs', async () => {
    const rotate = async (activateAfterMs: number) => {
      const res = await http(cp.url, 'POST', '/v1/admin/signing-keys/rotate', {
        token: cp.adminKey,
        json: { activate_after_ms: activateAfterMs },
      })
      assert.equal(res.status, 200, res.text)
      return res.body as { kid: string; activates_at: string }
    }
    const pending = await rotate(800)
    const latest = await rotate(0)
    assert.equal(kidOf((await user.client.me.issueKey('latest')).secret), latest.kid)
    await sleep(Date.parse(pending.activates_at) - Date.now() + 50)
    const issued = await user.client.me.issueKey('after the superseded activation time')
    assert.equal(kidOf(issued.secret), latest.kid, 'the superseded key must not take over')
    await works(tokens.third!, 'a token of the key before them')
    tokens.latest = issued.secret
  })

  it('refuses rotation to anyone but an admin', async () => {
    const before = await jwksKids(cp)
    assertError(
      await http(cp.url, 'POST', '/v1/admin/signing-keys/rotate', { token: user.sessionToken, json: {} }),
      'permission_denied',
    )
    assert.deepEqual(await jwksKids(cp), before)
  })

  it('stores private keys sealed, and keeps every published key across a restart', async () => {
    const db = new Database(join(cp.dataDir, 'agentrouter.db'), { readonly: true })
    const rows = db.prepare('SELECT kid, sealed_private, public_jwk FROM signing_keys').all() as Array<{
      kid: string
      sealed_private: Buffer
      public_jwk: string
    }>
    db.close()
    assert.equal(rows.length, 5)
    for (const row of rows) {
      assert.ok(
        !row.sealed_private.toString('latin1').includes('"d"'),
        `${row.kid}: private key not in clear`,
      )
      assert.equal(JSON.parse(row.public_jwk).d, undefined)
    }

    const published = (await jwksKids(cp)).sort()
    await cp.stop()
    cp = await startControlPlane({}, cp.dataDir)
    assert.deepEqual((await jwksKids(cp)).sort(), published)
    assert.ok([oldKid, newKid, kidOf(tokens.third!)].every((kid) => published.includes(kid)))
    for (const [name, token] of Object.entries(tokens)) await works(token, `${name} after restart`)
    await works(cp.adminKey, 'bootstrap admin key after restart')
    const relogged = await cp.login('rotor@example.com')
    assert.equal(kidOf(relogged.sessionToken), kidOf(tokens.latest!), 'the newest key still signs')
  })
})
