/**
 * @module The dataplanes connected to this process's revocation stream: what each has
 * acknowledged, and waiting until every one of them enforces a given revocation
 * (`?wait=enforced`). Across replicas, `fleet.ts` adds the others' from the database.
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Enforcement } from '../../shared/contract/common.ts'
import { ID_PREFIX } from '../../shared/ids.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/**
 * The id of the dataplane named `name`: derived from the name, so it is the same across its
 * reconnects and on every replica, with no lookup (the database may be down when it connects).
 */
export function dataplaneIdFor(name: string): string {
  const digest = createHash('sha256').update(name).digest()
  let id = ''
  for (let i = 0; i < 26; i++) {
    const bit = i * 5
    const byte = bit >> 3
    const word = ((digest[byte] ?? 0) << 8) | (digest[byte + 1] ?? 0)
    id += CROCKFORD[(word >> (11 - (bit & 7))) & 31]
  }
  // A ULID's first character is at most 7 (48 bits of time): keep ids well-formed.
  return ID_PREFIX.dataplane + CROCKFORD[CROCKFORD.indexOf(id[0]!) & 7] + id.slice(1)
}

export interface ConnectedDataplane {
  /** This connection (one dataplane may briefly hold two while it reconnects). */
  connectionId: string
  /** The dataplane's id, stable per name: `dataplaneIdFor(name)`. */
  id: string
  name: string
  keyId: string
  remoteAddress: string
  /** Counted by `?wait=enforced`: dataplane keys are, admin observers are not. */
  enforcing: boolean
  connectedAt: number
  lastContactAt: number
  /** The cursor it has acknowledged, in microseconds. */
  appliedCursor: number
}

export class DataplaneRegistry extends EventEmitter<{
  acked: [ConnectedDataplane]
  changed: [ConnectedDataplane]
}> {
  readonly #connected = new Map<string, ConnectedDataplane>()

  constructor() {
    super()
    this.setMaxListeners(0)
  }

  add(dataplane: ConnectedDataplane): void {
    this.#connected.set(dataplane.connectionId, dataplane)
    this.emit('changed', dataplane)
  }

  remove(connectionId: string): void {
    const dp = this.#connected.get(connectionId)
    if (dp && this.#connected.delete(connectionId)) this.emit('changed', dp)
  }

  contact(connectionId: string, at = nowMicros()): void {
    const dp = this.#connected.get(connectionId)
    if (dp) dp.lastContactAt = at
  }

  ack(connectionId: string, cursor: number): void {
    const dp = this.#connected.get(connectionId)
    if (!dp) return
    dp.lastContactAt = nowMicros()
    if (cursor > dp.appliedCursor) {
      dp.appliedCursor = cursor
      this.emit('acked', dp)
    }
  }

  get(connectionId: string): ConnectedDataplane | undefined {
    return this.#connected.get(connectionId)
  }

  list(): ConnectedDataplane[] {
    return [...this.#connected.values()]
  }

  get size(): number {
    return this.#connected.size
  }

  /**
   * Resolves once every enforcing dataplane connected now has acknowledged `cursor`, or when
   * `timeoutMs` passes. One that disconnects while waited on counts as pending: it did not
   * confirm the revocation.
   */
  waitForCursor(cursor: number, timeoutMs: number): Promise<Enforcement> {
    const started = Date.now()
    const waitingOn = this.list().filter((dp) => dp.enforcing)
    const label = (dp: ConnectedDataplane) => `${dp.name} (${dp.id})`
    const result = (status: Enforcement['status']): Enforcement => ({
      status,
      cursor: formatMicros(cursor),
      waited_ms: Date.now() - started,
      enforced_by: waitingOn.filter((dp) => dp.appliedCursor >= cursor).map(label),
      pending: waitingOn.filter((dp) => dp.appliedCursor < cursor).map(label),
    })
    if (waitingOn.length === 0) return Promise.resolve(result('no_dataplanes'))
    const done = () => waitingOn.every((dp) => dp.appliedCursor >= cursor)
    if (done()) return Promise.resolve(result('enforced'))
    return new Promise((resolve) => {
      const onAck = () => {
        if (!done()) return
        finish()
        resolve(result('enforced'))
      }
      const timer = setTimeout(() => {
        finish()
        resolve(result('timeout'))
      }, timeoutMs)
      const finish = () => {
        clearTimeout(timer)
        this.off('acked', onAck)
      }
      this.on('acked', onAck)
    })
  }
}
