/**
 * @module Opaque, tamper-evident page tokens: the position is JSON, signed with an HMAC whose
 * key derives from the root key, so a client can neither read meaning into a token nor forge one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { invalidArgument } from '../../shared/errors.ts'

export class PageTokens {
  readonly #key: Buffer

  constructor(rootKey: Buffer) {
    this.#key = createHmac('sha256', rootKey).update('agentrouter page tokens').digest()
  }

  encode(kind: string, position: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify({ k: kind, p: position })).toString('base64url')
    return `${body}.${this.#mac(body)}`
  }

  /** The position, or `invalid_argument` naming `page_token` when the token was altered or is for another listing. */
  decode<T extends Record<string, unknown>>(kind: string, token: string): T {
    const [body, mac] = token.split('.')
    if (!body || !mac) throw invalidArgument('page_token', 'is not a page token')
    const expected = Buffer.from(this.#mac(body))
    const given = Buffer.from(mac)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw invalidArgument('page_token', 'is not a page token issued by this server')
    }
    const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { k: string; p: T }
    if (parsed.k !== kind) throw invalidArgument('page_token', 'belongs to a different listing')
    return parsed.p
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest('base64url').slice(0, 22)
  }
}

/**
 * One page out of `rows`, which were fetched with a limit of `size + 1`: the page, and the token
 * of the next (empty on the last page).
 */
export function pageOf<R>(
  rows: R[],
  size: number,
  next: (last: R) => string,
): { page: R[]; nextPageToken: string } {
  const more = rows.length > size
  const page = more ? rows.slice(0, size) : rows
  return { page, nextPageToken: more ? next(page.at(-1)!) : '' }
}
