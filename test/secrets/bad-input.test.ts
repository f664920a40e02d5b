/**
 * Bad input on every secret endpoint and on KEK rotation: `invalid_argument` naming the field,
 * and nothing written (no row added or removed anywhere, the stored secret unchanged).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { assertRefusedWithoutWrites, type BadInput, json, query, raw } from '../support/bad-input.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { withDatabase } from '../support/secrets-db.ts'

const CASES: BadInput[] = [
  {
    what: 'create without name',
    method: 'POST',
    path: '/v1/secrets',
    field: 'name',
    options: json({ value: 'v' }),
  },
  {
    what: 'create, name with a space',
    method: 'POST',
    path: '/v1/secrets',
    field: 'name',
    options: json({ name: 'a b', value: 'v' }),
  },
  {
    what: 'create, uppercase realm',
    method: 'POST',
    path: '/v1/secrets',
    field: 'realm',
    options: json({ name: 'n', realm: 'Prod', value: 'v' }),
  },
  {
    what: 'create without value',
    method: 'POST',
    path: '/v1/secrets',
    field: 'value',
    options: json({ name: 'n' }),
  },
  {
    what: 'create, empty value',
    method: 'POST',
    path: '/v1/secrets',
    field: 'value',
    options: json({ name: 'n', value: '' }),
  },
  {
    what: 'create, value too large',
    method: 'POST',
    path: '/v1/secrets',
    field: 'value',
    options: json({ name: 'n', value: 'v'.repeat(65_537) }),
  },
  {
    what: 'create, value not a string',
    method: 'POST',
    path: '/v1/secrets',
    field: 'value',
    options: json({ name: 'n', value: 42 }),
  },
  {
    what: 'create, a tag that is not a string',
    method: 'POST',
    path: '/v1/secrets',
    field: 'tags.team',
    options: json({ name: 'n', value: 'v', tags: { team: 1 } }),
  },
  {
    what: 'create, tags not an object',
    method: 'POST',
    path: '/v1/secrets',
    field: 'tags',
    options: json({ name: 'n', value: 'v', tags: 'a=b' }),
  },
  {
    what: 'create, description too long',
    method: 'POST',
    path: '/v1/secrets',
    field: 'description',
    options: json({ name: 'n', value: 'v', description: 'd'.repeat(1025) }),
  },
  {
    what: 'create, user_id too long',
    method: 'POST',
    path: '/v1/secrets',
    field: 'user_id',
    options: json({ name: 'n', value: 'v', user_id: 'u'.repeat(65) }),
  },
  {
    what: 'create, unknown field',
    method: 'POST',
    path: '/v1/secrets',
    field: 'colour',
    options: json({ name: 'n', value: 'v', colour: 'red' }),
  },
  {
    what: 'create, body not JSON',
    method: 'POST',
    path: '/v1/secrets',
    field: 'body',
    options: raw('{"name": "n", "value":'),
  },
  {
    what: 'create, body not an object',
    method: 'POST',
    path: '/v1/secrets',
    field: 'body',
    options: raw('["n", "v"]'),
  },
  { what: 'get, name too long', method: 'GET', path: `/v1/secrets/${'n'.repeat(129)}`, field: 'name' },
  {
    what: 'get, bad realm',
    method: 'GET',
    path: '/v1/secrets/fixture',
    field: 'realm',
    options: query({ realm: 'NO' }),
  },
  {
    what: 'get, unknown query parameter',
    method: 'GET',
    path: '/v1/secrets/fixture',
    field: 'colour',
    options: query({ colour: 'red' }),
  },
  {
    what: 'list, page_size 0',
    method: 'GET',
    path: '/v1/secrets',
    field: 'page_size',
    options: query({ page_size: '0' }),
  },
  {
    what: 'list, page_size not a number',
    method: 'GET',
    path: '/v1/secrets',
    field: 'page_size',
    options: query({ page_size: 'ten' }),
  },
  {
    what: 'list, page_size too large',
    method: 'GET',
    path: '/v1/secrets',
    field: 'page_size',
    options: query({ page_size: '1001' }),
  },
  {
    what: 'list, unknown status',
    method: 'GET',
    path: '/v1/secrets',
    field: 'status',
    options: query({ status: 'lost' }),
  },
  {
    what: 'list, tags not key=value',
    method: 'GET',
    path: '/v1/secrets',
    field: 'tags',
    options: query({ tags: 'team' }),
  },
  {
    what: 'list, forged page_token',
    method: 'GET',
    path: '/v1/secrets',
    field: 'page_token',
    options: query({ page_token: 'eyJrIjoic2VjcmV0cyJ9.forged' }),
  },
  {
    what: 'list, bad realm',
    method: 'GET',
    path: '/v1/secrets',
    field: 'realm',
    options: query({ realm: 'a b' }),
  },
  {
    what: 'delete, bad realm',
    method: 'DELETE',
    path: '/v1/secrets/fixture',
    field: 'realm',
    options: query({ realm: '-x' }),
  },
  {
    what: 'delete, unknown query parameter',
    method: 'DELETE',
    path: '/v1/secrets/fixture',
    field: 'force',
    options: query({ force: 'true' }),
  },
  {
    what: 'rotate without new_value',
    method: 'POST',
    path: '/v1/secrets/fixture/rotate',
    field: 'new_value',
    options: json({}),
  },
  {
    what: 'rotate, new_value not a string',
    method: 'POST',
    path: '/v1/secrets/fixture/rotate',
    field: 'new_value',
    options: json({ new_value: 7 }),
  },
  {
    what: 'rotate, value instead of new_value',
    method: 'POST',
    path: '/v1/secrets/fixture/rotate',
    field: 'value',
    options: json({ new_value: 'x', value: 'x' }),
  },
  {
    what: 'rotate, bad realm',
    method: 'POST',
    path: '/v1/secrets/fixture/rotate',
    field: 'realm',
    options: json({ new_value: 'x', realm: 'UP' }),
  },
  {
    what: 'validate, version 0',
    method: 'POST',
    path: '/v1/secrets/fixture/validate',
    field: 'version',
    options: json({ version: 0 }),
  },
  {
    what: 'validate, version as a string',
    method: 'POST',
    path: '/v1/secrets/fixture/validate',
    field: 'version',
    options: json({ version: '1' }),
  },
  {
    what: 'validate, unknown field',
    method: 'POST',
    path: '/v1/secrets/fixture/validate',
    field: 'name',
    options: json({ name: 'fixture' }),
  },
  {
    what: 'value, negative version',
    method: 'POST',
    path: '/v1/secrets/fixture/value',
    field: 'version',
    options: json({ version: -1 }),
  },
  {
    what: 'value, bad realm',
    method: 'POST',
    path: '/v1/secrets/fixture/value',
    field: 'realm',
    options: json({ realm: 'x y' }),
  },
  {
    what: 'value, user_id not a string',
    method: 'POST',
    path: '/v1/secrets/fixture/value',
    field: 'user_id',
    options: json({ user_id: 5 }),
  },
  {
    what: 'value, body not JSON',
    method: 'POST',
    path: '/v1/secrets/fixture/value',
    field: 'body',
    options: raw('realm=default'),
  },
  {
    what: 'KEK rotation, unknown field',
    method: 'POST',
    path: '/v1/admin/keks/rotate',
    field: 'force',
    options: json({ force: true }),
  },
  {
    what: 'KEK rotation, body not JSON',
    method: 'POST',
    path: '/v1/admin/keks/rotate',
    field: 'body',
    options: raw('{'),
  },
]

describe('bad input on the secret endpoints', () => {
  let cp: TestControlPlane

  before(async () => {
    cp = await startControlPlane()
    await cp.admin.secret.createSecret({ name: 'fixture', value: 'fixture-value', tags: { a: 'b' } })
  })
  after(() => cp?.stop())

  it('answers invalid_argument naming the field, and writes nothing', async () => {
    const stored = () =>
      withDatabase(cp.dataDir, (db) => ({
        secrets: db.prepare('SELECT * FROM secrets ORDER BY id').all(),
        versions: db.prepare('SELECT * FROM secret_versions ORDER BY secret_id, version').all(),
        keks: db.prepare('SELECT * FROM keks ORDER BY id').all(),
      }))
    const before = stored()
    await assertRefusedWithoutWrites(cp, CASES, () => cp.adminKey)
    assert.deepEqual(stored(), before, 'the stored secrets, versions and KEKs are unchanged')
    assert.equal((await cp.admin.secret.getSecretValue({ name: 'fixture' })).value, 'fixture-value')
  })
})
