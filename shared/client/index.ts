/**
 * @module The typed AgentRouter client: the seeds' SDK surface (`client.me`, `client.aikeys`,
 * `client.tokens`, `client.secret`, `client.auth`) plus the admin and dataplane calls. Request
 * objects take the documents' field names in camelCase or snake_case; responses are the
 * contract's JSON. Every failure is an `ApiError` carrying the contract's `code`.
 *
 * @example
 *   import { Client } from 'agentrouter'
 *   const client = new Client({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.AGENTROUTER_API_KEY })
 *   const { identity } = await client.me.get()
 */
import type { BodyOf, ResponseOf } from '../contract/routes.ts'
import { ApiError } from '../errors.ts'
import { type ClientOptions, type QueryValue, Transport } from './transport.ts'
import type { AIKeyProvider, KeyType } from './types.ts'

export type * from '../contract/index.ts'
export { ApiError, type ErrorCode, type ErrorDetail } from '../errors.ts'
export type { ClientOptions } from './transport.ts'
// Named explicitly: these shadow the contract's schema constants of the same names with the
// response types the documents name.
export type {
  AdminIssueKeyResponse,
  AdminListKeysResponse,
  AIKeyProvider,
  CallbackResponse,
  CreateSecretResponse,
  Customer,
  CustomerResponse,
  Dataplane,
  DeleteMemberResponse,
  DeleteSecretResponse,
  Enforcement,
  GetAiKeyResponse,
  GetJWKSResponse,
  GetMeResponse,
  GetRevocationListResponse,
  GetSecretResponse,
  GetSecretValueResponse,
  IssueMyKeyResponse,
  KeyType,
  ListAiKeysResponse,
  ListAuditResponse,
  ListCustomersResponse,
  ListDataplanesResponse,
  ListIdentitiesResponse,
  ListMembersResponse,
  ListMyKeysResponse,
  ListProjectsResponse,
  ListSecretsResponse,
  LoginResponse,
  LogoutResponse,
  Member,
  MemberResponse,
  Project,
  ProjectResponse,
  RegisterAiKeyResponse,
  ResolveProviderKeyResponse,
  RevokeAiKeyResponse,
  RevokeMyKeyResponse,
  RotateKekResponse,
  RotateSecretResponse,
  RotateSigningKeyResponse,
  ValidateSecretResponse,
} from './types.ts'

/** A request object in either spelling: `{ pageSize }` or `{ page_size }`. */
type Loose = Record<string, unknown> | undefined

const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** Top-level keys to snake_case; nested values (such as `tags`) are left as they are. */
function wire(req: Loose): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (req) for (const [k, v] of Object.entries(req)) if (v !== undefined) out[snake(k)] = v
  return out
}

/** Removes the named keys from a request and returns them separately. */
function take(
  req: Record<string, unknown>,
  ...keys: string[]
): [Record<string, unknown>, Record<string, unknown>] {
  const taken: Record<string, unknown> = {}
  const rest: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(req)) (keys.includes(k) ? taken : rest)[k] = v
  return [taken, rest]
}

const seg = (value: string | undefined): string => encodeURIComponent(value || '-')

export interface WaitOptions {
  /** `'enforced'`: answer once every connected dataplane has applied the revocation. */
  wait?: 'enforced' | undefined
  timeoutMs?: number | undefined
}
const waitQuery = (o?: WaitOptions): Record<string, QueryValue> => ({
  wait: o?.wait,
  timeout_ms: o?.timeoutMs,
})

class MeService {
  constructor(private readonly t: Transport) {}

  login(req: {
    redirectUri?: string | undefined
    codeChallenge?: string | undefined
    codeChallengeMethod?: string | undefined
    issuer?: string | undefined
    [k: string]: unknown
  }): Promise<ResponseOf<'login'>> {
    const body = wire(req)
    body.code_challenge_method ??= 'S256'
    return this.t.request('POST', '/v1/auth/login', { body })
  }

  callback(req: { code: string; state: string; codeVerifier: string }): Promise<ResponseOf<'callback'>> {
    return this.t.request('POST', '/v1/auth/callback', { body: wire(req) })
  }

  deviceLogin(req: { issuer?: string | undefined } = {}): Promise<ResponseOf<'deviceLogin'>> {
    return this.t.request('POST', '/v1/auth/device', { body: wire(req) })
  }

