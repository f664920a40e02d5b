/**
 * @module The Admin persona's endpoints that complete the API: tenancy, admin and dataplane
 * keys, connected dataplanes, and key rotation.
 */
import { z } from 'zod'
import { KEY_TYPES } from '../tokens/claims.ts'
import { Enforcement, Label, PageInfo, PageQuery, PlainText, Timestamp } from './common.ts'
import { ApiKey, CustomerId, Identity, ProjectId, Role } from './me.ts'

export const Customer = z.object({ id: z.string(), name: z.string(), created_at: Timestamp })
export const Project = z.object({
  id: z.string(),
  customer_id: z.string(),
  name: z.string(),
  created_at: Timestamp,
})
export const Member = z.object({
  customer_id: z.string(),
  project_id: z.string(),
  identity_id: z.string(),
  role: Role,
  created_at: Timestamp,
})

const ULID = '[0-9A-HJKMNP-TV-Z]{26}'
/** A customer id, or `-`: the caller's default customer. */
const CustomerSegment = z
  .string()
  .regex(new RegExp(`^(cust_${ULID}|-)$`), 'must be cust_<ulid>, or - for your default customer')
/** A project id, or `-`: the caller's default project. */
const ProjectSegment = z
  .string()
  .regex(new RegExp(`^(proj_${ULID}|-)$`), 'must be proj_<ulid>, or - for your default project')

export const CreateCustomerRequest = z.strictObject({ name: Label })
export const CustomerResponse = z.object({ customer: Customer })

export const CustomerPathParams = z.strictObject({ customer_id: CustomerSegment })
export const CreateProjectRequest = z.strictObject({ name: Label })
export const ProjectResponse = z.object({ project: Project })

export const MemberPathParams = z.strictObject({
  customer_id: CustomerSegment,
  project_id: ProjectSegment,
  identity_id: z.string().regex(/^usr_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be usr_<ulid>'),
})
export const PutMemberRequest = z.strictObject({ role: Role })
export const MemberResponse = z.object({ member: Member })
export const DeleteMemberResponse = z.object({ success: z.boolean() })

export const ListIdentitiesQuery = z.strictObject({ email: PlainText.min(1).max(320).optional() })
export const ListIdentitiesResponse = z.object({ identities: z.array(Identity) })

export const AdminIssueKeyRequest = z.strictObject({
  name: Label,
  type: z.enum(['KEY_TYPE_ADMIN', 'KEY_TYPE_DATAPLANE', 'KEY_TYPE_PROMPT']),
  identity_id: z
    .string()
    .regex(/^usr_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be usr_<ulid>')
    .optional()
    .describe('Omit to create a new service identity for the key (not for KEY_TYPE_PROMPT, which needs one)'),
  customer_id: CustomerId.optional().describe("The project's customer (optional: the project names it)"),
  project_id: ProjectId.optional().describe(
    'KEY_TYPE_PROMPT only: bind the key to this project, of which the identity must be a member',
  ),
})
export const AdminIssueKeyResponse = z.object({ key: ApiKey, secret: z.string() })

// --- Service accounts: non-human identities that are members of a project ---

const IdentityIdParam = z.string().regex(/^usr_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be usr_<ulid>')
export const CreateServiceAccountRequest = z.strictObject({
  name: Label,
  customer_id: CustomerId,
  project_id: ProjectId,
  role: Role,
})
export const ServiceAccountResponse = z.object({ service_account: Identity })
export const ListServiceAccountsQuery = PageQuery
export const ListServiceAccountsResponse = z.object({
  service_accounts: z.array(Identity),
  page: PageInfo,
})
export const ServiceAccountPathParams = z.strictObject({ identity_id: IdentityIdParam })
export const DeleteServiceAccountResponse = z.object({
  success: z.boolean(),
  revoked_key_ids: z.array(z.string()).describe('Its keys, revoked on the log before it was removed'),
  enforcement: Enforcement.optional(),
})

export const Dataplane = z.object({
  id: z.string(),
  name: z.string(),
  key_id: z.string(),
  remote_address: z.string(),
  connected: z
    .boolean()
    .describe(
      'Connected now; a disconnected one is listed with its last contact until it returns or ages out',
    ),
  replica_id: z
    .string()
    .optional()
    .describe('The control-plane replica it is (or was last) connected to; absent on a single control plane'),
  connected_at: Timestamp,
  last_contact_at: Timestamp,
  applied_cursor: z.string(),
  lag_entries: z.number().int().describe('Revocations written that it has not acknowledged'),
  lag_ms: z.number().describe('Age of the oldest revocation it has not acknowledged; 0 when caught up'),
})
export const ListDataplanesResponse = z.object({ head_cursor: z.string(), dataplanes: z.array(Dataplane) })

export const RotateSigningKeyRequest = z.strictObject({
  activate_after_ms: z
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .optional()
    .describe('Publish now, sign with it after this delay (default: the configured publish delay)'),
})
export const RotateSigningKeyResponse = z.object({
  kid: z.string(),
  alg: z.string(),
  activates_at: Timestamp,
  retiring_kid: z.string().optional(),
})

export const RotateKekResponse = z.object({
  kek_id: z.string(),
  rewrapped: z.number().int(),
  retired_kek_ids: z.array(z.string()),
  unreadable: z
    .array(z.string())
    .describe('Versions (sec_…@vN) that did not open and stay under their old KEK, which is not retired'),
})

// Listings (issue 12): paged in id order, which is creation order; metadata only.
export const ListCustomersQuery = PageQuery.extend({
  name: PlainText.min(1).max(128).optional().describe('Only the customer with this exact name'),
})
export const ListCustomersResponse = z.object({ customers: z.array(Customer), page: PageInfo })

export const ListProjectsQuery = PageQuery.extend({
  name: PlainText.min(1).max(128).optional().describe('Only the project with this exact name'),
})
export const ListProjectsResponse = z.object({ projects: z.array(Project), page: PageInfo })

export const MembersPathParams = z.strictObject({ customer_id: CustomerSegment, project_id: ProjectSegment })
export const ListMembersQuery = PageQuery.extend({
  role: Role.optional().describe('Only members with this role'),
})
export const ProjectMember = Member.extend({
  email: z.string(),
  name: z.string(),
  kind: z.enum(['user', 'service']),
})
export const ListMembersResponse = z.object({ members: z.array(ProjectMember), page: PageInfo })

const IdentityId = z.string().regex(/^usr_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be usr_<ulid>')
export const AdminListKeysQuery = PageQuery.extend({
  identity_id: IdentityId.optional().describe('Only keys acting as this identity'),
  type: z.enum(KEY_TYPES).optional(),
  state: z.enum(['KEY_STATE_ACTIVE', 'KEY_STATE_REVOKED']).optional(),
  project_id: z
    .string()
    .regex(new RegExp(`^proj_${ULID}$`), 'must be proj_<ulid>')
    .optional()
    .describe('Only keys of identities that are members of this project'),
})
export const AdminListKeysResponse = z.object({ keys: z.array(ApiKey), page: PageInfo })
