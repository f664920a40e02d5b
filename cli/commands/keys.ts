/**
 * @module `tare api keys create | list | revoke`: the logged-in user's API keys.
 */

import { KEY_TYPES } from '../../shared/tokens/claims.ts'
import { command, type GroupSpec, group } from '../command.ts'
import {
  clientFor,
  oneOf,
  requiredPositional,
  requiredStr,
  str,
  WAIT_OPTIONS,
  waitOption,
} from '../options.ts'
import { pageRequest } from '../paging.ts'
import { API_KEY_COLUMNS, enforcementExit, printApiKey, printEnforcement, printIssuedKey } from '../render.ts'

const KEY_TYPE_ALIASES = {
  prompt: 'KEY_TYPE_PROMPT',
  admin: 'KEY_TYPE_ADMIN',
  dataplane: 'KEY_TYPE_DATAPLANE',
} as const

export const keys: GroupSpec = group({
  name: 'keys',
  summary: 'Issue, list and revoke your API keys',
  children: [
    command({
      name: 'create',
      summary: 'Issue an API key; its secret is printed once',
      description:
        'Needs a session (tare api login). KEY_TYPE_ADMIN and KEY_TYPE_DATAPLANE keys need an admin identity.',
      options: {
        name: {
          type: 'string',
          valueName: 'NAME',
          description: 'Label shown in key listings',
          required: true,
        },
        type: {
          type: 'string',
          valueName: 'TYPE',
          description:
            'KEY_TYPE_PROMPT (default), KEY_TYPE_ADMIN or KEY_TYPE_DATAPLANE (or prompt, admin, dataplane)',
        },
        'idempotency-key': {
          type: 'string',
          valueName: 'KEY',
          description: 'Repeating a request with the same key returns the same API key, never a second one',
        },
        project: {
          type: 'string',
          valueName: 'ID',
          description:
            "proj_<ulid>: bind the key to this project (you must be a member); its traffic uses the project's provider keys",
        },
        customer: {
          type: 'string',
          valueName: 'ID',
          description: "cust_<ulid>: the project's customer (optional, checked when given)",
        },
      },
      examples: [
        'tare api keys create --name ci-runner',
        'tare api keys create --name staging --project proj_01JD…',
        'tare api keys create --name ops --type admin --json',
      ],
      async run(ctx) {
        const name = requiredStr(ctx, 'name')
        const type = oneOf(ctx, 'type', KEY_TYPES, KEY_TYPE_ALIASES)
        const idempotencyKey = str(ctx, 'idempotency-key')
        const projectId = str(ctx, 'project')
        const customerId = str(ctx, 'customer')
        const response = await ctx.client().me.issueKey(name, {
          ...(type ? { type } : {}),
          ...(idempotencyKey ? { idempotencyKey } : {}),
          ...(projectId ? { projectId } : {}),
          ...(customerId ? { customerId } : {}),
        })
        ctx.out.result(response, () => printIssuedKey(ctx.out, response.key, response.secret))
      },
    }),
    command({
      name: 'list',
      summary: 'List your API keys (metadata only)',
      options: {
        'page-size': { type: 'string', valueName: 'N', description: 'Keys per page (default 50)' },
        'page-token': {
          type: 'string',
          valueName: 'TOKEN',
          description: 'next_page_token of the previous page',
        },
      },
      async run(ctx) {
        const response = await ctx.client().me.listKeys(pageRequest(ctx))
        ctx.out.result(response, () => {
          ctx.out.table(response.keys, API_KEY_COLUMNS, 'No API keys.')
          if (response.page.next_page_token) {
            ctx.out.note(`More: tare api keys list --page-token ${response.page.next_page_token}`)
          }
        })
      },
    }),
    command({
      name: 'revoke',
      summary: 'Revoke one of your API keys, permanently',
      args: [{ name: 'KEY_ID', description: 'key_<ulid> of the key to revoke' }],
      options: WAIT_OPTIONS,
      examples: [
        'tare api keys revoke key_01JD… --wait',
        'tare api keys revoke key_01JD… --wait --wait-timeout 30s',
      ],
      async run(ctx) {
        const keyId = requiredPositional(ctx, 0, 'KEY_ID')
        const wait = waitOption(ctx)
        const response = await clientFor(ctx, wait).me.revokeKey(keyId, wait)
        ctx.out.result(response, () => {
          printApiKey(ctx.out, response.key)
          printEnforcement(ctx.out, response.enforcement)
        })
        return enforcementExit(ctx.out, response.enforcement)
      },
    }),
  ],
})
