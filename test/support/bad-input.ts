/**
 * @module Tables of bad requests and the check every one must pass: `invalid_argument` naming
 * the field, and nothing written (no row added or removed in any table of the database).
 */
import assert from 'node:assert/strict'
import { assertError, type HttpOptions, http, tableCounts } from './http.ts'

/** One bad request, and the field its error must name. */
export interface BadInput {
  what: string
  method: string
  path: string
  field: string
  options?: HttpOptions
}

export const json = (body: unknown): HttpOptions => ({ json: body })
export const query = (q: Record<string, string>): HttpOptions => ({ query: q })
/** A body sent as is, declared as JSON: for malformed JSON. */
export const raw = (text: string): HttpOptions => ({
  body: text,
  headers: { 'content-type': 'application/json' },
})

/**
 * Sends each case with the credential `tokenFor` picks, asserting `invalid_argument` naming its
 * field and that the database's row counts did not change.
 */
export async function assertRefusedWithoutWrites<C extends BadInput>(
  cp: { url: string; dataDir: string },
  cases: readonly C[],
  tokenFor: (c: C) => string,
): Promise<void> {
  const counts = tableCounts(cp.dataDir)
  for (const c of cases) {
    const res = await http(cp.url, c.method, c.path, { token: tokenFor(c), ...c.options })
    assertError(res, 'invalid_argument', c.field, c.what)
    assert.deepEqual(tableCounts(cp.dataDir), counts, `${c.what}: no row added or removed`)
  }
}
