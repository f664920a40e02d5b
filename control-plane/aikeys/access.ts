/**
 * @module Who may do what with a project's AI keys, as the AiKeys document says: any member
 * registers, reads and revokes their OWN user-scoped keys; project-level keys are read by every
 * member and registered or revoked only by the project's owner; nobody reads or revokes another
 * user's user-scoped key; a non-member may do nothing.
 *
 * An admin (admin key, or an admin identity's session) counts as the owner of every project for
 * project-level keys. A user-scoped key serves one member's own traffic, so an admin who is not
 * that member neither registers one nor sees or revokes another user's.
 */
import type { Role } from '../../shared/contract/me.ts'
import { ApiError } from '../../shared/errors.ts'
import type { AiKeyRow } from '../store/aikeys.ts'

export interface AiKeyCaller {
  identityId: string
  isAdmin: boolean
}

/** The caller's standing in one project. */
export interface Standing {
  caller: AiKeyCaller
  projectId: string
  role: Role | undefined
}

const deny = (message: string): never => {
  throw new ApiError('permission_denied', message)
}

const managesProjectKeys = (s: Standing): boolean => s.role === 'owner' || s.caller.isAdmin

/** Any access at all needs membership (or the admin persona). */
export function requireAccess(s: Standing): void {
  if (s.role === undefined && !s.caller.isAdmin) deny(`the caller is not a member of project ${s.projectId}`)
}

export function requireMayRegister(s: Standing, userScope: boolean): void {
  requireAccess(s)
  if (userScope) {
    if (s.role === undefined) {
      deny(`a user-scoped key belongs to a member of project ${s.projectId}, and the caller is not one`)
    }
  } else if (!managesProjectKeys(s)) {
    deny(`registering a project-level key needs the owner of project ${s.projectId}`)
  }
}

/** Whether the caller may see the key's metadata (list shows exactly these). */
export function maySee(s: Standing, key: AiKeyRow): boolean {
  return key.user_scope === 0 || key.owner_id === s.caller.identityId
}

export function requireMaySee(s: Standing, key: AiKeyRow): void {
  if (!maySee(s, key)) deny(`AI key ${key.id} is user-scoped to another user`)
}

export function requireMayRevoke(s: Standing, key: AiKeyRow): void {
  if (key.user_scope === 1) {
    if (key.owner_id !== s.caller.identityId) deny(`AI key ${key.id} is user-scoped to another user`)
  } else if (!managesProjectKeys(s)) {
    deny(`revoking a project-level key needs the owner of project ${s.projectId}`)
  }
}
