/**
 * @module `tare api admin …`: the Admin persona's calls that complete the API: tenancy
 * (customers, projects, members), identities, admin and dataplane keys, connected dataplanes,
 * and signing-key and KEK rotation.
 */
import type { Role } from '../../shared/client/index.ts'
import { command, type GroupSpec, group } from '../command.ts'
import {
  clientFor,
  int,
  oneOf,
  requiredPositional,
  requiredStr,
  str,
  WAIT_OPTIONS,
  waitOption,
} from '../options.ts'
import { PAGE_OPTIONS, pageRequest } from '../paging.ts'
import { enforcementExit, printApiKey, printEnforcement, printIdentity, printIssuedKey } from '../render.ts'
import { listAllKeys, listAudit, listCustomers, listMembers, listProjects } from './admin-lists.ts'

const ROLES: readonly Role[] = ['owner', 'member']

const customers = group({
  name: 'customers',
  summary: 'Customers (tenants)',
  children: [
    listCustomers,
    command({
      name: 'create',
      summary: 'Create a customer',
      options: { name: { type: 'string', valueName: 'NAME', description: 'Display name', required: true } },
      examples: ['tare api admin customers create --name "Acme Corp"'],
      async run(ctx) {
        const response = await ctx.client().admin.createCustomer(requiredStr(ctx, 'name'))
        ctx.out.result(response, () =>
          ctx.out.record([
            ['id', response.customer.id],
            ['name', response.customer.name],
            ['created', response.customer.created_at],
          ]),
        )
      },
    }),
  ],
})

const projects = group({
  name: 'projects',
  summary: 'Projects of a customer',
  children: [
    listProjects,
    command({
      name: 'create',
      summary: 'Create a project under a customer',
      args: [{ name: 'CUSTOMER', description: 'cust_<ulid> (or --customer)', optional: true }],
      options: {
        customer: { type: 'string', valueName: 'ID', description: 'cust_<ulid>' },
        name: { type: 'string', valueName: 'NAME', description: 'Display name', required: true },
      },
      examples: ['tare api admin projects create cust_01JD… --name production'],
      async run(ctx) {
        const customer = requiredPositional(ctx, 0, 'CUSTOMER', 'customer')
        const response = await ctx.client().admin.createProject(customer, requiredStr(ctx, 'name'))
        ctx.out.result(response, () =>
          ctx.out.record([
            ['id', response.project.id],
            ['customer', response.project.customer_id],
            ['name', response.project.name],
            ['created', response.project.created_at],
          ]),
        )
      },
    }),
  ],
})

const MEMBER_ARGS = [
  { name: 'CUSTOMER', description: 'cust_<ulid> (or --customer)', optional: true },
  { name: 'PROJECT', description: 'proj_<ulid> (or --project)', optional: true },
  { name: 'IDENTITY', description: 'usr_<ulid> (or --identity)', optional: true },
]
const MEMBER_OPTIONS = {
  customer: { type: 'string', valueName: 'ID', description: 'cust_<ulid>' },
  project: { type: 'string', valueName: 'ID', description: 'proj_<ulid>' },
  identity: { type: 'string', valueName: 'ID', description: 'usr_<ulid>' },
} as const

const members = group({
  name: 'members',
  summary: 'Who belongs to a project, and as what',
  children: [
    listMembers,
    command({
      name: 'set',
      summary: 'Add an identity to a project, or change its role',
      args: MEMBER_ARGS,
      options: {
        ...MEMBER_OPTIONS,
        role: { type: 'string', valueName: 'ROLE', description: 'owner or member', required: true },
      },
      examples: ['tare api admin members set cust_01JD… proj_01JD… usr_01JD… --role owner'],
      async run(ctx) {
        const customer = requiredPositional(ctx, 0, 'CUSTOMER', 'customer')
        const project = requiredPositional(ctx, 1, 'PROJECT', 'project')
        const identity = requiredPositional(ctx, 2, 'IDENTITY', 'identity')
        requiredStr(ctx, 'role')
        const role = oneOf(ctx, 'role', ROLES)!
        const response = await ctx.client().admin.setMember(customer, project, identity, role)
        ctx.out.result(response, () =>
          ctx.out.record([
            ['customer', response.member.customer_id],
            ['project', response.member.project_id],
            ['identity', response.member.identity_id],
            ['role', response.member.role],
            ['since', response.member.created_at],
          ]),
        )
      },
    }),
    command({
      name: 'remove',
      summary: 'Remove an identity from a project',
      args: MEMBER_ARGS,
      options: MEMBER_OPTIONS,
      async run(ctx) {
        const customer = requiredPositional(ctx, 0, 'CUSTOMER', 'customer')
        const project = requiredPositional(ctx, 1, 'PROJECT', 'project')
        const identity = requiredPositional(ctx, 2, 'IDENTITY', 'identity')
        const response = await ctx.client().admin.removeMember(customer, project, identity)
        ctx.out.result(response, () =>
          ctx.out.line(
            response.success ? `Removed ${identity} from ${project}.` : `${identity} was not a member.`,
          ),
        )
      },
    }),
  ],
})

