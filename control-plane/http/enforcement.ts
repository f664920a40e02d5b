/**
 * @module `?wait=enforced`: after a revocation, wait until every connected dataplane (of every live
 * replica) applied it.
 */
import type { Enforcement } from '../../shared/contract/common.ts'
import type { Services } from '../services.ts'

export async function waitIfAsked(
  s: Pick<Services, 'fleet' | 'config'>,
  query: { wait?: 'enforced' | undefined; timeout_ms?: number | undefined },
  cursor: number,
): Promise<{ enforcement?: Enforcement }> {
  if (query.wait !== 'enforced') return {}
  return {
    enforcement: await s.fleet.waitForCursor(cursor, query.timeout_ms ?? s.config.enforceTimeoutMs),
  }
}
