/**
 * @module The revocation stream, `GET /v1/tokens/revocations/stream` over WebSocket. A dataplane
 * (or admin) key, as a bearer only (never the session cookie), is checked at the upgrade; the
 * stream then replays every revocation after `since` and sends each new one as it is written, in
 * cursor order. Each subscriber acknowledges the cursor it applied. Memory stays bounded: the
 * backlog is read in pages as the socket drains, and a live subscriber whose unsent bytes pass the
 * limit is disconnected (it will resume from its cursor), never buffered without end. What goes
 * to every subscriber (a new revocation, a broadcast, the heartbeat) is serialised and framed
 * once and the same Buffer written to each socket (see frames.ts); permessage-deflate is off, as
 * a compressed frame could not be shared.
 *
 * A dataplane reports the API keys it served (`{"type":"usage","keys":[[jti, age_seconds], …]}`)
 * on the same socket, at most once per its report interval: only a dataplane key's stream may,
 * one report per `USAGE_REPORT_MIN_GAP_MS` at most, of at most `USAGE_REPORT_MAX_KEYS` well-formed
 * key ids; anything else is refused whole and counted, and the socket stays open (its
 * revocations matter more than a report). Accepted uses go to `LastUsed`, which writes them in
 * its next batch.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import { RevocationStreamQuery, type StreamServerMessage, UsageReport } from '../../shared/contract/tokens.ts'
import { parseOrThrow } from '../../shared/contract/validate.ts'
import { ApiError } from '../../shared/errors.ts'
import { newId } from '../../shared/ids.ts'
import type { Logger } from '../../shared/logger.ts'
import { formatMicros, nowMicros, parseMicros } from '../../shared/time.ts'
import { tokenFromAuthorization } from '../../shared/tokens/bearer.ts'
import { type DataplaneRegistry, dataplaneIdFor } from '../dataplanes/registry.ts'
import type { LastUsed } from '../keys/last-used.ts'
import type { ControlPlaneMetrics } from '../metrics.ts'
import { parseCursor, type RevocationLog, toWire } from '../revocations/log.ts'
import type { RevocationRow } from '../store/revocations.ts'
import type { Authenticator } from './authenticate.ts'
import { rawErrorResponse, toApiError } from './errors.ts'
import { type PreparedMessage, prepareText, sendPrepared } from './frames.ts'
import { requirePersona } from './principal.ts'

export const STREAM_PATH = '/v1/tokens/revocations/stream'
const BACKLOG_PAGE = 500
const CLOSE_TOO_SLOW = 4008
const CLOSE_REVOKED = 4001
/** The subscriber's cursor fell behind the purge horizon during its catch-up (HTTP 412's number). */
export const CLOSE_BEHIND_HORIZON = 4412

/**
 * Reports from one stream closer together than this are refused: a dataplane reports at most once
 * a second (its configured report interval is at least 1s), so this leaves room for timer jitter only.
 */
export const USAGE_REPORT_MIN_GAP_MS = 500

export type UsageReportOutcome = 'accepted' | 'not_a_dataplane' | 'too_frequent' | 'invalid'

interface Subscriber {
  id: string
  ws: WebSocket
  keyId: string
  /** A dataplane key's stream: it may report key usage (an admin observer's may not). */
  dataplane: boolean
  /** When it last sent a usage report that was not refused as too frequent (epoch ms). */
  usageReportedAt: number
  /** The last cursor sent. */
  sent: number
  catchingUp: boolean
  alive: boolean
}

export interface StreamOptions {
  heartbeatMs: number
  maxBufferedBytes: number
}

