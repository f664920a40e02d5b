/**
 * @module BYOK AI keys: register (the plaintext goes into the secret service, realm `byok`, owner
 * `system`, and is discarded), get, list and revoke under a project's rules (see `access.ts`),
 * and resolution for dataplanes: the identity's active user-scoped key for the provider, else the
 * project's active key, newest first. Revoking writes an `ai_key` revocation entry, deletes the
 * stored plaintext, and makes any later fetch of it `permission_denied`.
 */
import type { AiKey, Provider } from '../../shared/contract/aikeys.ts'
import { SYSTEM_OWNER } from '../../shared/contract/secrets.ts'
import { ApiError } from '../../shared/errors.ts'
import { newId } from '../../shared/ids.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'
import type { AuditTally } from '../audit/tally.ts'
import type { AuditTrail } from '../audit/trail.ts'
import type { ProjectScope, Tenancy } from '../identity/tenancy.ts'
import type { RevocationLog } from '../revocations/log.ts'
import type { PlaintextReader, Secrets } from '../secrets/secrets.ts'
import type { AiKeyRow, AiKeyStore } from '../store/aikeys.ts'
import {
  type AiKeyCaller,
  requireAccess,
  requireMayRegister,
  requireMayRevoke,
  requireMaySee,
  type Standing,
} from './access.ts'

export const BYOK_REALM = 'byok'

/**
 * How long an `ai_key` revocation entry stays in the list. A revoked AI key never becomes valid
 * again (the control plane refuses it for good); the entry only has to outlive whatever a
 * dataplane might still hold cached, which is bounded far below this.
 */
const REVOCATION_ENTRY_TTL_MICROS = 30 * 86_400_000_000

export interface RegisterInput {
  provider: Provider
  name: string
  secret: string
  userScope: boolean
}

export class AiKeys {
  readonly #store: AiKeyStore
  readonly #secrets: Secrets
  readonly #tenancy: Tenancy
  readonly #revocations: RevocationLog
  readonly #audit: AuditTrail
  readonly #resolutions: AuditTally

  constructor(
    store: AiKeyStore,
    secrets: Secrets,
    tenancy: Tenancy,
    revocations: RevocationLog,
    audit: AuditTrail,
    resolutions: AuditTally,
  ) {
    this.#audit = audit
    this.#resolutions = resolutions
    this.#store = store
    this.#secrets = secrets
    this.#tenancy = tenancy
    this.#revocations = revocations
    secrets.addValueGuard(async (secret) => {
      if (secret.realm !== BYOK_REALM || secret.user_id !== SYSTEM_OWNER) return
      const key = await this.#store.byId(secret.name)
      if (key?.revoked_at != null) throw new ApiError('permission_denied', `AI key ${key.id} is revoked`)
    })
  }

