/**
 * @module The control plane's auth check: the bearer token (or session cookie) verified against
 * its own signing keys, refused when revoked, and resolved to its identity.
 */
import { ApiError } from '../../shared/errors.ts'
import { nowMicros } from '../../shared/time.ts'
import { tokenFromAuthorization, tokenFromCookie } from '../../shared/tokens/bearer.ts'
import type { TokenVerifier } from '../../shared/tokens/verifier.ts'
import type { Identities } from '../identity/identities.ts'
import type { LastUsed } from '../keys/last-used.ts'
import type { RevocationLog } from '../revocations/log.ts'
import { isAdmin, type Principal } from './principal.ts'

export class Authenticator {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly revocations: RevocationLog,
    private readonly identities: Identities,
    private readonly lastUsed: LastUsed,
  ) {}

  /** The credential of a request: `Authorization: Bearer`, else the session cookie. */
  static tokenOf(headers: {
    authorization?: string | undefined
    cookie?: string | undefined
  }): string | undefined {
    return tokenFromAuthorization(headers.authorization) ?? tokenFromCookie(headers.cookie)
  }

  /** Verifies `token`; every bad credential is `unauthenticated` with the same vague message. */
  authenticate(token: string | undefined): Principal {
    if (!token)
      throw new ApiError('unauthenticated', 'a credential is required: Authorization: Bearer <token>')
    const outcome = this.verifier.verify(token)
    if (!outcome.ok) throw new ApiError('unauthenticated', 'the credential is invalid, expired or revoked')
    const { claims } = outcome
    if (this.revocations.isRevoked(claims.jti)) {
      throw new ApiError('unauthenticated', 'the credential is invalid, expired or revoked')
    }
    const identity = this.identities.find(claims.sub)
    if (!identity) throw new ApiError('unauthenticated', 'the credential is invalid, expired or revoked')
    if (claims.use === 'api_key') this.lastUsed.touch(claims.jti, nowMicros())
    return { claims, identity, isAdmin: isAdmin(claims, identity) }
  }
}