const identities = group({
  name: 'identities',
  summary: 'Users and service identities',
  children: [
    command({
      name: 'list',
      summary: 'Identities, optionally only the one with an email',
      options: { email: { type: 'string', valueName: 'EMAIL', description: 'Only this email' } },
      async run(ctx) {
        const email = str(ctx, 'email')
        const response = await ctx.client().admin.listIdentities(email ? { email } : undefined)
        ctx.out.result(response, () => {
          if (email && response.identities.length === 1)
            return printIdentity(ctx.out, response.identities[0]!)
          ctx.out.table(
            response.identities,
            [
              { header: 'id', value: (i) => i.id },
              { header: 'email', value: (i) => i.email },
              { header: 'name', value: (i) => i.name },
              { header: 'kind', value: (i) => i.kind },
              { header: 'admin', value: (i) => i.is_admin },
              { header: 'created', value: (i) => i.created_at },
            ],
            'No identities.',
          )
        })
      },
    }),
  ],
})

const adminKeys = group({
  name: 'keys',
  summary: 'List every key; issue admin, dataplane and prompt keys; revoke any key',
  children: [
    listAllKeys,
    command({
      name: 'create',
      summary: 'Issue an admin, dataplane or prompt key; its secret is printed once',
      description:
        'KEY_TYPE_PROMPT needs --identity (a user or a service account) and may be bound to one of its projects with --project.',
      options: {
        name: { type: 'string', valueName: 'NAME', description: 'Label', required: true },
        type: {
          type: 'string',
          valueName: 'TYPE',
          description: 'KEY_TYPE_ADMIN, KEY_TYPE_DATAPLANE or KEY_TYPE_PROMPT (or admin, dataplane, prompt)',
          required: true,
        },
        identity: {
          type: 'string',
          valueName: 'ID',
          description:
            'usr_<ulid> the key acts as (default: a new service identity; required for prompt keys)',
        },
        'identity-id': { type: 'string', valueName: 'ID', description: 'The same as --identity' },
        project: {
          type: 'string',
          valueName: 'ID',
          description: 'proj_<ulid>: bind a prompt key to this project (the identity must be a member)',
        },
        customer: {
          type: 'string',
          valueName: 'ID',
          description: "cust_<ulid>: the project's customer (optional, checked when given)",
        },
      },
      examples: [
        'tare api admin keys create --name dp-eu-1 --type KEY_TYPE_DATAPLANE',
        'tare api admin keys create --name ci --type KEY_TYPE_PROMPT --identity usr_01JD… --project proj_01JD…',
      ],
      async run(ctx) {
        const name = requiredStr(ctx, 'name')
        requiredStr(ctx, 'type')
        const type = oneOf(
          ctx,
          'type',
          ['KEY_TYPE_ADMIN', 'KEY_TYPE_DATAPLANE', 'KEY_TYPE_PROMPT'] as const,
          {
            admin: 'KEY_TYPE_ADMIN',
            dataplane: 'KEY_TYPE_DATAPLANE',
            prompt: 'KEY_TYPE_PROMPT',
          },
        )!
        const identityId = str(ctx, 'identity') ?? str(ctx, 'identity-id')
        const projectId = str(ctx, 'project')
        const customerId = str(ctx, 'customer')
        const response = await ctx.client().admin.issueKey({
          name,
          type,
          ...(identityId ? { identityId } : {}),
          ...(projectId ? { projectId } : {}),
          ...(customerId ? { customerId } : {}),
        })
        ctx.out.result(response, () => printIssuedKey(ctx.out, response.key, response.secret))
      },
    }),
    command({
      name: 'revoke',
      summary: "Revoke any API key (an admin or dataplane key, or a user's), permanently",
      args: [{ name: 'KEY_ID', description: 'key_<ulid> of the key to revoke' }],
      options: WAIT_OPTIONS,
      examples: ['tare api admin keys revoke key_01JD… --wait --wait-timeout 10s'],
      async run(ctx) {
        const keyId = requiredPositional(ctx, 0, 'KEY_ID')
        const wait = waitOption(ctx)
        const response = await clientFor(ctx, wait).admin.revokeKey(keyId, wait)
        ctx.out.result(response, () => {
          printApiKey(ctx.out, response.key)
          printEnforcement(ctx.out, response.enforcement)
        })
        return enforcementExit(ctx.out, response.enforcement)
      },
    }),
  ],
})

