/**
 * @module OpenAI: the key travels as `Authorization: Bearer <key>`. Forwarded: the inference API
 * (not `organization/*`, `admin*`, `fine_tuning`, `evals` and the like).
 */
import type { ProviderAdapter } from './provider.ts'

export const openai: ProviderAdapter = {
  provider: 'openai',
  errorDialect: 'openai',
  credentialHeader: 'authorization',
  credentialValue: (secret) => `Bearer ${secret}`,
  apiPaths: [
    'chat/completions',
    'completions',
    'responses',
    'embeddings',
    'models',
    'moderations',
    'images',
    'audio',
    'files',
    'batches',
    'uploads',
    'vector_stores',
    'assistants',
    'threads',
    'realtime/sessions',
  ],
}
