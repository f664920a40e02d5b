/**
 * @module The client's request and response types under the names the API documents use
 * (`GetMeResponse`, `IssueMyKeyResponse`, …), all derived from the contract's route table.
 */
import type { Provider } from '../contract/aikeys.ts'
import type { ResponseOf } from '../contract/routes.ts'
import type { KEY_TYPES } from '../tokens/claims.ts'

// Me
export type LoginResponse = ResponseOf<'login'>
export type CallbackResponse = ResponseOf<'callback'>
export type LogoutResponse = ResponseOf<'logout'>
export type GetMeResponse = ResponseOf<'getMe'>
export type IssueMyKeyResponse = ResponseOf<'issueKey'>
export type ListMyKeysResponse = ResponseOf<'listKeys'>
export type RevokeMyKeyResponse = ResponseOf<'revokeKey'>

// AiKeys
export type RegisterAiKeyResponse = ResponseOf<'registerAiKey'>
export type GetAiKeyResponse = ResponseOf<'getAiKey'>
export type ListAiKeysResponse = ResponseOf<'listAiKeys'>
export type RevokeAiKeyResponse = ResponseOf<'revokeAiKey'>

// Tokens, Auth
export type GetRevocationListResponse = ResponseOf<'getRevocationList'>
export type GetJWKSResponse = ResponseOf<'getJwks'>

// Secret
export type CreateSecretResponse = ResponseOf<'createSecret'>
export type GetSecretResponse = ResponseOf<'getSecret'>
export type ListSecretsResponse = ResponseOf<'listSecrets'>
export type DeleteSecretResponse = ResponseOf<'deleteSecret'>
export type RotateSecretResponse = ResponseOf<'rotateSecret'>
export type ValidateSecretResponse = ResponseOf<'validateSecret'>
export type GetSecretValueResponse = ResponseOf<'getSecretValue'>

// Admin, internal
export type CustomerResponse = ResponseOf<'createCustomer'>
export type ProjectResponse = ResponseOf<'createProject'>
export type MemberResponse = ResponseOf<'putMember'>
export type DeleteMemberResponse = ResponseOf<'deleteMember'>
export type ListIdentitiesResponse = ResponseOf<'listIdentities'>
export type AdminIssueKeyResponse = ResponseOf<'adminIssueKey'>
export type ListDataplanesResponse = ResponseOf<'listDataplanes'>
export type RotateSigningKeyResponse = ResponseOf<'rotateSigningKey'>
export type RotateKekResponse = ResponseOf<'rotateKek'>
export type ResolveProviderKeyResponse = ResponseOf<'resolveProviderKey'>
export type ListCustomersResponse = ResponseOf<'listCustomers'>
export type ListProjectsResponse = ResponseOf<'listProjects'>
export type ListMembersResponse = ResponseOf<'listMembers'>
export type AdminListKeysResponse = ResponseOf<'adminListKeys'>
export type ListAuditResponse = ResponseOf<'listAudit'>

// Records
export type Customer = CustomerResponse['customer']
export type Project = ProjectResponse['project']
export type Member = MemberResponse['member']
export type Dataplane = ListDataplanesResponse['dataplanes'][number]
export type Enforcement = NonNullable<RevokeMyKeyResponse['enforcement']>

export type KeyType = (typeof KEY_TYPES)[number]
/** `openai`, `anthropic`, or their `PROVIDER_OPENAI`-style names; the server checks the value. */
export type AIKeyProvider = Provider | `PROVIDER_${Uppercase<Provider>}` | (string & {})