const serviceAccounts = group({
  name: 'service-accounts',
  summary: 'Non-human identities for CI jobs and applications: inference only',
  children: [
    command({
      name: 'create',
      summary: 'Create a service account, a member of one project',
      description:
        'It cannot log in or manage anything: issue it a prompt key with `tare api admin keys create --type KEY_TYPE_PROMPT --identity ID`.',
      options: {
        name: { type: 'string', valueName: 'NAME', description: 'Display name', required: true },
        customer: { type: 'string', valueName: 'ID', description: 'cust_<ulid>', required: true },
        project: { type: 'string', valueName: 'ID', description: 'proj_<ulid>', required: true },
        role: { type: 'string', valueName: 'ROLE', description: 'owner or member (default member)' },
      },
      examples: [
        'tare api admin service-accounts create --name ci --customer cust_01JD… --project proj_01JD…',
      ],
      async run(ctx) {
        const name = requiredStr(ctx, 'name')
        const customerId = requiredStr(ctx, 'customer')
        const projectId = requiredStr(ctx, 'project')
        const role = oneOf(ctx, 'role', ROLES) ?? 'member'
        const response = await ctx.client().admin.createServiceAccount({ name, customerId, projectId, role })
        ctx.out.result(response, () => printIdentity(ctx.out, response.service_account))
      },
    }),
    command({
      name: 'list',
      summary: 'Service accounts, with their projects',
      options: PAGE_OPTIONS,
      async run(ctx) {
        const response = await ctx.client().admin.listServiceAccounts(pageRequest(ctx))
        ctx.out.result(response, () => {
          ctx.out.table(
            response.service_accounts,
            [
              { header: 'id', value: (i) => i.id },
              { header: 'name', value: (i) => i.name },
              {
                header: 'projects',
                value: (i) => i.memberships.map((m) => `${m.project_id} (${m.role})`).join(', '),
              },
              { header: 'created', value: (i) => i.created_at },
            ],
            'No service accounts.',
          )
          if (response.page.next_page_token) {
            ctx.out.note(
              `More: tare api admin service-accounts list --page-token ${response.page.next_page_token}`,
            )
          }
        })
      },
    }),
    command({
      name: 'delete',
      summary: 'Revoke every key of a service account, then remove it',
      args: [{ name: 'ID', description: 'usr_<ulid> of the service account' }],
      options: WAIT_OPTIONS,
      examples: ['tare api admin service-accounts delete usr_01JD… --wait'],
      async run(ctx) {
        const id = requiredPositional(ctx, 0, 'ID')
        const wait = waitOption(ctx)
        const response = await clientFor(ctx, wait).admin.deleteServiceAccount(id, wait)
        ctx.out.result(response, () => {
          ctx.out.line(`Removed ${id}; revoked ${response.revoked_key_ids.length} key(s).`)
          for (const keyId of response.revoked_key_ids) ctx.out.line(`  ${keyId}`)
          printEnforcement(ctx.out, response.enforcement)
        })
        return enforcementExit(ctx.out, response.enforcement)
      },
    }),
  ],
})

const dataplanes = group({
  name: 'dataplanes',
  summary: 'Connected dataplanes',
  children: [
    command({
      name: 'list',
      summary: 'Connected dataplanes with their applied revocation cursor, lag and last contact',
      async run(ctx) {
        const response = await ctx.client().admin.listDataplanes()
        ctx.out.result(response, () => {
          ctx.out.table(
            response.dataplanes,
            [
              { header: 'id', value: (d) => d.id },
              { header: 'name', value: (d) => d.name },
              { header: 'address', value: (d) => d.remote_address },
              { header: 'applied cursor', value: (d) => d.applied_cursor },
              { header: 'lag', value: (d) => `${d.lag_entries} (${d.lag_ms} ms)` },
              { header: 'last contact', value: (d) => d.last_contact_at },
            ],
            'No dataplanes connected.',
          )
          ctx.out.line()
          ctx.out.line(`head cursor: ${response.head_cursor || '-'}`)
        })
      },
    }),
  ],
})

const signingKeys = group({
  name: 'signing-keys',
  summary: 'Token signing keys',
  children: [
    command({
      name: 'rotate',
      summary: 'Publish a new signing key, then sign with it after the publish delay',
      options: {
        'activate-after-ms': {
          type: 'string',
          valueName: 'MS',
          description: 'Sign with it after this delay (default: the configured publish delay)',
        },
      },
      async run(ctx) {
        const activateAfterMs = int(ctx, 'activate-after-ms', 0)
        const response = await ctx
          .client()
          .admin.rotateSigningKey(activateAfterMs !== undefined ? { activateAfterMs } : undefined)
        ctx.out.result(response, () =>
          ctx.out.record([
            ['kid', response.kid],
            ['alg', response.alg],
            ['activates', response.activates_at],
            ['retiring', response.retiring_kid],
          ]),
        )
      },
    }),
  ],
})

const keks = group({
  name: 'keks',
  summary: 'Key-encryption keys of the secret store',
  children: [
    command({
      name: 'rotate',
      summary: 'Introduce a new KEK and rewrap every data key under it',
      async run(ctx) {
        const response = await ctx.client().admin.rotateKek()
        ctx.out.result(response, () =>
          ctx.out.record([
            ['kek', response.kek_id],
            ['rewrapped', response.rewrapped],
            ['retired', response.retired_kek_ids.join(', ')],
          ]),
        )
      },
    }),
  ],
})

const audit = group({ name: 'audit', summary: 'Who did what, when, from where', children: [listAudit] })

export const admin: GroupSpec = group({
  name: 'admin',
  summary: 'Administration (admin key or an admin session)',
  children: [
    customers,
    projects,
    members,
    identities,
    serviceAccounts,
    adminKeys,
    dataplanes,
    signingKeys,
    keks,
    audit,
  ],
})
