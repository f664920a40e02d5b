/**
 * @module The Admin persona's routes: tenancy, admin and dataplane keys, connected dataplanes,
 * signing-key rotation.
 */
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
    const identity = body.identity_id
      ? await s.identities.get(body.identity_id)
      : await s.identities.createService(body.name, body.type === 'KEY_TYPE_ADMIN')
    return s.apiKeys.issue(identity, {
      name: body.name,
      type: body.type,
      minterScopes: heldScopes(principal),
    })
  })

  router.on('adminRevokeKey', async ({ params, query, principal }) => {
    const { key, cursor } = await s.apiKeys.revokeAny(
      params.key_id,
      `revoked by admin ${principal.identity.id}`,
    )
    return { key, ...(await waitIfAsked(s, query, cursor)) }
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
