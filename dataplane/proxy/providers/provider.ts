/**
 * @module What a provider adapter says: how its key travels on the upstream request. Adding a
 * provider is one file in this folder plus its entry in `index.ts`.
 */
import type { Provider } from '../../../shared/contract/aikeys.ts'

export interface ProviderAdapter {
  readonly provider: Provider
  /** The request header that carries the provider key (lower case). */
  readonly credentialHeader: string
  /** That header's value for a key. */
  credentialValue(secret: string): string
}
