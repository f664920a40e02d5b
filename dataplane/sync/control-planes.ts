/**
 * @module Which control plane the dataplane talks to now. `AGENTROUTER_CONTROL_PLANE_URL` may
 * list several (replicas, or one behind several addresses); every call goes to the current one,
 * and a failure to reach it (a connection error, or 502/503/504) moves to the next in the list.
 * The stream moves on when its connection ends. With one URL nothing changes.
 *
 * The typed client is built once with the first URL as its base; `fetch` rebases each request
 * onto the current control plane and retries it on the next ones (at most once each), so the
 * JWKS fetch, the revocation polls and the BYOK resolution fail over with no change of their own.
 */
import type { Logger } from '../../shared/logger.ts'

const UNAVAILABLE = new Set([502, 503, 504])

export class ControlPlanes {
  readonly urls: readonly string[]
  readonly #log: Logger
  #index = 0

  constructor(urls: readonly string[], log: Logger) {
    if (urls.length === 0) throw new Error('at least one control plane URL')
    this.urls = urls.map((u) => u.replace(/\/+$/, ''))
    this.#log = log
  }

  /** The base URL calls go to now. */
  get current(): string {
    return this.urls[this.#index]!
  }

  /** `url` (one of ours, or under one) failed: move to the next control plane, unless already moved. */
  failed(url: string): void {
    if (this.urls.length < 2 || !under(url, this.current)) return
    const from = this.current
    this.#index = (this.#index + 1) % this.urls.length
    this.#log.warn('control plane unreachable; failing over', { from, to: this.current })
  }

  /** `url` (built on the first control plane, `http` or `ws`) moved onto the current one. */
  rebase(url: string): string {
    const ws = url.startsWith('ws')
    const first = ws ? asWs(this.urls[0]!) : this.urls[0]!
    if (!url.startsWith(`${first}/`)) return url
    return (ws ? asWs(this.current) : this.current) + url.slice(first.length)
  }

  /** A `fetch` for the client: to the current control plane, then each other one on failure. */
  readonly fetch: typeof fetch = async (input, init) => {
    const original = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    let lastError: unknown
    for (let attempt = 0; attempt < this.urls.length; attempt++) {
      const url = this.rebase(original)
      let response: Response
      try {
        response = await fetch(url, init)
      } catch (err) {
        if (init?.signal?.aborted) throw err
        lastError = err
        this.failed(url)
        continue
      }
      if (!UNAVAILABLE.has(response.status) || attempt === this.urls.length - 1) return response
      await response.body?.cancel()
      this.failed(url)
    }
    throw lastError
  }
}

const asWs = (url: string): string => url.replace(/^http/, 'ws')

/** Whether `url` (http or ws) is a path under `base`. */
const under = (url: string, base: string): boolean =>
  url.startsWith(`${base}/`) || url.startsWith(`${asWs(base)}/`)
