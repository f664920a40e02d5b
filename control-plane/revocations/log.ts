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
import { ApiError, invalidArgument } from '../../shared/errors.ts'
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

/**
 * `failed_precondition` for a reader whose cursor is older than the purge horizon: entries it has
 * not seen may be gone, so it takes a fresh snapshot. The horizon is in the message and in
 * `details` (`{field: 'since', horizon}`), RFC 3339 like every cursor.
 */
export function behindHorizon(since: number, horizon: number): ApiError {
  const at = formatMicros(horizon)
  return new ApiError(
    'failed_precondition',
    `since ${formatMicros(since)} is older than the purge horizon ${at}: entries after it may have been purged; take a fresh snapshot (GET /v1/tokens/revocations/snapshot, or page from the start) and resume from its cursor`,
    [{ field: 'since', description: 'older than the purge horizon', horizon: at }],
  )
}

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
  /** How many entries this process purged. */
  purged: [number]
}> {
  readonly #store: RevocationStore
  /** Revoked JTI → when its credential expires (microseconds). */
  readonly #revoked = new Map<string, number>()
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
    live: Iterable<[string, number]>,
  ) {
    super()
    this.setMaxListeners(0)
    this.#store = store
    this.#clock = clock
    this.#follow = options.follow ?? false
    this.#head = head
    for (const [jti, expiresAt] of live) this.#revoked.set(jti, expiresAt)
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
      this.#revoked.set(row.jti, row.expires_at)
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

  /** The purge horizon (microseconds; 0 when nothing was purged): the log is complete after it. */
  horizon(): Promise<number> {
    return this.#store.horizon()
  }

  /**
   * Throws `failed_precondition` when entries after `since` may have been purged. A read from
   * the beginning (0) is a full read, never behind.
   */
  async requireComplete(since: number): Promise<void> {
    if (since === 0) return
    const horizon = await this.#store.horizon()
    if (since < horizon) throw behindHorizon(since, horizon)
  }

  /**
   * Purges up to `limit` entries whose credential expired before `before` (microseconds): from
   * the store, and from the JTIs this process refuses. Answers how many and the horizon after.
   */
  async purgeExpired(before: number, limit: number): Promise<{ purged: number; horizon: number }> {
    const { jtis, horizon } = await this.#store.purgeExpired(before, limit)
    for (const jti of jtis) this.#revoked.delete(jti)
    if (jtis.length > 0) this.emit('purged', jtis.length)
    // Following other writers, entries before the horizon that were not purged (still live) may
    // not be announced yet: read them before the head jumps, or they would never be.
    if (this.#follow) await this.sync()
    // The head never moves back: a reader at the head stays at or past the horizon.
    this.#head = Math.max(this.#head, horizon)
    return { purged: jtis.length, horizon }
  }

  /**
   * Forgets the JTIs this process refuses whose credential expired before `before`: those another
   * replica purged (its purge returns them, not ours). Once per purge run: a scan of the set.
   */
  forgetExpired(before: number): void {
    for (const [jti, expiresAt] of this.#revoked) if (expiresAt < before) this.#revoked.delete(jti)
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
              this.#revoked.set(row.jti, row.expires_at)
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
  snapshot(): Promise<RevocationSnapshotRead> {
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
