/**
 * @module Building blocks of the contract's schemas: timestamps, paging, names, the error body.
 */
import { z } from 'zod'
import { ERROR_HTTP_STATUS } from '../errors.ts'
import { firstNonText, NOT_TEXT_MESSAGE } from '../text.ts'

export const Timestamp = z.string().describe('RFC 3339 timestamp in UTC with microsecond precision')

const refuseNonText =
  (multiline: boolean) =>
  (value: string, ctx: z.RefinementCtx): void => {
    const found = firstNonText(value, multiline)
    if (found) ctx.addIssue({ code: 'custom', message: `${NOT_TEXT_MESSAGE}; found ${found}` })
  }

/**
 * A string that is text, not control sequences: every name, label and identifier a person or a
 * client chooses is one, so nothing stored can drive a terminal or reorder what is shown
 * (`shared/text.ts` lists what is refused).
 */
export const PlainText = z.string().superRefine(refuseNonText(false))
/** The same, but newline and tab are allowed: for descriptions. */
export const MultilineText = z.string().superRefine(refuseNonText(true))

/** A human label: a name shown in lists. */
export const Label = PlainText.trim().min(1).max(128)

/**
 * A number in a query string: decimal digits only, no sign, no leading zero, no spaces, no
 * `0x`/`0b`/`0o`, no exponent or fraction (`Number()` would take all of those), then in range.
 */
export function QueryInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^(0|[1-9][0-9]*)$/, 'must be a decimal integer: digits only, without sign or leading zeros')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
}

export const PageQuery = z.strictObject({
  page_size: QueryInteger(1, 1000).optional().describe('Results per page (default 50)'),
  page_token: z.string().min(1).max(1024).optional().describe('next_page_token from the previous page'),
})

export const PageInfo = z.object({
  next_page_token: z.string().describe('Pass as page_token for the next page; empty on the last page'),
})

export const ErrorBodySchema = z.object({
  code: z.enum(Object.keys(ERROR_HTTP_STATUS) as [keyof typeof ERROR_HTTP_STATUS]),
  message: z.string(),
  details: z.array(z.object({ field: z.string().optional(), description: z.string() }).passthrough()),
})

/** `?wait=enforced` on the revoke endpoints, with an optional bound. */
export const WaitQuery = z.strictObject({
  wait: z.enum(['enforced']).optional().describe('Answer once every connected dataplane enforces it'),
  timeout_ms: QueryInteger(1, 60_000).optional().describe('Bound for wait (default 5000)'),
})

export const Enforcement = z.object({
  status: z.enum(['enforced', 'timeout', 'no_dataplanes']),
  cursor: z.string().describe('The revocation cursor the dataplanes had to reach'),
  waited_ms: z.number(),
  enforced_by: z.array(z.string()).describe('Dataplanes that applied it'),
  pending: z.array(z.string()).describe('Dataplanes that had not applied it when the wait ended'),
})
export type Enforcement = z.infer<typeof Enforcement>

export const Empty = z.strictObject({})