  devicePoll(deviceHandle: string): Promise<ResponseOf<'devicePoll'>> {
    return this.t.request('POST', '/v1/auth/device/poll', { body: { device_handle: deviceHandle } })
  }

  logout(options?: WaitOptions): Promise<ResponseOf<'logout'>> {
    return this.t.request('POST', '/v1/auth/logout', { body: {}, query: waitQuery(options) })
  }

  get(): Promise<ResponseOf<'getMe'>> {
    return this.t.request('GET', '/v1/me')
  }

  issueKey(
    name: string,
    options?: {
      type?: BodyOf<'issueKey'>['type'] | undefined
      idempotencyKey?: string | undefined
      /** Bind the key to this project (you must be a member). */
      projectId?: string | undefined
      customerId?: string | undefined
    },
  ): Promise<ResponseOf<'issueKey'>> {
    return this.t.request('POST', '/v1/me/keys', { body: wire({ name, ...options }) })
  }

  listKeys(page?: {
    pageSize?: number | undefined
    pageToken?: string | undefined
  }): Promise<ResponseOf<'listKeys'>> {
    return this.t.request('GET', '/v1/me/keys', { query: wire(page) as Record<string, QueryValue> })
  }

  revokeKey(keyId: string, options?: WaitOptions): Promise<ResponseOf<'revokeKey'>> {
    return this.t.request('DELETE', `/v1/me/keys/${encodeURIComponent(keyId)}`, { query: waitQuery(options) })
  }
}

class AiKeysService {
  constructor(private readonly t: Transport) {}

  #base(customerId: string, projectId: string): string {
    return `/v1/customers/${seg(customerId)}/projects/${seg(projectId)}/aikeys`
  }

  register(
    customerId: string,
    projectId: string,
    provider: AIKeyProvider,
    name: string,
    secret: string,
    userScope?: boolean,
  ): Promise<ResponseOf<'registerAiKey'>> {
    return this.t.request('POST', this.#base(customerId, projectId), {
      body: { provider, name, secret, user_scope: userScope },
    })
  }

  get(customerId: string, projectId: string, id: string): Promise<ResponseOf<'getAiKey'>> {
    return this.t.request('GET', `${this.#base(customerId, projectId)}/${encodeURIComponent(id)}`)
  }

  list(customerId: string, projectId: string): Promise<ResponseOf<'listAiKeys'>> {
    return this.t.request('GET', this.#base(customerId, projectId))
  }

  revoke(
    customerId: string,
    projectId: string,
    id: string,
    options?: WaitOptions,
  ): Promise<ResponseOf<'revokeAiKey'>> {
    return this.t.request('DELETE', `${this.#base(customerId, projectId)}/${encodeURIComponent(id)}`, {
      query: waitQuery(options),
    })
  }
}

class TokensService {
  constructor(private readonly t: Transport) {}

  getRevocationList(req?: {
    since?: string | undefined
    limit?: number | undefined
  }): Promise<ResponseOf<'getRevocationList'>> {
    return this.t.request('GET', '/v1/tokens/revocations', { query: wire(req) as Record<string, QueryValue> })
  }

  /** The WebSocket URL of the revocation stream. */
  streamUrl(since?: string, name?: string): string {
    return this.t.url('/v1/tokens/revocations/stream', { since, name }).replace(/^http/, 'ws')
  }
}

type SecretRef = {
  name?: string | undefined
  realm?: string | undefined
  userId?: string | undefined
  user_id?: string | undefined
  [k: string]: unknown
}

class SecretService {
  constructor(private readonly t: Transport) {}

