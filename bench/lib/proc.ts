/**
 * @module What a process costs, read from /proc: CPU time (all threads, user + system) and
 * resident memory. CPU time per request is the figure that survives a noisy shared machine and
 * a load generator that saturates before the proxy does.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Linux reports CPU time in clock ticks; 100 per second on every mainstream kernel config. */
const TICKS_PER_SEC = 100

/** CPU seconds used so far by `pid` (0 when /proc is not readable). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC
  } catch {
    return 0
  }
}

/**
 * Nanosecond-precise CPU time of the main thread of `pid` (from /proc/<pid>/schedstat), for
 * windows too short for clock ticks: the thread that runs the JavaScript.
 */
export function mainThreadCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
  } catch {
    return 0
  }
}

/** CPU seconds used so far by `pid` and its descendants still running (nginx's workers). */
export function treeCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0
  let total = cpuSeconds(pid)
  for (const child of childrenOf(pid)) total += treeCpuSeconds(child)
  return total
}

export function childrenOf(pid: number): number[] {
  const out: number[] = []
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim()
      if (text) for (const c of text.split(' ')) out.push(Number(c))
    }
  } catch {
    // gone, or a kernel without the children file
  }
  return out
}

/** Resident set size of `pid` in MiB, from VmRSS. */
export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]
  return kb ? Number(kb) / 1024 : Number.NaN
}
