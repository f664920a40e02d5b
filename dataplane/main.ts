/**
 * @module `npm run dataplane`: read the configuration, start, print where it listens, and shut
 * down cleanly (flushing the snapshot) on SIGINT / SIGTERM.
 */
import { ConfigError } from '../shared/config.ts'
import { createLogger } from '../shared/logger.ts'
import { startDataplane } from './app.ts'
import { type DataplaneConfig, loadDataplaneConfig } from './config.ts'

async function main(): Promise<void> {
  let config: DataplaneConfig
  try {
    config = loadDataplaneConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`agentrouter dataplane: bad configuration: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = createLogger({ level: config.logLevel, base: { component: 'dataplane' } })
  const dp = await startDataplane(config, log)
  log.info('dataplane listening', {
    url: dp.url,
    name: dp.name,
    control_plane: config.controlPlane.url,
    upstreams: config.upstreams,
    state_dir: config.stateDir,
  })
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    log.info('shutting down', { signal })
    dp.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

main().catch((err) => {
  process.stderr.write(`agentrouter dataplane failed to start: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