  /** A secret's path; a request without a name is refused here rather than sent to the wrong URL. */
  #path(name: unknown, suffix = ''): string {
    if (typeof name !== 'string' || name === '') {
      throw new ApiError('invalid_argument', 'name: is required', [
        { field: 'name', description: 'is required' },
      ])
    }
    return `/v1/secrets/${encodeURIComponent(name)}${suffix}`
  }

  createSecret(req: {
    name?: string | undefined
    realm?: string | undefined
    description?: string | undefined
    value?: string | undefined
    tags?: Record<string, string> | undefined
    userId?: string | undefined
    [k: string]: unknown
  }): Promise<ResponseOf<'createSecret'>> {
    return this.t.request('POST', '/v1/secrets', { body: wire(req) })
  }

  async getSecret(req: SecretRef): Promise<ResponseOf<'getSecret'>> {
    const [{ name }, query] = take(wire(req), 'name')
    return this.t.request('GET', this.#path(name), { query: query as Record<string, QueryValue> })
  }

  listSecrets(req?: {
    realm?: string | undefined
    status?: string | undefined
    tags?: string | Record<string, string> | undefined
    pageSize?: number | undefined
    pageToken?: string | undefined
    [k: string]: unknown
  }): Promise<ResponseOf<'listSecrets'>> {
    const query = wire(req)
    if (query.tags && typeof query.tags === 'object') {
      query.tags = Object.entries(query.tags as Record<string, string>)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    }
    return this.t.request('GET', '/v1/secrets', { query: query as Record<string, QueryValue> })
  }

  async deleteSecret(req: SecretRef): Promise<ResponseOf<'deleteSecret'>> {
    const [{ name }, query] = take(wire(req), 'name')
    return this.t.request('DELETE', this.#path(name), { query: query as Record<string, QueryValue> })
  }

  async rotateSecret(
    req: SecretRef & { newValue?: string | undefined },
  ): Promise<ResponseOf<'rotateSecret'>> {
    const [{ name }, body] = take(wire(req), 'name')
    return this.t.request('POST', this.#path(name, '/rotate'), { body })
  }

  async validateSecret(req: SecretRef): Promise<ResponseOf<'validateSecret'>> {
    const [{ name }, body] = take(wire(req), 'name')
    return this.t.request('POST', this.#path(name, '/validate'), { body })
  }

  async getSecretValue(req: SecretRef): Promise<ResponseOf<'getSecretValue'>> {
    const [{ name }, body] = take(wire(req), 'name')
    return this.t.request('POST', this.#path(name, '/value'), { body })
  }
}

class AuthService {
  constructor(private readonly t: Transport) {}

  getJWKS(_req?: Loose): Promise<ResponseOf<'getJwks'>> {
    return this.t.request('GET', '/.well-known/jwks.json')
  }
}

class AdminService {
  constructor(private readonly t: Transport) {}

  createCustomer(name: string): Promise<ResponseOf<'createCustomer'>> {
    return this.t.request('POST', '/v1/admin/customers', { body: { name } })
  }

  createProject(customerId: string, name: string): Promise<ResponseOf<'createProject'>> {
    return this.t.request('POST', `/v1/admin/customers/${seg(customerId)}/projects`, { body: { name } })
  }

  setMember(
    customerId: string,
    projectId: string,
    identityId: string,
    role: BodyOf<'putMember'>['role'],
  ): Promise<ResponseOf<'putMember'>> {
    return this.t.request('PUT', this.#memberPath(customerId, projectId, identityId), { body: { role } })
  }

  removeMember(
    customerId: string,
    projectId: string,
    identityId: string,
  ): Promise<ResponseOf<'deleteMember'>> {
    return this.t.request('DELETE', this.#memberPath(customerId, projectId, identityId))
  }

  listIdentities(req?: { email?: string | undefined }): Promise<ResponseOf<'listIdentities'>> {
    return this.t.request('GET', '/v1/admin/identities', { query: wire(req) as Record<string, QueryValue> })
  }

  issueKey(req: {
    name: string
    type: BodyOf<'adminIssueKey'>['type']
    identityId?: string | undefined
    /** KEY_TYPE_PROMPT only: bind the key to this project (the identity must be a member). */
    projectId?: string | undefined
    customerId?: string | undefined
  }): Promise<ResponseOf<'adminIssueKey'>> {
    return this.t.request('POST', '/v1/admin/keys', { body: wire(req) })
  }

  createServiceAccount(req: {
    name: string
    customerId: string
    projectId: string
    role: BodyOf<'createServiceAccount'>['role']
  }): Promise<ResponseOf<'createServiceAccount'>> {
    return this.t.request('POST', '/v1/admin/service-accounts', { body: wire(req) })
  }

  listServiceAccounts(page?: {
    pageSize?: number | undefined
    pageToken?: string | undefined
  }): Promise<ResponseOf<'listServiceAccounts'>> {
    return this.t.request('GET', '/v1/admin/service-accounts', {
      query: wire(page) as Record<string, QueryValue>,
    })
  }

  /** Revokes every key of the service account, then removes it. */
  deleteServiceAccount(
    identityId: string,
    options?: WaitOptions,
  ): Promise<ResponseOf<'deleteServiceAccount'>> {
    return this.t.request('DELETE', `/v1/admin/service-accounts/${encodeURIComponent(identityId)}`, {
      query: waitQuery(options),
    })
  }

  /** Revokes any API key: a leaked admin or dataplane key, or a user's. */
  revokeKey(keyId: string, options?: WaitOptions): Promise<ResponseOf<'adminRevokeKey'>> {
    return this.t.request('DELETE', `/v1/admin/keys/${encodeURIComponent(keyId)}`, {
      query: waitQuery(options),
    })
  }

  listDataplanes(): Promise<ResponseOf<'listDataplanes'>> {
    return this.t.request('GET', '/v1/admin/dataplanes')
  }

  rotateSigningKey(req?: { activateAfterMs?: number | undefined }): Promise<ResponseOf<'rotateSigningKey'>> {
    return this.t.request('POST', '/v1/admin/signing-keys/rotate', { body: wire(req) })
  }

  rotateKek(): Promise<ResponseOf<'rotateKek'>> {
    return this.t.request('POST', '/v1/admin/keks/rotate', { body: {} })
  }

  // Listings and the audit trail (issue 12). Requests take camelCase or snake_case names.
  listCustomers(req?: {
    pageSize?: number
    pageToken?: string
    name?: string
  }): Promise<ResponseOf<'listCustomers'>> {
    return this.t.request('GET', '/v1/admin/customers', { query: wire(req) as Record<string, QueryValue> })
  }

  listProjects(
    customerId: string,
    req?: { pageSize?: number; pageToken?: string; name?: string },
  ): Promise<ResponseOf<'listProjects'>> {
    return this.t.request('GET', `/v1/admin/customers/${seg(customerId)}/projects`, {
      query: wire(req) as Record<string, QueryValue>,
    })
  }

  listMembers(
    customerId: string,
    projectId: string,
    req?: { pageSize?: number; pageToken?: string; role?: BodyOf<'putMember'>['role'] },
  ): Promise<ResponseOf<'listMembers'>> {
    return this.t.request(
      'GET',
      `/v1/admin/customers/${seg(customerId)}/projects/${seg(projectId)}/members`,
      {
        query: wire(req) as Record<string, QueryValue>,
      },
    )
  }

  /** Every API key, metadata only; filters `identityId`, `type`, `state`, `projectId`. */
  listKeys(req?: {
    pageSize?: number
    pageToken?: string
    identityId?: string
    type?: KeyType
    state?: 'KEY_STATE_ACTIVE' | 'KEY_STATE_REVOKED'
    projectId?: string
  }): Promise<ResponseOf<'adminListKeys'>> {
    return this.t.request('GET', '/v1/admin/keys', { query: wire(req) as Record<string, QueryValue> })
  }

  /** The audit trail, oldest first; `since` is RFC 3339. */
  listAudit(req?: {
    pageSize?: number
    pageToken?: string
    since?: string
    actor?: string
    action?: string
    target?: string
  }): Promise<ResponseOf<'listAudit'>> {
    return this.t.request('GET', '/v1/admin/audit', { query: wire(req) as Record<string, QueryValue> })
  }

  #memberPath(customerId: string, projectId: string, identityId: string): string {
    return `/v1/admin/customers/${seg(customerId)}/projects/${seg(projectId)}/members/${encodeURIComponent(identityId)}`
  }
}

class InternalService {
  constructor(private readonly t: Transport) {}

  resolveProviderKey(
    req: {
      customerId?: string | undefined
      projectId?: string | undefined
      identityId: string
      provider: string
      /** The JTI of the credential the key is for: refused when it is revoked. */
      credentialJti?: string | undefined
    },
    signal?: AbortSignal,
  ): Promise<ResponseOf<'resolveProviderKey'>> {
    return this.t.request('POST', '/v1/internal/byok/resolve', { body: wire(req), signal })
  }
}

export class Client {
  readonly me: MeService
  readonly aikeys: AiKeysService
  readonly tokens: TokensService
  readonly secret: SecretService
  readonly auth: AuthService
  readonly admin: AdminService
  readonly internal: InternalService
  /** The raw call, for anything the services above do not wrap. */
  readonly transport: Transport

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport(options)
    this.me = new MeService(this.transport)
    this.aikeys = new AiKeysService(this.transport)
    this.tokens = new TokensService(this.transport)
    this.secret = new SecretService(this.transport)
    this.auth = new AuthService(this.transport)
    this.admin = new AdminService(this.transport)
    this.internal = new InternalService(this.transport)
  }
}
