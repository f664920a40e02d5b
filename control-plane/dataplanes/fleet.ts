/**
 * @module The dataplanes of the whole fleet, for `GET /v1/admin/dataplanes` and `?wait=enforced`.
 *
 * One process (SQLite): the dataplanes connected here (`LocalFleet`). Several replicas on
 * PostgreSQL (`SharedFleet`): each replica publishes its dataplanes' acknowledged cursors and its
 * own heartbeat to the database in one statement per batch: acknowledgements shortly after they
 * move (coalesced for `ackDelayMs`, so a fan-out to thousands of dataplanes is one write, not one
 * per ack), everything else with the heartbeat. A batch that carries acknowledgements NOTIFYs the
 * other replicas, so a replica waiting on a remote dataplane re-reads its row at once instead of
 * polling the table at a fast rate (it still polls slowly, in case a notification was lost).
 * A replica whose heartbeat is older than `liveMs` is not live: its dataplanes show as
 * disconnected and are not waited for. The dataplanes connected here are always answered from
 * memory, so a wait on local dataplanes alone costs one read of the table, then in-process acks.
 */
import type { Enforcement } from '../../shared/contract/common.ts'
import type { Logger } from '../../shared/logger.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'
import type {
  DataplaneRecord,
  DataplaneRegistryStore,
  RegisteredDataplane,
} from '../store/dataplane-registry.ts'
import type { ConnectedDataplane, DataplaneRegistry } from './registry.ts'

export interface FleetDataplane {
  id: string
  name: string
  keyId: string
  remoteAddress: string
  enforcing: boolean
  connected: boolean
  connectedAt: number
  lastContactAt: number
  appliedCursor: number
  /** The replica it is (or was last) connected to; absent on a single control plane. */
  replicaId?: string
}

export interface Fleet {
  list(): Promise<FleetDataplane[]>
  /**
   * Resolves once every enforcing dataplane connected now (to any live replica) has acknowledged
   * `cursor`, or when `timeoutMs` passes, naming those that had not.
   */
  waitForCursor(cursor: number, timeoutMs: number): Promise<Enforcement>
  close(): Promise<void>
}

const fromConnected = (dp: ConnectedDataplane, replicaId?: string): FleetDataplane => ({
  id: dp.id,
  name: dp.name,
  keyId: dp.keyId,
  remoteAddress: dp.remoteAddress,
  enforcing: dp.enforcing,
  connected: true,
  connectedAt: dp.connectedAt,
  lastContactAt: dp.lastContactAt,
  appliedCursor: dp.appliedCursor,
  ...(replicaId ? { replicaId } : {}),
})

/** The dataplanes of this process only. */
export class LocalFleet implements Fleet {
  constructor(private readonly registry: DataplaneRegistry) {}

  async list(): Promise<FleetDataplane[]> {
    return this.registry.list().map((dp) => fromConnected(dp))
  }

  waitForCursor(cursor: number, timeoutMs: number): Promise<Enforcement> {
    return this.registry.waitForCursor(cursor, timeoutMs)
  }

  async close(): Promise<void> {}
}

export interface SharedFleetOptions {
  replicaId: string
  /** Heartbeat period (default 500 ms). */
  heartbeatMs?: number
  /** How long acknowledgements are coalesced before they are published (default 25 ms). */
  ackDelayMs?: number
  /** A replica silent this long is not live (default 3 s). */
  liveMs?: number
  /** A dataplane not heard of this long leaves the list (default 15 min). */
  forgetAfterMs?: number
  /** Re-read of remote rows during a wait when no notification came (default 250 ms). */
  waitPollMs?: number
}

/** Every replica's dataplanes, through the database. */
export class SharedFleet implements Fleet {
  readonly replicaId: string
  readonly #registry: DataplaneRegistry
  readonly #store: DataplaneRegistryStore
  readonly #log: Logger
  readonly #startedAt = nowMicros()
  readonly #heartbeatMs: number
  readonly #ackDelayMs: number
  readonly #liveMs: number
  readonly #forgetAfterMs: number
  readonly #waitPollMs: number
  /** Names whose row must be written in the next batch. */
  readonly #dirty = new Set<string>()
  /** What this replica last wrote per name, to mark a departed dataplane disconnected. */
  readonly #published = new Map<string, DataplaneRecord>()
  #acksDirty = false
  #ackTimer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  #flushAgain = false
  #beats = 0
  #failing = false
  readonly #heartbeat: NodeJS.Timeout
  /** Waiters re-checking remote rows, woken by an acks notification. */
  readonly #remoteWaiters = new Set<() => void>()

