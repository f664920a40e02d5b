/**
 * @module Anthropic: the key travels as `x-api-key: <key>` (the client's `anthropic-version` and
 * `anthropic-beta` headers pass through untouched).
 */
import type { ProviderAdapter } from './provider.ts'

export const anthropic: ProviderAdapter = {
  provider: 'anthropic',
  credentialHeader: 'x-api-key',
  credentialValue: (secret) => secret,
}
