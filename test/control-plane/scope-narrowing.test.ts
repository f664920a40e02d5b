/**
 * No credential mints a credential with more power than it holds: a minted key carries its
 * type's scopes less those its minter lacks. An admin's session (no internal scope) mints admin
 * keys, through `POST /v1/me/keys` and `POST /v1/admin/keys`, that are admins but read no
 * plaintext and write no system realm, nor mint anything that does; the dataplane keys it mints
 * read the revocation list but resolve no provider key. The bootstrap admin key keeps the
 * internal scopes and passes them on to the admin and dataplane keys it mints.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '../../shared/client/index.ts'
import { SCOPE } from '../../shared/tokens/claims.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { decodeJwt, http, rejectsWith } from '../support/http.ts'
import { withDatabase } from '../support/secrets-db.ts'

const ROOT_EMAIL = 'root@example.com'
const INTERNAL = [SCOPE.secretsReadInternal, SCOPE.secretsWriteInternal, SCOPE.byokResolve]

const scopesOf = (key: string): string[] => (decodeJwt(key).payload.scope as string).split(' ').sort()

describe('scopes only narrow', () => {
  let cp: TestControlPlane
  let root: LoginResult
  let alice: LoginResult
  let bootstrapId: string

  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_ADMIN_EMAILS: ROOT_EMAIL })
    ;[root, alice] = await Promise.all([cp.login(ROOT_EMAIL), cp.login('alice@example.com')])
    bootstrapId = (await cp.admin.me.get()).identity.id
    await cp.admin.secret.createSecret({ name: 'webhook-token', value: 'whk-plaintext-1' })
    await alice.client.aikeys.register('-', '-', 'openai', 'alice prod', 'sk-alice-provider-1')
  })
  after(() => cp?.stop())

  const servedTo = (key: string): number =>
    withDatabase(cp.dataDir, (db) =>
      db
        .prepare("SELECT COUNT(*) FROM secret_reads WHERE credential_id = ? AND outcome = 'served'")
        .pluck()
        .get(decodeJwt(key).payload.jti),
    ) as number

  /** Everything a key minted from an admin session must not do; and the admin work it still does. */
  const assertAdminWithoutInternal = async (key: string, what: string) => {
    const scopes = scopesOf(key)
    for (const s of INTERNAL) assert.ok(!scopes.includes(s), `${what}: carries ${s}`)
    for (const s of [SCOPE.admin, SCOPE.account, SCOPE.inference, SCOPE.revocationsRead]) {
      assert.ok(scopes.includes(s), `${what}: lacks ${s}`)
    }
    const c = cp.client(key)
    await rejectsWith(
      c.secret.getSecretValue({ name: 'webhook-token', userId: bootstrapId }),
      'permission_denied',
    )
    await rejectsWith(
      c.secret.createSecret({ name: 'planted', value: 'x', userId: alice.identityId }),
      'permission_denied',
      'user_id',
    )
    await rejectsWith(
      c.secret.createSecret({ name: 'planted', realm: 'byok', value: 'x' }),
      'permission_denied',
      'realm',
    )
    assert.equal(servedTo(key), 0, `${what}: no plaintext served`)
    // Still an admin.
    const res = await http(cp.url, 'GET', '/v1/admin/dataplanes', { token: key })
    assert.equal(res.status, 200, `${what}: ${res.text}`)
    return c
  }

  it('an admin session mints admin keys without the internal scopes, through /v1/me/keys and /v1/admin/keys', async () => {
    const viaMe = await root.client.me.issueKey('root admin', { type: 'KEY_TYPE_ADMIN' })
    assert.equal(viaMe.key.type, 'KEY_TYPE_ADMIN')
    const viaAdmin = await root.client.admin.issueKey({ name: 'root service admin', type: 'KEY_TYPE_ADMIN' })
    // Scopes come from the minter, not from the identity the key is for.
    const asBootstrap = await root.client.admin.issueKey({
      name: 'as bootstrap',
      type: 'KEY_TYPE_ADMIN',
      identityId: bootstrapId,
    })
    assert.equal(asBootstrap.key.identity_id, bootstrapId)
    for (const [what, issued] of [
      ['via /v1/me/keys', viaMe],
      ['via /v1/admin/keys', viaAdmin],
      ['for the bootstrap identity', asBootstrap],
    ] as const) {
      const minted = await assertAdminWithoutInternal(issued.secret, what)
      // And what it mints holds no more than it does.
      const next = await minted.admin.issueKey({ name: `${what}, again`, type: 'KEY_TYPE_ADMIN' })
      await assertAdminWithoutInternal(next.secret, `${what}, minted by it`)
    }
  })

  it('a retried issue with the same idempotency key answers the same narrowed key', async () => {
    const first = await root.client.me.issueKey('idem admin', {
      type: 'KEY_TYPE_ADMIN',
      idempotencyKey: 'k-1',
    })
    const again = await root.client.me.issueKey('idem admin', {
      type: 'KEY_TYPE_ADMIN',
      idempotencyKey: 'k-1',
    })
    assert.equal(again.key.id, first.key.id)
    assert.equal(again.secret, first.secret)
    await assertAdminWithoutInternal(again.secret, 'replayed')
  })

  it('an admin session mints dataplane keys that read revocations but resolve no provider key', async () => {
    const minted = [
      (await root.client.me.issueKey('root dp', { type: 'KEY_TYPE_DATAPLANE' })).secret,
      (await root.client.admin.issueKey({ name: 'root dp 2', type: 'KEY_TYPE_DATAPLANE' })).secret,
    ]
    for (const key of minted) {
      assert.deepEqual(scopesOf(key), [SCOPE.revocationsRead])
      const dp: Client = cp.client(key)
      assert.ok(Array.isArray((await dp.tokens.getRevocationList()).revocations))
      await rejectsWith(
        dp.internal.resolveProviderKey({ identityId: alice.identityId, provider: 'openai' }),
        'permission_denied',
      )
      await rejectsWith(
        dp.secret.getSecretValue({ name: 'webhook-token', userId: bootstrapId }),
        'permission_denied',
      )
      assert.equal(servedTo(key), 0)
    }
  })

  it('the bootstrap admin key keeps the internal scopes and passes them on', async () => {
    for (const s of INTERNAL) assert.ok(scopesOf(cp.adminKey).includes(s), `bootstrap key: ${s}`)
    assert.equal(
      (await cp.admin.secret.getSecretValue({ name: 'webhook-token' })).value,
      'whk-plaintext-1',
      'the bootstrap key reads value outside the system realms',
    )

    const operator = await cp.admin.admin.issueKey({ name: 'operator', type: 'KEY_TYPE_ADMIN' })
    for (const s of INTERNAL) assert.ok(scopesOf(operator.secret).includes(s), `operator key: ${s}`)
    const op = cp.client(operator.secret)
    assert.equal(
      (await op.secret.getSecretValue({ name: 'webhook-token', userId: bootstrapId })).value,
      'whk-plaintext-1',
    )

    // A dataplane key minted by it resolves provider keys, as the bootstrap dataplane key does.
    const dpKey = (await op.admin.issueKey({ name: 'dp-eu-1', type: 'KEY_TYPE_DATAPLANE' })).secret
    assert.deepEqual(
      scopesOf(dpKey),
      [SCOPE.byokResolve, SCOPE.revocationsRead, SCOPE.secretsReadInternal].sort(),
    )
    for (const key of [dpKey, cp.dataplaneKey]) {
      const resolved = await cp
        .client(key)
        .internal.resolveProviderKey({ identityId: alice.identityId, provider: 'openai' })
      assert.equal(resolved.secret, 'sk-alice-provider-1')
    }
  })

  it('keys minted from any session keep the scopes the session holds', async () => {
    const prompt = await alice.client.me.issueKey('alice prompt')
    assert.deepEqual(scopesOf(prompt.secret), [SCOPE.account, SCOPE.inference].sort())
    assert.equal((await cp.client(prompt.secret).me.get()).identity.id, alice.identityId)
  })
})
