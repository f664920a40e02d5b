/**
 * @module What the HTTP layer is given: the configuration and every domain service, wired once
 * at start-up by `app.ts`.
 */
import type { Logger } from '../shared/logger.ts'
import type { TokenVerifier } from '../shared/tokens/verifier.ts'
import type { AiKeys } from './aikeys/ai-keys.ts'
import type { AuditTally } from './audit/tally.ts'
import type { AuditTrail } from './audit/trail.ts'
import type { ControlPlaneConfig } from './config.ts'
import type { PageTokens } from './crypto/page-token.ts'
import type { RootKey } from './crypto/root-key.ts'
import type { Fleet } from './dataplanes/fleet.ts'
import type { DataplaneRegistry } from './dataplanes/registry.ts'
import type { Identities } from './identity/identities.ts'
import type { AdminListings } from './identity/listings.ts'
import type { ServiceAccounts } from './identity/service-accounts.ts'
import type { Sessions } from './identity/sessions.ts'
import type { Tenancy } from './identity/tenancy.ts'
import type { ApiKeys } from './keys/api-keys.ts'
import type { ControlPlaneMetrics } from './metrics.ts'
import type { DeviceLogin } from './oidc/device-login.ts'
import type { OidcLogin } from './oidc/login.ts'
import type { RevocationLog } from './revocations/log.ts'
import type { KekRotation } from './secrets/kek-rotation.ts'
import type { KeyEncryptionKeys } from './secrets/keks.ts'
import type { Secrets } from './secrets/secrets.ts'
import type { KeyRing } from './signing/key-ring.ts'
import type { Db } from './store/db.ts'

export interface Services {
  config: ControlPlaneConfig
  log: Logger
  db: Db
  rootKey: RootKey
  pageTokens: PageTokens
  keyRing: KeyRing
  verifier: TokenVerifier
  revocations: RevocationLog
  tenancy: Tenancy
  identities: Identities
  apiKeys: ApiKeys
  sessions: Sessions
  login: OidcLogin
  deviceLogin: DeviceLogin
  dataplanes: DataplaneRegistry
  /** Every replica's dataplanes: what the admin list and `?wait=enforced` see. */
  fleet: Fleet
  metrics: ControlPlaneMetrics
  keks: KeyEncryptionKeys
  secrets: Secrets
  kekRotation: KekRotation
  aiKeys: AiKeys
  serviceAccounts: ServiceAccounts
  listings: AdminListings
  audit: AuditTrail
  /** Counts frequent audited events (BYOK resolutions), written once a minute. */
  auditTally: AuditTally
}