  async register(caller: AiKeyCaller, scope: ProjectScope, input: RegisterInput): Promise<AiKey> {
    requireMayRegister(await this.#standing(caller, scope), input.userScope)
    const id = newId('aiKey')
    const row = await this.#store.transaction(async () => {
      const secret = await this.#secrets.put(SYSTEM_OWNER, BYOK_REALM, id, input.secret, {
        description: `${input.provider} key "${input.name}" of project ${scope.project.id}`,
        tags: { ai_key_id: id, provider: input.provider, project_id: scope.project.id },
      })
      const now = nowMicros()
      const row: AiKeyRow = {
        id,
        customer_id: scope.customer.id,
        project_id: scope.project.id,
        provider: input.provider,
        name: input.name,
        display_suffix: input.secret.slice(-4),
        user_scope: input.userScope ? 1 : 0,
        owner_id: caller.identityId,
        secret_id: secret.id,
        created_at: now,
        updated_at: now,
        revoked_at: null,
      }
      await this.#store.insert(row)
      await this.#audit.record({
        action: 'aikey.add',
        target: id,
        details: {
          provider: input.provider,
          project_id: scope.project.id,
          user_scope: input.userScope,
          name: input.name,
        },
      })
      return row
    })
    return view(row)
  }

  async get(caller: AiKeyCaller, scope: ProjectScope, id: string): Promise<AiKey> {
    const standing = await this.#standing(caller, scope)
    requireAccess(standing)
    const key = await this.#find(scope, id)
    requireMaySee(standing, key)
    return view(key)
  }

  /** The project's keys plus the caller's own user-scoped keys, revoked ones included. */
  async list(caller: AiKeyCaller, scope: ProjectScope): Promise<AiKey[]> {
    const standing = await this.#standing(caller, scope)
    requireAccess(standing)
    return (await this.#store.visibleTo(scope.project.id, caller.identityId)).map(view)
  }

  /** Revokes a key for good; revoking it again answers with the same entry. */
  async revoke(
    caller: AiKeyCaller,
    scope: ProjectScope,
    id: string,
  ): Promise<{ key: AiKey; cursor: number }> {
    const standing = await this.#standing(caller, scope)
    requireAccess(standing)
    const key = await this.#find(scope, id)
    requireMayRevoke(standing, key)
    const { row: entry } = await this.#revocations.revoke(
      {
        jti: key.id,
        kind: 'ai_key',
        expiresAt: nowMicros() + REVOCATION_ENTRY_TTL_MICROS,
        reason: `AI key revoked by ${caller.identityId}`,
      },
      async (revokedAt) => {
        await this.#store.markRevoked(key.id, revokedAt)
        await this.#secrets.shred(key.secret_id)
        await this.#audit.record({
          action: 'aikey.revoke',
          target: key.id,
          details: { provider: key.provider, project_id: key.project_id },
        })
      },
    )
    return { key: view((await this.#store.byId(key.id))!), cursor: entry.revoked_at }
  }

  /**
   * The key that serves `identityId` in the project for `provider`, with its plaintext:
   * `permission_denied` when the identity is not a member, `failed_precondition` when no key applies.
   */
  async resolve(
    reader: PlaintextReader,
    identityId: string,
    scope: ProjectScope,
    provider: Provider,
  ): Promise<{ key: AiKey; secret: string }> {
    const projectId = scope.project.id
    if ((await this.#tenancy.role(projectId, identityId)) === undefined) {
      this.#resolutions.count('byok.resolve', projectId, 'denied')
      throw new ApiError(
        'permission_denied',
        `identity ${identityId} is not a member of project ${projectId}`,
      )
    }
    const key =
      (await this.#store.activeUserKey(projectId, provider, identityId)) ??
      (await this.#store.activeProjectKey(projectId, provider))
    if (!key) {
      throw new ApiError(
        'failed_precondition',
        `no ${provider} key for project ${projectId}: register one with \`tare api byok add --provider ${provider}\``,
        [{ field: 'provider', description: `no active ${provider} key`, provider, project_id: projectId }],
      )
    }
    let secret: string
    try {
      secret = await this.#secrets.plaintextFor(key.secret_id, reader)
    } catch (err) {
      if (err instanceof ApiError && err.code === 'permission_denied')
        this.#resolutions.count('byok.resolve', key.id, 'denied')
      throw err
    }
    // Counted, not written: a resolution is frequent, the tally writes one record per key a minute.
    this.#resolutions.count('byok.resolve', key.id)
    return { key: view(key), secret }
  }

  async #standing(caller: AiKeyCaller, scope: ProjectScope): Promise<Standing> {
    const projectId = scope.project.id
    return { caller, projectId, role: await this.#tenancy.role(projectId, caller.identityId) }
  }

  /** A key of this project; `not_found` when there is none (or it belongs to another project). */
  async #find(scope: ProjectScope, id: string): Promise<AiKeyRow> {
    const key = await this.#store.byId(id)
    if (!key || key.project_id !== scope.project.id) {
      throw new ApiError('not_found', `AI key ${id} not found in project ${scope.project.id}`)
    }
    return key
  }
}

export function view(row: AiKeyRow): AiKey {
  return {
    id: row.id,
    customer_id: row.customer_id,
    project_id: row.project_id,
    provider: row.provider,
    name: row.name,
    display_suffix: row.display_suffix,
    user_scope: row.user_scope === 1,
    owner_id: row.owner_id,
    created_at: formatMicros(row.created_at),
    updated_at: formatMicros(row.updated_at),
    ...(row.revoked_at === null ? {} : { revoked_at: formatMicros(row.revoked_at) }),
  }
}
