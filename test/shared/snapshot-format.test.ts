import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { crc32 } from 'node:zlib'
import {
  EXPIRY_NEVER,
  expiryField,
  SnapshotDecoder,
  SnapshotEncoder,
  SnapshotFormatError,
} from '../../shared/tokens/snapshot-format.ts'

const CURSOR = 1_780_000_000_123_456

function encode(entries: Array<[string, number]>, cursor = CURSOR, count = entries.length): Buffer {
  const enc = new SnapshotEncoder(cursor, count, 256)
  const chunks: Buffer[] = []
  for (const [jti, exp] of entries) {
    const c = enc.add(jti, exp)
    if (c) chunks.push(Buffer.from(c))
  }
  chunks.push(enc.end())
  return Buffer.concat(chunks)
}

function decode(bytes: Buffer, chunkSize: number) {
  const got: Array<[string, number]> = []
  let reserved = -1
  const dec = new SnapshotDecoder(
    (info) => {
      reserved = info.count
    },
    (jti, exp) => got.push([jti, exp]),
  )
  for (let i = 0; i < bytes.length; i += chunkSize) dec.write(bytes.subarray(i, i + chunkSize))
  return { info: dec.end(), got, reserved }
}

const entries: Array<[string, number]> = Array.from({ length: 1000 }, (_, i) => [
  i % 7 === 0 ? `sess_${i}` : `key_01J${String(i).padStart(19, '0')}`,
  i % 11 === 0 ? EXPIRY_NEVER : 1_800_000_000 + i,
])

describe('revocation snapshot format', () => {
  it('round-trips entries, count and cursor whatever the chunking', () => {
    const bytes = encode(entries)
    for (const size of [1, 3, 17, 4096, bytes.length]) {
      const { info, got, reserved } = decode(bytes, size)
      assert.equal(info.count, 1000)
      assert.equal(info.cursorMicros, CURSOR)
      assert.equal(reserved, 1000)
      assert.equal(got.length, 1000)
      assert.deepEqual(got[1], entries[1])
      assert.deepEqual(got[0], [entries[0]![0], Number.POSITIVE_INFINITY], 'never expires')
    }
  })

  it('hands entries over as bytes to a raw decoder, the same entries whatever the chunking', () => {
    const bytes = encode(entries)
    for (const size of [1, 17, bytes.length]) {
      const got: Array<[string, number]> = []
      const dec = SnapshotDecoder.raw(
        () => {},
        (buf, start, length, exp) => got.push([buf.toString('latin1', start, start + length), exp]),
      )
      for (let i = 0; i < bytes.length; i += size) dec.write(bytes.subarray(i, i + size))
      assert.equal(dec.end().count, 1000)
      assert.deepEqual(got, decode(bytes, size).got)
    }
  })

  it('round-trips an empty log', () => {
    const { info, got } = decode(encode([], 0), 5)
    assert.deepEqual(info, { cursorMicros: 0, count: 0 })
    assert.equal(got.length, 0)
  })

  it('refuses a stream cut anywhere before the end of its trailer', () => {
    const bytes = encode(entries.slice(0, 20))
    for (const cut of [0, 10, 16, 100, bytes.length - 17, bytes.length - 5, bytes.length - 1]) {
      assert.throws(() => decode(bytes.subarray(0, cut), 7), SnapshotFormatError, `cut at ${cut}`)
    }
  })

  it('refuses a header whose count disagrees with the entries', () => {
    // The encoder refuses to write it; forge one by patching the header count (and the CRC stays wrong too).
    assert.throws(() => encode(entries.slice(0, 3), CURSOR, 4))
    const bytes = encode(entries.slice(0, 3))
    bytes.writeUInt32BE(4, 12)
    assert.throws(() => decode(bytes, 64), /CRC|declared/)
  })

  it('refuses a trailer naming another cursor or count, even with a matching CRC', () => {
    for (const patch of ['cursor', 'count'] as const) {
      const bytes = encode(entries.slice(0, 3))
      const t = bytes.length - 17
      if (patch === 'cursor') bytes.writeBigUInt64BE(BigInt(CURSOR + 1), t + 5)
      else bytes.writeUInt32BE(2, t + 1)
      bytes.writeUInt32BE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4)
      assert.throws(() => decode(bytes, 64), patch === 'cursor' ? /cursor/ : /declared/)
    }
  })

  it('refuses corrupted bytes (CRC) and bytes after the trailer', () => {
    const bytes = encode(entries.slice(0, 3))
    bytes[20] = bytes[20]! ^ 1
    assert.throws(() => decode(bytes, 64), /CRC/)
    const extra = Buffer.concat([encode(entries.slice(0, 3)), Buffer.from([1])])
    assert.throws(() => decode(extra, 64), /after the trailer/)
  })

  it('expiry fields: seconds rounded up, infinity is never', () => {
    assert.equal(expiryField(1_000_000_000_000_001), 1_000_000_001)
    assert.equal(expiryField(Number.POSITIVE_INFINITY), EXPIRY_NEVER)
  })
})
