/**
 * @module `tare api admin … list`: what an admin created, listed again (customers, projects,
 * members with roles, every API key) and the audit trail. Tables for people, `--json` for
 * scripts; a page that is not the last ends with the command for the next one.
 */
import type { Role } from '../../shared/client/index.ts'
import { KEY_TYPES } from '../../shared/tokens/claims.ts'
import { type CommandContext, type CommandSpec, command } from '../command.ts'
import { oneOf, requiredPositional, str } from '../options.ts'
import { PAGE_OPTIONS, pageRequest } from '../paging.ts'
import { API_KEY_COLUMNS } from '../render.ts'

/** Tells how to get the next page, on stderr (the table on stdout stays clean). */
function more(ctx: CommandContext, nextPageToken: string): void {
  if (nextPageToken) ctx.out.note(`More: ${ctx.path} … --page-token ${nextPageToken}`)
}

const optional = <K extends string>(key: K, value: string | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>

export const listCustomers: CommandSpec = command({
  name: 'list',
  summary: 'Customers, oldest first',
  options: {
    name: { type: 'string', valueName: 'NAME', description: 'Only this exact name' },
    ...PAGE_OPTIONS,
  },
  examples: ['tare api admin customers list', 'tare api admin customers list --page-size 10 --json'],
  async run(ctx) {
    const response = await ctx
      .client()
      .admin.listCustomers({ ...pageRequest(ctx), ...optional('name', str(ctx, 'name')) })
    ctx.out.result(response, () => {
      ctx.out.table(
        response.customers,
        [
          { header: 'id', value: (c) => c.id },
          { header: 'name', value: (c) => c.name },
          { header: 'created', value: (c) => c.created_at },
        ],
        'No customers.',
      )
      more(ctx, response.page.next_page_token)
    })
  },
})

export const listProjects: CommandSpec = command({
  name: 'list',
  summary: "A customer's projects, oldest first",
  args: [
    { name: 'CUSTOMER', description: 'cust_<ulid> (or --customer; - for your default)', optional: true },
  ],
  options: {
    customer: { type: 'string', valueName: 'ID', description: 'cust_<ulid>' },
    name: { type: 'string', valueName: 'NAME', description: 'Only this exact name' },
    ...PAGE_OPTIONS,
  },
  examples: ['tare api admin projects list cust_01JD…'],
  async run(ctx) {
    const customer = requiredPositional(ctx, 0, 'CUSTOMER', 'customer')
    const response = await ctx
      .client()
      .admin.listProjects(customer, { ...pageRequest(ctx), ...optional('name', str(ctx, 'name')) })
    ctx.out.result(response, () => {
      ctx.out.table(
        response.projects,
        [
          { header: 'id', value: (p) => p.id },
          { header: 'name', value: (p) => p.name },
          { header: 'created', value: (p) => p.created_at },
        ],
        'No projects.',
      )
      more(ctx, response.page.next_page_token)
    })
  },
})

export const listMembers: CommandSpec = command({
  name: 'list',
  summary: "A project's members and their roles",
  args: [
    { name: 'CUSTOMER', description: 'cust_<ulid> (or --customer)', optional: true },
    { name: 'PROJECT', description: 'proj_<ulid> (or --project)', optional: true },
  ],
  options: {
    customer: { type: 'string', valueName: 'ID', description: 'cust_<ulid>' },
    project: { type: 'string', valueName: 'ID', description: 'proj_<ulid>' },
    role: { type: 'string', valueName: 'ROLE', description: 'Only owner or member' },
    ...PAGE_OPTIONS,
  },
  examples: ['tare api admin members list cust_01JD… proj_01JD… --role owner'],
  async run(ctx) {
    const customer = requiredPositional(ctx, 0, 'CUSTOMER', 'customer')
    const project = requiredPositional(ctx, 1, 'PROJECT', 'project')
    const role = oneOf<Role>(ctx, 'role', ['owner', 'member'])
    const response = await ctx
      .client()
      .admin.listMembers(customer, project, { ...pageRequest(ctx), ...(role ? { role } : {}) })
    ctx.out.result(response, () => {
      ctx.out.table(
        response.members,
        [
          { header: 'identity', value: (m) => m.identity_id },
          { header: 'email', value: (m) => m.email },
          { header: 'name', value: (m) => m.name },
          { header: 'kind', value: (m) => m.kind },
          { header: 'role', value: (m) => m.role },
          { header: 'since', value: (m) => m.created_at },
        ],
        'No members.',
      )
      more(ctx, response.page.next_page_token)
    })
  },
})

export const listAllKeys: CommandSpec = command({
  name: 'list',
  summary: 'Every API key (metadata only, never a secret)',
  options: {
    'identity-id': { type: 'string', valueName: 'ID', description: 'Only keys acting as usr_<ulid>' },
    type: { type: 'string', valueName: 'TYPE', description: 'Only prompt, admin or dataplane keys' },
    state: { type: 'string', valueName: 'STATE', description: 'Only active or revoked keys' },
    'project-id': {
      type: 'string',
      valueName: 'ID',
      description: 'Only keys of members of proj_<ulid>',
    },
    ...PAGE_OPTIONS,
  },
  examples: ['tare api admin keys list --type dataplane --state active'],
  async run(ctx) {
    const type = oneOf(ctx, 'type', KEY_TYPES, {
      prompt: 'KEY_TYPE_PROMPT',
      admin: 'KEY_TYPE_ADMIN',
      dataplane: 'KEY_TYPE_DATAPLANE',
    })
    const state = oneOf(ctx, 'state', ['KEY_STATE_ACTIVE', 'KEY_STATE_REVOKED'] as const, {
      active: 'KEY_STATE_ACTIVE',
      revoked: 'KEY_STATE_REVOKED',
    })
    const response = await ctx.client().admin.listKeys({
      ...pageRequest(ctx),
      ...optional('identityId', str(ctx, 'identity-id')),
      ...optional('projectId', str(ctx, 'project-id')),
      ...(type ? { type } : {}),
      ...(state ? { state } : {}),
    })
    ctx.out.result(response, () => {
      ctx.out.table(
        response.keys,
        [
          ...API_KEY_COLUMNS.slice(0, 2),
          { header: 'identity', value: (k) => k.identity_id },
          ...API_KEY_COLUMNS.slice(2),
        ],
        'No API keys.',
      )
      more(ctx, response.page.next_page_token)
    })
  },
})

export const listAudit: CommandSpec = command({
  name: 'list',
  summary: 'The audit trail, oldest first',
  options: {
    since: { type: 'string', valueName: 'TIME', description: 'RFC 3339: records at or after this time' },
    actor: { type: 'string', valueName: 'ID', description: 'Only records of this identity (usr_<ulid>)' },
    action: {
      type: 'string',
      valueName: 'ACTION',
      description: 'Only this action (key.revoke, secret.rotate, …)',
    },
    target: { type: 'string', valueName: 'TARGET', description: 'Only records about this target' },
    ...PAGE_OPTIONS,
  },
  examples: [
    'tare api admin audit list --action key.revoke',
    'tare api admin audit list --since 2026-01-01T00:00:00Z --json',
  ],
  async run(ctx) {
    const response = await ctx.client().admin.listAudit({
      ...pageRequest(ctx),
      ...optional('since', str(ctx, 'since')),
      ...optional('actor', str(ctx, 'actor')),
      ...optional('action', str(ctx, 'action')),
      ...optional('target', str(ctx, 'target')),
    })
    ctx.out.result(response, () => {
      ctx.out.table(
        response.records,
        [
          { header: 'time', value: (r) => r.time },
          { header: 'actor', value: (r) => r.actor.identity_id },
          { header: 'credential', value: (r) => r.actor.credential_id || r.actor.credential_type },
          { header: 'action', value: (r) => r.action },
          { header: 'target', value: (r) => r.target },
          { header: 'outcome', value: (r) => r.outcome },
          { header: 'client', value: (r) => r.client_address },
        ],
        'No audit records.',
      )
      more(ctx, response.page.next_page_token)
    })
  },
})
