/**
 * @module AiKeysService routes (agentrouter.aikeys.v1) under
 * `/v1/customers/{customer_id}/projects/{project_id}/aikeys`, `-` meaning the caller's default
 * (a project-bound key's own project; it reaches no other).
 */
import type { AiKeyCaller } from '../../aikeys/access.ts'
import type { Services } from '../../services.ts'
import { waitIfAsked } from '../enforcement.ts'
import { boundProjectOf, type Principal } from '../principal.ts'
import type { Router } from '../route.ts'

const callerOf = (principal: Principal): AiKeyCaller => ({
  identityId: principal.identity.id,
  isAdmin: principal.isAdmin,
})

export function aiKeyRoutes(router: Router, s: Services): void {
  const scopeOf = (principal: Principal, params: { customer_id: string; project_id: string }) =>
    s.tenancy.scopeFor(principal.identity, params.customer_id, params.project_id, boundProjectOf(principal))

  router.on('registerAiKey', async ({ principal, params, body }) => ({
    key: await s.aiKeys.register(callerOf(principal), await scopeOf(principal, params), {
      provider: body.provider,
      name: body.name,
      secret: body.secret,
      userScope: body.user_scope ?? false,
    }),
  }))

  router.on('getAiKey', async ({ principal, params }) => ({
    key: await s.aiKeys.get(callerOf(principal), await scopeOf(principal, params), params.id),
  }))

  router.on('listAiKeys', async ({ principal, params }) => ({
    keys: await s.aiKeys.list(callerOf(principal), await scopeOf(principal, params)),
  }))

  router.on('revokeAiKey', async ({ principal, params, query }) => {
    const { key, cursor } = await s.aiKeys.revoke(
      callerOf(principal),
      await scopeOf(principal, params),
      params.id,
    )
    return { key, ...(await waitIfAsked(s, query, cursor)) }
  })
}
