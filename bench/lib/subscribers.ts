/**
 * @module Stream subscribers for the propagation benchmark: each one is the dataplane's own sync
 * (`RevocationSync` with its `StreamClient`, `KeySet`, `RevocationSet`, `SnapshotWriter` and
 * `RevocationJournal` persisting to its own directory), minus the HTTP server. It connects with
 * the dataplane key, loads the snapshot, follows the WebSocket stream, applies each entry,
 * journals it and acknowledges it once fsynced, as a dataplane does; the benchmark listens to its
 * `applied` and `durable` hooks.
 */
import { join } from 'node:path'
import { RevocationSet } from '../../dataplane/auth/revocation-set.ts'
import { ControlPlanes } from '../../dataplane/sync/control-planes.ts'
import { KeySet } from '../../dataplane/sync/key-set.ts'
import { RevocationJournal } from '../../dataplane/sync/revocation-journal.ts'
import { RevocationSync } from '../../dataplane/sync/revocation-sync.ts'
import { SnapshotFile, SnapshotWriter } from '../../dataplane/sync/snapshot-file.ts'
import { Client } from '../../shared/client/index.ts'
import { createLogger } from '../../shared/logger.ts'
import { parseMicros } from '../../shared/time.ts'
import { TokenVerifier } from '../../shared/tokens/verifier.ts'
import { monotonicMs } from './fanout-fleet.ts'

const log = createLogger({ level: 'error' })

export class Subscriber {
  readonly set = new RevocationSet()
  readonly sync: RevocationSync
  readonly #writer: SnapshotWriter
  /** When each watched JTI was applied (the machine's monotonic clock, ms: see `monotonicMs`). */
  readonly appliedAt = new Map<string, number>()
  /** When each watched JTI was on disk and acknowledged (monotonic ms). */
  readonly ackedAt = new Map<string, number>()
  readonly #journal: RevocationJournal
  /** Watched JTIs applied and not yet durable, with their cursor (µs). */
  readonly #awaitingAck = new Map<string, number>()
  /** Snapshot writes completed: a fan-out is over once each subscriber has persisted it. */
  writes = 0
  /** Told each time a watched JTI is applied, then acknowledged. */
  onWatched: ((jti: string, event: 'applied' | 'acked') => void) | undefined
  #watching: ReadonlySet<string> = new Set()

  constructor(controlPlaneUrl: string, dataplaneKey: string, stateDir: string, name: string) {
    const client = new Client({ baseUrl: controlPlaneUrl, apiKey: dataplaneKey, timeoutMs: 30_000 })
    const verifier = new TokenVerifier({
      issuer: 'agentrouter',
      audience: 'agentrouter',
      algorithms: ['RS256'],
    })
    const keys = new KeySet(
      () => client.auth.getJWKS(),
      verifier,
      { refreshMs: 300_000, minIntervalMs: 10_000 },
      log,
    )
    let sync: RevocationSync | undefined
    this.#journal = new RevocationJournal(join(stateDir, name))
    const writer = new SnapshotWriter(
      new SnapshotFile(join(stateDir, name)),
      this.set,
      () => sync?.snapshotHeader(),
      1_000,
      log,
    )
    writer.onWritten = (header) => {
      this.writes++
      sync?.snapshotWritten(header)
    }
    this.#writer = writer
    sync = new RevocationSync(
      client,
      this.set,
      keys,
      writer,
      this.#journal,
      {
        controlPlanes: new ControlPlanes([controlPlaneUrl], log),
        dataplaneKey,
        name: () => name,
        pollIntervalMs: 30_000,
        streamIdleTimeoutMs: 35_000,
        reconnectMaxMs: 1_000,
        handshakeTimeoutMs: 30_000,
      },
      log,
      {
        applied: (r) => {
          if (!this.#watching.has(r.jti)) return
          this.appliedAt.set(r.jti, monotonicMs())
          this.#awaitingAck.set(r.jti, parseMicros(r.revoked_at) ?? 0)
          this.onWatched?.(r.jti, 'applied')
        },
        durable: (cursor) => {
          if (this.#awaitingAck.size === 0) return
          const at = monotonicMs()
          const durable = parseMicros(cursor) ?? 0
          for (const [jti, c] of this.#awaitingAck) {
            if (c > durable) continue
            this.ackedAt.set(jti, at)
            this.#awaitingAck.delete(jti)
            this.onWatched?.(jti, 'acked')
          }
        },
      },
    )
    this.sync = sync
  }

  watch(jtis: ReadonlySet<string>): void {
    this.#watching = jtis
  }

  async start(): Promise<void> {
    if (!(await this.sync.start())) throw new Error('subscriber: the initial sync failed')
  }

  /** Waits until the stream is connected (the hello and backlog are handled right after). */
  async connected(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.sync.streamConnected) {
      if (Date.now() > deadline) throw new Error('subscriber: the stream did not connect')
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  /** Stops the sync and writes what is pending now, so no write lands after the caller cleans up. */
  async stop(): Promise<void> {
    this.sync.stop()
    await this.#writer.flush()
    await this.#journal.close()
  }
}
