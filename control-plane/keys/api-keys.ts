/**
 * @module API keys: issue (idempotently), list, revoke. The secret is returned at issue and, for
 * a retried request with the same idempotency key, again within a day; it is never listed. The
 * sealed copy that makes the retry possible is deleted once that day is over. A key carries its
 * type's scopes less those its minter does not hold: no credential mints one with more power.
 */
import { createHash } from 'node:crypto'
import type { ApiKey } from '../../shared/contract/me.ts'
import { ApiError, invalidArgument } from '../../shared/errors.ts'
import { newId } from '../../shared/ids.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'
import { grantedScopes, KEY_TYPE_SCOPES, type KeyType } from '../../shared/tokens/claims.ts'
import type { AuditTrail } from '../audit/trail.ts'
import type { PageTokens } from '../crypto/page-token.ts'
import { open, seal } from '../crypto/seal.ts'
import type { RevocationLog } from '../revocations/log.ts'
import type { KeyBinding, TokenIssuer } from '../signing/token-issuer.ts'
import type { ApiKeyRow, CredentialStore } from '../store/credentials.ts'
import { isUniqueViolation } from '../store/sql.ts'
import type { IdentityRow } from '../store/tenancy.ts'

/** How long a retried issue with the same idempotency key gets the secret again. */
const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000

export interface IssueRequest {
  name: string
  type: KeyType
  /**
   * The scopes the minting credential holds; the key gets its type's scopes within these. The
   * bootstrap, which has no minter, passes `ALL_SCOPES`.
   */
  minterScopes: ReadonlySet<string>
  idempotencyKey?: string | undefined
  /** The project the key is bound to (membership already checked); absent: unbound. */
  binding?: KeyBinding | undefined
}

export interface IssuedKey {
  key: ApiKey
  secret: string
}

const sealAad = (keyId: string): string => `api-key-secret:${keyId}`

export class ApiKeys {
  constructor(
    private readonly store: CredentialStore,
    private readonly tokens: TokenIssuer,
    private readonly revocations: RevocationLog,
    private readonly pageTokens: PageTokens,
    private readonly rootKey: Buffer,
    private readonly ttlMs: number,
    private readonly audit: AuditTrail,
  ) {}

  async issue(identity: IdentityRow, request: IssueRequest): Promise<IssuedKey> {
    const now = nowMicros()
    // Before a replay is looked up, so a retry past the window finds no secret to hand back.
    await this.forgetExpiredSecrets(now)
    const scopes = grantedScopes(request.type, request.minterScopes)
    // A narrowed grant is part of the request, so a retry by a credential holding less never gets
    // back a key minted with more; a full grant hashes as it always has.
    const narrowed = scopes.length < KEY_TYPE_SCOPES[request.type].length
    const { binding } = request
    // Likewise a binding: a retry naming another project (or none) is a different request.
    const requestHash = createHash('sha256')
      .update(
        JSON.stringify([
          request.name,
          request.type,
          ...(narrowed ? [scopes] : []),
          ...(binding ? [{ project: binding.projectId }] : []),
        ]),
      )
      .digest('base64url')
    if (request.idempotencyKey) {
      const replay = await this.#replay(identity.id, request.idempotencyKey, requestHash)
      if (replay) return replay
    }
    const id = newId('apiKey')
    const issued = await this.tokens.apiKey(
      identity,
      id,
      request.type,
      scopes,
      now,
      now + this.ttlMs * 1000,
      binding,
    )
    const row: ApiKeyRow = {
      id,
      identity_id: identity.id,
      name: request.name,
      type: request.type,
      prefix: `ak-…${issued.token.slice(-6)}`,
      created_at: now,
      expires_at: issued.expiresAt,
      last_used_at: null,
      revoked_at: null,
      idempotency_key: request.idempotencyKey ?? null,
      request_hash: request.idempotencyKey ? requestHash : null,
      sealed_secret: request.idempotencyKey
        ? seal(this.rootKey, Buffer.from(issued.token), sealAad(id))
        : null,
      customer_id: binding?.customerId ?? null,
      project_id: binding?.projectId ?? null,
    }
    try {
      await this.audit.change(
        {
          action: 'key.issue',
          target: id,
          details: { type: request.type, identity_id: identity.id, name: request.name },
        },
        () => this.store.insertKey(row),
      )
    } catch (err) {
      // A concurrent request with the same idempotency key won the race: answer as it did.
      if (isUniqueViolation(err) && request.idempotencyKey) {
        const replay = await this.#replay(identity.id, request.idempotencyKey, requestHash)
        if (replay) return replay
      }
      throw err
    }
    return { key: view(row), secret: issued.token }
  }

