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
  return c.json(err.toBody() satisfies ErrorBody, err.status as 400)
}

/** Raw HTTP/1.1 error for a refused WebSocket upgrade. */
export function rawErrorResponse(err: ApiError): string {
  const body = JSON.stringify(err.toBody())
  return (
    `HTTP/1.1 ${err.status} ${err.code}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  )
}
