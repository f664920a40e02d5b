/**
 * @module What a provider adapter says: how its key travels on the upstream request, and which
 * of its API the dataplane forwards. Adding a provider is one file in this folder plus its entry
 * in `index.ts`.
 */
import type { Provider } from '../../../shared/contract/aikeys.ts'

/** The error shape a provider's SDKs read (see `http/errors.ts`). */
export type ErrorDialect = 'openai' | 'anthropic'

export interface ProviderAdapter {
  readonly provider: Provider
  /** How the dataplane's own errors are shaped on this provider's routes. */
  readonly errorDialect: ErrorDialect
  /** The request header that carries the provider key (lower case). */
  readonly credentialHeader: string
  /** That header's value for a key. */
  credentialValue(secret: string): string
  /**
   * The inference API forwarded by default: path prefixes under `/v1/`, each allowing itself and
   * everything below it (`files` allows `files/{id}/content`). Anything else (the provider's
   * organisation and admin APIs above all) is refused, so the injected key reaches nothing else.
   */
  readonly apiPaths: readonly string[]
}
