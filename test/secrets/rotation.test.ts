/**
 * Rotation. A secret's rotate: `value` answers the new value at once, the previous version still
 * decrypts during the grace period (AGENTROUTER_SECRET_ROTATION_GRACE) and not after. KEK
 * rotation: a new KEK, every data key rewrapped while reads and writes go on, nothing lost, the
 * old KEK retired with its key material deleted.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { rejectsWith, sleep } from '../support/http.ts'
import { withDatabase } from '../support/secrets-db.ts'

const GRACE_MS = 2_000

describe('rotation', () => {
  let cp: TestControlPlane

  before(async () => {
    cp = await startControlPlane({ AGENTROUTER_SECRET_ROTATION_GRACE: `${GRACE_MS}ms` })
  })
  after(() => cp?.stop())

  it('serves the new value after rotate, and the old version during the grace period only', async () => {
    const created = (await cp.admin.secret.createSecret({ name: 'rotating', value: 'first-value' })).secret
    const rotatedAt = Date.now()
    const { secret } = await cp.admin.secret.rotateSecret({ name: 'rotating', newValue: 'second-value' })
    assert.equal(secret.id, created.id)
    assert.equal(secret.version, 2)
    assert.equal(secret.status, 'rotated_pending')
    const [v1, v2] = secret.versions
    assert.equal(v1?.status, 'rotated_pending')
    assert.equal(v2?.status, 'active')
    const graceEnds = Date.parse(v1!.expires_at!)
    assert.ok(Math.abs(graceEnds - (rotatedAt + GRACE_MS)) < 1_000, 'the grace period is the configured one')

    assert.equal((await cp.admin.secret.getSecretValue({ name: 'rotating' })).value, 'second-value')
    assert.equal(
      (await cp.admin.secret.getSecretValue({ name: 'rotating', version: 1 })).value,
      'first-value',
    )
    assert.deepEqual(await cp.admin.secret.validateSecret({ name: 'rotating', version: 1 }), {
      valid: true,
      error: '',
    })

    await sleep(Math.max(0, graceEnds - Date.now()) + 50)
    const later = (await cp.admin.secret.getSecret({ name: 'rotating' })).secret
    assert.equal(later.status, 'active')
    assert.equal(later.versions[0]?.status, 'expired')
    await rejectsWith(cp.admin.secret.getSecretValue({ name: 'rotating', version: 1 }), 'failed_precondition')
    const check = await cp.admin.secret.validateSecret({ name: 'rotating', version: 1 })
    assert.equal(check.valid, false)
    assert.match(check.error, /version 1 expired/)
    assert.equal((await cp.admin.secret.getSecretValue({ name: 'rotating' })).value, 'second-value')

    const material = withDatabase(cp.dataDir, (db) =>
      db
        .prepare(
          'SELECT wrapped_data_key, ciphertext FROM secret_versions WHERE secret_id = ? AND version = 1',
        )
        .get(created.id),
    )
    assert.deepEqual(material, { wrapped_data_key: null, ciphertext: null }, 'its key material is deleted')
    await rejectsWith(
      cp.admin.secret.getSecretValue({ name: 'rotating', version: 3 }),
      'not_found',
      'version',
    )
  })

  it('rotates the KEK under concurrent reads and writes without losing anything', async () => {
    // The default grace period (a day), so that rotated-out versions keep their data keys throughout.
    await cp.stop()
    cp = await startControlPlane()
    const expected = new Map<string, string>()
    const names = Array.from({ length: 240 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`)
    for (let i = 0; i < names.length; i += 24) {
      await Promise.all(
        names.slice(i, i + 24).map(async (name) => {
          await cp.admin.secret.createSecret({ name, realm: 'bulk', value: `${name}-v1` })
          expected.set(name, `${name}-v1`)
        }),
      )
    }
    for (const name of names.slice(0, 30)) {
      await cp.admin.secret.rotateSecret({ name, realm: 'bulk', newValue: `${name}-v2` })
      expected.set(name, `${name}-v2`)
    }
    const { oldKek, wrapped } = withDatabase(cp.dataDir, (db) => ({
      oldKek: db.prepare("SELECT id FROM keks WHERE state = 'active'").pluck().get() as string,
      wrapped: db
        .prepare('SELECT COUNT(*) FROM secret_versions WHERE kek_id IS NOT NULL')
        .pluck()
        .get() as number,
    }))
    assert.equal(wrapped, 240 + 30, 'every version holds a data key (the grace period is still on for 30)')

    let rotating = true
    let rotationStarted = 0
    let rotationEnded = Number.POSITIVE_INFINITY
    let overlapping = 0
    const failures: string[] = []
    const reader = async (offset: number) => {
      let i = offset
      while (rotating) {
        const name = names[i++ % names.length]!
        const started = performance.now()
        try {
          const { value } = await cp.admin.secret.getSecretValue({ name, realm: 'bulk' })
          if (value !== expected.get(name)) failures.push(`${name}: got another value`)
        } catch (err) {
          failures.push(`${name}: ${(err as Error).message}`)
        }
        if (started < rotationEnded && performance.now() > rotationStarted && rotationStarted > 0)
          overlapping++
      }
    }
    const written: string[] = []
    const writer = async () => {
      let n = 0
      while (rotating) {
        const name = `during-${n++}`
        await cp.admin.secret.createSecret({ name, realm: 'bulk', value: `${name}-value` })
        written.push(name)
      }
    }
    const load = [reader(0), reader(80), reader(160), writer()]
    await sleep(20)
    rotationStarted = performance.now()
    const result = await cp.admin.admin.rotateKek()
    rotationEnded = performance.now()
    rotating = false
    await Promise.all(load)

    assert.deepEqual(failures, [])
    assert.ok(overlapping > 0, 'reads ran while the KEK rotated')
    assert.notEqual(result.kek_id, oldKek)
    // Every data key under the old KEK was rewrapped: those written before the rotation began,
    // and any the writer added before the new KEK took over.
    assert.ok(
      result.rewrapped >= wrapped && result.rewrapped <= wrapped + written.length,
      `${result.rewrapped}`,
    )
    assert.deepEqual(result.retired_kek_ids, [oldKek])
    assert.deepEqual(result.unreadable, [])

    const keks = withDatabase(cp.dataDir, (db) => ({
      rows: db.prepare('SELECT id, state, wrapped_key IS NULL AS gone FROM keks ORDER BY created_at').all(),
      underOld: db.prepare('SELECT COUNT(*) FROM secret_versions WHERE kek_id = ?').pluck().get(oldKek),
    }))
    assert.deepEqual(keks.rows, [
      { id: oldKek, state: 'retired', gone: 1 },
      { id: result.kek_id, state: 'active', gone: 0 },
    ])
    assert.equal(keks.underOld, 0)

    await cp.stop()
    cp = await startControlPlane({}, cp.dataDir)
    for (const [name, value] of expected) {
      assert.equal((await cp.admin.secret.getSecretValue({ name, realm: 'bulk' })).value, value, name)
    }
    for (const name of written) {
      assert.equal((await cp.admin.secret.getSecretValue({ name, realm: 'bulk' })).value, `${name}-value`)
    }
    const previous = await cp.admin.secret.getSecretValue({ name: names[0]!, realm: 'bulk', version: 1 })
    assert.equal(previous.value, `${names[0]}-v1`, 'a version in its grace period was rewrapped too')
  })
})
