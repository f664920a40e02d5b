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

/** A member with who it is: the admin listing of a project. */
export interface MemberIdentityRow extends MembershipRow {
  email: string
  name: string
  kind: IdentityRow['kind']
}

export class TenancyStore {
  constructor(readonly db: Db) {}

  async insertCustomer(row: CustomerRow): Promise<void> {
    await this.db.run('INSERT INTO customers (id, name, created_at) VALUES (@id, @name, @created_at)', row)
  }

  customer(id: string): Promise<CustomerRow | undefined> {
    return this.db.get<CustomerRow>('SELECT * FROM customers WHERE id = ?', [id])
  }

  async insertProject(row: ProjectRow): Promise<void> {
    await this.db.run(
      'INSERT INTO projects (id, customer_id, name, created_at) VALUES (@id, @customer_id, @name, @created_at)',
      row,
    )
  }

  project(id: string): Promise<ProjectRow | undefined> {
    return this.db.get<ProjectRow>('SELECT * FROM projects WHERE id = ?', [id])
  }

  async insertIdentity(row: IdentityRow): Promise<void> {
    await this.db.run(
      `INSERT INTO identities (id, kind, issuer, subject, email, name, is_admin, default_customer_id,
         default_project_id, created_at)
       VALUES (@id, @kind, @issuer, @subject, @email, @name, @is_admin, @default_customer_id,
         @default_project_id, @created_at)`,
      row,
    )
  }

  identity(id: string): Promise<IdentityRow | undefined> {
    return this.db.get<IdentityRow>('SELECT * FROM identities WHERE id = ?', [id])
  }

  identityBySubject(issuer: string, subject: string): Promise<IdentityRow | undefined> {
    return this.db.get<IdentityRow>(
      "SELECT * FROM identities WHERE kind = 'user' AND issuer = ? AND subject = ?",
      [issuer, subject],
    )
  }

  identities(email?: string): Promise<IdentityRow[]> {
    return email
      ? this.db.all<IdentityRow>('SELECT * FROM identities WHERE lower(email) = lower(?) ORDER BY id', [
          email,
        ])
      : this.db.all<IdentityRow>('SELECT * FROM identities ORDER BY id LIMIT 1000')
  }

  async setDefaults(identityId: string, customerId: string | null, projectId: string | null): Promise<void> {
    await this.db.run('UPDATE identities SET default_customer_id = ?, default_project_id = ? WHERE id = ?', [
      customerId,
      projectId,
      identityId,
    ])
  }

  async setAdmin(identityId: string, isAdmin: boolean): Promise<void> {
    await this.db.run('UPDATE identities SET is_admin = ? WHERE id = ?', [isAdmin ? 1 : 0, identityId])
  }

  async upsertMember(row: MembershipRow): Promise<void> {
    await this.db.run(
      `INSERT INTO memberships (project_id, identity_id, role, created_at) VALUES (@project_id, @identity_id, @role, @created_at)
       ON CONFLICT (project_id, identity_id) DO UPDATE SET role = excluded.role`,
      row,
    )
  }

  async deleteMember(projectId: string, identityId: string): Promise<boolean> {
    const { changes } = await this.db.run(
      'DELETE FROM memberships WHERE project_id = ? AND identity_id = ?',
      [projectId, identityId],
    )
    return changes > 0
  }

  member(projectId: string, identityId: string): Promise<MembershipRow | undefined> {
    return this.db.get<MembershipRow>('SELECT * FROM memberships WHERE project_id = ? AND identity_id = ?', [
      projectId,
      identityId,
    ])
  }

  membershipsOf(identityId: string): Promise<MembershipView[]> {
    return this.db.all<MembershipView>(
      `SELECT m.*, p.customer_id, p.name AS project_name, c.name AS customer_name
       FROM memberships m JOIN projects p ON p.id = m.project_id JOIN customers c ON c.id = p.customer_id
       WHERE m.identity_id = ? ORDER BY m.created_at, m.project_id`,
      [identityId],
    )
  }

  /** A page of customers in id order after `afterId`, optionally only those named `name`. */
  customersPage(afterId: string, limit: number, name?: string): Promise<CustomerRow[]> {
    return name === undefined
      ? this.db.all<CustomerRow>('SELECT * FROM customers WHERE id > ? ORDER BY id LIMIT ?', [afterId, limit])
      : this.db.all<CustomerRow>('SELECT * FROM customers WHERE id > ? AND name = ? ORDER BY id LIMIT ?', [
          afterId,
          name,
          limit,
        ])
  }

  /** A page of a customer's projects in id order after `afterId`. */
  projectsPage(customerId: string, afterId: string, limit: number, name?: string): Promise<ProjectRow[]> {
    return name === undefined
      ? this.db.all<ProjectRow>(
          'SELECT * FROM projects WHERE customer_id = ? AND id > ? ORDER BY id LIMIT ?',
          [customerId, afterId, limit],
        )
      : this.db.all<ProjectRow>(
          'SELECT * FROM projects WHERE customer_id = ? AND id > ? AND name = ? ORDER BY id LIMIT ?',
          [customerId, afterId, name, limit],
        )
  }

  /** A page of a project's members in identity-id order after `afterIdentityId`. */
  membersPage(
    projectId: string,
    afterIdentityId: string,
    limit: number,
    role?: Role,
  ): Promise<MemberIdentityRow[]> {
    const select = `SELECT m.*, i.email, i.name, i.kind FROM memberships m JOIN identities i ON i.id = m.identity_id
       WHERE m.project_id = ? AND m.identity_id > ?`
    return role === undefined
      ? this.db.all<MemberIdentityRow>(`${select} ORDER BY m.identity_id LIMIT ?`, [
          projectId,
          afterIdentityId,
          limit,
        ])
      : this.db.all<MemberIdentityRow>(`${select} AND m.role = ? ORDER BY m.identity_id LIMIT ?`, [
          projectId,
          afterIdentityId,
          role,
          limit,
        ])
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(fn)
  }
}
