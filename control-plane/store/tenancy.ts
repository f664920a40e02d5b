/**
 * @module Rows of tenancy: customers, projects, identities and memberships.
 */
import type { Role } from '../../shared/contract/me.ts'
import type { Db } from './db.ts'

export interface CustomerRow {
  id: string
  name: string
  created_at: number
}

export interface ProjectRow {
  id: string
  customer_id: string
  name: string
  created_at: number
}

export interface IdentityRow {
  id: string
  kind: 'user' | 'service'
  issuer: string
  subject: string
  email: string
  name: string
  is_admin: number
  default_customer_id: string | null
  default_project_id: string | null
  created_at: number
}

export interface MembershipRow {
  project_id: string
  identity_id: string
  role: Role
  created_at: number
}

export interface MembershipView extends MembershipRow {
  customer_id: string
  customer_name: string
  project_name: string
}

export class TenancyStore {
  readonly #insertCustomer
  readonly #customer
  readonly #insertProject
  readonly #project
  readonly #insertIdentity
  readonly #identity
  readonly #identityBySubject
  readonly #identitiesByEmail
  readonly #allIdentities
  readonly #setDefaults
  readonly #setAdmin
  readonly #upsertMember
  readonly #deleteMember
  readonly #member
  readonly #membershipsOf

  constructor(readonly db: Db) {
    this.#insertCustomer = db.prepare(
      'INSERT INTO customers (id, name, created_at) VALUES (@id, @name, @created_at)',
    )
    this.#customer = db.prepare('SELECT * FROM customers WHERE id = ?')
    this.#insertProject = db.prepare(
      'INSERT INTO projects (id, customer_id, name, created_at) VALUES (@id, @customer_id, @name, @created_at)',
    )
    this.#project = db.prepare('SELECT * FROM projects WHERE id = ?')
    this.#insertIdentity = db.prepare(
      `INSERT INTO identities (id, kind, issuer, subject, email, name, is_admin, default_customer_id,
         default_project_id, created_at)
       VALUES (@id, @kind, @issuer, @subject, @email, @name, @is_admin, @default_customer_id,
         @default_project_id, @created_at)`,
    )
    this.#identity = db.prepare('SELECT * FROM identities WHERE id = ?')
    this.#identityBySubject = db.prepare(
      "SELECT * FROM identities WHERE kind = 'user' AND issuer = ? AND subject = ?",
    )
    this.#identitiesByEmail = db.prepare(
      'SELECT * FROM identities WHERE email = ? COLLATE NOCASE ORDER BY id',
    )
    this.#allIdentities = db.prepare('SELECT * FROM identities ORDER BY id LIMIT 1000')
    this.#setDefaults = db.prepare(
      'UPDATE identities SET default_customer_id = ?, default_project_id = ? WHERE id = ?',
    )
    this.#setAdmin = db.prepare('UPDATE identities SET is_admin = ? WHERE id = ?')
    this.#upsertMember = db.prepare(
      `INSERT INTO memberships (project_id, identity_id, role, created_at) VALUES (@project_id, @identity_id, @role, @created_at)
       ON CONFLICT (project_id, identity_id) DO UPDATE SET role = excluded.role`,
    )
    this.#deleteMember = db.prepare('DELETE FROM memberships WHERE project_id = ? AND identity_id = ?')
    this.#member = db.prepare('SELECT * FROM memberships WHERE project_id = ? AND identity_id = ?')
    this.#membershipsOf = db.prepare(
      `SELECT m.*, p.customer_id, p.name AS project_name, c.name AS customer_name
       FROM memberships m JOIN projects p ON p.id = m.project_id JOIN customers c ON c.id = p.customer_id
       WHERE m.identity_id = ? ORDER BY m.created_at, m.project_id`,
    )
  }

  insertCustomer(row: CustomerRow): void {
    this.#insertCustomer.run(row)
  }

  customer(id: string): CustomerRow | undefined {
    return this.#customer.get(id) as CustomerRow | undefined
  }

  insertProject(row: ProjectRow): void {
    this.#insertProject.run(row)
  }

  project(id: string): ProjectRow | undefined {
    return this.#project.get(id) as ProjectRow | undefined
  }

  insertIdentity(row: IdentityRow): void {
    this.#insertIdentity.run(row)
  }

  identity(id: string): IdentityRow | undefined {
    return this.#identity.get(id) as IdentityRow | undefined
  }

  identityBySubject(issuer: string, subject: string): IdentityRow | undefined {
    return this.#identityBySubject.get(issuer, subject) as IdentityRow | undefined
  }

  identities(email?: string): IdentityRow[] {
    return (email ? this.#identitiesByEmail.all(email) : this.#allIdentities.all()) as IdentityRow[]
  }

  setDefaults(identityId: string, customerId: string | null, projectId: string | null): void {
    this.#setDefaults.run(customerId, projectId, identityId)
  }

  setAdmin(identityId: string, isAdmin: boolean): void {
    this.#setAdmin.run(isAdmin ? 1 : 0, identityId)
  }

  upsertMember(row: MembershipRow): void {
    this.#upsertMember.run(row)
  }

  deleteMember(projectId: string, identityId: string): boolean {
    return this.#deleteMember.run(projectId, identityId).changes > 0
  }

  member(projectId: string, identityId: string): MembershipRow | undefined {
    return this.#member.get(projectId, identityId) as MembershipRow | undefined
  }

  membershipsOf(identityId: string): MembershipView[] {
    return this.#membershipsOf.all(identityId) as MembershipView[]
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }
}
