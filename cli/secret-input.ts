/**
 * @module Secret values given to a flag (`--secret`, `--value`, `--new-value`): `-` reads standard
 * input and `@path` reads a file, so a provider key never has to appear in shell history or in
 * `ps`. One trailing newline is dropped (what `echo` and most editors add); the rest is kept.
 */
import { readFile } from 'node:fs/promises'
import { type CommandContext, UsageError } from './command.ts'
import { str } from './options.ts'

export async function secretInput(ctx: CommandContext, name: string): Promise<string | undefined> {
  const raw = str(ctx, name)
  if (raw === undefined) return undefined
  let value: string
  if (raw === '-') {
    value = await ctx.readStdin()
  } else if (raw.startsWith('@')) {
    const path = raw.slice(1)
    if (!path) throw new UsageError(`--${name} @FILE needs a file name`, ctx.path)
    try {
      value = await readFile(path, 'utf8')
    } catch (err) {
      throw new UsageError(
        `--${name}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
        ctx.path,
      )
    }
  } else {
    return raw
  }
  value = value.replace(/\r?\n$/, '')
  if (value === '')
    throw new UsageError(`--${name}: ${raw === '-' ? 'standard input' : raw.slice(1)} is empty`, ctx.path)
  return value
}

export async function requiredSecretInput(ctx: CommandContext, name: string): Promise<string> {
  const value = await secretInput(ctx, name)
  if (value === undefined)
    throw new UsageError(`--${name} is required (a value, - for stdin, or @FILE)`, ctx.path)
  return value
}
