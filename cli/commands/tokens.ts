/**
 * @module `tare api tokens revocation-list get`: revoked credentials after a cursor.
 */
import { command, type GroupSpec, group } from '../command.ts'
import { int, str } from '../options.ts'

export const tokens: GroupSpec = group({
  name: 'tokens',
  summary: 'Token revocations',
  children: [
    group({
      name: 'revocation-list',
      summary: 'The revocation list dataplanes sync from',
      children: [
        command({
          name: 'get',
          summary: 'Revoked JTIs after --since, oldest first (admin or dataplane key)',
          options: {
            since: {
              type: 'string',
              valueName: 'CURSOR',
              description: 'Exclusive cursor: the snapshot_at of a previous call',
            },
            limit: { type: 'string', valueName: 'N', description: 'At most N entries (default: all)' },
          },
          examples: [
            'tare api tokens revocation-list get --limit 100',
            'tare api tokens revocation-list get --since 2026-11-24T19:15:52.123456Z',
          ],
          async run(ctx) {
            const since = str(ctx, 'since')
            const limit = int(ctx, 'limit', 1)
            const response = await ctx.client().tokens.getRevocationList({
              ...(since ? { since } : {}),
              ...(limit ? { limit } : {}),
            })
            ctx.out.result(response, () => {
              ctx.out.table(
                response.revocations,
                [
                  { header: 'jti', value: (r) => r.jti },
                  { header: 'kind', value: (r) => r.kind },
                  { header: 'revoked', value: (r) => r.revoked_at },
                  { header: 'expires', value: (r) => r.expires_at },
                  { header: 'reason', value: (r) => r.reason },
                ],
                'No revocations.',
              )
              ctx.out.line()
              ctx.out.line(
                `${response.revocations.length} of ${response.total_count}; snapshot_at ${response.snapshot_at}`,
              )
            })
          },
        }),
      ],
    }),
  ],
})
