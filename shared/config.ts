/**
 * @module Reading configuration: variables from a JSON config file, the environment and command
 * line flags (each later source wins), and parsers that stop start-up with a message naming the
 * variable when a value is bad. Each component parses its configuration once, at start, into a
 * typed object; nothing reads `process.env` deeper in.
 *
 * Strict: a name no component knows (`shared/variables.ts`) is refused with the closest known
 * one, and a component's loader runs inside `checkAll`, which collects every problem (a parser
 * reports a bad value and carries on with the default) and stops start-up once with all of them.
 */
import { readFileSync } from 'node:fs'
import { closestName } from './closest-name.ts'
import { type LogLevel, parseLogLevel } from './logger.ts'
import { KNOWN_VARIABLES, TEST_VARIABLE_PREFIX } from './variables.ts'

export class ConfigError extends Error {
  /** Each problem on its own: `VARIABLE: what is wrong`. */
  readonly problems: readonly string[]

  constructor(variable: string, problem: string, problems?: readonly string[]) {
    const list = problems ?? [`${variable}: ${problem}`]
    super(list.join('\n'))
    this.name = 'ConfigError'
    this.problems = list
  }

  /** One error carrying every problem of `errors`, one per line of its message. */
  static of(errors: readonly ConfigError[]): ConfigError {
    if (errors.length === 1) return errors[0]!
    return new ConfigError(
      '',
      '',
      errors.flatMap((e) => e.problems),
    )
  }
}

export type Vars = Record<string, string | undefined>

/** How each name of a collected `Vars` was written: `--cp-listen`, `"KEY" in file.json`. */
const writtenAs = new WeakMap<Vars, Map<string, string>>()
/** Problems found while collecting (an unreadable config file, a malformed argument). */
const collectProblems = new WeakMap<Vars, ConfigError[]>()
/** The problem list of a `Vars` being checked by `checkAll`: parsers add to it instead of throwing. */
const checking = new WeakMap<Vars, ConfigError[]>()

/** `--name=value` sets `AGENTROUTER_NAME`; `--help` is the components' own. */
const FLAG = /^--([a-z0-9-]+)=(.*)$/s
export const HELP_FLAGS: readonly string[] = ['--help', '-h']

const flagOf = (variable: string) =>
  `--${variable.slice('AGENTROUTER_'.length).toLowerCase().replaceAll('_', '-')}`

/**
 * The variables in effect: `AGENTROUTER_CONFIG_FILE` (a JSON object of variable → value), then
 * the environment, then flags. A flag `--cp-listen=127.0.0.1:9000` sets `AGENTROUTER_CP_LISTEN`.
 * Problems (an unreadable file, an argument that is not `--name=value`) are kept for `checkAll`
 * to report together with the rest.
 */
export function collectVars(
  env: NodeJS.ProcessEnv = process.env,
  argv: string[] = process.argv.slice(2),
): Vars {
  const problems: ConfigError[] = []
  const written = new Map<string, string>()
  const flags: Vars = {}
  const flagNames = new Map<string, string>()
  for (const arg of argv) {
    if (HELP_FLAGS.includes(arg)) continue
    const m = FLAG.exec(arg)
    if (!m) {
      problems.push(
        new ConfigError(arg, 'expected --name=value, e.g. --cp-listen=127.0.0.1:8080 (see --help)'),
      )
      continue
    }
    const name = `AGENTROUTER_${m[1]!.toUpperCase().replaceAll('-', '_')}`
    flags[name] = m[2]
    flagNames.set(name, `--${m[1]}`)
  }
  const file = flags.AGENTROUTER_CONFIG_FILE ?? env.AGENTROUTER_CONFIG_FILE
  const fromFile: Vars = {}
  if (file) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      problems.push(
        new ConfigError('AGENTROUTER_CONFIG_FILE', `cannot read ${file}: ${(err as Error).message}`),
      )
    }
    if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
      problems.push(
        new ConfigError('AGENTROUTER_CONFIG_FILE', 'must hold a JSON object of variable names to values'),
      )
    } else if (parsed) {
      for (const [k, v] of Object.entries(parsed)) {
        fromFile[k] = typeof v === 'string' ? v : JSON.stringify(v)
        written.set(k, `key "${k}" of ${file}`)
      }
    }
  }
  const vars: Vars = { ...fromFile }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === '') continue
    vars[k] = v
    if (k.startsWith('AGENTROUTER_')) written.set(k, k)
  }
  for (const [k, v] of Object.entries(flags)) {
    vars[k] = v
    written.set(k, flagNames.get(k)!)
  }
  writtenAs.set(vars, written)
  collectProblems.set(vars, problems)
  return vars
}

