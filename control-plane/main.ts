/**
 * @module `npm run control-plane`: read the configuration, start, print where things are (the
 * path of the bootstrap admin key, never the key), and shut down cleanly on SIGINT / SIGTERM.
 */
import { runComponent } from '../shared/component.ts'
import { startControlPlane } from './app.ts'
import { loadControlPlaneConfig } from './config.ts'

runComponent({
  name: 'control-plane',
  loadConfig: () => loadControlPlaneConfig(),
  logLevel: (config) => config.logLevel,
  start: startControlPlane,
  listening: (cp, config) => ({
    msg: 'control plane listening',
    fields: {
      url: cp.url,
      data_dir: config.dataDir,
      bootstrap_admin_key_file: cp.adminKeyFile,
      dataplane_key_file: cp.dataplaneKeyFile,
      dev_idp: cp.devIdp?.issuer,
    },
  }),
})
