/**
 * @module Every endpoint of the control plane in one table: verb, path, persona and the schemas
 * of its request and response. The server validates with these, `/openapi.json` is built from
 * them, and the typed client takes its types from them, so the three cannot drift.
 */
import type { z } from 'zod'
import * as admin from './admin.ts'
import * as aikeys from './aikeys.ts'
import * as audit from './audit.ts'
import * as auth from './auth.ts'
import { Empty, WaitQuery } from './common.ts'
import * as internal from './internal.ts'
import * as me from './me.ts'
import * as secrets from './secrets.ts'
import * as tokens from './tokens.ts'

/** Who may call an endpoint, as the documents name them (plus the dataplane's own). */
export type Persona =
  | 'public'
  | 'session'
  | 'authenticated'
  | 'admin'
  | 'revocations'
  | 'secret_value'
  | 'dataplane'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface RouteSpec {
  method: HttpMethod
  /** OpenAPI style: `/v1/me/keys/{key_id}`. */
  path: string
  persona: Persona
  service: string
  summary: string
  params?: z.ZodType
  query?: z.ZodType
  body?: z.ZodType
  response: z.ZodType
  /** A response that is not JSON: its media type (the `response` schema then describes bytes). */
  responseType?: string
  /**
   * A machine interface: the credential is `Authorization: Bearer` only, the session cookie is
   * never read (so no page can make a logged-in browser call it).
   */
  bearerOnly?: true
  /** The `tare` command that calls it. */
  cli?: string
  /** An `authenticated` endpoint a service account's key may call too (it may call no other). */
  serviceAccounts?: true
}

const AIKEYS = '/v1/customers/{customer_id}/projects/{project_id}/aikeys'

