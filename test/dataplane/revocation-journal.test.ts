import assert from 'node:assert/strict'
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { RevocationJournal } from '../../dataplane/sync/revocation-journal.ts'
import { newId } from '../../shared/ids.ts'
import { tempDir } from '../support/process.ts'

const cursor = (i: number) => `2026-12-01T10:00:00.${String(i).padStart(6, '0')}Z`

async function replayAll(dir: string, from = 0) {
  const seen: Array<{ jti: string; expiresAtSec: number; cursor: string }> = []
  const result = await new RevocationJournal(dir).replay(from, (e) => seen.push(e))
  return { seen, result }
}

describe('the revocation journal', () => {
  it('replays what was committed, in order, with each expiry (none: never)', async () => {
    const dir = tempDir()
    const journal = new RevocationJournal(dir)
    await journal.replay(0, () => {})
    const jtis = [newId('apiKey'), newId('session'), newId('aiKey')]
    journal.append(jtis[0]!, 1_900_000_000.5, cursor(1))
    journal.append(jtis[1]!, Number.POSITIVE_INFINITY, cursor(2))
    await journal.commit()
    journal.append(jtis[2]!, 1_900_000_100, cursor(3))
    await journal.commit()
    await journal.close()
    const { seen, result } = await replayAll(dir)
    assert.deepEqual(seen, [
      { jti: jtis[0], expiresAtSec: 1_900_000_000.5, cursor: cursor(1) },
      { jti: jtis[1], expiresAtSec: Number.POSITIVE_INFINITY, cursor: cursor(2) },
      { jti: jtis[2], expiresAtSec: 1_900_000_100, cursor: cursor(3) },
    ])
    assert.deepEqual(result, { records: 3, damaged: 0, lastCursor: cursor(3) })
  })

  it('commits entries queued together, and commits asked for during a write, with one fsync each', async () => {
    const dir = tempDir()
    const journal = new RevocationJournal(dir)
    await journal.replay(0, () => {})
    const commits: number[] = []
    journal.onCommitted = (entries) => commits.push(entries)
    for (let i = 0; i < 100; i++) journal.append(newId('apiKey'), 1_900_000_000, cursor(i + 1))
    const first = journal.commit()
    // After the first write took its entries: three more commits, which share the next write.
    await new Promise((r) => setImmediate(r))
    const later: Promise<void>[] = []
    for (let i = 0; i < 3; i++) {
      journal.append(newId('apiKey'), 1_900_000_000, cursor(101 + i))
      later.push(journal.commit())
    }
    await Promise.all([first, ...later])
    assert.deepEqual(commits, [100, 3])
    assert.equal((await replayAll(dir)).result.records, 103)
  })

  it('ignores a torn last record and a damaged one, keeping every intact record', async () => {
    const dir = tempDir()
    const journal = new RevocationJournal(dir)
    await journal.replay(0, () => {})
    for (let i = 1; i <= 3; i++) journal.append(newId('apiKey'), 1_900_000_000, cursor(i))
    await journal.commit()
    await journal.close()
    const [name] = readdirSync(dir)
    const path = join(dir, name!)
    const lines = readFileSync(path, 'utf8').split('\n')
    // The second record's JTI altered (its checksum no longer matches), and a torn write after it.
    lines[1] = lines[1]!.replace('"j":"key_', '"j":"key_X')
    writeFileSync(path, lines.join('\n'))
    appendFileSync(path, lines[2]!.slice(0, 30))
    const { seen, result } = await replayAll(dir)
    assert.deepEqual(
      seen.map((e) => e.cursor),
      [cursor(1), cursor(3)],
    )
    assert.equal(result.damaged, 2)
  })

  it('after a restart, appends go to a new segment, never after a torn tail', async () => {
    const dir = tempDir()
    const first = new RevocationJournal(dir)
    await first.replay(0, () => {})
    first.append(newId('apiKey'), 1_900_000_000, cursor(1))
    await first.commit()
    await first.close()
    appendFileSync(join(dir, readdirSync(dir)[0]!), '0123abcd {"c":"torn')
    const second = new RevocationJournal(dir)
    await second.replay(0, () => {})
    second.append(newId('apiKey'), 1_900_000_000, cursor(2))
    await second.commit()
    await second.close()
    assert.equal(readdirSync(dir).length, 2)
    const { seen, result } = await replayAll(dir)
    assert.deepEqual(
      seen.map((e) => e.cursor),
      [cursor(1), cursor(2)],
    )
    assert.equal(result.damaged, 1)
  })

  it('a rotation starts a segment; dropping before it leaves only what came after', async () => {
    const dir = tempDir()
    const journal = new RevocationJournal(dir)
    await journal.replay(0, () => {})
    journal.append(newId('apiKey'), 1_900_000_000, cursor(1))
    await journal.commit()
    const segment = journal.rotate()
    journal.append(newId('apiKey'), 1_900_000_000, cursor(2))
    await journal.commit()
    // Before the drop (a crash before the snapshot was on disk) both segments replay.
    assert.equal((await replayAll(dir)).seen.length, 2)
    // Replaying from the snapshot's segment reads only that one, and deletes the older.
    assert.deepEqual(
      (await replayAll(dir, segment)).seen.map((e) => e.cursor),
      [cursor(2)],
    )
    journal.append(newId('apiKey'), 1_900_000_000, cursor(3))
    await journal.commit()
    await journal.dropBefore(segment)
    await journal.close()
    assert.deepEqual(
      (await replayAll(dir)).seen.map((e) => e.cursor),
      [cursor(2), cursor(3)],
    )
  })
})
