/**
 * @module TokensService routes: the revocation list and its compact snapshot. (The stream is in
 * `../stream.ts`.)
 */
import { Readable } from 'node:stream'
import { REVOCATION_SNAPSHOT_MEDIA_TYPE } from '../../../shared/contract/tokens.ts'
import { formatMicros } from '../../../shared/time.ts'
import { parseCursor, toWire } from '../../revocations/log.ts'
import { snapshotStream } from '../../revocations/snapshot-encoder.ts'
import type { Services } from '../../services.ts'
import type { Router } from '../route.ts'

export function tokenRoutes(router: Router, s: Services): void {
  router.on('getRevocationList', async ({ query }) => {
    const since = parseCursor(query.since)
    // Before the reads, so a stale cursor costs no count; and after them: the horizon only
    // advances, so if `since` is still at or past it, no purge (however concurrent) removed
    // anything after `since` that the reads could have missed.
    await s.revocations.requireComplete(since)
    const rows = await s.revocations.after(since, query.limit ?? Number.MAX_SAFE_INTEGER)
    const totalCount = await s.revocations.countAfter(since)
    await s.revocations.requireComplete(since)
    const last = rows.at(-1)
    return {
      revocations: rows.map(toWire),
      // The high-water mark of what was returned: the next `since` neither skips nor repeats.
      snapshot_at: formatMicros(last ? last.revoked_at : since),
      total_count: totalCount,
    }
  })

  router.on('getRevocationSnapshot', async () => {
    const read = await s.revocations.snapshot()
    const body = Readable.toWeb(snapshotStream(read)) as ReadableStream<Uint8Array>
    return new Response(body, {
      headers: {
        'content-type': REVOCATION_SNAPSHOT_MEDIA_TYPE,
        'content-encoding': 'gzip',
        'cache-control': 'no-store',
        'x-revocation-count': String(read.count),
        'x-revocation-cursor': formatMicros(read.head),
      },
    })
  })
}
