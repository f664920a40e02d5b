/**
 * @module The compact revocation snapshot (`GET /v1/tokens/revocations/snapshot`): what the
 * control plane writes and the dataplane reads, so that a million entries load in well under a
 * second instead of paging JSON rows. The body is gzip of this payload (all integers big-endian):
 *
 * - header: the magic `ARS1`, then the cursor (u64: microseconds, the log's head when it was
 *   read) and the count of entries (u32);
 * - entries: a u8 JTI length (1–255), the JTI's bytes (Latin-1), the credential's expiry in whole
 *   seconds (u32, rounded up; `0xFFFFFFFF`: never);
 * - trailer: a zero length byte, the count and cursor again, and the CRC-32 of every byte before it.
 *
 * The reader is incremental (chunks in, entries out through a callback: no per-entry object)
 * and refuses a stream that ends early, or whose trailer disagrees with its header or its bytes.
 */
import { crc32 } from 'node:zlib'

export const SNAPSHOT_MAGIC = 'ARS1'
export const SNAPSHOT_HEADER_BYTES = 16
export const SNAPSHOT_TRAILER_BYTES = 1 + 4 + 8 + 4
export const EXPIRY_NEVER = 0xffffffff

/** Seconds for the wire from an expiry in microseconds. */
export function expiryField(expiresAtMicros: number): number {
  if (!Number.isFinite(expiresAtMicros)) return EXPIRY_NEVER
  return Math.max(0, Math.min(EXPIRY_NEVER - 1, Math.ceil(expiresAtMicros / 1e6)))
}

/** Writes the payload in chunks of about `chunkBytes`; a JTI must be 1–255 Latin-1 characters. */
export class SnapshotEncoder {
  readonly #cursor: number
  readonly #count: number
  readonly #chunkBytes: number
  #buf: Buffer
  #pos = 0
  #crc = 0
  #written = 0

  constructor(cursorMicros: number, count: number, chunkBytes = 64 * 1024) {
    this.#cursor = cursorMicros
    this.#count = count
    this.#chunkBytes = chunkBytes
    this.#buf = Buffer.allocUnsafe(chunkBytes + 512)
    this.#buf.write(SNAPSHOT_MAGIC, 0, 'latin1')
    this.#buf.writeBigUInt64BE(BigInt(cursorMicros), 4)
    this.#buf.writeUInt32BE(count, 12)
    this.#pos = SNAPSHOT_HEADER_BYTES
  }

