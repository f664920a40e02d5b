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
 *
 * The stream's client picks its own name, so a name proves nothing: a replica publishes one row
 * per name for its enforcing connections (the least cursor any of them acknowledged), never an
 * admin observer's, and a wait counts every live replica's row, even when a connection here
 * shares the name. Whoever reuses a name can add a row to wait for, never hide one.
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
    const publishSoon = (dp: ConnectedDataplane) => {
      if (!dp.enforcing) return
      this.#dirty.add(dp.name)
      this.#acksDirty = true
      this.#soon()
    }
    registry.on('changed', publishSoon)
    registry.on('acked', publishSoon)
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
    if (++this.#beats % 10 === 0) for (const name of this.#enforcingByName().keys()) this.#dirty.add(name)
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
    const byName = this.#enforcingByName()
    const rows: DataplaneRecord[] = []
    for (const name of names) {
      const connections = byName.get(name)
      if (connections) rows.push(toRecord(connections))
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

  /** This replica's enforcing connections, by name. */
  #enforcingByName(): Map<string, ConnectedDataplane[]> {
    const byName = new Map<string, ConnectedDataplane[]>()
    for (const dp of this.#registry.list()) {
      if (!dp.enforcing) continue
      const same = byName.get(dp.name)
      if (same) same.push(dp)
      else byName.set(dp.name, [dp])
    }
    return byName
  }

  async list(): Promise<FleetDataplane[]> {
    const rows = await this.#store.list()
    const local = this.#registry.list()
    const live = this.#liveSince()
    const listed = local.map((dp) => fromConnected(dp, this.replicaId))
    // This replica's own rows are answered from memory: connected here means listed above.
    const remote = rows.map((row) =>
      fromRow(row, row.connected === 1 && row.replica_id !== this.replicaId && this.#isLive(row, live)),
    )
    const connected = new Set(listed.map((dp) => dp.name))
    for (const dp of remote) {
      if (!dp.connected) continue
      listed.push(dp)
      connected.add(dp.name)
    }
    // A name no longer connected anywhere shows once, where it was last heard of.
    const gone = new Map<string, FleetDataplane>()
    for (const dp of remote) {
      if (dp.connected || connected.has(dp.name)) continue
      const seen = gone.get(dp.name)
      if (!seen || dp.lastContactAt > seen.lastContactAt) gone.set(dp.name, dp)
    }
    listed.push(...gone.values())
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

  /**
   * Rows of enforcing dataplanes connected to another live replica, whatever their name: a
   * connection here under the same name may be another dataplane, or someone borrowing the name.
   */
  #remoteEnforcing(rows: readonly RegisteredDataplane[]): RegisteredDataplane[] {
    const live = this.#liveSince()
    return rows.filter(
      (row) =>
        row.enforcing === 1 &&
        row.connected === 1 &&
        row.replica_id !== this.replicaId &&
        this.#isLive(row, live),
    )
  }

  async waitForCursor(cursor: number, timeoutMs: number): Promise<Enforcement> {
    const started = Date.now()
    const local = this.#registry.list().filter((dp) => dp.enforcing)
    let rows: RegisteredDataplane[] = []
    try {
      rows = this.#remoteEnforcing(await this.#store.list())
    } catch (err) {
      // The database is away: only this replica's dataplanes can be confirmed.
      this.#log.debug('reading the dataplane registry failed: waiting on local dataplanes only', { err })
    }
    const remote = new Map(rows.map((row) => [rowKey(row), row]))
    const label = (name: string, id: string, replica: string) => `${name} (${id}) on replica ${replica}`
    const result = (status: Enforcement['status']): Enforcement => {
      const enforced: string[] = []
      const pending: string[] = []
      for (const dp of local) {
        ;(dp.appliedCursor >= cursor ? enforced : pending).push(label(dp.name, dp.id, this.replicaId))
      }
      for (const row of remote.values()) {
        ;(row.applied_cursor >= cursor ? enforced : pending).push(label(row.name, row.id, row.replica_id))
      }
      return {
        status,
        cursor: formatMicros(cursor),
        waited_ms: Date.now() - started,
        enforced_by: enforced,
        pending,
      }
    }
    if (local.length === 0 && remote.size === 0) return result('no_dataplanes')
    const done = () =>
      local.every((dp) => dp.appliedCursor >= cursor) &&
      [...remote.values()].every((row) => row.applied_cursor >= cursor)
    if (done()) return result('enforced')
    const remoteNames = [...new Set(rows.map((row) => row.name))]
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
            const live = this.#liveSince()
            for (const row of rows) {
              // Only the rows waited for from the start: a row that appears later adds nothing.
              const waited = remote.get(rowKey(row))
              if (!waited) continue
              // A replica that stopped is not waited for, as if it had stopped before the wait.
              if (!this.#isLive(row, live)) remote.delete(rowKey(row))
              else if (row.applied_cursor > waited.applied_cursor) waited.applied_cursor = row.applied_cursor
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

/** A replica's row: `replica_id` holds no NUL, so the key names one replica and name. */
const rowKey = (row: RegisteredDataplane) => `${row.replica_id}\u0000${row.name}`

/**
 * One row for this replica's enforcing connections under one name: the newest one's details,
 * and the least cursor any of them acknowledged (a wait must not count the laggard as done).
 */
function toRecord(connections: readonly ConnectedDataplane[]): DataplaneRecord {
  let newest = connections[0]!
  let applied = newest.appliedCursor
  let lastContact = newest.lastContactAt
  for (const dp of connections) {
    if (dp.connectedAt > newest.connectedAt) newest = dp
    applied = Math.min(applied, dp.appliedCursor)
    lastContact = Math.max(lastContact, dp.lastContactAt)
  }
  return {
    name: newest.name,
    id: newest.id,
    key_id: newest.keyId,
    remote_address: newest.remoteAddress,
    enforcing: 1,
    connected: 1,
    connected_at: newest.connectedAt,
    last_contact_at: lastContact,
    applied_cursor: applied,
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
