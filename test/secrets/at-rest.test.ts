/**
 * At rest and in transit: values stored through the secret service and the AI-keys endpoints
 * appear in no byte of the SQLite database or its WAL, in no log line, and in no response but
 * `value` (and never in `value` for a system realm).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { type HttpOptions, http } from '../support/http.ts'

const MARKER = `MARKER${randomBytes(12).toString('hex')}`

/** Every encoding of the marker worth looking for. */
const NEEDLES = [
  Buffer.from(MARKER),
  Buffer.from(MARKER, 'utf16le'),
  Buffer.from(Buffer.from(MARKER).toString('base64')),
]

const containsMarker = (bytes: Buffer): boolean => NEEDLES.some((n) => bytes.includes(n))

describe('secrets at rest', () => {
  let cp: TestControlPlane
  let alice: LoginResult
  /** Every response body except those of `value`. */
  const responses: string[] = []
  const valueResponses: string[] = []

  const call = async (method: string, path: string, options: HttpOptions = {}) => {
    const res = await http(cp.url, method, path, { token: cp.adminKey, ...options })
    ;(path.endsWith('/value') ? valueResponses : responses).push(
      `${method} ${path} ${res.status} ${res.text}`,
    )
    return res
  }

  before(async () => {
    cp = await startControlPlane()
    alice = await cp.login('alice@example.com')

    await call('POST', '/v1/secrets', { json: { name: 'kept', value: `${MARKER}-create`, tags: { a: 'b' } } })
    await call('POST', '/v1/secrets/kept/rotate', { json: { new_value: `${MARKER}-rotate` } })
    await call('POST', '/v1/secrets', {
      json: { name: 'llm', realm: 'llm-providers', value: `${MARKER}-llm` },
    })
    await call('POST', '/v1/secrets', {
      json: { name: 'llm', realm: 'llm-providers', value: `${MARKER}-upsert` },
    })
    await call('POST', '/v1/secrets', {
      json: { name: 'bad', realm: 'BAD REALM', value: `${MARKER}-refused` },
    })
    await call('POST', '/v1/secrets', {
      json: { name: 'x', value: `${MARKER}-unknown-field`, extra: MARKER },
    })
    await call('GET', '/v1/secrets/kept')
    await call('GET', '/v1/secrets', { query: { page_size: '1000' } })
    await call('GET', '/v1/secrets', { query: { realm: 'llm-providers' } })
    await call('POST', '/v1/secrets/kept/validate', { json: {} })
    await call('POST', '/v1/secrets/kept/value', { json: {} })
    await call('POST', '/v1/secrets/kept/value', { json: { version: 1 } })
    await call('POST', '/v1/secrets/llm/value', { json: { realm: 'llm-providers' } })
    await call('POST', '/v1/secrets/kept/value', { json: {}, token: alice.sessionToken })

    const base = '/v1/customers/-/projects/-/aikeys'
    const session = { token: alice.sessionToken }
    const registered = await call('POST', base, {
      ...session,
      json: { provider: 'openai', name: 'prod', secret: `sk-${MARKER}-byok` },
    })
    await call('POST', base, {
      ...session,
      json: { provider: 'nope', name: 'bad', secret: `sk-${MARKER}-bad` },
    })
    const keyId = registered.body.key.id as string
    await call('GET', `${base}/${keyId}`, session)
    await call('GET', base, session)
    await call('POST', '/v1/admin/keks/rotate', { json: {} })
    await call('POST', `/v1/secrets/${keyId}/validate`, { json: { realm: 'byok' } })
    await call('DELETE', `${base}/${keyId}`, session)
    await call('GET', '/v1/tokens/revocations')
    await call('DELETE', '/v1/secrets/llm', { query: { realm: 'llm-providers' } })
  })
  after(() => cp?.stop())

  it('answers value with the plaintext (so the marker is there to be found)', () => {
    assert.equal(valueResponses.length, 4)
    assert.ok(valueResponses[0]!.includes(`${MARKER}-rotate`), valueResponses[0])
    assert.ok(valueResponses[1]!.includes(`${MARKER}-create`), 'version 1 in its grace period')
    // A system realm's plaintext is never a value answer, not even to the bootstrap admin key.
    assert.ok(valueResponses[2]!.startsWith('POST /v1/secrets/llm/value 403 '), valueResponses[2])
    assert.ok(!valueResponses[2]!.includes(MARKER), 'a refused value call shows nothing')
    assert.ok(!valueResponses[3]!.includes(MARKER), 'a refused value call shows nothing')
    assert.ok(containsMarker(Buffer.from(valueResponses.join('\n'))), 'the search finds what is there')
  })

  it('shows the marker in no other response', () => {
    assert.ok(responses.length >= 18)
    for (const r of responses) assert.ok(!containsMarker(Buffer.from(r)), r.slice(0, 300))
  })

  it('keeps the marker out of every byte of the database and its WAL while running, and after stopping', async () => {
    const scan = () => {
      const files = readdirSync(cp.dataDir).filter((f) => f.startsWith('agentrouter.db'))
      assert.ok(files.includes('agentrouter.db'))
      for (const f of files) {
        assert.ok(!containsMarker(readFileSync(join(cp.dataDir, f))), `the marker is in ${f}`)
      }
      return files
    }
    const files = scan()
    assert.ok(files.includes('agentrouter.db-wal'), 'the WAL was scanned too')
    await cp.stop()
    scan()
  })

  it('keeps the marker out of the logs', () => {
    const logs = cp.process.output()
    assert.ok(logs.includes('secret plaintext read'), 'the reads were logged, without the value')
    assert.ok(!containsMarker(Buffer.from(logs)))
  })
})
