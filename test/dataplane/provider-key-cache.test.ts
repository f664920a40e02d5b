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
  jti: newId('apiKey'),
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
      credentialJti: claims.jti,
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

  it('drops the entries of a member who left a project (their default-project entries too), and no one else’s', async () => {
    const project = newId('project')
    const other = newId('project')
    const leaver = newId('identity')
    const stayer = newId('identity')
    const calls: ResolveRequest[] = []
    const cache = new ProviderKeyCache(
      async (req) => {
        calls.push(req)
        // A token without a project resolves in the identity's default project.
        const projectId = req.projectId ?? project
        return { key: { id: `byok-${projectId}`, project_id: projectId, user_scope: false }, secret: 'sk' }
      },
      new RevocationSet(),
      { ttlMs: 60_000, maxEntries: 100 },
    )
    const tokens = {
      leaverInProject: { sub: leaver, pid: project } as TokenClaims,
      leaverByDefault: { sub: leaver } as TokenClaims,
      leaverElsewhere: { sub: leaver, pid: other } as TokenClaims,
      stayerInProject: { sub: stayer, pid: project } as TokenClaims,
    }
    for (const t of Object.values(tokens)) await cache.get(t, 'openai')
    await cache.get(tokens.leaverInProject, 'anthropic')
    assert.equal(calls.length, 5)

    cache.evictMembership(project, leaver)
    const cached = (t: TokenClaims, provider: 'openai' | 'anthropic' = 'openai') =>
      !(cache.get(t, provider) instanceof Promise)
    assert.equal(cached(tokens.leaverInProject), false, 'resolved again')
    assert.equal(cached(tokens.leaverInProject, 'anthropic'), false, 'every provider')
    assert.equal(cached(tokens.leaverByDefault), false, 'resolved in that project through the default')
    assert.equal(cached(tokens.leaverElsewhere), true, 'another project is untouched')
    assert.equal(cached(tokens.stayerInProject), true, 'another member is untouched')
    await new Promise((r) => setTimeout(r, 0))

    cache.evictMembership(project)
    assert.equal(cached(tokens.stayerInProject), false, 'no identity: the whole project')
    assert.equal(cached(tokens.leaverElsewhere), true)
  })

  it('expires every entry on expireAll (resolved again), yet serves it stale while the control plane is unreachable', async () => {
    const fake = fakeResolver()
    const cache = new ProviderKeyCache(fake.resolve, new RevocationSet(), { ttlMs: 60_000, maxEntries: 100 })
    await cache.get(claims, 'openai')
    assert.ok(!(cache.get(claims, 'openai') instanceof Promise))
    cache.expireAll()
    const again = cache.get(claims, 'openai')
    assert.ok(again instanceof Promise, 'resolved again')
    await again
    assert.equal(fake.calls.length, 2)
    assert.ok(!(cache.get(claims, 'openai') instanceof Promise), 'and cached again')

    cache.expireAll()
    fake.set(async () => {
      throw new ApiError('unavailable', 'control plane down')
    })
    assert.equal((await cache.get(claims, 'openai')).secret, 'sk-one', 'the outage rule still applies')
    assert.equal(cache.size, 1)
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

  it('keys a request-selected project apart: resolved by project alone, cached per project, evicted with its membership', async () => {
    const other = newId('project')
    const calls: ResolveRequest[] = []
    const cache = new ProviderKeyCache(
      async (req) => {
        calls.push(req)
        const project = req.projectId!
        return {
          key: { id: `byok_${project}`, project_id: project, user_scope: false },
          secret: `sk-${project}`,
        }
      },
      new RevocationSet(),
      { ttlMs: 60_000, maxEntries: 100 },
    )
    assert.equal((await cache.get(claims, 'openai')).secret, `sk-${claims.pid}`)
    assert.equal((await cache.get(claims, 'openai', other)).secret, `sk-${other}`)
    assert.deepEqual(calls[1], {
      customerId: undefined,
      projectId: other,
      identityId: claims.sub,
      provider: 'openai',
      credentialJti: claims.jti,
    })
    // Both cached, each its own.
    assert.equal((cache.get(claims, 'openai', other) as ProviderKey).secret, `sk-${other}`)
    assert.equal((cache.get(claims, 'openai') as ProviderKey).secret, `sk-${claims.pid}`)
    assert.equal(cache.size, 2)
    cache.evictMembership(other, claims.sub)
    assert.ok(cache.get(claims, 'openai', other) instanceof Promise, 'the selected project resolved again')
    assert.ok(!(cache.get(claims, 'openai') instanceof Promise), "the token's project still cached")
  })
})
