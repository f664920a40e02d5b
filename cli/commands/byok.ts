/**
 * @module `tare api byok add | get | list | remove`: bring-your-own provider keys of a project.
 * `--customer` / `--project` default to the caller's own (`-` on the wire).
 */
import type { CommandContext, OptionSpec } from '../command.ts'
import { command, type GroupSpec, group } from '../command.ts'
import {
  clientFor,
  flag,
  requiredPositional,
  requiredStr,
  str,
  WAIT_OPTIONS,
  waitOption,
} from '../options.ts'
import { AI_KEY_COLUMNS, enforcementExit, printAiKey, printEnforcement } from '../render.ts'
import { requiredSecretInput } from '../secret-input.ts'

const SCOPE_OPTIONS: Record<string, OptionSpec> = {
  customer: { type: 'string', valueName: 'ID', description: "cust_<ulid> (default: the caller's customer)" },
  project: { type: 'string', valueName: 'ID', description: "proj_<ulid> (default: the caller's project)" },
}

const scope = (ctx: CommandContext): [string, string] => [
  str(ctx, 'customer') ?? '-',
  str(ctx, 'project') ?? '-',
]

export const byok: GroupSpec = group({
  name: 'byok',
  summary: "Register, inspect and remove a project's provider keys (BYOK)",
  children: [
    command({
      name: 'add',
      summary: 'Register a provider key; the plaintext is stored encrypted and never shown again',
      description:
        'A project-level key (the default) needs the project owner; --user-scope registers a key that serves only you.',
      options: {
        provider: {
          type: 'string',
          valueName: 'PROVIDER',
          description: 'openai or anthropic',
          required: true,
        },
        name: { type: 'string', valueName: 'NAME', description: 'Label, e.g. openai-prod', required: true },
        secret: {
          type: 'string',
          valueName: 'SECRET',
          description: 'The provider key; - reads it from stdin, @FILE from a file',
          required: true,
        },
        'user-scope': { type: 'boolean', description: 'A key private to you that overrides the project key' },
        ...SCOPE_OPTIONS,
      },
      examples: [
        'tare api byok add --provider openai --name openai-prod --secret @openai.key',
        'printf %s "$OPENAI_API_KEY" | tare api byok add --provider openai --name mine --secret - --user-scope',
      ],
      async run(ctx) {
        const provider = requiredStr(ctx, 'provider')
        const name = requiredStr(ctx, 'name')
        const secret = await requiredSecretInput(ctx, 'secret')
        const [customer, project] = scope(ctx)
        const response = await ctx
          .client()
          .aikeys.register(customer, project, provider, name, secret, flag(ctx, 'user-scope'))
        ctx.out.result(response, () => printAiKey(ctx.out, response.key))
      },
    }),
    command({
      name: 'get',
      summary: "One provider key's metadata",
      args: [{ name: 'ID', description: 'byok_<ulid>' }],
      options: SCOPE_OPTIONS,
      async run(ctx) {
        const id = requiredPositional(ctx, 0, 'ID')
        const response = await ctx.client().aikeys.get(...scope(ctx), id)
        ctx.out.result(response, () => printAiKey(ctx.out, response.key))
      },
    }),
    command({
      name: 'list',
      summary: "The project's keys and your own user-scoped keys",
      options: SCOPE_OPTIONS,
      async run(ctx) {
        const response = await ctx.client().aikeys.list(...scope(ctx))
        ctx.out.result(response, () => ctx.out.table(response.keys, AI_KEY_COLUMNS, 'No provider keys.'))
      },
    }),
    command({
      name: 'remove',
      summary: 'Revoke a provider key; dataplanes stop using it within a second',
      args: [{ name: 'ID', description: 'byok_<ulid>' }],
      options: {
        ...SCOPE_OPTIONS,
        ...WAIT_OPTIONS,
      },
      async run(ctx) {
        const id = requiredPositional(ctx, 0, 'ID')
        const wait = waitOption(ctx)
        const response = await clientFor(ctx, wait).aikeys.revoke(...scope(ctx), id, wait)
        ctx.out.result(response, () => {
          printAiKey(ctx.out, response.key)
          printEnforcement(ctx.out, response.enforcement)
        })
        return enforcementExit(ctx.out, response.enforcement)
      },
    }),
  ],
})
