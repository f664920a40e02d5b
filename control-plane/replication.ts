/**
 * @module What makes PostgreSQL replicas one control plane: they find each other only through the
 * database. Each replica LISTENs for new log entries (and for other replicas' acknowledgements)
 * on a dedicated connection and reads the new entries from the log itself, so its stream pushes
 * every entry, whoever wrote it, in cursor order. A catch-up read on every (re)LISTEN and a safety
 * poll cover notifications lost while the connection was down. Each replica publishes its
 * dataplanes to the shared registry (`dataplanes/fleet.ts`).
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import type { StreamServerMessage } from '../shared/contract/tokens.ts'
import type { Logger } from '../shared/logger.ts'
import { SharedFleet } from './dataplanes/fleet.ts'
import type { DataplaneRegistry } from './dataplanes/registry.ts'
import type { RevocationLog } from './revocations/log.ts'
import { DataplaneRegistryStore } from './store/dataplane-registry.ts'
import type { Db } from './store/db.ts'
import { ACKS_CHANNEL, EVENTS_CHANNEL, LOG_CHANNEL, notify, PostgresListener } from './store/notifications.ts'

/** The safety poll of the log, for a notification that never came. */
const LOG_POLL_MS = 1_000

/** A stream event another replica announced. */
export type ReplicatedEvents = { event: [StreamServerMessage] }

export interface Replication extends EventEmitter<ReplicatedEvents> {
  replicaId: string
  fleet: SharedFleet
  /** Tells the other replicas about a stream event that happened here. */
  announce(message: StreamServerMessage): void
  close(): Promise<void>
}

export async function startReplication(deps: {
  databaseUrl: string
  db: Db
  revocations: RevocationLog
  dataplanes: DataplaneRegistry
  log: Logger
}): Promise<Replication> {
  const { revocations, log } = deps
  const replicaId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  const fleet = new SharedFleet(deps.dataplanes, new DataplaneRegistryStore(deps.db), log, { replicaId })
  await fleet.start()

  let readFailing = false
  const sync = () => {
    revocations.sync().then(
      () => {
        if (readFailing) log.info('reading the log again')
        readFailing = false
      },
      (err) => {
        if (!readFailing) log.warn('reading new log entries failed: will retry', { err })
        readFailing = true
      },
    )
  }
  const listener = new PostgresListener({
    connectionString: deps.databaseUrl,
    channels: [LOG_CHANNEL, ACKS_CHANNEL, EVENTS_CHANNEL],
    log,
  })
  const events = new EventEmitter<ReplicatedEvents>()
  listener.on('notification', (channel, payload) => {
    if (channel === LOG_CHANNEL) sync()
    else if (channel === ACKS_CHANNEL) fleet.acksPublished(payload)
    else if (channel === EVENTS_CHANNEL) {
      try {
        const { replica, message } = JSON.parse(payload) as { replica: string; message: StreamServerMessage }
        if (replica !== replicaId) events.emit('event', message)
      } catch (err) {
        log.warn('an unreadable replica event was ignored', { err })
      }
    }
  })
  // Whatever was committed while the connection was down was not notified: read it now.
  listener.on('listening', sync)
  await listener.start()
  const poll = setInterval(sync, LOG_POLL_MS)
  poll.unref()
  log.info('replica of a shared database', { replica_id: replicaId })

  return Object.assign(events, {
    replicaId,
    fleet,
    announce(message: StreamServerMessage) {
      notify(deps.db, EVENTS_CHANNEL, JSON.stringify({ replica: replicaId, message })).catch((err) =>
        log.warn('could not tell the other replicas about a stream event', { type: message.type, err }),
      )
    },
    async close() {
      clearInterval(poll)
      await listener.close()
      await fleet.close()
    },
  })
}
