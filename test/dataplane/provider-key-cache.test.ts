import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RevocationSet } from '../../dataplane/auth/revocation-set.ts'
import {
  type ProviderKey,
  ProviderKeyCache,
  type ResolveRequest,
} from '../../dataplane/byok/provider-key-cache.ts'
import { ApiError } from '../../shared/errors.ts'
import { newId } from '../../shared/ids.ts'
import type { TokenClaims } from '../../shared/tokens/claims.ts'

const claims = {
  sub: newId('identity'),
  cid: newId('customer'),
  pid: newId('project'),
} as TokenClaims

function fakeResolver() {
  const calls: ResolveRequest[] = []
  let answer: () => Promise<{ key: { id: string; project_id: string; user_scope: boolean }; secret: string }>
  const keyId = newId('aiKey')
  answer = async () => {
    await new Promise((r) => setTimeout(r, 20))
    return { key: { id: keyId, project_id: claims.pid!, user_scope: false }, secret: 'sk-one' }
  }
  return {
    calls,
    keyId,
    set(next: typeof answer) {
      answer = next
    },
    resolve: (req: ResolveRequest) => {
      calls.push(req)
      return answer()
    },
  }
}

describe('ProviderKeyCache', () => {
  it('shares one resolution among concurrent misses, then answers from the cache', async () => {
    const fake = fakeResolver()
    const events: string[] = []
    const cache = new ProviderKeyCache(fake.resolve, new RevocationSet(), {
      ttlMs: 60_000,
      maxEntries: 100,
      observe: (e) => events.push(e),
    })
    const keys = await Promise.all(Array.from({ length: 50 }, () => cache.get(claims, 'openai')))
    assert.equal(fake.calls.length, 1)
    assert.deepEqual(fake.calls[0], {
      customerId: claims.cid,
      projectId: claims.pid,
      identityId: claims.sub,
      provider: 'openai',
    })
    assert.ok(keys.every((k) => k.secret === 'sk-one'))
    const hit = cache.get(claims, 'openai')
    assert.ok(!(hit instanceof Promise), 'a hit is synchronous')
    assert.equal((hit as ProviderKey).secret, 'sk-one')
    assert.equal(events.filter((e) => e === 'hit').length, 1)
    await cache.get(claims, 'anthropic')
    assert.equal(fake.calls.length, 2, 'another provider is another entry')
  })

  it('drops entries when their AI key is revoked or its secret changes', async () => {
    const fake = fakeResolver()
    const cache = new ProviderKeyCache(fake.resolve, new RevocationSet(), { ttlMs: 60_000, maxEntries: 100 })
    await cache.get(claims, 'openai')
    cache.evictKey(fake.keyId)
    assert.ok(cache.get(claims, 'openai') instanceof Promise, 'resolved again')
  })

  it('does not keep a key revoked while it was being resolved', async () => {
    const fake = fakeResolver()
    const revoked = new RevocationSet()
    const cache = new ProviderKeyCache(fake.resolve, revoked, { ttlMs: 60_000, maxEntries: 100 })
    const second = newId('aiKey')
    let n = 0
    fake.set(async () => {
      n++
      if (n === 1) {
        revoked.add(fake.keyId) // revoked while the first answer is on its way
        return { key: { id: fake.keyId, project_id: claims.pid!, user_scope: false }, secret: 'sk-revoked' }
      }
      return { key: { id: second, project_id: claims.pid!, user_scope: false }, secret: 'sk-second' }
    })
    const key = await cache.get(claims, 'openai')
    assert.equal(key.secret, 'sk-second')
    assert.equal(fake.calls.length, 2)
  })

  it('never serves stale an entry evicted while its re-resolution was in flight (its secret rotated)', async () => {
    const fake = fakeResolver()
    const cache = new ProviderKeyCache(fake.resolve, new RevocationSet(), { ttlMs: 1, maxEntries: 100 })
    await cache.get(claims, 'openai')
    await new Promise((r) => setTimeout(r, 5))
    fake.set(async () => {
      await new Promise((r) => setTimeout(r, 20))
      throw new ApiError('unavailable', 'control plane down')
    })
    const refetch = cache.get(claims, 'openai')
    assert.ok(refetch instanceof Promise, 'past its TTL: resolved again')
    cache.evictKey(fake.keyId) // secret_changed arrives while that resolution is on its way
    await assert.rejects(Promise.resolve(refetch), (err: ApiError) => err.code === 'unavailable')
  })

  it('serves an expired entry while the control plane is unreachable, and names provider and project when there is no key', async () => {
    const fake = fakeResolver()
    const cache = new ProviderKeyCache(fake.resolve, new RevocationSet(), { ttlMs: 1, maxEntries: 100 })
    await cache.get(claims, 'openai')
    await new Promise((r) => setTimeout(r, 5))
    fake.set(async () => {
      throw new ApiError('unavailable', 'control plane down')
    })
    assert.equal((await cache.get(claims, 'openai')).secret, 'sk-one')
    fake.set(async () => {
      throw new ApiError('failed_precondition', 'no key', [{ description: 'x', project_id: claims.pid }])
    })
    await assert.rejects(Promise.resolve(cache.get(claims, 'openai')), (err: ApiError) => {
      assert.equal(err.code, 'failed_precondition')
      assert.match(err.message, /openai/)
      assert.ok(err.message.includes(claims.pid!))
      return true
    })
    await assert.rejects(
      Promise.resolve(cache.get(claims, 'anthropic')),
      (err: ApiError) => err.code === 'failed_precondition',
    )
    fake.set(async () => {
      throw new ApiError('unavailable', 'control plane down again')
    })
    await assert.rejects(
      Promise.resolve(cache.get(claims, 'openai')),
      (err: ApiError) => err.code === 'unavailable',
      'an entry the control plane disowned is not served stale',
    )
  })
})
