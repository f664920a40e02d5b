import assert from 'node:assert/strict'
import { createHmac, createPublicKey } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair, SignJWT } from 'jose'
import {
  type Caller,
  chat,
  type InferenceWorld,
  openaiErrorOf,
  startInferenceWorld,
  within,
} from '../support/inference.ts'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const partsOf = (key: string) => key.replace(/^ak-/, '').split('.') as [string, string, string]
const headerOf = (key: string) => JSON.parse(Buffer.from(partsOf(key)[0], 'base64url').toString())
const payloadOf = (key: string) => JSON.parse(Buffer.from(partsOf(key)[1], 'base64url').toString())

describe('revocations reach the dataplane', () => {
  let world: InferenceWorld
  let alice: Caller

  before(async () => {
    world = await startInferenceWorld()
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-alice-project')
  })
  after(() => world?.stop())

  it('a revoked API key is unauthenticated at the dataplane in under one second', async () => {
    const { key, secret } = await alice.client.me.issueKey('to revoke')
    assert.equal((await chat(world.dp.url, secret)).status, 200) // verified and cached
    await alice.client.me.revokeKey(key.id)
    const ms = await within(1_000, async () => (await chat(world.dp.url, secret)).status === 401, 'refused')
    const res = await chat(world.dp.url, secret)
    assert.equal(openaiErrorOf(res.body).code, 'unauthenticated')
    assert.ok(ms < 1_000)
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'other keys are unaffected')
  })

  it('logging out refuses the session token at the dataplane in under one second', async () => {
    const carol = await world.caller('carol@example.com')
    await carol.client.aikeys.register('-', '-', 'openai', 'project', 'sk-carol-project')
    assert.equal((await chat(world.dp.url, carol.sessionToken)).status, 200)
    await carol.client.me.logout()
    await within(1_000, async () => (await chat(world.dp.url, carol.sessionToken)).status === 401, 'refused')
    assert.equal((await chat(world.dp.url, carol.apiKey)).status, 200, 'her API key still works')
  })

  it('a revoked AI key stops being used within one second, and a new one serves at once', async () => {
    const dave = await world.caller('dave@example.com')
    const { key } = await dave.client.aikeys.register('-', '-', 'openai', 'first', 'sk-dave-first')
    assert.equal((await chat(world.dp.url, dave.apiKey)).status, 200)
    assert.equal(world.upstream.requests.at(-1)!.headers.authorization, 'Bearer sk-dave-first')
    await dave.client.aikeys.revoke('-', '-', key.id)
    await within(1_000, async () => (await chat(world.dp.url, dave.apiKey)).status === 412, 'no key served')
    const seenBefore = world.upstream.requests.length
    await dave.client.aikeys.register('-', '-', 'openai', 'second', 'sk-dave-second')
    assert.equal((await chat(world.dp.url, dave.apiKey)).status, 200)
    assert.equal(world.upstream.requests.at(-1)!.headers.authorization, 'Bearer sk-dave-second')
    const leaked = world.upstream.requests
      .slice(seenBefore)
      .filter((r) => r.headers.authorization === 'Bearer sk-dave-first')
    assert.equal(leaked.length, 0)
  })

  it('rotating an AI key’s secret reaches the dataplane within one second', async () => {
    const erin = await world.caller('erin@example.com')
    const { key } = await erin.client.aikeys.register('-', '-', 'openai', 'rotating', 'sk-erin-before')
    assert.equal((await chat(world.dp.url, erin.apiKey)).status, 200)
    assert.equal(world.upstream.requests.at(-1)!.headers.authorization, 'Bearer sk-erin-before')
    // BYOK plaintext lives in the secret service: realm byok, owner system, named by the key id.
    await world.cp.admin.secret.rotateSecret({ name: key.id, realm: 'byok', newValue: 'sk-erin-after' })
    await within(
      1_000,
      async () => {
        await chat(world.dp.url, erin.apiKey)
        return world.upstream.requests.at(-1)!.headers.authorization === 'Bearer sk-erin-after'
      },
      'the rotated value is injected',
    )
  })

  it('signing-key rotation: new-key tokens verify without a restart, retired-key tokens keep verifying', async () => {
    const oldKid = headerOf(alice.apiKey).kid
    const rotated = await world.cp.admin.admin.rotateSigningKey({ activateAfterMs: 0 })
    assert.notEqual(rotated.kid, oldKid)
    const { secret } = await alice.client.me.issueKey('after rotation')
    assert.equal(headerOf(secret).kid, rotated.kid, 'signed by the new key')
    const fresh = await chat(world.dp.url, secret)
    assert.equal(fresh.status, 200, fresh.text)
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200, 'the retired key still verifies')
  })

  it('wait=enforced with one dataplane answers enforced, and the token is refused at once', async () => {
    const { key, secret } = await alice.client.me.issueKey('enforced')
    assert.equal((await chat(world.dp.url, secret)).status, 200)
    const revoked = await alice.client.me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 5_000 })
    assert.equal(revoked.enforcement?.status, 'enforced')
    assert.equal((await chat(world.dp.url, secret)).status, 401)
  })
})

