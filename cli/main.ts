/**
 * @module `tare`: the AgentRouter CLI. Finds the command named by argv, runs it, and turns the
 * outcome into an exit status: 0 on success, 1 when the API (or the network) answered with an
 * error, its code and message on stderr, 2 when the command was called wrongly.
 *
 * @example
 *   tare api login
 *   tare api keys create --name ci --json
 */
import type { Readable, Writable } from 'node:stream'
import { ApiError } from '../shared/client/index.ts'
import { escapeNonText } from '../shared/text.ts'
import { type CommandContext, group, UsageError } from './command.ts'
import { admin } from './commands/admin.ts'
import { auth } from './commands/auth.ts'
import { byok } from './commands/byok.ts'
import { keys } from './commands/keys.ts'
import { login, logout, whoami } from './commands/me.ts'
import { secret } from './commands/secret.ts'
import { tokens } from './commands/tokens.ts'
import { Connection } from './connection.ts'
import { resolveCommand } from './dispatch.ts'
import { type CliEnv, readCliEnv } from './env.ts'
import { commandHelp, groupHelp } from './help.ts'
import { Output } from './output.ts'
import { isExpired } from './session.ts'

export const VERSION = '0.1.0'

export const ROOT = group({
  name: 'tare',
  summary: 'The AgentRouter CLI. Every API call is under "tare api".',
  children: [
    group({
      name: 'api',
      summary: 'Call the AgentRouter control plane API',
      children: [login, logout, whoami, keys, byok, tokens, secret, auth, admin],
    }),
  ],
})

export interface Io {
  stdout: Writable
  stderr: Writable
  stdin: Readable & { isTTY?: boolean }
}

export async function run(argv: readonly string[], env: CliEnv, io: Io): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    io.stdout.write(`tare ${VERSION}\n`)
    return 0
  }
  let path = ROOT.name
  let connection: Connection | undefined
  try {
    const resolved = resolveCommand(ROOT, argv)
    path = resolved.path
    if (resolved.kind === 'group') {
      if (resolved.help) {
        io.stdout.write(groupHelp(resolved.group, resolved.path))
        return 0
      }
      io.stderr.write(
        `${resolved.path}: a command is required\n\n${groupHelp(resolved.group, resolved.path)}`,
      )
      return 2
    }
    if (resolved.help) {
      io.stdout.write(commandHelp(resolved.command, resolved.path))
      return 0
    }
    const baseUrlFlag = resolved.options['base-url']
    const conn = new Connection(env, typeof baseUrlFlag === 'string' ? baseUrlFlag : undefined)
    connection = conn
    const ctx: CommandContext = {
      path: resolved.path,
      options: resolved.options,
      positionals: resolved.positionals,
      env,
      out: new Output(io.stdout, io.stderr, resolved.options.json === true),
      client: () => conn.client(),
      anonymousClient: () => conn.anonymousClient(),
      baseUrl: () => conn.baseUrl,
      readStdin: () => readAll(io),
    }
    await resolved.command.run(ctx)
    return 0
  } catch (err) {
    if (err instanceof UsageError) {
      const where = err.command ?? path
      io.stderr.write(`${where}: ${err.message}\nRun "${where} --help" for usage.\n`)
      return 2
    }
    if (err instanceof ApiError) {
      // The server's words, which can quote what a request carried: escaped for the terminal.
      io.stderr.write(`error: ${err.code}: ${escapeNonText(err.message)}\n`)
      for (const d of err.details) {
        if (d.field) io.stderr.write(`  ${escapeNonText(d.field)}: ${escapeNonText(d.description)}\n`)
      }
      const hint = hintFor(err, connection)
      if (hint) io.stderr.write(`${hint}\n`)
      return 1
    }
    io.stderr.write(`error: internal: ${(err as Error)?.stack ?? String(err)}\n`)
    return 1
  }
}

/** Advice for the errors a person can fix: pointing at the right server, logging in. */
function hintFor(err: ApiError, connection: Connection | undefined): string | undefined {
  if (!connection) return undefined
  if (err.code === 'unavailable') {
    return `hint: is the control plane running at ${connection.baseUrl}? (--base-url or AGENTROUTER_BASE_URL)`
  }
  if (err.code !== 'unauthenticated') return undefined
  const credential = connection.credential()
  if (!credential)
    return `hint: not logged in to ${connection.baseUrl}: run "tare api login" or set AGENTROUTER_API_KEY`
  if (credential.session && isExpired(credential.session)) {
    return `hint: the stored session expired at ${credential.session.expires_at}: run "tare api login"`
  }
  return undefined
}

async function readAll(io: Io): Promise<string> {
  if (io.stdin.isTTY) io.stderr.write('Reading the value from standard input; end it with Ctrl-D.\n')
  const chunks: Buffer[] = []
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/** What the `tare` bin (cli/tare.mjs) runs. */
export async function main(): Promise<void> {
  const code = await run(process.argv.slice(2), readCliEnv(), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
  })
  process.exitCode = code
}
