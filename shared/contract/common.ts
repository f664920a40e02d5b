/**
 * @module Building blocks of the contract's schemas: timestamps, paging, names, the error body.
 */
import { z } from 'zod'
import { ERROR_HTTP_STATUS } from '../errors.ts'

export const Timestamp = z.string().describe('RFC 3339 timestamp in UTC with microsecond precision')

/** A human label: a name shown in lists. */
export const Label = z.string().trim().min(1).max(128)

export const PageQuery = z.strictObject({
  page_size: z.coerce.number().int().min(1).max(1000).optional().describe('Results per page (default 50)'),
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
  timeout_ms: z.coerce.number().int().min(1).max(60_000).optional().describe('Bound for wait (default 5000)'),
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
