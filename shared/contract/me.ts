/**
 * @module MeService (agentrouter.identity.v1): OIDC login, the caller's identity and API keys.
 */
import { z } from 'zod'
import { KEY_TYPES } from '../tokens/claims.ts'
import { Enforcement, Label, PageInfo, PageQuery, PlainText, Timestamp } from './common.ts'

const Base64Url = /^[A-Za-z0-9_-]+$/
const PkceString = z.string().min(43).max(128).regex(Base64Url, 'must be base64url')

export const LoginRequest = z.strictObject({
  issuer: PlainText.max(128).optional().describe('Issuer alias; empty selects the default issuer'),
  redirect_uri: z
    .string()
    .min(1)
    .max(2048)
    .describe('Registered URI, or http://127.0.0.1:<port>/… (RFC 8252)'),
  code_challenge: z.string().min(43).max(128).regex(Base64Url, 'must be base64url'),
  code_challenge_method: z.string().refine((m) => m === 'S256', 'only S256 is accepted'),
})
export const LoginResponse = z.object({
  authorization_url: z.string(),
  state: z.string(),
})

export const CallbackRequest = z.strictObject({
  code: z.string().min(1).max(4096),
  state: z.string().min(1).max(256),
  code_verifier: PkceString,
})

export const Role = z.enum(['owner', 'member'])
export type Role = z.infer<typeof Role>

export const Membership = z.object({
  customer_id: z.string(),
  customer_name: z.string(),
  project_id: z.string(),
  project_name: z.string(),
  role: Role,
})

export const Identity = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  issuer: z.string().describe('OIDC issuer URL; empty for service identities'),
  subject: z.string(),
  is_admin: z.boolean(),
  kind: z.enum(['user', 'service']),
  default_customer_id: z.string(),
  default_project_id: z.string(),
  memberships: z.array(Membership),
  created_at: Timestamp,
})
export type Identity = z.infer<typeof Identity>

export const CallbackResponse = z.object({
  session_token: z.string(),
  expires_at: Timestamp,
  identity: Identity,
})

export const DeviceLoginRequest = z.strictObject({
  issuer: PlainText.max(128).optional().describe('Issuer alias; empty selects the default issuer'),
})
export const DeviceLoginResponse = z.object({
  device_handle: z.string().describe('Unguessable and single-use: pass it to the poll, show it to nobody'),
  user_code: z.string(),
  verification_uri: z.string(),
  verification_uri_complete: z.string().optional(),
  interval: z.number().int().describe('Seconds to wait between polls'),
  expires_in: z.number().int().describe('Seconds until the device login expires'),
})

export const DevicePollRequest = z.strictObject({
  device_handle: z.string().min(1).max(256),
})
export const DevicePollResponse = z.object({
  status: z
    .enum(['authorization_pending', 'slow_down', 'complete'])
    .describe('slow_down: polled sooner than the interval; the interval has grown'),
  interval: z.number().int().optional().describe('Seconds to wait before the next poll, until complete'),
  session_token: z.string().optional().describe('When complete'),
  expires_at: Timestamp.optional(),
  identity: Identity.optional(),
})

export const LogoutResponse = z.object({ enforcement: Enforcement.optional() })

export const GetMeResponse = z.object({ identity: Identity })

const ULID = '[0-9A-HJKMNP-TV-Z]{26}'
export const CustomerId = z.string().regex(new RegExp(`^cust_${ULID}$`), 'must be cust_<ulid>')
export const ProjectId = z.string().regex(new RegExp(`^proj_${ULID}$`), 'must be proj_<ulid>')

export const KeyTypeInput = z
  .enum(['KEY_TYPE_UNSPECIFIED', ...KEY_TYPES])
  .describe('Unspecified means KEY_TYPE_PROMPT; ADMIN and DATAPLANE need an admin')

export const ApiKey = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe('A recognisable, non-secret fragment of the key'),
  type: z.enum(KEY_TYPES),
  state: z.enum(['KEY_STATE_ACTIVE', 'KEY_STATE_REVOKED']),
  identity_id: z.string(),
  created_at: Timestamp,
  expires_at: Timestamp,
  last_used_at: Timestamp.optional(),
  revoked_at: Timestamp.optional(),
  customer_id: z.string().optional().describe("The bound project's customer; absent when unbound"),
  project_id: z
    .string()
    .optional()
    .describe(
      'The project the key is bound to; absent: unbound (the default project, or x-agentrouter-project per request)',
    ),
})
export type ApiKey = z.infer<typeof ApiKey>

export const IssueKeyRequest = z.strictObject({
  name: Label,
  type: KeyTypeInput.optional(),
  idempotency_key: PlainText.min(1).max(128).optional(),
  customer_id: CustomerId.optional().describe("The project's customer (optional: the project names it)"),
  project_id: ProjectId.optional().describe(
    'Bind the key to this project (the caller must be a member): its traffic uses this project’s provider keys',
  ),
})
export const IssueKeyResponse = z.object({
  key: ApiKey,
  secret: z.string().describe('The API key, `ak-…`; shown once'),
})

export const ListKeysQuery = PageQuery
export const ListKeysResponse = z.object({ keys: z.array(ApiKey), page: PageInfo })

export const KeyIdParam = z.strictObject({
  key_id: z.string().regex(/^key_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be key_<ulid>'),
})
export const RevokeKeyResponse = z.object({ key: ApiKey, enforcement: Enforcement.optional() })
