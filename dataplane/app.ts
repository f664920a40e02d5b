/**
 * @module Wires the dataplane: the verifier and revocation set behind the auth check, the sync
 * that keeps them current (and the snapshot file that outlives restarts), the provider-key
 * cache, the upstream pools and the HTTP server. `startDataplane` is what `main.ts` runs.
 *
 * Start order: the persisted snapshot is loaded first, then the revocation journal is replayed
 * over it (a restart while the control plane is down keeps enforcing every revocation this
 * dataplane acknowledged), the server listens at once (answering `unavailable` until keys and a
 * snapshot are loaded: `/readyz` says when), and the sync with the control plane runs behind it.
 */
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { Client } from '../shared/client/index.ts'
import { InFlightRequests, logDrain } from '../shared/drain.ts'
import type { Logger } from '../shared/logger.ts'
import { formatMicros, parseMicros } from '../shared/time.ts'
import { TokenVerifier } from '../shared/tokens/verifier.ts'
import { AuthCheck } from './auth/auth-check.ts'
import { KeyUsage } from './auth/key-usage.ts'
import { RevocationSet } from './auth/revocation-set.ts'
import { ProviderKeyCache } from './byok/provider-key-cache.ts'
import type { DataplaneConfig } from './config.ts'
import { OpsRoutes, type Readiness } from './http/ops.ts'
import { createDataplaneServer } from './http/server.ts'
import { createMetrics } from './metrics.ts'
import { BodyBudget } from './proxy/body-budget.ts'
import { Upstreams } from './proxy/upstreams.ts'
import { ControlPlanes } from './sync/control-planes.ts'
import { KeySet } from './sync/key-set.ts'
import { RevocationJournal } from './sync/revocation-journal.ts'
import { RevocationSync } from './sync/revocation-sync.ts'
import { SnapshotFile, SnapshotWriter } from './sync/snapshot-file.ts'
import { UsageReporter } from './sync/usage-reporter.ts'

/** The control plane signs with RS256; nothing else is accepted (RFC 8725 §3.1). */
const ALGORITHMS = ['RS256'] as const
/** Provider-key names the revocation stream's `secret_changed` can concern. */
const BYOK_REALM = 'byok'
/** API keys served awaiting a usage report; a new one past this is not recorded (counted). */
const USAGE_MAX_KEYS = 100_000

export interface RunningDataplane {
  url: string
  name: string
  close(): Promise<void>
}

