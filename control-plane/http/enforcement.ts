/**
 * @module `?wait=enforced`: after a revocation, wait until every connected dataplane applied it.
 */
import type { Enforcement } from '../../shared/contract/common.ts'
import type { Services } from '../services.ts'

export async function waitIfAsked(
  s: Pick<Services, 'dataplanes' | 'config'>,
  query: { wait?: 'enforced' | undefined; timeout_ms?: number | undefined },
  cursor: number,
): Promise<{ enforcement?: Enforcement }> {
  if (query.wait !== 'enforced') return {}
  return {
    enforcement: await s.dataplanes.waitForCursor(cursor, query.timeout_ms ?? s.config.enforceTimeoutMs),
  }
}
