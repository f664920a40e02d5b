/**
 * @module Who is calling: the verified claims, the identity behind them, and the persona checks
 * every endpoint declares in the route table.
 */
import type { Persona } from '../../shared/contract/routes.ts'
import { ApiError } from '../../shared/errors.ts'
import { hasScope, SCOPE, scopesOf, type TokenClaims } from '../../shared/tokens/claims.ts'
import type { BoundProject } from '../identity/tenancy.ts'
import type { IdentityRow } from '../store/tenancy.ts'

export interface Principal {
  claims: TokenClaims
  identity: IdentityRow
  /** An admin key, or the session of an admin identity. */
  isAdmin: boolean
}

export function isAdmin(claims: TokenClaims, identity: IdentityRow): boolean {
  if (claims.use === 'api_key') return claims.kt === 'KEY_TYPE_ADMIN'
  return identity.is_admin === 1
}

/**
 * The project a project-bound key is confined to on every endpoint that takes a project; absent
 * for an unbound key or a session. A bound key missing its project is refused outright.
 */
export function boundProjectOf(principal: Principal): BoundProject | undefined {
  const { claims } = principal
  if (claims.bound !== true) return undefined
  if (!claims.cid || !claims.pid) deny('this key is bound to a project but names none')
  return { customerId: claims.cid, projectId: claims.pid }
}

/**
 * The scopes the principal holds, which bound what it may mint: its token's, plus what the Admin
 * persona gives an admin identity's session beyond them (the admin endpoints and the revocation
 * list). Never an internal scope a token does not carry.
 */
export function heldScopes(principal: Principal): Set<string> {
  const held = scopesOf(principal.claims)
  if (principal.isAdmin) {
    held.add(SCOPE.admin)
    held.add(SCOPE.revocationsRead)
  }
  return held
}

/**
 * A non-human identity acting without the Admin persona: a service account, whose key may send
 * inference traffic and read its own identity, and nothing else of the account tier.
 */
export function isServiceAccount(principal: Principal): boolean {
  return principal.identity.kind === 'service' && !principal.isAdmin
}

/**
 * Throws `permission_denied` unless the principal has the persona. `serviceAccounts`: the route
 * admits a service account's key (only `GET /v1/me` does).
 */
export function requirePersona(
  principal: Principal,
  persona: Exclude<Persona, 'public'>,
  serviceAccounts = false,
): void {
  const { claims } = principal
  switch (persona) {
    case 'session':
      if (claims.use !== 'session') deny('this endpoint needs a session token (log in with `tare api login`)')
      return
    case 'authenticated':
      if (!hasScope(claims, SCOPE.account)) deny('this credential cannot call account endpoints')
      if (!serviceAccounts && isServiceAccount(principal)) {
        deny('a service account may only send inference traffic and read its own identity (GET /v1/me)')
      }
      return
    case 'admin':
      if (!principal.isAdmin) deny('this endpoint needs an admin key or an admin session')
      return
    case 'revocations':
      if (!hasScope(claims, SCOPE.revocationsRead) && !principal.isAdmin) {
        deny('this endpoint needs a dataplane or admin key')
      }
      return
    case 'secret_value':
      if (!hasScope(claims, SCOPE.secretsReadInternal)) {
        deny('reading a secret value needs the secrets/read/internal scope (admin or dataplane key)')
      }
      return
    case 'dataplane':
      if (claims.kt !== 'KEY_TYPE_DATAPLANE') deny('this endpoint is for dataplane keys only')
      // A dataplane key minted by a credential without byok/resolve (an admin's session) lacks it.
      if (!hasScope(claims, SCOPE.byokResolve)) {
        deny('this dataplane key lacks the byok/resolve scope (mint it with the bootstrap admin key)')
      }
      return
  }
}

function deny(message: string): never {
  throw new ApiError('permission_denied', message)
}
