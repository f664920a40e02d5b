/**
 * @module The revocation log: every revoked JTI with a strictly increasing `revoked_at` that is
 * also its cursor. Strictly increasing even when many revocations share a clock tick, so that
 * `since` paging never skips or repeats an entry. It also keeps the set of revoked JTIs that the
 * control plane's own auth check consults, and announces each new entry to the stream.
 *
 * With several replicas on one database (`follow`), entries are announced from the log itself,
 * never from the write that made them: `sync()` reads what was committed after the last
 * announced cursor and announces it in cursor order, whichever replica wrote it. Called after each
 * local write, on each notification from another replica, on each (re)LISTEN and by a safety
 * poll. Concurrent local commits cannot come out of order that way, and a lost notification only
 * delays an entry until the next call.
 */
import { EventEmitter } from 'node:events'
import type { Revocation, RevocationKind } from '../../shared/contract/tokens.ts'
import { invalidArgument } from '../../shared/errors.ts'
import { formatMicros, nowMicros, parseMicros, TIMESTAMP_RANGE } from '../../shared/time.ts'
import type { RevocationRow, RevocationSnapshotRead, RevocationStore } from '../store/revocations.ts'

export interface RevocationRequest {
  jti: string
  kind: RevocationKind
  /** Microseconds: when the revoked credential would have expired anyway. */
  expiresAt: number
  reason: string
}

/**
 * Reads a `since` cursor (RFC 3339); absent means the beginning. Only cursors the log could have
 * printed are accepted: a year past 9999, before 1970 or past 2255 is `invalid_argument`.
 */
export function parseCursor(since: string | undefined): number {
  if (since === undefined) return 0
  const micros = parseMicros(since)
  if (micros === undefined) throw invalidArgument('since', `must be an RFC 3339 timestamp ${TIMESTAMP_RANGE}`)
  return micros
}

export const toWire = (r: RevocationRow): Revocation => ({
  jti: r.jti,
  kind: r.kind,
  revoked_at: formatMicros(r.revoked_at),
  expires_at: formatMicros(r.expires_at),
  reason: r.reason,
})

/** Rows per read of `sync()`. */
const SYNC_PAGE = 500

export interface RevocationLogOptions {
  /** Other processes write the log too: announce entries from the log (`sync()`), in cursor order. */
  follow?: boolean
}

export class RevocationLog extends EventEmitter<{
  /** An entry in cursor order, whichever replica wrote it: what the stream pushes. */
  appended: [RevocationRow]
  /** An entry this process wrote (its metrics). */
  created: [RevocationRow]
}> {
  readonly #store: RevocationStore
  readonly #revoked = new Set<string>()
  #head: number
  readonly #clock: () => number
  readonly #follow: boolean
  #syncing: Promise<void> | undefined
  #syncAgain = false

  /** `clock` (microseconds) is injectable so tests can put many revocations on one tick. */
  private constructor(
    store: RevocationStore,
    clock: () => number,
    options: RevocationLogOptions,
    head: number,
    live: Iterable<string>,
  ) {
    super()
    this.setMaxListeners(0)
    this.#store = store
    this.#clock = clock
    this.#follow = options.follow ?? false
    this.#head = head
    for (const jti of live) this.#revoked.add(jti)
  }

  /** The log over `store`, with its head and the live revoked JTIs loaded. */
  static async open(
    store: RevocationStore,
    clock: () => number = nowMicros,
    options: RevocationLogOptions = {},
  ): Promise<RevocationLog> {
    return new RevocationLog(store, clock, options, await store.head(), await store.liveJtis(clock()))
  }

  /**
   * The newest cursor announced, in microseconds; 0 when nothing was ever revoked. When following,
   * entries committed elsewhere count once `sync()` has read them.
   */
  get head(): number {
    return this.#head
  }

  isRevoked(jti: string): boolean {
    return this.#revoked.has(jti)
  }

  /**
   * Records a revocation, running `alongside` (the owning row's update, given the revocation's
   * timestamp) in the same transaction.
   * Revoking an already revoked JTI changes nothing and answers with the existing entry.
   */
  async revoke(
    request: RevocationRequest,
    alongside?: (revokedAt: number) => Promise<void>,
  ): Promise<{ row: RevocationRow; created: boolean }> {
    let created = false
    const row = await this.#store.transaction(async (): Promise<RevocationRow> => {
      const existing = await this.#store.find(request.jti)
      if (existing) return existing
      // Advancing the head takes its row lock: another writer revoking the same JTI has
      // committed by now, and a second look finds its entry.
      const revokedAt = await this.#store.nextCursor(this.#clock())
      const raced = await this.#store.find(request.jti)
      if (raced) return raced
      await alongside?.(revokedAt)
      const fresh: RevocationRow = {
        jti: request.jti,
        kind: request.kind,
        revoked_at: revokedAt,
        expires_at: request.expiresAt,
        reason: request.reason,
      }
      await this.#store.insert(fresh)
      created = true
      return fresh
    })
    if (created) {
      // Refused here at once; announced in cursor order by sync() when following.
      this.#revoked.add(row.jti)
      this.emit('created', row)
      if (this.#follow) {
        this.sync().catch(() => {
          // The database went away after the commit: the next notification or poll announces it.
        })
      } else {
        this.#head = Math.max(this.#head, row.revoked_at)
        this.emit('appended', row)
      }
    }
    return { row, created }
  }

  /**
   * Reads the entries committed after the head and announces them, oldest first. One read at a
   * time: a call during a read makes that read go round once more, so nothing committed before
   * the call is missed. Rejects when the database cannot be read (the next call resumes).
   */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#syncAgain = true
      return this.#syncing
    }
    const run = async () => {
      try {
        do {
          this.#syncAgain = false
          for (;;) {
            const rows = await this.#store.after(this.#head, SYNC_PAGE)
            for (const row of rows) {
              if (row.revoked_at <= this.#head) continue
              this.#head = row.revoked_at
              this.#revoked.add(row.jti)
              this.emit('appended', row)
            }
            if (rows.length < SYNC_PAGE) break
          }
        } while (this.#syncAgain)
      } finally {
        this.#syncing = undefined
      }
    }
    this.#syncing = run()
    return this.#syncing
  }

  /** Entries after `since` (exclusive), oldest first, at most `limit`. */
  after(since: number, limit: number): Promise<RevocationRow[]> {
    return this.#store.after(since, limit)
  }

  /** The whole log as of now, streamed (the compact snapshot). */
  snapshot(): RevocationSnapshotRead {
    return this.#store.snapshot()
  }

  countAfter(since: number): Promise<number> {
    return this.#store.countAfter(since)
  }

  /**
   * When the oldest entry after `cursor` was revoked (microseconds), or `undefined` when the
   * cursor is at the head: how far behind a dataplane that applied `cursor` is.
   */
  async oldestAfter(cursor: number): Promise<number | undefined> {
    return cursor < this.#head ? (await this.#store.after(cursor, 1))[0]?.revoked_at : undefined
  }
}