  constructor(
    registry: DataplaneRegistry,
    store: DataplaneRegistryStore,
    log: Logger,
    options: SharedFleetOptions,
  ) {
    this.replicaId = options.replicaId
    this.#registry = registry
    this.#store = store
    this.#log = log
    this.#heartbeatMs = options.heartbeatMs ?? 500
    this.#ackDelayMs = options.ackDelayMs ?? 25
    this.#liveMs = options.liveMs ?? 3_000
    this.#forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000
    this.#waitPollMs = options.waitPollMs ?? 250
    registry.on('changed', (dp) => {
      this.#dirty.add(dp.name)
      this.#acksDirty = true
      this.#soon()
    })
    registry.on('acked', (dp) => {
      this.#dirty.add(dp.name)
      this.#acksDirty = true
      this.#soon()
    })
    this.#heartbeat = setInterval(() => this.#beat(), this.#heartbeatMs)
    this.#heartbeat.unref()
  }

  /** Publishes the first heartbeat: the replica is live from then on. */
  async start(): Promise<void> {
    await this.#flush().catch(() => {})
  }

  /** Another replica published acknowledgements: waiters on remote dataplanes look again. */
  acksPublished(replicaId: string): void {
    if (replicaId === this.replicaId) return
    for (const wake of this.#remoteWaiters) wake()
  }

  #soon(): void {
    if (this.#ackTimer) return
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined
      void this.#flush()
    }, this.#ackDelayMs)
    this.#ackTimer.unref()
  }

