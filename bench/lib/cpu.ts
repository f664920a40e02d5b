/**
 * @module Core pinning with `taskset`. The process under test gets a core of its own; the load
 * generator (this process), the fake upstream and the idle control plane share another, so the
 * figure is what one core of proxy does rather than how the scheduler shuffled five processes
 * over two cores. With three or more cores the upstream gets its own. Pinning is skipped (and
 * said so) when `taskset` is missing, there is a single core, or `BENCH_NO_PIN=1`.
 */
import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'

export interface CorePlan {
  /** This process: the load generator and stream subscribers. */
  load: number
  /** The fake upstream. */
  upstream: number
  /** The proxy, dataplane or control plane being measured. */
  subject: number
  /** Control planes and other helpers that are not being measured. */
  helper: number
}

let plan: CorePlan | undefined | null = null

/** The core assignment, or `undefined` when processes are not pinned. */
export function corePlan(): CorePlan | undefined {
  if (plan !== null) return plan
  const n = availableParallelism()
  if (process.env.BENCH_NO_PIN === '1' || n < 2 || !hasTaskset()) plan = undefined
  else plan = { load: 0, subject: 1, upstream: n >= 3 ? 2 : 0, helper: 0 }
  return plan
}

/** Pins every thread of `pid` to `core`; threads it starts later inherit it. */
export function pin(pid: number | undefined, core: number | undefined): void {
  if (pid === undefined || core === undefined) return
  execFileSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' })
}

export function describePinning(): string {
  const p = corePlan()
  if (!p) return 'not pinned'
  return `taskset: load generator on core ${p.load}, upstream on core ${p.upstream}, measured process on core ${p.subject}`
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
