/**
 * @module Endpoints only dataplanes call: which BYOK key serves a caller, with its plaintext.
 */
import type { Services } from '../../services.ts'
import type { Router } from '../route.ts'

export function internalRoutes(router: Router, s: Services): void {
  router.on('resolveProviderKey', ({ principal, body }) => {
    const identity = s.identities.get(body.identity_id)
    const scope = s.tenancy.scopeFor(identity, body.customer_id, body.project_id)
    return s.aiKeys.resolve(
      { identityId: principal.identity.id, credentialId: principal.claims.jti },
      identity.id,
      scope,
      body.provider,
    )
  })
}
