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
import type { Duplex } from 'node:stream'
import { ApiError } from '../../shared/errors.ts'
import { AUTH_REFUSALS, type AuthCheck, type AuthOutcome, type RefusalReason } from '../auth/auth-check.ts'
import { credentialOf } from '../auth/credential.ts'
import type { KeyUsage } from '../auth/key-usage.ts'
import type { ProviderKeyCache } from '../byok/provider-key-cache.ts'
import type { DataplaneMetrics } from '../metrics.ts'
import type { BodyBudget } from '../proxy/body-budget.ts'
import { Exchange, type ExchangeDeps } from '../proxy/exchange.ts'
import { type ProviderRoute, routeOf } from '../proxy/providers/index.ts'
import type { Upstream, Upstreams } from '../proxy/upstreams.ts'
import type { KeySet } from '../sync/key-set.ts'
import { type Context, detectTracing, propagatedFields, requestContext, startSpan } from '../tracing.ts'
import { type Dialect, PreparedError, rawErrorResponse, sendError } from './errors.ts'
import type { OpsRoutes } from './ops.ts'

/**
 * The header a request names its project with (an unbound key or a session); a bound key's
 * project cannot be overridden. Never forwarded upstream (`proxy/headers.ts`).
 */
export const PROJECT_HEADER = 'x-agentrouter-project'
const PROJECT_ID = /^proj_[0-9A-HJKMNP-TV-Z]{26}$/

/** The longest a request with an unknown `kid` waits for the JWKS fetch it started or joined. */
const UNKNOWN_KID_WAIT_MS = 2_000
/**
 * One auth check in this many is timed for `agentrouter_dp_auth_check_duration_seconds` (a power
 * of two): a clock read costs about 0.2 µs on a VM, and timing each ~0.3 µs check took two.
 */
const AUTH_TIMING_SAMPLE = 16

export interface ServerDeps {
  auth: AuthCheck
  /** Records the API keys served, for their `last_used_at` (reported off the request path). */
  keyUsage: KeyUsage
  keys: KeySet
  byok: ProviderKeyCache
  upstreams: Upstreams
  metrics: DataplaneMetrics
  ops: OpsRoutes
  bodyLimitBytes: number
  bodyBudget: BodyBudget
  /** How long a client may take to send its request headers, and its whole request. */
  headersTimeoutMs: number
  requestTimeoutMs: number
}

export function createDataplaneServer(deps: ServerDeps): Server {
  const handler = new RequestHandler(deps)
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      noDelay: true,
      // Node measures both from the request's first byte (from the connection, for its first
      // request), however slowly the bytes trickle, but only notices on its periodic check
      // (30 s by default): checked often enough that a socket outlives its timeout by a quarter.
      headersTimeout: deps.headersTimeoutMs,
      requestTimeout: deps.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(deps.headersTimeoutMs / 4))),
    },
    (req, res) => handler.handle(req, res),
  )
  // What node's parser refuses (oversized headers, malformed requests) and requests that did not
  // arrive in time still get a JSON error; then the socket is destroyed, never left half-open.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const res = pendingResponse(socket)
    if (!socket.writable || err.code === 'ECONNRESET' || res?.headersSent === true) {
      socket.destroy()
      return
    }
    answerAndDestroy(socket, transportErrorResponse(err, deps, dialectOf(res)))
  })
  return server
}

function transportErrorResponse(err: NodeJS.ErrnoException, deps: ServerDeps, dialect: Dialect): string {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return rawErrorResponse('invalid_argument', 'request headers too large', undefined, dialect)
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      // 408, not the 504 of `deadline_exceeded`: the client was too slow, not an upstream.
      return rawErrorResponse(
        'deadline_exceeded',
        `request not received in time (headers within ${deps.headersTimeoutMs} ms, ` +
          `the whole request within ${deps.requestTimeoutMs} ms)`,
        408,
        dialect,
      )
    default:
      return rawErrorResponse('invalid_argument', 'malformed HTTP request', undefined, dialect)
  }
}

/** The response of the request node parsed on this socket, if its head was parsed. */
function pendingResponse(socket: Duplex): ServerResponse | undefined {
  return (socket as { _httpMessage?: ServerResponse })._httpMessage
}

/**
 * A transport error after the request line was parsed (a body too slow) answers in its route's
 * dialect; before (headers too slow, too large, malformed), no route is known: the contract's.
 */
function dialectOf(res: ServerResponse | undefined): Dialect {
  const url = (res as { req?: IncomingMessage } | undefined)?.req?.url
  return (url !== undefined ? routeOf(url)?.dialect : undefined) ?? 'contract'
}

