/**
 * @module Where a credential is found on a request, and the one normalisation it gets: API keys
 * are issued as `ak-<jwt>`, and the documents' examples send both `Bearer $KEY` and
 * `Bearer ak-$KEY`, so every leading `ak-` is dropped before the JWT is read.
 */

export const API_KEY_PREFIX = 'ak-'
export const SESSION_COOKIE = 'agentrouter_session'

/** Strips the `ak-` prefixes an API key may carry. A JWT itself never starts with one. */
export function stripKeyPrefix(token: string): string {
  let t = token
  while (t.startsWith(API_KEY_PREFIX)) t = t.slice(3)
  return t
}

/**
 * The token of an `Authorization: Bearer …` header value, prefix removed; `undefined` when the
 * header is absent or not a bearer credential.
 */
export function tokenFromAuthorization(header: string | undefined): string | undefined {
  if (!header || header.length < 8) return undefined
  // Case-insensitive "Bearer " without allocating a lowered copy.
  if ((header.charCodeAt(0) | 32) !== 98 || header.slice(1, 7).toLowerCase() !== 'earer ') return undefined
  const token = header.slice(7).trim()
  return token ? stripKeyPrefix(token) : undefined
}

/** The session token carried by a `Cookie` header, if any. */
export function tokenFromCookie(header: string | undefined): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim()
      return value || undefined
    }
  }
  return undefined
}
