/**
 * The revocation set's expiry: an entry stays while a verifier with the set's clock leeway could
 * still accept its token, and leaves within seconds after (expiries are kept in 4-second units,
 * rounded up: never early); the persisted file keeps that, and a file of the previous format
 * (expiries in hours) is read with its entries intact.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { ENTRY_BYTES, RevocationSet } from '../../dataplane/auth/revocation-set.ts'
import { SnapshotFile } from '../../dataplane/sync/snapshot-file.ts'
import { newId } from '../../shared/ids.ts'
import { tempDir } from '../support/process.ts'

const NOW = 1_800_000_000
const header = {
  cursor: '2026-11-25T10:00:00.123456Z',
  syncedAtMs: 1_800_000_000_000,
  jwks: undefined,
  controlPlane: 'http://127.0.0.1:8080',
  journalSegment: 0,
}

describe('revocation set expiry', () => {
  it('keeps an entry until its expiry plus the leeway has passed, then prunes it within seconds', () => {
    const set = new RevocationSet({ leewaySec: 30 })
    const key = newId('apiKey')
    const other = 'not-a-ulid-shape'
    const forever = newId('session')
    set.add(key, NOW + 10, NOW)
    set.add(other, NOW + 10, NOW)
    set.add(forever, Number.POSITIVE_INFINITY, NOW)
    // Up to expiry + leeway, a token could still verify: kept.
    assert.equal(set.prune(NOW + 40), 0)
    assert.ok(set.has(key) && set.has(other))
    // Past expiry + leeway + the 4-second rounding: gone.
    assert.equal(set.prune(NOW + 45), 2)
    assert.ok(!set.has(key) && !set.has(other))
    assert.ok(set.has(forever), 'a credential that never expires stays')
    assert.equal(set.size, 1)
    // An entry already past expiry + leeway is not added at all.
    assert.equal(set.add(newId('apiKey'), NOW - 60, NOW), false)
  })

  it('persists expiries to the second-scale unit, and reads a format-2 file (hours) with its entries', async () => {
    const now = Date.now() / 1000
    const set = new RevocationSet({ leewaySec: 0 })
    const soon = newId('aiKey')
    const later = newId('apiKey')
    set.add(soon, now + 8)
    set.add(later, now + 86_400)
    set.add('other-shape', now + 8)
    const file = new SnapshotFile(tempDir())
    await file.write(header, set)
    const restored = new RevocationSet({ leewaySec: 0 })
    await file.load(restored)
    assert.ok(restored.has(soon) && restored.has(later) && restored.has('other-shape'))
    assert.equal(restored.prune(now + 13), 2, 'the short expiry survived the file, to within its unit')
    assert.ok(restored.has(later))

    // The same file as format 2 wrote it: tag << 28 | hour, and hours on the other lines.
    const bytes = readFileSync(file.path)
    const headerEnd = bytes.indexOf(10)
    const head = JSON.parse(bytes.toString('utf8', 0, headerEnd))
    const count = bytes.readUInt32LE(headerEnd + 1)
    const blockAt = headerEnd + 5
    for (let i = 0; i < count; i++) {
      const at = blockAt + i * ENTRY_BYTES + 16
      const m = bytes.readUInt32LE(at)
      const units = m & 0x3fffffff
      bytes.writeUInt32LE((((m >>> 30) << 28) | Math.ceil((units * 4) / 3600)) >>> 0, at)
    }
    const rest = bytes
      .toString('latin1', blockAt + count * ENTRY_BYTES)
      .replace(/^(\s*\S{4})(\d+) other-shape/m, (_all, lead: string, units: string) => {
        return `${lead}${Math.ceil((Number(units) * 4) / 3600)} other-shape`
      })
    const v2 = Buffer.concat([
      Buffer.from(`${JSON.stringify({ ...head, format: 'agentrouter-dataplane-snapshot/2' })}\n`),
      bytes.subarray(headerEnd + 1, blockAt + count * ENTRY_BYTES),
      Buffer.from(rest, 'latin1'),
    ])
    writeFileSync(file.path, v2)
    const fromV2 = new RevocationSet({ leewaySec: 0 })
    const loaded = await file.load(fromV2)
    assert.equal(loaded?.entries, 3)
    assert.ok(fromV2.has(soon) && fromV2.has(later) && fromV2.has('other-shape'))
    // An hour's rounding: kept for now, and gone once that hour (and a bit) is over.
    assert.equal(fromV2.prune(now + 13), 0)
    assert.equal(fromV2.prune(now + 2 * 3600 + 1), 2)
    assert.ok(fromV2.has(later))
  })
})
