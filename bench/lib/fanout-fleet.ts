/**
 * @module A fleet of lightweight stream subscribers spread over a few child processes (each runs
 * fanout-worker.ts and holds up to `perProcess` raw WebSocket subscribers), and over a list of
 * control-plane URLs, round-robin: one URL is one replica, three URLs the 3-replica run. The
 * fleet reports, for a revocation, when each subscriber received it, on the machine's monotonic
 * clock (`monotonicMs`).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { track, untrack } from './cleanup.ts'
import { pin } from './cpu.ts'

const WORKER = new URL('./fanout-worker.ts', import.meta.url).pathname

export interface FleetOptions {
  urls: string[]
  dataplaneKey: string
  /** The cursor the subscribers start from (the head, so no backlog is replayed). */
  since: string
  count: number
  perProcess: number
  /** The core the workers are pinned to. */
  core: number | undefined
}

/** The machine's monotonic clock in ms, as the workers read it. */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime()
  return s * 1e3 + ns / 1e6
}

type WorkerMessage =
  | { type: 'started' }
  | { type: 'connected' }
  | { type: 'error'; message: string }
  | { type: 'applied'; jti: string; times: number[] }

export class Fleet {
  readonly #workers: ChildProcess[] = []
  readonly #times = new Map<string, number[][]>()
  #failure: string | undefined

  private constructor(readonly size: number) {}

  static async start(options: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(options.count)
    const processes = Math.ceil(options.count / options.perProcess)
    try {
      await Promise.all(
        Array.from({ length: processes }, (_, p) => {
          const count = Math.min(options.perProcess, options.count - p * options.perProcess)
          return fleet.#startWorker(options, p, count)
        }),
      )
    } catch (err) {
      await fleet.stop()
      throw err
    }
    return fleet
  }

  get processes(): number {
    return this.#workers.length
  }

  /** Waits until every subscriber received `jti`; returns their arrival times (monotonic ms). */
  async arrivals(jti: string, timeoutMs = 30_000): Promise<Float64Array> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this.#failure) throw new Error(`fan-out fleet: ${this.#failure}`)
      const got = this.#times.get(jti)
      if (got && got.length === this.#workers.length) {
        this.#times.delete(jti)
        return Float64Array.from(got.flat())
      }
      if (Date.now() > deadline) {
        throw new Error(
          `fan-out fleet: ${got?.length ?? 0} of ${this.#workers.length} processes saw ${jti} in ${timeoutMs} ms`,
        )
      }
      await new Promise((r) => setTimeout(r, 2))
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve()
            const timer = setTimeout(() => w.kill('SIGKILL'), 3_000)
            w.once('exit', () => {
              clearTimeout(timer)
              untrack(w.pid)
              resolve()
            })
            w.send({ type: 'close' }, (err) => {
              if (err) w.kill('SIGKILL')
            })
          }),
      ),
    )
  }

  #startWorker(options: FleetOptions, index: number, count: number): Promise<void> {
    const worker = fork(WORKER, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    track(worker.pid)
    pin(worker.pid, options.core)
    this.#workers.push(worker)
    return new Promise((resolve, reject) => {
      let connected = false
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'started') {
          worker.send({
            type: 'connect',
            urls: options.urls,
            key: options.dataplaneKey,
            count,
            since: options.since,
            name: `fanout-${index}`,
          })
        } else if (m.type === 'connected') {
          connected = true
          resolve()
        } else if (m.type === 'error') {
          if (!connected) reject(new Error(`fan-out worker ${index}: ${m.message}`))
          else this.#failure ??= m.message
        } else if (m.type === 'applied') {
          const list = this.#times.get(m.jti) ?? []
          list.push(m.times)
          this.#times.set(m.jti, list)
        }
      })
      worker.once('exit', (code) => {
        if (!connected) reject(new Error(`fan-out worker ${index} exited (${code}) before connecting`))
        else this.#failure ??= `worker ${index} exited (${code})`
      })
    })
  }
}
