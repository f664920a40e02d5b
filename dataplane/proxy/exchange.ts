/**
 * @module One forwarded request: buffer the client's body (bounded), wait for the provider key,
 * dispatch to the upstream pool, and stream the response straight into the node response.
 *
 * The exchange is its own undici dispatch handler (undici's native callback interface, which
 * skips the per-request controller and header-object conversion of the newer one): response
 * headers go from undici's raw form to node's flat form, each body chunk is written as it
 * arrives (SSE passes through unbuffered), the upstream is paused whenever the client's socket
 * pushes back and resumed on `drain`, and the upstream request is aborted the moment the
 * client goes away. A non-2xx response goes through `key-echo.ts` first, so the provider key
 * never comes back to the caller. Nothing here logs: failures become an error in the route's
 * dialect (`http/errors.ts`) or a cut stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import type { ProviderKey } from '../byok/provider-key-cache.ts'
import { type PreparedError, sendError } from '../http/errors.ts'
import type { DataplaneMetrics } from '../metrics.ts'
import { type Context, injectTrace, type Span, startSpan } from '../tracing.ts'
import type { BodyBudget } from './body-budget.ts'
import { connectionListed, downstreamHeaders, hasContentLength, upstreamHeaders } from './headers.ts'
import { bufferedErrorHeaders, type ErrorBodyMasker, maskError, withheldBody } from './key-echo.ts'
import type { ProviderRoute } from './providers/index.ts'
import { upstreamError } from './upstream-errors.ts'
import type { Upstream } from './upstreams.ts'

export interface ExchangeDeps {
  metrics: DataplaneMetrics
  bodyLimitBytes: number
  /** Request-body bytes buffered across all exchanges. */
  bodyBudget: BodyBudget
  /** Trace headers a registered propagator writes (replaced, not passed through). */
  traceFields: ReadonlySet<string> | undefined
  /** The refusals of a body over `bodyLimitBytes`, and of one the budget cannot hold (built once). */
  tooLarge: PreparedError
  exhausted: PreparedError
}

