/**
 * @module Reading configuration: variables from a JSON config file, the environment and command
 * line flags (each later source wins), and parsers that stop start-up with a message naming the
 * variable when a value is bad. Each component parses its configuration once, at start, into a
 * typed object; nothing reads `process.env` deeper in.
 */
import { readFileSync } from 'node:fs'

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`)
    this.name = 'ConfigError'
  }
}

export type Vars = Record<string, string | undefined>

/**
 * The variables in effect: `AGENTROUTER_CONFIG_FILE` (a JSON object of variable → value), then
 * the environment, then flags. A flag `--cp-listen=127.0.0.1:9000` sets `AGENTROUTER_CP_LISTEN`.
 */
export function collectVars(
  env: NodeJS.ProcessEnv = process.env,
  argv: string[] = process.argv.slice(2),
): Vars {
  const flags: Vars = {}
  for (const arg of argv) {
    const m = /^--([a-z0-9-]+)=(.*)$/s.exec(arg)
    if (m) flags[`AGENTROUTER_${m[1]!.toUpperCase().replaceAll('-', '_')}`] = m[2]
  }
  const file = flags.AGENTROUTER_CONFIG_FILE ?? env.AGENTROUTER_CONFIG_FILE
  const fromFile: Vars = {}
  if (file) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      throw new ConfigError('AGENTROUTER_CONFIG_FILE', `cannot read ${file}: ${(err as Error).message}`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError('AGENTROUTER_CONFIG_FILE', 'must hold a JSON object of variable names to values')
    }
    for (const [k, v] of Object.entries(parsed)) fromFile[k] = typeof v === 'string' ? v : JSON.stringify(v)
  }
  const vars: Vars = { ...fromFile }
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') vars[k] = v
  return { ...vars, ...flags }
}

export function str(vars: Vars, name: string, fallback: string): string {
  return vars[name] ?? fallback
}

export function int(
  vars: Vars,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = vars[name]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `expected an integer from ${min} to ${max}, got "${raw}"`)
  }
  return n
}

export function bool(vars: Vars, name: string, fallback: boolean): boolean {
  const raw = vars[name]
  if (raw === undefined) return fallback
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new ConfigError(name, `expected true or false, got "${raw}"`)
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A duration in milliseconds, written `250ms`, `30s`, `5m`, `12h`, `90d`, or a bare count of ms. */
export function duration(vars: Vars, name: string, fallbackMs: number): number {
  const raw = vars[name]
  if (raw === undefined) return fallbackMs
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim())
  if (!m) throw new ConfigError(name, `expected a duration such as 30s, 5m, 12h or 90d, got "${raw}"`)
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!)
}

export interface ListenAddress {
  host: string
  port: number
}

/** `host:port`, with port 0 meaning any free port. */
export function listen(vars: Vars, name: string, fallback: string): ListenAddress {
  const raw = vars[name] ?? fallback
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(raw)
  const port = m ? Number(m[2]) : Number.NaN
  if (!m || port > 65535) throw new ConfigError(name, `expected host:port, got "${raw}"`)
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

export function url(vars: Vars, name: string, fallback: string): string {
  const raw = vars[name] ?? fallback
  try {
    const u = new URL(raw)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
    return raw.replace(/\/+$/, '')
  } catch {
    throw new ConfigError(name, `expected an http(s) URL, got "${raw}"`)
  }
}

export function list(vars: Vars, name: string): string[] {
  const raw = vars[name]
  if (!raw) return []
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}
