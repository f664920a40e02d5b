/**
 * @module TokensService routes: the revocation list. (The stream is in `../stream.ts`.)
 */
import { formatMicros } from '../../../shared/time.ts'
import { parseCursor, toWire } from '../../revocations/log.ts'
import type { Services } from '../../services.ts'
import type { Router } from '../route.ts'

export function tokenRoutes(router: Router, s: Services): void {
  router.on('getRevocationList', ({ query }) => {
    const since = parseCursor(query.since)
    const rows = s.revocations.after(since, query.limit ?? Number.MAX_SAFE_INTEGER)
    const last = rows.at(-1)
    return {
      revocations: rows.map(toWire),
      // The high-water mark of what was returned: the next `since` neither skips nor repeats.
      snapshot_at: formatMicros(last ? last.revoked_at : since),
      total_count: s.revocations.countAfter(since),
    }
  })
}
