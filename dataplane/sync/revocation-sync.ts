/**
 * @module Keeps the revocation set current with the control plane, and knows how current it is.
 *
 * At start: the persisted snapshot (enforced at once), then the JWKS and a full snapshot from
 * the control plane, then the stream from that cursor. Every source (snapshot pages, polls, the
 * stream) applies entries through one `apply`, which skips any entry at or before the applied
 * cursor: each source delivers every entry after the cursor it started from, in order, so
 * whichever runs ahead, nothing is skipped and nothing applied twice.
 *
 * Acknowledgement means "enforced, and still enforced after a crash": what is acknowledged on the
 * stream (what `?wait=enforced` waits for), and the cursor a reconnect resumes from, is the
 * durable cursor, never one only in memory. Each applied entry is appended to the journal; the
 * entries applied in one tick share one write and fsync, and their cursor is acknowledged once
 * that is on disk. A full snapshot is not journaled: its cursor is acknowledged once the snapshot
 * file holding it is written, which `start` waits for before it follows the stream.
 *
 * Safety nets: a periodic `since` poll; a heartbeat announcing a head beyond the applied cursor
 * while the stream has gone quiet is a gap, repaired by polling at once; every (re)connect
 * refetches the JWKS, since `jwks_changed` may have been sent while disconnected.
 *
 * "Synced" means the control plane confirmed that nothing after the applied cursor exists: a
 * snapshot or poll finished, or a heartbeat's head is at or before the cursor. The staleness
 * bound counts from the last such confirmation.
 */
import type { Client } from '../../shared/client/index.ts'
import type { Revocation, StreamClientMessage, StreamServerMessage } from '../../shared/contract/tokens.ts'
import { ApiError } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import { formatMicros, parseMicros } from '../../shared/time.ts'
import type { RevocationSet } from '../auth/revocation-set.ts'
import type { ControlPlanes } from './control-planes.ts'
import type { KeySet } from './key-set.ts'
import type { RevocationJournal } from './revocation-journal.ts'
import type { SnapshotHeader, SnapshotWriter } from './snapshot-file.ts'
import { readCompactSnapshot, SNAPSHOT_PATH } from './snapshot-reader.ts'
import { StreamClient } from './stream-client.ts'

/** Entries per page of the revocation list (a 1M-entry snapshot never sits in memory as one JSON). */
export const SNAPSHOT_PAGE_SIZE = 10_000
/** A stream that delivered nothing for this long while its head is ahead of us has a gap. */
const GAP_QUIET_MS = 1_000
/** The compact snapshot may be large: more time than one API call. */
const COMPACT_SNAPSHOT_MIN_TIMEOUT_MS = 60_000

export interface RevocationSyncOptions {
  /** Which control plane now: the stream moves on from one whose connection ended. */
  controlPlanes: ControlPlanes
  dataplaneKey: string
  name: () => string
  pollIntervalMs: number
  /** How often entries whose credential expired (plus the leeway) leave the set (default 10 minutes). */
  pruneIntervalMs?: number
  streamIdleTimeoutMs: number
  reconnectMaxMs: number
  handshakeTimeoutMs: number
}

export interface RevocationSyncHooks {
  /** An entry was applied (AI-key revocations evict provider keys). */
  applied?: (revocation: Revocation) => void
  /** A secret changed: drop what was cached from it. */
  secretChanged?: (realm: string, name: string) => void
  /** A member left a project or changed role (`undefined`: every member): drop their provider keys. */
  membershipChanged?: (projectId: string, identityId: string | undefined) => void
  /** Entries up to this cursor are on disk, and acknowledged (sent when connected). */
  durable?: (cursor: string) => void
  /** The control plane confirmed the set current at this time (epoch ms). */
  synced?: (atMs: number) => void
  streamConnected?: (connected: boolean) => void
}

export type SnapshotSource = 'control_plane' | 'persisted'

export class RevocationSync {
  readonly #client: Client
  readonly #set: RevocationSet
  readonly #keys: KeySet
  readonly #writer: SnapshotWriter
  readonly #journal: RevocationJournal
  readonly #options: RevocationSyncOptions
  readonly #hooks: RevocationSyncHooks
  readonly #log: Logger
  readonly #stream: StreamClient
  #cursor = 0
  #cursorText = formatMicros(0)
  /**
   * Every change of the applied cursor counts one: which of a journal commit and a snapshot
   * write holds the newer state is decided by this, since a full snapshot can move the cursor back.
   */
  #seq = 0
  /** The last entry appended to the journal. */
  #journaledSeq = 0
  #journaledText = formatMicros(0)
  /** What is on disk: the cursor acknowledged and resumed from. */
  #durableSeq = 0
  #durableText = formatMicros(0)
  readonly #headerSeq = new WeakMap<SnapshotHeader, number>()
  #syncedAtMs = 0
  #source: SnapshotSource | undefined
  /** A stream head we have yet to reach; reaching it confirms the set current. */
  #catchUpTo: number | undefined
  #lastEntryAt = 0
  #polling: Promise<boolean> | undefined
  #resnapshotting: Promise<boolean> | undefined
  #ackScheduled = false
  #timers: NodeJS.Timeout[] = []

