/**
 * @module Which provider key serves a caller: resolved through the control plane's resolution
 * endpoint (user-scoped key first, else the project's), then kept in a bounded LRU for a TTL,
 * keyed by (project, identity, provider). Concurrent misses for one entry share one call. An
 * entry is dropped the moment its AI key is revoked or its secret changes, or its identity leaves
 * (or changes role in) the project the key was resolved in (all arrive on the revocation stream),
 * and a resolution that raced such a change is used once but not kept. Each (re)connect of the
 * stream expires every entry, since changes announced while it was down were missed.
 * While the control plane is unreachable an entry past its TTL keeps serving (it was not
 * revoked: that would have removed it), so cached callers keep working through an outage.
 *
 * A request may name its project (`x-agentrouter-project`, an unbound key or a session): the
 * entry is then keyed by that project, and the control plane checks the membership when it
 * resolves, as it does for the token's own project. Only such a request builds its key string.
 *
 * The hit path reads only the LRU; the indexes by AI key and by project are kept on insert and
 * disposal (the miss path), and a membership change scans only its project's entries.
 */
import { LRUCache } from 'lru-cache'
import type { Provider } from '../../shared/contract/aikeys.ts'
import { ApiError } from '../../shared/errors.ts'
import type { TokenClaims } from '../../shared/tokens/claims.ts'
import type { RevocationSet } from '../auth/revocation-set.ts'

export interface ResolveRequest {
  customerId?: string
  projectId?: string
  identityId: string
  provider: Provider
  /** The caller's credential: the control plane refuses it when it is revoked. */
  credentialJti: string
}

export interface ResolvedKey {
  key: { id: string; project_id: string; user_scope: boolean }
  secret: string
}

export type ResolveProviderKey = (request: ResolveRequest) => Promise<ResolvedKey>

export interface ProviderKey {
  /** `byok_…` */
  readonly id: string
  readonly secret: string
  readonly fetchedAtMs: number
}

/** What the cache holds: the key, plus whom and where it was resolved for (for eviction). */
interface Entry extends ProviderKey {
  /** Mutable: set to -Infinity to expire the entry in place (it may still serve stale). */
  fetchedAtMs: number
  /** The project the control plane resolved in (the claims' `pid` may be absent: the default). */
  readonly projectId: string
  readonly identityId: string
}

export type CacheEvent = 'hit' | 'miss' | 'stale_served'

export interface ProviderKeyCacheOptions {
  ttlMs: number
  maxEntries: number
  /** Each lookup's outcome (for metrics). */
  observe?: (event: CacheEvent) => void
}

/** Errors of the control plane that mean "not reachable right now", when a stale key may serve. */
const TRANSIENT = new Set(['unavailable', 'deadline_exceeded', 'internal'])
/** lru-cache allocates an options object per `get` unless one is passed. */
const GET_OPTIONS = {}

export class ProviderKeyCache {
  readonly #resolve: ResolveProviderKey
  readonly #revocations: RevocationSet
  readonly #ttlMs: number
  readonly #observe: (event: CacheEvent) => void
  readonly #entries: LRUCache<string, Entry>
  /** AI key id → the cache keys it serves (a project key serves every member). */
  readonly #byKeyId = new Map<string, Set<string>>()
  /** Resolved project id → the cache keys resolved in it. */
  readonly #byProject = new Map<string, Set<string>>()
  readonly #inFlight = new Map<string, Promise<ProviderKey>>()
  /**
   * The cache keys of each verified token's claims, per provider: a cached token hands every
   * request the same claims object, so a hit builds no key string (~0.2 µs a request).
   */
  readonly #cacheKeys = new WeakMap<TokenClaims, Partial<Record<Provider, string>>>()
  /** Counts evictions, so a resolution that raced one is not cached. */
  #evictions = 0

  constructor(resolve: ResolveProviderKey, revocations: RevocationSet, options: ProviderKeyCacheOptions) {
    this.#resolve = resolve
    this.#revocations = revocations
    this.#ttlMs = options.ttlMs
    this.#observe = options.observe ?? (() => {})
    this.#entries = new LRUCache<string, Entry>({
      max: options.maxEntries,
      dispose: (entry, cacheKey) => {
        unindex(this.#byKeyId, entry.id, cacheKey)
        unindex(this.#byProject, entry.projectId, cacheKey)
      },
    })
  }

