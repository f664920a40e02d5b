/**
 * @module `--help` text for groups and commands, generated from their specs so help and parsing
 * cannot disagree.
 */
import type { CommandSpec, GroupSpec, OptionSpec } from './command.ts'

export const GLOBAL_OPTIONS: Record<string, OptionSpec & { short?: string }> = {
  json: { type: 'boolean', description: 'Print the API response as JSON' },
  'base-url': {
    type: 'string',
    valueName: 'URL',
    description:
      'Control plane URL (default: $AGENTROUTER_BASE_URL, the stored session’s, http://127.0.0.1:8080)',
  },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
}

export function groupHelp(group: GroupSpec, path: string): string {
  const width = Math.max(...group.children.map((c) => c.name.length))
  const lines = [
    `Usage: ${path} <command>`,
    '',
    group.summary,
    '',
    'Commands:',
    ...group.children.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run "${path} <command> --help" for a command's arguments and options.`,
  ]
  return `${lines.join('\n')}\n`
}

export function commandHelp(cmd: CommandSpec, path: string): string {
  const words = (cmd.args ?? []).map((a) => (a.optional ? `[${a.name}]` : a.name))
  for (const [name, o] of Object.entries(cmd.options ?? {})) {
    if (o.required) words.push(`--${name} ${o.valueName ?? 'VALUE'}`)
  }
  const lines = [`Usage: ${path}${words.length ? ` ${words.join(' ')}` : ''} [options]`, '', cmd.summary]
  if (cmd.description) lines.push('', cmd.description)
  if (cmd.args?.length) {
    const width = Math.max(...cmd.args.map((a) => a.name.length))
    lines.push('', 'Arguments:', ...cmd.args.map((a) => `  ${a.name.padEnd(width)}  ${a.description}`))
  }
  if (cmd.options && Object.keys(cmd.options).length > 0)
    lines.push('', 'Options:', ...optionLines(cmd.options))
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS))
  if (cmd.examples?.length) lines.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`))
  return `${lines.join('\n')}\n`
}

function optionLines(options: Record<string, OptionSpec & { short?: string }>): string[] {
  const names = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}`
    return o.type === 'string' ? `${flag} ${o.valueName ?? 'VALUE'}` : flag
  })
  const width = Math.max(...names.map((n) => n.length))
  return Object.values(options).map((o, i) => {
    const repeat = o.multiple ? ' (repeatable)' : ''
    return `  ${names[i]!.padEnd(width)}  ${o.description}${repeat}`
  })
}
