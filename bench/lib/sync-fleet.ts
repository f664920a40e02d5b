/**
 * @module The revocation benchmark's full-sync subscribers spread over a few child processes
 * (each runs sync-worker.ts), round-robin, each pinned to a core. The fleet grows to a count,
 * and for a revocation answers when each subscriber applied it and acknowledged it (journaled
 * and fsynced), on the machine's monotonic clock (`monotonicMs`).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { track, untrack } from './cleanup.ts'
import { pin } from './cpu.ts'
import { mainThreadCpuMs } from './proc.ts'
import type { SyncWorkerCommand, SyncWorkerMessage } from './sync-worker.ts'

const WORKER = new URL('./sync-worker.ts', import.meta.url).pathname

type Done = Extract<SyncWorkerMessage, { type: 'done' }>

export interface SyncRound {
  /** Per subscriber, when it applied the JTI, and when it acknowledged it (monotonic ms). */
  applied: Float64Array
  acked: Float64Array
  /** Main-thread CPU of the subscribers' processes, each until its last subscriber applied it. */
  cpuMs: number
}

class Worker {
  readonly #waiting: Array<{ type: string; resolve: (m: SyncWorkerMessage) => void }> = []
  readonly #inbox: SyncWorkerMessage[] = []
  #failure: string | undefined
  #failed: ((err: Error) => void)[] = []
  size = 0

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: SyncWorkerMessage) => {
      if (m.type === 'error') return this.#fail(m.message)
      const at = this.#waiting.findIndex((w) => w.type === m.type)
      if (at < 0) this.#inbox.push(m)
      else this.#waiting.splice(at, 1)[0]!.resolve(m)
    })
    child.once('exit', (code) => this.#fail(`exited (${code})`))
  }

  send(command: SyncWorkerCommand): void {
    this.child.send(command)
  }

  next<T extends SyncWorkerMessage['type']>(
    type: T,
    timeoutMs = 60_000,
  ): Promise<Extract<SyncWorkerMessage, { type: T }>> {
    if (this.#failure) return Promise.reject(new Error(this.#failure))
    const queued = this.#inbox.findIndex((m) => m.type === type)
    if (queued >= 0) return Promise.resolve(this.#inbox.splice(queued, 1)[0] as never)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${type}" in ${timeoutMs} ms`)), timeoutMs)
      const entry = {
        type,
        resolve: (m: SyncWorkerMessage) => {
          clearTimeout(timer)
          resolve(m as never)
        },
      }
      this.#waiting.push(entry)
      this.#failed.push((err) => {
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  #fail(message: string): void {
    this.#failure ??= message
    for (const f of this.#failed.splice(0)) f(new Error(message))
  }
}

export class SyncFleet {
  readonly #workers: Worker[]
  #size = 0

  private constructor(workers: Worker[]) {
    this.#workers = workers
  }

  /** Starts `processes` workers, worker `p` pinned to `cores[p % cores.length]` (none: not pinned). */
  static async start(processes: number, cores: Array<number | undefined>): Promise<SyncFleet> {
    const workers = Array.from({ length: processes }, (_, p) => {
      const core = cores[p % cores.length]
      const child = fork(WORKER, [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      track(child.pid)
      pin(child.pid, core)
      return new Worker(child)
    })
    const fleet = new SyncFleet(workers)
    try {
      await Promise.all(workers.map((w) => w.next('started')))
    } catch (err) {
      await fleet.stop()
      throw err
    }
    return fleet
  }

  get processes(): number {
    return this.#workers.length
  }

  get size(): number {
    return this.#size
  }

  /** Adds subscribers (dealt round-robin over the processes) until there are `count`. */
  async grow(count: number, url: string, key: string, stateDir: string): Promise<void> {
    const names: string[][] = this.#workers.map(() => [])
    for (let i = this.#size; i < count; i++) names[i % this.#workers.length]!.push(`bench-sub-${i}`)
    await Promise.all(
      this.#workers.map(async (w, p) => {
        if (names[p]!.length === 0) return
        w.send({ type: 'add', url, key, stateDir, names: names[p]! })
        await w.next('added', 120_000)
        w.size += names[p]!.length
      }),
    )
    this.#size = Math.max(this.#size, count)
  }

  /**
   * Watches for `jti`, runs `revoke` (which revokes it), calls `allApplied` as soon as every
   * subscriber applied it, and answers each subscriber's apply and acknowledgement times; with
   * `settle`, once each has also written its snapshot after it.
   */
  async round(
    jti: string,
    settle: boolean,
    revoke: () => Promise<void>,
    allApplied: () => void,
  ): Promise<SyncRound> {
    for (const w of this.#workers) w.send({ type: 'watch', jti, settle })
    await Promise.all(this.#workers.map((w) => w.next('watching')))
    await revoke()
    await Promise.all(this.#workers.map((w) => w.next('applied', 60_000)))
    allApplied()
    const done: Done[] = await Promise.all(this.#workers.map((w) => w.next('done', 60_000)))
    for (const d of done) if (d.jti !== jti) throw new Error(`sync fleet: "done" for ${d.jti}, not ${jti}`)
    return {
      applied: Float64Array.from(done.flatMap((d) => d.applied)),
      acked: Float64Array.from(done.flatMap((d) => d.acked)),
      cpuMs: done.reduce((sum, d) => sum + d.cpuMs, 0),
    }
  }

  /** The workers' main-thread CPU so far (ms). */
  cpuMs(): number {
    return this.#workers.reduce((sum, w) => sum + mainThreadCpuMs(w.child.pid), 0)
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#workers.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              untrack(child.pid)
              return resolve()
            }
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
            child.once('exit', () => {
              clearTimeout(timer)
              untrack(child.pid)
              resolve()
            })
            child.send({ type: 'close' } satisfies SyncWorkerCommand, (err) => {
              if (err) child.kill('SIGKILL')
            })
          }),
      ),
    )
  }
}
