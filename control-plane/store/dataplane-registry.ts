/**
 * @module The fleet's registry in the database (PostgreSQL replicas): each replica's heartbeat
 * and the dataplanes it serves, one row per replica and dataplane name. A replica writes only its
 * own rows, in one statement per batch. A name is chosen by whoever connects (`?name=`), so it is
 * no identity: one name may be live on several replicas at once, and each such row is waited for.
 */
import type { Db } from './db.ts'
import { ACKS_CHANNEL } from './notifications.ts'

export interface DataplaneRecord {
  name: string
  id: string
  key_id: string
  remote_address: string
  /** 1 when `?wait=enforced` counts it. */
  enforcing: number
  /** 1 while connected to its replica. */
  connected: number
  connected_at: number
  last_contact_at: number
  /** The least cursor acknowledged by the replica's connections under this name. */
  applied_cursor: number
}

export interface RegisteredDataplane extends DataplaneRecord {
  replica_id: string
  /** The owning replica's last heartbeat (microseconds); null when the replica is forgotten. */
  heartbeat_at: number | null
}

export interface ReplicaBeat {
  id: string
  startedAt: number
  now: number
}

const PUBLISH = `WITH beat AS (
    INSERT INTO control_plane_replicas (id, started_at, heartbeat_at) VALUES (@replica, @started_at, @now)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
  ), registered AS (
    INSERT INTO dataplane_registry (name, id, replica_id, key_id, remote_address, enforcing, connected,
                                    connected_at, last_contact_at, applied_cursor)
    SELECT name, id, @replica, key_id, remote_address, enforcing, connected, connected_at, last_contact_at,
           applied_cursor
      FROM json_to_recordset(CAST(@rows AS json)) AS r(name TEXT, id TEXT, key_id TEXT, remote_address TEXT,
           enforcing INTEGER, connected INTEGER, connected_at BIGINT, last_contact_at BIGINT, applied_cursor BIGINT)
    ON CONFLICT (replica_id, name) DO UPDATE SET
      id = EXCLUDED.id, key_id = EXCLUDED.key_id, remote_address = EXCLUDED.remote_address,
      enforcing = EXCLUDED.enforcing, connected = EXCLUDED.connected, connected_at = EXCLUDED.connected_at,
      last_contact_at = GREATEST(dataplane_registry.last_contact_at, EXCLUDED.last_contact_at),
      applied_cursor = EXCLUDED.applied_cursor
  )
  SELECT pg_notify('${ACKS_CHANNEL}', @replica) WHERE CAST(@notify AS BOOLEAN)`

export class DataplaneRegistryStore {
  constructor(readonly db: Db) {}

  /**
   * The replica's heartbeat and its changed dataplanes, in one statement; with `notify`, the other
   * replicas are told that acknowledgements moved (someone may be waiting on them).
   */
  async publish(replica: ReplicaBeat, rows: readonly DataplaneRecord[], notify: boolean): Promise<void> {
    await this.db.run(PUBLISH, {
      replica: replica.id,
      started_at: replica.startedAt,
      now: replica.now,
      rows: JSON.stringify(rows),
      notify,
    })
  }

  /** Every registered dataplane with its replica's heartbeat. */
  list(): Promise<RegisteredDataplane[]> {
    return this.db.all<RegisteredDataplane>(
      `SELECT d.*, r.heartbeat_at FROM dataplane_registry d
         LEFT JOIN control_plane_replicas r ON r.id = d.replica_id
        ORDER BY d.name, d.replica_id`,
    )
  }

  /** The named dataplanes' rows on every replica (what a wait re-reads). */
  byNames(names: readonly string[]): Promise<RegisteredDataplane[]> {
    return this.db.all<RegisteredDataplane>(
      `SELECT d.*, r.heartbeat_at FROM dataplane_registry d
         LEFT JOIN control_plane_replicas r ON r.id = d.replica_id
        WHERE d.name IN (SELECT json_array_elements_text(CAST(? AS json)))`,
      [JSON.stringify(names)],
    )
  }

  /** Forgets dataplanes not heard of since `before` (microseconds), and replicas silent since then. */
  async forget(before: number): Promise<void> {
    await this.db.transaction(async () => {
      await this.db.run(
        `DELETE FROM dataplane_registry WHERE last_contact_at < ?
            AND (connected = 0 OR replica_id NOT IN (SELECT id FROM control_plane_replicas WHERE heartbeat_at >= ?))`,
        [before, before],
      )
      await this.db.run('DELETE FROM control_plane_replicas WHERE heartbeat_at < ?', [before])
    })
  }
}
