/**
 * @module The client's one HTTP call: JSON in, JSON out, and every failure thrown as `ApiError`
 * with the contract's code, so callers switch on `err.code`.
 */
import { ApiError } from '../errors.ts'

export interface ClientOptions {
  /** The control plane, e.g. `http://127.0.0.1:8080`. Defaults to `AGENTROUTER_BASE_URL`. */
  baseUrl?: string | undefined
  /** An API key (`ak-…`) or a session token. Defaults to `AGENTROUTER_API_KEY`. */
  apiKey?: string | undefined
  /** Per-request timeout in milliseconds (default 30 s). */
  timeoutMs?: number | undefined
  /** Extra headers on every request. */
  headers?: Record<string, string> | undefined
  fetch?: typeof fetch | undefined
}

export type QueryValue = string | number | boolean | undefined
export interface RequestOptions {
  query?: Record<string, QueryValue> | undefined
  body?: unknown
  /** Overrides the client's credential for this call. */
  apiKey?: string | undefined
  signal?: AbortSignal | undefined
}

export class Transport {
  readonly baseUrl: string
  readonly #apiKey: string | undefined
  readonly #timeoutMs: number
  readonly #headers: Record<string, string>
  readonly #fetch: typeof fetch

  constructor(options: ClientOptions = {}) {
    const baseUrl = options.baseUrl ?? process.env.AGENTROUTER_BASE_URL
    if (!baseUrl) throw new ApiError('invalid_argument', 'baseUrl: is required (or set AGENTROUTER_BASE_URL)')
    this.baseUrl = baseUrl.replace(/\/+$/, '')
    this.#apiKey = options.apiKey ?? process.env.AGENTROUTER_API_KEY ?? undefined
    this.#timeoutMs = options.timeoutMs ?? 30_000
    this.#headers = options.headers ?? {}
    this.#fetch = options.fetch ?? fetch
  }

  get hasCredential(): boolean {
    return Boolean(this.#apiKey)
  }

  url(path: string, query?: Record<string, QueryValue>): string {
    let url = this.baseUrl + path
    if (query) {
      const params = new URLSearchParams()
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v))
      const qs = params.toString()
      if (qs) url += `?${qs}`
    }
    return url
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.#headers }
    const apiKey = options.apiKey ?? this.#apiKey
    if (apiKey) headers.authorization = `Bearer ${apiKey}`
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
    const init: RequestInit = { method, headers, signal }
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(options.body)
    }
    let response: Response
    try {
      response = await this.#fetch(this.url(path, options.query), init)
    } catch (err) {
      if (timeout.aborted) throw new ApiError('deadline_exceeded', `${method} ${path}: timed out`)
      throw new ApiError(
        'unavailable',
        `${method} ${path}: ${(err as Error).cause ?? (err as Error).message}`,
      )
    }
    const text = await response.text()
    let json: unknown
    try {
      json = text ? JSON.parse(text) : {}
    } catch {
      throw new ApiError(
        response.ok ? 'internal' : 'unavailable',
        `${method} ${path}: HTTP ${response.status}, not JSON`,
      )
    }
    if (!response.ok) throw ApiError.fromBody(response.status, json)
    return json as T
  }
}
