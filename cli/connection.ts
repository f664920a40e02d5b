/**
 * @module Which control plane `tare` talks to and with which credential. Base URL: `--base-url`,
 * then `AGENTROUTER_BASE_URL`, then the stored session's, then the local default. Credential:
 * `AGENTROUTER_API_KEY`, then the stored session, but only when the session was issued by that
 * same control plane (a token is never sent to another server).
 */
import { Client } from '../shared/client/index.ts'
import { UsageError } from './command.ts'
import { type CliEnv, DEFAULT_BASE_URL } from './env.ts'
import { readSession, type StoredSession } from './session.ts'

export interface Credential {
  token: string
  source: 'AGENTROUTER_API_KEY' | 'session'
  session?: StoredSession
}

export class Connection {
  readonly baseUrl: string
  readonly #env: CliEnv
  #credential: Credential | null | undefined

  constructor(env: CliEnv, baseUrlFlag: string | undefined) {
    this.#env = env
    const stored = readSession(env.configDir)
    const raw = baseUrlFlag ?? env.baseUrl ?? stored?.base_url ?? DEFAULT_BASE_URL
    this.baseUrl = normalizeBaseUrl(raw, baseUrlFlag !== undefined ? '--base-url' : 'AGENTROUTER_BASE_URL')
  }

  /** The credential in effect, or undefined when there is none. */
  credential(): Credential | undefined {
    if (this.#credential === undefined) {
      if (this.#env.apiKey) {
        this.#credential = { token: this.#env.apiKey, source: 'AGENTROUTER_API_KEY' }
      } else {
        const session = readSession(this.#env.configDir)
        this.#credential =
          session && normalizeBaseUrl(session.base_url, 'session') === this.baseUrl
            ? { token: session.session_token, source: 'session', session }
            : null
      }
    }
    return this.#credential ?? undefined
  }

  client(options: { timeoutMs?: number } = {}): Client {
    return new Client({ baseUrl: this.baseUrl, apiKey: this.credential()?.token ?? '', ...options })
  }

  anonymousClient(): Client {
    return new Client({ baseUrl: this.baseUrl, apiKey: '' })
  }
}

export function normalizeBaseUrl(raw: string, source: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`${source}: "${raw}" is not a URL (expected e.g. ${DEFAULT_BASE_URL})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source}: "${raw}" must be an http(s) URL`)
  }
  return raw.replace(/\/+$/, '')
}
