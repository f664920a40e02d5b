/**
 * The secret service over HTTP: create (an upsert by owner, realm and name), get, list with
 * filters and paging, delete, rotate, validate and value; `{name}` as the name or the `sec_` id;
 * the owner rules (`user_id` only with secrets/write/internal, the LLM realms always `system`);
 * who may read a value, and its audit record; value changes announced on the stream.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '../../shared/client/index.ts'
import type { Secret } from '../../shared/contract/secrets.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { decodeJwt, rejectsWith } from '../support/http.ts'
import { withDatabase } from '../support/secrets-db.ts'
import { listenToStream } from '../support/stream-listener.ts'

const BOSS_EMAIL = 'boss@example.com'
const LLM_REALMS = ['llm-keys', 'llm', 'llm-providers', 'ai-keys', 'byok']

describe('secrets API', () => {
  let cp: TestControlPlane
  let adminId: string
  let alice: LoginResult
  let boss: LoginResult
  let dataplane: Client

  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_ADMIN_EMAILS: BOSS_EMAIL })
    adminId = (await cp.admin.me.get()).identity.id
    ;[alice, boss] = await Promise.all([cp.login('alice@example.com'), cp.login(BOSS_EMAIL)])
    dataplane = cp.client(cp.dataplaneKey)
  })
  after(() => cp?.stop())

  it('creates a secret and answers with its metadata, never its value', async () => {
    const { secret } = await cp.admin.secret.createSecret({
      name: 'openai-api-key',
      value: 'sk-created-value-1',
      description: 'the production key',
      tags: { env: 'prod' },
    })
    assert.match(secret.id, /^sec_[0-9A-HJKMNP-TV-Z]{26}$/)
    assert.equal(secret.name, 'openai-api-key')
    assert.equal(secret.realm, 'default')
    assert.equal(secret.user_id, adminId, 'owned by the caller when user_id is absent')
    assert.equal(secret.description, 'the production key')
    assert.deepEqual(secret.tags, { env: 'prod' })
    assert.equal(secret.version, 1)
    assert.equal(secret.status, 'active')
    assert.deepEqual(
      secret.versions.map((v) => [v.version, v.status]),
      [[1, 'active']],
    )
    assert.ok(!JSON.stringify(secret).includes('sk-created-value-1'))
    assert.ok(!('value' in secret))
  })

  it('create on an existing name updates it: a new value is a new version, the same value is not', async () => {
    const first = (await cp.admin.secret.createSecret({ name: 'upserted', value: 'value-A' })).secret
    const second = (
      await cp.admin.secret.createSecret({ name: 'upserted', value: 'value-B', description: 'now B' })
    ).secret
    assert.equal(second.id, first.id, 'the same secret')
    assert.equal(second.version, 2)
    assert.equal(second.description, 'now B')
    assert.deepEqual(
      second.versions.map((v) => [v.version, v.status]),
      [
        [1, 'expired'],
        [2, 'active'],
      ],
      'an upsert replaces the value at once; rotate is the path with a grace period',
    )
    assert.equal((await cp.admin.secret.getSecretValue({ name: 'upserted' })).value, 'value-B')
    await rejectsWith(cp.admin.secret.getSecretValue({ name: 'upserted', version: 1 }), 'failed_precondition')

    const third = (
      await cp.admin.secret.createSecret({ name: 'upserted', value: 'value-B', tags: { t: '1' } })
    ).secret
    assert.equal(third.version, 2, 'the same value again makes no new version')
    assert.deepEqual(third.tags, { t: '1' })
    assert.equal(third.description, 'now B', 'fields left out keep their value')
  })

  it('accepts the name or the sec_ id as {name} on every endpoint', async () => {
    const { secret } = await cp.admin.secret.createSecret({
      name: 'mcp-token',
      realm: 'mcp',
      value: 'mcp-v1',
    })
    assert.equal((await cp.admin.secret.getSecret({ name: 'mcp-token', realm: 'mcp' })).secret.id, secret.id)
    assert.equal((await cp.admin.secret.getSecret({ name: secret.id })).secret.id, secret.id, 'id, no realm')
    await rejectsWith(cp.admin.secret.getSecret({ name: 'mcp-token' }), 'not_found') // realm defaults to default
    await rejectsWith(cp.admin.secret.getSecret({ name: secret.id, realm: 'default' }), 'not_found')

    assert.deepEqual(await cp.admin.secret.validateSecret({ name: secret.id }), { valid: true, error: '' })
    assert.equal((await cp.admin.secret.getSecretValue({ name: secret.id })).value, 'mcp-v1')
    const rotated = (await cp.admin.secret.rotateSecret({ name: secret.id, newValue: 'mcp-v2' })).secret
    assert.equal(rotated.version, 2)
    assert.equal((await cp.admin.secret.getSecretValue({ name: secret.id })).value, 'mcp-v2')
    assert.deepEqual(await cp.admin.secret.deleteSecret({ name: secret.id }), { success: true })
    await rejectsWith(cp.admin.secret.getSecret({ name: secret.id }), 'not_found')
  })

  it('stores secrets of the LLM realms under system, whatever user_id says (with secrets/write/internal)', async () => {
    for (const realm of LLM_REALMS) {
      const { secret } = await cp.admin.secret.createSecret({
        name: 'provider-key',
        realm,
        value: `key-of-${realm}`,
        userId: 'usr_someone_else',
      })
      assert.equal(secret.user_id, 'system', realm)
      const found = (await cp.admin.secret.getSecret({ name: 'provider-key', realm })).secret
      assert.equal(found.id, secret.id, realm)
      assert.deepEqual(await cp.admin.secret.validateSecret({ name: 'provider-key', realm }), {
        valid: true,
        error: '',
      })
      // Their plaintext leaves only through BYOK resolution (test/secrets/system-realms.test.ts).
      await rejectsWith(
        dataplane.secret.getSecretValue({ name: 'provider-key', realm, userId: 'system' }),
        'permission_denied',
        'realm',
      )
    }
    // An admin session has no internal scope, so it writes no system realm at all.
    await rejectsWith(
      boss.client.secret.createSecret({ name: 'boss-llm', realm: 'llm', value: 'x', userId: 'usr_x' }),
      'permission_denied',
      'realm',
    )
  })

  it('honours user_id only with the secrets/write/internal scope', async () => {
    const owned = (
      await cp.admin.secret.createSecret({ name: 'for-another', value: 'theirs', userId: 'usr_another' })
    ).secret
    assert.equal(owned.user_id, 'usr_another', 'an admin key has secrets/write/internal')
    assert.equal(
      (await cp.admin.secret.getSecret({ name: 'for-another', userId: 'usr_another' })).secret.id,
      owned.id,
    )
    await rejectsWith(cp.admin.secret.getSecret({ name: 'for-another' }), 'not_found') // not the caller's

    // An admin session is the Admin persona but carries no internal scope.
    await rejectsWith(
      boss.client.secret.createSecret({ name: 'for-another', value: 'x', userId: 'usr_another' }),
      'permission_denied',
      'user_id',
    )
    await rejectsWith(
      boss.client.secret.getSecret({ name: 'for-another', userId: 'usr_another' }),
      'permission_denied',
      'user_id',
    )
    const mine = (await boss.client.secret.createSecret({ name: 'boss-own', value: 'b' })).secret
    assert.equal(mine.user_id, boss.identityId)
  })

  it('refuses the secret endpoints to prompt keys and non-admin sessions, and all but value to dataplanes', async () => {
    const prompt = cp.client((await alice.client.me.issueKey('alice prompt')).secret)
    await cp.admin.secret.createSecret({ name: 'guarded', value: 'guarded-value' })
    for (const c of [alice.client, prompt]) {
      await rejectsWith(c.secret.createSecret({ name: 'x', value: 'y' }), 'permission_denied')
      await rejectsWith(c.secret.getSecret({ name: 'guarded' }), 'permission_denied')
      await rejectsWith(c.secret.listSecrets(), 'permission_denied')
      await rejectsWith(c.secret.deleteSecret({ name: 'guarded' }), 'permission_denied')
      await rejectsWith(c.secret.rotateSecret({ name: 'guarded', newValue: 'z' }), 'permission_denied')
      await rejectsWith(c.secret.validateSecret({ name: 'guarded' }), 'permission_denied')
      await rejectsWith(c.secret.getSecretValue({ name: 'guarded', userId: adminId }), 'permission_denied')
    }
    // An admin session is the Admin persona, but value needs the internal scope only keys carry.
    await rejectsWith(boss.client.secret.getSecretValue({ name: 'boss-own' }), 'permission_denied')
    await rejectsWith(dataplane.secret.createSecret({ name: 'x', value: 'y' }), 'permission_denied')
    await rejectsWith(dataplane.secret.getSecret({ name: 'guarded', userId: adminId }), 'permission_denied')
    assert.equal(
      (await dataplane.secret.getSecretValue({ name: 'guarded', userId: adminId })).value,
      'guarded-value',
    )
    assert.equal((await cp.admin.secret.getSecret({ name: 'guarded' })).secret.version, 1, 'nothing changed')
  })

  it('lists with realm, status and tags filters and pages with a tamper-evident page_token', async () => {
    const made: Secret[] = []
    for (let i = 0; i < 7; i++) {
      const team = i % 2 === 0 ? 'a' : 'b'
      const { secret } = await cp.admin.secret.createSecret({
        name: `listed-${i}`,
        realm: 'listing',
        value: `v${i}`,
        tags: { team, env: i < 4 ? 'prod' : 'dev' },
      })
      made.push(secret)
    }
    await cp.admin.secret.rotateSecret({ name: 'listed-1', realm: 'listing', newValue: 'v1b' })
    await cp.admin.secret.rotateSecret({ name: 'listed-4', realm: 'listing', newValue: 'v4b' })

    const pages: string[][] = []
    let pageToken: string | undefined
    do {
      const page = await cp.admin.secret.listSecrets({ realm: 'listing', pageSize: 3, pageToken })
      pages.push(page.secrets.map((s) => s.name))
      pageToken = page.next_page_token || undefined
    } while (pageToken)
    assert.deepEqual(
      pages.map((p) => p.length),
      [3, 3, 1],
    )
    assert.deepEqual(
      pages.flat(),
      made.map((s) => s.name),
      'every secret once, in creation order',
    )

    const listed = (await cp.admin.secret.listSecrets({ realm: 'listing', pageSize: 1000 })).secrets
    for (const secret of listed) {
      const { secret: got } = await cp.admin.secret.getSecret({ name: secret.name, realm: 'listing' })
      assert.deepEqual(secret, got, `${secret.name}: listed as get shows it, versions included`)
    }
    assert.deepEqual(
      listed.find((s) => s.name === 'listed-1')?.versions.map((v) => [v.version, v.status]),
      [
        [1, 'rotated_pending'],
        [2, 'active'],
      ],
    )

    const names = async (req: Parameters<Client['secret']['listSecrets']>[0]) =>
      (await cp.admin.secret.listSecrets(req)).secrets.map((s) => s.name)
    assert.deepEqual(await names({ realm: 'listing', tags: 'team=a' }), [
      'listed-0',
      'listed-2',
      'listed-4',
      'listed-6',
    ])
    assert.deepEqual(await names({ realm: 'listing', tags: { team: 'a', env: 'prod' } }), [
      'listed-0',
      'listed-2',
    ])
    assert.deepEqual(await names({ realm: 'listing', status: 'rotated_pending' }), ['listed-1', 'listed-4'])
    assert.deepEqual(await names({ realm: 'listing', status: 'active' }), [
      'listed-0',
      'listed-2',
      'listed-3',
      'listed-5',
      'listed-6',
    ])
    const everyRealm = await names({ pageSize: 1000 })
    assert.ok(
      everyRealm.includes('listed-0') && everyRealm.includes('openai-api-key'),
      'no realm: all realms',
    )

    const first = await cp.admin.secret.listSecrets({ realm: 'listing', pageSize: 2 })
    const token = first.next_page_token
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')
    await rejectsWith(
      cp.admin.secret.listSecrets({ realm: 'listing', pageSize: 2, pageToken: flipped }),
      'invalid_argument',
      'page_token',
    )
    await rejectsWith(
      cp.admin.secret.listSecrets({ realm: 'listing', tags: 'team=b', pageSize: 2, pageToken: token }),
      'invalid_argument',
      'page_token',
    )
  })

  it('deletes a secret: gone from get, list, validate and value', async () => {
    await cp.admin.secret.createSecret({ name: 'doomed', realm: 'trash', value: 'doomed-value' })
    assert.deepEqual(await cp.admin.secret.deleteSecret({ name: 'doomed', realm: 'trash' }), {
      success: true,
    })
    await rejectsWith(cp.admin.secret.getSecret({ name: 'doomed', realm: 'trash' }), 'not_found')
    await rejectsWith(cp.admin.secret.validateSecret({ name: 'doomed', realm: 'trash' }), 'not_found')
    await rejectsWith(cp.admin.secret.getSecretValue({ name: 'doomed', realm: 'trash' }), 'not_found')
    assert.deepEqual((await cp.admin.secret.listSecrets({ realm: 'trash' })).secrets, [])
    await rejectsWith(cp.admin.secret.deleteSecret({ name: 'doomed', realm: 'trash' }), 'not_found')
  })

  it('value writes an audit record of who read which secret and version, and when, never the value', async () => {
    const { secret } = await cp.admin.secret.createSecret({ name: 'audited', value: 'audited-plaintext-1' })
    await cp.admin.secret.rotateSecret({ name: 'audited', newValue: 'audited-plaintext-2' })
    const before = Date.now() * 1000
    assert.equal((await cp.admin.secret.getSecretValue({ name: 'audited' })).value, 'audited-plaintext-2')
    assert.equal(
      (await dataplane.secret.getSecretValue({ name: 'audited', userId: adminId, version: 1 })).value,
      'audited-plaintext-1',
    )
    const rows = withDatabase(
      cp.dataDir,
      (db) =>
        db.prepare('SELECT * FROM secret_reads WHERE secret_id = ? ORDER BY id').all(secret.id) as Array<
          Record<string, unknown>
        >,
    )
    assert.equal(rows.length, 2)
    const [byAdmin, byDataplane] = rows as [Record<string, unknown>, Record<string, unknown>]
    assert.equal(byAdmin.identity_id, adminId)
    assert.equal(byAdmin.credential_id, decodeJwt(cp.adminKey).payload.jti)
    assert.equal(byAdmin.version, 2)
    assert.equal(byAdmin.outcome, 'served')
    assert.equal(byDataplane.credential_id, decodeJwt(cp.dataplaneKey).payload.jti)
    assert.equal(byDataplane.identity_id, decodeJwt(cp.dataplaneKey).payload.sub)
    assert.equal(byDataplane.version, 1)
    assert.ok((byAdmin.at as number) >= before - 5_000_000, 'when')
    for (const row of rows) assert.ok(!JSON.stringify(row).includes('audited-plaintext'), 'never the value')
  })

  it('announces value changes on the stream: an upsert with a new value, rotate and delete', async () => {
    const listener = await listenToStream(cp.url, cp.dataplaneKey)
    try {
      const announced = (n: number) =>
        listener.waitFor(
          () =>
            listener.messages.filter((m) => m.type === 'secret_changed' && m.name === 'announced').length >=
            n,
        )
      await cp.admin.secret.createSecret({ name: 'announced', realm: 'llm-providers', value: 'one' })
      await cp.admin.secret.createSecret({ name: 'announced', realm: 'llm-providers', value: 'two' })
      await announced(1)
      await cp.admin.secret.rotateSecret({ name: 'announced', realm: 'llm-providers', newValue: 'three' })
      await announced(2)
      await cp.admin.secret.deleteSecret({ name: 'announced', realm: 'llm-providers' })
      await announced(3)
      const changes = listener.messages.filter((m) => m.type === 'secret_changed' && m.name === 'announced')
      assert.equal(changes.length, 3, 'creating it was no change to announce')
      for (const m of changes) {
        assert.deepEqual(m, {
          type: 'secret_changed',
          realm: 'llm-providers',
          name: 'announced',
          user_id: 'system',
        })
      }
    } finally {
      listener.close()
    }
  })
})
