import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { RevocationSet } from '../../dataplane/auth/revocation-set.ts'
import { SnapshotFile } from '../../dataplane/sync/snapshot-file.ts'
import { newId } from '../../shared/ids.ts'
import { tempDir } from '../support/process.ts'

const header = {
  cursor: '2026-11-25T10:00:00.123456Z',
  syncedAtMs: 1_800_000_000_000,
  jwks: { keys: [{ kty: 'RSA', kid: 'k1', alg: 'RS256', n: 'AQAB', e: 'AQAB' }] },
  controlPlane: 'http://127.0.0.1:8080',
  journalSegment: 7,
}

describe('the snapshot file', () => {
  it('round-trips the revocation set, cursor and JWKS', async () => {
    const set = new RevocationSet()
    const now = Date.now() / 1000
    const ids: string[] = []
    for (let i = 0; i < 5_000; i++) {
      const id = newId((['apiKey', 'session', 'aiKey'] as const)[i % 3]!)
      ids.push(id)
      set.add(id, now + (i % 7) * 86_400)
    }
    set.add('ses_forever')
    set.add('some-other-shape', now + 60)
    const file = new SnapshotFile(tempDir())
    await file.write(header, set)
    const restored = new RevocationSet()
    const loaded = await file.load(restored)
    assert.equal(loaded?.entries, 5_002)
    assert.equal(loaded?.cursor, header.cursor)
    assert.equal(loaded?.syncedAtMs, header.syncedAtMs)
    assert.equal(loaded?.journalSegment, header.journalSegment)
    assert.deepEqual(loaded?.jwks, header.jwks)
    assert.equal(restored.size, 5_002)
    for (const id of ids) assert.ok(restored.has(id), id)
    assert.ok(restored.has('ses_forever') && restored.has('some-other-shape'))
    assert.deepEqual([...restored.jtis()].sort(), [...set.jtis()].sort())
  })

  it('is absent before the first write, and refused when truncated', async () => {
    const file = new SnapshotFile(tempDir())
    assert.equal(await file.load(new RevocationSet()), undefined)
    const set = new RevocationSet()
    set.add(newId('apiKey'))
    await file.write(header, set)
    const text = readFileSync(file.path, 'utf8')
    writeFileSync(file.path, text.slice(0, text.lastIndexOf('end')))
    await assert.rejects(file.load(new RevocationSet()), /truncated/)
  })
})
