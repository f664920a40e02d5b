/**
 * The revocation log's purge and snapshot at the store, on both engines (SQLite in a temp dir,
 * PostgreSQL in a fresh database, skipped by name without a server): the horizon advances with
 * the rows it purged and never moves back, the head never moves back, counts stay exact around
 * the rowid gaps a purge leaves, two purgers at once (two replicas) purge each entry once, and a
 * snapshot read is one consistent read while writes commit.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { migrate } from '../../control-plane/store/migrate.ts'
import { PostgresSql } from '../../control-plane/store/postgres.ts'
import { RevocationStore } from '../../control-plane/store/revocations.ts'
import type { Sql } from '../../control-plane/store/sql.ts'
import { openSqlite } from '../../control-plane/store/sqlite.ts'
import { createTestDatabase, POSTGRES_SKIP } from '../support/postgres.ts'
import { tempDir } from '../support/process.ts'

const ENGINES = [
  {
    name: 'sqlite',
    skip: false as const,
    create: async () => {
      const dir = tempDir('purge-')
      return { open: (): Sql => openSqlite(dir), drop: async () => {} }
    },
  },
  {
    name: 'postgres',
    skip: POSTGRES_SKIP,
    create: async () => {
      const db = await createTestDatabase()
      return { open: (): Sql => new PostgresSql({ connectionString: db.url }), drop: db.drop }
    },
  },
]

const NOW = 1_800_000_000_000_000
const LIVE = NOW + 86_400_000_000
const EXPIRED = NOW - 1

for (const engine of ENGINES) {
  describe(`the revocation log's purge on ${engine.name}`, { skip: engine.skip }, () => {
    let database: { open(): Sql; drop(): Promise<void> }
    const opened: Sql[] = []
    let store: RevocationStore
    let cursor = NOW - 1_000_000

    const append = async (jti: string, expiresAt: number, on = store): Promise<number> =>
      on.transaction(async () => {
        const revokedAt = await on.nextCursor(++cursor)
        await on.insert({ jti, kind: 'api_key', revoked_at: revokedAt, expires_at: expiresAt, reason: 't' })
        return revokedAt
      })
    const jtisAfter = async (since: number) => (await store.after(since, 1_000)).map((r) => r.jti)

    before(async () => {
      database = await engine.create()
      const sql = database.open()
      opened.push(sql)
      await migrate(sql)
      store = new RevocationStore(sql as never)
    })
    after(async () => {
      for (const s of opened) await s.close()
      await database?.drop()
    })

    it('purges only expired entries, advances the horizon to the highest purged cursor, and keeps counts exact', async () => {
      const a = await append('key_a', LIVE)
      const b = await append('key_b', EXPIRED)
      const c = await append('key_c', LIVE)
      const d = await append('key_d', EXPIRED)
      const e = await append('key_e', EXPIRED)
      assert.equal(await store.horizon(), 0)
      const purged = await store.purgeExpired(NOW, 2)
      assert.equal(purged.jtis.length, 2, 'bounded by the batch')
      const rest = await store.purgeExpired(NOW, 100)
      assert.deepEqual([...purged.jtis, ...rest.jtis].sort(), ['key_b', 'key_d', 'key_e'])
      assert.equal(rest.horizon, e)
      assert.equal(await store.horizon(), e)
      assert.equal(await store.head(), e, 'the newest entry was purged: the head stays')
      assert.deepEqual(await jtisAfter(0), ['key_a', 'key_c'])
      assert.equal(await store.countAfter(0), 2)
      assert.equal(await store.countAfter(a), 1)
      // After the horizon, with rowid gaps before it: exact.
      const f = await append('key_f', LIVE)
      const g = await append('key_g', EXPIRED + 10_000_000)
      assert.equal(await store.countAfter(e), 2)
      assert.equal(await store.countAfter(f), 1)
      assert.equal(await store.countAfter(g), 0)
      assert.deepEqual(await jtisAfter(e), ['key_f', 'key_g'])
      assert.ok(b < c && c < d)
      // Nothing newly expired: no change, and the horizon never moves back.
      assert.deepEqual(await store.purgeExpired(NOW, 100), { jtis: [], horizon: e })
      assert.equal(await store.head(), g)
    })

    const replicas =
      engine.name === 'sqlite' ? 'one process owns a SQLite file: replicas need PostgreSQL' : false
    it('two purgers at once (two replicas) delete each entry once and agree on the horizon', {
      skip: replicas,
    }, async () => {
      const other = database.open()
      opened.push(other)
      const otherStore = new RevocationStore(other as never)
      let top = 0
      for (let i = 0; i < 40; i++) top = await append(`ses_${String(i).padStart(3, '0')}`, NOW - 5)
      const [x, y] = await Promise.all([store.purgeExpired(NOW, 25), otherStore.purgeExpired(NOW, 25)])
      const [x2, y2] = await Promise.all([store.purgeExpired(NOW, 25), otherStore.purgeExpired(NOW, 25)])
      const all = [...x.jtis, ...y.jtis, ...x2.jtis, ...y2.jtis]
      assert.equal(all.length, 40)
      assert.equal(new Set(all).size, 40, 'none purged twice')
      assert.equal(await store.horizon(), top)
      assert.equal(await otherStore.horizon(), top)
    })

    it('a snapshot is one consistent read: writes committed while it is consumed are not in it', async () => {
      // More than two of the read's batches (5,000 rows each), 500 rows a statement.
      for (let i = 0; i < 12_000; i += 500) {
        const values: unknown[] = []
        for (let j = i; j < i + 500; j++) values.push(`key_bulk${String(j).padStart(6, '0')}`, ++cursor, LIVE)
        await store.db.run(
          `INSERT INTO revocations (jti, kind, revoked_at, expires_at, reason) VALUES ${Array(500).fill("(?, 'api_key', ?, ?, 't')").join(', ')}`,
          values,
        )
      }
      await store.nextCursor(cursor)
      const headBefore = await store.head()
      const read = await store.snapshot()
      const batches = read.batches
      const first = await batches.next()
      assert.equal(first.done, false)
      // Another connection (another replica) writes and purges while the read is open.
      const other = database.open()
      opened.push(other)
      const otherStore = new RevocationStore(other as never)
      await append('key_late', LIVE, otherStore)
      await other.run("DELETE FROM revocations WHERE jti = 'key_bulk011999'")
      let n = first.done ? 0 : first.value[0].length
      const seen = new Set(first.done ? [] : first.value[0])
      for await (const [jtis] of batches) {
        n += jtis.length
        for (const j of jtis) seen.add(j)
      }
      assert.equal(n, read.count, 'the rows agree with the count read at the start')
      assert.ok(!seen.has('key_late'))
      assert.ok(seen.has('key_bulk011999'))
      assert.equal(read.head, headBefore, 'the head as of the read')
      await read.close()
      assert.ok(await store.find('key_late'))
    })

    it('holds at most three snapshot reads open at once on PostgreSQL; the next waits for a slot', {
      skip: engine.name === 'sqlite' ? 'a SQLite snapshot opens its own read-only handle' : false,
    }, async () => {
      const reads = await Promise.all([store.snapshot(), store.snapshot(), store.snapshot()])
      let fourthOpen = false
      const fourth = store.snapshot().then((r) => {
        fourthOpen = true
        return r
      })
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(fourthOpen, false, 'the fourth waits while three are open')
      // Writes still get connections meanwhile.
      await append('key_during_reads', LIVE)
      await reads[0]!.close()
      const opened = await fourth
      assert.equal(opened.count, reads[1]!.count + 1)
      for (const r of [...reads.slice(1), opened]) await r.close()
    })
  })
}
