/**
 * @module The dataplane's auth check: one synchronous call per request, answered from local
 * state only. A new token is verified once by `TokenVerifier` (signature, `alg` pinning, `iss`,
 * `aud`, `exp`, `nbf`), checked against the revocation set, and cached until its `exp`. A token
 * seen before is a cache hit: an LRU get and an `exp` comparison, no allocation.
 *
 * A hit does not consult the revocation set: every revocation evicts the cached tokens carrying
 * its JTI synchronously, as it is applied, so a cached entry is never revoked. That keeps a hit
 * at the same cost with 0 or 1M revoked JTIs (a `Set.has` on a 1M-entry set is a few cache
 * misses, ~0.3 µs, more than the rest of the hit). The index is JTI → the cached token: one,
 * since the verifier accepts a single spelling of a JWT (base64url's spare trailing bits zero).
 *
 * The caches are keyed by the token's last 43 characters (256 bits of its signature), and a hit
 * is confirmed by comparing the whole token. Every request's token is a new string, and hashing
 * it whole for a Map lookup costs microseconds (about 5 µs for an 800-character RS256 key on the
 * loaded benchmark VM, against ~1 µs for the rest of the request's own work); 43 characters hash
 * in nanoseconds, and the comparison is a memcmp. Two tokens sharing a suffix only take turns
 * in the cache.
 *
 * Refusals are preallocated constants carrying the contract's code (`AUTH_REFUSALS`: the HTTP
 * layer builds each one's response once, in every dialect).
 *
 * This is the function the benchmark measures, so it is built without I/O:
 *
 * @example
 *   const check = new AuthCheck(verifier, new RevocationSet())
 *   const outcome = check.check(token)
 *   if (!outcome.ok) reply(outcome.code, outcome.message)
 *   else forward(outcome.claims)
 */
import { LRUCache } from 'lru-cache'
import { hasScope, SCOPE, type TokenClaims } from '../../shared/tokens/claims.ts'
import type { TokenVerifier, VerifyFailure } from '../../shared/tokens/verifier.ts'
import type { RevocationSet } from './revocation-set.ts'

/** A token that passed: its claims, and when the cached entry stops answering. */
export interface VerifiedToken {
  readonly ok: true
  readonly claims: TokenClaims
  /** `exp` in epoch milliseconds. */
  readonly expiresAtMs: number
}

export type RefusalReason =
  | 'missing'
  | VerifyFailure
  | 'revoked'
  | 'scope'
  | 'no_keys'
  /** No revocation list newer than the staleness bound: fail closed. */
  | 'stale'

export interface AuthRefusal {
  readonly ok: false
  readonly code: 'unauthenticated' | 'permission_denied' | 'unavailable'
  readonly reason: RefusalReason
  readonly message: string
}

export type AuthOutcome = VerifiedToken | AuthRefusal

export interface AuthCheckOptions {
  /** Verified tokens kept (default 10,000). */
  cacheSize?: number
  /** Called when a token names a key the verifier does not hold: refetch the JWKS. */
  onUnknownKey?: (kid: string) => void
}

// One vague message for every bad credential, so a caller learns nothing about which check
// failed; it says how to get a good one.
const INVALID =
  'the credential is invalid, expired or revoked: create an API key with `tare api keys create` ' +
  'and send it as Authorization: Bearer <key> (or x-api-key: <key>)'

const refusal = (code: AuthRefusal['code'], reason: RefusalReason, message: string): AuthRefusal =>
  Object.freeze({ ok: false, code, reason, message })

/** Every refusal the check can give, one frozen object each. */
export const AUTH_REFUSALS: { readonly [R in RefusalReason]: AuthRefusal } = {
  missing: refusal(
    'unauthenticated',
    'missing',
    'a credential is required: create an API key with `tare api keys create` and send it as ' +
      'Authorization: Bearer <key>, or x-api-key: <key>',
  ),
  malformed: refusal('unauthenticated', 'malformed', INVALID),
  algorithm: refusal('unauthenticated', 'algorithm', INVALID),
  unknown_key: refusal('unauthenticated', 'unknown_key', INVALID),
  signature: refusal('unauthenticated', 'signature', INVALID),
  expired: refusal('unauthenticated', 'expired', INVALID),
  not_yet_valid: refusal('unauthenticated', 'not_yet_valid', INVALID),
  issuer: refusal('unauthenticated', 'issuer', INVALID),
  audience: refusal('unauthenticated', 'audience', INVALID),
  claims: refusal('unauthenticated', 'claims', INVALID),
  revoked: refusal('unauthenticated', 'revoked', INVALID),
  scope: refusal(
    'permission_denied',
    'scope',
    'this credential may not send inference traffic (it is not a prompt key): use an API key ' +
      'from `tare api keys create`',
  ),
  no_keys: refusal(
    'unavailable',
    'no_keys',
    "the dataplane has not loaded the control plane's signing keys yet; retry shortly",
  ),
  stale: refusal(
    'unavailable',
    'stale',
    'the dataplane has no current revocation list from the control plane; failing closed until it ' +
      'reconnects: retry shortly',
  ),
}

