/**
 * @module How records read in a terminal: identities, API keys, AI keys, secrets, revocation
 * enforcement. Each command group prints through these so the same record looks the same
 * everywhere.
 */
import type { AiKey, ApiKey, Enforcement, Identity, Secret } from '../shared/client/index.ts'
import type { Column, Output } from './output.ts'

export function printIdentity(out: Output, identity: Identity): void {
  out.record([
    ['id', identity.id],
    ['email', identity.email],
    ['name', identity.name],
    ['kind', identity.kind],
    ['admin', identity.is_admin],
    ['issuer', identity.issuer],
    ['default customer', identity.default_customer_id],
    ['default project', identity.default_project_id],
  ])
  if (identity.memberships.length > 0) {
    out.line()
    out.table(identity.memberships, [
      { header: 'customer', value: (m) => `${m.customer_name} (${m.customer_id})` },
      { header: 'project', value: (m) => `${m.project_name} (${m.project_id})` },
      { header: 'role', value: (m) => m.role },
    ])
  }
}

export const API_KEY_COLUMNS: Column<ApiKey>[] = [
  { header: 'id', value: (k) => k.id },
  { header: 'name', value: (k) => k.name },
  { header: 'type', value: (k) => k.type.replace('KEY_TYPE_', '').toLowerCase() },
  { header: 'state', value: (k) => k.state.replace('KEY_STATE_', '').toLowerCase() },
  { header: 'prefix', value: (k) => k.prefix },
  { header: 'project', value: (k) => k.project_id },
  { header: 'created', value: (k) => k.created_at },
  { header: 'last used', value: (k) => k.last_used_at },
]

export function printApiKey(out: Output, key: ApiKey): void {
  out.record([
    ['id', key.id],
    ['name', key.name],
    ['type', key.type],
    ['state', key.state],
    ['prefix', key.prefix],
    ['identity', key.identity_id],
    ['project', key.project_id],
    ['created', key.created_at],
    ['expires', key.expires_at],
    ['last used', key.last_used_at],
    ['revoked', key.revoked_at],
  ])
}

/** A newly issued key: its metadata, then the secret, which the server shows only this once. */
export function printIssuedKey(out: Output, key: ApiKey, secret: string): void {
  printApiKey(out, key)
  out.line()
  out.line(secret)
  out.note('This is the only time the key is shown: store it in a secrets manager now.')
}

export const AI_KEY_COLUMNS: Column<AiKey>[] = [
  { header: 'id', value: (k) => k.id },
  { header: 'provider', value: (k) => k.provider },
  { header: 'name', value: (k) => k.name },
  { header: 'suffix', value: (k) => `…${k.display_suffix}` },
  { header: 'scope', value: (k) => (k.user_scope ? 'user' : 'project') },
  { header: 'created', value: (k) => k.created_at },
  { header: 'revoked', value: (k) => k.revoked_at },
]

export function printAiKey(out: Output, key: AiKey): void {
  out.record([
    ['id', key.id],
    ['provider', key.provider],
    ['name', key.name],
    ['suffix', `…${key.display_suffix}`],
    ['scope', key.user_scope ? 'user' : 'project'],
    ['customer', key.customer_id],
    ['project', key.project_id],
    ['owner', key.owner_id],
    ['created', key.created_at],
    ['updated', key.updated_at],
    ['revoked', key.revoked_at],
  ])
}

export const SECRET_COLUMNS: Column<Secret>[] = [
  { header: 'name', value: (s) => s.name },
  { header: 'realm', value: (s) => s.realm },
  { header: 'version', value: (s) => s.version },
  { header: 'status', value: (s) => s.status },
  { header: 'owner', value: (s) => s.user_id },
  { header: 'tags', value: (s) => formatTags(s.tags) },
  { header: 'updated', value: (s) => s.updated_at },
]

export function printSecret(out: Output, secret: Secret): void {
  out.record([
    ['id', secret.id],
    ['name', secret.name],
    ['realm', secret.realm],
    ['description', secret.description],
    ['owner', secret.user_id],
    ['version', secret.version],
    ['status', secret.status],
    ['tags', formatTags(secret.tags)],
    ['created', secret.created_at],
    ['updated', secret.updated_at],
  ])
  if (secret.versions.length > 0) {
    out.line()
    out.table(secret.versions, [
      { header: 'version', value: (v) => v.version },
      { header: 'status', value: (v) => v.status },
      { header: 'created', value: (v) => v.created_at },
      { header: 'grace ends', value: (v) => v.expires_at },
    ])
  }
}

/** What `?wait=enforced` reported, when it was asked for. */
export function printEnforcement(out: Output, enforcement: Enforcement | undefined): void {
  if (!enforcement) return
  const pending = enforcement.pending.length > 0 ? `; not yet: ${enforcement.pending.join(', ')}` : ''
  out.line(
    `enforcement: ${enforcement.status} after ${enforcement.waited_ms} ms by ${enforcement.enforced_by.length} dataplane(s)${pending}`,
  )
}

/** The exit status of a `--wait` that did not end enforced. */
export const EXIT_NOT_ENFORCED = 3

/**
 * After the result is printed: a wait that did not end `enforced` is reported as an error on
 * stderr, naming the dataplanes that had not applied it, and exits 3; anything else exits 0.
 */
export function enforcementExit(out: Output, enforcement: Enforcement | undefined): number | undefined {
  if (!enforcement || enforcement.status === 'enforced') return undefined
  if (enforcement.status === 'no_dataplanes') {
    out.error({
      code: 'unavailable',
      message: 'no dataplane is connected: none confirmed enforcing the revocation',
      details: [],
    })
  } else {
    out.error({
      code: 'deadline_exceeded',
      message: `not every dataplane enforced the revocation within ${enforcement.waited_ms} ms (it is revoked; they apply it when they catch up)`,
      details: enforcement.pending.map((dp) => ({ field: 'pending', description: dp })),
    })
  }
  return EXIT_NOT_ENFORCED
}

function formatTags(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}
