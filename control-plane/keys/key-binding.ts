/**
 * @module Which project a prompt key is bound to, from a request's `project_id` (and optional
 * `customer_id`, checked against the project's). The identity must be a member of it: for a
 * caller binding their own key, anything else is `permission_denied`, alike for a project that
 * does not exist; for an admin issuing a key for someone, `failed_precondition` (an admin may
 * learn that a project exists).
 */
import { ApiError, invalidArgument } from '../../shared/errors.ts'
import type { KeyType } from '../../shared/tokens/claims.ts'
import type { Tenancy } from '../identity/tenancy.ts'
import type { KeyBinding } from '../signing/token-issuer.ts'
import type { IdentityRow } from '../store/tenancy.ts'

export interface BindingRequest {
  type: KeyType
  customerId?: string | undefined
  projectId?: string | undefined
}

/** The request's shape alone: a binding needs a project and a prompt key. */
export function checkBindingRequest(request: BindingRequest): void {
  if (request.customerId !== undefined && request.projectId === undefined) {
    throw invalidArgument('project_id', 'is required with customer_id: the key is bound to a project')
  }
  if (request.projectId !== undefined && request.type !== 'KEY_TYPE_PROMPT') {
    throw invalidArgument('project_id', 'only a KEY_TYPE_PROMPT key is bound to a project')
  }
}

/** The caller's own key: bound to a project the caller is a member of. */
export async function ownKeyBinding(
  tenancy: Tenancy,
  caller: IdentityRow,
  request: BindingRequest,
): Promise<KeyBinding | undefined> {
  checkBindingRequest(request)
  if (request.projectId === undefined) return undefined
  const scope = await tenancy.memberProject(caller, request.projectId, request.customerId)
  return { customerId: scope.customer.id, projectId: scope.project.id }
}

/** A key an admin issues for `identity`: bound to a project that identity is a member of. */
export async function issuedKeyBinding(
  tenancy: Tenancy,
  identity: IdentityRow,
  request: BindingRequest,
): Promise<KeyBinding | undefined> {
  checkBindingRequest(request)
  if (request.projectId === undefined) return undefined
  const scope = await tenancy.projectById(request.projectId, request.customerId)
  if ((await tenancy.role(scope.project.id, identity.id)) === undefined) {
    throw new ApiError(
      'failed_precondition',
      `identity ${identity.id} is not a member of project ${scope.project.id}: add it first`,
      [{ field: 'project_id', description: 'the identity is not a member' }],
    )
  }
  return { customerId: scope.customer.id, projectId: scope.project.id }
}