/**
 * Writes the answer and destroys the socket once it is flushed. `end` alone only half-closes:
 * node's server allows half-open sockets, and a client that never closes its side would hold it.
 */
function answerAndDestroy(socket: Duplex, response: string): void {
  socket.end(response, () => socket.destroy())
  // Not flushed at once: the peer is not reading, and is not waited for.
  if (socket.writableLength > 0) socket.destroy()
}

class RequestHandler {
  readonly #deps: ServerDeps
  readonly #exchangeDeps: ExchangeDeps
  /** Each auth refusal's response, built once in every dialect. */
  readonly #refusals = new Map<RefusalReason, PreparedError>()
  readonly #badProjectHeader = new PreparedError(
    'invalid_argument',
    `${PROJECT_HEADER}: must be one project id, proj_<ulid>`,
    [{ field: PROJECT_HEADER, description: 'must be proj_<ulid>' }],
  )
  #authChecks = 0

  constructor(deps: ServerDeps) {
    this.#deps = deps
    detectTracing()
    for (const r of Object.values(AUTH_REFUSALS))
      this.#refusals.set(r.reason, new PreparedError(r.code, r.message))
    this.#exchangeDeps = {
      metrics: deps.metrics,
      bodyLimitBytes: deps.bodyLimitBytes,
      bodyBudget: deps.bodyBudget,
      traceFields: propagatedFields(),
      tooLarge: new PreparedError(
        'invalid_argument',
        `body: larger than ${deps.bodyLimitBytes} bytes, the most this dataplane forwards: send a smaller request`,
        [{ field: 'body', description: `at most ${deps.bodyLimitBytes} bytes` }],
      ),
      exhausted: new PreparedError(
        'resource_exhausted',
        'request bodies: the dataplane is buffering all it may across in-flight requests; ' +
          'retry after the Retry-After header',
        [
          {
            field: 'body',
            description: `at most ${deps.bodyBudget.limit} bytes are buffered across in-flight requests`,
          },
        ],
      ),
    }
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/'
    const route = routeOf(url)
    if (route === undefined) {
      this.#deps.ops.handle(req, res)
      return
    }
    // Only the provider's inference API, and nothing that could walk out of it once decoded.
    const upstream = this.#deps.upstreams.get(route.adapter.provider)
    const refused = upstream.paths.refusal(url, route.strip)
    if (refused !== undefined) {
      sendError(res, refused, route.dialect)
      return
    }
    const token = credentialOf(req.headers)
    const trace = requestContext(req)
    const span = startSpan('dataplane.auth', trace)
    const timed = (++this.#authChecks & (AUTH_TIMING_SAMPLE - 1)) === 0
    const startedAt = timed ? performance.now() : 0
    const outcome = this.#deps.auth.check(token)
    if (timed) this.#deps.metrics.authDuration.observe((performance.now() - startedAt) / 1000)
    span.end()
    this.#authorized(req, res, route, upstream, trace, token, outcome, false)
  }

  #authorized(
    req: IncomingMessage,
    res: ServerResponse,
    route: ProviderRoute,
    upstream: Upstream,
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
          this.#authorized(req, res, route, upstream, trace, token, this.#deps.auth.check(token), true)
        })
        return
      }
      metrics.authDecision(outcome.reason).value++
      this.#refusals.get(outcome.reason)!.send(res, route.dialect)
      return
    }
    metrics.authDecision('ok').value++
    const { claims } = outcome
    // One header read; nothing more unless a request names a project.
    const named = req.headers[PROJECT_HEADER]
    let selected: string | undefined
    if (named !== undefined && named !== claims.pid) {
      if (typeof named !== 'string' || !PROJECT_ID.test(named)) {
        this.#badProjectHeader.send(res, route.dialect)
        return
      }
      if (claims.bound === true) {
        sendError(
          res,
          new ApiError(
            'permission_denied',
            `this key is bound to project ${claims.pid}, not ${named}: drop the ${PROJECT_HEADER} ` +
              'header, or use a key of that project (`tare api keys create --project ' +
              `${named}\`)`,
            [{ field: PROJECT_HEADER, description: `the key is bound to ${claims.pid}` }],
          ),
          route.dialect,
        )
        return
      }
      selected = named
    }
    if (claims.use === 'api_key') this.#deps.keyUsage.record(claims.jti)
    const provider = route.adapter.provider
    const span = startSpan('dataplane.byok', trace)
    const key = this.#deps.byok.get(claims, provider, selected)
    if (key instanceof Promise) {
      const end = () => span.end()
      key.then(end, end)
    } else span.end()
    new Exchange(req, res, route, upstream, trace, this.#exchangeDeps).start(key)
  }
}
