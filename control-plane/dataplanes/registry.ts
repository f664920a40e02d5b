/**
 * @module The dataplanes connected to the revocation stream: what each has acknowledged, and
 * waiting until every one of them enforces a given revocation (`?wait=enforced`).
 */
import { EventEmitter } from 'node:events'
import type { Enforcement } from '../../shared/contract/common.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'

export interface ConnectedDataplane {
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

export class DataplaneRegistry extends EventEmitter<{ acked: [ConnectedDataplane]; changed: [] }> {
  readonly #connected = new Map<string, ConnectedDataplane>()

  constructor() {
    super()
    this.setMaxListeners(0)
  }

  add(dataplane: ConnectedDataplane): void {
    this.#connected.set(dataplane.id, dataplane)
    this.emit('changed')
  }

  remove(id: string): void {
    if (this.#connected.delete(id)) this.emit('changed')
  }

  contact(id: string, at = nowMicros()): void {
    const dp = this.#connected.get(id)
    if (dp) dp.lastContactAt = at
  }

  ack(id: string, cursor: number): void {
    const dp = this.#connected.get(id)
    if (!dp) return
    dp.lastContactAt = nowMicros()
    if (cursor > dp.appliedCursor) {
      dp.appliedCursor = cursor
      this.emit('acked', dp)
    }
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
