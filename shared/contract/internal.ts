/**
 * @module Endpoints only dataplanes call: which provider key serves a caller, with its plaintext.
 */
import { z } from 'zod'
import { AiKey, ProviderInput } from './aikeys.ts'
import { PlainText } from './common.ts'

export const ResolveProviderKeyRequest = z.strictObject({
  customer_id: PlainText.min(1).max(64).optional().describe("Caller's customer; '-' or absent: default"),
  project_id: PlainText.min(1).max(64).optional().describe("Caller's project; '-' or absent: default"),
  identity_id: z.string().regex(/^usr_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be usr_<ulid>'),
  provider: ProviderInput,
  credential_jti: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe('JTI of the credential the key is resolved for; a revoked one is refused (permission_denied)'),
})
export const ResolveProviderKeyResponse = z.object({
  key: AiKey,
  secret: z.string().describe('The provider key in plaintext'),
})
