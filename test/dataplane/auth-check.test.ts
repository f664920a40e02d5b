import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { AuthCheck } from '../../dataplane/auth/auth-check.ts'
import { RevocationSet } from '../../dataplane/auth/revocation-set.ts'
import { KeySet } from '../../dataplane/sync/key-set.ts'
import { newId } from '../../shared/ids.ts'
import { createLogger } from '../../shared/logger.ts'
import { TokenVerifier } from '../../shared/tokens/verifier.ts'

const quiet = createLogger({ level: 'error', write: () => {} })
const NOW = 1_900_000_000 // epoch seconds, fixed

async function signer(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  const sign = (claims: Record<string, unknown> = {}) =>
    new SignJWT({
      iss: 'agentrouter',
      aud: 'agentrouter',
      sub: 'usr_01J00000000000000000000000',
      jti: `key_${Math.random().toString(36).slice(2)}`,
      iat: NOW - 10,
      nbf: NOW - 10,
      exp: NOW + 600,
      use: 'api_key',
      scope: 'inference account',
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .sign(privateKey)
  return { jwk, sign }
}

async function setup(options: { leeway?: number } = {}) {
  const k1 = await signer('k1')
  const verifier = new TokenVerifier({
    issuer: 'agentrouter',
    audience: 'agentrouter',
    algorithms: ['RS256'],
    clockToleranceSec: options.leeway ?? 0,
  })
  await verifier.setKeySet({ keys: [k1.jwk] })
  const revoked = new RevocationSet()
  const unknownKids: string[] = []
  const check = new AuthCheck(verifier, revoked, {
    cacheSize: 100,
    onUnknownKey: (kid) => unknownKids.push(kid),
  })
  return { k1, verifier, revoked, check, unknownKids }
}

const jtiOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti

describe('AuthCheck', () => {
  it('answers a cached token with the same entry until its exp, and never after', async () => {
    const { k1, check } = await setup()
    const token = await k1.sign()
    const first = check.check(token, NOW * 1000)
    assert.equal(first.ok, true)
    assert.equal(check.check(token, NOW * 1000 + 1), first, 'a hit returns the cached entry itself')
    assert.equal(check.check(token, (NOW + 600) * 1000 - 1), first)
    const expired = check.check(token, (NOW + 600) * 1000 + 1)
    assert.equal(expired.ok, false)
    assert.equal(!expired.ok && expired.reason, 'expired')
    assert.equal(check.cachedTokens, 0)
  })

  it('evicts a cached token the moment its JTI is revoked', async () => {
    const { k1, check, revoked } = await setup()
    const token = await k1.sign()
    assert.equal(check.check(token, NOW * 1000).ok, true)
    assert.equal(check.cachedTokens, 1)
    revoked.add(jtiOf(token), NOW + 600, NOW)
    assert.equal(check.cachedTokens, 0)
    const outcome = check.check(token, NOW * 1000)
    assert.equal(!outcome.ok && outcome.reason, 'revoked')
    assert.equal(!outcome.ok && outcome.code, 'unauthenticated')
  })

  it('refuses a cached token whose JTI arrives in a bulk load (a full snapshot) once it is flushed', async () => {
    const { k1, check, revoked } = await setup()
    const jti = newId('apiKey')
    const token = await k1.sign({ jti })
    const other = await k1.sign()
    assert.equal(check.check(token, NOW * 1000).ok, true)
    assert.equal(check.check(other, NOW * 1000).ok, true)
    const load = revoked.bulkLoad(NOW)
    const bytes = Buffer.from(jti, 'latin1')
    load.addBytes(bytes, 0, bytes.length, NOW + 600)
    load.flush()
    const outcome = check.check(token, NOW * 1000)
    assert.equal(!outcome.ok && outcome.reason, 'revoked')
    assert.equal(check.check(other, NOW * 1000).ok, true, 'a token not revoked is verified again and served')
    assert.equal(load.end(), 1)
  })

  it('refuses a revoked token again without verifying it: revocation is permanent', async () => {
    const { k1, verifier, check, revoked } = await setup()
    const cachedThenRevoked = await k1.sign()
    const revokedBeforeSeen = await k1.sign()
    assert.equal(check.check(cachedThenRevoked, NOW * 1000).ok, true)
    revoked.add(jtiOf(cachedThenRevoked), NOW + 600, NOW)
    revoked.add(jtiOf(revokedBeforeSeen), NOW + 600, NOW)
    const first = check.check(revokedBeforeSeen, NOW * 1000)
    assert.equal(!first.ok && first.reason, 'revoked')
    // With no keys left a verify could only answer no_keys: `revoked` shows no verify ran.
    await verifier.setKeySet({ keys: [] })
    for (const token of [cachedThenRevoked, revokedBeforeSeen]) {
      const again = check.check(token, NOW * 1000)
      assert.equal(!again.ok && again.reason, 'revoked')
      assert.equal(!again.ok && again.code, 'unauthenticated')
    }
    const fresh = check.check(await k1.sign(), NOW * 1000)
    assert.equal(!fresh.ok && fresh.reason, 'no_keys', 'other tokens still go to the verifier')
  })

  it('a token sharing a cached token’s signature end, but not the rest, is verified, not served from the cache', async () => {
    const { k1, check, revoked } = await setup()
    const token = await k1.sign()
    const [header, payload, signature] = token.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'usr_01JFORGED000000000000000000' })).toString('base64url')}.${signature}`
    assert.equal(forged.slice(-43), token.slice(-43))
    assert.equal(check.check(token, NOW * 1000).ok, true)
    const outcome = check.check(forged, NOW * 1000)
    assert.equal(!outcome.ok && outcome.reason, 'signature')
    // A revoked token's refusal is not given to another token with its end either.
    revoked.add(jtiOf(token), NOW + 600, NOW)
    const other = check.check(forged, NOW * 1000)
    assert.equal(!other.ok && other.reason, 'signature')
    assert.equal(check.cachedTokens, 0)
  })

  it('refuses a second spelling of a token (base64url has spare trailing bits) as malformed', async () => {
    const { k1, check, revoked } = await setup()
    const token = await k1.sign()
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(token.at(-1)!)
    // The last of 342 signature characters carries 2 bits; the other 4 decode to nothing.
    const variant = token.slice(0, -1) + alphabet[(last & 0b110000) | (~last & 0b1111)]
    assert.notEqual(variant, token)
    assert.equal(check.check(token, NOW * 1000).ok, true)
    const outcome = check.check(variant, NOW * 1000)
    assert.equal(!outcome.ok && outcome.reason, 'malformed', 'the same signature, spelled differently')
    assert.equal(check.cachedTokens, 1)
    revoked.add(jtiOf(token), NOW + 600, NOW)
    assert.equal(check.cachedTokens, 0)
    assert.equal(check.check(token, NOW * 1000).ok, false)
  })

  it('refuses a token without the inference scope as permission_denied', async () => {
    const { k1, check } = await setup()
    const outcome = check.check(await k1.sign({ scope: 'revocations/read byok/resolve' }), NOW * 1000)
    assert.equal(!outcome.ok && outcome.code, 'permission_denied')
  })

  it('reports an unknown kid, and is unavailable (not unauthenticated) with no key set', async () => {
    const { check, unknownKids } = await setup()
    const stranger = await signer('k-new')
    const outcome = check.check(await stranger.sign(), NOW * 1000)
    assert.equal(!outcome.ok && outcome.reason, 'unknown_key')
    assert.deepEqual(unknownKids, ['k-new'])

    const empty = new AuthCheck(
      new TokenVerifier({ issuer: 'agentrouter', audience: 'agentrouter' }),
      new RevocationSet(),
    )
    const none = empty.check(await stranger.sign(), NOW * 1000)
    assert.equal(!none.ok && none.code, 'unavailable')
    assert.equal(!none.ok && none.reason, 'no_keys')
  })

  it('fails closed past the freshness bound, cached tokens included', async () => {
    const { k1, check } = await setup()
    const token = await k1.sign()
    assert.equal(check.check(token, NOW * 1000).ok, true)
    check.setFreshUntil(NOW * 1000 + 5)
    assert.equal(check.check(token, NOW * 1000 + 5).ok, true)
    const stale = check.check(token, NOW * 1000 + 6)
    assert.equal(!stale.ok && stale.code, 'unavailable')
    assert.equal(!stale.ok && stale.reason, 'stale')
  })
})

describe('KeySet', () => {
  it('turns many unknown kids into one fetch, rate limited, and keeps the last good set when a fetch fails', async () => {
    const k1 = await signer('k1')
    const k2 = await signer('k2')
    const verifier = new TokenVerifier({ issuer: 'agentrouter', audience: 'agentrouter' })
    let fetches = 0
    let serve: () => Promise<{ keys: JWK[] }> = async () => ({ keys: [k1.jwk] })
    const keys = new KeySet(
      () => {
        fetches++
        return serve()
      },
      verifier,
      { refreshMs: 3_600_000, minIntervalMs: 1_000 },
      quiet,
    )
    await keys.refresh('start')
    assert.equal(fetches, 1)

    serve = async () => {
      await new Promise((r) => setTimeout(r, 20))
      return { keys: [k1.jwk, k2.jwk] }
    }
    for (let i = 0; i < 100; i++) keys.unknownKey(`kid-${i}`, 10_000)
    assert.ok(keys.pending, 'a fetch is running, which a request may wait for')
    await keys.pending
    assert.equal(fetches, 2, 'one fetch for a hundred unknown kids')
    assert.ok(verifier.hasKey('k2'))
    keys.unknownKey('kid-x', 10_500)
    assert.equal(fetches, 2, 'rate limited')
    keys.unknownKey('kid-y', 11_001)
    await keys.pending
    assert.equal(fetches, 3, 'allowed again after the interval')

    serve = async () => {
      throw new Error('control plane down')
    }
    assert.equal(await keys.refresh('periodic'), false)
    assert.ok(verifier.hasKey('k1') && verifier.hasKey('k2'), 'the last good set stays')
    assert.equal(verifier.verify(await k2.sign(), NOW).ok, true)
  })
})

describe('RevocationSet', () => {
  it('holds prefixed ULIDs compactly and anything else as it is, telling them all apart', () => {
    const set = new RevocationSet()
    const ids = Array.from({ length: 20_000 }, (_, i) =>
      newId((['apiKey', 'session', 'aiKey'] as const)[i % 3]!),
    )
    for (const id of ids) assert.equal(set.add(id, NOW + 3600, NOW), true)
    assert.equal(set.size, ids.length)
    for (const id of ids) assert.ok(set.has(id), id)
    // Same 26 characters under another prefix, one character off, lower case: all different JTIs.
    const [one] = ids as [string]
    const body = one.slice(one.indexOf('_') + 1)
    assert.ok(!set.has(`${one.startsWith('key_') ? 'ses_' : 'key_'}${body}`))
    assert.ok(!set.has(one.slice(0, -1) + (one.endsWith('0') ? '1' : '0')))
    assert.ok(!set.has(one.toLowerCase()))
    assert.ok(!set.has(newId('apiKey')))
    assert.deepEqual(new Set(set.jtis()), new Set(ids))
  })

  it('bulk-loads JTIs from bytes: every shape, duplicates once, expired ones not, listeners told per flush', () => {
    const set = new RevocationSet()
    const perEntry: string[] = []
    let flushes = 0
    set.onAdded((jti) => perEntry.push(jti))
    set.onBulkAdded(() => flushes++)
    const ids = Array.from({ length: 5_000 }, (_, i) =>
      newId((['apiKey', 'session', 'aiKey'] as const)[i % 3]!),
    )
    const already = ids[7]!
    set.add(already, NOW + 3600, NOW)
    perEntry.length = 0
    const odd = ['sess_legacy', 'key_not-a-ulid', `key_${'Z'.repeat(26)}`, `ses_${'0'.repeat(25)}`]
    const gone = newId('apiKey')
    // One buffer, entries at offsets, as the snapshot decoder hands them over.
    const parts = [...ids, ...odd, ids[0]!, gone]
    const buf = Buffer.from(`#${parts.join('#')}`, 'latin1')
    const load = set.bulkLoad(NOW)
    let at = 1
    for (const jti of parts) {
      load.addBytes(buf, at, jti.length, jti === gone ? NOW - 86_400 : NOW + 3600)
      at += jti.length + 1
    }
    assert.equal(flushes, 0, 'nobody is told before a flush')
    assert.equal(load.end(), ids.length - 1 + odd.length, 'new ones only: no duplicate, nothing expired')
    assert.equal(flushes, 1)
    load.flush()
    assert.equal(flushes, 1, 'a flush with nothing new tells nobody')
    assert.deepEqual(perEntry, odd, 'only the JTIs kept as strings went through add')
    assert.equal(set.size, ids.length + odd.length)
    for (const id of [...ids, ...odd]) assert.ok(set.has(id), id)
    assert.ok(!set.has(gone))
    assert.ok(!set.has(ids[0]!.toLowerCase()))
    assert.deepEqual(new Set(set.jtis()), new Set([...ids, ...odd]))
  })

  it('prunes entries only once their credential has expired, with a margin', () => {
    const set = new RevocationSet()
    const added: string[] = []
    set.onAdded((jti) => added.push(jti))
    assert.equal(set.add('key_a', NOW + 10, NOW), true)
    assert.equal(set.add('key_a', NOW + 10, NOW), false, 'added once')
    assert.equal(set.add('key_b', NOW + 90_000, NOW), true)
    assert.equal(set.add('key_forever', undefined, NOW), true)
    const compact = newId('apiKey')
    assert.equal(set.add(compact, NOW + 10, NOW), true)
    assert.equal(set.add('key_long_gone', NOW - 86_400, NOW), false, 'already expired: not kept')
    assert.deepEqual(added, ['key_a', 'key_b', 'key_forever', compact])
    assert.equal(set.prune(NOW + 10 + 30), 0, 'a token within its leeway is still refused')
    assert.ok(set.has('key_a'))
    assert.equal(set.prune(NOW + 3 * 3600), 2)
    assert.ok(!set.has('key_a') && !set.has(compact))
    assert.ok(set.has('key_b') && set.has('key_forever'))
  })
})
