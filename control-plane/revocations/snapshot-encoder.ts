/**
 * @module The compact revocation snapshot as a gzip stream (format: `shared/tokens/snapshot-format.ts`),
 * from a consistent read of the log. Chunks are produced as the consumer pulls them (the socket's
 * backpressure paces the read), a batch of rows per pull, so a million rows never block the
 * event loop for long nor sit in memory at once.
 */
import { Readable } from 'node:stream'
import { constants, createGzip } from 'node:zlib'
import { expiryField, SnapshotEncoder } from '../../shared/tokens/snapshot-format.ts'
import type { RevocationSnapshotRead } from '../store/revocations.ts'

/** The uncompressed payload, chunk by chunk. */
export async function* snapshotChunks(read: RevocationSnapshotRead): AsyncGenerator<Buffer, void, undefined> {
  const encoder = new SnapshotEncoder(read.head, read.count)
  try {
    for await (const [jtis, expiresAt] of read.batches) {
      for (let i = 0; i < jtis.length; i++) {
        const chunk = encoder.add(jtis[i]!, expiryField(expiresAt[i]!))
        if (chunk) yield chunk
      }
    }
    yield encoder.end()
  } finally {
    await read.close()
  }
}

/** The gzip-compressed payload (level 1: most of the size at a fraction of the CPU). */
export function snapshotStream(read: RevocationSnapshotRead): Readable {
  const gzip = createGzip({ level: constants.Z_BEST_SPEED })
  const source = Readable.from(snapshotChunks(read), { objectMode: false })
  source.on('error', (err) => gzip.destroy(err))
  // A consumer gone before the first pull never runs the generator: free the read here too.
  gzip.on('close', () => {
    source.destroy()
    void read.close()
  })
  return source.pipe(gzip)
}
