/**
 * @module How a component process runs: `--help` prints its variables; parse its configuration
 * (every bad value, unknown name or malformed flag listed, exit 2), start, log where it listens,
 * and close cleanly on SIGINT or SIGTERM. An address already in use is one line naming the
 * variable that chose it, exit 1. The control plane's and the dataplane's `main.ts` are this and
 * nothing else.
 */
import { ConfigError, HELP_FLAGS, type ListenAddress } from './config.ts'
import { createLogger, type LogFields, type Logger, type LogLevel } from './logger.ts'

export interface ComponentSpec<Config, Running extends { close(): Promise<void> }> {
  /** The component's name in messages and in every log record. */
  name: 'control-plane' | 'dataplane'
  /** Its variables and what each means, with its default (`--help`). */
  variables: Readonly<Record<string, string>>
  loadConfig(): Config
  /** The addresses it listens on, by the variable that sets each. */
  listenAddresses(config: Config): Record<string, ListenAddress>
  logLevel(config: Config): LogLevel
  start(config: Config, log: Logger): Promise<Running>
  /** The "listening" record: its message and fields (tests and `npm start` wait for it). */
  listening(running: Running, config: Config): { msg: string; fields: LogFields }
}

export function runComponent<Config, Running extends { close(): Promise<void> }>(
  spec: ComponentSpec<Config, Running>,
): void {
  const label = `agentrouter ${spec.name.replace('-', ' ')}`
  if (process.argv.slice(2).some((arg) => HELP_FLAGS.includes(arg))) {
    process.stdout.write(helpText(spec.name, spec.variables))
    process.exit(0)
  }
  let config: Config
  try {
    config = spec.loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const text =
      err.problems.length === 1
        ? `bad configuration: ${err.message}`
        : `bad configuration (${err.problems.length} problems):\n${err.problems.map((p) => `  ${p}`).join('\n')}`
    process.stderr.write(`${label}: ${text}\n`)
    process.exit(2)
  }
  const log = createLogger({ level: spec.logLevel(config), base: { component: spec.name } })
  spec.start(config, log).then(
    (running) => {
      const { msg, fields } = spec.listening(running, config)
      log.info(msg, fields)
      let closing = false
      const shutdown = (signal: string) => {
        if (closing) return
        closing = true
        log.info('shutting down', { signal })
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        )
      }
      process.on('SIGINT', () => shutdown('SIGINT'))
      process.on('SIGTERM', () => shutdown('SIGTERM'))
    },
    (err: unknown) => {
      const busy = addressInUse(err, spec.listenAddresses(config))
      process.stderr.write(
        busy ? `${label}: ${busy}\n` : `${label} failed to start: ${(err as Error).stack ?? err}\n`,
      )
      process.exit(1)
    },
  )
}

/** The one line for EADDRINUSE, naming the variable whose address it is; undefined otherwise. */
function addressInUse(err: unknown, addresses: Record<string, ListenAddress>): string | undefined {
  const e = err as { code?: string; port?: number; address?: string }
  if (e?.code !== 'EADDRINUSE') return undefined
  const variable = Object.entries(addresses).find(([, a]) => a.port !== 0 && a.port === e.port)?.[0]
  const where = `${e.address?.includes(':') ? `[${e.address}]` : e.address}:${e.port}`
  return `cannot listen on ${where}${variable ? ` (${variable})` : ''}: the address is already in use`
}

/** `--help`: how settings are given, then every variable with its meaning and default. */
export function helpText(name: string, variables: Readonly<Record<string, string>>): string {
  const width = Math.max(...Object.keys(variables).map((k) => k.length))
  const rows = Object.entries(variables).map(
    ([k, meaning]) =>
      `  ${k.padEnd(width)}  ${/\bdefault\b/.test(meaning) ? meaning : `${meaning} (default: none)`}`,
  )
  return [
    `Usage: npm run ${name} [-- --name=value ...]`,
    '',
    'Each setting is an environment variable, a flag (--cp-listen=127.0.0.1:9000 sets',
    'AGENTROUTER_CP_LISTEN) or a key of the AGENTROUTER_CONFIG_FILE JSON object; flags win over the',
    'environment, which wins over the file. Durations need a unit: 250ms, 30s, 5m, 12h, 90d.',
    'An unknown AGENTROUTER_* name, flag or file key stops start-up (exit 2), as does a bad value.',
    '',
    'Variables:',
    ...rows,
    '',
  ].join('\n')
}
