/**
 * @module PostgreSQL for tests: the server at `AGENTROUTER_TEST_DATABASE_URL` (default: this
 * machine's, `postgres://postgres@127.0.0.1:5432/postgres`), probed once, and a fresh database
 * per test or suite, created under a random name and dropped after. When the server cannot be
 * reached, `POSTGRES_SKIP` is the reason, for node:test's `skip` option: the tests that need it
 * are reported as skipped, by name, never passed silently.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const TEST_DATABASE_URL =
  process.env.AGENTROUTER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** The URL without its password, for messages. */
function shown(url: string): string {
  const u = new URL(url)
  if (u.password) u.password = '***'
  return u.toString()
}

async function probe(): Promise<string | false> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return false
  } catch (err) {
    return `PostgreSQL is not reachable at ${shown(TEST_DATABASE_URL)} (set AGENTROUTER_TEST_DATABASE_URL): ${(err as Error).message}`
  } finally {
    await client.end().catch(() => {})
  }
}

/** `false` when PostgreSQL answers; otherwise why the tests that need it are skipped. */
export const POSTGRES_SKIP: string | false = await probe()

export interface TestDatabase {
  /** The URL of the fresh database. */
  url: string
  name: string
  drop(): Promise<void>
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Creates an empty database with a random name; `drop()` removes it, disconnecting its users. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `agentrouter_test_${randomBytes(6).toString('hex')}`
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  const u = new URL(TEST_DATABASE_URL)
  u.pathname = `/${name}`
  return {
    url: u.toString(),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  }
}
