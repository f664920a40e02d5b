/**
 * @module The WebSocket connection to the control plane's revocation stream: connect with the
 * dataplane key from the cursor the caller gives, hand each message over, send acks, and
 * reconnect with jittered exponential back-off whenever the connection ends (to the next control
 * plane, when several are configured), resuming from the durable cursor reached by then. A connection silent for longer than the idle timeout (no message, no
 * ping) is treated as dead: a frozen or partitioned control plane does not close its socket.
 */
import WebSocket from 'ws'
import type { StreamServerMessage } from '../../shared/contract/tokens.ts'
import type { Logger } from '../../shared/logger.ts'
import { Backoff } from './backoff.ts'

export interface StreamClientOptions {
  /** The stream URL for a cursor (`ws://…/v1/tokens/revocations/stream?since=…&name=…`). */
  urlFor: (since: string) => string
  /** The connection to `url` ended or never opened: the next connect may go elsewhere. */
  failed?: (url: string) => void
  key: string
  idleTimeoutMs: number
  reconnectMaxMs: number
  handshakeTimeoutMs: number
}

export interface StreamHandlers {
  /** The cursor to resume from, read at each (re)connect. */
  cursor(): string
  message(message: StreamServerMessage): void
  connected(connected: boolean): void
  /**
   * The control plane refused the cursor as older than its purge horizon (HTTP 412 at the
   * upgrade, or close code 4412): the caller takes a fresh snapshot; reconnects resume from it.
   */
  behindHorizon(): void
}

/** The stream's close code for a subscriber a purge passed (the control plane's CLOSE_BEHIND_HORIZON). */
const CLOSE_BEHIND_HORIZON = 4412

const RECONNECT_BASE_MS = 250

export class StreamClient {
  readonly #options: StreamClientOptions
  readonly #handlers: StreamHandlers
  readonly #log: Logger
  readonly #backoff: Backoff
  #ws: WebSocket | undefined
  #stopped = true
  #reconnectTimer: NodeJS.Timeout | undefined
  #idleTimer: NodeJS.Timeout | undefined

  constructor(options: StreamClientOptions, handlers: StreamHandlers, log: Logger) {
    this.#options = options
    this.#handlers = handlers
    this.#log = log
    this.#backoff = new Backoff(RECONNECT_BASE_MS, options.reconnectMaxMs)
  }

  get connected(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN
  }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#connect()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#reconnectTimer)
    clearTimeout(this.#idleTimer)
    this.#ws?.terminate()
    this.#ws = undefined
  }

  /** Acknowledges an applied cursor; dropped when not connected (the next connect resumes from it). */
  ack(cursor: string): void {
    const ws = this.#ws
    if (ws?.readyState === WebSocket.OPEN) ws.send(`{"type":"ack","cursor":"${cursor}"}`)
  }

  /** Connects at once when waiting out a back-off (no connection open or opening). */
  connectNow(): void {
    if (this.#stopped || this.#ws) return
    clearTimeout(this.#reconnectTimer)
    this.#connect()
  }

  /** Sends a message on the open connection; false (nothing sent) when not connected. */
  send(text: string): boolean {
    const ws = this.#ws
    if (ws?.readyState !== WebSocket.OPEN) return false
    ws.send(text)
    return true
  }

  /** Ends the current connection and reconnects (after a back-off), e.g. when it seems stuck. */
  reconnect(): void {
    this.#ws?.terminate()
  }

  #connect(): void {
    if (this.#stopped) return
    const since = this.#handlers.cursor()
    const url = this.#options.urlFor(since)
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.#options.key}` },
      handshakeTimeout: this.#options.handshakeTimeoutMs,
      perMessageDeflate: false,
    })
    this.#ws = ws
    let rejected: string | undefined
    /** Refused as behind the purge horizon: that control plane works, the cursor is the problem. */
    let behind = false
    ws.on('open', () => {
      this.#handlers.connected(true)
      this.#touch(ws)
    })
    ws.on('ping', () => this.#touch(ws))
    ws.on('message', (data, isBinary) => {
      this.#touch(ws)
      if (isBinary) return
      let message: StreamServerMessage
      try {
        message = JSON.parse(data.toString()) as StreamServerMessage
      } catch {
        this.#log.warn('revocation stream: a message that is not JSON; ignored')
        return
      }
      if (message.type === 'hello') this.#backoff.reset()
      this.#handlers.message(message)
    })
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (c: Buffer) => {
        if (body.length < 1024) body += c.toString()
      })
      res.on('end', () => {
        rejected = `HTTP ${res.statusCode}: ${body.slice(0, 300)}`
        behind = res.statusCode === 412
        if (behind) this.#handlers.behindHorizon()
        else if (res.statusCode === 401 || res.statusCode === 403) {
          this.#log.error('the control plane refused the dataplane key (AGENTROUTER_DATAPLANE_KEY)', {
            status: res.statusCode,
            body: body.slice(0, 300),
          })
        }
        ws.terminate()
      })
    })
    ws.on('error', (err) => {
      this.#log.debug('revocation stream error', { err })
    })
    ws.on('close', (code, reason) => {
      clearTimeout(this.#idleTimer)
      if (this.#ws === ws) this.#ws = undefined
      this.#handlers.connected(false)
      if (this.#stopped) return
      if (code === CLOSE_BEHIND_HORIZON) {
        behind = true
        this.#handlers.behindHorizon()
      }
      if (!behind) this.#options.failed?.(url)
      const delay = this.#backoff.next()
      this.#log.info('revocation stream disconnected; reconnecting', {
        close_code: code,
        reason: rejected ?? reason.toString(),
        retry_in_ms: delay,
      })
      this.#reconnectTimer = setTimeout(() => this.#connect(), delay)
      this.#reconnectTimer.unref()
    })
  }

  #touch(ws: WebSocket): void {
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => {
      this.#log.warn('revocation stream silent too long; reconnecting', {
        idle_timeout_ms: this.#options.idleTimeoutMs,
      })
      ws.terminate()
    }, this.#options.idleTimeoutMs)
    this.#idleTimer.unref()
  }
}
