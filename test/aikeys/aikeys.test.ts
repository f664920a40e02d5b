/**
 * BYOK AI keys: register (metadata only; the plaintext lives in the secret service under realm
 * `byok`, owner `system`), list, revoke (revoked for good: `ai_key` entry in the revocation list
 * and stream, `?wait=enforced`, later value fetches `permission_denied`), and the dataplanes'
 * resolution: the caller's user-scoped key, else the project's key, newest first.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '../../shared/client/index.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { rejectsWith } from '../support/http.ts'
import { withDatabase } from '../support/secrets-db.ts'
import { listenToStream } from '../support/stream-listener.ts'

const ULID = '[0-9A-HJKMNP-TV-Z]{26}'

describe('AI keys', () => {
  let cp: TestControlPlane
  let alice: LoginResult
  let bob: LoginResult
  let dataplane: Client

  before(async () => {
    cp = await startControlPlane()
    ;[alice, bob] = await Promise.all([cp.login('alice@example.com'), cp.login('bob@example.com')])
    await cp.admin.admin.setMember(alice.customerId, alice.projectId, bob.identityId, 'member')
    dataplane = cp.client(cp.dataplaneKey)
  })
  after(() => cp?.stop())

  const resolve = (identityId: string, provider: string, projectId?: string, customerId?: string) =>
    dataplane.internal.resolveProviderKey({
      identityId,
      provider,
      ...(projectId ? { projectId } : {}),
      ...(customerId ? { customerId } : {}),
    })

  it('registers a key and answers with its metadata; the plaintext goes to the secret service', async () => {
    const before = Date.now()
    const { key } = await alice.client.aikeys.register(
      '-',
      '-',
      'PROVIDER_ANTHROPIC',
      'claude prod',
      'sk-ant-abcd9876',
    )
    assert.match(key.id, new RegExp(`^byok_${ULID}$`))
    assert.equal(key.customer_id, alice.customerId, "'-' is the caller's default customer")
    assert.equal(key.project_id, alice.projectId, "'-' is the caller's default project")
    assert.equal(key.provider, 'anthropic')
    assert.equal(key.name, 'claude prod')
    assert.equal(key.display_suffix, '9876')
    assert.equal(key.user_scope, false)
    assert.equal(key.owner_id, alice.identityId)
    assert.ok(Date.parse(key.created_at) >= before - 1000)
    assert.equal(key.updated_at, key.created_at)
    assert.equal(key.revoked_at, undefined)
    assert.ok(!JSON.stringify(key).includes('sk-ant-abcd9876'))

    const stored = (await cp.admin.secret.getSecret({ name: key.id, realm: 'byok' })).secret
    assert.equal(stored.user_id, 'system')
    assert.equal(stored.realm, 'byok')
    await rejectsWith(
      cp.admin.secret.getSecretValue({ name: key.id, realm: 'byok' }),
      'permission_denied',
      'realm',
    )
    assert.equal(
      (await resolve(alice.identityId, 'anthropic')).secret,
      'sk-ant-abcd9876',
      'only BYOK resolution reads it; neither value nor the AI-keys endpoints answer with it',
    )
    assert.deepEqual((await alice.client.aikeys.get('-', '-', key.id)).key, key)
    await rejectsWith(alice.client.aikeys.get('-', '-', 'byok_01J00000000000000000000000'), 'not_found')
  })

  it('lists the project keys and the caller’s own user-scoped keys, revoked ones with revoked_at', async () => {
    const shared = (await alice.client.aikeys.register('-', '-', 'openai', 'listed shared', 'sk-shared-1111'))
      .key
    const bobs = (
      await bob.client.aikeys.register(
        alice.customerId,
        alice.projectId,
        'openai',
        'bob own',
        'sk-bob-2222',
        true,
      )
    ).key
    const alices = (
      await alice.client.aikeys.register('-', '-', 'openai', 'alice own', 'sk-alice-3333', true)
    ).key
    await alice.client.aikeys.revoke('-', '-', alices.id)

    const forBob = (await bob.client.aikeys.list(alice.customerId, alice.projectId)).keys.map((k) => k.id)
    assert.ok(forBob.includes(shared.id) && forBob.includes(bobs.id))
    assert.ok(!forBob.includes(alices.id), "another user's user-scoped key is not listed")
    const forAlice = (await alice.client.aikeys.list('-', '-')).keys
    assert.ok(!forAlice.some((k) => k.id === bobs.id))
    const revoked = forAlice.find((k) => k.id === alices.id)
    assert.ok(revoked?.revoked_at, 'revoked keys are listed with revoked_at')
  })

  it('resolves the caller’s user-scoped key first, else the project key, newest first', async () => {
    // A project of its own, so that no other test's keys apply.
    const customerId = (await cp.admin.admin.createCustomer('resolution corp')).customer.id
    const projectId = (await cp.admin.admin.createProject(customerId, 'resolution')).project.id
    await cp.admin.admin.setMember(customerId, projectId, alice.identityId, 'owner')
    await cp.admin.admin.setMember(customerId, projectId, bob.identityId, 'member')
    const register = (name: string, secret: string) =>
      alice.client.aikeys.register(customerId, projectId, 'openai', name, secret).then((r) => r.key)
    const older = await register('older', 'sk-project-older')
    const newer = await register('newer', 'sk-project-newer')
    const bobOwn = (
      await bob.client.aikeys.register(customerId, projectId, 'openai', 'bob resolve', 'sk-bob-own', true)
    ).key

    const forAlice = await resolve(alice.identityId, 'openai', projectId, customerId)
    assert.equal(forAlice.key.id, newer.id, 'newest project key; not bob’s user-scoped key')
    assert.equal(forAlice.secret, 'sk-project-newer')
    const forBob = await resolve(bob.identityId, 'PROVIDER_OPENAI', projectId, customerId)
    assert.equal(forBob.key.id, bobOwn.id, 'bob’s own user-scoped key wins')
    assert.equal(forBob.secret, 'sk-bob-own')

    await bob.client.aikeys.revoke(customerId, projectId, bobOwn.id)
    assert.equal((await resolve(bob.identityId, 'openai', projectId, customerId)).key.id, newer.id)
    await alice.client.aikeys.revoke(customerId, projectId, newer.id)
    const fallback = await resolve(alice.identityId, 'openai', projectId, customerId)
    assert.equal(fallback.key.id, older.id)
    assert.equal(fallback.secret, 'sk-project-older')

    // Absent customer and project (or '-'): the identity's default project, here alice's own.
    const own = (await alice.client.aikeys.register('-', '-', 'openai', 'own default', 'sk-own-default')).key
    assert.equal((await resolve(alice.identityId, 'openai')).key.id, own.id)
    assert.equal((await resolve(alice.identityId, 'openai', '-', '-')).key.id, own.id)

    const reads = withDatabase(cp.dataDir, (db) =>
      db.prepare("SELECT purpose, outcome FROM secret_reads WHERE purpose = 'byok_resolve'").all(),
    )
    assert.ok(reads.length >= 4, 'every resolution is audited')
  })

  it('answers failed_precondition naming provider and project when no key applies', async () => {
    const carol = await cp.login('carol@example.com')
    const err = await rejectsWith(resolve(carol.identityId, 'anthropic'), 'failed_precondition', 'provider')
    assert.match(err.message, /anthropic/)
    assert.ok(err.message.includes(carol.projectId), err.message)
    assert.deepEqual(
      err.details.map((d) => [d.provider, d.project_id]),
      [['anthropic', carol.projectId]],
    )
  })

  it('resolves only for members of the project, and only for dataplane keys', async () => {
    const { customerId, projectId } = alice
    const dave = await cp.login('dave@example.com')
    await rejectsWith(resolve(dave.identityId, 'openai', projectId, customerId), 'permission_denied')
    await rejectsWith(
      cp.admin.internal.resolveProviderKey({ identityId: alice.identityId, provider: 'openai' }),
      'permission_denied',
    )
    const prompt = cp.client((await alice.client.me.issueKey('alice prompt')).secret)
    await rejectsWith(
      prompt.internal.resolveProviderKey({ identityId: alice.identityId, provider: 'openai' }),
      'permission_denied',
    )
    await rejectsWith(
      alice.client.internal.resolveProviderKey({ identityId: alice.identityId, provider: 'openai' }),
      'permission_denied',
    )
    await rejectsWith(resolve('usr_01J00000000000000000000000', 'openai'), 'not_found')
  })

  it('revokes for good: revoked_at, an ai_key revocation entry on the list and stream, value refused', async () => {
    const listener = await listenToStream(cp.url, cp.dataplaneKey, 'aikeys-test')
    try {
      const { key } = await alice.client.aikeys.register(
        '-',
        '-',
        'openai',
        'to revoke',
        'sk-revoked-5555',
        true,
      )
      const before = await cp.admin.tokens.getRevocationList()
      const revoked = await alice.client.aikeys.revoke('-', '-', key.id, {
        wait: 'enforced',
        timeoutMs: 5_000,
      })
      assert.ok(revoked.key.revoked_at)
      assert.equal(revoked.key.updated_at, revoked.key.revoked_at)
      assert.equal(revoked.enforcement?.status, 'enforced', JSON.stringify(revoked.enforcement))
      assert.equal(revoked.enforcement?.cursor, revoked.key.revoked_at)

      const list = await cp.admin.tokens.getRevocationList({ since: before.snapshot_at })
      assert.deepEqual(
        list.revocations.map((r) => [r.jti, r.kind, r.revoked_at]),
        [[key.id, 'ai_key', revoked.key.revoked_at]],
      )
      const message = await listener.waitFor((m) => m.type === 'revocation' && m.revocation.jti === key.id)
      assert.equal(message.type === 'revocation' && message.revocation.kind, 'ai_key')
      await listener.waitFor((m) => m.type === 'secret_changed' && m.realm === 'byok' && m.name === key.id)

      await rejectsWith(cp.admin.secret.getSecretValue({ name: key.id, realm: 'byok' }), 'permission_denied')
      await rejectsWith(dataplane.secret.getSecretValue({ name: key.id, realm: 'byok' }), 'permission_denied')
      const again = await alice.client.aikeys.revoke('-', '-', key.id)
      assert.equal(again.key.revoked_at, revoked.key.revoked_at, 'revoking twice changes nothing')
      const after = await cp.admin.tokens.getRevocationList({ since: before.snapshot_at })
      assert.equal(after.total_count, 1, 'and adds no second entry')
      const material = withDatabase(cp.dataDir, (db) =>
        db
          .prepare(
            'SELECT COUNT(*) FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = ? AND v.ciphertext IS NOT NULL',
          )
          .pluck()
          .get(key.id),
      )
      assert.equal(material, 0, 'the stored plaintext is destroyed')
    } finally {
      listener.close()
    }
  })
})