  /** Deletes the sealed secrets of keys issued longer ago than the idempotency window. */
  forgetExpiredSecrets(now = nowMicros()): Promise<number> {
    return this.store.forgetSealedSecrets(now - IDEMPOTENCY_WINDOW_MS * 1000)
  }

  async list(
    identityId: string,
    pageSize: number,
    pageToken: string | undefined,
  ): Promise<{ keys: ApiKey[]; nextPageToken: string }> {
    const after = pageToken ? this.pageTokens.decode<{ after: string }>('api-keys', pageToken).after : ''
    const rows = await this.store.keysOf(identityId, after, pageSize + 1)
    const more = rows.length > pageSize
    const page = more ? rows.slice(0, pageSize) : rows
    return {
      keys: page.map(view),
      nextPageToken: more ? this.pageTokens.encode('api-keys', { after: page.at(-1)!.id }) : '',
    }
  }

  /**
   * Revokes one of the identity's keys. Someone else's key, or no key, is `not_found` alike, so
   * the answer never tells whether a key id exists.
   */
  async revoke(identityId: string, keyId: string): Promise<{ key: ApiKey; cursor: number }> {
    const row = await this.store.key(keyId)
    if (!row || row.identity_id !== identityId) throw new ApiError('not_found', `key ${keyId} not found`)
    return this.#revoke(row, 'revoked by its owner')
  }

  /** Revokes any key, whoever owns it (the Admin persona); `not_found` when there is none. */
  async revokeAny(keyId: string, reason: string): Promise<{ key: ApiKey; cursor: number }> {
    const row = await this.store.key(keyId)
    if (!row) throw new ApiError('not_found', `key ${keyId} not found`)
    return this.#revoke(row, reason)
  }

  /** Revokes every active key of an identity; returns their ids and the last cursor (0: none). */
  async revokeAllOf(identityId: string, reason: string): Promise<{ keyIds: string[]; cursor: number }> {
    const keyIds: string[] = []
    let cursor = 0
    for (const row of await this.store.activeKeysOf(identityId)) {
      keyIds.push(row.id)
      cursor = (await this.#revoke(row, reason)).cursor
    }
    return { keyIds, cursor }
  }

  async #revoke(row: ApiKeyRow, reason: string): Promise<{ key: ApiKey; cursor: number }> {
    const { row: entry } = await this.revocations.revoke(
      { jti: row.id, kind: 'api_key', expiresAt: row.expires_at, reason },
      async (revokedAt) => {
        await this.store.markKeyRevoked(row.id, revokedAt)
        await this.audit.record({
          action: 'key.revoke',
          target: row.id,
          details: { type: row.type, identity_id: row.identity_id },
        })
      },
    )
    return { key: view((await this.store.key(row.id))!), cursor: entry.revoked_at }
  }

  async #replay(
    identityId: string,
    idempotencyKey: string,
    requestHash: string,
  ): Promise<IssuedKey | undefined> {
    const existing = await this.store.keyByIdempotency(identityId, idempotencyKey)
    if (!existing) return undefined
    if (existing.request_hash !== requestHash) {
      throw invalidArgument('idempotency_key', 'was already used with a different request')
    }
    if (!existing.sealed_secret) {
      throw new ApiError(
        'already_exists',
        `key ${existing.id} was issued for this idempotency_key more than a day ago`,
      )
    }
    const secret = open(this.rootKey, existing.sealed_secret, sealAad(existing.id)).toString('utf8')
    return { key: view(existing), secret }
  }
}

export function view(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    type: row.type,
    state: row.revoked_at === null ? 'KEY_STATE_ACTIVE' : 'KEY_STATE_REVOKED',
    identity_id: row.identity_id,
    created_at: formatMicros(row.created_at),
    expires_at: formatMicros(row.expires_at),
    ...(row.last_used_at === null ? {} : { last_used_at: formatMicros(row.last_used_at) }),
    ...(row.revoked_at === null ? {} : { revoked_at: formatMicros(row.revoked_at) }),
    ...(row.project_id === null ? {} : { customer_id: row.customer_id ?? '', project_id: row.project_id }),
  }
}
