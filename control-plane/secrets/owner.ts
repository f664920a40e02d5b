/**
 * @module Whose secret a request means, and who may touch it. Secrets are unique per (owner,
 * realm, name); the owner is the caller unless `user_id` names another one, which needs an
 * internal scope (`secrets/write/internal` to write, either internal scope to read). The system
 * realms always belong to `system`, whatever `user_id` says, and are system-only: over the secret
 * API they are written (create, rotate, delete) only with `secrets/write/internal`, their owning
 * services (the AI keys) writing through `Secrets.put` and `shred`; and their plaintext leaves
 * only through BYOK resolution, never through `value`, whoever asks.
 */
import { DEFAULT_REALM, SYSTEM_OWNER, SYSTEM_REALMS } from '../../shared/contract/secrets.ts'
import { ApiError } from '../../shared/errors.ts'

/** Who is asking, in the terms the secret rules need. */
export interface SecretCaller {
  identityId: string
  /** The credential's JTI: what the audit of plaintext reads records. */
  credentialId: string
  internalRead: boolean
  internalWrite: boolean
}

export type Access = 'read' | 'write'

export const isSystemRealm = (realm: string): boolean => (SYSTEM_REALMS as readonly string[]).includes(realm)

export const realmOrDefault = (realm: string | undefined): string => realm ?? DEFAULT_REALM

/** True when the caller may act on secrets of `owner` in `realm`. */
export function mayActFor(caller: SecretCaller, owner: string, realm: string, access: Access): boolean {
  if (isSystemRealm(realm) || owner === caller.identityId) return true
  return access === 'write' ? caller.internalWrite : caller.internalRead || caller.internalWrite
}

/** The owner a request addresses, or `permission_denied` naming `user_id`. */
export function ownerFor(
  caller: SecretCaller,
  realm: string,
  requestedOwner: string | undefined,
  access: Access,
): string {
  if (isSystemRealm(realm)) return SYSTEM_OWNER
  const owner = requestedOwner ?? caller.identityId
  if (mayActFor(caller, owner, realm, access)) return owner
  const scope = access === 'write' ? 'secrets/write/internal' : 'secrets/read/internal'
  throw new ApiError('permission_denied', `user_id: acting for another owner needs the ${scope} scope`, [
    { field: 'user_id', description: `needs the ${scope} scope` },
  ])
}

/** `permission_denied` naming `realm` unless the caller may write secrets of a system realm. */
export function requireMayWriteRealm(caller: SecretCaller, realm: string): void {
  if (!isSystemRealm(realm) || caller.internalWrite) return
  throw new ApiError(
    'permission_denied',
    `realm: "${realm}" belongs to system; its secrets are written by their owning service (the AI-keys endpoints for byok) or with the secrets/write/internal scope`,
    [{ field: 'realm', description: `"${realm}" is a system realm: needs the secrets/write/internal scope` }],
  )
}

/** `permission_denied` naming `realm`: plaintext of a system realm is never a `value` answer. */
export function systemValueRefused(realm: string): ApiError {
  return new ApiError(
    'permission_denied',
    `realm: the plaintext of "${realm}" secrets is read only by dataplanes through BYOK resolution, never through value`,
    [{ field: 'realm', description: `"${realm}" is a system realm: its values are not served` }],
  )
}