/** lru-cache allocates an options object per `get` unless one is passed. */
const GET_OPTIONS = {}
/** Characters of a token's end that key the caches (base64url: 6 bits each). */
const KEY_CHARS = 43

/** A cached token: the whole token, to confirm a hit on its key, and what it verified to. */
interface CachedToken {
  readonly token: string
  readonly verified: VerifiedToken
}

function cacheKeyOf(token: string): string {
  return token.length > KEY_CHARS ? token.slice(token.length - KEY_CHARS) : token
}
/** Revoked tokens remembered; a client retrying one revoked key needs one entry. */
const REVOKED_TOKENS_KEPT = 4096

export class AuthCheck {
  readonly #verifier: TokenVerifier
  readonly #revocations: RevocationSet
  readonly #cache: LRUCache<string, CachedToken>
  /** JTI → the cache key of the token carrying it (one: the verifier accepts one spelling of a token). */
  readonly #tokenByJti = new Map<string, string>()
  /**
   * Tokens whose signature verified but whose JTI is revoked. Revocation is permanent, so a
   * client retrying a revoked key is refused from here instead of paying a verify each time.
   */
  readonly #revokedTokens: LRUCache<string, string>
  readonly #onUnknownKey: ((kid: string) => void) | undefined
  #freshUntilMs = Number.POSITIVE_INFINITY

  constructor(verifier: TokenVerifier, revocations: RevocationSet, options: AuthCheckOptions = {}) {
    this.#verifier = verifier
    this.#revocations = revocations
    this.#onUnknownKey = options.onUnknownKey
    this.#cache = new LRUCache<string, CachedToken>({
      max: options.cacheSize ?? 10_000,
      dispose: (entry, key) => {
        const jti = entry.verified.claims.jti
        if (this.#tokenByJti.get(jti) === key) this.#tokenByJti.delete(jti)
      },
    })
    this.#revokedTokens = new LRUCache<string, string>({ max: REVOKED_TOKENS_KEPT })
    revocations.onAdded((jti) => this.evictJti(jti))
    // A full snapshot being loaded: forget every verified token (each is verified again, against
    // the set, on its next use) rather than look a million JTIs up in the cache.
    revocations.onBulkAdded(() => {
      if (this.#cache.size === 0) return
      this.#cache.clear()
      this.#tokenByJti.clear()
    })
  }

  /**
   * Checks a token (already taken out of its header, `ak-` prefix removed). `nowMs` is
   * injectable for tests and benchmarks.
   */
  check(token: string | undefined, nowMs: number = Date.now()): AuthOutcome {
    if (!token) return AUTH_REFUSALS.missing
    if (nowMs > this.#freshUntilMs)
      return this.#verifier.hasKeys ? AUTH_REFUSALS.stale : AUTH_REFUSALS.no_keys
    const key = cacheKeyOf(token)
    const hit = this.#cache.get(key, GET_OPTIONS)
    if (hit !== undefined && hit.token === token) {
      if (hit.verified.expiresAtMs > nowMs) return hit.verified
      this.#cache.delete(key) // and let the full check below name the reason
    }
    if (this.#revokedTokens.get(key, GET_OPTIONS) === token) return AUTH_REFUSALS.revoked
    if (!this.#verifier.hasKeys) return AUTH_REFUSALS.no_keys
    const outcome = this.#verifier.verify(token, nowMs / 1000)
    if (!outcome.ok) {
      if (outcome.reason === 'unknown_key' && outcome.kid !== undefined) this.#onUnknownKey?.(outcome.kid)
      return AUTH_REFUSALS[outcome.reason]
    }
    const claims = outcome.claims
    if (this.#revocations.has(claims.jti)) {
      this.#revokedTokens.set(key, token)
      return AUTH_REFUSALS.revoked
    }
    if (!hasScope(claims, SCOPE.inference)) return AUTH_REFUSALS.scope
    const verified: VerifiedToken = { ok: true, claims, expiresAtMs: claims.exp * 1000 }
    // A token inside its `exp` leeway still verifies, but is never cached past `exp`.
    if (verified.expiresAtMs > nowMs) {
      this.#cache.set(key, { token, verified })
      this.#tokenByJti.set(claims.jti, key)
    }
    return verified
  }

  /**
   * From `untilMs` on, every check answers `unavailable` until this is moved forward again: the
   * sync moves it to "last sync + staleness bound" each time it confirms the list is current.
   */
  setFreshUntil(untilMs: number): void {
    this.#freshUntilMs = untilMs
  }

  get freshUntilMs(): number {
    return this.#freshUntilMs
  }

  /** Drops the cached token carrying this JTI; from now on it is refused without a verify. */
  evictJti(jti: string): void {
    const key = this.#tokenByJti.get(jti)
    if (key === undefined) return
    const cached = this.#cache.peek(key)
    this.#cache.delete(key)
    if (cached !== undefined) this.#revokedTokens.set(key, cached.token)
  }

  get cachedTokens(): number {
    return this.#cache.size
  }
}