export async function startDataplane(config: DataplaneConfig, log: Logger): Promise<RunningDataplane> {
  // Every call to the control plane (JWKS, revocation list, BYOK resolution, the stream) goes to
  // the current one of those configured, and moves on to the next when it cannot be reached.
  const controlPlanes = new ControlPlanes(config.controlPlane.urls, log)
  const client = new Client({
    baseUrl: controlPlanes.urls[0],
    apiKey: config.controlPlane.key,
    timeoutMs: config.controlPlane.timeoutMs,
    fetch: controlPlanes.fetch,
  })
  const verifier = new TokenVerifier({
    issuer: config.tokens.issuer,
    audience: config.tokens.audience,
    algorithms: ALGORITHMS,
    clockToleranceSec: config.tokens.clockLeewaySec,
  })
  // Entries leave the set once their credential's expiry plus this verifier's leeway has passed.
  const revocations = new RevocationSet({ leewaySec: config.tokens.clockLeewaySec })
  const upstreams = new Upstreams(config.upstreams, config.proxy)
  const bodyBudget = new BodyBudget(config.clients.maxBufferedBytes)
  const keyUsage = new KeyUsage(USAGE_MAX_KEYS)
  let snapshotWrittenAtMs = 0
  let persistedJwks = ''
  let name = config.name ?? ''

  // The metrics read objects made below (which record into the metrics): only at scrape time.
  const metrics = createMetrics({
    revocationSetSize: () => revocations.size,
    streamConnected: () => sync.streamConnected,
    syncedAtMs: () => sync.syncedAtMs,
    snapshotWrittenAtMs: () => snapshotWrittenAtMs,
    cachedTokens: () => authCheck.cachedTokens,
    cachedProviderKeys: () => byok.size,
    poolStats: () => upstreams.stats(),
    bufferedBodyBytes: () => bodyBudget.used,
    usage: () => ({ reports: usageReporter.reports, pending: keyUsage.pending, dropped: keyUsage.dropped }),
  })

  const snapshotFile = new SnapshotFile(config.stateDir)
  const journal = new RevocationJournal(config.stateDir)
  const writer = new SnapshotWriter(
    snapshotFile,
    revocations,
    () => sync.snapshotHeader(),
    config.sync.persistDelayMs,
    log,
  )
  writer.onWritten = (header) => {
    snapshotWrittenAtMs = Date.now()
    sync.snapshotWritten(header)
  }
  const keys = new KeySet(
    () => client.auth.getJWKS(),
    verifier,
    { refreshMs: config.sync.jwksRefreshMs, minIntervalMs: config.sync.jwksMinIntervalMs },
    log,
    {
      loaded: (jwks) => {
        // The periodic refresh mostly finds the same set: rewrite the snapshot only on a change.
        const text = JSON.stringify(jwks)
        if (text !== persistedJwks) writer.schedule()
        persistedJwks = text
      },
      fetched: (trigger, ok) => metrics.jwksRefreshes.inc({ trigger, result: ok ? 'ok' : 'failed' }),
    },
  )
  const authCheck = new AuthCheck(verifier, revocations, {
    cacheSize: config.tokens.cacheSize,
    onUnknownKey: (kid) => keys.unknownKey(kid),
  })
  // Nothing is known to be current until a snapshot is loaded: fail closed.
  authCheck.setFreshUntil(Number.NEGATIVE_INFINITY)
  const byok = new ProviderKeyCache((req) => client.internal.resolveProviderKey(req), revocations, {
    ttlMs: config.byok.ttlMs,
    maxEntries: config.byok.maxEntries,
    observe: (event) => metrics.byokLookup(event).value++,
  })

  const maxStaleness = config.sync.maxStalenessMs
  const sync: RevocationSync = new RevocationSync(
    client,
    revocations,
    keys,
    writer,
    journal,
    {
      controlPlanes,
      dataplaneKey: config.controlPlane.key,
      name: () => name,
      pollIntervalMs: config.sync.pollIntervalMs,
      pruneIntervalMs: config.sync.pruneIntervalMs,
      streamIdleTimeoutMs: config.sync.streamIdleTimeoutMs,
      reconnectMaxMs: config.sync.reconnectMaxMs,
      handshakeTimeoutMs: config.controlPlane.timeoutMs,
    },
    log,
    {
      applied: (r) => {
        metrics.revocationsApplied.inc({ kind: r.kind })
        if (r.kind === 'ai_key') byok.evictKey(r.jti)
      },
      secretChanged: (realm, secretName) => {
        if (realm === BYOK_REALM) byok.evictKey(secretName)
      },
      membershipChanged: (projectId, identityId) => byok.evictMembership(projectId, identityId),
      synced: (atMs) =>
        authCheck.setFreshUntil(maxStaleness > 0 ? atMs + maxStaleness : Number.POSITIVE_INFINITY),
      streamConnected: (connected) => {
        log.info(connected ? 'revocation stream connected' : 'revocation stream down')
        // Membership changes and secret rotations announced while it was down were missed.
        if (connected) byok.expireAll()
      },
    },
  )

  const usageReporter = new UsageReporter(keyUsage, {
    intervalMs: config.sync.usageReportIntervalMs,
    send: (message) => sync.sendOnStream(message),
    connected: () => sync.streamConnected,
  })

  await restorePersisted(snapshotFile, journal, revocations, keys, sync, log)

  const readiness = (): Readiness => {
    const now = Date.now()
    const synced = sync.syncedAtMs
    const checks = {
      signing_keys: verifier.hasKeys,
      revocation_snapshot: sync.source !== undefined,
      within_staleness_bound: now <= authCheck.freshUntilMs,
    }
    return {
      ready: checks.signing_keys && checks.revocation_snapshot && checks.within_staleness_bound,
      checks,
      snapshot_source: sync.source ?? null,
      cursor: sync.cursor,
      synced_at: synced ? formatMicros(synced * 1000) : null,
      staleness_ms: synced ? now - synced : null,
      max_staleness_ms: maxStaleness > 0 ? maxStaleness : null,
      stream_connected: sync.streamConnected,
      revoked_jtis: revocations.size,
    }
  }
  const server = createDataplaneServer({
    auth: authCheck,
    keyUsage,
    keys,
    byok,
    upstreams,
    metrics,
    ops: new OpsRoutes(readiness, metrics),
    bodyLimitBytes: config.proxy.bodyLimitBytes,
    bodyBudget,
    headersTimeoutMs: config.clients.headersTimeoutMs,
    requestTimeoutMs: config.clients.requestTimeoutMs,
  })
  const inFlight = new InFlightRequests(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.listen.port, config.listen.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host
  name ||= `${hostname()}:${port}`

  usageReporter.start()
  void sync.start().then((ok) => {
    const r = readiness()
    if (r.ready) log.info('dataplane ready', { revoked_jtis: r.revoked_jtis, cursor: r.cursor })
    else if (!ok)
      log.warn('control plane unreachable at start; serving from the persisted snapshot if any', { ...r })
  })

  return {
    url: `http://${host}:${port}`,
    name,
    async close() {
      // Revocations keep applying while streams finish: the sync stops after the drain.
      logDrain(log, await inFlight.drain(config.drainTimeoutMs), config.drainTimeoutMs)
      usageReporter.stop()
      sync.stop()
      await writer.flush()
      await journal.close()
      await upstreams.close()
    },
  }
}

/**
 * The snapshot, then the journal segments it does not cover, into the set; the cursor is the
 * newest of both. With no snapshot (so no JWKS), or a journal that cannot be read (it may hold
 * acknowledged revocations), nothing is served until the control plane is reached.
 */
async function restorePersisted(
  file: SnapshotFile,
  journal: RevocationJournal,
  revocations: RevocationSet,
  keys: KeySet,
  sync: RevocationSync,
  log: Logger,
): Promise<void> {
  let snapshot: Awaited<ReturnType<SnapshotFile['load']>>
  try {
    snapshot = await file.load(revocations)
    if (snapshot) {
      log.info('persisted snapshot loaded', {
        path: file.path,
        entries: snapshot.entries,
        cursor: snapshot.cursor,
        synced_at_ms: snapshot.syncedAtMs,
      })
    }
  } catch (err) {
    log.error('the persisted snapshot cannot be read; starting without it', { path: file.path, err })
  }
  let cursor = snapshot?.cursor ?? formatMicros(0)
  let cursorMicros = parseMicros(cursor) ?? 0
  try {
    const replayed = await journal.replay(snapshot?.journalSegment ?? 0, (entry) => {
      revocations.add(entry.jti, entry.expiresAtSec)
      const micros = parseMicros(entry.cursor)
      if (micros !== undefined && micros > cursorMicros) {
        cursorMicros = micros
        cursor = entry.cursor
      }
    })
    if (replayed.records > 0 || replayed.damaged > 0) {
      const record = replayed.damaged > 0 ? log.warn.bind(log) : log.info.bind(log)
      record('revocation journal replayed', { ...replayed, cursor })
    }
  } catch (err) {
    log.error('the revocation journal cannot be read; failing closed until the control plane is reached', {
      err,
    })
    return
  }
  if (!snapshot) return
  if (snapshot.jwks) await keys.load(snapshot.jwks)
  sync.restore(cursor, snapshot.syncedAtMs)
}
