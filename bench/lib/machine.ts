/**
 * @module What a run ran on, for the printed header and the README.
 */
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'

export function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'))
    if (line) return line.slice(line.indexOf(':') + 1).trim()
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown CPU'
}
