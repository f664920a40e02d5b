/**
 * @module The dataplane's HTTP server and its per-request path: route, authenticate from the
 * local caches, find the provider key, hand the request to an `Exchange`.
 *
 * It is `node:http` directly rather than the Hono app the control plane uses: converting every
 * request and response to web `Request`/`Response` objects and back costs more than the whole
 * auth check, and the proxy must stay within 0.8× a bare undici pass-through (issue 6). Nothing
 * on this path logs or awaits when the caches can answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AuthCheck, AuthOutcome } from '../auth/auth-check.ts'
import { credentialOf } from '../auth/credential.ts'
import type { ProviderKeyCache } from '../byok/provider-key-cache.ts'
import type { DataplaneMetrics } from '../metrics.ts'
import { Exchange, type ExchangeDeps } from '../proxy/exchange.ts'
import { type ProviderRoute, routeOf } from '../proxy/providers/index.ts'
import type { Upstreams } from '../proxy/upstreams.ts'
import type { KeySet } from '../sync/key-set.ts'
import { type Context, propagatedFields, requestContext, startSpan } from '../tracing.ts'
import { rawErrorResponse, send } from './errors.ts'
import type { OpsRoutes } from './ops.ts'

/** The longest a request with an unknown `kid` waits for the JWKS fetch it started or joined. */
const UNKNOWN_KID_WAIT_MS = 2_000

export interface ServerDeps {
  auth: AuthCheck
  keys: KeySet
  byok: ProviderKeyCache
  upstreams: Upstreams
  metrics: DataplaneMetrics
  ops: OpsRoutes
  bodyLimitBytes: number
}

export function createDataplaneServer(deps: ServerDeps): Server {
  const handler = new RequestHandler(deps)
  const server = createServer({ keepAliveTimeout: 65_000, noDelay: true }, (req, res) =>
    handler.handle(req, res),
  )
  // What node's parser refuses (oversized headers, malformed requests) still gets the contract's JSON.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy()
      return
    }
    const message =
      err.code === 'HPE_HEADER_OVERFLOW' ? 'request headers too large' : 'malformed HTTP request'
    socket.end(rawErrorResponse('invalid_argument', message))
  })
  return server
}

class RequestHandler {
  readonly #deps: ServerDeps
  readonly #exchangeDeps: ExchangeDeps

  constructor(deps: ServerDeps) {
    this.#deps = deps
    this.#exchangeDeps = {
      metrics: deps.metrics,
      bodyLimitBytes: deps.bodyLimitBytes,
      traceFields: propagatedFields(),
    }
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/'
    const route = routeOf(url)
    if (route === undefined) {
      this.#deps.ops.handle(req, res)
      return
    }
    // A dot segment could walk the upstream path out of the provider's API.
    if (hasDotSegment(url)) {
      send(res, 'invalid_argument', 'path: dot segments are not allowed')
      return
    }
    const token = credentialOf(req.headers)
    const trace = requestContext(req.headers)
    const span = startSpan('dataplane.auth', trace)
    const startedAt = performance.now()
    const outcome = this.#deps.auth.check(token)
    this.#deps.metrics.authDuration.observe((performance.now() - startedAt) / 1000)
    span.end()
    this.#authorized(req, res, route, trace, token, outcome, false)
  }

  #authorized(
    req: IncomingMessage,
    res: ServerResponse,
    route: ProviderRoute,
    trace: Context,
    token: string | undefined,
    outcome: AuthOutcome,
    retried: boolean,
  ): void {
    const { metrics } = this.#deps
    if (!outcome.ok) {
      // A `kid` we do not hold: the set is being refetched (single-flight, rate limited), and
      // this request waits for that fetch (at most UNKNOWN_KID_WAIT_MS) rather than failing a
      // token signed by a key published a moment ago. With no fetch running (rate limited), it
      // is refused at once.
      const pending = outcome.reason === 'unknown_key' && !retried ? this.#deps.keys.pending : undefined
      if (pending) {
        let timer: NodeJS.Timeout | undefined
        const bounded = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, UNKNOWN_KID_WAIT_MS)
        })
        Promise.race([pending, bounded]).then(() => {
          clearTimeout(timer)
          this.#authorized(req, res, route, trace, token, this.#deps.auth.check(token), true)
        })
        return
      }
      metrics.authDecision(outcome.reason).value++
      send(res, outcome.code, outcome.message)
      return
    }
    metrics.authDecision('ok').value++
    const provider = route.adapter.provider
    const span = startSpan('dataplane.byok', trace)
    const key = this.#deps.byok.get(outcome.claims, provider)
    if (key instanceof Promise) {
      const end = () => span.end()
      key.then(end, end)
    } else span.end()
    new Exchange(req, res, route, this.#deps.upstreams.get(provider), trace, this.#exchangeDeps).start(key)
  }
}

const DOT_SEGMENT = /\/(\.|%2e){1,2}(\/|\?|$)/i

function hasDotSegment(url: string): boolean {
  const q = url.indexOf('?')
  return DOT_SEGMENT.test(q < 0 ? url : url.slice(0, q + 1))
}
