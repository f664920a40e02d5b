/**
 * @module The two options of every paged `list` command, and the request fields they become.
 */
import type { CommandContext, OptionSpec } from './command.ts'
import { int, str } from './options.ts'

export const PAGE_OPTIONS: Record<string, OptionSpec> = {
  'page-size': { type: 'string', valueName: 'N', description: 'Results per page (default 50, at most 1000)' },
  'page-token': { type: 'string', valueName: 'TOKEN', description: 'next_page_token of the previous page' },
}

/** `--page-size` and `--page-token` as the client's `pageSize` / `pageToken`, each only when given. */
export function pageRequest(ctx: CommandContext): { pageSize?: number; pageToken?: string } {
  const pageSize = int(ctx, 'page-size', 1)
  const pageToken = str(ctx, 'page-token')
  return { ...(pageSize ? { pageSize } : {}), ...(pageToken ? { pageToken } : {}) }
}
