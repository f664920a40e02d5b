/**
 * @module Anthropic: the key travels as `x-api-key: <key>` (the client's `anthropic-version` and
 * `anthropic-beta` headers pass through untouched). Forwarded: the inference API (not
 * `organizations/*`, the Admin API).
 */
import type { ProviderAdapter } from './provider.ts'

export const anthropic: ProviderAdapter = {
  provider: 'anthropic',
  errorDialect: 'anthropic',
  credentialHeader: 'x-api-key',
  credentialValue: (secret) => secret,
  // `messages` covers `messages/count_tokens` and `messages/batches`.
  apiPaths: ['messages', 'models', 'files'],
}