  constructor(
    client: Client,
    set: RevocationSet,
    keys: KeySet,
    writer: SnapshotWriter,
    journal: RevocationJournal,
    options: RevocationSyncOptions,
    log: Logger,
    hooks: RevocationSyncHooks = {},
  ) {
    this.#client = client
    this.#set = set
    this.#keys = keys
    this.#writer = writer
    this.#journal = journal
    this.#options = options
    this.#log = log
    this.#hooks = hooks
    this.#stream = new StreamClient(
      {
        urlFor: (since) => options.controlPlanes.rebase(client.tokens.streamUrl(since, options.name())),
        failed: (url) => options.controlPlanes.failed(url),
        key: options.dataplaneKey,
        idleTimeoutMs: options.streamIdleTimeoutMs,
        reconnectMaxMs: options.reconnectMaxMs,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
      },
      {
        cursor: () => this.#durableText,
        message: (m) => this.#onMessage(m),
        connected: (c) => this.#onConnected(c),
        behindHorizon: () => void this.resnapshot('stream'),
      },
      log,
    )
  }

  /** The applied cursor (RFC 3339). */
  get cursor(): string {
    return this.#cursorText
  }

  /** The cursor on disk (journal or snapshot): what is acknowledged (RFC 3339). */
  get durableCursor(): string {
    return this.#durableText
  }

  /** When the control plane last confirmed the set current (epoch ms; 0 never). */
  get syncedAtMs(): number {
    return this.#syncedAtMs
  }

  /** Where the set came from; `undefined` while no snapshot is loaded. */
  get source(): SnapshotSource | undefined {
    return this.#source
  }

  get streamConnected(): boolean {
    return this.#stream.connected
  }

  /** Sends a message of the dataplane's own on the stream; false when it is not connected. */
  sendOnStream(message: StreamClientMessage): boolean {
    return this.#stream.send(JSON.stringify(message))
  }

  /**
   * What the snapshot file records, read as a write begins; `undefined` until there is something
   * worth writing. Starts a new journal segment: the ones before hold nothing the snapshot lacks.
   */
  snapshotHeader(): SnapshotHeader | undefined {
    if (!this.#source) return undefined
    const header: SnapshotHeader = {
      cursor: this.#cursorText,
      syncedAtMs: this.#syncedAtMs,
      jwks: this.#keys.current,
      controlPlane: this.#options.controlPlanes.current,
      journalSegment: this.#journal.rotate(),
    }
    this.#headerSeq.set(header, this.#seq)
    return header
  }

  /** A snapshot is on disk: its cursor is durable, and the journal before it can go. */
  snapshotWritten(header: SnapshotHeader): void {
    this.#journal.dropBefore(header.journalSegment).catch((err: unknown) => {
      this.#log.warn('deleting old revocation journal segments failed', { err })
    })
    const seq = this.#headerSeq.get(header)
    if (seq !== undefined) this.#markDurable(seq, header.cursor)
  }

  /**
   * Starts from persisted state already loaded into the set (the snapshot, then the journal
   * replayed over it): `cursor` is the newer of the two, and is on disk.
   */
  restore(cursor: string, syncedAtMs: number): void {
    this.#setCursor(cursor)
    this.#durableSeq = this.#seq
    this.#durableText = this.#cursorText
    this.#source = 'persisted'
    this.#confirm(syncedAtMs)
  }

  /**
   * The initial sync (JWKS and full snapshot), then the stream, the poll and pruning. Resolves
   * once the initial sync has succeeded or failed; on failure the stream and the poll keep
   * trying in the background.
   */
  async start(): Promise<boolean> {
    const [keysOk, snapshotOk] = await Promise.all([this.#keys.refresh('start'), this.#fullSnapshot()])
    // The full snapshot is not journaled: it is durable, and acknowledged (see snapshotWritten),
    // once the file holding it (and the JWKS just fetched, so a restart can verify) is written.
    if (snapshotOk) await this.#writer.flush()
    this.#keys.start()
    this.#stream.start()
    this.#every(this.#options.pollIntervalMs, () => void this.poll())
    this.#every(this.#options.pruneIntervalMs ?? 600_000, () => this.prune())
    return keysOk && snapshotOk
  }

  stop(): void {
    this.#stream.stop()
    this.#keys.stop()
    for (const t of this.#timers) clearInterval(t)
  }

  /** Fetches every entry after the applied cursor; single-flight. Resolves whether it succeeded. */
  poll(): Promise<boolean> {
    this.#polling ??= this.#fetchAfter(this.#cursorText, false).finally(() => {
      this.#polling = undefined
    })
    return this.#polling
  }

  /**
   * Drops the entries whose credential expired (plus the leeway), as the control plane purges
   * them from its log; the snapshot file is rewritten without them. (The journal may still hold
   * some until its next rotation: replaying one adds nothing, since it has expired.)
   */
  prune(): number {
    const removed = this.#set.prune()
    if (removed > 0) {
      this.#log.info('expired revocations pruned', { removed, entries: this.#set.size })
      this.#writer.schedule()
    }
    return removed
  }

  /**
   * Our cursor is behind the control plane's purge horizon (a poll or the stream was refused
   * with `failed_precondition`): entries after it may be gone, so take a fresh snapshot, and
   * resume from its cursor once that is on disk. Single-flight.
   */
  resnapshot(trigger: 'poll' | 'stream'): Promise<boolean> {
    this.#resnapshotting ??= (async () => {
      this.#log.warn('revocation cursor behind the purge horizon: taking a fresh snapshot', {
        trigger,
        cursor: this.#cursorText,
      })
      const ok = await this.#fullSnapshot()
      if (ok) {
        await this.#writer.flush()
        // The stream waits out a back-off after its refusal: resume from the new cursor now.
        this.#stream.connectNow()
      }
      return ok
    })().finally(() => {
      this.#resnapshotting = undefined
    })
    return this.#resnapshotting
  }

  #every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms)
    timer.unref()
    this.#timers.push(timer)
  }

  /**
   * The compact snapshot, read straight into the set; the paged JSON list from an older control
   * plane without it. The set takes the snapshot's cursor as its own (see `#fetchAfter`).
   */
  async #fullSnapshot(): Promise<boolean> {
    const startedAt = Date.now()
    const planes = this.#options.controlPlanes
    let info: Awaited<ReturnType<typeof readCompactSnapshot>>
    try {
      info = await readCompactSnapshot(
        planes.fetch,
        planes.urls[0] + SNAPSHOT_PATH,
        this.#options.dataplaneKey,
        this.#set,
        Math.max(COMPACT_SNAPSHOT_MIN_TIMEOUT_MS, this.#options.handshakeTimeoutMs),
      )
    } catch (err) {
      this.#log.warn('revocation snapshot failed', { err })
      return false
    }
    if (!info) {
      this.#log.info('the control plane has no compact snapshot; paging the revocation list')
      return this.#fetchAfter(formatMicros(0), true)
    }
    this.#setCursor(formatMicros(info.cursorMicros))
    this.#source = 'control_plane'
    this.#log.info('revocation snapshot loaded', {
      format: 'compact',
      declared: info.count,
      entries: this.#set.size,
      cursor: this.#cursorText,
      ms: Date.now() - startedAt,
    })
    this.#confirm(startedAt)
    this.#writer.schedule()
    return true
  }

  /**
   * Pages through the list after `since`. A full snapshot adds every entry and takes the control
   * plane's cursor as its own (even one behind a persisted cursor: a control plane restored from
   * a backup); an incremental fetch goes through `apply`.
   */
  async #fetchAfter(since: string, full: boolean): Promise<boolean> {
    const startedAt = Date.now()
    let next = since
    let applied = 0
    try {
      for (;;) {
        const page = await this.#client.tokens.getRevocationList({ since: next, limit: SNAPSHOT_PAGE_SIZE })
        // A full snapshot mostly repeats what the set holds already (the persisted snapshot):
        // room for its count, not for both.
        if (next === since) this.#set.reserve(full ? page.total_count : this.#set.size + page.total_count)
        for (const r of page.revocations) {
          if (full) {
            this.#set.add(r.jti, expirySec(r))
            this.#hooks.applied?.(r)
          } else if (this.#apply(r)) applied++
        }
        if (full) this.#setCursor(page.snapshot_at)
        next = page.snapshot_at
        if (page.revocations.length < SNAPSHOT_PAGE_SIZE) break
      }
    } catch (err) {
      if (!full && err instanceof ApiError && err.code === 'failed_precondition') {
        // Not awaited: the poll's single flight ends, and the snapshot's own completes it.
        void this.resnapshot('poll')
        return false
      }
      this.#log.warn(full ? 'revocation snapshot failed' : 'revocation poll failed', { err })
      return false
    }
    if (full) {
      this.#source = 'control_plane'
      this.#log.info('revocation snapshot loaded', {
        format: 'paged',
        entries: this.#set.size,
        cursor: this.#cursorText,
      })
    }
    this.#confirm(startedAt)
    if (full) this.#writer.schedule()
    else if (applied > 0) {
      this.#writer.schedule()
      this.#scheduleAck()
    }
    return true
  }

  /** Applies one entry in cursor order; false when it was at or before the applied cursor. */
  #apply(r: Revocation): boolean {
    const cursor = parseMicros(r.revoked_at)
    if (cursor === undefined || cursor <= this.#cursor) return false
    const expiry = expirySec(r)
    this.#set.add(r.jti, expiry)
    this.#journal.append(r.jti, expiry, r.revoked_at)
    this.#cursor = cursor
    this.#cursorText = r.revoked_at
    this.#journaledSeq = ++this.#seq
    this.#journaledText = r.revoked_at
    this.#hooks.applied?.(r)
    return true
  }

  #onMessage(m: StreamServerMessage): void {
    switch (m.type) {
      case 'revocation':
        this.#lastEntryAt = Date.now()
        if (this.#apply(m.revocation)) {
          this.#writer.schedule()
          this.#scheduleAck()
        }
        this.#reached()
        return
      case 'hello':
        this.#head(m.head, false)
        return
      case 'heartbeat':
        this.#head(m.head, true)
        return
      case 'jwks_changed':
        void this.#keys.refresh('jwks_changed')
        return
      case 'secret_changed':
        this.#hooks.secretChanged?.(m.realm, m.name)
        return
      case 'membership_changed':
        this.#hooks.membershipChanged?.(m.project_id, m.user_id)
        return
    }
  }

  /** The control plane says its newest entry is `head`. */
  #head(headText: string, heartbeat: boolean): void {
    const head = parseMicros(headText)
    if (head === undefined) return
    if (head <= this.#cursor) {
      this.#catchUpTo = undefined
      this.#confirm(Date.now())
      return
    }
    this.#catchUpTo = Math.max(this.#catchUpTo ?? 0, head)
    // Behind on a heartbeat with the stream quiet: entries were lost on the way. Repair.
    if (heartbeat && Date.now() - this.#lastEntryAt > GAP_QUIET_MS) {
      this.#log.warn('revocation stream gap: polling', { head: headText, cursor: this.#cursorText })
      void this.poll()
    }
  }

  #reached(): void {
    if (this.#catchUpTo !== undefined && this.#cursor >= this.#catchUpTo) {
      this.#catchUpTo = undefined
      this.#confirm(Date.now())
    }
  }

  #onConnected(connected: boolean): void {
    this.#hooks.streamConnected?.(connected)
    if (!connected) return
    // A rotation announced while we were away would otherwise wait for the periodic refresh.
    void this.#keys.refresh('reconnect')
    this.#lastEntryAt = Date.now()
  }

  #confirm(atMs: number): void {
    if (atMs <= this.#syncedAtMs) return
    this.#syncedAtMs = atMs
    // Confirmed complete by the control plane (a start with nothing persisted and the snapshot
    // failing, completed by the stream or a poll): the set now counts as loaded.
    if (!this.#source) {
      this.#source = 'control_plane'
      this.#writer.schedule()
    }
    this.#hooks.synced?.(atMs)
  }

  #setCursor(text: string): void {
    const cursor = parseMicros(text)
    if (cursor === undefined) return
    this.#cursor = cursor
    this.#cursorText = text
    this.#seq++
  }

  /**
   * Commits what this tick journaled (one write and fsync for all of it, shared with commits
   * asked for while one runs), then acknowledges it.
   */
  #scheduleAck(): void {
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    setImmediate(() => {
      this.#ackScheduled = false
      const seq = this.#journaledSeq
      const text = this.#journaledText
      this.#journal.commit().then(
        () => this.#markDurable(seq, text),
        // Not acknowledged: the next commit retries, and the next snapshot write covers it too.
        (err: unknown) => this.#log.error('writing the revocation journal failed', { err }),
      )
    })
  }

  #markDurable(seq: number, text: string): void {
    if (seq <= this.#durableSeq) return
    this.#durableSeq = seq
    this.#durableText = text
    this.#stream.ack(text)
    this.#hooks.durable?.(text)
  }
}

function expirySec(r: Revocation): number {
  const micros = parseMicros(r.expires_at)
  return micros === undefined ? Number.POSITIVE_INFINITY : micros / 1e6
}
