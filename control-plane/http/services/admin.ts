/**
 * @module The Admin persona's routes: tenancy, admin and dataplane keys, connected dataplanes,
 * signing-key rotation.
 */
import { ApiError, invalidArgument } from '../../../shared/errors.ts'
import { formatMicros } from '../../../shared/time.ts'
import type { Services } from '../../services.ts'
import { waitIfAsked } from '../enforcement.ts'
import { heldScopes } from '../principal.ts'
import type { Router } from '../route.ts'

export function adminRoutes(router: Router, s: Services): void {
  router.on('createCustomer', async ({ body }) => {
    const row = await s.tenancy.createCustomer(body.name)
    return { customer: { id: row.id, name: row.name, created_at: formatMicros(row.created_at) } }
  })

  router.on('createProject', async ({ params, body, principal }) => {
    const customerId = s.tenancy.customerIdFor(principal.identity, params.customer_id)
    const row = await s.tenancy.createProject(customerId, body.name)
    return {
      project: {
        id: row.id,
        customer_id: row.customer_id,
        name: row.name,
        created_at: formatMicros(row.created_at),
      },
    }
  })

  router.on('putMember', async ({ params, body, principal }) => {
    const scope = await s.tenancy.scopeFor(principal.identity, params.customer_id, params.project_id)
    const m = await s.tenancy.setMember(scope, await s.identities.get(params.identity_id), body.role)
    return {
      member: {
        customer_id: scope.customer.id,
        project_id: m.project_id,
        identity_id: m.identity_id,
        role: m.role,
        created_at: formatMicros(m.created_at),
      },
    }
  })

  router.on('deleteMember', async ({ params, principal }) => {
    const scope = await s.tenancy.scopeFor(principal.identity, params.customer_id, params.project_id)
    return { success: await s.tenancy.removeMember(scope, await s.identities.get(params.identity_id)) }
  })

  router.on('listIdentities', async ({ query }) => ({
    identities: await Promise.all((await s.identities.list(query.email)).map((i) => s.tenancy.view(i))),
  }))

  router.on('adminIssueKey', async ({ body, principal }) => {
    const prompt = body.type === 'KEY_TYPE_PROMPT'
    if (prompt && !body.identity_id) {
      throw invalidArgument('identity_id', 'is required for a KEY_TYPE_PROMPT key: the identity it acts as')
    }
    if (!prompt && (body.project_id !== undefined || body.customer_id !== undefined)) {
      throw invalidArgument(
        body.project_id !== undefined ? 'project_id' : 'customer_id',
        'only a KEY_TYPE_PROMPT key is bound to a project',
      )
    }
    if (body.customer_id !== undefined && body.project_id === undefined) {
      throw invalidArgument('project_id', 'is required with customer_id: the key is bound to a project')
    }
    // Everything is checked before a service identity is created for the key.
    const existing = body.identity_id ? await s.identities.get(body.identity_id) : undefined
    if (existing && !prompt && (await s.serviceAccounts.isServiceAccount(existing.id))) {
      throw invalidArgument('type', 'a service account holds KEY_TYPE_PROMPT keys only')
    }
    let binding: { customerId: string; projectId: string } | undefined
    if (existing && body.project_id !== undefined) {
      const scope = await s.tenancy.projectById(body.project_id, body.customer_id)
      if ((await s.tenancy.role(scope.project.id, existing.id)) === undefined) {
        throw new ApiError(
          'failed_precondition',
          `identity ${existing.id} is not a member of project ${scope.project.id}: add it first`,
          [{ field: 'project_id', description: 'the identity is not a member' }],
        )
      }
      binding = { customerId: scope.customer.id, projectId: scope.project.id }
    }
    const identity = existing ?? (await s.identities.createService(body.name, body.type === 'KEY_TYPE_ADMIN'))
    return s.apiKeys.issue(identity, {
      name: body.name,
      type: body.type,
      minterScopes: heldScopes(principal),
      binding,
    })
  })

  router.on('adminRevokeKey', async ({ params, query, principal }) => {
    const { key, cursor } = await s.apiKeys.revokeAny(
      params.key_id,
      `revoked by admin ${principal.identity.id}`,
    )
    return { key, ...(await waitIfAsked(s, query, cursor)) }
  })

  router.on('createServiceAccount', async ({ body, principal }) => ({
    service_account: await s.serviceAccounts.create({
      name: body.name,
      customerId: body.customer_id,
      projectId: body.project_id,
      role: body.role,
      createdBy: principal.identity.id,
    }),
  }))

  router.on('listServiceAccounts', async ({ query }) => {
    const { serviceAccounts, nextPageToken } = await s.serviceAccounts.list(
      query.page_size ?? 50,
      query.page_token,
    )
    return { service_accounts: serviceAccounts, page: { next_page_token: nextPageToken } }
  })

  router.on('deleteServiceAccount', async ({ params, query, principal }) => {
    const { keyIds, cursor } = await s.serviceAccounts.delete(params.identity_id, principal.identity.id)
    return {
      success: true,
      revoked_key_ids: keyIds,
      ...(cursor > 0 ? await waitIfAsked(s, query, cursor) : {}),
    }
  })

  router.on('listDataplanes', async () => {
    const now = Date.now()
    const head = s.revocations.head
    const dataplanes = []
    for (const dp of s.dataplanes.list()) {
      const oldest = await s.revocations.oldestAfter(dp.appliedCursor)
      dataplanes.push({
        id: dp.id,
        name: dp.name,
        key_id: dp.keyId,
        remote_address: dp.remoteAddress,
        connected_at: formatMicros(dp.connectedAt),
        last_contact_at: formatMicros(dp.lastContactAt),
        applied_cursor: formatMicros(dp.appliedCursor),
        lag_entries: oldest === undefined ? 0 : await s.revocations.countAfter(dp.appliedCursor),
        lag_ms: oldest === undefined ? 0 : Math.max(0, now - oldest / 1000),
      })
    }
    return { head_cursor: formatMicros(head), dataplanes }
  })

  router.on('rotateSigningKey', async ({ body }) => {
    const rotated = await s.keyRing.rotate(body.activate_after_ms)
    return {
      kid: rotated.kid,
      alg: 'RS256',
      activates_at: formatMicros(rotated.activatesAt),
      ...(rotated.retiringKid ? { retiring_kid: rotated.retiringKid } : {}),
    }
  })
}