export class RevocationStream {
  readonly #wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    perMessageDeflate: false,
  })
  readonly #subscribers = new Map<string, Subscriber>()
  readonly #heartbeat: NodeJS.Timeout

  constructor(
    private readonly auth: Authenticator,
    private readonly revocations: RevocationLog,
    private readonly dataplanes: DataplaneRegistry,
    private readonly metrics: ControlPlaneMetrics,
    private readonly log: Logger,
    private readonly options: StreamOptions,
    /** Where dataplanes' usage reports go; without it they are refused (`not_a_dataplane`). */
    private readonly lastUsed?: Pick<LastUsed, 'reported'>,
  ) {
    revocations.on('appended', (row) => this.#publish(row))
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs)
    this.#heartbeat.unref()
  }

  attach(server: Server): void {
    server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head))
  }

  /** Sends a message that is not part of the cursor sequence to every subscriber. */
  broadcast(message: StreamServerMessage): void {
    const prepared = prepareText(JSON.stringify(message))
    for (const sub of this.#subscribers.values()) this.#sendPrepared(sub, prepared)
  }

  close(): void {
    clearInterval(this.#heartbeat)
    for (const sub of this.#subscribers.values()) sub.ws.terminate()
    this.#wss.close()
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      if (url.pathname !== STREAM_PATH)
        throw new ApiError('not_found', `no WebSocket endpoint at ${url.pathname}`)
      // A machine interface: only a bearer. The session cookie is never read here, so no page
      // a logged-in admin visits can open the stream with it (WebSockets have no CORS).
      const principal = await this.auth.authenticate(tokenFromAuthorization(req.headers.authorization))
      requirePersona(principal, 'revocations')
      const query = parseOrThrow(RevocationStreamQuery, Object.fromEntries(url.searchParams), 'query')
      const since = parseCursor(query.since || undefined)
      // Entries after a cursor behind the purge horizon may be gone: 412, take a fresh snapshot.
      await this.revocations.requireComplete(since)
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        const id = newId('dataplane')
        const name = query.name || principal.claims.jti
        const now = nowMicros()
        this.dataplanes.add({
          connectionId: id,
          id: dataplaneIdFor(name),
          name,
          keyId: principal.claims.jti,
          remoteAddress: req.socket.remoteAddress ?? '',
          enforcing: principal.claims.kt === 'KEY_TYPE_DATAPLANE',
          connectedAt: now,
          lastContactAt: now,
          appliedCursor: since,
        })
        this.#connected({
          id,
          ws,
          keyId: principal.claims.jti,
          dataplane: principal.claims.kt === 'KEY_TYPE_DATAPLANE',
          usageReportedAt: 0,
          sent: since,
          catchingUp: true,
          alive: true,
        })
      })
    } catch (err) {
      const apiError = toApiError(err, this.log, 'stream upgrade')
      socket.end(rawErrorResponse(apiError))
    }
  }

  #connected(sub: Subscriber): void {
    this.#subscribers.set(sub.id, sub)
    sub.ws.on('message', (data, isBinary) => this.#onMessage(sub, data.toString(), isBinary))
    sub.ws.on('pong', () => {
      sub.alive = true
      this.dataplanes.contact(sub.id)
    })
    sub.ws.on('close', () => {
      this.#subscribers.delete(sub.id)
      this.dataplanes.remove(sub.id)
    })
    sub.ws.on('error', (err) => this.log.debug('stream client error', { dataplane: sub.id, err }))
    this.#send(
      sub,
      JSON.stringify({
        type: 'hello',
        dataplane_id: this.dataplanes.get(sub.id)?.id ?? sub.id,
        head: formatMicros(this.revocations.head),
      }),
    )
    this.#catchUp(sub)
  }

  /** Replays the backlog a page at a time, waiting for the socket to drain between pages. */
  #catchUp(sub: Subscriber): void {
    if (sub.ws.readyState !== WebSocket.OPEN) return
    if (sub.ws.bufferedAmount > this.options.maxBufferedBytes / 2) {
      setTimeout(() => this.#catchUp(sub), 5)
      return
    }
    this.revocations
      .after(sub.sent, BACKLOG_PAGE)
      .then(async (rows) => {
        for (const row of rows) this.#sendRow(sub, row, revocationMessage(row))
        // The read is asynchronous: an entry appended while it ran may be missing from it. Going
        // live happens in the tick that finds the head no further than what was sent; otherwise
        // read again.
        if (rows.length < BACKLOG_PAGE && this.revocations.head <= sub.sent) sub.catchingUp = false
        else if (rows.length === 0 && sub.sent < (await this.revocations.horizon())) this.#behindHorizon(sub)
        else setImmediate(() => this.#catchUp(sub))
      })
      .catch((err) => {
        this.log.warn('stream catch-up read failed: retrying', { dataplane: sub.id, err })
        setTimeout(() => this.#catchUp(sub), 1_000).unref()
      })
  }

  /**
   * A purge passed the subscriber while it caught up (the newest entries it lacks are gone, so
   * the head stays out of reach): closed; its reconnect is refused with 412 and it re-snapshots.
   */
  #behindHorizon(sub: Subscriber): void {
    sub.ws.close(CLOSE_BEHIND_HORIZON, 'behind the purge horizon: take a fresh snapshot')
  }

  #publish(row: RevocationRow): void {
    let prepared: PreparedMessage | undefined
    for (const sub of this.#subscribers.values()) {
      // A subscriber being cut off stays listed until its socket's close event: count it once.
      if (sub.catchingUp || sub.ws.readyState !== WebSocket.OPEN) continue
      // Its catch-up read may already have sent it: that read runs concurrently with the append.
      if (row.revoked_at <= sub.sent) continue
      if (sub.ws.bufferedAmount > this.options.maxBufferedBytes) {
        this.metrics.streamDisconnects.inc({ reason: 'too_slow' })
        this.log.warn('stream client too slow: disconnected', {
          dataplane: sub.id,
          buffered: sub.ws.bufferedAmount,
        })
        sub.ws.close(CLOSE_TOO_SLOW, 'too slow: reconnect with your cursor')
        sub.ws.terminate()
        continue
      }
      prepared ??= prepareText(revocationMessage(row))
      this.#sendPrepared(sub, prepared)
      sub.sent = row.revoked_at
      if (row.jti === sub.keyId) sub.ws.close(CLOSE_REVOKED, 'the stream credential was revoked')
    }
  }

  #sendRow(sub: Subscriber, row: RevocationRow, text: string): void {
    this.#send(sub, text)
    sub.sent = row.revoked_at
  }

  #send(sub: Subscriber, text: string): void {
    if (sub.ws.readyState === WebSocket.OPEN) sub.ws.send(text)
  }

  #sendPrepared(sub: Subscriber, message: PreparedMessage): void {
    if (sub.ws.readyState === WebSocket.OPEN) sendPrepared(sub.ws, message)
  }

  #onMessage(sub: Subscriber, text: string, isBinary: boolean): void {
    this.dataplanes.contact(sub.id)
    if (isBinary) return
    let message: { type?: unknown; cursor?: unknown }
    try {
      message = JSON.parse(text) as typeof message
    } catch {
      return
    }
    if (message.type === 'ack' && typeof message.cursor === 'string') {
      const cursor = parseMicros(message.cursor)
      // Nothing past the newest revocation can have been applied: a future cursor counts as the head.
      if (cursor !== undefined) this.dataplanes.ack(sub.id, Math.min(cursor, this.revocations.head))
    } else if (message.type === 'usage') {
      const outcome = this.#usageReport(sub, message)
      this.metrics.usageReports.inc({ outcome })
      if (outcome !== 'accepted') this.log.debug('usage report refused', { dataplane: sub.id, outcome })
    }
  }

  #usageReport(sub: Subscriber, message: unknown): UsageReportOutcome {
    if (!sub.dataplane || !this.lastUsed) return 'not_a_dataplane'
    const now = Date.now()
    if (now - sub.usageReportedAt < USAGE_REPORT_MIN_GAP_MS) return 'too_frequent'
    // Counted before it is parsed: a flood of malformed reports is throttled like good ones.
    sub.usageReportedAt = now
    const report = UsageReport.safeParse(message)
    if (!report.success) return 'invalid'
    this.lastUsed.reported(report.data.keys, nowMicros())
    return 'accepted'
  }

  #beat(): void {
    const message = prepareText(
      JSON.stringify({
        type: 'heartbeat',
        head: formatMicros(this.revocations.head),
        time: formatMicros(nowMicros()),
      }),
    )
    for (const sub of this.#subscribers.values()) {
      if (!sub.alive) {
        this.metrics.streamDisconnects.inc({ reason: 'unresponsive' })
        sub.ws.terminate()
        continue
      }
      sub.alive = false
      sub.ws.ping()
      this.#sendPrepared(sub, message)
    }
  }
}

function revocationMessage(row: RevocationRow): string {
  const revocation = toWire(row)
  return JSON.stringify({ type: 'revocation', cursor: revocation.revoked_at, revocation })
}