  #beat(): void {
    // Every tenth beat refreshes every row (last contact); the others carry the heartbeat and
    // whatever changed.
    if (++this.#beats % 10 === 0) for (const dp of this.#registry.list()) this.#dirty.add(dp.name)
    if (this.#beats % 120 === 0) {
      this.#store
        .forget((Date.now() - this.#forgetAfterMs) * 1000)
        .catch((err) => this.#log.debug('forgetting old dataplanes failed', { err }))
    }
    void this.#flush()
  }

  /** One statement at a time; a flush asked for during one runs right after it. */
  #flush(): Promise<void> {
    if (this.#flushing) {
      this.#flushAgain = true
      return this.#flushing
    }
    const run = async () => {
      try {
        do {
          this.#flushAgain = false
          await this.#publishBatch()
        } while (this.#flushAgain)
      } finally {
        this.#flushing = undefined
      }
    }
    this.#flushing = run()
    return this.#flushing
  }

  async #publishBatch(): Promise<void> {
    const names = [...this.#dirty]
    const notify = this.#acksDirty
    this.#dirty.clear()
    this.#acksDirty = false
    const newest = new Map<string, ConnectedDataplane>()
    for (const dp of this.#registry.list()) {
      const seen = newest.get(dp.name)
      if (!seen || dp.connectedAt > seen.connectedAt) newest.set(dp.name, dp)
    }
    const rows: DataplaneRecord[] = []
    for (const name of names) {
      const dp = newest.get(name)
      if (dp) rows.push(toRecord(dp))
      else {
        const last = this.#published.get(name)
        if (last?.connected) rows.push({ ...last, connected: 0 })
      }
    }
    try {
      await this.#store.publish(
        { id: this.replicaId, startedAt: this.#startedAt, now: nowMicros() },
        rows,
        notify,
      )
      for (const row of rows) {
        if (row.connected) this.#published.set(row.name, row)
        else this.#published.delete(row.name)
      }
      if (this.#failing) this.#log.info('publishing to the dataplane registry again')
      this.#failing = false
    } catch (err) {
      // Written with the next batch: nothing is lost while the database is away.
      for (const name of names) this.#dirty.add(name)
      if (notify) this.#acksDirty = true
      if (!this.#failing) this.#log.warn('publishing to the dataplane registry failed: will retry', { err })
      this.#failing = true
    }
  }

  async list(): Promise<FleetDataplane[]> {
    const rows = await this.#store.list()
    const local = this.#registry.list()
    const here = new Set(local.map((dp) => dp.name))
    const live = this.#liveSince()
    const listed = local.map((dp) => fromConnected(dp, this.replicaId))
    for (const row of rows) {
      if (here.has(row.name)) continue
      listed.push(
        fromRow(row, row.connected === 1 && row.replica_id !== this.replicaId && this.#isLive(row, live)),
      )
    }
    // Connected first, then the most recently heard of.
    return listed.sort(
      (a, b) => Number(b.connected) - Number(a.connected) || b.lastContactAt - a.lastContactAt,
    )
  }

  #liveSince(): number {
    return (Date.now() - this.#liveMs) * 1000
  }

  #isLive(row: RegisteredDataplane, since: number): boolean {
    return row.heartbeat_at !== null && row.heartbeat_at >= since
  }

  /** Rows of enforcing dataplanes connected to another live replica, and not (also) to this one. */
  #remoteEnforcing(rows: readonly RegisteredDataplane[]): RegisteredDataplane[] {
    const here = new Set(this.#registry.list().map((dp) => dp.name))
    const live = this.#liveSince()
    return rows.filter(
      (row) =>
        row.enforcing === 1 &&
        row.connected === 1 &&
        row.replica_id !== this.replicaId &&
        !here.has(row.name) &&
        this.#isLive(row, live),
    )
  }

  async waitForCursor(cursor: number, timeoutMs: number): Promise<Enforcement> {
    const started = Date.now()
    const local = this.#registry.list().filter((dp) => dp.enforcing)
    let remote: RegisteredDataplane[] = []
    try {
      remote = this.#remoteEnforcing(await this.#store.list())
    } catch (err) {
      // The database is away: only this replica's dataplanes can be confirmed.
      this.#log.debug('reading the dataplane registry failed: waiting on local dataplanes only', { err })
    }
    const applied = new Map(remote.map((row) => [row.name, row.applied_cursor]))
    const label = (name: string, id: string, replica: string) => `${name} (${id}) on replica ${replica}`
    const result = (status: Enforcement['status']): Enforcement => {
      const enforced: string[] = []
      const pending: string[] = []
      for (const dp of local) {
        ;(dp.appliedCursor >= cursor ? enforced : pending).push(label(dp.name, dp.id, this.replicaId))
      }
      for (const row of remote) {
        ;((applied.get(row.name) ?? 0) >= cursor ? enforced : pending).push(
          label(row.name, row.id, row.replica_id),
        )
      }
      return {
        status,
        cursor: formatMicros(cursor),
        waited_ms: Date.now() - started,
        enforced_by: enforced,
        pending,
      }
    }
    if (local.length === 0 && remote.length === 0) return result('no_dataplanes')
    const done = () =>
      local.every((dp) => dp.appliedCursor >= cursor) &&
      remote.every((row) => (applied.get(row.name) ?? 0) >= cursor)
    if (done()) return result('enforced')
    const remoteNames = remote.map((row) => row.name)
    return new Promise((resolve) => {
      let reading = false
      let readAgain = false
      const reread = () => {
        if (remoteNames.length === 0) return
        if (reading) {
          readAgain = true
          return
        }
        reading = true
        this.#store
          .byNames(remoteNames)
          .then((rows) => {
            for (const row of rows) {
              if (row.applied_cursor > (applied.get(row.name) ?? 0)) applied.set(row.name, row.applied_cursor)
            }
            check()
          })
          .catch(() => {})
          .finally(() => {
            reading = false
            if (readAgain) {
              readAgain = false
              reread()
            }
          })
      }
      const check = () => {
        if (!done()) return
        finish()
        resolve(result('enforced'))
      }
      const onAck = () => check()
      const poll = remoteNames.length > 0 ? setInterval(reread, this.#waitPollMs) : undefined
      const timer = setTimeout(() => {
        finish()
        resolve(result('timeout'))
      }, timeoutMs)
      const finish = () => {
        clearTimeout(timer)
        clearInterval(poll)
        this.#registry.off('acked', onAck)
        this.#remoteWaiters.delete(reread)
      }
      this.#registry.on('acked', onAck)
      this.#remoteWaiters.add(reread)
    })
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat)
    clearTimeout(this.#ackTimer)
    await this.#flushing?.catch(() => {})
  }
}

function toRecord(dp: ConnectedDataplane): DataplaneRecord {
  return {
    name: dp.name,
    id: dp.id,
    key_id: dp.keyId,
    remote_address: dp.remoteAddress,
    enforcing: dp.enforcing ? 1 : 0,
    connected: 1,
    connected_at: dp.connectedAt,
    last_contact_at: dp.lastContactAt,
    applied_cursor: dp.appliedCursor,
  }
}

function fromRow(row: RegisteredDataplane, connected: boolean): FleetDataplane {
  return {
    id: row.id,
    name: row.name,
    keyId: row.key_id,
    remoteAddress: row.remote_address,
    enforcing: row.enforcing === 1,
    connected,
    connectedAt: row.connected_at,
    lastContactAt: row.last_contact_at,
    appliedCursor: row.applied_cursor,
    replicaId: row.replica_id,
  }
}
