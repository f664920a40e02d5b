/**
 * @module Endpoints only dataplanes call: which BYOK key serves a caller, with its plaintext.
 */
import { ApiError } from '../../../shared/errors.ts'
import type { Services } from '../../services.ts'
import type { Router } from '../route.ts'

export function internalRoutes(router: Router, s: Services): void {
  router.on('resolveProviderKey', async ({ principal, body }) => {
    // A dataplane that has not applied a revocation yet must not get a provider key for it. The
    // dataplane is authenticated; what it asks for is not allowed: permission_denied, not
    // unauthenticated (which would say its own key was refused).
    if (body.credential_jti !== undefined && s.revocations.isRevoked(body.credential_jti)) {
      throw new ApiError('permission_denied', `credential ${body.credential_jti} is revoked`, [
        { field: 'credential_jti', description: 'revoked' },
      ])
    }
    const identity = await s.identities.get(body.identity_id)
    // A project named without its customer (a request's x-agentrouter-project header): the
    // project names it. A project that does not exist answers as one the caller is not in.
    const byProjectAlone =
      body.project_id !== undefined &&
      body.project_id !== '-' &&
      (body.customer_id === undefined || body.customer_id === '-')
    const scope = byProjectAlone
      ? await s.tenancy.memberProject(identity, body.project_id!)
      : await s.tenancy.scopeFor(identity, body.customer_id, body.project_id)
    return s.aiKeys.resolve(
      { identityId: principal.identity.id, credentialId: principal.claims.jti },
      identity.id,
      scope,
      body.provider,
    )
  })
}
