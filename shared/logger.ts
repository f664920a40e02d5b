/**
 * @module Structured logs: one JSON object per line on stdout. Fields whose names look like they
 * hold a credential or a secret are replaced before anything is written, so a careless call
 * site cannot leak one.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }
const SECRET_FIELD =
  /(secret|token|password|authorization|cookie|api[-_]?key|private|value|plaintext|verifier|authorization_code)/i
export const REDACTED = '[redacted]'

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  child(fields: LogFields): Logger
}

export interface LoggerOptions {
  level?: LogLevel
  /** Where lines go; stdout by default. */
  write?: (line: string) => void
  base?: LogFields
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = LEVEL_RANK[options.level ?? 'info']
  const write = options.write ?? ((line: string) => process.stdout.write(line))
  const base = options.base ?? {}
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < min) return
    const record = { time: new Date().toISOString(), level, msg, ...base, ...(fields && redact(fields)) }
    write(`${JSON.stringify(record, errorReplacer)}\n`)
  }
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ ...options, base: { ...base, ...redact(fields) } }),
  }
}

/** A copy of `fields` with every secret-looking field replaced, to any depth. */
export function redact(fields: LogFields, depth = 0): LogFields {
  const out: LogFields = {}
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELD.test(k)) out[k] = REDACTED
    else if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Error) && depth < 4) {
      out[k] = redact(v as LogFields, depth + 1)
    } else out[k] = v
  }
  return out
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) }
  }
  return value
}

export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return 'info'
  return value in LEVEL_RANK ? (value as LogLevel) : undefined
}
