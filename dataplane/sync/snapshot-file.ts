/**
 * @module The dataplane's persisted state: the revocation set, the cursor it is current to and
 * the JWKS, in one file under the data directory, so that a dataplane restarted while the
 * control plane is down still enforces every revocation it had seen.
 *
 * Writes are atomic (a temporary file, fsync, rename) and debounced: a burst of revocations
 * costs one write, and the request path never waits for the disk. The file is written in
 * chunks, yielding between them, so 1M entries do not stall the event loop. Entries that arrive
 * while a write runs may or may not be in it; the cursor in the header is the one read before
 * the write started, so replaying from it re-adds them (adding is idempotent).
 *
 * Format: a JSON header line, then one line per expiry bucket (`<epoch seconds|never> jti jti…`),
 * then `end <count>`; a file without its end line is refused as truncated.
 */
import { mkdirSync } from 'node:fs'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../shared/logger.ts'
import type { JsonWebKeySet } from '../../shared/tokens/verifier.ts'
import type { RevocationSet } from '../auth/revocation-set.ts'

const FORMAT = 'agentrouter-dataplane-snapshot/1'
const FILE_NAME = 'snapshot'
/** JTIs per line, so no single string grows without bound. */
const JTIS_PER_LINE = 2_000
const CHUNK_BYTES = 256 * 1024
const JTI = /^[\w-]{1,128}$/

export interface SnapshotHeader {
  /** The revocation cursor the set is complete up to (RFC 3339, microseconds). */
  cursor: string
  /** When the control plane last confirmed the set was current (epoch ms). */
  syncedAtMs: number
  jwks: JsonWebKeySet | undefined
  controlPlane: string
}

export interface LoadedSnapshot extends SnapshotHeader {
  entries: number
}

export class SnapshotFile {
  readonly path: string
  readonly #dir: string

  constructor(dir: string) {
    this.#dir = dir
    this.path = join(dir, FILE_NAME)
  }

  /**
   * Reads the snapshot into `into`; `undefined` when there is none. Throws when there is one
   * that cannot be read: a damaged file is a problem for an operator, not an empty set.
   */
  async load(into: RevocationSet): Promise<LoadedSnapshot | undefined> {
    let text: string
    try {
      text = await readFile(this.path, 'latin1')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const lines = text.split('\n')
    const header = JSON.parse(lines[0] ?? '') as Record<string, unknown>
    if (header.format !== FORMAT) throw new Error(`${this.path}: not a ${FORMAT} file`)
    const end = lines.at(-1) === '' ? lines.length - 2 : lines.length - 1
    const trailer = /^end (\d+)$/.exec(lines[end] ?? '')
    if (!trailer) throw new Error(`${this.path}: truncated (no end line)`)
    let entries = 0
    for (let i = 1; i < end; i++) {
      const parts = lines[i]!.split(' ')
      const bucket = parts[0] === 'never' ? Number.POSITIVE_INFINITY : Number(parts[0])
      if (Number.isNaN(bucket)) throw new Error(`${this.path}: line ${i + 1}: bad expiry`)
      for (let j = 1; j < parts.length; j++) {
        const jti = parts[j]!
        if (!JTI.test(jti)) throw new Error(`${this.path}: line ${i + 1}: bad JTI`)
        into.add(jti, bucket)
        entries++
      }
    }
    if (entries !== Number(trailer[1]))
      throw new Error(`${this.path}: ${entries} entries, end says ${trailer[1]}`)
    return {
      cursor: String(header.cursor),
      syncedAtMs: Number(header.synced_at_ms) || 0,
      jwks: header.jwks as JsonWebKeySet | undefined,
      controlPlane: String(header.control_plane ?? ''),
      entries,
    }
  }

  /** Writes the whole state atomically. */
  async write(header: SnapshotHeader, set: RevocationSet): Promise<void> {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
    const temp = `${this.path}.${process.pid}.${Date.now()}.tmp`
    const file = await open(temp, 'w', 0o600)
    try {
      let chunk = `${JSON.stringify({
        format: FORMAT,
        cursor: header.cursor,
        synced_at_ms: header.syncedAtMs,
        control_plane: header.controlPlane,
        jwks: header.jwks,
      })}\n`
      let count = 0
      for (const [bucket, jtis] of set.buckets()) {
        const label = Number.isFinite(bucket) ? String(bucket) : 'never'
        for (let start = 0; start < jtis.length; start += JTIS_PER_LINE) {
          const slice = jtis.slice(start, start + JTIS_PER_LINE)
          count += slice.length
          chunk += `${label} ${slice.join(' ')}\n`
          if (chunk.length >= CHUNK_BYTES) {
            await file.write(chunk, null, 'latin1')
            chunk = ''
          }
        }
      }
      chunk += `end ${count}\n`
      await file.write(chunk, null, 'latin1')
      await file.sync()
    } catch (err) {
      await file.close()
      await rm(temp, { force: true })
      throw err
    }
    await file.close()
    await rename(temp, this.path)
  }
}

/**
 * Debounces snapshot writes: `schedule()` after each change; one write runs at a time, and a
 * change made during a write schedules one more.
 */
export class SnapshotWriter {
  readonly #file: SnapshotFile
  readonly #set: RevocationSet
  readonly #header: () => SnapshotHeader | undefined
  readonly #delayMs: number
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  #writing: Promise<void> | undefined
  #dirty = false
  /** Called after each successful write (for metrics). */
  onWritten: (() => void) | undefined

  constructor(
    file: SnapshotFile,
    set: RevocationSet,
    header: () => SnapshotHeader | undefined,
    delayMs: number,
    log: Logger,
  ) {
    this.#file = file
    this.#set = set
    this.#header = header
    this.#delayMs = delayMs
    this.#log = log
  }

  schedule(): void {
    this.#dirty = true
    if (this.#timer || this.#writing) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.flush()
    }, this.#delayMs)
    this.#timer.unref()
  }

  /** Writes now if anything changed (waiting for a write already running). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    while (this.#writing) await this.#writing
    if (!this.#dirty) return
    const header = this.#header()
    if (!header) return // nothing loaded yet: keep the file that is there
    this.#dirty = false
    this.#writing = this.#file.write(header, this.#set).then(
      () => this.onWritten?.(),
      (err) => {
        this.#dirty = true
        this.#log.error('writing the dataplane snapshot failed', { err, path: this.#file.path })
      },
    )
    await this.#writing
    this.#writing = undefined
    if (this.#dirty) this.schedule()
  }
}
