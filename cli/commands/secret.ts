/**
 * @module `tare api secret create | get | list | delete | rotate | validate | secret-value get`:
 * envelope-encrypted secrets (Admin persona). Values come from a flag, stdin (`-`) or a file
 * (`@FILE`); only `secret-value get` prints plaintext.
 */
import type { Secret } from '../../shared/client/index.ts'
import type { CommandContext, OptionSpec } from '../command.ts'
import { type CommandSpec, command, type GroupSpec, group } from '../command.ts'
import { int, oneOf, requiredPositional, str, tags } from '../options.ts'
import { printSecret, SECRET_COLUMNS } from '../render.ts'
import { requiredSecretInput } from '../secret-input.ts'

/**
 * The contract's `SECRET_STATUSES`, restated so that the CLI does not load zod at start-up (a
 * third of its start-up time); the type makes tsc fail if the two lists drift.
 */
const SECRET_STATUSES = ['active', 'rotated_pending', 'expired'] as const satisfies ReadonlyArray<
  Secret['status']
>
type _AllStatuses = Exclude<Secret['status'], (typeof SECRET_STATUSES)[number]> extends never ? true : never
const _allStatuses: _AllStatuses = true

const NAME_ARG = [
  { name: 'NAME', description: 'The secret’s name or sec_<ulid> (or --name)', optional: true },
]

const REF_OPTIONS: Record<string, OptionSpec> = {
  name: { type: 'string', valueName: 'NAME', description: 'The secret’s name (instead of the argument)' },
  realm: { type: 'string', valueName: 'REALM', description: 'Realm (default: default)' },
  'user-id': {
    type: 'string',
    valueName: 'OWNER',
    description: 'Owner, e.g. system (needs the internal scope; default: you)',
  },
}

const TAG_OPTIONS: Record<string, OptionSpec> = {
  tag: { type: 'string', valueName: 'KEY=VALUE', multiple: true, description: 'A tag' },
  tags: { type: 'string', valueName: 'K=V,K=V', description: 'Several tags, comma-separated' },
}

/** `{ name, realm, userId }` from the argument or flags; the name is required. */
function ref(ctx: CommandContext): { name: string; realm?: string; userId?: string } {
  const name = requiredPositional(ctx, 0, 'NAME', 'name')
  const realm = str(ctx, 'realm')
  const userId = str(ctx, 'user-id')
  return { name, ...(realm ? { realm } : {}), ...(userId ? { userId } : {}) }
}

const secretValue: CommandSpec = command({
  name: 'get',
  summary: 'Print a secret’s plaintext value (admin or dataplane key; audited)',
  description:
    'Prints only the value, so that `$(tare api secret secret-value get NAME)` works; --json prints the whole response.',
  args: NAME_ARG,
  options: REF_OPTIONS,
  examples: ['tare api secret secret-value get openai-api-key --realm llm-providers --user-id system'],
  async run(ctx) {
    const response = await ctx.client().secret.getSecretValue(ref(ctx))
    ctx.out.result(response, () => ctx.out.raw(response.value))
  },
})

