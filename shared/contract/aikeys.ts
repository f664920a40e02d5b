/**
 * @module AiKeysService (agentrouter.aikeys.v1): bring-your-own provider keys. The plaintext goes
 * into the secret service and never comes back through these endpoints.
 */
import { z } from 'zod'
import { Enforcement, Label, PlainText, Timestamp } from './common.ts'

export const PROVIDERS = ['openai', 'anthropic'] as const
export type Provider = (typeof PROVIDERS)[number]

/** Accepts `openai`, `OPENAI`, `PROVIDER_OPENAI` and `AI_KEY_PROVIDER_OPENAI` alike. */
export function normalizeProvider(value: string): Provider | undefined {
  const bare = value
    .trim()
    .toLowerCase()
    .replace(/^(ai_key_)?provider_/, '')
  return (PROVIDERS as readonly string[]).includes(bare) ? (bare as Provider) : undefined
}

export const ProviderInput = z
  .string()
  .transform((v, ctx) => {
    const p = normalizeProvider(v)
    if (!p) ctx.addIssue({ code: 'custom', message: `must be one of ${PROVIDERS.join(', ')}` })
    return p as Provider
  })
  .describe(`One of ${PROVIDERS.join(', ')} (PROVIDER_OPENAI-style names are accepted)`)

export const AiKey = z.object({
  id: z.string().describe('byok_<ulid>'),
  customer_id: z.string(),
  project_id: z.string(),
  provider: z.enum(PROVIDERS),
  name: z.string(),
  display_suffix: z.string().describe('Last 4 characters of the provider key'),
  user_scope: z.boolean(),
  owner_id: z.string().describe('Identity that registered it; the only user a user-scoped key serves'),
  created_at: Timestamp,
  updated_at: Timestamp,
  revoked_at: Timestamp.optional(),
})
export type AiKey = z.infer<typeof AiKey>

const ScopeSegment = PlainText.min(1).max(64)
export const ProjectPathParams = z.strictObject({
  customer_id: ScopeSegment.describe("cust_<ulid>, or '-' for the caller's default customer"),
  project_id: ScopeSegment.describe("proj_<ulid>, or '-' for the caller's default project"),
})
export const AiKeyPathParams = ProjectPathParams.extend({
  id: z.string().regex(/^byok_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be byok_<ulid>'),
})

export const RegisterAiKeyRequest = z.strictObject({
  provider: ProviderInput,
  name: Label,
  secret: z.string().min(1).max(8192),
  user_scope: z.boolean().optional(),
})
export const AiKeyResponse = z.object({ key: AiKey })
export const ListAiKeysResponse = z.object({ keys: z.array(AiKey) })
export const RevokeAiKeyResponse = z.object({ key: AiKey, enforcement: Enforcement.optional() })
