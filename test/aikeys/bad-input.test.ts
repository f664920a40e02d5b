/**
 * Bad input on every AI-keys endpoint and on the dataplanes' resolution endpoint:
 * `invalid_argument` naming the field, and nothing written.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { assertRefusedWithoutWrites, type BadInput, json, query, raw } from '../support/bad-input.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { withDatabase } from '../support/secrets-db.ts'

interface AiKeyBadInput extends BadInput {
  /** The dataplane key instead of the user's session. */
  asDataplane?: boolean
}

const BASE = '/v1/customers/-/projects/-/aikeys'
const register = { provider: 'openai', name: 'n', secret: 'sk-x' }
const IDENTITY = 'usr_01J00000000000000000000000'

const CASES: AiKeyBadInput[] = [
  {
    what: 'register, unknown provider',
    method: 'POST',
    path: BASE,
    field: 'provider',
    options: json({ ...register, provider: 'cohere-x' }),
  },
  {
    what: 'register without provider',
    method: 'POST',
    path: BASE,
    field: 'provider',
    options: json({ name: 'n', secret: 's' }),
  },
  {
    what: 'register without name',
    method: 'POST',
    path: BASE,
    field: 'name',
    options: json({ provider: 'openai', secret: 's' }),
  },
  {
    what: 'register, blank name',
    method: 'POST',
    path: BASE,
    field: 'name',
    options: json({ ...register, name: '   ' }),
  },
  {
    what: 'register, name too long',
    method: 'POST',
    path: BASE,
    field: 'name',
    options: json({ ...register, name: 'n'.repeat(129) }),
  },
  {
    what: 'register without secret',
    method: 'POST',
    path: BASE,
    field: 'secret',
    options: json({ provider: 'openai', name: 'n' }),
  },
  {
    what: 'register, empty secret',
    method: 'POST',
    path: BASE,
    field: 'secret',
    options: json({ ...register, secret: '' }),
  },
  {
    what: 'register, secret not a string',
    method: 'POST',
    path: BASE,
    field: 'secret',
    options: json({ ...register, secret: 123 }),
  },
  {
    what: 'register, user_scope not a boolean',
    method: 'POST',
    path: BASE,
    field: 'user_scope',
    options: json({ ...register, user_scope: 'yes' }),
  },
  {
    what: 'register, unknown field',
    method: 'POST',
    path: BASE,
    field: 'scope',
    options: json({ ...register, scope: 'user' }),
  },
  {
    what: 'register, body not JSON',
    method: 'POST',
    path: BASE,
    field: 'body',
    options: raw('provider=openai'),
  },
  {
    what: 'register, customer segment too long',
    method: 'POST',
    path: `/v1/customers/${'c'.repeat(65)}/projects/-/aikeys`,
    field: 'customer_id',
    options: json(register),
  },
  {
    what: 'register, project segment too long',
    method: 'POST',
    path: `/v1/customers/-/projects/${'p'.repeat(65)}/aikeys`,
    field: 'project_id',
    options: json(register),
  },
  { what: 'get, id not byok_<ulid>', method: 'GET', path: `${BASE}/nope`, field: 'id' },
  {
    what: 'get, id of another kind',
    method: 'GET',
    path: `${BASE}/key_01J00000000000000000000000`,
    field: 'id',
  },
  {
    what: 'get, unknown query parameter',
    method: 'GET',
    path: `${BASE}/byok_01J00000000000000000000000`,
    field: 'full',
    options: query({ full: '1' }),
  },
  {
    what: 'list, unknown query parameter',
    method: 'GET',
    path: BASE,
    field: 'provider',
    options: query({ provider: 'openai' }),
  },
  { what: 'revoke, id not byok_<ulid>', method: 'DELETE', path: `${BASE}/byok_short`, field: 'id' },
  {
    what: 'revoke, unknown wait',
    method: 'DELETE',
    path: `${BASE}/byok_01J00000000000000000000000`,
    field: 'wait',
    options: query({ wait: 'forever' }),
  },
  {
    what: 'revoke, timeout_ms 0',
    method: 'DELETE',
    path: `${BASE}/byok_01J00000000000000000000000`,
    field: 'timeout_ms',
    options: query({ wait: 'enforced', timeout_ms: '0' }),
  },
  {
    what: 'revoke, timeout_ms not a number',
    method: 'DELETE',
    path: `${BASE}/byok_01J00000000000000000000000`,
    field: 'timeout_ms',
    options: query({ timeout_ms: 'soon' }),
  },
  {
    what: 'resolve without identity_id',
    method: 'POST',
    path: '/v1/internal/byok/resolve',
    field: 'identity_id',
    asDataplane: true,
    options: json({ provider: 'openai' }),
  },
  {
    what: 'resolve, identity_id not usr_<ulid>',
    method: 'POST',
    path: '/v1/internal/byok/resolve',
    field: 'identity_id',
    asDataplane: true,
    options: json({ identity_id: 'alice', provider: 'openai' }),
  },
  {
    what: 'resolve, unknown provider',
    method: 'POST',
    path: '/v1/internal/byok/resolve',
    field: 'provider',
    asDataplane: true,
    options: json({ identity_id: IDENTITY, provider: 'nope' }),
  },
  {
    what: 'resolve without provider',
    method: 'POST',
    path: '/v1/internal/byok/resolve',
    field: 'provider',
    asDataplane: true,
    options: json({ identity_id: IDENTITY }),
  },
  {
    what: 'resolve, project_id too long',
    method: 'POST',
    path: '/v1/internal/byok/resolve',
    field: 'project_id',
    asDataplane: true,
    options: json({ identity_id: IDENTITY, provider: 'openai', project_id: 'p'.repeat(65) }),
  },
  {
    what: 'resolve, unknown field',
    method: 'POST',
    path: '/v1/internal/byok/resolve',
    field: 'user_scope',
    asDataplane: true,
    options: json({ identity_id: IDENTITY, provider: 'openai', user_scope: true }),
  },
  {
    what: 'resolve, body not JSON',
    method: 'POST',
    path: '/v1/internal/byok/resolve',
    field: 'body',
    asDataplane: true,
    options: raw('{{'),
  },
]

describe('bad input on the AI-keys endpoints', () => {
  let cp: TestControlPlane
  let alice: LoginResult

  before(async () => {
    cp = await startControlPlane()
    alice = await cp.login('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'fixture', 'sk-fixture-0000')
  })
  after(() => cp?.stop())

  it('answers invalid_argument naming the field, and writes nothing', async () => {
    const stored = () =>
      withDatabase(cp.dataDir, (db) => ({
        keys: db.prepare('SELECT * FROM ai_keys ORDER BY id').all(),
        revocations: db.prepare('SELECT * FROM revocations ORDER BY revoked_at').all(),
        reads: db.prepare('SELECT * FROM secret_reads').all(),
      }))
    const before = stored()
    await assertRefusedWithoutWrites(cp, CASES, (c) => (c.asDataplane ? cp.dataplaneKey : alice.sessionToken))
    assert.deepEqual(stored(), before, 'keys, revocations and the read audit are unchanged')
  })
})
