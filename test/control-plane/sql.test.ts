/**
 * The SQL layer: the same cases against both engines (SQLite in a temp dir, PostgreSQL in a
 * fresh database), plus what only one engine has (SQLite's mutex and user_version, PostgreSQL's
 * advisory lock and `unavailable`).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { migrate, migrationsOf } from '../../control-plane/store/migrate.ts'
import { compile, PostgresSql } from '../../control-plane/store/postgres.ts'
import type { Sql } from '../../control-plane/store/sql.ts'
import { openSqlite } from '../../control-plane/store/sqlite.ts'
import { ApiError } from '../../shared/errors.ts'
import { createTestDatabase, POSTGRES_SKIP } from '../support/postgres.ts'
import { tempDir } from '../support/process.ts'

interface EngineUnderTest {
  name: 'sqlite' | 'postgres'
  skip: string | false
  /** A fresh empty database; `open()` may be called again for a second connection to it. */
  create(): Promise<{ open(): Sql; drop(): Promise<void> }>
}

const ENGINES: EngineUnderTest[] = [
  {
    name: 'sqlite',
    skip: false,
    create: async () => {
      const dir = tempDir('sql-')
      return { open: () => openSqlite(dir), drop: async () => {} }
    },
  },
  {
    name: 'postgres',
    skip: POSTGRES_SKIP,
    create: async () => {
      const db = await createTestDatabase()
      return { open: () => new PostgresSql({ connectionString: db.url }), drop: db.drop }
    },
  },
]

