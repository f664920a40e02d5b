/**
 * @module OpenAI: the key travels as `Authorization: Bearer <key>`.
 */
import type { ProviderAdapter } from './provider.ts'

export const openai: ProviderAdapter = {
  provider: 'openai',
  credentialHeader: 'authorization',
  credentialValue: (secret) => `Bearer ${secret}`,
}
