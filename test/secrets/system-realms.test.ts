/**
 * The system realms (`byok`, `llm-keys`, `llm`, `llm-providers`, `ai-keys`) are system-only. An
 * admin's session (the Admin persona, without `secrets/write/internal`) can neither create,
 * rotate nor delete a secret in them, by name or by `sec_` id, with or without `user_id`: it is
 * `permission_denied` naming `realm`, nothing is written, and a user's BYOK key keeps resolving
 * to what the user registered, at the control plane and in the upstream request the dataplane
 * sends. Their plaintext never leaves through `value`, whoever asks (the bootstrap admin key and
 * the dataplane key included); each refusal is audited. The legitimate paths still work: the
 * AI-keys endpoints add and revoke BYOK keys and the dataplane follows; the bootstrap admin key
 * (`secrets/write/internal`) writes system realms and reads `value` elsewhere.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '../../shared/client/index.ts'
import { SYSTEM_REALMS } from '../../shared/contract/secrets.ts'
import type { LoginResult } from '../support/control-plane.ts'
import { rejectsWith, tableCounts } from '../support/http.ts'
import { type Caller, chat, type InferenceWorld, startInferenceWorld, within } from '../support/inference.ts'
import { withDatabase } from '../support/secrets-db.ts'

const ROOT_EMAIL = 'root@example.com'
const ORIGINAL = 'sk-alice-original-0001'
const ATTACKER = 'sk-attacker-planted-9999'

describe('system realms are system-only', () => {
  let world: InferenceWorld
  let alice: Caller
  let root: LoginResult
  let dataplane: Client
  let byokId: string
  let byokSecretId: string

  before(async () => {
    world = await startInferenceWorld({
      cpEnv: { AGENTROUTER_ADMIN_EMAILS: ROOT_EMAIL },
      // Short, so that a key added through the AI-keys endpoints is picked up without a wait.
      dpEnv: { AGENTROUTER_DP_BYOK_CACHE_TTL: '300ms' },
    })
    ;[alice, root] = await Promise.all([world.caller('alice@example.com'), world.cp.login(ROOT_EMAIL)])
    dataplane = world.cp.client(world.cp.dataplaneKey)
    byokId = (await alice.client.aikeys.register('-', '-', 'openai', 'alice prod', ORIGINAL)).key.id
    // The Admin persona reads metadata of system secrets; only their writes and values are closed.
    byokSecretId = (await root.client.secret.getSecret({ name: byokId, realm: 'byok' })).secret.id
    // A secret in every other system realm, written with secrets/write/internal (the bootstrap key).
    for (const realm of SYSTEM_REALMS) {
      if (realm !== 'byok') {
        await world.cp.admin.secret.createSecret({ name: 'fixture', realm, value: `fixture-of-${realm}` })
      }
    }
  })
  after(() => world?.stop())

  const resolved = async () =>
    (await dataplane.internal.resolveProviderKey({ identityId: alice.identityId, provider: 'openai' })).secret

  /** The provider key the upstream received for an inference with alice's prompt key. */
  const keyTheUpstreamSaw = async (): Promise<string | undefined> => {
    const res = await chat(world.dp.url, alice.apiKey)
    assert.equal(res.status, 200, res.text)
    return world.upstream.requests.at(-1)?.headers.authorization
  }

  it('refuses an admin session create, rotate and delete in every system realm, naming realm, and writes nothing', async () => {
    assert.equal(await keyTheUpstreamSaw(), `Bearer ${ORIGINAL}`, 'the dataplane serves the registered key')
    const counts = tableCounts(world.cp.dataDir)
    const attacker = root.client.secret

    for (const realm of SYSTEM_REALMS) {
      const name = realm === 'byok' ? byokId : 'fixture'
      const before = (await world.cp.admin.secret.getSecret({ name, realm })).secret
      await rejectsWith(attacker.createSecret({ name, realm, value: ATTACKER }), 'permission_denied', 'realm')
      await rejectsWith(
        attacker.createSecret({ name, realm, value: ATTACKER, userId: 'system' }),
        'permission_denied',
        'realm',
      )
      await rejectsWith(
        attacker.createSecret({ name: 'brand-new', realm, value: ATTACKER, userId: root.identityId }),
        'permission_denied',
        'realm',
      )
      for (const ref of [{ name, realm }, { name: before.id }, { name: before.id, realm }]) {
        await rejectsWith(attacker.rotateSecret({ ...ref, newValue: ATTACKER }), 'permission_denied', 'realm')
        await rejectsWith(attacker.deleteSecret(ref), 'permission_denied', 'realm')
      }
      const after = (await world.cp.admin.secret.getSecret({ name, realm })).secret
      assert.deepEqual(after, before, `${realm}: nothing changed`)
    }
    assert.deepEqual(tableCounts(world.cp.dataDir), counts, 'no row written anywhere')
    // The same session still writes its own secrets in an ordinary realm.
    const own = (await attacker.createSecret({ name: 'mine', realm: 'team', value: 'v' })).secret
    assert.equal(own.user_id, root.identityId)

    // The user's key is what the user registered, at the control plane and at the upstream.
    assert.equal(await resolved(), ORIGINAL)
    const viaAiKeys = (await alice.client.aikeys.get('-', '-', byokId)).key
    assert.equal(viaAiKeys.display_suffix, ORIGINAL.slice(-4))
    assert.equal(viaAiKeys.revoked_at, undefined)
    assert.equal(await keyTheUpstreamSaw(), `Bearer ${ORIGINAL}`)
    assert.equal(
      world.upstream.requests.some((r) => JSON.stringify(r.headers).includes(ATTACKER)),
      false,
      'the planted key never reached the upstream',
    )
  })

  it('refuses value on a system-realm secret to every credential, the bootstrap admin key included, and audits it', async () => {
    const minted = await world.cp.admin.admin.issueKey({ name: 'bootstrap-minted', type: 'KEY_TYPE_ADMIN' })
    const askers: Array<[string, Client]> = [
      ['bootstrap admin key', world.cp.admin],
      ['admin key minted by it', world.cp.client(minted.secret)],
      ['dataplane key', dataplane],
    ]
    const refusedBefore = refusedReads(world.cp.dataDir, byokSecretId)
    for (const [who, client] of askers) {
      for (const ref of [{ name: byokId, realm: 'byok' }, { name: byokSecretId }]) {
        const err = await rejectsWith(client.secret.getSecretValue(ref), 'permission_denied', 'realm')
        assert.ok(!err.message.includes(ORIGINAL), who)
      }
      for (const realm of SYSTEM_REALMS.filter((r) => r !== 'byok')) {
        await rejectsWith(
          client.secret.getSecretValue({ name: 'fixture', realm, userId: 'system' }),
          'permission_denied',
          'realm',
        )
      }
    }
    assert.equal(
      refusedReads(world.cp.dataDir, byokSecretId),
      refusedBefore + askers.length * 2,
      'every attempt on the provider key is audited as refused',
    )

    // Outside the system realms, the bootstrap key (secrets/read/internal) still reads values.
    await world.cp.admin.secret.createSecret({ name: 'webhook-token', value: 'whk-plain-1' })
    assert.equal((await world.cp.admin.secret.getSecretValue({ name: 'webhook-token' })).value, 'whk-plain-1')
    // And the one path that reads a provider key still does.
    assert.equal(await resolved(), ORIGINAL)
  })

  it('lets the secrets/write/internal scope write a system realm (the bootstrap admin key)', async () => {
    const { secret } = await world.cp.admin.secret.createSecret({
      name: 'operator-provider',
      realm: 'llm-providers',
      value: 'sk-operator-1',
    })
    assert.equal(secret.user_id, 'system')
    const rotated = await world.cp.admin.secret.rotateSecret({
      name: 'operator-provider',
      realm: 'llm-providers',
      newValue: 'sk-operator-2',
    })
    assert.equal(rotated.secret.version, 2)
    assert.deepEqual(
      await world.cp.admin.secret.deleteSecret({ name: 'operator-provider', realm: 'llm-providers' }),
      { success: true },
    )
  })

  it('still adds and revokes BYOK keys through the AI-keys endpoints, and the dataplane follows', async () => {
    const own = 'sk-alice-user-scoped-0002'
    const added = (await alice.client.aikeys.register('-', '-', 'openai', 'alice own', own, true)).key
    assert.equal(await resolved(), own, 'the user-scoped key wins')
    await within(
      5_000,
      async () => (await keyTheUpstreamSaw()) === `Bearer ${own}`,
      'the dataplane injects the added key',
    )

    await alice.client.aikeys.revoke('-', '-', added.id, { wait: 'enforced' })
    assert.equal(await resolved(), ORIGINAL, 'back to the project key')
    await within(
      5_000,
      async () => (await keyTheUpstreamSaw()) === `Bearer ${ORIGINAL}`,
      'the dataplane drops the revoked key',
    )
  })
})

function refusedReads(dataDir: string, secretId: string): number {
  return withDatabase(dataDir, (db) =>
    db
      .prepare(
        "SELECT COUNT(*) FROM secret_reads WHERE secret_id = ? AND purpose = 'value' AND outcome = 'refused'",
      )
      .pluck()
      .get(secretId),
  ) as number
}
