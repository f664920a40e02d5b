/**
 * @module First start: an admin identity with an admin API key, and a service identity with a
 * dataplane key for the dataplane `npm start` runs. Each key is written once into the data
 * directory with mode 0600; the path, never the key, goes to the log.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../../shared/logger.ts'
import { ALL_SCOPES } from '../../shared/tokens/claims.ts'
import type { AuditTrail } from '../audit/trail.ts'
import type { ApiKeys } from '../keys/api-keys.ts'
import type { SettingsStore } from '../store/settings.ts'
import type { Identities } from './identities.ts'

export const BOOTSTRAP_ADMIN_KEY_FILE = 'bootstrap-admin.key'
export const DATAPLANE_KEY_FILE = 'dataplane.key'

export async function bootstrap(deps: {
  dataDir: string
  settings: SettingsStore
  identities: Identities
  apiKeys: ApiKeys
  audit: AuditTrail
  log: Logger
}): Promise<{ adminKeyFile: string; dataplaneKeyFile: string; created: boolean }> {
  const adminKeyFile = join(deps.dataDir, BOOTSTRAP_ADMIN_KEY_FILE)
  const dataplaneKeyFile = join(deps.dataDir, DATAPLANE_KEY_FILE)
  // Once across every replica starting at the same time: the check, the keys and the flag are
  // one transaction holding the bootstrap lock, so a replica that waited finds the flag set.
  const created = await deps.settings.exclusive('agentrouter.bootstrap', async () => {
    if (await deps.settings.get('bootstrapped_at')) return false

    const admin = await deps.identities.createService('bootstrap-admin', true)
    // The root of trust: nothing minted these, so they carry their types' every scope.
    const minterScopes = new Set<string>(ALL_SCOPES)
    const adminKey = await deps.apiKeys.issue(admin, {
      name: 'bootstrap-admin',
      type: 'KEY_TYPE_ADMIN',
      minterScopes,
    })
    const dataplane = await deps.identities.createService('local-dataplane', false)
    const dataplaneKey = await deps.apiKeys.issue(dataplane, {
      name: 'local-dataplane',
      type: 'KEY_TYPE_DATAPLANE',
      minterScopes,
    })
    // Written before the commit: a crash in between leaves files naming keys that do not exist,
    // and the next start bootstraps again and overwrites them; the other order could lose them.
    writeFileSync(adminKeyFile, `${adminKey.secret}\n`, { mode: 0o600 })
    writeFileSync(dataplaneKeyFile, `${dataplaneKey.secret}\n`, { mode: 0o600 })
    await deps.settings.set('bootstrapped_at', new Date().toISOString())
    await deps.audit.record({
      action: 'bootstrap',
      target: admin.id,
      details: { admin_key_id: adminKey.key.id, dataplane_key_id: dataplaneKey.key.id },
    })
    return true
  })
  if (!created) return { adminKeyFile, dataplaneKeyFile, created: false }

  deps.log.info('bootstrapped: admin and dataplane keys written (mode 0600)', {
    admin_key_file: adminKeyFile,
    dataplane_key_file: dataplaneKeyFile,
  })
  return { adminKeyFile, dataplaneKeyFile, created: true }
}
