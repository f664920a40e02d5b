/**
 * @module Turns argv into one command and its parsed options: walks the command tree word by
 * word (global flags may appear anywhere), then parses the rest with `node:util` `parseArgs`
 * in strict mode, so an unknown flag or a missing value is a usage error naming it. An unknown
 * command or flag comes with the closest known one ("did you mean").
 */
import { parseArgs } from 'node:util'
import { type CommandSpec, type GroupSpec, type OptionValues, UsageError } from './command.ts'
import { GLOBAL_OPTIONS } from './help.ts'
import { closest } from './suggest.ts'

export type Resolved =
  | { kind: 'group'; group: GroupSpec; path: string; help: boolean }
  | {
      kind: 'command'
      command: CommandSpec
      path: string
      help: boolean
      options: OptionValues
      positionals: string[]
    }

/** Global flags that take a value, so the walk can skip past it. */
const GLOBAL_VALUE_FLAGS = new Set(['--base-url'])
const GLOBAL_BOOLEAN_FLAGS = new Set(['--json', '--help', '-h'])

export function resolveCommand(root: GroupSpec, argv: readonly string[]): Resolved {
  let node: GroupSpec = root
  let path = root.name
  const globals: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!
    if (token.startsWith('-')) {
      const name = token.split('=')[0]!
      if (GLOBAL_BOOLEAN_FLAGS.has(token)) {
        globals.push(token)
      } else if (GLOBAL_VALUE_FLAGS.has(name)) {
        globals.push(token)
        if (!token.includes('=') && i + 1 < argv.length) globals.push(argv[++i]!)
      } else {
        throw new UsageError(`unknown option ${token} for "${path}": it needs a command first`, path)
      }
      continue
    }
    const child = node.children.find((c) => c.name === token)
    if (!child) {
      const names = node.children.map((c) => c.name).join(', ')
      throw new UsageError(
        `unknown command "${token}" for "${path}" (one of: ${names})`,
        path,
        suggestCommand(node, path, token, argv.slice(i + 1)),
      )
    }
    path = `${path} ${child.name}`
    if (child.kind === 'group') {
      node = child
      continue
    }
    return parseCommand(child, path, [...globals, ...argv.slice(i + 1)])
  }
  return { kind: 'group', group: node, path, help: globals.includes('--help') || globals.includes('-h') }
}

function parseCommand(command: CommandSpec, path: string, args: string[]): Resolved {
  const options = { ...GLOBAL_OPTIONS, ...(command.options ?? {}) }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          {
            type: o.type,
            ...(o.multiple ? { multiple: true } : {}),
            ...('short' in o && o.short ? { short: o.short as string } : {}),
          },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      const message = (err as Error).message
      const unknown = /^Unknown option '--([^'=]+)'/.exec(message)?.[1]
      const near = unknown ? closest(unknown, Object.keys(options)) : undefined
      throw new UsageError(explainParseError(message), path, near ? `--${near}` : undefined)
    }
    throw err
  }
  const values = parsed.values as OptionValues
  const help = values.help === true
  const max = command.args?.length ?? 0
  if (!help && parsed.positionals.length > max) {
    const extra = parsed.positionals.slice(max).join(' ')
    throw new UsageError(
      max === 0 ? `"${path}" takes no arguments, got: ${extra}` : `unexpected argument(s): ${extra}`,
      path,
    )
  }
  if (!help) {
    const missing = Object.entries(command.options ?? {}).filter(
      ([n, o]) => o.required && values[n] === undefined,
    )
    if (missing.length > 0) {
      const names = missing.map(([n]) => `--${n}`).join(', ')
      throw new UsageError(`${names} ${missing.length === 1 ? 'is' : 'are'} required`, path)
    }
  }
  return { kind: 'command', command, path, help, options: values, positionals: parsed.positionals }
}

/** parseArgs' messages, minus their advice about `--` that does not apply here. */
function explainParseError(message: string): string {
  return message
    .replace(/\. To specify a positional argument starting with a '-'.*$/s, '')
    .replace(/^Unknown option '(.+)'$/, 'unknown option $1')
}

/**
 * The command probably meant by an unknown word under `node`: the closest child, else the closest
 * command or group anywhere below (`tare keys list` → `tare api keys list`), followed by as many
 * of the words after it as resolve.
 */
function suggestCommand(
  node: GroupSpec,
  path: string,
  token: string,
  rest: readonly string[],
): string | undefined {
  const near = closest(
    token,
    node.children.map((c) => c.name),
  )
  if (near) return complete(node.children.find((c) => c.name === near)!, `${path} ${near}`, rest)
  // Breadth first, so the shallowest match wins.
  const queue: Array<[GroupSpec | CommandSpec, string]> = node.children.map((c) => [c, `${path} ${c.name}`])
  while (queue.length > 0) {
    const [candidate, where] = queue.shift()!
    if (closest(token, [candidate.name])) return complete(candidate, where, rest)
    if (candidate.kind === 'group') for (const c of candidate.children) queue.push([c, `${where} ${c.name}`])
  }
  return undefined
}

function complete(node: GroupSpec | CommandSpec, path: string, rest: readonly string[]): string {
  let at = node
  let where = path
  for (const word of rest) {
    if (at.kind !== 'group' || word.startsWith('-')) break
    const name = closest(
      word,
      at.children.map((c) => c.name),
    )
    const next = at.children.find((c) => c.name === name)
    if (!next) break
    at = next
    where = `${where} ${next.name}`
  }
  return where
}
