/**
 * @module What a token says. Every credential is a JWT signed by the control plane; these are
 * its claims, the key types an API key can have, and the scopes each one carries.
 */

export const KEY_TYPES = ['KEY_TYPE_PROMPT', 'KEY_TYPE_ADMIN', 'KEY_TYPE_DATAPLANE'] as const
export type KeyType = (typeof KEY_TYPES)[number]

/** What a token is: an OIDC session, or an API key. */
export type TokenUse = 'session' | 'api_key'

export const SCOPE = {
  /** Send inference traffic through a dataplane. */
  inference: 'inference',
  /** Account-tier calls: me, own keys, AI keys of one's projects. */
  account: 'account',
  /** The Admin persona's endpoints. */
  admin: 'admin',
  /** Read the revocation list and subscribe to its stream. */
  revocationsRead: 'revocations/read',
  /**
   * Read secret plaintext (`POST /v1/secrets/{name}/value`) of any owner, outside the system
   * realms (whose plaintext only BYOK resolution reads).
   */
  secretsReadInternal: 'secrets/read/internal',
  /** Write secrets on behalf of another owner (`user_id`), and in the system realms. */
  secretsWriteInternal: 'secrets/write/internal',
  /**
   * Resolve a caller's provider key (`POST /v1/internal/byok/resolve`, dataplane keys only). An
   * admin key carries it only to hand it on to the dataplane keys it mints.
   */
  byokResolve: 'byok/resolve',
} as const
export type Scope = (typeof SCOPE)[keyof typeof SCOPE]

export const ALL_SCOPES: readonly Scope[] = Object.values(SCOPE)

export const SESSION_SCOPES: readonly Scope[] = [SCOPE.inference, SCOPE.account]

/**
 * The most each key type carries. A minted key carries these less whatever its minter does not
 * hold (see `grantedScopes`): scopes only narrow.
 */
export const KEY_TYPE_SCOPES: Record<KeyType, readonly Scope[]> = {
  KEY_TYPE_PROMPT: [SCOPE.inference, SCOPE.account],
  KEY_TYPE_ADMIN: [
    SCOPE.inference,
    SCOPE.account,
    SCOPE.admin,
    SCOPE.revocationsRead,
    SCOPE.secretsReadInternal,
    SCOPE.secretsWriteInternal,
    SCOPE.byokResolve,
  ],
  KEY_TYPE_DATAPLANE: [SCOPE.revocationsRead, SCOPE.secretsReadInternal, SCOPE.byokResolve],
}

/** The claims of every token the control plane signs. */
export interface TokenClaims {
  iss: string
  aud: string
  /** The identity (`usr_…`). */
  sub: string
  /** `key_…` for API keys, `ses_…` for sessions: what a revocation names. */
  jti: string
  iat: number
  nbf: number
  exp: number
  use: TokenUse
  /** Space-separated scopes. */
  scope: string
  /** API keys only. */
  kt?: KeyType
  /**
   * The identity's default customer and project when the token was issued, if it had one; for a
   * project-bound key (`bound`), the project it is bound to.
   */
  cid?: string
  pid?: string
  /**
   * API keys only: the key is bound to `cid`/`pid`. Its traffic uses that project whatever a
   * request asks for; an unbound key or a session may name a project per request instead.
   */
  bound?: true
}

/** Default `iss` and `aud` of the tokens; both components take them from configuration. */
export const DEFAULT_TOKEN_ISSUER = 'agentrouter'
export const DEFAULT_TOKEN_AUDIENCE = 'agentrouter'

/** Signature algorithms a verifier may accept. The control plane signs with RS256. */
export const VERIFY_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const
export type VerifyAlgorithm = (typeof VERIFY_ALGORITHMS)[number]

/**
 * The scopes a key of `type` gets when minted by a credential holding `held`: the type's scopes
 * it holds, never more. The bootstrap, which has no minter, passes `ALL_SCOPES`.
 */
export function grantedScopes(type: KeyType, held: ReadonlySet<string>): Scope[] {
  return KEY_TYPE_SCOPES[type].filter((scope) => held.has(scope))
}

/** The token's scopes, as a set. */
export function scopesOf(claims: Pick<TokenClaims, 'scope'>): Set<string> {
  return new Set(claims.scope.split(' ').filter(Boolean))
}

export function hasScope(claims: Pick<TokenClaims, 'scope'>, scope: Scope): boolean {
  const s = claims.scope
  const at = s.indexOf(scope)
  if (at < 0) return false
  const end = at + scope.length
  return (at === 0 || s.charCodeAt(at - 1) === 32) && (end === s.length || s.charCodeAt(end) === 32)
}
