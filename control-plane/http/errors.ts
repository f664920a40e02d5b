/**
 * @module The one place an error becomes a response: `ApiError`s keep their code; anything else
 * is logged (redacted) and answered as `internal` without detail.
 */
import type { Context } from 'hono'
import { ApiError, type ErrorBody } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'

export function toApiError(err: unknown, log: Logger, where: string): ApiError {
  if (err instanceof ApiError) return err
  log.error('unexpected error', { where, err })
  return new ApiError('internal', 'internal error')
}

export function errorResponse(c: Context, err: ApiError): Response {
  // A refusal that says when to come back (`resource_exhausted`) says it in `Retry-After` too.
  const retryAfter = err.details.find((d) => typeof d.retry_after_seconds === 'number')?.retry_after_seconds
  if (retryAfter !== undefined) c.header('Retry-After', String(retryAfter))
  return c.json(err.toBody() satisfies ErrorBody, err.status as 400)
}

/**
 * A whole raw HTTP/1.1 error response, for a socket with no `Response` to answer through (a
 * refused WebSocket upgrade, a request the HTTP parser gave up on). `status` defaults to the
 * code's; the parser's own refusals keep their standard status (431, 408, …).
 */
export function rawErrorResponse(err: ApiError, status: number = err.status): string {
  const body = JSON.stringify(err.toBody())
  return (
    `HTTP/1.1 ${status} ${err.code}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  )
}
