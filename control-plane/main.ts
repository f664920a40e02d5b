/**
 * @module `npm run control-plane`: read the configuration, start, print where things are (the
 * path of the bootstrap admin key, never the key), and shut down cleanly on SIGINT / SIGTERM.
 */
import { runComponent } from '../shared/component.ts'
import { CONTROL_PLANE_VARIABLES } from '../shared/variables.ts'
import { startControlPlane } from './app.ts'
import { loadControlPlaneConfig } from './config.ts'

runComponent({
  name: 'control-plane',
  variables: CONTROL_PLANE_VARIABLES,
  loadConfig: () => loadControlPlaneConfig(),
  logLevel: (config) => config.logLevel,
  listenAddresses: (config) => ({
    AGENTROUTER_CP_LISTEN: config.listen,
    AGENTROUTER_DEV_IDP_LISTEN: config.oidc.devIdpListen,
  }),
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
