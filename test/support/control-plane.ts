/**
 * @module A real control plane for tests: a child process on 127.0.0.1 port 0 with its own data
 * directory and its development IdP, plus the bootstrap admin key it wrote.
 */
import { readFileSync } from 'node:fs'
import { Client } from '../../shared/client/index.ts'
import { Browser } from './browser.ts'
import { pkcePair } from './pkce.ts'
import { type StartedProcess, startProcess, tempDir } from './process.ts'

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
  const proc = await startProcess(
    'control-plane/main.ts',
    {
      AGENTROUTER_DATA_DIR: dataDir,
      AGENTROUTER_CP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DEV_IDP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_LOG_LEVEL: 'debug',
      ...env,
    },
    'control plane listening',
  )
  const url = proc.ready.url as string
  const adminKey = readFileSync(proc.ready.bootstrap_admin_key_file as string, 'utf8').trim()
  const dataplaneKey = readFileSync(proc.ready.dataplane_key_file as string, 'utf8').trim()
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
