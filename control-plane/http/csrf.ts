/**
 * @module Refuses what a foreign web page can make a logged-in browser send (cross-site request
 * forgery), before any route runs.
 *
 * - A request with a body, and every unsafe request that declares a `Content-Type`, must declare
 *   `application/json`. The types a page may send without a CORS preflight (`text/plain`, forms,
 *   none at all) are refused, so a page can never get a body past the preflight the browser
 *   would otherwise make.
 * - A state-changing request authenticated by the session cookie (no `Authorization: Bearer`)
 *   must come from the control plane's own origin or an allowed one: `Origin` must be one of
 *   them, and `Sec-Fetch-Site: cross-site` is refused unless the origin is explicitly allowed.
 *   Browsers send `Origin` on every POST, PUT, PATCH and DELETE, same-origin ones included, so
 *   a cookie request with neither header is not from a page we serve and is refused (fail
 *   closed); programs authenticate with a bearer, which a page cannot attach on its own.
 *
 * Hono's `csrf` middleware checks only form content types, lets bearer requests through the same
 * check, and answers plain text: it does not fit, hence this module.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { ApiError, invalidArgument } from '../../shared/errors.ts'
import { tokenFromAuthorization, tokenFromCookie } from '../../shared/tokens/bearer.ts'

export interface CsrfOptions {
  /** The control plane's own origin (from `AGENTROUTER_PUBLIC_URL`); absent, each request's `Host`. */
  ownOrigin: string | undefined
  /** Further origins whose pages may call with the session cookie (`AGENTROUTER_ALLOWED_ORIGINS`). */
  allowedOrigins: readonly string[]
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const JSON_TYPE = /^application\/json[\t ]*(;|$)/i

export function csrfGuard(options: CsrfOptions): MiddlewareHandler {
  const allowed = new Set(options.allowedOrigins)
  return async (c, next) => {
    const unsafe = !SAFE_METHODS.has(c.req.method)
    if (unsafe && cookieAuthenticated(c)) requireOwnOrigin(c, options.ownOrigin, allowed)
    if (unsafe || hasBody(c)) requireJson(c)
    await next()
  }
}

/** The session cookie is the credential: no bearer, which the authenticator would prefer. */
function cookieAuthenticated(c: Context): boolean {
  return (
    tokenFromAuthorization(c.req.header('authorization')) === undefined &&
    tokenFromCookie(c.req.header('cookie')) !== undefined
  )
}

function hasBody(c: Context): boolean {
  const length = c.req.header('content-length')
  return c.req.header('transfer-encoding') !== undefined || (length !== undefined && length !== '0')
}

function requireJson(c: Context): void {
  const type = c.req.header('content-type')
  if (type === undefined) {
    if (hasBody(c)) throw invalidArgument('Content-Type', 'required with a body: application/json')
    return
  }
  if (!JSON_TYPE.test(type)) throw invalidArgument('Content-Type', 'must be application/json')
}

function requireOwnOrigin(c: Context, configured: string | undefined, allowed: Set<string>): void {
  const origin = c.req.header('origin')
  const site = c.req.header('sec-fetch-site')
  if (origin !== undefined) {
    if (allowed.has(origin)) return
    if (origin !== (configured ?? requestOrigin(c))) throw refused(origin, 'is not an allowed origin')
    if (site === 'cross-site') throw refused(origin, 'arrived with Sec-Fetch-Site: cross-site')
    return
  }
  if (site === 'same-origin') return
  throw refused(
    undefined,
    site === undefined
      ? 'a cookie-authenticated request needs an Origin header (browsers send one)'
      : `Sec-Fetch-Site: ${site.slice(0, 32)} without an Origin header`,
  )
}

/** The origin the browser addressed: its `Host`, with the scheme a TLS-terminating proxy reports. */
function requestOrigin(c: Context): string | undefined {
  const host = c.req.header('host')
  if (!host) return undefined
  const forwarded = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase()
  const scheme =
    forwarded === 'https' || forwarded === 'http' ? forwarded : new URL(c.req.url).protocol.slice(0, -1)
  try {
    return new URL(`${scheme}://${host}`).origin
  } catch {
    return undefined
  }
}

function refused(origin: string | undefined, why: string): ApiError {
  const shown = origin === undefined ? 'none' : JSON.stringify(origin.slice(0, 200))
  const description = `${why}; cookie-authenticated changes are accepted only from the control plane's own origin or AGENTROUTER_ALLOWED_ORIGINS (API clients send Authorization: Bearer)`
  return new ApiError('permission_denied', `Origin ${shown}: ${description}`, [
    { field: 'Origin', description, ...(origin === undefined ? {} : { origin: origin.slice(0, 200) }) },
  ])
}
