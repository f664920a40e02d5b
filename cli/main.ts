/**
 * @module `tare`: the AgentRouter CLI. Finds the command named by argv, runs it, and turns the
 * outcome into an exit status: 0 on success, 1 when the API (or the network) answered with an
 * error, its code and message on stderr, 2 when the command was called wrongly, 3 when `--wait`
 * did not see every dataplane enforce a revocation (130 when a hidden prompt got Ctrl-C). With
 * `--json`, errors on stderr are the contract's error object, one line of JSON.
 *
 * @example
 *   tare api login
 *   tare api keys create --name ci --json
 */
import type { Writable } from 'node:stream'
import { ApiError } from '../shared/client/index.ts'
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
import { Interrupted, readHiddenLine, type TtyInput } from './hidden-input.ts'
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
  stdin: TtyInput
}

export async function run(argv: readonly string[], env: CliEnv, io: Io): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    io.stdout.write(`tare ${VERSION}\n`)
    return 0
  }
  let path = ROOT.name
  let connection: Connection | undefined
  // Known before the arguments parse, so that a usage error is JSON too.
  let out = new Output(io.stdout, io.stderr, argv.includes('--json'))
  try {
    const resolved = resolveCommand(ROOT, argv)
    path = resolved.path
    if (resolved.kind === 'group') {
      if (resolved.help) {
        io.stdout.write(groupHelp(resolved.group, resolved.path))
        return 0
      }
      if (!out.json) {
        io.stderr.write(
          `${resolved.path}: a command is required\n\n${groupHelp(resolved.group, resolved.path)}`,
        )
        return 2
      }
      throw new UsageError('a command is required', resolved.path)
    }
    if (resolved.help) {
      io.stdout.write(commandHelp(resolved.command, resolved.path))
      return 0
    }
    out = new Output(io.stdout, io.stderr, resolved.options.json === true)
    const baseUrlFlag = resolved.options['base-url']
    const conn = new Connection(env, typeof baseUrlFlag === 'string' ? baseUrlFlag : undefined)
    connection = conn
    const ctx: CommandContext = {
      path: resolved.path,
      options: resolved.options,
      positionals: resolved.positionals,
      env,
      out,
      client: (options) => conn.client(options),
      anonymousClient: () => conn.anonymousClient(),
      baseUrl: () => conn.baseUrl,
      readStdin: () => readStdin(io),
      stdin: io.stdin,
    }
    const status = await resolved.command.run(ctx)
    return typeof status === 'number' ? status : 0
  } catch (err) {
    if (err instanceof UsageError) {
      const where = err.command ?? path
      const guess = err.suggestion ? `did you mean "${err.suggestion}"?` : undefined
      if (out.json) {
        out.error({ code: 'invalid_argument', message: `${where}: ${err.message}`, details: [] }, guess)
      } else {
        const lines = [`${where}: ${err.message}`]
        if (guess) lines.push(`${guess.charAt(0).toUpperCase()}${guess.slice(1)}`)
        lines.push(`Run "${where} --help" for usage.`)
        io.stderr.write(`${lines.join('\n')}\n`)
      }
      return 2
    }
    if (err instanceof ApiError) {
      out.error(err.toBody(), hintFor(err, connection))
      return 1
    }
    if (err instanceof Interrupted) return 130
    if (out.json)
      out.error({ code: 'internal', message: String((err as Error)?.message ?? err), details: [] })
    else io.stderr.write(`error: internal: ${(err as Error)?.stack ?? String(err)}\n`)
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

/**
 * A value given as `-`: typed at a terminal, one line read without echo; piped, everything
 * until the end of input.
 */
async function readStdin(io: Io): Promise<string> {
  if (io.stdin.isTTY && io.stdin.setRawMode) return readHiddenLine(io.stdin, io.stderr, 'Value')
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
