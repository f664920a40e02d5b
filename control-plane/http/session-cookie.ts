/**
 * @module The session cookie: HttpOnly, SameSite=Lax, Secure whenever the request came over TLS.
 */
import type { Context } from 'hono'
import { SESSION_COOKIE } from '../../shared/tokens/bearer.ts'

const overTls = (c: Context): boolean =>
  new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https'

export function setSessionCookie(c: Context, token: string, expiresAtMicros: number): void {
  const maxAge = Math.max(0, Math.floor((expiresAtMicros / 1000 - Date.now()) / 1000))
  c.header('set-cookie', cookie(c, token, maxAge))
}

export function clearSessionCookie(c: Context): void {
  c.header('set-cookie', cookie(c, '', 0))
}

function cookie(c: Context, value: string, maxAge: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${overTls(c) ? '; Secure' : ''}`
}
