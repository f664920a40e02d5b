/**
 * @module One page of an owner's secrets, filtered by realm, status and tags, in creation order.
 * The page token is opaque and tamper-evident, and names the filters it was issued for, so it
 * cannot be replayed against another listing.
 */
import { createHash } from 'node:crypto'
import type { SECRET_STATUSES } from '../../shared/contract/secrets.ts'
import { invalidArgument } from '../../shared/errors.ts'
import { nowMicros } from '../../shared/time.ts'
import type { PageTokens } from '../crypto/page-token.ts'
import type { SecretRow, SecretStore } from '../store/secrets.ts'

export interface ListFilter {
  owner: string
  realm?: string | undefined
  status?: (typeof SECRET_STATUSES)[number] | undefined
  /** `key=value` pairs, comma-separated; every one must match. */
  tags?: string | undefined
}

const DEFAULT_PAGE_SIZE = 50
const TOKEN_KIND = 'secrets'

export async function listPage(
  store: SecretStore,
  pageTokens: PageTokens,
  filter: ListFilter,
  page: { size?: number | undefined; token?: string | undefined },
): Promise<{ rows: SecretRow[]; nextPageToken: string }> {
  const realm = filter.realm ?? null
  const status = filter.status ?? null
  const tags = JSON.stringify(parseTagFilter(filter.tags))
  const listing = createHash('sha256')
    .update(JSON.stringify([filter.owner, realm, status, tags]))
    .digest('base64url')
    .slice(0, 16)
  let after = ''
  if (page.token) {
    const position = pageTokens.decode<{ after: string; listing: string }>(TOKEN_KIND, page.token)
    if (position.listing !== listing)
      throw invalidArgument('page_token', 'belongs to a listing with other filters')
    after = position.after
  }
  const size = page.size ?? DEFAULT_PAGE_SIZE
  const rows = await store.list({
    user_id: filter.owner,
    realm,
    status,
    tags,
    after,
    now: nowMicros(),
    limit: size + 1,
  })
  const shown = rows.slice(0, size)
  return {
    rows: shown,
    nextPageToken:
      rows.length > size ? pageTokens.encode(TOKEN_KIND, { after: shown.at(-1)!.id, listing }) : '',
  }
}

export function parseTagFilter(text: string | undefined): Record<string, string> {
  const filter: Record<string, string> = {}
  if (!text) return filter
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=')
    const key = at < 0 ? '' : pair.slice(0, at).trim()
    if (!key) throw invalidArgument('tags', `expected key=value pairs separated by commas, got "${pair}"`)
    filter[key] = pair.slice(at + 1).trim()
  }
  return filter
}
