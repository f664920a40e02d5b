/**
 * @module SecretService (agentrouter.secret.v1): envelope-encrypted secrets. Only `value`
 * answers with plaintext, and only to tokens with the `secrets/read/internal` scope.
 */
import { z } from 'zod'
import { MultilineText, PlainText, QueryInteger, Timestamp } from './common.ts'

/** Realms whose secrets always belong to `system`, whatever `user_id` says. */
export const SYSTEM_REALMS = ['llm-keys', 'llm', 'llm-providers', 'ai-keys', 'byok'] as const
export const SYSTEM_OWNER = 'system'
export const DEFAULT_REALM = 'default'

export const SECRET_STATUSES = ['active', 'rotated_pending', 'expired'] as const

const SecretName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-", starting with a letter or digit')
const Realm = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"')
const OwnerId = PlainText.min(1).max(64)
const Tags = z.record(PlainText.min(1).max(64), PlainText.max(256))

export const SecretVersion = z.object({
  version: z.number().int(),
  status: z.enum(SECRET_STATUSES),
  created_at: Timestamp,
  expires_at: Timestamp.optional().describe('For rotated_pending: end of the grace period'),
})

export const Secret = z.object({
  id: z.string().describe('sec_<ulid>'),
  name: z.string(),
  realm: z.string(),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  user_id: z.string(),
  version: z.number().int().describe('Current version'),
  status: z
    .enum(SECRET_STATUSES)
    .describe('rotated_pending while a previous version is in its grace period, else active'),
  versions: z.array(SecretVersion),
  created_at: Timestamp,
  updated_at: Timestamp,
})
export type Secret = z.infer<typeof Secret>

export const CreateSecretRequest = z.strictObject({
  name: SecretName,
  realm: Realm.optional(),
  description: MultilineText.max(1024).optional(),
  value: z.string().min(1).max(65_536),
  tags: Tags.optional(),
  user_id: OwnerId.optional(),
})
export const SecretResponse = z.object({ secret: Secret })

/** `{name}` accepts the secret's name or its `sec_` id. */
export const SecretPathParams = z.strictObject({ name: PlainText.min(1).max(128) })
export const SecretQuery = z.strictObject({ realm: Realm.optional(), user_id: OwnerId.optional() })

export const ListSecretsQuery = z.strictObject({
  realm: Realm.optional(),
  user_id: OwnerId.optional().describe(
    "Whose secrets (default: the caller's; another owner needs an internal scope)",
  ),
  status: z.enum(SECRET_STATUSES).optional(),
  tags: PlainText.max(2048).optional().describe('key=value pairs, comma-separated; all must match'),
  page_size: QueryInteger(1, 1000).optional(),
  page_token: z.string().min(1).max(2048).optional(),
})
export const ListSecretsResponse = z.object({ secrets: z.array(Secret), next_page_token: z.string() })

export const DeleteSecretResponse = z.object({ success: z.boolean() })

export const RotateSecretRequest = z.strictObject({
  realm: Realm.optional(),
  new_value: z.string().min(1).max(65_536),
  user_id: OwnerId.optional(),
})
/** Which version to read: the current one when absent; an older one only within its grace period. */
const VersionNumber = z.number().int().min(1).describe('Version to read (default: the current one)')

export const ValidateSecretRequest = z.strictObject({
  realm: Realm.optional(),
  user_id: OwnerId.optional(),
  version: VersionNumber.optional(),
})
export const ValidateSecretResponse = z.object({ valid: z.boolean(), error: z.string() })

export const GetSecretValueRequest = z.strictObject({
  realm: Realm.optional(),
  user_id: OwnerId.optional(),
  version: VersionNumber.optional(),
})
export const GetSecretValueResponse = z.object({ value: z.string(), secret: Secret })
