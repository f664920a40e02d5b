/**
 * @module The stored login: `session.json` in the user's config directory, written with mode
 * 0600 (directory 0700) and replaced atomically, so a half-written file is never read and no
 * other user can read the token.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface StoredSession {
  /** The control plane the token was issued by; it is sent nowhere else. */
  base_url: string
  session_token: string
  expires_at: string
  identity_id: string
  email: string
}

export const SESSION_FILE = 'session.json'

export function sessionPath(configDir: string): string {
  return join(configDir, SESSION_FILE)
}

/** The stored session, or undefined when there is none (or it cannot be read as one). */
export function readSession(configDir: string): StoredSession | undefined {
  let text: string
  try {
    text = readFileSync(sessionPath(configDir), 'utf8')
  } catch {
    return undefined
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredSession>
    if (typeof parsed.session_token !== 'string' || typeof parsed.base_url !== 'string') return undefined
    return parsed as StoredSession
  } catch {
    return undefined
  }
}

export function writeSession(configDir: string, session: StoredSession): string {
  mkdirSync(configDir, { recursive: true, mode: 0o700 })
  const path = sessionPath(configDir)
  const temp = `${path}.${process.pid}.tmp`
  writeFileSync(temp, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 })
  chmodSync(temp, 0o600)
  renameSync(temp, path)
  return path
}

export function deleteSession(configDir: string): boolean {
  const path = sessionPath(configDir)
  try {
    rmSync(path)
    return true
  } catch {
    return false
  }
}

/** Whether the session's `expires_at` has passed. */
export function isExpired(session: StoredSession, now = Date.now()): boolean {
  const at = Date.parse(session.expires_at)
  return Number.isFinite(at) && at <= now
}
