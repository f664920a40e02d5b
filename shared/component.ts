/**
 * @module How a component process runs: parse its configuration (a bad value exits 2 with a
 * message naming the variable), start, log where it listens, and close cleanly on SIGINT or
 * SIGTERM. The control plane's and the dataplane's `main.ts` are this and nothing else.
 */
import { ConfigError } from './config.ts'
import { createLogger, type LogFields, type Logger, type LogLevel } from './logger.ts'

export interface ComponentSpec<Config, Running extends { close(): Promise<void> }> {
  /** The component's name in messages and in every log record. */
  name: 'control-plane' | 'dataplane'
  loadConfig(): Config
  logLevel(config: Config): LogLevel
  start(config: Config, log: Logger): Promise<Running>
  /** The "listening" record: its message and fields (tests and `npm start` wait for it). */
  listening(running: Running, config: Config): { msg: string; fields: LogFields }
}

export function runComponent<Config, Running extends { close(): Promise<void> }>(
  spec: ComponentSpec<Config, Running>,
): void {
  const label = `agentrouter ${spec.name.replace('-', ' ')}`
  let config: Config
  try {
    config = spec.loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${label}: bad configuration: ${err.message}\n`)
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
      process.stderr.write(`${label} failed to start: ${(err as Error).stack ?? err}\n`)
      process.exit(1)
    },
  )
}
