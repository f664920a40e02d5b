/**
 * @module The Admin persona's routes: tenancy, admin and dataplane keys, connected dataplanes,
 * signing-key rotation.
 */
import { invalidArgument } from '../../../shared/errors.ts'
import { formatMicros } from '../../../shared/time.ts'
import { checkBindingRequest, issuedKeyBinding } from '../../keys/key-binding.ts'
import type { Services } from '../../services.ts'
import type { CustomerRow, ProjectRow } from '../../store/tenancy.ts'
import { waitIfAsked } from '../enforcement.ts'
import { heldScopes } from '../principal.ts'
import type { Router } from '../route.ts'

export function adminRoutes(router: Router, s: Services): void {
  router.on('createCustomer', async ({ body }) => {
    return { customer: customerView(await s.tenancy.createCustomer(body.name)) }
  })

  router.on('createProject', async ({ params, body, principal }) => {
    const customerId = s.tenancy.customerIdFor(principal.identity, params.customer_id)
    return { project: projectView(await s.tenancy.createProject(customerId, body.name)) }
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
    const request = { type: body.type, customerId: body.customer_id, projectId: body.project_id }
    checkBindingRequest(request)
    if (body.type === 'KEY_TYPE_PROMPT' && !body.identity_id) {
      throw invalidArgument('identity_id', 'is required for a KEY_TYPE_PROMPT key: the identity it acts as')
    }
    // Everything is checked before a service identity is created for the key.
    const existing = body.identity_id ? await s.identities.get(body.identity_id) : undefined
    if (
      existing &&
      body.type !== 'KEY_TYPE_PROMPT' &&
      (await s.serviceAccounts.isServiceAccount(existing.id))
    ) {
      throw invalidArgument('type', 'a service account holds KEY_TYPE_PROMPT keys only')
    }
    const binding = existing && (await issuedKeyBinding(s.tenancy, existing, request))
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
    for (const dp of await s.fleet.list()) {
      const oldest = await s.revocations.oldestAfter(dp.appliedCursor)
      dataplanes.push({
        id: dp.id,
        name: dp.name,
        key_id: dp.keyId,
        remote_address: dp.remoteAddress,
        connected: dp.connected,
        ...(dp.replicaId ? { replica_id: dp.replicaId } : {}),
        connected_at: formatMicros(dp.connectedAt),
        last_contact_at: formatMicros(dp.lastContactAt),
        applied_cursor: formatMicros(dp.appliedCursor),
        lag_entries: oldest === undefined ? 0 : await s.revocations.countAfter(dp.appliedCursor),
        lag_ms: oldest === undefined ? 0 : Math.max(0, now - oldest / 1000),
      })
    }
    return { head_cursor: formatMicros(head), dataplanes }
  })

  // Listings and the audit trail (issue 12).
  router.on('listCustomers', async ({ query }) => {
    const { customers, nextPageToken } = await s.listings.customers(pageOf(query), query.name)
    return { customers: customers.map(customerView), page: { next_page_token: nextPageToken } }
  })

  router.on('listProjects', async ({ params, query, principal }) => {
    const customer = await s.tenancy.customer(s.tenancy.customerIdFor(principal.identity, params.customer_id))
    const { projects, nextPageToken } = await s.listings.projects(customer, pageOf(query), query.name)
    return { projects: projects.map(projectView), page: { next_page_token: nextPageToken } }
  })

  router.on('listMembers', async ({ params, query, principal }) => {
    const scope = await s.tenancy.scopeFor(principal.identity, params.customer_id, params.project_id)
    const { members, nextPageToken } = await s.listings.members(scope, pageOf(query), query.role)
    return { members, page: { next_page_token: nextPageToken } }
  })

  router.on('adminListKeys', async ({ query }) => {
    const { keys, nextPageToken } = await s.listings.keys(query, pageOf(query))
    return { keys, page: { next_page_token: nextPageToken } }
  })

  router.on('listAudit', async ({ query }) => {
    const { records, nextPageToken } = await s.audit.list({
      since: query.since,
      actor: query.actor,
      action: query.action,
      target: query.target,
      pageSize: query.page_size ?? 50,
      pageToken: query.page_token,
    })
    return { records, page: { next_page_token: nextPageToken } }
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

const pageOf = (query: { page_size?: number | undefined; page_token?: string | undefined }) => ({
  pageSize: query.page_size,
  pageToken: query.page_token,
})

const customerView = (row: CustomerRow) => ({
  id: row.id,
  name: row.name,
  created_at: formatMicros(row.created_at),
})

const projectView = (row: ProjectRow) => ({
  id: row.id,
  customer_id: row.customer_id,
  name: row.name,
  created_at: formatMicros(row.created_at),
})
