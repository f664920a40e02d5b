/**
 * @module The revocation journal: every entry the sync applies, appended and fsynced beside the
 * snapshot before the entry is acknowledged, so that what the control plane was told is enforced
 * is still enforced after a crash (the snapshot itself is written only a debounce later).
 *
 * Appends are group-committed: `append` only queues a record; `commit` writes everything queued
 * with one write, off the event loop, and resolves once it is on disk. Commits asked for while
 * one is running share the next write, so a burst costs one disk flush per round trip to the
 * disk, not one per entry. The file is opened with O_DSYNC: each write returns once its data (and
 * the size needed to read it back) is on disk, as a write then fdatasync would, in one system
 * call and one trip through libuv's thread pool instead of two.
 *
 * The journal is a series of segment files, `revocations.<n>.journal`. A snapshot write starts a
 * new segment as it reads its header (`rotate`) and records that segment's number: the older
 * segments hold nothing the snapshot lacks, and are deleted once it is on disk (`dropBefore`). A
 * crash anywhere in between leaves either the old snapshot with every segment it needs, or the
 * new one with segments it does not need, which replaying leaves harmless (adding is idempotent).
 *
 * Format: one line per entry, `<crc32 of the JSON, 8 hex> {"c":<cursor>,"j":<jti>,"x":<expiry
 * s or null>}`. A line whose checksum does not match (a torn last write) is ignored.
 */
