/**
 * @module TokensService routes: the revocation list. (The stream is in `../stream.ts`.)
 */
import { invalidArgument } from '../../../shared/errors.ts'
import { formatMicros, parseMicros } from '../../../shared/time.ts'
import { toWire } from '../../revocations/log.ts'
import type { Services } from '../../services.ts'
import type { Router } from '../route.ts'

/** Parses a `since` cursor; absent means the beginning. */
export function parseCursor(since: string | undefined): number {
  if (since === undefined) return 0
  const micros = parseMicros(since)
  if (micros === undefined) throw invalidArgument('since', 'must be an RFC 3339 timestamp')
  return micros
}

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