const CLIENT_GONE = new Error('the client went away')
/** The exchange a request or response belongs to: lets shared listener functions find it. */
const EXCHANGE = Symbol('exchange')
type Carrier = { [EXCHANGE]?: Exchange }

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage
  readonly #res: ServerResponse
  readonly #route: ProviderRoute
  readonly #upstream: Upstream
  readonly #trace: Context
  readonly #deps: ExchangeDeps
  #chunks: Buffer[] = []
  #bodyBytes = 0
  #bodyDone = false
  /** Bytes this exchange holds of the body budget: released once, when the exchange is over. */
  #reserved = 0
  #key: ProviderKey | undefined
  #abort: ((err: Error) => void) | undefined
  #resume: (() => void) | undefined
  #span: Span | undefined
  #startedAt = 0
  #status = 0
  #corked = false
  /** A non-2xx response: its body is masked on the way (see `key-echo.ts`). */
  #masker: ErrorBodyMasker | undefined
  /** Its headers, when its body is buffered and the headers wait for it. */
  #heldHeaders: string[] | undefined
  /** The exchange is over: answered, failed, or abandoned by the client. */
  #finished = false

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    route: ProviderRoute,
    upstream: Upstream,
    trace: Context,
    deps: ExchangeDeps,
  ) {
    this.#req = req
    this.#res = res
    this.#route = route
    this.#upstream = upstream
    this.#trace = trace
    this.#deps = deps
  }

  /** Starts reading the body; forwards once the body and the key are both there. */
  start(key: ProviderKey | Promise<ProviderKey>): void {
    const req = this.#req
    const declared = Number(req.headers['content-length'])
    if (declared > this.#deps.bodyLimitBytes) {
      this.#tooLarge()
      return
    }
    // A declared body is admitted whole or not at all, before any of it is read: no request is
    // cut off mid-body, and a refused one is answered at once (node discards its body unread).
    if (declared > 0) {
      if (!this.#deps.bodyBudget.reserve(declared)) {
        this.#exhausted(false)
        return
      }
      this.#reserved = declared
    }
    // Listeners are shared functions that find the exchange on the emitter, not closures made
    // per request: this is the hot path.
    ;(req as Carrier)[EXCHANGE] = this
    ;(this.#res as Carrier)[EXCHANGE] = this
    this.#res.on('close', Exchange.#onClientClose)
    req.on('data', Exchange.#onBodyChunk)
    req.on('end', Exchange.#onBodyEnd)
    req.on('error', Exchange.#onClientClose)
    if (key instanceof Promise) {
      key.then(
        (k) => {
          this.#key = k
          this.#forwardWhenReady()
        },
        (err) => {
          if (this.#finished) return
          this.#finished = true
          this.#chunks = []
          this.#releaseBody()
          sendError(this.#res, err, this.#route.dialect)
        },
      )
    } else this.#key = key
  }

  // --- the client side ---

  static #onBodyChunk(this: IncomingMessage, chunk: Buffer): void {
    // biome-ignore lint/complexity/noThisInStatic: node calls a listener with the emitter as `this`
    const ex = (this as Carrier)[EXCHANGE]!
    if (ex.#finished) return
    ex.#bodyBytes += chunk.length
    if (ex.#bodyBytes > ex.#deps.bodyLimitBytes) ex.#tooLarge()
    // Past what was declared (a chunked body): reserve as it arrives.
    else if (ex.#bodyBytes > ex.#reserved && !ex.#reserveArrived()) ex.#exhausted(true)
    else ex.#chunks.push(chunk)
  }

  static #onBodyEnd(this: IncomingMessage): void {
    // biome-ignore lint/complexity/noThisInStatic: node calls a listener with the emitter as `this`
    const ex = (this as Carrier)[EXCHANGE]!
    ex.#bodyDone = true
    ex.#forwardWhenReady()
  }

  static #onClientClose(this: IncomingMessage | ServerResponse): void {
    // biome-ignore lint/complexity/noThisInStatic: node calls a listener with the emitter as `this`
    const ex = (this as Carrier)[EXCHANGE]!
    if (ex.#finished || ex.#res.writableFinished) return
    ex.#finished = true
    ex.#chunks = []
    ex.#abort?.(CLIENT_GONE)
    ex.#releaseBody()
  }

  /**
   * Headers and chunks parsed from one upstream read arrive in the same tick: corked until the
   * next tick, they leave in one write, and none is held back longer than that.
   */
  #corkForThisTick(): void {
    if (this.#corked) return
    this.#corked = true
    this.#res.cork()
    process.nextTick(Exchange.#uncork, this)
  }

  static #uncork(ex: Exchange): void {
    ex.#corked = false
    ex.#res.uncork()
  }

  static #onDrain(this: ServerResponse): void {
    // biome-ignore lint/complexity/noThisInStatic: node calls a listener with the emitter as `this`
    ;(this as Carrier)[EXCHANGE]!.#resume?.()
  }

  #reserveArrived(): boolean {
    if (!this.#deps.bodyBudget.reserve(this.#bodyBytes - this.#reserved)) return false
    this.#reserved = this.#bodyBytes
    return true
  }

  /** Idempotent: every way an exchange ends calls it (the body is held until then: undici keeps it). */
  #releaseBody(): void {
    if (this.#reserved === 0) return
    this.#deps.bodyBudget.release(this.#reserved)
    this.#reserved = 0
  }

  /** The body budget is spent: refused with a hint to retry (a body still arriving closes the connection). */
  #exhausted(close: boolean): void {
    if (this.#finished) return
    this.#finished = true
    this.#chunks = []
    this.#releaseBody()
    if (close) this.#res.setHeader('connection', 'close')
    this.#res.setHeader('retry-after', '1')
    this.#deps.exhausted.send(this.#res, this.#route.dialect)
  }

  #tooLarge(): void {
    if (this.#finished) return
    this.#finished = true
    this.#chunks = []
    this.#releaseBody()
    // The rest of the body is not read: close the connection after answering.
    this.#res.setHeader('connection', 'close')
    this.#deps.tooLarge.send(this.#res, this.#route.dialect)
  }

  #forwardWhenReady(): void {
    if (this.#finished || !this.#bodyDone || this.#key === undefined) return
    const req = this.#req
    const { adapter, strip } = this.#route
    const chunks = this.#chunks
    this.#chunks = []
    // Several chunks go as they are (undici writes an iterable chunk by chunk; its types omit
    // it): one contiguous copy would hold the body twice, past what the body budget counts.
    const body =
      chunks.length === 0 ? null : chunks.length === 1 ? chunks[0]! : (chunks as unknown as Uint8Array)
    const traceFields = this.#deps.traceFields
    let drop: ReadonlySet<string> | undefined = connectionListed(req.headers.connection)
    if (traceFields) drop = drop ? new Set([...drop, ...traceFields]) : traceFields
    const headers = upstreamHeaders(
      req.rawHeaders,
      adapter.credentialHeader,
      adapter.credentialValue(this.#key.secret),
      this.#bodyBytes,
      drop,
    )
    this.#span = startSpan('dataplane.upstream', this.#trace)
    if (traceFields) injectTrace(this.#trace, this.#span, headers)
    this.#startedAt = performance.now()
    this.#upstream.pool.dispatch(
      {
        path: this.#upstream.basePath + (strip ? req.url!.slice(strip) : req.url!),
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body,
      },
      this,
    )
  }

  // --- the upstream side: undici's dispatch handler ---

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    if (this.#finished) abort(CLIENT_GONE)
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (status < 200) return true // 1xx: the final response follows
    this.#status = status
    this.#resume = resume
    const provider = this.#route.adapter.provider
    this.#deps.metrics.upstreamLatency(provider).observe((performance.now() - this.#startedAt) / 1000)
    this.#deps.metrics.upstreamStatus(provider, status)
    this.#span?.setAttribute('http.response.status_code', status)
    if (this.#finished) return false
    let headers = downstreamHeaders(rawHeaders)
    const secret = this.#key!.secret
    if (status >= 300 && secret !== '') {
      const masking = maskError(headers, secret)
      this.#masker = masking.masker
      headers = masking.headers
      if (masking.masker.buffered) {
        this.#heldHeaders = headers
        return true
      }
    }
    this.#corkForThisTick()
    this.#res.writeHead(status, headers)
    // A stream's headers leave this tick even if no event follows yet, so its client sees it
    // start; corked, they share one write with the events parsed in the same tick.
    if (!hasContentLength(headers)) this.#res.flushHeaders()
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.#finished) return false
    if (this.#masker) {
      const out = this.#masker.push(chunk)
      if (out === undefined || out.length === 0) return true
      chunk = out
    }
    this.#corkForThisTick()
    if (this.#res.write(chunk)) return true
    this.#res.once('drain', Exchange.#onDrain)
    return false
  }

  onComplete(): void {
    this.#span?.end()
    this.#releaseBody()
    if (this.#finished) return
    this.#finished = true
    if (this.#masker) this.#endMasked(this.#masker)
    else this.#res.end()
  }

  #endMasked(masker: ErrorBodyMasker): void {
    const rest = masker.end()
    if (!masker.buffered) {
      this.#res.end(rest)
      return
    }
    const withheld = typeof rest === 'string'
    const body = withheld ? withheldBody(this.#status, this.#route.adapter.provider, rest) : rest
    this.#res.writeHead(this.#status, bufferedErrorHeaders(this.#heldHeaders!, body, withheld))
    this.#res.end(body)
  }

  onError(err: Error): void {
    if (this.#status === 0) this.#deps.metrics.upstreamStatus(this.#route.adapter.provider, 0)
    this.#span?.recordException(err)
    this.#span?.end()
    this.#releaseBody()
    if (this.#finished) return // the client left: nothing to tell it
    this.#finished = true
    if (this.#res.headersSent) this.#res.destroy()
    else sendError(this.#res, upstreamError(err, this.#route.adapter.provider), this.#route.dialect)
  }
}
