/**
 * @module One undici `Pool` per upstream origin, with keep-alive connections reused across
 * requests, connect / headers / idle-body timeouts, and the pool stats that show whether any
 * socket or request has leaked; with it, the paths forwarded to that provider.
 */

import { Pool } from 'undici'
import type { Provider } from '../../shared/contract/aikeys.ts'
import { ApiPaths, type ExtraPath } from './paths.ts'
import { ADAPTERS } from './providers/index.ts'

export interface UpstreamOptions {
  connections: number
  connectTimeoutMs: number
  headersTimeoutMs: number
  idleTimeoutMs: number
  /** Prefixes forwarded beyond each provider's inference API. */
  extraPaths: readonly ExtraPath[]
}

export interface Upstream {
  provider: Provider
  pool: Pool
  origin: string
  /** The base URL's path (`''` for a bare origin), put before every forwarded path. */
  basePath: string
  /** What may be forwarded: the provider's inference API plus the operator's extra prefixes. */
  paths: ApiPaths
}

export class Upstreams {
  readonly #byProvider = new Map<Provider, Upstream>()

  constructor(baseUrls: Record<Provider, string>, options: UpstreamOptions) {
    for (const [provider, base] of Object.entries(baseUrls) as Array<[Provider, string]>) {
      const url = new URL(base)
      const pool = new Pool(url.origin, {
        connections: options.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: options.connectTimeoutMs },
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: options.idleTimeoutMs,
      })
      this.#byProvider.set(provider, {
        provider,
        pool,
        origin: url.origin,
        basePath: url.pathname.replace(/\/+$/, ''),
        paths: new ApiPaths(provider, [
          ...ADAPTERS[provider].apiPaths,
          ...options.extraPaths.filter((e) => e.provider === provider).map((e) => e.prefix),
        ]),
      })
    }
  }

  get(provider: Provider): Upstream {
    return this.#byProvider.get(provider)!
  }

  stats(): Array<{ provider: string; connected: number; free: number; pending: number; running: number }> {
    return [...this.#byProvider.values()].map(({ provider, pool }) => ({
      provider,
      connected: pool.stats.connected,
      free: pool.stats.free,
      pending: pool.stats.pending,
      running: pool.stats.running,
    }))
  }

  async close(): Promise<void> {
    await Promise.all([...this.#byProvider.values()].map((u) => u.pool.destroy()))
  }
}