export const secret: GroupSpec = group({
  name: 'secret',
  summary: 'Envelope-encrypted secrets (admin)',
  children: [
    command({
      name: 'create',
      summary: 'Create a secret, or update it when the name exists in the realm',
      args: NAME_ARG,
      options: {
        ...REF_OPTIONS,
        description: { type: 'string', valueName: 'TEXT', description: 'What it is for' },
        value: {
          type: 'string',
          valueName: 'VALUE',
          description: 'The plaintext; - reads stdin, @FILE a file',
          required: true,
        },
        ...TAG_OPTIONS,
      },
      examples: [
        'tare api secret create openai-api-key --realm llm-providers --value @openai.key --tag env=prod',
        'vault read -field=key secret/x | tare api secret create x --value -',
      ],
      async run(ctx) {
        const base = ref(ctx)
        const value = await requiredSecretInput(ctx, 'value')
        const description = str(ctx, 'description')
        const tagged = tags(ctx)
        const response = await ctx.client().secret.createSecret({
          ...base,
          value,
          ...(description !== undefined ? { description } : {}),
          ...(tagged ? { tags: tagged } : {}),
        })
        ctx.out.result(response, () => printSecret(ctx.out, response.secret))
      },
    }),
    command({
      name: 'get',
      summary: 'A secret’s metadata (never its value)',
      args: NAME_ARG,
      options: REF_OPTIONS,
      async run(ctx) {
        const response = await ctx.client().secret.getSecret(ref(ctx))
        ctx.out.result(response, () => printSecret(ctx.out, response.secret))
      },
    }),
    command({
      name: 'list',
      summary: 'Your secrets (metadata only)',
      options: {
        realm: { type: 'string', valueName: 'REALM', description: 'Only this realm' },
        status: { type: 'string', valueName: 'STATUS', description: SECRET_STATUSES.join(', ') },
        ...TAG_OPTIONS,
        'page-size': { type: 'string', valueName: 'N', description: 'Secrets per page' },
        'page-token': {
          type: 'string',
          valueName: 'TOKEN',
          description: 'next_page_token of the previous page',
        },
      },
      async run(ctx) {
        const realm = str(ctx, 'realm')
        const status = oneOf(ctx, 'status', SECRET_STATUSES)
        const tagged = tags(ctx)
        const pageSize = int(ctx, 'page-size', 1)
        const pageToken = str(ctx, 'page-token')
        const response = await ctx.client().secret.listSecrets({
          ...(realm ? { realm } : {}),
          ...(status ? { status } : {}),
          ...(tagged ? { tags: tagged } : {}),
          ...(pageSize ? { pageSize } : {}),
          ...(pageToken ? { pageToken } : {}),
        })
        ctx.out.result(response, () => {
          ctx.out.table(response.secrets, SECRET_COLUMNS, 'No secrets.')
          if (response.next_page_token) ctx.out.note(`More: --page-token ${response.next_page_token}`)
        })
      },
    }),
    command({
      name: 'delete',
      summary: 'Delete a secret and all its versions',
      args: NAME_ARG,
      options: REF_OPTIONS,
      async run(ctx) {
        const { name, ...rest } = ref(ctx)
        const response = await ctx.client().secret.deleteSecret({ name, ...rest })
        ctx.out.result(response, () =>
          ctx.out.line(response.success ? `Deleted ${name}.` : `${name} was not deleted.`),
        )
      },
    }),
    command({
      name: 'rotate',
      summary: 'Add a version; the previous one stays decryptable for the grace period',
      args: NAME_ARG,
      options: {
        ...REF_OPTIONS,
        'new-value': {
          type: 'string',
          valueName: 'VALUE',
          description: 'The new plaintext; - reads stdin, @FILE a file',
          required: true,
        },
      },
      async run(ctx) {
        const base = ref(ctx)
        const newValue = await requiredSecretInput(ctx, 'new-value')
        const response = await ctx.client().secret.rotateSecret({ ...base, newValue })
        ctx.out.result(response, () => printSecret(ctx.out, response.secret))
      },
    }),
    command({
      name: 'validate',
      summary: 'Check that a secret decrypts, without printing it',
      args: NAME_ARG,
      options: REF_OPTIONS,
      async run(ctx) {
        const { name, ...rest } = ref(ctx)
        const response = await ctx.client().secret.validateSecret({ name, ...rest })
        ctx.out.result(response, () =>
          ctx.out.line(response.valid ? `${name}: decrypts` : `${name}: does not decrypt: ${response.error}`),
        )
      },
    }),
    group({
      name: 'secret-value',
      summary: 'A secret’s plaintext (internal scope)',
      children: [secretValue],
    }),
  ],
})
