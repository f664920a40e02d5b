/**
 * @module A real control plane for tests: a child process on 127.0.0.1 port 0 with its own data
 * directory and its development IdP, plus the bootstrap admin key it wrote.
 *
 * Its database is SQLite in the data directory, unless `AGENTROUTER_TEST_ENGINE=postgres`: then
 * every data directory gets a fresh PostgreSQL database (`test/support/postgres.ts`) and a root
 * key of its own, reused when a test restarts a control plane on the same data directory, and
 * dropped when the test process ends. A test that gives `AGENTROUTER_DATABASE_URL` itself (several
 * replicas on one database) gets exactly that.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { Client } from '../../shared/client/index.ts'
import { Browser } from './browser.ts'
import { pkcePair } from './pkce.ts'
import { createTestDatabase, POSTGRES_SKIP, type TestDatabase } from './postgres.ts'
import { type StartedProcess, startProcess, tempDir } from './process.ts'

/** The engine the control planes of this test process use: `AGENTROUTER_TEST_ENGINE`. */
export const TEST_ENGINE: 'sqlite' | 'postgres' =
  process.env.AGENTROUTER_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite'

/**
 * For node:test's `skip` option on a test that reads or writes the SQLite file itself (at-rest
 * markers, tampering): false on SQLite, the reason on PostgreSQL.
 */
export const SQLITE_ONLY: string | false =
  TEST_ENGINE === 'postgres' ? 'opens the SQLite database file directly: SQLite only' : false

interface EngineDatabase {
  env: Record<string, string>
  database: TestDatabase
}

const databases = new Map<string, Promise<EngineDatabase>>()
const urls = new Map<string, string>()

/** The PostgreSQL database of a data directory's control plane, when it runs on one. */
export function postgresUrlFor(dataDir: string): string | undefined {
  return urls.get(dataDir)
}

/** The PostgreSQL settings of a data directory: one fresh database and root key per directory. */
function databaseFor(dataDir: string): Promise<EngineDatabase> {
  let entry = databases.get(dataDir)
  if (!entry) {
    if (POSTGRES_SKIP) throw new Error(`AGENTROUTER_TEST_ENGINE=postgres, but ${POSTGRES_SKIP}`)
    if (databases.size === 0) process.once('beforeExit', () => void dropAll())
    entry = createTestDatabase().then((database) => {
      urls.set(dataDir, database.url)
      return {
        database,
        env: {
          AGENTROUTER_DATABASE_URL: database.url,
          AGENTROUTER_ROOT_KEY: randomBytes(32).toString('base64'),
        },
      }
    })
    databases.set(dataDir, entry)
  }
  return entry
}

async function dropAll(): Promise<void> {
  const all = [...databases.values()]
  databases.clear()
  for (const entry of all) await (await entry).database.drop().catch(() => {})
}

export interface TestControlPlane {
  url: string
  dataDir: string
  devIdp: string
  adminKey: string
  dataplaneKey: string
  process: StartedProcess
  /** A client with the bootstrap admin key. */
  admin: Client
  client(apiKey?: string): Client
  /** Logs in through the development IdP as `login` (an email), the way a browser would. */
  login(login: string): Promise<LoginResult>
  stop(): Promise<void>
}

export interface LoginResult {
  sessionToken: string
  identityId: string
  customerId: string
  projectId: string
  client: Client
}

export async function startControlPlane(
  env: Record<string, string> = {},
  dataDir = tempDir(),
): Promise<TestControlPlane> {
  const engineEnv =
    TEST_ENGINE === 'postgres' && env.AGENTROUTER_DATABASE_URL === undefined
      ? (await databaseFor(dataDir)).env
      : {}
  const proc = await startProcess(
    'control-plane/main.ts',
    {
      AGENTROUTER_DATA_DIR: dataDir,
      AGENTROUTER_CP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DEV_IDP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_LOG_LEVEL: 'debug',
      ...engineEnv,
      ...env,
    },
    'control plane listening',
  )
  const url = proc.ready.url as string
  // A replica that found the database bootstrapped by another wrote no key files: ''.
  const readKey = (file: unknown) =>
    typeof file === 'string' && existsSync(file) ? readFileSync(file, 'utf8').trim() : ''
  const adminKey = readKey(proc.ready.bootstrap_admin_key_file)
  const dataplaneKey = readKey(proc.ready.dataplane_key_file)
  const client = (apiKey?: string) => new Client({ baseUrl: url, apiKey: apiKey ?? '' })
  return {
    url,
    dataDir,
    devIdp: (proc.ready.dev_idp as string) ?? '',
    adminKey,
    dataplaneKey,
    process: proc,
    admin: client(adminKey),
    client,
    login: (login) => loginThroughDevIdp(url, login),
    stop: () => proc.stop(),
  }
}

export const LOOPBACK_REDIRECT = 'http://127.0.0.1:53682/callback'

export async function loginThroughDevIdp(url: string, login: string): Promise<LoginResult> {
  const anonymous = new Client({ baseUrl: url, apiKey: '' })
  const { verifier, challenge } = pkcePair()
  const started = await anonymous.me.login({ redirectUri: LOOPBACK_REDIRECT, codeChallenge: challenge })
  const { code, state } = await new Browser().authorize(started.authorization_url, LOOPBACK_REDIRECT, login)
  const done = await anonymous.me.callback({ code, state, codeVerifier: verifier })
  return {
    sessionToken: done.session_token,
    identityId: done.identity.id,
    customerId: done.identity.default_customer_id,
    projectId: done.identity.default_project_id,
    client: new Client({ baseUrl: url, apiKey: done.session_token }),
  }
}