  /**
   * The key for this caller and provider, in the token's project or in `selectedProject` (a
   * project the request names, already checked to be allowed for the token): synchronously on
   * a fresh hit, else a promise.
   */
  get(
    claims: TokenClaims,
    provider: Provider,
    selectedProject?: string,
    nowMs: number = Date.now(),
  ): ProviderKey | Promise<ProviderKey> {
    const cacheKey =
      selectedProject === undefined
        ? this.#cacheKey(claims, provider)
        : `${selectedProject} ${claims.sub} ${provider}`
    const entry = this.#entries.get(cacheKey, GET_OPTIONS)
    if (entry !== undefined && nowMs - entry.fetchedAtMs < this.#ttlMs) {
      this.#observe('hit')
      return entry
    }
    this.#observe('miss')
    // Shared per credential, not per cache key: the control plane checks the credential.
    const flightKey = `${cacheKey} ${claims.jti}`
    let flight = this.#inFlight.get(flightKey)
    if (!flight) {
      flight = this.#fetch(cacheKey, claims, provider, selectedProject, entry).finally(() =>
        this.#inFlight.delete(flightKey),
      )
      this.#inFlight.set(flightKey, flight)
    }
    return flight
  }

  /** Drops every entry served by this AI key (revoked, or its secret changed). */
  evictKey(keyId: string): void {
    this.#evictions++
    const keys = this.#byKeyId.get(keyId)
    if (!keys) return
    for (const cacheKey of [...keys]) this.#entries.delete(cacheKey)
  }

  /**
   * Drops the entries resolved for `identityId` in project `projectId` (every member's when
   * absent): the identity left the project or its role changed.
   */
  evictMembership(projectId: string, identityId?: string): void {
    this.#evictions++
    const keys = this.#byProject.get(projectId)
    if (!keys) return
    for (const cacheKey of [...keys]) {
      if (identityId === undefined || this.#entries.peek(cacheKey)?.identityId === identityId) {
        this.#entries.delete(cacheKey)
      }
    }
  }

  /**
   * Expires every entry in place: each is resolved again on its next use. Kept rather than
   * dropped, so that if the control plane is unreachable at that moment the outage rule (an
   * unrevoked entry serves stale) still applies.
   */
  expireAll(): void {
    this.#evictions++
    for (const entry of this.#entries.values()) entry.fetchedAtMs = Number.NEGATIVE_INFINITY
  }

  get size(): number {
    return this.#entries.size
  }

  #cacheKey(claims: TokenClaims, provider: Provider): string {
    let keys = this.#cacheKeys.get(claims)
    if (keys === undefined) {
      keys = {}
      this.#cacheKeys.set(claims, keys)
    }
    let key = keys[provider]
    if (key === undefined) {
      key = `${claims.pid ?? '-'} ${claims.sub} ${provider}`
      keys[provider] = key
    }
    return key
  }

  async #fetch(
    cacheKey: string,
    claims: TokenClaims,
    provider: Provider,
    selectedProject: string | undefined,
    stale: Entry | undefined,
  ): Promise<ProviderKey> {
    for (let attempt = 0; ; attempt++) {
      const evictionsBefore = this.#evictions
      let resolved: ResolvedKey
      try {
        resolved = await this.#resolve({
          // A selected project is named alone: the control plane finds its customer.
          customerId: selectedProject === undefined ? claims.cid : undefined,
          projectId: selectedProject ?? claims.pid,
          identityId: claims.sub,
          provider,
          credentialJti: claims.jti,
        })
      } catch (err) {
        const code = err instanceof ApiError ? err.code : 'unavailable'
        // Only an entry still cached: one the stream evicted meanwhile (revoked, rotated) is not.
        const cached = stale !== undefined && this.#entries.peek(cacheKey) === stale
        if (cached && TRANSIENT.has(code) && !this.#revocations.has(stale.id)) {
          this.#observe('stale_served')
          return stale
        }
        // The control plane answered (no key, not a member): whatever was cached no longer applies.
        if (stale && !TRANSIENT.has(code)) this.#entries.delete(cacheKey)
        throw providerKeyError(err, provider, claims, selectedProject)
      }
      const { id, project_id: projectId } = resolved.key
      // Revoked while the call was in flight: the control plane now answers with another key.
      if (this.#revocations.has(id)) {
        if (attempt === 0) continue
        throw noKeyError(provider, claims, selectedProject ?? claims.pid)
      }
      const entry: Entry = {
        id,
        secret: resolved.secret,
        fetchedAtMs: Date.now(),
        projectId,
        identityId: claims.sub,
      }
      if (this.#evictions === evictionsBefore) {
        this.#entries.set(cacheKey, entry)
        index(this.#byKeyId, id, cacheKey)
        index(this.#byProject, projectId, cacheKey)
      }
      return entry
    }
  }
}

function index(map: Map<string, Set<string>>, key: string, cacheKey: string): void {
  const keys = map.get(key)
  if (keys) keys.add(cacheKey)
  else map.set(key, new Set([cacheKey]))
}

function unindex(map: Map<string, Set<string>>, key: string, cacheKey: string): void {
  const keys = map.get(key)
  keys?.delete(cacheKey)
  if (keys?.size === 0) map.delete(key)
}

function noKeyError(provider: Provider, claims: TokenClaims, projectId = claims.pid): ApiError {
  const project = projectId ?? "the caller's default project"
  const flag = projectId === undefined ? '' : ` --project ${projectId}`
  return new ApiError(
    'failed_precondition',
    `no ${provider} key is registered for project ${project}: add one with ` +
      `\`tare api byok add --provider ${provider}${flag} --name NAME --secret -\` ` +
      '(a project owner; --user-scope for a key that serves only you)',
    [{ field: 'provider', description: `no active ${provider} key`, provider, project_id: projectId ?? '' }],
  )
}

/** The control plane's answer, as this dataplane's caller should see it. */
function providerKeyError(
  err: unknown,
  provider: Provider,
  claims: TokenClaims,
  selectedProject: string | undefined,
): ApiError {
  if (err instanceof ApiError) {
    if (err.code === 'failed_precondition') {
      const named = err.details.find((d) => typeof d.project_id === 'string')?.project_id as
        | string
        | undefined
      return noKeyError(provider, claims, named ?? selectedProject ?? claims.pid)
    }
    // The control plane knows the caller's credential is revoked before this dataplane does.
    if (err.code === 'permission_denied' && err.details.some((d) => d.field === 'credential_jti')) {
      return new ApiError('unauthenticated', 'the credential is invalid, expired or revoked')
    }
    // The caller is not (or no longer) a member of the token's project.
    if (err.code === 'permission_denied') {
      return new ApiError(
        'permission_denied',
        `${err.message}: ask a project owner to add you, or use a key of a project you are a ` +
          'member of (`tare api keys create`)',
      )
    }
  }
  // The code only: the message of a failed call names the control plane's address and path,
  // which are nothing to an inference caller.
  const code = err instanceof ApiError ? err.code : 'internal'
  return new ApiError(
    'unavailable',
    `could not resolve the ${provider} key from the control plane; retry shortly`,
    [{ description: `control plane: ${code}` }],
  )
}
