/**
 * @module What a `tare` command is: its name, help, options and positional arguments, and the
 * function that runs it with a parsed context. Groups nest commands (`tare api keys create`).
 * `UsageError` is the one failure that exits 2; a command that returns a number exits with it
 * (3: `--wait` did not see every dataplane enforce the revocation).
 */
import type { Readable } from 'node:stream'
import type { Client } from '../shared/client/index.ts'
import type { CliEnv } from './env.ts'
import type { Output } from './output.ts'

export interface OptionSpec {
  type: 'string' | 'boolean'
  description: string
  /** Shown in help after the flag, e.g. `--name NAME`. */
  valueName?: string
  /** May be given more than once (`--tag a=b --tag c=d`). */
  multiple?: boolean
  /** Must be given: checked before the command runs, and shown in the usage line. */
  required?: boolean
}

export interface ArgSpec {
  name: string
  description: string
  /** When absent, the option of the same name (lower-case) may supply it. */
  optional?: boolean
}

export interface CommandSpec {
  kind: 'command'
  name: string
  summary: string
  /** Longer help text, shown under the usage line. */
  description?: string
  args?: ArgSpec[]
  options?: Record<string, OptionSpec>
  examples?: string[]
  /** Resolves with the exit status (a number) when it is not 0. */
  run(ctx: CommandContext): Promise<unknown>
}

export interface GroupSpec {
  kind: 'group'
  name: string
  summary: string
  children: Array<CommandSpec | GroupSpec>
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>

export interface CommandContext {
  /** `tare api keys create`: the words that named the command. */
  path: string
  options: OptionValues
  positionals: string[]
  env: CliEnv
  out: Output
  /**
   * The client with the credential in effect (AGENTROUTER_API_KEY, else the stored session);
   * `timeoutMs` bounds each call (default 30 s).
   */
  client(options?: { timeoutMs?: number }): Client
  /** A client that sends no credential. */
  anonymousClient(): Client
  /** The base URL in effect. */
  baseUrl(): string
  readStdin(): Promise<string>
  /** Standard input itself, for commands that read it line by line while doing something else. */
  stdin: Readable
}

/** A mistake in how the command was called: exit 2 with a message naming the problem. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
    /** What was probably meant: `tare api keys list` for `tare api kyes list`. */
    readonly suggestion?: string,
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

export const command = (spec: Omit<CommandSpec, 'kind'>): CommandSpec => ({ kind: 'command', ...spec })
export const group = (spec: Omit<GroupSpec, 'kind'>): GroupSpec => ({ kind: 'group', ...spec })