const deferred = () => {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

for (const engine of ENGINES) {
  describe(`the SQL layer on ${engine.name}`, { skip: engine.skip }, () => {
    let database: { open(): Sql; drop(): Promise<void> }
    let sql: Sql
    const opened: Sql[] = []
    const open = () => {
      const s = database.open()
      opened.push(s)
      return s
    }

    before(async () => {
      database = await engine.create()
      sql = open()
      await sql.run(
        'CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, b BYTEA_OR_BLOB)'.replace(
          'BYTEA_OR_BLOB',
          engine.name === 'postgres' ? 'BYTEA' : 'BLOB',
        ),
      )
    })
    after(async () => {
      for (const s of opened) await s.close().catch(() => {})
      await database.drop()
    })

    const ids = async () => (await sql.all<{ id: string }>('SELECT id FROM t ORDER BY id')).map((r) => r.id)

    it('names the engine it runs on', () => {
      assert.equal(sql.engine, engine.name)
    })

    it('commits a transaction that resolves and rolls back one that throws, whole', async () => {
      await sql.run('DELETE FROM t')
      const value = await sql.transaction(async (tx) => {
        await tx.run('INSERT INTO t (id, n) VALUES (?, ?)', ['a', 1])
        await sql.run('INSERT INTO t (id, n) VALUES (?, ?)', ['b', 2])
        return 'done'
      })
      assert.equal(value, 'done')
      await assert.rejects(
        sql.transaction(async () => {
          await sql.run('INSERT INTO t (id, n) VALUES (?, ?)', ['c', 3])
          await sql.run('UPDATE t SET n = 10 WHERE id = ?', ['a'])
          throw new Error('boom')
        }),
        /boom/,
      )
      assert.deepEqual(await ids(), ['a', 'b'])
      assert.equal((await sql.get<{ n: number }>('SELECT n FROM t WHERE id = ?', ['a']))?.n, 1)
    })

    it('a transaction inside another is a savepoint: its failure undoes only its own writes', async () => {
      await sql.run('DELETE FROM t')
      await sql.transaction(async () => {
        await sql.run('INSERT INTO t (id) VALUES (?)', ['outer'])
        await assert.rejects(
          sql.transaction(async () => {
            await sql.run('INSERT INTO t (id) VALUES (?)', ['inner'])
            throw new Error('inner failed')
          }),
          /inner failed/,
        )
        await sql.transaction(async () => sql.run('INSERT INTO t (id) VALUES (?)', ['inner2']))
      })
      assert.deepEqual(await ids(), ['inner2', 'outer'])
    })

    it('a write made outside an open transaction is not undone by its rollback', async () => {
      await sql.run('DELETE FROM t')
      const inside = deferred()
      const release = deferred()
      const tx = sql
        .transaction(async () => {
          await sql.run('INSERT INTO t (id) VALUES (?)', ['in-tx'])
          inside.resolve()
          await release.promise
          throw new Error('rolled back')
        })
        .catch((err: Error) => err.message)
      await inside.promise
      let outsideDone = false
      const outside = sql.run('INSERT INTO t (id) VALUES (?)', ['outside']).then(() => {
        outsideDone = true
      })
      await new Promise((r) => setTimeout(r, 50))
      if (engine.name === 'sqlite') {
        // One connection: the outside write waits for the transaction instead of joining it.
        assert.equal(outsideDone, false, 'the outside write waited for the open transaction')
      }
      release.resolve()
      assert.equal(await tx, 'rolled back')
      await outside
      assert.deepEqual(await ids(), ['outside'])
    })

    it('binds ? and @name placeholders, leaving a ? inside a string literal alone', async () => {
      await sql.run('DELETE FROM t')
      await sql.run('INSERT INTO t (id, n) VALUES (@id, @n)', { id: 'what?', n: 7 })
      const row = await sql.get<{ id: string; q: string; n: number }>(
        "SELECT id, '?' AS q, n FROM t WHERE id = ? AND n = ?",
        ['what?', 7],
      )
      assert.deepEqual(row, { id: 'what?', q: '?', n: 7 })
      const named = await sql.get<{ id: string }>('SELECT id FROM t WHERE n = @n AND (@n > 0 OR id = @id)', {
        n: 7,
        id: 'x',
      })
      assert.equal(named?.id, 'what?')
      assert.equal((await sql.run('UPDATE t SET n = n + 1 WHERE id = ?', ['nope'])).changes, 0)
      assert.equal((await sql.run('UPDATE t SET n = n + 1 WHERE id = ?', ['what?'])).changes, 1)
    })

    it('reads a BIGINT microsecond timestamp and a COUNT as exact numbers', async () => {
      await sql.run('DELETE FROM t')
      const micros = 2 ** 52 + 1
      await sql.run('INSERT INTO t (id, n) VALUES (?, ?)', ['big', micros])
      const row = await sql.get<{ n: number; c: number; m: number }>(
        'SELECT n, (SELECT COUNT(*) FROM t) AS c, (SELECT MAX(n) FROM t) AS m FROM t WHERE id = ?',
        ['big'],
      )
      assert.deepEqual(row, { n: micros, c: 1, m: micros })
      assert.equal(typeof row?.c, 'number')
    })

    it('round-trips every byte value through a blob as a Buffer', async () => {
      await sql.run('DELETE FROM t')
      const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256))
      await sql.run('INSERT INTO t (id, b) VALUES (?, ?)', ['blob', bytes])
      const row = await sql.get<{ b: Buffer }>('SELECT b FROM t WHERE id = ?', ['blob'])
      assert.ok(Buffer.isBuffer(row?.b))
      assert.ok(bytes.equals(row.b))
    })

    it('applies every migration exactly once when two runners race on the same database (PostgreSQL)', async () => {
      const fresh = await engine.create()
      const a = fresh.open()
      const b = fresh.open()
      try {
        // SQLite's busy wait blocks the thread, so two handles in one process cannot race: there
        // the second runner starts after the first (SQLite serves one process).
        const [appliedA, appliedB] =
          engine.name === 'postgres'
            ? await Promise.all([migrate(a), migrate(b)])
            : [await migrate(a), await migrate(b)]
        const all = migrationsOf(engine.name).map((m) => m.version)
        assert.deepEqual(
          [...appliedA, ...appliedB].sort((x, y) => x - y),
          all,
          'each version applied by exactly one runner',
        )
        const recorded = await a.all<{ version: number }>(
          'SELECT version FROM schema_migrations ORDER BY version',
        )
        assert.deepEqual(
          recorded.map((r) => r.version),
          all,
        )
        assert.deepEqual(await migrate(a), [], 'a later start applies nothing')
        const head = await a.get<{ cursor: number }>('SELECT cursor FROM log_head WHERE id = 1')
        assert.equal(head?.cursor, 0)
      } finally {
        await a.close()
        await b.close()
        await fresh.drop()
      }
    })

    it('answers ping while the database is there', async () => {
      assert.equal(await sql.ping(), true)
    })
  })
}

