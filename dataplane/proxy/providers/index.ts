/**
 * @module The providers the dataplane forwards to, and which URL prefix reaches each:
 * `/openai/v1/*` and `/anthropic/v1/*` by name, and OpenAI-style `/v1/*` to OpenAI.
 */
import type { Provider } from '../../../shared/contract/aikeys.ts'
import { anthropic } from './anthropic.ts'
import { openai } from './openai.ts'
import type { ErrorDialect, ProviderAdapter } from './provider.ts'

export interface ProviderRoute {
  adapter: ProviderAdapter
  /** The prefix removed from the request path; the rest (starting `/v1`) goes upstream. */
  strip: number
  /** The shape of the dataplane's own errors on this route: the provider's SDKs read them. */
  dialect: ErrorDialect
}

/** One adapter per provider the contract names (the type checker holds the list complete). */
export const ADAPTERS: Record<Provider, ProviderAdapter> = { openai, anthropic }

/** `/<provider>/v1/*` for each provider, then OpenAI-style `/v1/*`. */
const ROUTES: ReadonlyArray<readonly [prefix: string, route: ProviderRoute]> = [
  ...Object.values(ADAPTERS).map(
    (adapter) =>
      [
        `/${adapter.provider}/v1/`,
        { adapter, strip: adapter.provider.length + 1, dialect: adapter.errorDialect },
      ] as const,
  ),
  ['/v1/', { adapter: ADAPTERS.openai, strip: 0, dialect: ADAPTERS.openai.errorDialect }],
]

/** The route of a request URL (path and query), or `undefined` when no provider serves it. */
export function routeOf(url: string): ProviderRoute | undefined {
  for (const [prefix, route] of ROUTES) if (url.startsWith(prefix)) return route
  return undefined
}