describe('the bad-token battery, at the dataplane', () => {
  let world: InferenceWorld
  let alice: Caller

  before(async () => {
    // Sessions live 2 s and the dataplane allows no clock leeway, so "expired" needs no long wait.
    world = await startInferenceWorld({
      cpEnv: { AGENTROUTER_SESSION_TTL: '2s' },
      dpEnv: { AGENTROUTER_DP_CLOCK_LEEWAY: '0s', AGENTROUTER_DP_JWKS_MIN_INTERVAL: '1m' },
    })
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-battery')
  })
  after(() => world?.stop())

  const refused = async (token: string, what: string, code = 'unauthenticated') => {
    const res = await chat(world.dp.url, token)
    assert.equal(openaiErrorOf(res.body).code, code, `${what}: ${res.status} ${res.text}`)
  }

  it('refuses forged, tampered, malformed and mis-scoped tokens, and nothing crashes', async () => {
    const session = alice.apiKey
    assert.equal((await chat(world.dp.url, session)).status, 200)
    const [h, p, s] = partsOf(session)
    const claims = payloadOf(session)

    await refused('', 'no credential')
    await refused('not-a-token', 'garbage')
    await refused(`${h}.${p}`, 'two segments')
    await refused(`${h}.${p}.`, 'no signature')
    await refused(`${h}.${p}.${s}.x`, 'four segments')
    await refused(`${'a'.repeat(8_000)}.b.c`, 'long')
    const huge = await chat(world.dp.url, `${'a'.repeat(40_000)}.b.c`)
    // Refused by the HTTP parser before any route is known: the contract's shape.
    assert.equal(huge.body.code, 'invalid_argument', `oversized headers: ${huge.status} ${huge.text}`)
    await refused(`${h}.${b64({ ...claims, sub: 'usr_someone_else' })}.${s}`, 'tampered payload')
    await refused(`${h}.${p}.${s.slice(0, -4)}AAAA`, 'tampered signature')
    await refused(`${b64({ alg: 'none', typ: 'JWT' })}.${p}.`, 'alg none')
    await refused(
      `${b64({ alg: 'none', typ: 'JWT', kid: headerOf(session).kid })}.${p}.${s}`,
      'alg none with kid',
    )

    // HS256 "signed" with the control plane's public key, the classic algorithm confusion.
    const { keys } = await world.cp.admin.auth.getJWKS()
    const jwk = keys.find((k) => k.kid === headerOf(session).kid)!
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' })
    const hsHeader = b64({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })
    const hsSig = createHmac('sha256', pem).update(`${hsHeader}.${p}`).digest('base64url')
    await refused(`${hsHeader}.${p}.${hsSig}`, 'HS256 with the public key')

    // Signed by a key the control plane never published: unknown kid, and unknown signer.
    const forger = await generateKeyPair('RS256')
    const forge = (extra: Record<string, unknown>, kid = 'sk_forged') =>
      new SignJWT({ ...claims, ...extra })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .sign(forger.privateKey)
    for (let i = 0; i < 20; i++) await refused(await forge({}, `sk_forged_${i}`), 'unknown key')
    await refused(await forge({}, jwk.kid), 'known kid, wrong key')

    // A dataplane key is valid but may not send inference traffic.
    await refused(world.cp.dataplaneKey, 'dataplane key', 'permission_denied')

    // Twenty unknown kids cost at most one JWKS fetch (rate limited), never a storm.
    const unknownKidFetches = await world.dp.metric('agentrouter_dp_jwks_refreshes_total', {
      trigger: 'unknown_kid',
    })
    assert.ok((unknownKidFetches ?? 0) <= 1, `${unknownKidFetches} unknown-kid fetches`)

    assert.equal((await chat(world.dp.url, session)).status, 200, 'the real token still works')
    assert.equal((await fetch(`${world.dp.url}/healthz`)).status, 200)
    assert.equal(world.dp.process.child.exitCode, null)
  })

  it('refuses a token once it has expired, even one it had cached', async () => {
    const { sessionToken } = await world.cp.login('alice@example.com')
    const exp = payloadOf(sessionToken).exp as number
    assert.equal((await chat(world.dp.url, sessionToken)).status, 200)
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 50))
    await refused(sessionToken, 'expired')
  })

  it('refuses tokens of another issuer or audience', async () => {
    const [wrongIssuer, wrongAudience] = await Promise.all([
      world.dataplane({ env: { AGENTROUTER_TOKEN_ISSUER: 'someone-else' } }),
      world.dataplane({ env: { AGENTROUTER_TOKEN_AUDIENCE: 'another-service' } }),
    ])
    for (const dp of [wrongIssuer, wrongAudience]) {
      const res = await chat(dp.url, alice.apiKey)
      assert.equal(res.status, 401, res.text)
    }
    assert.equal((await chat(world.dp.url, alice.apiKey)).status, 200)
  })
})
