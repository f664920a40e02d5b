/**
 * @module Customers, projects and who belongs to them. Also resolves the `-` path segment (the
 * caller's default customer or project) and answers "what is this identity's role here".
 *
 * Announces each change that can take access away (a member removed, a role changed) as
 * `membershipChanged`, after it is committed: dataplanes cache provider keys per member, and
 * `app.ts` forwards the event to them on the revocation stream.
 */
import { EventEmitter } from 'node:events'
import type { Identity, Role } from '../../shared/contract/me.ts'
import { ApiError, invalidArgument } from '../../shared/errors.ts'
import { isId, newId } from '../../shared/ids.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'
import type { AuditTrail } from '../audit/trail.ts'
import { isUniqueViolation } from '../store/sql.ts'
import type { CustomerRow, IdentityRow, MembershipRow, ProjectRow, TenancyStore } from '../store/tenancy.ts'

export interface ProjectScope {
  customer: CustomerRow
  project: ProjectRow
}

/** The project a project-bound key is confined to. */
export interface BoundProject {
  customerId: string
  projectId: string
}

/** A path segment that asks for the caller's default: absent, empty or `-`. */
const wantsDefault = (segment: string | undefined): boolean =>
  segment === undefined || segment === '' || segment === '-'

/** A membership that changed; without `user_id`, every member of the project. */
export interface MembershipChange {
  customer_id: string
  project_id: string
  user_id?: string
}

export class Tenancy extends EventEmitter<{ membershipChanged: [MembershipChange] }> {
  constructor(
    private readonly store: TenancyStore,
    private readonly audit: AuditTrail,
  ) {
    super()
  }

  async createCustomer(name: string): Promise<CustomerRow> {
    const row = { id: newId('customer'), name, created_at: nowMicros() }
    await this.audit.change({ action: 'customer.create', target: row.id, details: { name } }, () =>
      this.store.insertCustomer(row),
    )
    return row
  }

