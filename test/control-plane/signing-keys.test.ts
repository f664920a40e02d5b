/**
 * Signing-key rotation (`POST /v1/admin/signing-keys/rotate`): the new key is in the JWKS before
 * it signs anything (dataplanes are told on the stream to refetch), tokens issued after its
 * activation carry its kid, tokens signed by the retired key keep verifying, and the retired key
 * stays published, across a restart too. Quick rotations do not pile up published keys: a key that
 * retires without having signed (superseded while pending, or active but unused) leaves the JWKS
 * when it retires, while every key that signed stays, and its tokens keep verifying at the
 * control plane and at a dataplane.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, decodeJwt, http, sleep } from '../support/http.ts'
import { type Caller, chat, type InferenceWorld, startInferenceWorld, within } from '../support/inference.ts'
import { openAnyDatabase } from '../support/secrets-db.ts'
import { listenToStream } from '../support/stream-listener.ts'

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
    assert.ok(!(await jwksKids(cp)).includes(pending.kid), 'superseded before it signed: no longer published')
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
    const db = openAnyDatabase(cp.dataDir)
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

describe('quick signing-key rotations', () => {
  let world: InferenceWorld
  let cp: TestControlPlane
  let alice: Caller
  /** Kids of keys that signed something, in order. */
  const signers: string[] = []
  /** Tokens signed before a batch of rotations, never shown to the dataplane until after it. */
  const unseen: string[] = []

  before(async () => {
    // Long enough that every rotation of a batch comes before the first one's key activates,
    // however slow key generation is on a loaded machine (it took 16 s for ten in one run).
    world = await startInferenceWorld({ cpEnv: { AGENTROUTER_SIGNING_KEY_PUBLISH_DELAY: '10m' } })
    cp = world.cp
    alice = await world.caller('quick@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-quick-project')
    signers.push(kidOf(cp.adminKey))
  })
  after(() => world?.stop())

  const rotate = async (json: Record<string, unknown>) => {
    const res = await http(cp.url, 'POST', '/v1/admin/signing-keys/rotate', { token: cp.adminKey, json })
    assert.equal(res.status, 200, res.text)
    return res.body as { kid: string; activates_at: string }
  }
  const signedKids = () => {
    const db = openAnyDatabase(cp.dataDir)
    try {
      return db
        .prepare('SELECT kid FROM signing_keys WHERE first_signed_at IS NOT NULL ORDER BY activates_at')
        .pluck()
        .all() as string[]
    } finally {
      db.close()
    }
  }
  /** Verified by the control plane and, as a token it has never seen, by the dataplane. */
  const verifiesEverywhere = async (token: string, what: string) => {
    const me = await http(cp.url, 'GET', '/v1/me', { token })
    assert.equal(me.status, 200, `${what} at the control plane: ${me.text}`)
    // The dataplane refetches the JWKS on jwks_changed; a few ms may pass before it has the newest.
    let last = ''
    await within(
      3_000,
      async () => {
        const res = await chat(world.dp.url, token)
        last = `${res.status} ${res.text.slice(0, 300)}`
        return res.status === 200
      },
      `${what} at the dataplane`,
    ).catch((err) => assert.fail(`${err.message}: last answer ${last}`))
  }

  it('ten rotations, each before the last one activated, leave 2 keys (the one that signed and the newest), not 11', async () => {
    unseen.push((await alice.client.me.issueKey('before the delayed rotations')).secret)
    assert.deepEqual(await jwksKids(cp), signers)

    // Nine with the configured publish delay, the last activating soon enough to wait for.
    for (let i = 0; i < 9; i++) await rotate({})
    const newest = await rotate({ activate_after_ms: 2_000 })
    assert.deepEqual((await jwksKids(cp)).sort(), [...signers, newest.kid].sort())
    assert.deepEqual(signedKids(), signers, 'no rotated-in key has signed yet')

    for (const token of [...unseen, alice.apiKey, alice.sessionToken])
      await verifiesEverywhere(token, 'a token signed before the rotations')
    assert.equal((await http(cp.url, 'GET', '/v1/me', { token: cp.adminKey })).status, 200)

    await sleep(Date.parse(newest.activates_at) - Date.now() + 50)
    const fresh = (await alice.client.me.issueKey('after the newest activation')).secret
    assert.equal(kidOf(fresh), newest.kid, 'the newest key signs after its delay, none of the superseded')
    signers.push(newest.kid)
    await verifiesEverywhere(fresh, 'a token of the newest key')
    assert.deepEqual((await jwksKids(cp)).sort(), [...signers].sort())
    assert.deepEqual(signedKids(), signers)
  })

  it('ten rotations that activate at once leave the keys that signed and the one signing now: 3 keys', async () => {
    unseen.push((await alice.client.me.issueKey('before the immediate rotations')).secret)
    let newest = { kid: '', activates_at: '' }
    for (let i = 0; i < 10; i++) newest = await rotate({ activate_after_ms: 0 })
    const published = await jwksKids(cp)
    assert.equal(published.length, signers.length + 1)
    assert.deepEqual(published.sort(), [...signers, newest.kid].sort())

    for (const token of [...unseen, alice.apiKey])
      await verifiesEverywhere(token, 'a token signed before the rotations')
    assert.equal((await http(cp.url, 'GET', '/v1/me', { token: cp.adminKey })).status, 200)
    const fresh = (await alice.client.me.issueKey('by the newest key')).secret
    assert.equal(kidOf(fresh), newest.kid)
    signers.push(newest.kid)
    await verifiesEverywhere(fresh, 'a token of the newest key')
    assert.deepEqual((await jwksKids(cp)).sort(), [...signers].sort())
  })

  it('keeps an unused signing key published until the next key takes over, then drops it and tells the stream', async () => {
    const unused = await rotate({ activate_after_ms: 0 })
    const next = await rotate({ activate_after_ms: 5_000 })
    // At most 2 beyond the keys that signed: the one that may still sign until `next` activates, and `next`.
    assert.deepEqual((await jwksKids(cp)).sort(), [...signers, unused.kid, next.kid].sort())

    const listener = await listenToStream(cp.url, cp.dataplaneKey, 'jwks-watcher')
    try {
      await listener.waitFor((m) => m.type === 'hello')
      const changed = listener.waitFor((m) => m.type === 'jwks_changed', 10_000)
      await sleep(Date.parse(next.activates_at) - Date.now() - 2_000)
      assert.ok((await jwksKids(cp)).includes(unused.kid), 'published while it could still sign')
      await changed
      assert.ok(Date.now() >= Date.parse(next.activates_at), 'told when it retired, not before')
    } finally {
      listener.close()
    }
    assert.deepEqual((await jwksKids(cp)).sort(), [...signers, next.kid].sort())
    const fresh = (await alice.client.me.issueKey('by the key after the unused one')).secret
    assert.equal(kidOf(fresh), next.kid)
    await verifiesEverywhere(fresh, 'a token of the key after the unused one')
    for (const token of unseen) await verifiesEverywhere(token, 'an earlier token')
    signers.push(next.kid)
  })

  it('issues tokens while keys rotate: every token verifies and every key that signed one stays published', async () => {
    const issued: string[] = []
    let rotating = true
    const issuing = (async () => {
      while (rotating) {
        const batch = await Promise.all([1, 2, 3].map(() => alice.client.me.issueKey('during rotations')))
        issued.push(...batch.map((k) => k.secret))
      }
    })()
    try {
      // Pending keys superseded while tokens are being signed, and keys that activate at once.
      for (const activateAfterMs of [300, 0, 300, 0, 0, 300])
        await rotate({ activate_after_ms: activateAfterMs })
      await sleep(400)
    } finally {
      rotating = false
      await issuing
    }
    assert.ok(issued.length > 0)
    const published = await jwksKids(cp)
    const signed = new Set(signedKids())
    for (const token of issued) {
      assert.ok(signed.has(kidOf(token)), `${kidOf(token)} signed a token: its first signature is recorded`)
      assert.ok(published.includes(kidOf(token)), `${kidOf(token)} signed a token: it stays published`)
      const me = await http(cp.url, 'GET', '/v1/me', { token })
      assert.equal(me.status, 200, `a token issued during the rotations: ${me.text}`)
    }
    const active = kidOf((await alice.client.me.issueKey('after the rotations')).secret)
    for (const kid of published)
      assert.ok(signed.has(kid) || kid === active, `${kid} is published but never signed`)
  })
})