import { close, constants, mkdirSync, open as openFd, write } from 'node:fs'
import { open, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { crc32 } from 'node:zlib'

const SEGMENT = /^revocations\.(\d+)\.journal$/
const APPEND_DSYNC = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC
const RESOLVED = Promise.resolve()

export interface JournalEntry {
  jti: string
  /** Epoch seconds; `Infinity` for a credential that never expires. */
  expiresAtSec: number
  /** The entry's cursor (`revoked_at`, RFC 3339). */
  cursor: string
}

export interface ReplayResult {
  /** Valid records read. */
  records: number
  /** Lines refused (checksum or shape): a torn last write, normally at most one. */
  damaged: number
  /** The newest record's cursor among the segments read, in file order. */
  lastCursor: string | undefined
}

export class RevocationJournal {
  readonly #dir: string
  /** The segment that appends go to. */
  #segment = 0
  #fd: number | undefined
  #fdSegment = -1
  #pending: string[] = []
  #pendingCount = 0
  /** The write running now. */
  #writing: Promise<void> | undefined
  /** The write that will take what is pending, once the running one is done. */
  #next: Promise<void> | undefined
  /** After each commit: entries written and the time of its synchronous write in µs (the bench). */
  onCommitted: ((entries: number, micros: number) => void) | undefined

  constructor(dir: string) {
    this.#dir = dir
  }

  get segment(): number {
    return this.#segment
  }

  /**
   * Reads every segment numbered `fromSegment` or later, oldest first, handing each valid record
   * to `each`; deletes the older ones (a snapshot covering them is on disk). Appends then go to a
   * fresh segment, never after a possibly torn tail.
   */
  async replay(fromSegment: number, each: (entry: JournalEntry) => void): Promise<ReplayResult> {
    const result: ReplayResult = { records: 0, damaged: 0, lastCursor: undefined }
    let newest = fromSegment - 1
    for (const [n, name] of await this.#segments()) {
      if (n < fromSegment) {
        await rm(join(this.#dir, name), { force: true })
        continue
      }
      newest = n
      const path = join(this.#dir, name)
      // What a crashed process wrote but had not fsynced may be only in the page cache: make it
      // as durable as what was acknowledged, since it is about to be treated the same.
      const handle = await open(path, 'r+')
      try {
        await handle.datasync()
      } finally {
        await handle.close()
      }
      const text = await readFile(path, 'utf8')
      for (const line of text.split('\n')) {
        if (line === '') continue
        const entry = parseLine(line)
        if (!entry) {
          result.damaged++
          continue
        }
        each(entry)
        result.records++
        result.lastCursor = entry.cursor
      }
    }
    this.#segment = newest + 1
    return result
  }

  /** Queues an entry for the next commit. */
  append(jti: string, expiresAtSec: number, cursor: string): void {
    const json = JSON.stringify({ c: cursor, j: jti, x: Number.isFinite(expiresAtSec) ? expiresAtSec : null })
    this.#pending.push(`${crc32(json).toString(16).padStart(8, '0')} ${json}\n`)
    this.#pendingCount++
  }

  /**
   * Resolves once everything appended before the call is on disk; rejects when the write failed
   * (the records stay queued, for a fresh segment, and the next commit tries again).
   */
  commit(): Promise<void> {
    if (this.#next) return this.#next
    if (this.#pending.length === 0) return this.#writing ?? RESOLVED
    const next = (this.#writing ?? RESOLVED).catch(() => undefined).then(() => this.#flush())
    this.#next = next
    return next
  }

  /**
   * Sends later appends to a new segment; answers its number. Called as a snapshot reads its
   * header: what was appended before is in the set that snapshot exports.
   */
  rotate(): number {
    this.#segment++
    return this.#segment
  }

  /** Deletes the segments before `segment`: a snapshot on disk now holds all they held. */
  async dropBefore(segment: number): Promise<void> {
    for (const [n, name] of await this.#segments()) {
      if (n < segment) await rm(join(this.#dir, name), { force: true })
    }
  }

  async close(): Promise<void> {
    await this.commit().catch(() => undefined)
    await this.#closeFd()
  }

  async #closeFd(): Promise<void> {
    const fd = this.#fd
    this.#fd = undefined
    this.#fdSegment = -1
    if (fd !== undefined) await new Promise<void>((resolve) => close(fd, () => resolve()))
  }

  async #flush(): Promise<void> {
    this.#next = undefined
    const lines = this.#pending
    const count = this.#pendingCount
    this.#pending = []
    this.#pendingCount = 0
    const write = this.#write(lines, count)
    this.#writing = write
    try {
      await write
    } catch (err) {
      // After a failed write or fsync the file's state is unknown: these records go again, first,
      // into a new segment.
      this.#pending = lines.concat(this.#pending)
      this.#pendingCount += count
      await this.#closeFd()
      this.#segment++
      throw err
    } finally {
      if (this.#writing === write) this.#writing = undefined
    }
  }

  async #write(lines: string[], count: number): Promise<void> {
    const segment = this.#segment
    if (this.#fdSegment !== segment) {
      await this.#closeFd()
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
      const path = join(this.#dir, `revocations.${segment}.journal`)
      this.#fd = await new Promise<number>((resolve, reject) =>
        openFd(path, APPEND_DSYNC, 0o600, (err, fd) => (err ? reject(err) : resolve(fd))),
      )
      this.#fdSegment = segment
      // A new file's name is durable only once its directory is.
      await syncDir(this.#dir)
    }
    const fd = this.#fd!
    const started = performance.now()
    await writeAll(fd, Buffer.from(lines.length === 1 ? lines[0]! : lines.join('')))
    this.onCommitted?.(count, (performance.now() - started) * 1000)
  }

  async #segments(): Promise<Array<[number, string]>> {
    let names: string[]
    try {
      names = await readdir(this.#dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    const found: Array<[number, string]> = []
    for (const name of names) {
      const m = SEGMENT.exec(name)
      if (m) found.push([Number(m[1]), name])
    }
    return found.sort((a, b) => a[0] - b[0])
  }
}

function writeAll(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const from = (at: number) =>
      write(fd, data, at, data.length - at, null, (err, written) => {
        if (err) reject(err)
        else if (at + written < data.length) from(at + written)
        else resolve()
      })
    from(0)
  })
}

function parseLine(line: string): JournalEntry | undefined {
  if (line.length < 10 || line[8] !== ' ') return undefined
  const json = line.slice(9)
  if (Number.parseInt(line.slice(0, 8), 16) !== crc32(json)) return undefined
  try {
    const r = JSON.parse(json) as { c?: unknown; j?: unknown; x?: unknown }
    if (typeof r.c !== 'string' || typeof r.j !== 'string') return undefined
    if (r.x !== null && typeof r.x !== 'number') return undefined
    return { jti: r.j, cursor: r.c, expiresAtSec: r.x ?? Number.POSITIVE_INFINITY }
  } catch {
    return undefined
  }
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
