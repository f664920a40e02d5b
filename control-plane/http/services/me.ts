/**
 * @module MeService routes: the caller's identity and API keys, and logout. (Login and callback
 * are in `login.ts`.)
 */

import { ApiError } from '../../../shared/errors.ts'
import type { KeyType } from '../../../shared/tokens/claims.ts'
import { ownKeyBinding } from '../../keys/key-binding.ts'
import type { Services } from '../../services.ts'
import { waitIfAsked } from '../enforcement.ts'
import { heldScopes } from '../principal.ts'
import type { Router } from '../route.ts'
import { clearSessionCookie } from '../session-cookie.ts'

export function meRoutes(router: Router, s: Services): void {
  router.on('getMe', async ({ principal }) => ({ identity: await s.tenancy.view(principal.identity) }))

  router.on('issueKey', async ({ principal, body }) => {
    const type: KeyType = !body.type || body.type === 'KEY_TYPE_UNSPECIFIED' ? 'KEY_TYPE_PROMPT' : body.type
    if (type !== 'KEY_TYPE_PROMPT' && !principal.isAdmin) {
      throw new ApiError('permission_denied', `only an admin may issue ${type} keys`)
    }
    const binding = await ownKeyBinding(s.tenancy, principal.identity, {
      type,
      customerId: body.customer_id,
      projectId: body.project_id,
    })
    return s.apiKeys.issue(principal.identity, {
      name: body.name,
      type,
      minterScopes: heldScopes(principal),
      idempotencyKey: body.idempotency_key,
      binding,
    })
  })

  router.on('listKeys', async ({ principal, query }) => {
    const { keys, nextPageToken } = await s.apiKeys.list(
      principal.identity.id,
      query.page_size ?? 50,
      query.page_token,
    )
    return { keys, page: { next_page_token: nextPageToken } }
  })

  router.on('revokeKey', async ({ principal, params, query }) => {
    const { key, cursor } = await s.apiKeys.revoke(principal.identity.id, params.key_id)
    return { key, ...(await waitIfAsked(s, query, cursor)) }
  })

  router.on('logout', async ({ principal, query, c }) => {
    const cursor = await s.sessions.close(principal.claims.jti, principal.claims.exp)
    clearSessionCookie(c)
    return { ...(await waitIfAsked(s, query, cursor)) }
  })
}
