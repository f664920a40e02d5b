/**
 * @module The control plane's Hono application: middleware (metrics, CSRF, body limit, errors)
 * and every service's routes.
 */
import { randomUUID } from 'node:crypto'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context } from 'hono'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { ApiError, invalidArgument } from '../../shared/errors.ts'
import { withRequest } from '../audit/request-context.ts'
import type { Services } from '../services.ts'
import type { Authenticator } from './authenticate.ts'
import { csrfGuard } from './csrf.ts'
import { errorResponse, toApiError } from './errors.ts'
import { Router } from './route.ts'
import { adminRoutes } from './services/admin.ts'
import { authRoutes } from './services/auth.ts'
import { loginRoutes } from './services/login.ts'
import { meRoutes } from './services/me.ts'
import { opsRoutes } from './services/ops.ts'
import { tokenRoutes } from './services/tokens.ts'

/** Registers more routes; secrets and AI keys plug in here. */
export type RouteModule = (router: Router, s: Services) => void

export function buildApp(s: Services, auth: Authenticator, extra: RouteModule[], version: string): Hono {
  const app = new Hono()
  const limit = s.config.bodyLimitBytes

  // Every request gets an id (the client's X-Request-Id when it is a plain token) and its address,
  // carried in the async context for the audit trail, and the id is echoed back.
  app.use('*', async (c, next) => {
    const requestId = requestIdOf(c.req.header('x-request-id'))
    await withRequest({ requestId, clientAddress: clientAddressOf(c) }, next)
    c.header('X-Request-Id', requestId)
  })
  app.use('*', async (c, next) => {
    const started = performance.now()
    await next()
    const route = c.req.routePath === '/*' ? 'unmatched' : c.req.routePath
    s.metrics.httpRequests.inc({ method: c.req.method, route, code: String(c.res.status) })
    s.metrics.httpDuration.observe({ method: c.req.method, route }, (performance.now() - started) / 1000)
  })
  app.use(
    '*',
    csrfGuard({
      ownOrigin: s.config.publicUrl ? new URL(s.config.publicUrl).origin : undefined,
      allowedOrigins: s.config.allowedOrigins,
    }),
  )
  app.use(
    '*',
    bodyLimit({
      maxSize: limit,
      onError: (c) => errorResponse(c, invalidArgument('body', `larger than the ${limit}-byte limit`)),
    }),
  )

  opsRoutes(app, s, version)
  const router = new Router(app, auth, (routeId, target) => {
    // Refusals are counted per credential, route and minute, never written one per request: any
    // authenticated caller can make them as fast as it likes. A dataplane's refused resolutions
    // are already counted as `byok.resolve` (denied), per key.
    if (routeId === 'resolveProviderKey') return
    s.auditTally.count('request.denied', target, 'denied')
  })
  for (const register of [loginRoutes, meRoutes, tokenRoutes, authRoutes, adminRoutes, ...extra])
    register(router, s)

  app.notFound((c) =>
    errorResponse(c, new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`)),
  )
  app.onError((err, c) => errorResponse(c, toApiError(err, s.log, `${c.req.method} ${c.req.path}`)))
  return app
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

function requestIdOf(given: string | undefined): string {
  return given && REQUEST_ID.test(given) ? given : randomUUID()
}

/** The socket's address: no proxy header is trusted (there is no trusted-proxy setting). */
function clientAddressOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? ''
  } catch {
    return ''
  }
}