  /** Appends an entry; answers a full chunk to send when one is ready. */
  add(jti: string, expirySec: number): Buffer | undefined {
    const len = jti.length
    if (len === 0 || len > 255) throw new Error(`snapshot: a JTI of ${len} characters cannot be encoded`)
    const buf = this.#buf
    buf[this.#pos] = len
    buf.write(jti, this.#pos + 1, len, 'latin1')
    this.#pos += 1 + len
    buf.writeUInt32BE(expirySec, this.#pos)
    this.#pos += 4
    this.#written++
    return this.#pos >= this.#chunkBytes ? this.#take() : undefined
  }

  /** The last chunk, with the trailer; throws when fewer or more entries were added than declared. */
  end(): Buffer {
    if (this.#written !== this.#count) {
      throw new Error(`snapshot: declared ${this.#count} entries, wrote ${this.#written}`)
    }
    const buf = this.#buf
    buf[this.#pos] = 0
    buf.writeUInt32BE(this.#count, this.#pos + 1)
    buf.writeBigUInt64BE(BigInt(this.#cursor), this.#pos + 5)
    this.#pos += 13
    const crc = crc32(buf.subarray(0, this.#pos), this.#crc)
    buf.writeUInt32BE(crc, this.#pos)
    this.#pos += 4
    const out = Buffer.from(buf.subarray(0, this.#pos))
    this.#pos = 0
    return out
  }

  #take(): Buffer {
    const out = this.#buf.subarray(0, this.#pos)
    this.#crc = crc32(out, this.#crc)
    this.#buf = Buffer.allocUnsafe(this.#chunkBytes + 512)
    this.#pos = 0
    return out
  }
}

export interface SnapshotInfo {
  cursorMicros: number
  count: number
}

export class SnapshotFormatError extends Error {}

/**
 * Reads the payload as it arrives. `header` is called once the count is known (to reserve room),
 * `entry` per entry; `end()` verifies the trailer and answers the cursor and count.
 */
/** An entry as it lies in the payload: the JTI is `bytes[start, start + length)`, Latin-1. */
export type RawEntryListener = (bytes: Buffer, start: number, length: number, expirySec: number) => void

export class SnapshotDecoder {
  readonly #onHeader: (info: SnapshotInfo) => void
  #onEntry: RawEntryListener
  #rest: Buffer | undefined
  #info: SnapshotInfo | undefined
  #read = 0
  #crc = 0
  #done = false

  constructor(onHeader: (info: SnapshotInfo) => void, onEntry: (jti: string, expirySec: number) => void) {
    this.#onHeader = onHeader
    this.#onEntry = (bytes, start, length, expirySec) =>
      onEntry(bytes.toString('latin1', start, start + length), expirySec)
  }

  /**
   * A decoder that hands each entry over as bytes, for a reader that decodes the JTI itself: a
   * million entries then make no string.
   */
  static raw(onHeader: (info: SnapshotInfo) => void, onEntry: RawEntryListener): SnapshotDecoder {
    const decoder = new SnapshotDecoder(onHeader, () => {})
    decoder.#onEntry = onEntry
    return decoder
  }

  write(chunk: Uint8Array): void {
    if (this.#done) throw new SnapshotFormatError('snapshot: bytes after the trailer')
    const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const buf = this.#rest ? Buffer.concat([this.#rest, input]) : input
    let pos = 0
    if (!this.#info) {
      if (buf.length < SNAPSHOT_HEADER_BYTES) {
        this.#rest = Buffer.from(buf)
        return
      }
      if (buf.toString('latin1', 0, 4) !== SNAPSHOT_MAGIC)
        throw new SnapshotFormatError('snapshot: not a snapshot (magic)')
      this.#info = { cursorMicros: Number(buf.readBigUInt64BE(4)), count: buf.readUInt32BE(12) }
      pos = SNAPSHOT_HEADER_BYTES
      this.#onHeader(this.#info)
    }
    const end = buf.length
    for (;;) {
      if (pos >= end) break
      const len = buf[pos]!
      if (len === 0) {
        if (end - pos < SNAPSHOT_TRAILER_BYTES) break
        this.#trailer(buf, pos)
        pos += SNAPSHOT_TRAILER_BYTES
        break
      }
      if (end - pos < 1 + len + 4) break
      const expiry = buf.readUInt32BE(pos + 1 + len)
      this.#onEntry(buf, pos + 1, len, expiry === EXPIRY_NEVER ? Number.POSITIVE_INFINITY : expiry)
      this.#read++
      pos += 5 + len
    }
    if (!this.#done) this.#crc = crc32(buf.subarray(0, pos), this.#crc)
    else if (pos < end) throw new SnapshotFormatError('snapshot: bytes after the trailer')
    this.#rest = pos < end ? Buffer.from(buf.subarray(pos)) : undefined
  }

  /** The stream ended: the trailer must have been read and agree. */
  end(): SnapshotInfo {
    if (!this.#done || !this.#info) throw new SnapshotFormatError('snapshot: truncated (no trailer)')
    return this.#info
  }

  #trailer(buf: Buffer, pos: number): void {
    const info = this.#info!
    const count = buf.readUInt32BE(pos + 1)
    const cursor = Number(buf.readBigUInt64BE(pos + 5))
    const crc = crc32(buf.subarray(0, pos + 13), this.#crc)
    if (crc !== buf.readUInt32BE(pos + 13)) throw new SnapshotFormatError('snapshot: CRC mismatch')
    if (count !== info.count || this.#read !== info.count) {
      throw new SnapshotFormatError(
        `snapshot: declared ${info.count} entries, trailer ${count}, read ${this.#read}`,
      )
    }
    if (cursor !== info.cursorMicros)
      throw new SnapshotFormatError('snapshot: the trailer names another cursor')
    this.#done = true
  }
}
