/**
 * @module Wires the control plane: storage, keys, domain services, HTTP and the revocation
 * stream. `startControlPlane` is what `main.ts` runs and what tests start in-process.
 */
import type { AddressInfo } from 'node:net'
import type { StreamServerMessage } from '../shared/contract/tokens.ts'
import { InFlightRequests, logDrain } from '../shared/drain.ts'
import { createLogger, type Logger } from '../shared/logger.ts'
import { TokenVerifier } from '../shared/tokens/verifier.ts'
import { AiKeys } from './aikeys/ai-keys.ts'
import { AuditTally } from './audit/tally.ts'
import { AuditTrail } from './audit/trail.ts'
import type { ControlPlaneConfig } from './config.ts'
import { PageTokens } from './crypto/page-token.ts'
import { loadRootKey } from './crypto/root-key.ts'
import { LocalFleet } from './dataplanes/fleet.ts'
import { DataplaneRegistry } from './dataplanes/registry.ts'
import { buildApp, type RouteModule } from './http/app.ts'
import { Authenticator } from './http/authenticate.ts'
import { createControlPlaneServer } from './http/server.ts'
import { aiKeyRoutes } from './http/services/aikeys.ts'
import { internalRoutes } from './http/services/internal.ts'
import { kekRoutes } from './http/services/keks.ts'
import { secretRoutes } from './http/services/secrets.ts'
import { RevocationStream } from './http/stream.ts'
import { bootstrap } from './identity/bootstrap.ts'
import { Identities } from './identity/identities.ts'
import { AdminListings } from './identity/listings.ts'
import { ServiceAccounts } from './identity/service-accounts.ts'
import { Sessions } from './identity/sessions.ts'
import { Tenancy } from './identity/tenancy.ts'
import { ApiKeys } from './keys/api-keys.ts'
import { LastUsed } from './keys/last-used.ts'
import { createMetrics } from './metrics.ts'
import type { DevIdp } from './oidc/dev-idp.ts'
import { DeviceLogin } from './oidc/device-login.ts'
import { OidcLogin } from './oidc/login.ts'
import { startLoginStatePurge } from './oidc/login-state-purge.ts'
import { startReplication } from './replication.ts'
import { RevocationLog } from './revocations/log.ts'
import { startRevocationPurge } from './revocations/purge.ts'
import { KekRotation } from './secrets/kek-rotation.ts'
import { KeyEncryptionKeys } from './secrets/keks.ts'
import { Secrets } from './secrets/secrets.ts'
import type { Services } from './services.ts'
import { KeyRing } from './signing/key-ring.ts'
import { TokenIssuer } from './signing/token-issuer.ts'
import { AiKeyStore } from './store/aikeys.ts'
import { AuditStore } from './store/audit.ts'
import { CredentialStore } from './store/credentials.ts'
import { DeviceLoginStore } from './store/device-logins.ts'
import { KekStore } from './store/keks.ts'
import { LoginStateStore } from './store/login-states.ts'
import { openStore } from './store/open.ts'
import { RevocationStore } from './store/revocations.ts'
import { SecretStore } from './store/secrets.ts'
import { ServiceAccountStore } from './store/service-accounts.ts'
import { SettingsStore } from './store/settings.ts'
import { SigningKeyStore } from './store/signing-keys.ts'
import { TenancyStore } from './store/tenancy.ts'

export const VERSION = '0.1.0'

export interface RunningControlPlane {
  url: string
  services: Services
  stream: RevocationStream
  devIdp: DevIdp | undefined
  adminKeyFile: string
  dataplaneKeyFile: string
  close(): Promise<void>
}

