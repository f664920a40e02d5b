/**
 * @module Turns a schema failure into the contract's `invalid_argument`, naming every field.
 */
import type { z } from 'zod'
import { ApiError, type ErrorDetail } from '../errors.ts'
import { escapeNonText } from '../text.ts'

/** Parses `input` with `schema`, or throws `invalid_argument` naming each bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, where = 'body'): z.output<S> {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const details: ErrorDetail[] = result.error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : []
    // A key the client chose (an unknown field, a record key) is echoed escaped, never raw.
    const path = [...issue.path, ...keys.slice(0, 1)].map((p) => escapeNonText(String(p)))
    const field = path.length > 0 ? path.join('.') : where
    const description =
      issue.code === 'unrecognized_keys'
        ? 'unknown field'
        : issue.code === 'invalid_type' && issue.message.endsWith('received undefined')
          ? 'is required'
          : issue.code === 'invalid_key'
            ? `key ${issue.issues[0]?.message ?? issue.message}`
            : issue.message
    return { field, description }
  })
  const summary = details.map((d) => `${d.field}: ${d.description}`).join('; ')
  throw new ApiError('invalid_argument', summary, details)
}
