/**
 * @module A child process holding a share of the revocation benchmark's full-sync subscribers
 * (lib/subscribers.ts: each the dataplane's own sync, with its own journal and snapshot file in
 * its own directory), started by sync-fleet.ts. A fleet has one journal per process: spread
 * over several processes, a thousand journals' writes and fsyncs no longer queue behind one
 * event loop and one libuv thread pool.
 *
 * IPC, parent → child: `add` (subscribers to start and connect), `watch` (a JTI about to be
 * revoked), `close`. Child → parent: `started`, `added`, `watching`, `applied` once each of its
 * subscribers applied the JTI, then `done` once each of its
 * subscribers applied and acknowledged the JTI (and, with `settle`, wrote its snapshot file
 * after it), with the times on the machine's monotonic clock; `error` when something failed.
 */
import { mkdirSync } from 'node:fs'
import { mainThreadCpuMs } from './proc.ts'
import { Subscriber } from './subscribers.ts'

export type SyncWorkerCommand =
  | { type: 'add'; url: string; key: string; stateDir: string; names: string[] }
  | { type: 'watch'; jti: string; settle: boolean }
  | { type: 'close' }

export type SyncWorkerMessage =
  | { type: 'started' }
  | { type: 'added' }
  | { type: 'watching' }
  /** Every subscriber of this process applied the JTI (sent before `done`). */
  | { type: 'applied'; jti: string }
  | {
      type: 'done'
      jti: string
      applied: number[]
      acked: number[]
      /** This process's main-thread CPU from the watch to its last subscriber applying the JTI. */
      cpuMs: number
    }
  | { type: 'error'; message: string }

const toParent = (message: SyncWorkerMessage) => process.send?.(message)
const subscribers: Subscriber[] = []
/** A subscriber persists its set about a second after a change. */
const WRITES_DUE_MS = 30_000
const APPLY_DUE_MS = 15_000

async function add(command: Extract<SyncWorkerCommand, { type: 'add' }>): Promise<void> {
  mkdirSync(command.stateDir, { recursive: true })
  // 50 at a time, as the benchmark connected them from one process.
  for (let i = 0; i < command.names.length; i += 50) {
    const batch = command.names
      .slice(i, i + 50)
      .map((name) => new Subscriber(command.url, command.key, command.stateDir, name))
    await Promise.all(batch.map((s) => s.start()))
    await Promise.all(batch.map((s) => s.connected()))
    subscribers.push(...batch)
  }
}

function watch(jti: string, settle: boolean): void {
  const subs = subscribers.slice()
  const watched = new Set([jti])
  const writes = subs.map((s) => s.writes)
  const cpu0 = mainThreadCpuMs(process.pid)
  let cpuMs = 0
  let applied = 0
  let acked = 0
  const timer = setTimeout(() => {
    toParent({
      type: 'error',
      message: `${subs.length - applied} of ${subs.length} subscribers did not apply, ${subs.length - acked} did not acknowledge ${jti} in ${APPLY_DUE_MS} ms`,
    })
  }, APPLY_DUE_MS)
  const finish = async () => {
    clearTimeout(timer)
    const result: SyncWorkerMessage = {
      type: 'done',
      jti,
      applied: subs.map((s) => s.appliedAt.get(jti)!),
      acked: subs.map((s) => s.ackedAt.get(jti)!),
      cpuMs,
    }
    for (const s of subs) {
      s.onWatched = undefined
      s.appliedAt.delete(jti)
      s.ackedAt.delete(jti)
    }
    // Each subscriber persists its set a second later: the next revocation waits for those
    // writes, or it would be measured against a thousand snapshot writes.
    const due = Date.now() + (settle ? WRITES_DUE_MS : 0)
    while (subs.some((s, i) => s.writes <= writes[i]!) && Date.now() < due) {
      await new Promise((r) => setTimeout(r, 20))
    }
    toParent(result)
  }
  if (subs.length === 0) {
    clearTimeout(timer)
    toParent({ type: 'applied', jti })
    toParent({ type: 'done', jti, applied: [], acked: [], cpuMs: 0 })
    return
  }
  for (const s of subs) {
    s.onWatched = (_jti, event) => {
      if (event === 'applied' && ++applied === subs.length) {
        cpuMs = mainThreadCpuMs(process.pid) - cpu0
        toParent({ type: 'applied', jti })
      }
      if (event === 'acked' && ++acked === subs.length) void finish()
    }
    s.watch(watched)
  }
}

process.on('message', (command: SyncWorkerCommand) => {
  if (command.type === 'add') {
    add(command).then(
      () => toParent({ type: 'added' }),
      (err: Error) => toParent({ type: 'error', message: err.message }),
    )
  } else if (command.type === 'watch') {
    watch(command.jti, command.settle)
    toParent({ type: 'watching' })
  } else if (command.type === 'close') {
    Promise.all(subscribers.map((s) => s.stop())).finally(() => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))
toParent({ type: 'started' })
