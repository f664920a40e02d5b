/**
 * @module SecretService routes (agentrouter.secret.v1): create, get, list, delete, rotate,
 * validate and value. `{name}` is the secret's name or its `sec_` id.
 */
import { hasScope, SCOPE } from '../../../shared/tokens/claims.ts'
import type { SecretCaller } from '../../secrets/owner.ts'
import type { Services } from '../../services.ts'
import type { Principal } from '../principal.ts'
import type { Router } from '../route.ts'

export function secretCaller(principal: Principal): SecretCaller {
  return {
    identityId: principal.identity.id,
    credentialId: principal.claims.jti,
    internalRead: hasScope(principal.claims, SCOPE.secretsReadInternal),
    internalWrite: hasScope(principal.claims, SCOPE.secretsWriteInternal),
  }
}

export function secretRoutes(router: Router, s: Services): void {
  router.on('createSecret', async ({ principal, body }) => ({
    secret: await s.secrets.create(secretCaller(principal), body),
  }))

  router.on('getSecret', async ({ principal, params, query }) => ({
    secret: await s.secrets.get(secretCaller(principal), {
      name: params.name,
      realm: query.realm,
      userId: query.user_id,
    }),
  }))

  router.on('listSecrets', ({ principal, query }) => s.secrets.list(secretCaller(principal), query))

  router.on('deleteSecret', async ({ principal, params, query }) => {
    await s.secrets.delete(secretCaller(principal), {
      name: params.name,
      realm: query.realm,
      userId: query.user_id,
    })
    return { success: true }
  })

  router.on('rotateSecret', async ({ principal, params, body }) => ({
    secret: await s.secrets.rotate(
      secretCaller(principal),
      { name: params.name, realm: body.realm, userId: body.user_id },
      body.new_value,
    ),
  }))

  router.on('validateSecret', ({ principal, params, body }) =>
    s.secrets.validate(
      secretCaller(principal),
      { name: params.name, realm: body.realm, userId: body.user_id },
      body.version,
    ),
  )

  router.on('getSecretValue', ({ principal, params, body }) =>
    s.secrets.value(
      secretCaller(principal),
      { name: params.name, realm: body.realm, userId: body.user_id },
      body.version,
    ),
  )
}
