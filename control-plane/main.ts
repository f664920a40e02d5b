/**
 * @module `npm run control-plane`: read the configuration, start, print where things are, and
 * shut down cleanly on SIGINT / SIGTERM.
 */
import { ConfigError } from '../shared/config.ts'
import { createLogger } from '../shared/logger.ts'
import { startControlPlane } from './app.ts'
import { loadControlPlaneConfig } from './config.ts'

async function main(): Promise<void> {
  let config: ReturnType<typeof loadControlPlaneConfig>
  try {
    config = loadControlPlaneConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`agentrouter control plane: bad configuration: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = createLogger({ level: config.logLevel, base: { component: 'control-plane' } })
  const cp = await startControlPlane(config, log)
  log.info('control plane listening', {
    url: cp.url,
    data_dir: config.dataDir,
    bootstrap_admin_key_file: cp.adminKeyFile,
    dataplane_key_file: cp.dataplaneKeyFile,
    dev_idp: cp.devIdp?.issuer,
  })
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    log.info('shutting down', { signal })
    cp.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

main().catch((err) => {
  process.stderr.write(`agentrouter control plane failed to start: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