describe('the SQL layer, SQLite only', () => {
  it('a database migrated before schema_migrations keeps its user_version as applied', async () => {
    const dir = tempDir('sql-old-')
    const old = new Database(join(dir, 'agentrouter.db'))
    const [first, second] = migrationsOf('sqlite')
    old.exec(first!.sql)
    old.exec(second!.sql)
    old.pragma('user_version = 2')
    old.prepare("INSERT INTO settings (key, value) VALUES ('kept', 'yes')").run()
    old.close()
    const sql = openSqlite(dir)
    try {
      const applied = await migrate(sql)
      assert.deepEqual(
        applied,
        migrationsOf('sqlite')
          .map((m) => m.version)
          .filter((v) => v > 2),
      )
      assert.equal(
        (await sql.get<{ value: string }>("SELECT value FROM settings WHERE key = 'kept'"))?.value,
        'yes',
      )
    } finally {
      await sql.close()
    }
  })

  it('a query outside a transaction resolves only after the transaction commits, and sees its write', async () => {
    const sql = openSqlite(tempDir('sql-mutex-'))
    try {
      await sql.run('CREATE TABLE t (id TEXT PRIMARY KEY)')
      const order: string[] = []
      const release = deferred()
      const tx = sql.transaction(async () => {
        await sql.run('INSERT INTO t (id) VALUES (?)', ['x'])
        await release.promise
        order.push('commit')
      })
      const read = sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM t').then((r) => {
        order.push('read')
        return r?.n
      })
      await new Promise((r) => setTimeout(r, 30))
      release.resolve()
      await tx
      assert.equal(await read, 1)
      assert.deepEqual(order, ['commit', 'read'])
    } finally {
      await sql.close()
    }
  })
})

describe('the SQL layer, PostgreSQL only', () => {
  it('rewrites ? and @name to $n once per name, skipping literals, quoted names and comments', () => {
    assert.deepEqual(compile('SELECT \'?\', "a?" FROM t -- is it?\nWHERE a = ? AND b = ?'), {
      text: 'SELECT \'?\', "a?" FROM t -- is it?\nWHERE a = $1 AND b = $2',
      names: null,
    })
    assert.deepEqual(compile('UPDATE t SET a = @a WHERE b = @b OR a = @a AND c::text = @c'), {
      text: 'UPDATE t SET a = $1 WHERE b = $2 OR a = $1 AND c::text = $3',
      names: ['a', 'b', 'c'],
    })
  })

  it('a database that cannot be reached is the contract’s unavailable', async () => {
    const sql = new PostgresSql({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectTimeoutMs: 2_000,
    })
    try {
      await assert.rejects(
        sql.get('SELECT 1'),
        (err: unknown) => err instanceof ApiError && err.code === 'unavailable',
      )
      await assert.rejects(
        sql.transaction(async (tx) => tx.get('SELECT 1')),
        (err: unknown) => err instanceof ApiError && err.code === 'unavailable',
      )
      assert.equal(await sql.ping(), false)
    } finally {
      await sql.close()
    }
  })

  it('transactions holding the same named lock run one after the other', {
    skip: POSTGRES_SKIP,
  }, async () => {
    const db = await createTestDatabase()
    const sql = new PostgresSql({ connectionString: db.url })
    try {
      const events: string[] = []
      const slow = deferred()
      const first = sql.transaction(
        async () => {
          events.push('first in')
          await slow.promise
          events.push('first out')
        },
        { lock: 'test.lock' },
      )
      await new Promise((r) => setTimeout(r, 100))
      const second = sql.transaction(
        async () => {
          events.push('second in')
        },
        { lock: 'test.lock' },
      )
      await new Promise((r) => setTimeout(r, 200))
      slow.resolve()
      await Promise.all([first, second])
      assert.deepEqual(events, ['first in', 'first out', 'second in'])
    } finally {
      await sql.close()
      await db.drop()
    }
  })
})
