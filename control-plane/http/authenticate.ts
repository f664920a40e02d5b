/**
 * @module The control plane's auth check: the bearer token (or session cookie) verified against
 * its own signing keys, refused when revoked, and resolved to its identity.
 */
import { ApiError } from '../../shared/errors.ts'
import { nowMicros } from '../../shared/time.ts'
import { tokenFromAuthorization, tokenFromCookie } from '../../shared/tokens/bearer.ts'
import type { TokenVerifier, VerifyFailure } from '../../shared/tokens/verifier.ts'
import type { Identities } from '../identity/identities.ts'
import type { LastUsed } from '../keys/last-used.ts'
import type { RevocationLog } from '../revocations/log.ts'
import { isAdmin, type Principal } from './principal.ts'

/** Why a credential was refused: the verifier's reasons, plus the control plane's own checks. */
export type RefusalReason = VerifyFailure | 'missing' | 'revoked' | 'unknown_identity'

export class Authenticator {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly revocations: RevocationLog,
    private readonly identities: Identities,
    private readonly lastUsed: LastUsed,
    /** Told why each credential was refused (for metrics); the caller only ever hears `unauthenticated`. */
    private readonly onRefused: (reason: RefusalReason) => void = () => {},
  ) {}

  /** The credential of a request: `Authorization: Bearer`, else the session cookie. */
  static tokenOf(headers: {
    authorization?: string | undefined
    cookie?: string | undefined
  }): string | undefined {
    return tokenFromAuthorization(headers.authorization) ?? tokenFromCookie(headers.cookie)
  }

  /** Verifies `token`; every bad credential is `unauthenticated` with the same vague message. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) {
      this.onRefused('missing')
      throw new ApiError('unauthenticated', 'a credential is required: Authorization: Bearer <token>')
    }
    const outcome = this.verifier.verify(token)
    if (!outcome.ok) this.#refuse(outcome.reason)
    const { claims } = outcome
    if (this.revocations.isRevoked(claims.jti)) this.#refuse('revoked')
    const identity = await this.identities.find(claims.sub)
    if (!identity) this.#refuse('unknown_identity')
    if (claims.use === 'api_key') this.lastUsed.touch(claims.jti, nowMicros())
    return { claims, identity, isAdmin: isAdmin(claims, identity) }
  }

  #refuse(reason: RefusalReason): never {
    this.onRefused(reason)
    throw new ApiError('unauthenticated', 'the credential is invalid, expired or revoked')
  }
}
