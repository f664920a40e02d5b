/**
 * @module Identities: found or provisioned from an OIDC login by (issuer, subject), or created as
 * service identities for admin and dataplane keys. A first login can provision a personal
 * customer and project owned by the new identity.
 */
import { ApiError } from '../../shared/errors.ts'
import { isId, newId } from '../../shared/ids.ts'
import { nowMicros } from '../../shared/time.ts'
import { isUniqueViolation } from '../store/sql.ts'
import type { IdentityRow, TenancyStore } from '../store/tenancy.ts'

export interface OidcProfile {
  issuer: string
  subject: string
  email: string
  /** Only a verified email makes an identity an admin through `adminEmails`. */
  emailVerified: boolean
  name: string
}

export interface IdentityOptions {
  autoProvision: boolean
  /** Emails (lowercase) whose identities are admins. */
  adminEmails: readonly string[]
}

export class Identities {
  constructor(
    private readonly store: TenancyStore,
    private readonly options: IdentityOptions,
  ) {}

  async get(id: string): Promise<IdentityRow> {
    const row = isId('identity', id) ? await this.store.identity(id) : undefined
    if (!row) throw new ApiError('not_found', `identity ${id} not found`)
    return row
  }

  /** The identity, or `undefined`: for the auth check, where a missing identity is `unauthenticated`. */
  find(id: string): Promise<IdentityRow | undefined> {
    return this.store.identity(id)
  }

  list(email?: string): Promise<IdentityRow[]> {
    return this.store.identities(email)
  }

  /** Finds the identity of an OIDC subject, or provisions it (with a personal project when enabled). */
  async fromOidc(profile: OidcProfile): Promise<{ identity: IdentityRow; created: boolean }> {
    try {
      return await this.#fromOidc(profile)
    } catch (err) {
      // Another replica created this subject's identity meanwhile: the second look finds it.
      if (isUniqueViolation(err)) return this.#fromOidc(profile)
      throw err
    }
  }

  #fromOidc(profile: OidcProfile): Promise<{ identity: IdentityRow; created: boolean }> {
    return this.store.transaction(async () => {
      const isAdmin =
        profile.email !== '' &&
        profile.emailVerified &&
        this.options.adminEmails.includes(profile.email.toLowerCase())
      const existing = await this.store.identityBySubject(profile.issuer, profile.subject)
      if (existing) {
        if (isAdmin && existing.is_admin !== 1) await this.store.setAdmin(existing.id, true)
        return { identity: (await this.store.identity(existing.id))!, created: false }
      }
      const now = nowMicros()
      const identity: IdentityRow = {
        id: newId('identity'),
        kind: 'user',
        issuer: profile.issuer,
        subject: profile.subject,
        email: profile.email,
        name: profile.name,
        is_admin: isAdmin ? 1 : 0,
        default_customer_id: null,
        default_project_id: null,
        created_at: now,
      }
      await this.store.insertIdentity(identity)
      if (this.options.autoProvision) {
        const label = profile.email || profile.name || profile.subject
        const customer = { id: newId('customer'), name: `${label} (personal)`, created_at: now }
        const project = { id: newId('project'), customer_id: customer.id, name: 'default', created_at: now }
        await this.store.insertCustomer(customer)
        await this.store.insertProject(project)
        await this.store.upsertMember({
          project_id: project.id,
          identity_id: identity.id,
          role: 'owner',
          created_at: now,
        })
        await this.store.setDefaults(identity.id, customer.id, project.id)
      }
      return { identity: (await this.store.identity(identity.id))!, created: true }
    })
  }

  async createService(name: string, isAdmin: boolean): Promise<IdentityRow> {
    const identity: IdentityRow = {
      id: newId('identity'),
      kind: 'service',
      issuer: '',
      subject: '',
      email: '',
      name,
      is_admin: isAdmin ? 1 : 0,
      default_customer_id: null,
      default_project_id: null,
      created_at: nowMicros(),
    }
    await this.store.insertIdentity(identity)
    return identity
  }
}
