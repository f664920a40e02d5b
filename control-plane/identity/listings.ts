/**
 * @module What an admin can list again: customers, a customer's projects, a project's members
 * with their roles, and every API key. Paged in id order (ids are ULIDs: creation order) with the
 * signed page tokens; a token names its listing (and the customer or project it pages through),
 * so one cannot be replayed on another.
 */
import type { z } from 'zod'
import type { AdminListKeysQuery, ListMembersResponse } from '../../shared/contract/admin.ts'
import type { ApiKey, Role } from '../../shared/contract/me.ts'
import { invalidArgument } from '../../shared/errors.ts'
import { formatMicros } from '../../shared/time.ts'
import { type PageTokens, pageOf } from '../crypto/page-token.ts'
import { view as keyView } from '../keys/api-keys.ts'
import type { CredentialStore } from '../store/credentials.ts'
import type { CustomerRow, ProjectRow, TenancyStore } from '../store/tenancy.ts'
import type { ProjectScope } from './tenancy.ts'

export interface PageRequest {
  pageSize?: number | undefined
  pageToken?: string | undefined
}

type Member = z.output<typeof ListMembersResponse>['members'][number]
type KeyQuery = Omit<z.output<typeof AdminListKeysQuery>, 'page_size' | 'page_token'>

const DEFAULT_PAGE_SIZE = 50

export class AdminListings {
  constructor(
    private readonly tenancy: TenancyStore,
    private readonly credentials: CredentialStore,
    private readonly pageTokens: PageTokens,
  ) {}

  async customers(
    page: PageRequest,
    name?: string,
  ): Promise<{ customers: CustomerRow[]; nextPageToken: string }> {
    const size = page.pageSize ?? DEFAULT_PAGE_SIZE
    const kind = 'admin-customers'
    const rows = await this.tenancy.customersPage(this.#after(kind, page.pageToken), size + 1, name)
    const { page: customers, nextPageToken } = pageOf(rows, size, (last) => this.#next(kind, last.id))
    return { customers, nextPageToken }
  }

  async projects(
    customer: CustomerRow,
    page: PageRequest,
    name?: string,
  ): Promise<{ projects: ProjectRow[]; nextPageToken: string }> {
    const size = page.pageSize ?? DEFAULT_PAGE_SIZE
    const kind = `admin-projects:${customer.id}`
    const rows = await this.tenancy.projectsPage(
      customer.id,
      this.#after(kind, page.pageToken),
      size + 1,
      name,
    )
    const { page: projects, nextPageToken } = pageOf(rows, size, (last) => this.#next(kind, last.id))
    return { projects, nextPageToken }
  }

  async members(
    scope: ProjectScope,
    page: PageRequest,
    role?: Role,
  ): Promise<{ members: Member[]; nextPageToken: string }> {
    const size = page.pageSize ?? DEFAULT_PAGE_SIZE
    const kind = `admin-members:${scope.project.id}`
    const rows = await this.tenancy.membersPage(
      scope.project.id,
      this.#after(kind, page.pageToken),
      size + 1,
      role,
    )
    const { page: members, nextPageToken } = pageOf(rows, size, (last) => this.#next(kind, last.identity_id))
    return {
      members: members.map((m) => ({
        customer_id: scope.customer.id,
        project_id: m.project_id,
        identity_id: m.identity_id,
        role: m.role,
        created_at: formatMicros(m.created_at),
        email: m.email,
        name: m.name,
        kind: m.kind,
      })),
      nextPageToken,
    }
  }

  async keys(filter: KeyQuery, page: PageRequest): Promise<{ keys: ApiKey[]; nextPageToken: string }> {
    const size = page.pageSize ?? DEFAULT_PAGE_SIZE
    const kind = 'admin-keys'
    const rows = await this.credentials.keysPage(
      {
        identityId: filter.identity_id,
        type: filter.type,
        state:
          filter.state === undefined ? undefined : filter.state === 'KEY_STATE_ACTIVE' ? 'active' : 'revoked',
        projectId: filter.project_id,
      },
      this.#after(kind, page.pageToken),
      size + 1,
    )
    const { page: keys, nextPageToken } = pageOf(rows, size, (last) => this.#next(kind, last.id))
    return { keys: keys.map(keyView), nextPageToken }
  }

  #after(kind: string, token: string | undefined): string {
    if (!token) return ''
    const { after } = this.pageTokens.decode<{ after: unknown }>(kind, token)
    if (typeof after !== 'string') throw invalidArgument('page_token', 'is not a page token of this listing')
    return after
  }

  #next(kind: string, lastId: string): string {
    return this.pageTokens.encode(kind, { after: lastId })
  }
}
