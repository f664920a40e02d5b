/**
 * @module Service accounts: non-human identities (`usr_…`, kind `service`) an admin creates as a
 * member of one project, for a CI job or an application to send inference traffic with a prompt
 * key an admin issues. They never log in (no issuer or subject an OIDC login could reach) and,
 * without the Admin persona, call nothing of the account tier but `GET /v1/me` (the route
 * binder's rule). Deleting one revokes its keys on the log first, so every dataplane refuses
 * them, then removes the identity and its memberships (announced, like any membership change).
 */
import type { Identity, Role } from '../../shared/contract/me.ts'
import { ApiError } from '../../shared/errors.ts'
import { isId } from '../../shared/ids.ts'
import type { AuditTrail } from '../audit/trail.ts'
import type { PageTokens } from '../crypto/page-token.ts'
import type { ApiKeys } from '../keys/api-keys.ts'
import type { ServiceAccountStore } from '../store/service-accounts.ts'
import type { Identities } from './identities.ts'
import type { Tenancy } from './tenancy.ts'

export interface NewServiceAccount {
  name: string
  customerId: string
  projectId: string
  role: Role
  /** The admin creating it. */
  createdBy: string
}

export class ServiceAccounts {
  constructor(
    private readonly store: ServiceAccountStore,
    private readonly identities: Identities,
    private readonly tenancy: Tenancy,
    private readonly apiKeys: ApiKeys,
    private readonly pageTokens: PageTokens,
    private readonly audit: AuditTrail,
  ) {}

  async create(request: NewServiceAccount): Promise<Identity> {
    // Checked before anything is written: an unknown project leaves no identity behind.
    const scope = await this.tenancy.project(request.customerId, request.projectId)
    const identity = await this.store.db.transaction(async () => {
      const identity = await this.identities.createService(request.name, false)
      await this.store.insert({
        identity_id: identity.id,
        created_by: request.createdBy,
        created_at: identity.created_at,
      })
      await this.tenancy.setMember(scope, identity, request.role)
      await this.audit.record({
        action: 'service_account.create',
        target: identity.id,
        details: { name: request.name, project_id: request.projectId, role: request.role },
      })
      return identity
    })
    return this.tenancy.view(await this.identities.get(identity.id))
  }

  isServiceAccount(identityId: string): Promise<boolean> {
    return this.store.exists(identityId)
  }

  async list(
    pageSize: number,
    pageToken: string | undefined,
  ): Promise<{ serviceAccounts: Identity[]; nextPageToken: string }> {
    const after = pageToken
      ? this.pageTokens.decode<{ after: string }>('service-accounts', pageToken).after
      : ''
    const rows = await this.store.page(after, pageSize + 1)
    const more = rows.length > pageSize
    const page = more ? rows.slice(0, pageSize) : rows
    return {
      serviceAccounts: await Promise.all(page.map((row) => this.tenancy.view(row))),
      nextPageToken: more ? this.pageTokens.encode('service-accounts', { after: page.at(-1)!.id }) : '',
    }
  }

  /** Revokes its keys, then removes it; `not_found` for an id that is no service account. */
  async delete(identityId: string, adminId: string): Promise<{ keyIds: string[]; cursor: number }> {
    if (!isId('identity', identityId) || !(await this.store.exists(identityId))) {
      throw new ApiError('not_found', `service account ${identityId} not found`)
    }
    const { memberships } = await this.tenancy.view(await this.identities.get(identityId))
    const revoked = await this.apiKeys.revokeAllOf(identityId, `service account deleted by admin ${adminId}`)
    const deleted = await this.audit.change(
      {
        action: 'service_account.delete',
        target: identityId,
        details: { revoked_keys: revoked.keyIds.length },
      },
      () => this.store.delete(identityId),
    )
    if (deleted) this.tenancy.announceLeft(identityId, memberships)
    return revoked
  }
}