  async createProject(customerId: string, name: string): Promise<ProjectRow> {
    const customer = await this.customer(customerId)
    const row = { id: newId('project'), customer_id: customer.id, name, created_at: nowMicros() }
    try {
      await this.audit.change(
        { action: 'project.create', target: row.id, details: { customer_id: customer.id, name } },
        () => this.store.insertProject(row),
      )
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ApiError('already_exists', `customer ${customer.id} already has a project named "${name}"`)
      }
      throw err
    }
    return row
  }

  async customer(id: string): Promise<CustomerRow> {
    const row = isId('customer', id) ? await this.store.customer(id) : undefined
    if (!row) throw new ApiError('not_found', `customer ${id} not found`)
    return row
  }

  /** The project `projectId` under `customerId`; `not_found` when either is unknown or they do not match. */
  async project(customerId: string, projectId: string): Promise<ProjectScope> {
    const customer = await this.customer(customerId)
    const project = isId('project', projectId) ? await this.store.project(projectId) : undefined
    if (!project || project.customer_id !== customer.id) {
      throw new ApiError('not_found', `project ${projectId} not found under customer ${customer.id}`)
    }
    return { customer, project }
  }

  /**
   * The project `projectId` names, for binding or selecting it; `customerId`, when given, must be
   * its customer. `not_found` when there is no such project (callers that may not learn that
   * answer as for a project they are not a member of).
   */
  async projectById(projectId: string, customerId?: string): Promise<ProjectScope> {
    const project = isId('project', projectId) ? await this.store.project(projectId) : undefined
    if (!project) throw new ApiError('not_found', `project ${projectId} not found`)
    if (customerId !== undefined && customerId !== project.customer_id) {
      throw invalidArgument('customer_id', `is not the customer of project ${projectId}`)
    }
    return { customer: await this.customer(project.customer_id), project }
  }

  /**
   * The project an identity binds a key to or picks for a request: one it is a member of.
   * `permission_denied` alike for a project it is not a member of and one that does not exist,
   * so the answer never tells a non-member whether a project id exists.
   */
  async memberProject(identity: IdentityRow, projectId: string, customerId?: string): Promise<ProjectScope> {
    const project = isId('project', projectId) ? await this.store.project(projectId) : undefined
    if (!project || (await this.store.member(project.id, identity.id)) === undefined) {
      throw new ApiError(
        'permission_denied',
        `identity ${identity.id} is not a member of project ${projectId}`,
      )
    }
    return this.projectById(projectId, customerId)
  }

  /** Announces memberships that went away without `removeMember` (an identity deleted whole). */
  announceLeft(identityId: string, left: readonly { customer_id: string; project_id: string }[]): void {
    for (const m of left) {
      this.emit('membershipChanged', {
        customer_id: m.customer_id,
        project_id: m.project_id,
        user_id: identityId,
      })
    }
  }

  /** The customer id a path segment names, `-` meaning the identity's default customer. */
  customerIdFor(identity: IdentityRow, segment: string | undefined): string {
    const customerId = wantsDefault(segment) ? identity.default_customer_id : segment
    if (!customerId) {
      throw new ApiError('failed_precondition', 'the caller has no default customer: name customer_id')
    }
    return customerId
  }

  /**
   * Resolves `-` segments to the identity's default customer and project. A project-bound key
   * (`bound`) is confined to its project: `-` means that project, any other is `permission_denied`.
   */
  async scopeFor(
    identity: IdentityRow,
    customerSegment: string | undefined,
    projectSegment: string | undefined,
    bound?: BoundProject,
  ): Promise<ProjectScope> {
    if (bound) return this.#boundScope(bound, customerSegment, projectSegment)
    const customerId = wantsDefault(customerSegment) ? identity.default_customer_id : customerSegment
    const projectId = wantsDefault(projectSegment) ? identity.default_project_id : projectSegment
    if (!customerId || !projectId) {
      throw new ApiError(
        'failed_precondition',
        'the caller has no default project: name customer_id and project_id',
      )
    }
    return this.project(customerId, projectId)
  }

  async #boundScope(
    bound: BoundProject,
    customerSegment: string | undefined,
    projectSegment: string | undefined,
  ): Promise<ProjectScope> {
    const customerId = wantsDefault(customerSegment) ? bound.customerId : customerSegment
    const projectId = wantsDefault(projectSegment) ? bound.projectId : projectSegment
    if (customerId !== bound.customerId || projectId !== bound.projectId) {
      const field = projectId !== bound.projectId ? 'project_id' : 'customer_id'
      throw new ApiError(
        'permission_denied',
        `this key is bound to project ${bound.projectId} (customer ${bound.customerId}): use "-" or that ` +
          'project, or a key of the other project',
        [
          {
            field,
            description: `the key is bound to ${field === 'project_id' ? bound.projectId : bound.customerId}`,
          },
        ],
      )
    }
    return this.project(bound.customerId, bound.projectId)
  }

  async role(projectId: string, identityId: string): Promise<Role | undefined> {
    return (await this.store.member(projectId, identityId))?.role
  }

  /**
   * Adds or updates a membership; the identity's first project becomes its default. A changed
   * role is announced (no role gates provider-key resolution today, but whatever was cached
   * under the old role is not kept past it).
   */
  async setMember(scope: ProjectScope, identity: IdentityRow, role: Role): Promise<MembershipRow> {
    const row: MembershipRow = {
      project_id: scope.project.id,
      identity_id: identity.id,
      role,
      created_at: nowMicros(),
    }
    const previous = await this.store.transaction(async () => {
      const previous = (await this.store.member(scope.project.id, identity.id))?.role
      await this.store.upsertMember(row)
      if (!identity.default_project_id)
        await this.store.setDefaults(identity.id, scope.customer.id, scope.project.id)
      await this.audit.record({
        action: 'membership.set',
        target: identity.id,
        details: {
          customer_id: scope.customer.id,
          project_id: scope.project.id,
          role,
          ...(previous === undefined ? {} : { previous_role: previous }),
        },
      })
      return previous
    })
    if (previous !== undefined && previous !== role) this.#changed(scope, identity)
    return (await this.store.member(scope.project.id, identity.id))!
  }

  async removeMember(scope: ProjectScope, identity: IdentityRow): Promise<boolean> {
    const removed = await this.store.transaction(async () => {
      const removed = await this.store.deleteMember(scope.project.id, identity.id)
      if (removed && identity.default_project_id === scope.project.id) {
        const next = (await this.store.membershipsOf(identity.id))[0]
        await this.store.setDefaults(identity.id, next?.customer_id ?? null, next?.project_id ?? null)
      }
      if (removed)
        await this.audit.record({
          action: 'membership.remove',
          target: identity.id,
          details: { customer_id: scope.customer.id, project_id: scope.project.id },
        })
      return removed
    })
    if (removed) this.#changed(scope, identity)
    return removed
  }

  #changed(scope: ProjectScope, identity: IdentityRow): void {
    this.emit('membershipChanged', {
      customer_id: scope.customer.id,
      project_id: scope.project.id,
      user_id: identity.id,
    })
  }

  /** The contract's view of an identity, memberships included. */
  async view(identity: IdentityRow): Promise<Identity> {
    const memberships = await this.store.membershipsOf(identity.id)
    return {
      id: identity.id,
      email: identity.email,
      name: identity.name,
      issuer: identity.issuer,
      subject: identity.subject,
      is_admin: identity.is_admin === 1,
      kind: identity.kind,
      default_customer_id: identity.default_customer_id ?? '',
      default_project_id: identity.default_project_id ?? '',
      memberships: memberships.map((m) => ({
        customer_id: m.customer_id,
        customer_name: m.customer_name,
        project_id: m.project_id,
        project_name: m.project_name,
        role: m.role,
      })),
      created_at: formatMicros(identity.created_at),
    }
  }
}