/** A name is ours to check when it looks like one of ours, or came from a flag or the config file. */
function unknownNames(vars: Vars): ConfigError[] {
  const written = writtenAs.get(vars)
  const out: ConfigError[] = []
  for (const name of Object.keys(vars)) {
    const as = written?.get(name) ?? name
    const fromEnvironment = as === name
    if (fromEnvironment && !name.startsWith('AGENTROUTER_')) continue
    if (name.startsWith(TEST_VARIABLE_PREFIX) || KNOWN_VARIABLES.has(name)) continue
    const isFlag = as.startsWith('--')
    const guess = closestName(name, KNOWN_VARIABLES)
    const kind = isFlag ? 'flag' : fromEnvironment ? 'variable' : 'key'
    const suggestion = guess
      ? `did you mean ${isFlag ? flagOf(guess) : guess}?`
      : 'see --help for the known names'
    out.push(new ConfigError(as, `unknown ${kind}: ${suggestion}`))
  }
  return out
}

/**
 * Runs a component's loader over `input` and stops with every problem at once: names no
 * component knows, what `collectVars` found, and each bad value (parsers given the `Vars` the
 * loader receives report and return their fallback; a `ConfigError` thrown out of the loader is
 * one more problem).
 */
export function checkAll<T>(input: Vars, load: (vars: Vars) => T): T {
  const problems = [...(collectProblems.get(input) ?? []), ...unknownNames(input)]
  const vars: Vars = { ...input }
  checking.set(vars, problems)
  let result: T | undefined
  try {
    result = load(vars)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(err)
  } finally {
    checking.delete(vars)
  }
  if (problems.length > 0) throw ConfigError.of(problems)
  return result as T
}

/** Reports `error`: noted when `vars` is being checked (and `fallback` used), thrown otherwise. */
export function report<T>(vars: Vars, error: ConfigError, fallback: T): T {
  const problems = checking.get(vars)
  if (!problems) throw error
  problems.push(error)
  return fallback
}

/** `parse()`, with a `ConfigError` it throws reported (see `report`) and `fallback` used instead. */
export function guard<T>(vars: Vars, parse: () => T, fallback: T): T {
  try {
    return parse()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return report(vars, err, fallback)
  }
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
    return report(
      vars,
      new ConfigError(name, `expected an integer from ${min} to ${max}, got "${raw}"`),
      fallback,
    )
  }
  return n
}

export function bool(vars: Vars, name: string, fallback: boolean): boolean {
  const raw = vars[name]
  if (raw === undefined) return fallback
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  return report(vars, new ConfigError(name, `expected true or false, got "${raw}"`), fallback)
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A duration in milliseconds, written `250ms`, `30s`, `5m`, `12h` or `90d`. A number without a
 * unit is refused (`3600` meant seconds to whoever wrote it, milliseconds to the old parser);
 * only `0` needs none.
 */
export function duration(vars: Vars, name: string, fallbackMs: number): number {
  const raw = vars[name]
  if (raw === undefined) return fallbackMs
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim())
  if (!m)
    return report(
      vars,
      new ConfigError(name, `expected a duration such as 30s, 5m, 12h or 90d, got "${raw}"`),
      fallbackMs,
    )
  if (!m[2] && Number(m[1]) !== 0)
    return report(
      vars,
      new ConfigError(name, `"${raw}" has no unit: write it with one, e.g. ${m[1]}s (units: ms, s, m, h, d)`),
      fallbackMs,
    )
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
  if (!m || port > 65535)
    return report(vars, new ConfigError(name, `expected host:port, got "${raw}"`), {
      host: '127.0.0.1',
      port: 0,
    })
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

export function url(vars: Vars, name: string, fallback: string): string {
  const raw = vars[name] ?? fallback
  try {
    const u = new URL(raw)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
    return raw.replace(/\/+$/, '')
  } catch {
    return report(vars, new ConfigError(name, `expected an http(s) URL, got "${raw}"`), fallback)
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

/** `AGENTROUTER_LOG_LEVEL`: debug, info, warn or error (default info). */
export function logLevel(vars: Vars): LogLevel {
  const raw = vars.AGENTROUTER_LOG_LEVEL
  return (
    parseLogLevel(raw) ??
    report(
      vars,
      new ConfigError('AGENTROUTER_LOG_LEVEL', `expected debug, info, warn or error, got "${raw}"`),
      'info',
    )
  )
}
