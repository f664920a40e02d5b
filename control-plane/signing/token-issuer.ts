/**
 * @module Mints the two kinds of token: sessions (after an OIDC login) and API keys. Both are
 * JWTs signed by the key ring; their JTI is what a revocation names.
 */

import { API_KEY_PREFIX } from '../../shared/tokens/bearer.ts'
import {
  type KeyType,
  type Scope,
  SESSION_SCOPES,
  type TokenClaims,
  type TokenUse,
} from '../../shared/tokens/claims.ts'
import type { IdentityRow } from '../store/tenancy.ts'
import type { KeyRing } from './key-ring.ts'

/** The project a key is bound to. */
export interface KeyBinding {
  customerId: string
  projectId: string
}

export interface IssuedToken {
  token: string
  /** Microseconds. */
  issuedAt: number
  expiresAt: number
}

export class TokenIssuer {
  constructor(
    private readonly keyRing: KeyRing,
    private readonly options: { issuer: string; audience: string },
  ) {}

  session(
    identity: IdentityRow,
    sessionId: string,
    issuedAtUs: number,
    expiresAtUs: number,
  ): Promise<IssuedToken> {
    return this.#sign(identity, sessionId, 'session', SESSION_SCOPES.join(' '), issuedAtUs, expiresAtUs)
  }

  /** The API key as handed to the caller: `ak-<jwt>`, carrying `scopes` (already narrowed). */
  async apiKey(
    identity: IdentityRow,
    keyId: string,
    type: KeyType,
    scopes: readonly Scope[],
    issuedAtUs: number,
    expiresAtUs: number,
    binding?: KeyBinding,
  ): Promise<IssuedToken> {
    const issued = await this.#sign(
      identity,
      keyId,
      'api_key',
      scopes.join(' '),
      issuedAtUs,
      expiresAtUs,
      type,
      binding,
    )
    return { ...issued, token: API_KEY_PREFIX + issued.token }
  }

  async #sign(
    identity: IdentityRow,
    jti: string,
    use: TokenUse,
    scope: string,
    issuedAtUs: number,
    expiresAtUs: number,
    kt?: KeyType,
    binding?: KeyBinding,
  ): Promise<IssuedToken> {
    const iat = Math.floor(issuedAtUs / 1e6)
    const claims: TokenClaims = {
      iss: this.options.issuer,
      aud: this.options.audience,
      sub: identity.id,
      jti,
      iat,
      nbf: iat,
      exp: Math.floor(expiresAtUs / 1e6),
      use,
      scope,
      ...(kt ? { kt } : {}),
      ...(binding
        ? { cid: binding.customerId, pid: binding.projectId, bound: true as const }
        : {
            ...(identity.default_customer_id ? { cid: identity.default_customer_id } : {}),
            ...(identity.default_project_id ? { pid: identity.default_project_id } : {}),
          }),
    }
    const token = await this.keyRing.sign({ ...claims })
    return { token, issuedAt: issuedAtUs, expiresAt: Math.floor(expiresAtUs / 1e6) * 1e6 }
  }
}
