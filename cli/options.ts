/**
 * @module Reading one command's parsed options and positionals, each check failing with a
 * `UsageError` that names the flag: required values, integers, enums, `k=v` tags, `--wait` and `--wait-timeout`, and
 * the identifiers that may come either as a positional or as a flag.
 */
import { type CommandContext, type OptionSpec, UsageError } from './command.ts'

export function str(ctx: CommandContext, name: string): string | undefined {
  const value = ctx.options[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new UsageError(`--${name} takes a value`, ctx.path)
  if (value === '') throw new UsageError(`--${name} must not be empty`, ctx.path)
  return value
}

export function requiredStr(ctx: CommandContext, name: string): string {
  const value = str(ctx, name)
  if (value === undefined) throw new UsageError(`--${name} is required`, ctx.path)
  return value
}

export function flag(ctx: CommandContext, name: string): boolean {
  return ctx.options[name] === true
}

/** The bound the control plane accepts for `?wait=enforced` (`timeout_ms`). */
const WAIT_TIMEOUT_MAX_MS = 60_000
/** How much longer than the wait an HTTP call that waits may take before the client gives up. */
const WAIT_HTTP_MARGIN_MS = 15_000

/** `--wait` and `--wait-timeout` of the revoke commands (and logout). */
export const WAIT_OPTIONS: Record<string, OptionSpec> = {
  wait: {
    type: 'boolean',
    description:
      'Answer once every connected dataplane enforces the revocation; exit 3 (naming the dataplanes that did not) otherwise',
  },
  'wait-timeout': {
    type: 'string',
    valueName: 'DURATION',
    description: "How long --wait waits: 500ms, 5s, 1m (default: the control plane's, 5s; at most 60s)",
  },
}

export interface Wait {
  wait: 'enforced'
  timeoutMs?: number
}

/** The client's wait option when `--wait` was given, bounded by `--wait-timeout`. */
export function waitOption(ctx: CommandContext): Wait | undefined {
  const raw = str(ctx, 'wait-timeout')
  if (!flag(ctx, 'wait')) {
    if (raw !== undefined) throw new UsageError('--wait-timeout needs --wait', ctx.path)
    return undefined
  }
  if (raw === undefined) return { wait: 'enforced' }
  const timeoutMs = parseDurationMs(raw)
  if (timeoutMs === undefined || timeoutMs < 1 || timeoutMs > WAIT_TIMEOUT_MAX_MS) {
    throw new UsageError(
      `--wait-timeout expects a duration with a unit from 1ms to 60s (500ms, 5s, 1m), got "${raw}"`,
      ctx.path,
    )
  }
  return { wait: 'enforced', timeoutMs }
}

/** The client for a call that may wait: its own deadline outlasts the wait it asks for. */
export function clientFor(ctx: CommandContext, wait: Wait | undefined) {
  return wait ? ctx.client({ timeoutMs: waitHttpTimeoutMs(wait) }) : ctx.client()
}

/** The HTTP deadline of a call that waits: longer than any wait the control plane may do. */
export function waitHttpTimeoutMs(wait: Wait): number {
  return (wait.timeoutMs ?? WAIT_TIMEOUT_MAX_MS) + WAIT_HTTP_MARGIN_MS
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000 } as const

/** `500ms`, `5s`, `2m` in milliseconds; a number without a unit is not a duration. */
export function parseDurationMs(raw: string): number | undefined {
  const m = /^(\d+)(ms|s|m)$/.exec(raw.trim())
  if (!m) return undefined
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
}

export function int(ctx: CommandContext, name: string, min = 0): number | undefined {
  const raw = str(ctx, name)
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} expects an integer of at least ${min}, got "${raw}"`, ctx.path)
  }
  return n
}

/** One of `allowed`, compared case-insensitively; `aliases` maps short forms to allowed values. */
export function oneOf<T extends string>(
  ctx: CommandContext,
  name: string,
  allowed: readonly T[],
  aliases: Record<string, T> = {},
): T | undefined {
  const raw = str(ctx, name)
  if (raw === undefined) return undefined
  const found = allowed.find((a) => a.toLowerCase() === raw.toLowerCase()) ?? aliases[raw.toLowerCase()]
  if (!found) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${raw}"`, ctx.path)
  return found
}

/**
 * The value of positional `index` (named `argName` in help), or of `--option` when the positional
 * is absent. Giving both with different values is a usage error.
 */
export function positionalOr(
  ctx: CommandContext,
  index: number,
  argName: string,
  option?: string,
): string | undefined {
  const positional = ctx.positionals[index]
  const fromFlag = option ? str(ctx, option) : undefined
  if (positional !== undefined && fromFlag !== undefined && positional !== fromFlag) {
    throw new UsageError(`${argName} given twice: "${positional}" and --${option} "${fromFlag}"`, ctx.path)
  }
  return positional ?? fromFlag
}

export function requiredPositional(
  ctx: CommandContext,
  index: number,
  argName: string,
  option?: string,
): string {
  const value = positionalOr(ctx, index, argName, option)
  if (value === undefined || value === '') {
    throw new UsageError(
      `${argName} is required${option ? ` (as an argument or --${option})` : ''}`,
      ctx.path,
    )
  }
  return value
}

/** `--tag k=v` (repeatable) and `--tags k=v,k2=v2` into one record. */
export function tags(ctx: CommandContext): Record<string, string> | undefined {
  const raw: string[] = []
  const repeated = ctx.options.tag
  if (Array.isArray(repeated)) raw.push(...repeated)
  const joined = str(ctx, 'tags')
  if (joined) raw.push(...joined.split(','))
  if (raw.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const pair of raw) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`tags are key=value pairs, got "${pair}"`, ctx.path)
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
  }
  return out
}
