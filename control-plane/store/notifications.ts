/**
 * @module PostgreSQL notifications between replicas: one dedicated connection (not from the pool,
 * which would hand it back and lose the LISTEN) listening on the given channels. When the
 * connection dies it reconnects with jittered back-off and LISTENs again; every (re)LISTEN is
 * announced as `listening`, so the caller can catch up on what was notified while it was deaf.
 * A notification is sent by the writer with `pg_notify` inside its transaction: PostgreSQL
 * delivers it at commit, never for a transaction that rolled back.
 */
import { EventEmitter } from 'node:events'
import pg from 'pg'
import type { Logger } from '../../shared/logger.ts'
import type { Db } from './db.ts'

/** New log entries: the payload is the cursor of the entry, in microseconds. */
export const LOG_CHANNEL = 'agentrouter_log'
/** A replica published dataplane acknowledgements: the payload is its replica id. */
export const ACKS_CHANNEL = 'agentrouter_acks'
/** A stream event outside the log (JWKS, secret, membership changes): `{replica, message}` JSON. */
export const EVENTS_CHANNEL = 'agentrouter_events'

/** Sends a notification now (outside any transaction: after the change it announces committed). */
export async function notify(db: Db, channel: string, payload: string): Promise<void> {
  await db.run('SELECT pg_notify(?, ?)', [channel, payload])
}

const BACKOFF_MIN_MS = 100
const BACKOFF_MAX_MS = 5_000
/**
 * A LISTEN connection is idle: a link that died without a reset would look alive for as long as
 * TCP keepalive takes (minutes). A query this often, answered within the timeout, proves it.
 */
const PING_EVERY_MS = 10_000
const PING_TIMEOUT_MS = 5_000

export interface ListenerOptions {
  connectionString: string
  channels: readonly string[]
  log: Logger
  connectTimeoutMs?: number
}

export class PostgresListener extends EventEmitter<{
  notification: [channel: string, payload: string]
  listening: []
}> {
  readonly #options: ListenerOptions
  #client: pg.Client | undefined
  #closed = false
  #failures = 0
  #timer: NodeJS.Timeout | undefined
  #ping: NodeJS.Timeout | undefined
  #listening = false

  constructor(options: ListenerOptions) {
    super()
    this.setMaxListeners(0)
    this.#options = options
  }

  /** Whether the LISTEN connection is up now. */
  get listening(): boolean {
    return this.#listening
  }

  /** Connects and LISTENs; resolves after the first attempt, whether or not it succeeded. */
  async start(): Promise<void> {
    await this.#connect()
  }

  async #connect(): Promise<void> {
    if (this.#closed) return
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      connectionTimeoutMillis: this.#options.connectTimeoutMs ?? 5_000,
      // The LISTEN connection is idle by design: keepalive finds a dead link without a query.
      keepAlive: true,
    })
    this.#client = client
    let lost = false
    const onLost = (err?: Error) => {
      if (lost) return
      lost = true
      this.#listening = false
      clearInterval(this.#ping)
      client.removeAllListeners('notification')
      client.end().catch(() => {})
      if (this.#closed) return
      this.#options.log.warn('the database notification connection was lost: reconnecting', {
        ...(err ? { err } : {}),
      })
      this.#retry()
    }
    client.on('error', onLost)
    client.on('end', () => onLost())
    client.on('notification', (n) => this.emit('notification', n.channel, n.payload ?? ''))
    try {
      await client.connect()
      for (const channel of this.#options.channels) await client.query(`LISTEN ${channel}`)
    } catch (err) {
      if (!lost) {
        lost = true
        client.removeAllListeners('notification')
        client.end().catch(() => {})
        if (!this.#closed) {
          this.#options.log.warn('could not listen for database notifications: retrying', { err })
          this.#retry()
        }
      }
      return
    }
    if (lost || this.#closed) return
    this.#failures = 0
    this.#listening = true
    clearInterval(this.#ping)
    this.#ping = setInterval(() => {
      const silent = setTimeout(
        () => onLost(new Error('the notification connection stopped answering')),
        PING_TIMEOUT_MS,
      )
      client.query('SELECT 1').then(
        () => clearTimeout(silent),
        (err: Error) => {
          clearTimeout(silent)
          onLost(err)
        },
      )
    }, PING_EVERY_MS)
    this.#ping.unref()
    this.#options.log.info('listening for database notifications', { channels: this.#options.channels })
    this.emit('listening')
  }

  #retry(): void {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.#failures++)
    const delay = ceiling / 2 + Math.random() * (ceiling / 2)
    this.#timer = setTimeout(() => void this.#connect(), delay)
    this.#timer.unref()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#listening = false
    clearTimeout(this.#timer)
    clearInterval(this.#ping)
    await this.#client?.end().catch(() => {})
  }
}