export const routes = {
  login: {
    method: 'POST',
    path: '/v1/auth/login',
    persona: 'public',
    service: 'Me',
    summary: 'Start an OIDC authorization-code + PKCE (S256) login',
    body: me.LoginRequest,
    response: me.LoginResponse,
    cli: 'tare api login',
  },
  callback: {
    method: 'POST',
    path: '/v1/auth/callback',
    persona: 'public',
    service: 'Me',
    summary: 'Finish a login: redeem the code, answer with a session token and set the session cookie',
    body: me.CallbackRequest,
    response: me.CallbackResponse,
  },
  deviceLogin: {
    method: 'POST',
    path: '/v1/auth/device',
    persona: 'public',
    service: 'Me',
    summary:
      'Start a device login (RFC 8628) where the issuer offers one: a user code to enter elsewhere, and a handle to poll with',
    body: me.DeviceLoginRequest,
    response: me.DeviceLoginResponse,
    cli: 'tare api login --device',
  },
  devicePoll: {
    method: 'POST',
    path: '/v1/auth/device/poll',
    persona: 'public',
    service: 'Me',
    summary:
      'Poll a device login: pending, slow_down, or complete with a session token (and the session cookie), once',
    body: me.DevicePollRequest,
    response: me.DevicePollResponse,
  },
  logout: {
    method: 'POST',
    path: '/v1/auth/logout',
    persona: 'session',
    service: 'Me',
    summary: "Revoke the caller's session",
    query: WaitQuery,
    body: Empty,
    response: me.LogoutResponse,
    cli: 'tare api logout',
  },
  getMe: {
    method: 'GET',
    path: '/v1/me',
    persona: 'authenticated',
    service: 'Me',
    summary: 'The identity behind the credential, with memberships and roles',
    response: me.GetMeResponse,
    cli: 'tare api whoami',
    serviceAccounts: true,
  },
  issueKey: {
    method: 'POST',
    path: '/v1/me/keys',
    persona: 'session',
    service: 'Me',
    summary: 'Issue an API key; its secret is shown once',
    body: me.IssueKeyRequest,
    response: me.IssueKeyResponse,
    cli: 'tare api keys create --name N',
  },
  listKeys: {
    method: 'GET',
    path: '/v1/me/keys',
    persona: 'authenticated',
    service: 'Me',
    summary: "The caller's API keys (metadata only)",
    query: me.ListKeysQuery,
    response: me.ListKeysResponse,
    cli: 'tare api keys list',
  },
  revokeKey: {
    method: 'DELETE',
    path: '/v1/me/keys/{key_id}',
    persona: 'session',
    service: 'Me',
    summary: 'Revoke one of the caller’s API keys, permanently',
    params: me.KeyIdParam,
    query: WaitQuery,
    response: me.RevokeKeyResponse,
    cli: 'tare api keys revoke ID',
  },
  registerAiKey: {
    method: 'POST',
    path: AIKEYS,
    persona: 'authenticated',
    service: 'AiKeys',
    summary: 'Register a provider key (project-level needs the owner; user_scope=true any member)',
    params: aikeys.ProjectPathParams,
    body: aikeys.RegisterAiKeyRequest,
    response: aikeys.AiKeyResponse,
    cli: 'tare api byok add --provider P --name N --secret S',
  },
  getAiKey: {
    method: 'GET',
    path: `${AIKEYS}/{id}`,
    persona: 'authenticated',
    service: 'AiKeys',
    summary: 'One AI key’s metadata',
    params: aikeys.AiKeyPathParams,
    response: aikeys.AiKeyResponse,
    cli: 'tare api byok get ID',
  },
  listAiKeys: {
    method: 'GET',
    path: AIKEYS,
    persona: 'authenticated',
    service: 'AiKeys',
    summary: "The project's keys plus the caller's own user-scoped keys",
    params: aikeys.ProjectPathParams,
    response: aikeys.ListAiKeysResponse,
    cli: 'tare api byok list',
  },
  revokeAiKey: {
    method: 'DELETE',
    path: `${AIKEYS}/{id}`,
    persona: 'authenticated',
    service: 'AiKeys',
    summary: 'Revoke an AI key; dataplanes stop using it within a second',
    params: aikeys.AiKeyPathParams,
    query: WaitQuery,
    response: aikeys.RevokeAiKeyResponse,
    cli: 'tare api byok remove ID',
  },
  getRevocationList: {
    method: 'GET',
    path: '/v1/tokens/revocations',
    persona: 'revocations',
    service: 'Tokens',
    summary: 'Revoked JTIs after `since`, oldest first',
    query: tokens.RevocationListQuery,
    response: tokens.RevocationListResponse,
    cli: 'tare api tokens revocation-list get',
  },
  getRevocationSnapshot: {
    method: 'GET',
    path: '/v1/tokens/revocations/snapshot',
    persona: 'revocations',
    service: 'Tokens',
    summary: 'Every revoked JTI as of now, compact and gzipped (what a starting dataplane reads)',
    response: tokens.RevocationSnapshotResponse,
    responseType: tokens.REVOCATION_SNAPSHOT_MEDIA_TYPE,
    bearerOnly: true,
  },
  createSecret: {
    method: 'POST',
    path: '/v1/secrets',
    persona: 'admin',
    service: 'Secret',
    summary: 'Create a secret, or update it when (owner, realm, name) exists',
    body: secrets.CreateSecretRequest,
    response: secrets.SecretResponse,
    cli: 'tare api secret create',
  },
  getSecret: {
    method: 'GET',
    path: '/v1/secrets/{name}',
    persona: 'admin',
    service: 'Secret',
    summary: 'A secret’s metadata',
    params: secrets.SecretPathParams,
    query: secrets.SecretQuery,
    response: secrets.SecretResponse,
    cli: 'tare api secret get',
  },
  listSecrets: {
    method: 'GET',
    path: '/v1/secrets',
    persona: 'admin',
    service: 'Secret',
    summary: "The caller's secrets (metadata only)",
    query: secrets.ListSecretsQuery,
    response: secrets.ListSecretsResponse,
    cli: 'tare api secret list',
  },
  deleteSecret: {
    method: 'DELETE',
    path: '/v1/secrets/{name}',
    persona: 'admin',
    service: 'Secret',
    summary: 'Delete a secret and all its versions',
    params: secrets.SecretPathParams,
    query: secrets.SecretQuery,
    response: secrets.DeleteSecretResponse,
    cli: 'tare api secret delete',
  },
  rotateSecret: {
    method: 'POST',
    path: '/v1/secrets/{name}/rotate',
    persona: 'admin',
    service: 'Secret',
    summary: 'Add a version; the previous one stays decryptable for the grace period',
    params: secrets.SecretPathParams,
    body: secrets.RotateSecretRequest,
    response: secrets.SecretResponse,
    cli: 'tare api secret rotate',
  },
  validateSecret: {
    method: 'POST',
    path: '/v1/secrets/{name}/validate',
    persona: 'admin',
    service: 'Secret',
    summary: 'Check that a secret decrypts, without returning it',
    params: secrets.SecretPathParams,
    body: secrets.ValidateSecretRequest,
    response: secrets.ValidateSecretResponse,
    cli: 'tare api secret validate',
  },
  getSecretValue: {
    method: 'POST',
    path: '/v1/secrets/{name}/value',
    persona: 'secret_value',
    service: 'Secret',
    summary: 'The plaintext (secrets/read/internal scope only; audited)',
    params: secrets.SecretPathParams,
    body: secrets.GetSecretValueRequest,
    response: secrets.GetSecretValueResponse,
    cli: 'tare api secret secret-value get',
  },
  getJwks: {
    method: 'GET',
    path: '/.well-known/jwks.json',
    persona: 'public',
    service: 'Auth',
    summary: 'Public keys that verify every token',
    response: auth.JwksResponse,
    cli: 'tare api auth jwks get',
  },
  createCustomer: {
    method: 'POST',
    path: '/v1/admin/customers',
    persona: 'admin',
    service: 'Admin',
    summary: 'Create a customer',
    body: admin.CreateCustomerRequest,
    response: admin.CustomerResponse,
    cli: 'tare api admin customers create --name N',
  },
  createProject: {
    method: 'POST',
    path: '/v1/admin/customers/{customer_id}/projects',
    persona: 'admin',
    service: 'Admin',
    summary: 'Create a project under a customer',
    params: admin.CustomerPathParams,
    body: admin.CreateProjectRequest,
    response: admin.ProjectResponse,
    cli: 'tare api admin projects create CUSTOMER --name N',
  },
  putMember: {
    method: 'PUT',
    path: '/v1/admin/customers/{customer_id}/projects/{project_id}/members/{identity_id}',
    persona: 'admin',
    service: 'Admin',
    summary: 'Add an identity to a project, or change its role',
    params: admin.MemberPathParams,
    body: admin.PutMemberRequest,
    response: admin.MemberResponse,
    cli: 'tare api admin members set CUSTOMER PROJECT IDENTITY --role R',
  },
  deleteMember: {
    method: 'DELETE',
    path: '/v1/admin/customers/{customer_id}/projects/{project_id}/members/{identity_id}',
    persona: 'admin',
    service: 'Admin',
    summary: 'Remove an identity from a project',
    params: admin.MemberPathParams,
    response: admin.DeleteMemberResponse,
    cli: 'tare api admin members remove CUSTOMER PROJECT IDENTITY',
  },
  listIdentities: {
    method: 'GET',
    path: '/v1/admin/identities',
    persona: 'admin',
    service: 'Admin',
    summary: 'Identities, optionally by email',
    query: admin.ListIdentitiesQuery,
    response: admin.ListIdentitiesResponse,
    cli: 'tare api admin identities list [--email E]',
  },
  adminIssueKey: {
    method: 'POST',
    path: '/v1/admin/keys',
    persona: 'admin',
    service: 'Admin',
    summary: 'Issue an admin or dataplane key, or a prompt key for any identity (optionally project-bound)',
    body: admin.AdminIssueKeyRequest,
    response: admin.AdminIssueKeyResponse,
    cli: 'tare api admin keys create --name N --type T',
  },
  adminRevokeKey: {
    method: 'DELETE',
    path: '/v1/admin/keys/{key_id}',
    persona: 'admin',
    service: 'Admin',
    summary: 'Revoke any API key (admin, dataplane or a user’s), permanently',
    params: me.KeyIdParam,
    query: WaitQuery,
    response: me.RevokeKeyResponse,
    cli: 'tare api admin keys revoke ID',
  },
  createServiceAccount: {
    method: 'POST',
    path: '/v1/admin/service-accounts',
    persona: 'admin',
    service: 'Admin',
    summary: 'Create a service account: a non-human identity that is a member of one project',
    body: admin.CreateServiceAccountRequest,
    response: admin.ServiceAccountResponse,
    cli: 'tare api admin service-accounts create --name N --customer C --project P --role R',
  },
  listServiceAccounts: {
    method: 'GET',
    path: '/v1/admin/service-accounts',
    persona: 'admin',
    service: 'Admin',
    summary: 'Service accounts, with their memberships',
    query: admin.ListServiceAccountsQuery,
    response: admin.ListServiceAccountsResponse,
    cli: 'tare api admin service-accounts list',
  },
  deleteServiceAccount: {
    method: 'DELETE',
    path: '/v1/admin/service-accounts/{identity_id}',
    persona: 'admin',
    service: 'Admin',
    summary: 'Revoke every key of a service account, then remove it and its memberships',
    params: admin.ServiceAccountPathParams,
    query: WaitQuery,
    response: admin.DeleteServiceAccountResponse,
    cli: 'tare api admin service-accounts delete ID',
  },
  listDataplanes: {
    method: 'GET',
    path: '/v1/admin/dataplanes',
    persona: 'admin',
    service: 'Admin',
    summary: 'Connected dataplanes with their applied cursor, lag and last contact',
    response: admin.ListDataplanesResponse,
    cli: 'tare api admin dataplanes list',
  },
  rotateSigningKey: {
    method: 'POST',
    path: '/v1/admin/signing-keys/rotate',
    persona: 'admin',
    service: 'Admin',
    summary: 'Publish a new signing key, then sign with it after the publish delay',
    body: admin.RotateSigningKeyRequest,
    response: admin.RotateSigningKeyResponse,
    cli: 'tare api admin signing-keys rotate',
  },
  rotateKek: {
    method: 'POST',
    path: '/v1/admin/keks/rotate',
    persona: 'admin',
    service: 'Admin',
    summary: 'Introduce a new key-encryption key and rewrap every data key under it',
    body: Empty,
    response: admin.RotateKekResponse,
    cli: 'tare api admin keks rotate',
  },
  // Listings and the audit trail (issue 12).
  listCustomers: {
    method: 'GET',
    path: '/v1/admin/customers',
    persona: 'admin',
    service: 'Admin',
    summary: 'Customers, oldest first, paged',
    query: admin.ListCustomersQuery,
    response: admin.ListCustomersResponse,
    cli: 'tare api admin customers list',
  },
  listProjects: {
    method: 'GET',
    path: '/v1/admin/customers/{customer_id}/projects',
    persona: 'admin',
    service: 'Admin',
    summary: "A customer's projects, oldest first, paged",
    params: admin.CustomerPathParams,
    query: admin.ListProjectsQuery,
    response: admin.ListProjectsResponse,
    cli: 'tare api admin projects list CUSTOMER',
  },
  listMembers: {
    method: 'GET',
    path: '/v1/admin/customers/{customer_id}/projects/{project_id}/members',
    persona: 'admin',
    service: 'Admin',
    summary: "A project's members with their roles, paged",
    params: admin.MembersPathParams,
    query: admin.ListMembersQuery,
    response: admin.ListMembersResponse,
    cli: 'tare api admin members list CUSTOMER PROJECT',
  },
  adminListKeys: {
    method: 'GET',
    path: '/v1/admin/keys',
    persona: 'admin',
    service: 'Admin',
    summary: 'Every API key (metadata only, never a token), filtered, paged',
    query: admin.AdminListKeysQuery,
    response: admin.AdminListKeysResponse,
    cli: 'tare api admin keys list',
  },
  listAudit: {
    method: 'GET',
    path: '/v1/admin/audit',
    persona: 'admin',
    service: 'Admin',
    summary: 'The audit trail, oldest first, filtered, paged',
    query: audit.ListAuditQuery,
    response: audit.ListAuditResponse,
    cli: 'tare api admin audit list',
  },
  resolveProviderKey: {
    method: 'POST',
    path: '/v1/internal/byok/resolve',
    persona: 'dataplane',
    service: 'Internal',
    summary:
      "The key serving an identity: its own user-scoped key, else the project's (newest first), with its plaintext",
    body: internal.ResolveProviderKeyRequest,
    response: internal.ResolveProviderKeyResponse,
  },
} as const satisfies Record<string, RouteSpec>

export type RouteId = keyof typeof routes

type Infer<T> = T extends z.ZodType ? z.output<T> : never
type InferIn<T> = T extends z.ZodType ? z.input<T> : never

/** What a route answers with. */
export type ResponseOf<R extends RouteId> = Infer<(typeof routes)[R]['response']>
/** What a route accepts as its JSON body. */
export type BodyOf<R extends RouteId> = (typeof routes)[R] extends { body: infer B } ? InferIn<B> : never
/** What a route accepts as its query. */
export type QueryOf<R extends RouteId> = (typeof routes)[R] extends { query: infer Q } ? InferIn<Q> : never
