/**
 * API keys over HTTP: issue (secret shown once, usable as `Bearer $KEY` and `Bearer ak-$KEY`),
 * list with paging, revoke (permanent, repeatable without a second revocation), and idempotent
 * issue (one key per idempotency_key, even under concurrent retries, its secret kept one day).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ApiKey } from '../../shared/contract/me.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, decodeJwt, http, rejectsWith, tableCounts } from '../support/http.ts'
import { withDatabase } from '../support/secrets-db.ts'

describe('API keys', () => {
  let cp: TestControlPlane
  let alice: LoginResult

  /** Every key of the caller, following next_page_token. */
  async function allKeys(user: LoginResult, pageSize = 50): Promise<ApiKey[]> {
    const keys: ApiKey[] = []
    let pageToken: string | undefined
    do {
      const page = await user.client.me.listKeys({ pageSize, ...(pageToken ? { pageToken } : {}) })
      keys.push(...page.keys)
      pageToken = page.page.next_page_token || undefined
    } while (pageToken)
    return keys
  }

  before(async () => {
    cp = await startControlPlane()
    alice = await cp.login('alice@example.com')
  })
  after(() => cp?.stop())

  it('issues a prompt key whose secret is shown once and works as Bearer $KEY and Bearer ak-$KEY', async () => {
    const issued = await alice.client.me.issueKey('laptop')
    assert.match(issued.key.id, /^key_[0-9A-HJKMNP-TV-Z]{26}$/)
    assert.equal(issued.key.name, 'laptop')
    assert.equal(issued.key.type, 'KEY_TYPE_PROMPT')
    assert.equal(issued.key.state, 'KEY_STATE_ACTIVE')
    assert.equal(issued.key.identity_id, alice.identityId)
    assert.ok(Date.parse(issued.key.expires_at) > Date.now() + 30 * 86_400_000, 'long-lived')
    assert.match(issued.secret, /^ak-eyJ[\w-]+\.[\w-]+\.[\w-]+$/)
    assert.ok(issued.key.prefix.length < 16, 'the prefix is a short, non-secret fragment')
    const { header, payload } = decodeJwt(issued.secret)
    assert.equal(payload.jti, issued.key.id)
    assert.equal(payload.sub, alice.identityId)
    assert.equal(payload.kt, 'KEY_TYPE_PROMPT')
    assert.equal(header.alg, 'RS256')

    for (const token of [issued.secret, `ak-${issued.secret}`, issued.secret.slice(3)]) {
      const me = await http(cp.url, 'GET', '/v1/me', { token })
      assert.equal(me.status, 200, me.text)
      assert.equal(me.body.identity.id, alice.identityId)
    }

    const listed = await allKeys(alice)
    const entry = listed.find((k) => k.id === issued.key.id)
    assert.deepEqual(entry, issued.key, 'listed with the same metadata')
    const listing = JSON.stringify(await http(cp.url, 'GET', '/v1/me/keys', { token: alice.sessionToken }))
    assert.ok(!listing.includes(issued.secret.split('.')[2]!), 'the secret is never listed')
  })

  it('treats KEY_TYPE_UNSPECIFIED and an absent type as KEY_TYPE_PROMPT', async () => {
    const a = await alice.client.me.issueKey('unspecified', { type: 'KEY_TYPE_UNSPECIFIED' })
    const b = await alice.client.me.issueKey('explicit', { type: 'KEY_TYPE_PROMPT' })
    assert.equal(a.key.type, 'KEY_TYPE_PROMPT')
    assert.equal(b.key.type, 'KEY_TYPE_PROMPT')
  })

  it('lists with page_size and page_token: every key once, in order, the last page has no token', async () => {
    const user = await cp.login('pager@example.com')
    const ids: string[] = []
    for (let i = 0; i < 7; i++) ids.push((await user.client.me.issueKey(`k${i}`)).key.id)

    const first = await http(cp.url, 'GET', '/v1/me/keys', {
      token: user.sessionToken,
      query: { page_size: '3' },
    })
    assert.equal(first.status, 200)
    assert.deepEqual(
      first.body.keys.map((k: ApiKey) => k.id),
      ids.slice(0, 3),
    )
    assert.ok(first.body.page.next_page_token)

    const paged = await allKeys(user, 3)
    assert.deepEqual(
      paged.map((k) => k.id),
      ids,
    )
    const exact = await allKeys(user, 7)
    assert.deepEqual(
      exact.map((k) => k.id),
      ids,
    )
    const whole = await user.client.me.listKeys()
    assert.deepEqual(
      whole.keys.map((k) => k.id),
      ids,
    )
    assert.equal(whole.page.next_page_token, '')
  })

  it('revokes a key for good: refused at once, listed as revoked, and a second revoke changes nothing', async () => {
    const issued = await alice.client.me.issueKey('to revoke')
    const before = await cp.admin.tokens.getRevocationList()

    const res = await http(cp.url, 'DELETE', `/v1/me/keys/${issued.key.id}`, { token: alice.sessionToken })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.key.state, 'KEY_STATE_REVOKED')
    assert.ok(res.body.key.revoked_at)
    assertError(await http(cp.url, 'GET', '/v1/me', { token: issued.secret }), 'unauthenticated')

    const listed = (await allKeys(alice)).find((k) => k.id === issued.key.id)
    assert.equal(listed?.state, 'KEY_STATE_REVOKED')

    const after1 = await cp.admin.tokens.getRevocationList({ since: before.snapshot_at })
    assert.deepEqual(
      after1.revocations.map((r) => [r.jti, r.kind]),
      [[issued.key.id, 'api_key']],
    )
    assert.equal(after1.revocations[0]!.revoked_at, res.body.key.revoked_at)

    const again = await http(cp.url, 'DELETE', `/v1/me/keys/${issued.key.id}`, { token: alice.sessionToken })
    assert.equal(again.status, 200, again.text)
    assert.equal(again.body.key.revoked_at, res.body.key.revoked_at)
    const after2 = await cp.admin.tokens.getRevocationList({ since: before.snapshot_at })
    assert.equal(after2.total_count, 1, 'revoking twice writes no second revocation')
  })

  it('answers not_found for a well-formed key id that does not exist', async () => {
    await rejectsWith(alice.client.me.revokeKey('key_01HZZZZZZZZZZZZZZZZZZZZZZZ'), 'not_found')
  })

  it('records when a key was last used, and keeps revocations across a restart', async () => {
    const used = await alice.client.me.issueKey('used')
    const revoked = await alice.client.me.issueKey('revoked before restart')
    const usedAt = Date.now()
    assert.equal((await http(cp.url, 'GET', '/v1/me', { token: used.secret })).status, 200)
    await alice.client.me.revokeKey(revoked.key.id)

    await cp.stop()
    cp = await startControlPlane({}, cp.dataDir)
    const list = await http(cp.url, 'GET', '/v1/me/keys', { token: alice.sessionToken })
    assert.equal(list.status, 200, 'the session outlives the restart')
    const byId = new Map((list.body.keys as ApiKey[]).map((k) => [k.id, k]))
    const lastUsed = byId.get(used.key.id)?.last_used_at
    assert.ok(lastUsed, 'last_used_at is recorded')
    assert.ok(Math.abs(Date.parse(lastUsed) - usedAt) < 5_000)
    assert.equal(byId.get(revoked.key.id)?.last_used_at, undefined, 'never used')
    assert.equal(byId.get(revoked.key.id)?.state, 'KEY_STATE_REVOKED')
    assertError(await http(cp.url, 'GET', '/v1/me', { token: revoked.secret }), 'unauthenticated')
    assert.equal((await http(cp.url, 'GET', '/v1/me', { token: used.secret })).status, 200)
    alice = { ...alice, client: cp.client(alice.sessionToken) }
  })

  describe('idempotent issue', () => {
    it('gives one key and the same secret for the same idempotency_key', async () => {
      const a = await alice.client.me.issueKey('ci', { idempotencyKey: 'deploy-42' })
      const b = await alice.client.me.issueKey('ci', { idempotencyKey: 'deploy-42' })
      assert.equal(b.key.id, a.key.id)
      assert.equal(b.secret, a.secret)
      const named = (await allKeys(alice)).filter((k) => k.name === 'ci')
      assert.equal(named.length, 1)
      assert.equal((await http(cp.url, 'GET', '/v1/me', { token: b.secret })).status, 200)
    })

    it('refuses the same idempotency_key with a different body, naming idempotency_key, writing nothing', async () => {
      const a = await alice.client.me.issueKey('ci-a', { idempotencyKey: 'deploy-43' })
      const counts = tableCounts(cp.dataDir)
      const res = await http(cp.url, 'POST', '/v1/me/keys', {
        token: alice.sessionToken,
        json: { name: 'ci-b', idempotency_key: 'deploy-43' },
      })
      assertError(res, 'invalid_argument', 'idempotency_key')
      assert.deepEqual(tableCounts(cp.dataDir), counts)
      assert.equal((await allKeys(alice)).filter((k) => k.name === 'ci-b').length, 0)
      const again = await alice.client.me.issueKey('ci-a', { idempotencyKey: 'deploy-43' })
      assert.equal(again.key.id, a.key.id, 'the original request still replays')
    })

    it('gives one key to concurrent duplicates', async () => {
      const before = (await allKeys(alice)).length
      const results = await Promise.all(
        Array.from({ length: 12 }, () => alice.client.me.issueKey('burst', { idempotencyKey: 'burst-1' })),
      )
      assert.equal(new Set(results.map((r) => r.key.id)).size, 1)
      assert.equal(new Set(results.map((r) => r.secret)).size, 1)
      assert.equal((await allKeys(alice)).length, before + 1)
    })

    it('keeps the secret for a retry one day only: then its sealed copy is gone and a retry is already_exists', async () => {
      const a = await alice.client.me.issueKey('nightly', { idempotencyKey: 'nightly-1' })
      const sealed = () =>
        withDatabase(cp.dataDir, (db) =>
          db.prepare('SELECT sealed_secret FROM api_keys WHERE id = ?').pluck().get(a.key.id),
        )
      assert.ok(sealed(), 'sealed for the retry window')
      const dayAndAMinute = (24 * 3600 + 60) * 1_000_000
      withDatabase(cp.dataDir, (db) =>
        db
          .prepare('UPDATE api_keys SET created_at = created_at - ? WHERE id = ?')
          .run(dayAndAMinute, a.key.id),
      )
      const late = await rejectsWith(
        alice.client.me.issueKey('nightly', { idempotencyKey: 'nightly-1' }),
        'already_exists',
      )
      assert.ok(late.message.includes(a.key.id), late.message)
      assert.ok(!late.message.includes(a.secret), 'the secret is not in the error')
      assert.equal(sealed(), null, 'the sealed secret was deleted')
      assert.equal(
        (await http(cp.url, 'GET', '/v1/me', { token: a.secret })).status,
        200,
        'the key still works',
      )
    })

    it('scopes idempotency keys to the caller', async () => {
      const bob = await cp.login('bob@example.com')
      const a = await alice.client.me.issueKey('shared-name', { idempotencyKey: 'same-key' })
      const b = await bob.client.me.issueKey('shared-name', { idempotencyKey: 'same-key' })
      assert.notEqual(a.key.id, b.key.id)
      assert.equal(b.key.identity_id, bob.identityId)
    })
  })
})
