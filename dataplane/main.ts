/**
 * @module `npm run dataplane`: read the configuration, start, print where it listens, and shut
 * down cleanly (flushing the snapshot) on SIGINT / SIGTERM.
 */
import { runComponent } from '../shared/component.ts'
import { DATAPLANE_VARIABLES } from '../shared/variables.ts'
import { startDataplane } from './app.ts'
import { loadDataplaneConfig } from './config.ts'

runComponent({
  name: 'dataplane',
  variables: DATAPLANE_VARIABLES,
  loadConfig: () => loadDataplaneConfig(),
  logLevel: (config) => config.logLevel,
  listenAddresses: (config) => ({ AGENTROUTER_DP_LISTEN: config.listen }),
  start: startDataplane,
  listening: (dp, config) => ({
    msg: 'dataplane listening',
    fields: {
      url: dp.url,
      name: dp.name,
      control_plane: config.controlPlane.url,
      upstreams: config.upstreams,
      state_dir: config.stateDir,
    },
  }),
})
