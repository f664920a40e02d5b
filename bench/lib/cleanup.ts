/**
 * @module Every child process a benchmark starts is tracked here until it is stopped, so that a
 * run that fails or is interrupted kills what it started (by pid) instead of leaving it behind.
 */
import { childrenOf } from './proc.ts'

const live = new Set<number>()

export function track(pid: number | undefined): void {
  if (pid !== undefined) live.add(pid)
}

export function untrack(pid: number | undefined): void {
  if (pid !== undefined) live.delete(pid)
}

/** SIGKILLs every tracked process and its descendants; synchronous, for an `exit` handler. */
export function killTracked(): void {
  for (const pid of live) killTree(pid)
  live.clear()
}

function killTree(pid: number): void {
  for (const child of childrenOf(pid)) killTree(child)
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** Kills the tracked processes when this process exits or is interrupted. */
export function killTrackedOnExit(): void {
  process.on('exit', killTracked)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killTracked()
      process.exit(130)
    })
  }
}