export async function startControlPlane(
  config: ControlPlaneConfig,
  log: Logger = createLogger({ level: config.logLevel }),
): Promise<RunningControlPlane> {
  const db = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    onIdleError: (err) => log.warn('an idle database connection failed', { err }),
  })
  const rootKey = loadRootKey({ ...config.rootKey, dataDir: config.dataDir })
  if (rootKey.source === 'generated' || rootKey.source === 'development-file') {
    log.warn(
      'using a development root key from the data directory; set AGENTROUTER_ROOT_KEY_FILE in production',
      {
        source: rootKey.source,
      },
    )
  }
  const settings = new SettingsStore(db)
  // The first replica to start records its root key's check value; every later one compares.
  const knownCheck = await settings.setIfAbsent('root_key_check', rootKey.checkValue)
  if (knownCheck !== rootKey.checkValue) {
    log.error('the root key is not the one this data was written with: sealed data will not open', {
      expected_check: knownCheck,
      actual_check: rootKey.checkValue,
    })
  }

  const pageTokens = new PageTokens(rootKey.key)
  const audit = new AuditTrail(new AuditStore(db), pageTokens, log)
  const auditTally = new AuditTally(audit, log)
  const auditPurge = audit.startPurge(config.auditRetentionMs, Math.min(config.auditRetentionMs, 3_600_000))
  const tenancyStore = new TenancyStore(db)
  const credentials = new CredentialStore(db)
  const keyRing = new KeyRing(
    new SigningKeyStore(db),
    rootKey.key,
    {
      publishDelayMs: config.tokens.signingKeyPublishDelayMs,
      maxTokenTtlMs: Math.max(config.tokens.apiKeyTtlMs, config.tokens.sessionTtlMs),
    },
    log,
    audit,
  )
  await keyRing.init()
  const verifier = new TokenVerifier({
    issuer: config.tokens.issuer,
    audience: config.tokens.audience,
    algorithms: ['RS256'],
    // The control plane checks only tokens it signed by its own clock: no skew to allow for.
    clockToleranceSec: 0,
  })
  await verifier.setKeySet({ keys: keyRing.publishedKeys() })

  const revocations = await RevocationLog.open(new RevocationStore(db), undefined, {
    follow: db.engine === 'postgres',
  })
  const tokens = new TokenIssuer(keyRing, config.tokens)
  const identities = new Identities(tenancyStore, config.oidc)
  const apiKeys = new ApiKeys(
    credentials,
    tokens,
    revocations,
    pageTokens,
    rootKey.key,
    config.tokens.apiKeyTtlMs,
    audit,
  )
  await apiKeys.forgetExpiredSecrets()
  const sessions = new Sessions(credentials, tokens, revocations, config.tokens.sessionTtlMs, audit)
  const dataplanes = new DataplaneRegistry()
  const replication = config.databaseUrl
    ? await startReplication({ databaseUrl: config.databaseUrl, db, revocations, dataplanes, log })
    : undefined
  const fleet = replication?.fleet ?? new LocalFleet(dataplanes)
  const metrics = createMetrics({ dataplanes, revocations })
  // Each replica counts what it wrote: the fleet's total is the sum.
  revocations.on('created', (row) => metrics.revocationsIssued.inc({ kind: row.kind }))
  revocations.on('purged', (n) => metrics.revocationsPurged.inc(n))
  const lastUsed = new LastUsed(credentials)
  const tenancy = new Tenancy(tenancyStore, audit)
  const keks = new KeyEncryptionKeys(new KekStore(db), rootKey.key, log, audit)
  await keks.load()
  const secretStore = new SecretStore(db)
  const secrets = new Secrets(secretStore, keks, pageTokens, config.secrets, log, audit)
  secrets.on('read', (outcome) => metrics.secretValueReads.inc({ outcome }))
  await secrets.sweepExpired()
  const kekRotation = new KekRotation(keks, secretStore, log)
  const aiKeys = new AiKeys(new AiKeyStore(db), secrets, tenancy, revocations, audit, auditTally)
  auditTally.start()
  const serviceAccounts = new ServiceAccounts(
    new ServiceAccountStore(db),
    identities,
    tenancy,
    apiKeys,
    pageTokens,
    audit,
  )

  let devIdp: DevIdp | undefined
  let issuers = config.oidc.issuers
  if (issuers.length === 0) {
    // Loaded only here: a control plane with configured issuers never loads oidc-provider.
    const { startDevIdp } = await import('./oidc/dev-idp.ts')
    devIdp = await startDevIdp(config.oidc.devIdpListen, config.oidc.redirectUris, config.oidc.devIdpUrl)
    issuers = [
      { alias: 'dev', issuer: devIdp.issuer, clientId: devIdp.clientId, clientSecret: devIdp.clientSecret },
    ]
    log.warn('no OIDC issuer configured: running the development IdP (any login, any password)', {
      issuer: devIdp.issuer,
    })
  }
  const loginStates = new LoginStateStore(db)
  const login = new OidcLogin(
    {
      issuers,
      redirectUris: config.oidc.redirectUris,
      stateTtlMs: config.oidc.loginStateTtlMs,
      pending: { max: config.oidc.loginPendingMax, perClientMax: config.oidc.loginPendingPerClientMax },
    },
    loginStates,
    identities,
    log,
  )
  const deviceLogins = new DeviceLoginStore(db)
  const deviceLogin = new DeviceLogin(
    {
      ttlMs: config.oidc.loginStateTtlMs,
      pending: { max: config.oidc.loginPendingMax, perClientMax: config.oidc.loginPendingPerClientMax },
    },
    deviceLogins,
    login,
    log,
  )
  // Expired states are not counted; purging them only keeps the table small, so a minute's lag is fine.
  const loginStatePurge = startLoginStatePurge(
    [loginStates, deviceLogins],
    Math.min(Math.max(config.oidc.loginStateTtlMs, 1_000), 60_000),
    log,
  )
  const revocationPurge = startRevocationPurge(revocations, config.revocationPurge, log)

  const services: Services = {
    config,
    log,
    db,
    rootKey,
    pageTokens,
    keyRing,
    verifier,
    revocations,
    tenancy,
    identities,
    apiKeys,
    sessions,
    login,
    deviceLogin,
    dataplanes,
    fleet,
    metrics,
    keks,
    secrets,
    kekRotation,
    aiKeys,
    serviceAccounts,
    listings: new AdminListings(tenancyStore, credentials, pageTokens),
    audit,
    auditTally,
  }
  const { adminKeyFile, dataplaneKeyFile } = await bootstrap({
    dataDir: config.dataDir,
    settings,
    identities,
    apiKeys,
    audit,
    log,
  })

  const auth = new Authenticator(verifier, revocations, identities, lastUsed, (reason) => {
    metrics.authFailures.inc({ reason })
    log.debug('credential refused', { reason })
  })
  const extraRoutes: RouteModule[] = [secretRoutes, aiKeyRoutes, internalRoutes, kekRoutes]
  const app = buildApp(services, auth, extraRoutes, VERSION)
  const stream = new RevocationStream(auth, revocations, dataplanes, metrics, log, config.stream, lastUsed)
  let reloadingKeys = false
  keyRing.on('changed', () => {
    // A change read from another replica's rotation is not announced back to the replicas.
    if (!reloadingKeys) replication?.announce({ type: 'jwks_changed' })
    verifier
      .setKeySet({ keys: keyRing.publishedKeys() })
      .then(() => stream.broadcast({ type: 'jwks_changed' }))
      .catch((err) => log.error('reloading the verification keys failed', { err }))
  })
  replication?.on('event', (message) => {
    if (message.type !== 'jwks_changed') {
      stream.broadcast(message)
      return
    }
    reloadingKeys = true
    keyRing
      .reload()
      .catch((err) => log.error('reloading the signing keys failed', { err }))
      .finally(() => {
        reloadingKeys = false
      })
  })

  const server = createControlPlaneServer(app.fetch, config.listen.host, log)
  const inFlight = new InFlightRequests(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  stream.attach(server)
  // Told to this replica's dataplanes, and through the database to the other replicas' (PostgreSQL).
  const everywhere = (message: StreamServerMessage) => {
    stream.broadcast(message)
    replication?.announce(message)
  }
  secrets.on('changed', (changed) => everywhere({ type: 'secret_changed', ...changed }))
  tenancy.on('membershipChanged', (changed) => everywhere({ type: 'membership_changed', ...changed }))
  kekRotation.resumeIfInterrupted()
  const { port } = server.address() as AddressInfo
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host
  const url = `http://${host}:${port}`

  return {
    url,
    services,
    stream,
    devIdp,
    adminKeyFile,
    dataplaneKeyFile,
    async close() {
      await replication?.close()
      stream.close()
      loginStatePurge.stop()
      auditPurge.stop()
      revocationPurge.stop()
      keyRing.close()
      // The revocation stream closed at once (dataplanes reconnect, to another replica if any);
      // requests in flight finish.
      logDrain(log, await inFlight.drain(config.drainTimeoutMs), config.drainTimeoutMs)
      await devIdp?.close()
      await kekRotation.settled()
      await lastUsed.close()
      await auditTally.close()
      await db.close()
    },
  }
}
