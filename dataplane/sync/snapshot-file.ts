/**
 * @module The dataplane's persisted state: the revocation set, the cursor it is current to and
 * the JWKS, in one file under the data directory, so that a dataplane restarted while the
 * control plane is down still enforces every revocation it had seen.
 *
 * Writes are atomic (a temporary file, fsync, rename, directory fsync) and debounced: a burst of revocations
 * costs one write, and the request path never waits for the disk. The header (its cursor) is
 * read first; the set is then copied one block at a time as the blocks are written, so a large
 * set never has a second copy in memory. Entries applied meanwhile may be in the file too: a
 * superset of the state at its cursor, which replaying from that cursor makes harmless.
 *
 * Format: a JSON header line; the compact entries in blocks, each a 32-bit little-endian count
 * then that many 20-byte entries (see `RevocationSet.exportBlocks`), ended by a zero count; one
 * text line per other entry (`<expiry> <jti>`, the expiry in the set's 4-second units; hours in
 * format 2, converted as read); then `end <count>`. A file without its end
 * line is refused as truncated.
 */
import { mkdirSync } from 'node:fs'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../shared/logger.ts'
import type { JsonWebKeySet } from '../../shared/tokens/verifier.ts'
import {
  ENTRY_BYTES,
  hourToUnits,
  metaFromV2,
  RehashedDuringExport,
  type RevocationSet,
} from '../auth/revocation-set.ts'

const FORMAT = 'agentrouter-dataplane-snapshot/3'
/** The format before expiries were kept in 4-second units (they were hours): read, converted. */
const FORMAT_HOURS = 'agentrouter-dataplane-snapshot/2'
const FILE_NAME = 'snapshot'
/** Entries per block: written one at a time, so a large set never has a second copy in memory. */
const BLOCK_ENTRIES = 32_768
const OTHER_LINE = /^(\d+) ([\w-]{1,128})$/

export interface SnapshotHeader {
  /** The revocation cursor the set is complete up to (RFC 3339, microseconds). */
  cursor: string
  /** When the control plane last confirmed the set was current (epoch ms). */
  syncedAtMs: number
  jwks: JsonWebKeySet | undefined
  controlPlane: string
  /**
   * The journal segment started as this header was read: the snapshot holds everything in the
   * segments before it (see revocation-journal.ts). 0 in files written before the journal.
   */
  journalSegment: number
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
    let file: Buffer
    try {
      file = await readFile(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const fail = (problem: string): never => {
      throw new Error(`${this.path}: ${problem}`)
    }
    const headerEnd = file.indexOf(10)
    if (headerEnd < 0) fail('no header')
    const header = JSON.parse(file.toString('utf8', 0, headerEnd)) as Record<string, unknown>
    const hours = header.format === FORMAT_HOURS
    if (header.format !== FORMAT && !hours) fail(`not a ${FORMAT} file`)
    into.reserve(into.size + (Number(header.entries_hint) || 0))
    let at = headerEnd + 1
    let entries = 0
    for (;;) {
      if (at + 4 > file.length) fail('truncated (blocks)')
      const count = file.readUInt32LE(at)
      at += 4
      if (count === 0) break
      const end = at + count * ENTRY_BYTES
      if (end > file.length) fail('truncated (a block)')
      const block = file.subarray(at, end)
      if (hours)
        for (let m = 16; m < block.length; m += ENTRY_BYTES)
          block.writeUInt32LE(metaFromV2(block.readUInt32LE(m)), m)
      into.importBlock(block)
      entries += count
      at = end
    }
    const lines = file.toString('latin1', at).split('\n')
    const last = lines.at(-1) === '' ? lines.length - 2 : lines.length - 1
    const trailer = /^end (\d+)$/.exec(lines[last] ?? '')
    if (!trailer) fail('truncated (no end line)')
    const other: Array<[string, number]> = []
    for (let i = 0; i < last; i++) {
      const m = OTHER_LINE.exec(lines[i]!) ?? fail(`entry ${i + 1}: not "<expiry> <jti>"`)
      other.push([m[2]!, hours ? hourToUnits(Number(m[1])) : Number(m[1])])
    }
    into.importOther(other)
    entries += other.length
    if (entries !== Number(trailer![1])) fail(`${entries} entries, the end line says ${trailer![1]}`)
    return {
      cursor: String(header.cursor),
      syncedAtMs: Number(header.synced_at_ms) || 0,
      jwks: header.jwks as JsonWebKeySet | undefined,
      controlPlane: String(header.control_plane ?? ''),
      journalSegment: Number(header.journal_segment) || 0,
      entries,
    }
  }

  /**
   * Writes the whole state atomically. Entries added after `header` was read may be included
   * too, which replaying from its cursor makes harmless (adding is idempotent).
   */
  async write(header: SnapshotHeader, set: RevocationSet): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#write(header, set)
      } catch (err) {
        // The set grew or was pruned mid-write: an older header with a newer set is still a
        // correct snapshot (a superset at its cursor), so write again with the same header.
        if (!(err instanceof RehashedDuringExport) || attempt === 3) throw err
      }
    }
  }

  async #write(header: SnapshotHeader, set: RevocationSet): Promise<void> {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
    const temp = `${this.path}.${process.pid}.${Date.now()}.tmp`
    const file = await open(temp, 'w', 0o600)
    try {
      const head = JSON.stringify({
        format: FORMAT,
        cursor: header.cursor,
        synced_at_ms: header.syncedAtMs,
        control_plane: header.controlPlane,
        jwks: header.jwks,
        journal_segment: header.journalSegment,
        entries_hint: set.size,
      })
      const other = set.exportOther()
      const blocks = set.exportBlocks(BLOCK_ENTRIES)
      let next = blocks.next()
      await file.write(`${head}\n`)
      let entries = 0
      const count = Buffer.alloc(4)
      for (; !next.done; next = blocks.next()) {
        const n = next.value.length / ENTRY_BYTES
        count.writeUInt32LE(n)
        await file.write(count)
        await file.write(next.value)
        entries += n
      }
      count.writeUInt32LE(0)
      let text = ''
      for (const [jti, units] of other) text += `${units} ${jti}\n`
      await file.write(count)
      await file.write(`${text}end ${entries + other.length}\n`, null, 'latin1')
      await file.sync()
    } catch (err) {
      await file.close()
      await rm(temp, { force: true })
      throw err
    }
    await file.close()
    await rename(temp, this.path)
    // The rename is durable only once the directory is: after a power loss the previous file
    // (whole, but older) could otherwise come back.
    const dir = await open(this.#dir, 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
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
  /** Called after each successful write, with the header written (now durable). */
  onWritten: ((header: SnapshotHeader) => void) | undefined

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
      () => this.onWritten?.(header),
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
